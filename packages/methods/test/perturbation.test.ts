import { ParamStore, run, type TransformerModel } from "@llmdbg/core";
import type { Model } from "@llmdbg/models";
import * as T from "@llmdbg/tensor";
import { expectMethodResult, expectRequestError, loadTiny } from "@llmdbg/testing/vitest";
import { describe, expect, it } from "vitest";
import { kernelShap, lime, type MaskValue, perturbationAttribution, rng } from "../src/index.js";

const tiny = (type: "gpt2" | "llama" | "qwen2" | "gpt_neox" | "bert"): Model => loadTiny(type, { seed: 8 });

/** Shapley values by their definition: Σ over coalitions S ∌ i of |S|!(n−|S|−1)!/n! (f(S ∪ i) − f(S)). */
function shapleyByDefinition(n: number, value: MaskValue): number[] {
  const fact = (k: number): number => (k <= 1 ? 1 : k * fact(k - 1));
  const masks = Array.from({ length: 2 ** n }, (_, bits) => Uint8Array.from({ length: n }, (_, i) => (bits >> i) & 1));
  const f = value(masks);
  return Array.from({ length: n }, (_, i) => {
    let phi = 0;
    for (let bits = 0; bits < 2 ** n; bits++) {
      if ((bits >> i) & 1) continue;
      const size = masks[bits]?.reduce((a, b) => a + b, 0) ?? 0;
      const w = (fact(size) * fact(n - size - 1)) / fact(n);
      phi += w * ((f[bits | (1 << i)] as number) - (f[bits] as number));
    }
    return phi;
  });
}

describe("KernelSHAP and LIME on value functions", () => {
  const linear =
    (w: readonly number[], c: number): MaskValue =>
    (masks) =>
      masks.map((m) => c + w.reduce((a, wi, i) => a + wi * (m[i] as number), 0));
  // a value function with interactions, to tell the Shapley kernel from any other weighting
  const nonlinear: MaskValue = (masks) =>
    masks.map(
      (m) =>
        (m[0] as number) * (m[1] as number) * 3 +
        (m[2] as number) -
        (m[1] as number) * (m[3] as number) * 2 +
        0.5 * (m[3] as number) ** 2,
    );

  it("enumerating every coalition gives the Shapley values by their definition (with interactions)", () => {
    const r = kernelShap(4, nonlinear, { samples: 1000, seed: 1 });
    expect(r.enumerated).toBe(true);
    const exact = shapleyByDefinition(4, nonlinear);
    for (const [i, s] of r.scores.entries()) expect(s).toBeCloseTo(exact[i] as number, 10);
  });

  it("sampled coalitions: efficiency holds exactly, and a linear value function is recovered exactly", () => {
    const w = Array.from({ length: 20 }, (_, i) => Math.sin(i) * (i % 3));
    const r = kernelShap(20, linear(w, 0.7), { samples: 300, seed: 3 });
    expect(r.enumerated).toBe(false);
    expect(r.scores.reduce((a, b) => a + b, 0)).toBeCloseTo(r.full - r.empty, 10);
    for (const [i, s] of r.scores.entries()) expect(s).toBeCloseTo(w[i] as number, 8);
  });

  it("LIME fits a linear value function (R² 1, coefficients within the ridge's shrinkage)", () => {
    const w = [2, -1, 0.5, 0, 3, -2];
    const r = lime(6, linear(w, 1), { samples: 400, seed: 5 });
    expect(r.r2).toBeGreaterThan(0.99); // not 1: the ridge (λ = 1) shrinks the coefficients a little
    for (const [i, s] of r.scores.entries()) expect(Math.abs(s - (w[i] as number))).toBeLessThan(0.1);
    const again = lime(6, linear(w, 1), { samples: 400, seed: 5 });
    expect(again.scores).toEqual(r.scores); // the seed fixes the samples
  });

  it("the generator is seeded", () => {
    const a = rng(9);
    const b = rng(9);
    expect([a(), a(), a()]).toEqual([b(), b(), b()]);
  });
});

/**
 * A model linear in its one-hot inputs: logit_v at position p = Σ_{q≤p} a_q · E[ids_q, v]. Masking token q
 * (replacing it by r) moves logit_t at the last position by a_q (E[x_q, t] − E[r, t]): that is each token's
 * exact (Shapley) attribution of the logit.
 */
function linearModel(V: number, D: number): { model: TransformerModel; E: Float32Array; a: number[] } {
  const E = Float32Array.from({ length: V * D }, (_, i) => Math.sin(i * 1.7) * 2);
  const a = Array.from({ length: 64 }, (_, q) => 1 + 0.3 * Math.cos(q));
  const model = {
    hookPoints: [],
    params: new ParamStore([]),
    axisSizes: {},
    nLayers: 0,
    W_E: T.tensor(E, [V, D]),
    W_U: T.zeros([D, V]),
    forward(ids: T.Tensor) {
      const [B, P] = ids.shape as [number, number];
      const out = new Float32Array(B * P * V);
      for (let b = 0; b < B; b++)
        for (let p = 0; p < P; p++)
          for (let q = 0; q <= p; q++) {
            const id = ids.data[b * P + q] as number;
            for (let v = 0; v < V; v++)
              out[(b * P + p) * V + v] =
                (out[(b * P + p) * V + v] as number) + (a[q] as number) * (E[id * D + (v % D)] as number);
          }
      return T.tensor(out, [B, P, V]);
    },
  } as unknown as TransformerModel;
  return { model, E, a };
}

describe("on models", () => {
  it("KernelSHAP on a model linear in its inputs equals the analytic attribution", () => {
    const V = 12;
    const D = 12;
    const { model, E, a } = linearModel(V, D);
    const ids = [3, 7, 1, 9, 4, 4, 2, 11, 5, 8];
    const target = 6;
    const r = perturbationAttribution(model, {
      kind: "perturbation",
      method: "shap",
      input: { ids },
      target,
      objective: "logit",
      replacement: 0,
      samples: 200,
    });
    ids.forEach((id, q) => {
      const analytic = (a[q] as number) * ((E[id * D + target] as number) - (E[0 * D + target] as number));
      expect(r.scores[q]).toBeCloseTo(analytic, 4);
    });
  });

  it.each(["gpt2", "llama", "qwen2", "gpt_neox", "bert"] as const)(
    "%s: SHAP scores sum to f(x) − f(all masked) within 1e-6",
    (type) => {
      const m = tiny(type);
      for (const [text, samples] of [
        ["the quick brown fox jumps over", 64], // 2^n − 2 > 64: sampled
        ["a b", 1000], // enumerated
      ] as const) {
        const r = perturbationAttribution(m, { kind: "perturbation", method: "shap", input: { text }, samples, replacement: 0 });
        expectMethodResult(r);
        const gap = r.fInput - r.fMasked;
        const sum = r.scores.reduce((x, y) => x + y, 0);
        expect(Math.abs(sum - gap)).toBeLessThanOrEqual(1e-6);
        expect(r.seed === null).toBe(2 ** r.tokens.length - 2 <= samples);
      }
    },
  );

  it("occlusion is the drop each masked window causes (checked against direct runs); windows average", () => {
    const m = tiny("gpt2");
    const ids = m.tokenizer?.encode("the quick brown fox") ?? [];
    const target = 5;
    const f = (xs: number[]) => {
      const out = run(m, xs).output;
      const V = out.shape[2] as number;
      const row = Array.from(out.data.subarray((xs.length - 1) * V, xs.length * V));
      const max = Math.max(...row);
      return (row[target] as number) - max - Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
    };
    const r = perturbationAttribution(m, { kind: "perturbation", method: "occlusion", input: { ids }, target, replacement: 0 });
    expectMethodResult(r);
    ids.forEach((_, i) => {
      const masked = ids.map((id, j) => (j === i ? 0 : id));
      expect(r.scores[i]).toBeCloseTo(f(ids) - f(masked), 5);
    });
    const w2 = perturbationAttribution(m, {
      kind: "perturbation",
      method: "occlusion",
      input: { ids },
      target,
      replacement: 0,
      window: 2,
    });
    // position 1 is covered by the windows [0, 2) and [1, 3)
    const drop = (a: number, b: number) => f(ids) - f(ids.map((id, j) => (j >= a && j < b ? 0 : id)));
    expect(w2.scores[1]).toBeCloseTo((drop(0, 2) + drop(1, 3)) / 2, 5);
    expect(w2.window).toBe(2);
  });

  it("LIME on a model reports its surrogate's R²; bad requests name their field", () => {
    const m = tiny("llama");
    const r = perturbationAttribution(m, {
      kind: "perturbation",
      method: "lime",
      input: { text: "the quick brown fox" },
      samples: 128,
      seed: 4,
    });
    expectMethodResult(r);
    expect(r.r2).not.toBeNull();
    expect(r.r2 as number).toBeLessThanOrEqual(1);
    const bad = expectRequestError;
    const req = { kind: "perturbation", method: "occlusion", input: { ids: [1, 2, 3] } } as const;
    bad(() => perturbationAttribution(m, { ...req, window: 4 }), "window");
    bad(() => perturbationAttribution(m, { ...req, stride: 0 }), "stride");
    bad(() => perturbationAttribution(m, { ...req, method: "shap", samples: 0 }), "samples");
    bad(() => perturbationAttribution(m, { ...req, replacement: 1e6 }), "replacement");
    bad(() => perturbationAttribution(m, { ...req, target: -1 }), "target");
  });
});
