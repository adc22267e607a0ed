// The onnxruntime backend against the plain-TS oracle on random inputs, for every op it implements
// (matmul in all its forms, the fused attention that runs on it, and GELU). Prints the max difference.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { geluBackward } from "../src/fused.js";
import type { Tensor } from "../src/node.js";
import * as T from "../src/node.js";
import { relDiff } from "./diff.js";

let ort: T.OrtBackend;

beforeAll(() => {
  const be = T.useBackend("ort");
  expect(be.name).toBe("ort");
  ort = be as T.OrtBackend;
  ort.minMacs = 0; // send even tiny products to onnxruntime so every shape is compared
});

afterAll(() => {
  ort.minMacs = 32 * 1024;
  T.useBackend("ref");
});

// max |ort − ref| relative to max |ref|, measured worst: 3.0e-7 in f32 (the GPT-2 MLP shape: MLAS sums 768 terms in
// another order), 1.9e-15 in f64; bounds at ~6×.
const F32_TOL = 2e-6;
const F64_TOL = 1e-14;

function compare(label: string, f: () => Tensor, tol: number): void {
  T.useBackend("ort");
  const a = f();
  T.useBackend("ref");
  const b = f();
  T.useBackend("ort");
  const rel = relDiff(a, b); // (asserts one shape)
  console.log(`ort vs ref ${label}: max diff relative to max |ref| ${rel.toExponential(2)}`);
  expect(Number.isFinite(rel)).toBe(true);
  expect(rel).toBeLessThanOrEqual(tol);
}

const matmulCases: [string, number[], number[], boolean, boolean][] = [
  ["2-d", [7, 13], [13, 5], false, false],
  ["transA", [13, 7], [13, 5], true, false],
  ["transB", [7, 13], [5, 13], false, true],
  ["both transposed", [13, 7], [5, 13], true, true],
  ["batched", [3, 7, 13], [3, 13, 5], false, false],
  ["batch broadcast", [2, 1, 7, 13], [3, 13, 5], false, false],
  ["shared weight", [2, 9, 16], [16, 11], false, false],
  ["attention-shaped, transB", [2, 4, 16, 8], [2, 4, 16, 8], false, true],
  ["gpt-2 MLP shape", [128, 768], [768, 3072], false, false],
  ["size-1 dims", [1, 1, 5], [5, 1], false, false],
];

describe.each(["f32", "f64"] as const)("ort matmul vs ref (%s)", (dtype) => {
  for (const [name, sa, sb, tA, tB] of matmulCases) {
    it(name, () => {
      const a = T.randn(sa, 1, dtype);
      const b = T.randn(sb, 2, dtype);
      compare(`${dtype} matmul ${name}`, () => T.matmul(a, b, { transA: tA, transB: tB }), dtype === "f32" ? F32_TOL : F64_TOL);
    });
  }
});

describe("ort-backed composites vs ref", () => {
  it("attention forward and its gradients", () => {
    const q = T.randn([2, 3, 6, 8], 1);
    const k = T.randn([2, 3, 6, 8], 2);
    const v = T.randn([2, 3, 6, 8], 3);
    compare("attention out", () => T.attention(q, k, v, { causal: true }).out, F32_TOL);
    for (const i of [0, 1, 2]) {
      compare(
        `attention grad ${"qkv"[i]}`,
        () => T.grad((q, k, v) => T.sum(T.mul(T.attention(q, k, v, { causal: true }).out, v)))(q, k, v)[i] as Tensor,
        F32_TOL,
      );
    }
  });
});

describe("ort matmuls (one call for several products)", () => {
  it.each([
    ["f32", false],
    ["f32", true],
    ["f64", false],
    ["f64", true],
  ] as const)("%s, transB %s: the numbers of one matmul each, in one onnxruntime call", (dtype, transB) => {
    const x = T.randn([2, 6, 16], 1, dtype);
    // q, k and v of a grouped-query layer: the k and v projections are narrower than q
    const ws = [8, 4, 4].map((n, i) => T.randn(transB ? [n, 16] : [16, n], 2 + i, dtype));
    const separate = ws.map((w) => T.matmul(x, w, { transB }));
    const before = ort.stats.calls;
    const together = T.matmuls(x, ws, { transB });
    expect(ort.stats.calls - before).toBe(1);
    together.forEach((y, i) => {
      const s = separate[i] as Tensor;
      expect(y.shape).toEqual(s.shape);
      expect(y.dtype).toBe(dtype);
      // the same MLAS kernel for the same shapes: bit-identical, not merely close
      expect(Array.from(y.data)).toEqual(Array.from(s.data));
    });
    compare(`${dtype} matmuls[0]`, () => T.matmuls(x, ws, { transB })[0] as Tensor, dtype === "f32" ? F32_TOL : F64_TOL);
  });

  it("a product too small for onnxruntime sends each one alone, as matmul would", () => {
    ort.minMacs = 1000;
    try {
      const x = T.randn([2, 16], 1);
      const big = T.randn([16, 64], 2); // 2048 multiply-adds
      const small = T.randn([16, 4], 3); // 128: the ref kernel, as T.matmul would choose
      const before = ort.stats.calls;
      const [a, b] = T.matmuls(x, [big, small]) as [Tensor, Tensor];
      expect(ort.stats.calls - before).toBe(1);
      expect(Array.from(a.data)).toEqual(Array.from(T.matmul(x, big).data));
      expect(Array.from(b.data)).toEqual(Array.from(T.withBackend("ref", () => T.matmul(x, small)).data));
    } finally {
      ort.minMacs = 0;
    }
  });
});

describe("ort graphs", () => {
  it("one graph serves every size of a given rank and transposition", () => {
    const before = ort.graphCount;
    for (const [m, k, n] of [
      [5, 7, 3],
      [9, 2, 4],
      [1, 30, 6],
    ] as const) {
      const a = T.randn([m, k], m);
      const b = T.randn([k, n], n);
      compare(`matmul ${m}x${k}·${k}x${n}`, () => T.matmul(a, b), F32_TOL);
    }
    expect(ort.graphCount - before).toBeLessThanOrEqual(1);
  });
});

describe("ort buffer hand-over", () => {
  it("operands, views and aliased operands stay readable after a call", () => {
    const x = T.randn([16, 16], 4);
    const view = T.reshape(x, [256]);
    const before = x.toArray();
    const y = T.matmul(x, x, { transB: true }); // the same storage twice
    expect(x.toArray()).toEqual(before);
    expect(view.toArray()).toEqual(before);
    let s = 0;
    for (let k = 0; k < 16; k++) s += (before[k] as number) * (before[16 + k] as number);
    expect(y.data[1] as number).toBeCloseTo(s, 4);
  });
});

describe("ort GELU", () => {
  // inputs over the range activations take (±6 around a few outliers), at a size the backend takes
  const x = T.mul(T.randn([64, 300], 11), 2.5);
  const y0 = () => {
    T.useBackend("ref");
    const r = { tanh: T.gelu(x, "tanh"), none: T.gelu(x, "none") };
    T.useBackend("ort");
    return r;
  };

  it("runs large f32 tensors on onnxruntime within a few float32 ulps of the TypeScript kernel's scale", () => {
    const ref = y0();
    const calls = ort.stats.calls;
    for (const approx of ["tanh", "none"] as const) {
      const y = T.gelu(x, approx);
      let worst = 0;
      for (let i = 0; i < y.size; i++) {
        const r = ref[approx].data[i] as number;
        // in float32 ulps of max(|value|, 1) (one ulp at 1 is 2^-23 ≈ 1.2e-7): absolute near 0 and in the negative
        // tail, where 1 + tanh(u) cancels (as in PyTorch's tanh GELU) and only an absolute bound means anything
        worst = Math.max(worst, Math.abs((y.data[i] as number) - r) / (Math.max(Math.abs(r), 1) * 2 ** -23));
      }
      console.log(`ort vs ref gelu ${approx}: worst ${worst.toFixed(1)} ulps`);
      expect(worst).toBeLessThan(16);
      expect(worst).toBeGreaterThan(0); // it did run elsewhere: the kernels differ in their last bits
    }
    expect(ort.stats.calls - calls).toBe(2);
  });

  it("leaves f64 and small tensors to the TypeScript kernel, bit for bit", () => {
    const calls = ort.stats.calls;
    const small = T.randn([4, 8], 2);
    const big64 = T.cast(x, "f64");
    T.useBackend("ref");
    const want = [T.gelu(small), T.gelu(big64)];
    T.useBackend("ort");
    const got = [T.gelu(small), T.gelu(big64)];
    expect(got[0]?.toArray()).toEqual(want[0]?.toArray());
    expect(got[1]?.toArray()).toEqual(want[1]?.toArray());
    expect(ort.stats.calls).toBe(calls);
  });

  it("its gradient read back from a once-rounded output equals the one computed from x alone", () => {
    for (const approx of ["tanh", "none"] as const) {
      T.useBackend("ref");
      const y = T.gelu(x, approx); // the TypeScript kernel's: rounded once from float64
      T.useBackend("ort");
      const g = T.randn(x.shape, 5);
      const fromY = geluBackward(x, g, approx, y);
      const fromX = geluBackward(x, g, approx);
      // relative to the gradient's scale (max |dx|): the derivative crosses zero near x = −0.75, where any
      // relative measure is meaningless
      let diff = 0;
      let scale = 0;
      for (let i = 0; i < x.size; i++) {
        const a = fromY.data[i] as number;
        const b = fromX.data[i] as number;
        diff = Math.max(diff, Math.abs(a - b));
        scale = Math.max(scale, Math.abs(b));
      }
      console.log(`gelu backward ${approx} from y vs from x: max diff ${(diff / scale).toExponential(2)} of the scale`);
      expect(diff / scale).toBeLessThan(2e-7);
    }
  });
});

describe("ort linear", () => {
  it("is the product and a separate bias add bit for bit, in one call", () => {
    ort.minMacs = 0;
    for (const transB of [false, true]) {
      const x = T.randn([3, 7, 32], 21);
      const w = transB ? T.randn([48, 32], 22) : T.randn([32, 48], 22);
      const b = T.randn([48], 23);
      const calls = ort.stats.calls;
      const fused = T.linear(x, w, b, { transB });
      expect(ort.stats.calls - calls).toBe(1);
      const apart = T.add(T.matmul(x, w, { transB }), b);
      expect(fused.shape).toEqual([3, 7, 48]);
      expect(fused.toArray()).toEqual(apart.toArray());
      compare(`linear${transB ? " transB" : ""}`, () => T.linear(x, w, b, { transB }), F32_TOL);
    }
  });

  it("refuses a bias of the wrong size, naming both shapes", () => {
    expect(() => T.linear(T.randn([2, 4], 1), T.randn([4, 3], 2), T.randn([4], 3))).toThrow(
      "linear: the bias must be [3] for weight [4,3], got [4]",
    );
  });
});

/** `f` on the ref backend, then on ort (counting the calls it makes there). */
function bothBackends<R>(f: () => R): { ref: R; ort: R; calls: number } {
  T.useBackend("ref");
  const ref = f();
  T.useBackend("ort");
  const calls = ort.stats.calls;
  const got = f();
  return { ref, ort: got, calls: ort.stats.calls - calls };
}

describe("ort GELU with its gate (taped)", () => {
  const x = T.mul(T.randn([64, 300], 31), 2.5); // ±6 and beyond: the tails and the x ≥ 2 branch are both met
  const g = T.randn(x.shape, 32);
  it("the forward value and the gradient match the TypeScript kernels, in one call", () => {
    for (const approx of ["tanh", "none"] as const) {
      const f = () => T.vjp((x) => [T.gelu(x, approx)], [x]);
      const r = bothBackends(() => {
        const { out, backward } = f();
        return { y: out[0] as Tensor, dx: backward([g]).grads[0] as Tensor };
      });
      expect(r.calls).toBe(1); // the output and the gate in one session; the backward runs here
      const dy = relDiff(r.ort.y, r.ref.y);
      const ddx = relDiff(r.ort.dx, r.ref.dx);
      console.log(`ort gelu ${approx} with gate: y ${dy.toExponential(2)}, dx ${ddx.toExponential(2)} of the scale`);
      // float32 rounding of each of the graph's nodes against one rounding from float64
      expect(dy).toBeLessThan(2e-6);
      expect(ddx).toBeLessThan(2e-6);
      expect(ddx).toBeGreaterThan(0); // the gate was read: it differs from the kernel's own in the last bits
    }
  });
});

describe("ort softmax in the cross-entropy", () => {
  it("the loss and its gradient match the TypeScript kernel; a row whose target probability underflows is redone", () => {
    const n = 40;
    const C = 1000; // n·C ≥ minElements: the backend's softmax
    const x = T.mul(T.randn([n, C], 41), 3);
    x.data[5 * C + 7] = -300; // row 5's target: e^-300 underflows float32, so −log P[t] would be +∞
    const targets = Int32Array.from({ length: n }, (_, i) => (i === 5 ? 7 : (i * 37) % C));
    const w = new Float32Array(n).fill(1 / n);
    w[3] = 0; // a skipped row
    const r = bothBackends(() => {
      const { out, backward } = T.vjp((x) => [T.crossEntropy(x, targets, w)], [x]);
      return { loss: out[0] as Tensor, dx: backward([T.ones([])]).grads[0] as Tensor };
    });
    expect(r.calls).toBe(1);
    const dl = Math.abs((r.ort.loss.data[0] as number) - (r.ref.loss.data[0] as number));
    const ddx = relDiff(r.ort.dx, r.ref.dx);
    console.log(`ort cross-entropy: loss |Δ| ${dl.toExponential(2)} nats, dx ${ddx.toExponential(2)} of the scale`);
    expect(r.ref.loss.data[0]).toBeGreaterThan(300 / n); // row 5 alone adds ~300/n
    expect(dl).toBeLessThan(1e-5);
    expect(ddx).toBeLessThan(1e-5);
    for (let c = 0; c < C; c++) expect(r.ort.dx.data[3 * C + c]).toBe(0);
  });

  it("the first backward pass writes its gradient over the forward's exps; a second pass over the tape computes them again", () => {
    const n = 24;
    const C = 1000;
    const x = T.mul(T.randn([n, C], 43), 2);
    const targets = Int32Array.from({ length: n }, (_, i) => (i * 53) % C);
    const w = new Float32Array(n).fill(1 / n);
    w[2] = 0;
    const r = bothBackends(() => {
      const { backward } = T.vjp((x) => [T.crossEntropy(x, targets, w)], [x]);
      const first = Float32Array.from((backward([T.ones([])]).grads[0] as Tensor).data as Float32Array);
      const again = backward([T.full([], 2)]).grads[0] as Tensor; // twice the cotangent
      return { first, again: again.data as Float32Array };
    });
    for (const side of [r.ort, r.ref]) {
      expect(side.first.some((v) => v !== 0)).toBe(true);
      // the same exps, computed again the way the forward did: exactly twice the first gradient
      expect(Array.from(side.again)).toEqual(Array.from(side.first, (v) => Math.fround(2 * v)));
    }
  });
});

describe("ort attention (one session each way: scores, mask, softmax, weighted sum; and the gradients)", () => {
  const [B, H, P, D] = [2, 4, 48, 16]; // B·H·P² ≥ minElements
  const mask = T.causalMask(P); // [pos, pos]
  const qkv = [51, 52, 53].map((s) => T.randn([B, P, H, D], s)); // token-major
  const g = T.randn([B, P, H, D], 54);
  const headMajor = (t: Tensor) => T.permute(t, [0, 2, 1, 3]);

  it("token-major and head-major, forward and gradients, match the TypeScript kernel", () => {
    for (const tokenMajor of [true, false]) {
      const r = bothBackends(() => {
        const { out, backward } = T.vjp((q, k, v) => {
          const [a, b, c] = tokenMajor ? [q, k, v] : [q, k, v].map(headMajor);
          const o = T.attention(a as Tensor, b as Tensor, c as Tensor, { mask, tokenMajor }).out;
          return [tokenMajor ? o : headMajor(o)]; // [batch, pos, head, d]
        }, qkv);
        return { out: out[0] as Tensor, grads: backward([g]).grads };
      });
      expect(r.calls).toBe(2); // the forward in one session, the three gradients in another
      const diffs = [relDiff(r.ort.out, r.ref.out), ...r.ort.grads.map((d, i) => relDiff(d, r.ref.grads[i] as Tensor))];
      console.log(
        `ort attention ${tokenMajor ? "token" : "head"}-major: out, dq, dk, dv ${diffs.map((d) => d.toExponential(2))}`,
      );
      for (const d of diffs) expect(d).toBeLessThan(F32_TOL);
    }
  });

  it("token-major is head-major with the layout changed, bit for bit (TypeScript kernel)", () => {
    T.useBackend("ref");
    const tm = T.vjp((q, k, v) => [T.attention(q, k, v, { mask, tokenMajor: true }).out], qkv);
    const hm = T.vjp((q, k, v) => [headMajor(T.attention(headMajor(q), headMajor(k), headMajor(v), { mask }).out)], qkv);
    expect(tm.out[0]?.toArray()).toEqual(hm.out[0]?.toArray());
    const [a, b] = [tm.backward([g]).grads, hm.backward([g]).grads];
    for (const i of [0, 1, 2]) expect(a[i]?.toArray()).toEqual(b[i]?.toArray());
    T.useBackend("ort");
  });

  it("a mask that hides a whole row leaves it to the TypeScript kernel: zeros, not NaN", () => {
    const hidden = T.causalMask(P); // [pos, pos]
    hidden.data.fill(Number.NEGATIVE_INFINITY, 0, P); // query 0 may see nothing
    const calls = ort.stats.calls;
    const { out, pattern } = T.attention(qkv[0] as Tensor, qkv[1] as Tensor, qkv[2] as Tensor, {
      mask: hidden,
      tokenMajor: true,
    });
    expect(ort.stats.calls - calls).toBe(2); // the two products alone
    for (let s = 0; s < P; s++) expect(pattern.data[s]).toBe(0);
    expect(
      out
        .toArray()
        .flat(3)
        .every((v) => Number.isFinite(v)),
    ).toBe(true);
  });
});
