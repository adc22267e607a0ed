// Optimizers, schedules, clipping and the generator against values worked out by hand from torch's and
// transformers' definitions (the arithmetic is written out below, not taken from the implementation).
import { ParamStore, run } from "@llmdbg/core";
import * as T from "@llmdbg/tensor";
import { loadTiny } from "@llmdbg/testing/vitest";
import { describe, expect, it } from "vitest";
import { AdamW, causalLmLoss, clipCoef, clipGradNorm, globalNorm, lrFactor, Rng, Sgd } from "../src/index.js";

const store = (w: number[], shape = [w.length]) => new ParamStore([["w", T.tensor(w, shape)]]);
const g = (xs: number[]) => new Map([["w", Float32Array.from(xs)]]);
const f32 = (xs: number[]) => Array.from(Float32Array.from(xs));

function expectClose(got: ArrayLike<number>, want: readonly number[], rel = 1e-6): void {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => {
    expect(Math.abs((got[i] as number) - w), `element ${i}: ${got[i]} vs ${w}`).toBeLessThanOrEqual(
      rel * Math.max(1, Math.abs(w)),
    );
  });
}

describe("AdamW", () => {
  it("two steps on a 2-element tensor equal torch.optim.AdamW worked by hand (decay, moments, bias correction)", () => {
    const lr = 0.1;
    const wd = 0.1;
    const [b1, b2, eps] = [0.9, 0.999, 1e-8];
    const ps = store([1, -2], [1, 2]);
    const opt = new AdamW({ betas: [b1, b2], eps, weightDecay: wd });
    // step 1, g = [0.5, -1]: p ← p(1 − lr·wd) = [0.99, −1.98]; m = 0.1g; v = 0.001g²;
    // m̂ = m / 0.1 = g, √v̂ = √(v / 0.001) = |g|, so p ← p − lr · g / (|g| + eps)
    opt.step(ps, g([0.5, -1]), lr);
    const p1 = [0.99 - (0.1 * 0.5) / (0.5 + 1e-8), -1.98 + (0.1 * 1) / (1 + 1e-8)];
    expectClose(ps.get("w").data, p1);
    // step 2, g = [0.1, 0.2]
    opt.step(ps, g([0.1, 0.2]), lr);
    const m = [0.9 * 0.05 + 0.1 * 0.1, 0.9 * -0.1 + 0.1 * 0.2];
    const v = [0.999 * 0.00025 + 0.001 * 0.01, 0.999 * 0.001 + 0.001 * 0.04];
    const bc1 = 1 - 0.9 ** 2;
    const bc2 = 1 - 0.999 ** 2;
    const p2 = p1.map((p, i) => p * 0.99 - ((lr / bc1) * (m[i] as number)) / (Math.sqrt(v[i] as number) / Math.sqrt(bc2) + eps));
    expectClose(ps.get("w").data, p2);
    expect(opt.steps).toBe(2);
    const st = opt.state();
    expect(Object.keys(st.tensors).sort()).toEqual(["exp_avg.w", "exp_avg_sq.w"]);
    expectClose(st.tensors["exp_avg.w"]?.data ?? [], m);
    expectClose(st.tensors["exp_avg_sq.w"]?.data ?? [], v);
    expect(st.tensors["exp_avg.w"]?.shape).toEqual([1, 2]);
  });

  it("noDecay1d leaves biases and norm weights undecayed, decays matrices", () => {
    const ps = new ParamStore([
      ["b", T.tensor([1, 1])],
      ["w", T.tensor([1, 1], [1, 2])],
    ]);
    const zero = new Map([
      ["b", new Float32Array(2)],
      ["w", new Float32Array(2)],
    ]);
    new AdamW({ weightDecay: 0.5, noDecay1d: true }).step(ps, zero, 0.1);
    expect(ps.get("b").toArray()).toEqual([1, 1]); // zero gradient: m = v = 0, the update is 0
    expect(ps.get("w").toArray()).toEqual(f32([0.95, 0.95]));
  });

  it("state loads back into a fresh optimizer, which then takes the same step", () => {
    const a = new AdamW();
    const pa = store([0.3, -0.7]);
    a.step(pa, g([1, 2]), 0.01);
    const b = new AdamW();
    const pb = store(pa.get("w").toArray());
    b.loadState(a.state());
    a.step(pa, g([-0.5, 0.25]), 0.01);
    b.step(pb, g([-0.5, 0.25]), 0.01);
    expect(pb.get("w").toArray()).toEqual(pa.get("w").toArray());
    expect(() => new Sgd().loadState(a.state())).toThrow(/cannot load adamw state into sgd/);
  });

  it("reports ‖Δw‖² and ‖w‖² per parameter", () => {
    const ps = store([3, 4]);
    const n = new AdamW({ weightDecay: 0 }).step(ps, g([1, 1]), 0.5).get("w");
    expect(n?.norm2).toBe(25);
    expect(n?.delta2).toBeCloseTo(0.5, 6); // each moves by lr·g/(|g|+eps) ≈ 0.5
  });
});

describe("updates of pinned weights", () => {
  it("bring each weight back from the onnxruntime worker once per step by transfer, and leave one buffer per weight there", async () => {
    // minMacs 1: every matmul runs in the worker and every pinned weight it reads stays there
    const ort = new T.OrtBackend({ minMacs: 1 });
    const m = loadTiny("gpt2", { seed: 2 });
    const ids = T.tensor([5, 9, 14, 3, 22, 8, 11, 30, 7, 2, 19, 4], [2, 6], "i32"); // [batch, pos]
    const opt = new AdamW();
    const seen: { resident: number; bytes: number; fetched: number }[] = [];
    T.withBackend(ort, () => {
      for (let s = 0; s < 3; s++) {
        const r = run(m, ids, { grads: { params: true, loss: (o) => causalLmLoss(o, ids) } });
        const grads = new Map([...r.paramGrads].map(([k, g]) => [k, g.data as Float32Array]));
        const { buffers, bytes } = ort.resident();
        const f0 = ort.stats.fetches;
        opt.step(m.params, grads, 1e-3);
        seen.push({ resident: buffers, bytes, fetched: ort.stats.fetches - f0 });
      }
    });
    await ort.close();
    console.log(`per step: ${JSON.stringify(seen)}`);
    // the weights some matmul reads: the fused q/k/v, the projections and the (tied) unembedding
    const inMatmuls = m.params.names().filter((n) => /(c_attn|c_proj|c_fc)\.weight$|^wte\.weight$/.test(n));
    for (const s of seen) expect(s).toEqual({ resident: inMatmuls.length, bytes: seen[0]?.bytes, fetched: inMatmuls.length });
  });
});

describe("SGD", () => {
  it("momentum with dampening and L2 decay, two steps, as torch.optim.SGD", () => {
    const [lr, mu, damp, wd] = [0.1, 0.9, 0.1, 0.01];
    const ps = store([1, -2]);
    const opt = new Sgd({ momentum: mu, dampening: damp, weightDecay: wd });
    // step 1: d = g + wd·p; buf = d (no dampening on the first step); p ← p − lr·buf
    const d1 = [0.5 + 0.01 * 1, -1 + 0.01 * -2];
    const p1 = [1 - lr * (d1[0] as number), -2 - lr * (d1[1] as number)];
    opt.step(ps, g([0.5, -1]), lr);
    expectClose(ps.get("w").data, p1);
    // step 2: d = g + wd·p; buf = μ·buf + (1 − dampening)·d
    const d2 = [0.1 + wd * (p1[0] as number), 0.2 + wd * (p1[1] as number)];
    const buf = [mu * (d1[0] as number) + 0.9 * (d2[0] as number), mu * (d1[1] as number) + 0.9 * (d2[1] as number)];
    opt.step(ps, g([0.1, 0.2]), lr);
    expectClose(
      ps.get("w").data,
      p1.map((p, i) => p - lr * (buf[i] as number)),
    );
    expectClose(opt.state().tensors["momentum_buffer.w"]?.data ?? [], buf);
  });

  it("Nesterov: p ← p − lr·(d + μ·buf)", () => {
    const ps = store([1, -2]);
    const opt = new Sgd({ momentum: 0.9, nesterov: true });
    opt.step(ps, g([0.5, -1]), 0.1);
    // buf = g, d = g + 0.9g = 1.9g
    const p1 = [1 - 0.1 * 1.9 * 0.5, -2 + 0.1 * 1.9];
    expectClose(ps.get("w").data, p1);
    opt.step(ps, g([0.1, 0.2]), 0.1);
    const buf = [0.9 * 0.5 + 0.1, 0.9 * -1 + 0.2];
    expectClose(ps.get("w").data, [
      (p1[0] as number) - 0.1 * (0.1 + 0.9 * (buf[0] as number)),
      (p1[1] as number) - 0.1 * (0.2 + 0.9 * (buf[1] as number)),
    ]);
    expect(() => new Sgd({ nesterov: true })).toThrow(/Nesterov/);
  });

  it("plain SGD keeps no state", () => {
    const ps = store([1, 2]);
    const opt = new Sgd();
    opt.step(ps, g([1, -1]), 0.5);
    expect(ps.get("w").toArray()).toEqual([0.5, 2.5]);
    expect(opt.state().tensors).toEqual({});
  });
});

describe("schedules (transformers' LambdaLR multipliers)", () => {
  it("linear with warm-up", () => {
    const s = { kind: "linear", warmupSteps: 10 } as const;
    expect([0, 5, 10, 55, 100, 120].map((t) => lrFactor(s, t, 100))).toEqual([0, 0.5, 1, 0.5, 0, 0]);
  });

  it("cosine with warm-up, with and without a floor", () => {
    const s = { kind: "cosine", warmupSteps: 10 } as const;
    expect(lrFactor(s, 5, 110)).toBe(0.5);
    expect(lrFactor(s, 10, 110)).toBe(1);
    expect(lrFactor(s, 60, 110)).toBeCloseTo(0.5, 12);
    expect(lrFactor(s, 35, 110)).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI / 4)), 12);
    expect(lrFactor(s, 110, 110)).toBeCloseTo(0, 12);
    const floor = { ...s, minLrRatio: 0.1 };
    expect(lrFactor(floor, 60, 110)).toBeCloseTo(0.55, 12);
    expect(lrFactor(floor, 110, 110)).toBeCloseTo(0.1, 12);
  });

  it("constant, with warm-up", () => {
    expect([0, 2, 4, 7].map((t) => lrFactor({ kind: "constant", warmupSteps: 4 }, t, 10))).toEqual([0, 0.5, 1, 1]);
    expect(lrFactor({ kind: "constant" }, 0, 10)).toBe(1);
  });
});

describe("clip_grad_norm_", () => {
  it("sums squares over every element, whatever the length's remainder by four", () => {
    for (let n = 0; n <= 9; n++) {
      const a = Float32Array.from({ length: n }, (_, i) => i + 1); // integers: every partial sum is exact
      expect(globalNorm([a]) ** 2, `n = ${n}`).toBeCloseTo((n * (n + 1) * (2 * n + 1)) / 6, 9);
    }
    expect(globalNorm([Float32Array.from([3]), Float32Array.from([4, 12])])).toBe(13);
  });
  it("scales by max / (total + 1e-6) when above the limit, leaves the gradients alone below it", () => {
    const a = Float32Array.from([3, 4]);
    const b = Float32Array.from([12]);
    const r = clipGradNorm([a, b], 1);
    expect(r.norm).toBe(13);
    const coef = Math.fround(1 / (13 + 1e-6)); // a float32, as torch's coefficient tensor
    expect(r.coef).toBe(coef);
    expect(r.coef).not.toBe(1 / (13 + 1e-6));
    expect([...a, ...b]).toEqual(f32([3 * coef, 4 * coef, 12 * coef]));
    const c = Float32Array.from([3, 4]);
    expect(clipGradNorm([c], 100)).toEqual({ norm: 5, coef: 1 });
    expect([...c]).toEqual([3, 4]);
  });

  it("as the optimizer's gradient scale (how the trainer clips) equals clipping first, bit for bit", () => {
    const w = Array.from({ length: 40 }, (_, i) => Math.sin(i) * 2);
    const grads = [0, 1, 2].map((k) => Array.from({ length: 40 }, (_, i) => Math.cos(i * (k + 1)) * 7));
    for (const make of [() => new AdamW({ weightDecay: 0.1 }), () => new Sgd({ momentum: 0.9, weightDecay: 0.1 })]) {
      const [a, b] = [store(w, [4, 10]), store(w, [4, 10])];
      const [oa, ob] = [make(), make()];
      for (const gs of grads) {
        const clipped = Float32Array.from(gs);
        const { coef } = clipGradNorm([clipped], 1);
        expect(coef).toBeLessThan(0.1);
        oa.step(a, new Map([["w", clipped]]), 0.01);
        ob.step(b, g(gs), 0.01, clipCoef(globalNorm([Float32Array.from(gs)]), 1));
        expect([...b.get("w").data]).toEqual([...a.get("w").data]);
      }
    }
  });
});

describe("Rng", () => {
  it("is xoshiro128**: the reference outputs from state [1, 2, 3, 4]", () => {
    const r = Rng.fromState([1, 2, 3, 4]);
    expect(Array.from({ length: 6 }, () => r.nextU32())).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it("continues exactly from a saved state; permutations are permutations", () => {
    const a = Rng.seeded(7);
    a.permutation(10);
    const b = Rng.fromState(JSON.parse(JSON.stringify(a.state())));
    expect(b.permutation(50)).toEqual(a.permutation(50));
    expect([...Rng.seeded(3).permutation(100)].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(Rng.seeded(3).permutation(20)).not.toEqual(Rng.seeded(4).permutation(20));
    expect(() => Rng.fromState([0, 0, 0, 0])).toThrow(/all zeros/);
  });
});
