// The WebAssembly AdamW kernel (adamw.wat) against the same update written out in JavaScript one float32
// operation at a time (Math.fround after each: for +, −, ×, ÷ and √ a float64 result rounded to float32 is the
// correctly rounded float32 result, so the reference is exact float32 arithmetic). Bit for bit on every length's
// remainder by four and by the chunk size, on zeros, subnormals, large and negative values, with the gradient as
// its own output; the float64 sums to within their summation order.
import { describe, expect, it } from "vitest";
import { type AdamWScalars, adamwModule, adamwUpdater } from "../src/optim.js";

const f = Math.fround;

/** torch.optim.AdamW's single-tensor step in float32, element by element (see adamw.wat). */
function reference(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  out: Float32Array,
  decay: number,
  sc: AdamWScalars,
) {
  const [dc, sg, b1, c1, b2, c2, bc2, eps, neg] = [
    decay,
    sc.gradScale,
    sc.b1,
    sc.c1,
    sc.b2,
    sc.c2,
    sc.bc2Sqrt,
    sc.eps,
    sc.negStep,
  ].map(f) as number[] as [number, number, number, number, number, number, number, number, number];
  let d2 = 0;
  let n2 = 0;
  for (let i = 0; i < p.length; i++) {
    const w0 = p[i] as number;
    const w = f(w0 * dc);
    const gi = f((g[i] as number) * sg);
    const mi = f(f((m[i] as number) * b1) + f(gi * c1));
    const vi = f(f((v[i] as number) * b2) + f(f(gi * c2) * gi));
    const den = f(f(f(Math.sqrt(vi)) / bc2) + eps);
    const w1 = f(w + f(neg * f(mi / den)));
    m[i] = mi;
    v[i] = vi;
    out[i] = w1;
    d2 += (w1 - w0) * (w1 - w0);
    n2 += w0 * w0;
  }
  return [d2, n2] as const;
}

/** Deterministic values with the awkward ones mixed in. */
function values(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  const special = [0, -0, 1e-42, -3e-40, 1e30, -2.5, 1];
  return Float32Array.from({ length: n }, (_, i) => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return i % 97 === 5 ? (special[(s >>> 8) % special.length] as number) : (s / 2 ** 32 - 0.5) * scale;
  });
}

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

describe("the AdamW kernel (WebAssembly SIMD)", () => {
  const update = adamwUpdater(adamwModule());
  const sc: AdamWScalars = {
    gradScale: 0.37,
    b1: 0.9,
    c1: 1 - 0.9,
    b2: 0.999,
    c2: 1 - 0.999,
    bc2Sqrt: Math.sqrt(1 - 0.999 ** 3),
    eps: 1e-8,
    negStep: -(1e-3 / (1 - 0.9 ** 3)),
  };

  for (const n of [0, 1, 3, 4, 5, 31, 8191, 8192, 8193, 20_003]) {
    it(`equals float32 arithmetic bit for bit (${n} elements)`, () => {
      const p = values(n, 1 + n, 0.2);
      const g = values(n, 2 + n, 0.01);
      const m = values(n, 3 + n, 0.001);
      const v = values(n, 4 + n, 1e-4).map(Math.abs);
      const [pr, gr, mr, vr] = [p, g, m, v].map((a) => Float32Array.from(a)) as [
        Float32Array,
        Float32Array,
        Float32Array,
        Float32Array,
      ];
      const outR = new Float32Array(n);
      const want = reference(pr, gr, mr, vr, outR, 1 - 1e-3 * 0.01, sc);
      const out = new Float32Array(n);
      const got = update(p, g, m, v, out, 1 - 1e-3 * 0.01, sc);
      expect(bits(out)).toEqual(bits(outR));
      expect(bits(m)).toEqual(bits(mr));
      expect(bits(v)).toEqual(bits(vr));
      expect(p).toEqual(pr); // the values read, not written
      for (const k of [0, 1])
        expect(Math.abs((got[k] as number) - (want[k] as number))).toBeLessThanOrEqual(
          1e-12 * Math.abs(want[k] as number) + 1e-300,
        );
      if (n > 0) expect(got[0]).toBeGreaterThan(0);
    });
  }

  it("writes into the gradient itself the same values", () => {
    const n = 10_000;
    const p = values(n, 5, 0.2);
    const g = values(n, 6, 0.01);
    const [m1, v1, m2, v2] = [new Float32Array(n), new Float32Array(n), new Float32Array(n), new Float32Array(n)];
    const out = new Float32Array(n);
    update(p, g, m1, v1, out, 1, sc);
    const gOwn = Float32Array.from(g);
    update(p, gOwn, m2, v2, gOwn, 1, sc);
    expect(bits(gOwn)).toEqual(bits(out));
    expect(bits(m2)).toEqual(bits(m1));
  });

  it("runs the update of torch.optim.AdamW's first step: p − lr·sign(g) where |g| ≫ eps", () => {
    const p = Float32Array.from([1, -2, 0.5, 3, 0]);
    const g = Float32Array.from([0.5, -1, 2, -0.25, 0]);
    const out = new Float32Array(5);
    const first: AdamWScalars = { ...sc, gradScale: 1, bc2Sqrt: Math.sqrt(1 - 0.999), negStep: -(0.1 / (1 - 0.9)) };
    update(p, g, new Float32Array(5), new Float32Array(5), out, 1, first);
    expect([...out].map((x) => Number(x.toFixed(5)))).toEqual([0.9, -1.9, 0.4, 3.1, 0]);
  });
});
