import { generate, logProb, run } from "@llmdbg/core";
import type { Model } from "@llmdbg/models";
import type { QuadratureRule } from "@llmdbg/protocol";
import * as T from "@llmdbg/tensor";
import { expectMethodResult, expectRequestError, loadTiny } from "@llmdbg/testing/vitest";
import { describe, expect, it } from "vitest";
import { generationAttribution, gradientAttribution, MethodRequestError, quadrature } from "../src/index.js";

const tiny = (type: "gpt2" | "llama" | "qwen2" | "gpt_neox" | "bert"): Model => loadTiny(type, { seed: 6 });
const TEXT = "the quick brown fox jumps";

describe("quadrature rules on [0, 1]", () => {
  const rules: QuadratureRule[] = ["riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gauss_legendre"];
  it.each(rules)("%s: weights sum to 1, points lie in [0, 1], and it integrates polynomials as its order promises", (rule) => {
    for (const n of [2, 5, 64]) {
      const { alphas, weights } = quadrature(rule, n);
      expect(alphas).toHaveLength(n);
      expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      for (const a of alphas) expect(a >= 0 && a <= 1).toBe(true);
      const integrate = (g: (a: number) => number) => alphas.reduce((s, a, i) => s + (weights[i] as number) * g(a), 0);
      if (rule === "gauss_legendre") {
        // exact for degree 2n − 1: ∫ α^d = 1 / (d + 1)
        for (let d = 0; d <= 2 * n - 1 && d < 40; d++) expect(integrate((a) => a ** d)).toBeCloseTo(1 / (d + 1), 10);
      } else if (rule === "riemann_middle" || rule === "riemann_trapezoid") {
        expect(integrate((a) => a)).toBeCloseTo(0.5, 12); // exact for linear functions
      }
    }
    expect(() => quadrature(rule, 0)).toThrow(MethodRequestError);
  });
});

describe.each(["gpt2", "llama", "qwen2", "gpt_neox", "bert"] as const)("%s", (type) => {
  // The baseline is the embedding of a token (the "pad/unknown-token embedding" baseline): from a zero baseline, a
  // model without learned positions walks a path whose first thousandth holds the whole change (an RMSNorm or
  // LayerNorm of α·x is constant once α·|x| ≫ √eps), which no 64-point rule resolves; see the next test.
  it("integrated gradients is complete: |delta| ≤ 1% of |f(x) − f(x')| at 64 Gauss–Legendre steps", () => {
    const m = tiny(type);
    const r = gradientAttribution(m, {
      kind: "attribution",
      method: "integrated_gradients",
      input: { text: TEXT },
      baseline: { kind: "token", id: 0 },
    });
    expectMethodResult(r);
    const gap = Math.abs((r.fInput as number) - (r.fBaseline as number));
    const rel = Math.abs(r.delta as number) / gap;
    console.log(
      `${type}: IG f(x) ${r.fInput.toFixed(5)} f(x') ${(r.fBaseline as number).toFixed(5)} delta ${(r.delta as number).toExponential(2)} = ${(100 * rel).toFixed(3)}% (bound 1%)`,
    );
    expect(gap).toBeGreaterThan(1e-3); // a real gap to explain
    expect(rel).toBeLessThanOrEqual(0.01);
    expect(r.scores).toHaveLength(r.tokens.length);
  });

  it("from a zero baseline, delta reports how far the integral is from converged", () => {
    const m = tiny(type);
    const r = gradientAttribution(m, { kind: "attribution", method: "integrated_gradients", input: { text: TEXT } });
    const total = r.scores.reduce((a, b) => a + b, 0);
    expect(r.delta).toBeCloseTo(total - (r.fInput - (r.fBaseline as number)), 6);
    const rel = Math.abs(r.delta as number) / Math.abs(r.fInput - (r.fBaseline as number));
    console.log(`${type}: IG from a zero baseline, |delta| ${(100 * rel).toFixed(2)}% of f(x) − f(x')`);
  });

  it("the gradient it integrates matches central finite differences of the objective", () => {
    const m = tiny(type);
    const ids = m.tokenizer?.encode(TEXT) ?? [];
    const position = ids.length - 1; // a classifier (BERT here) has one row: the position is ignored
    const target = type === "bert" ? 1 : 5;
    const sal = gradientAttribution(m, { kind: "attribution", method: "grad_x_input", input: { ids }, target, position });
    // grad × input with a zero baseline at one perturbed direction: f(x + εd) − f(x − εd) ≈ 2ε ∇f·d, with d = x at
    // one position (so ∇f·d is that position's grad × input score)
    const hook = type === "bert" ? "embed.hook_embed" : "hook_embed";
    const x = run(m, ids, { cache: hook }).cache.get(hook); // [1, pos, d_model]
    const D = x.shape[2] as number;
    const p = 1;
    const f = (eps: number) => {
      const moved = Float32Array.from(x.data as Float32Array);
      for (let i = 0; i < D; i++) moved[p * D + i] = (moved[p * D + i] as number) * (1 + eps);
      const out = run(m, ids, { hooks: { [hook]: () => T.tensor(moved, x.shape, x.dtype) } }).output;
      return logProb(out, target, { position }).item();
    };
    const eps = 1e-2;
    const fd = (f(eps) - f(-eps)) / (2 * eps);
    const got = sal.scores[p] as number;
    console.log(`${type}: grad × input at position ${p} ${got.toFixed(6)} vs finite differences ${fd.toFixed(6)}`);
    expect(Math.abs(got - fd)).toBeLessThan(2e-3 * Math.max(1, Math.abs(fd)));
  });
});

describe("saliency, grad × input and baselines", () => {
  it("saliency is the gradient's norm per position; grad × input with a zero baseline is Σ grad · x", () => {
    const m = tiny("gpt2");
    const ids = m.tokenizer?.encode(TEXT) ?? [];
    const target = 9;
    const r = run(m, ids, { cache: "hook_embed", grads: { hooks: "hook_embed", loss: (o) => logProb(o, target) } });
    const g = r.cache.grad("hook_embed").data;
    const x = r.cache.get("hook_embed").data;
    const D = g.length / ids.length;
    const sal = gradientAttribution(m, { kind: "attribution", method: "saliency", input: { ids }, target });
    const gxi = gradientAttribution(m, { kind: "attribution", method: "grad_x_input", input: { ids }, target });
    expectMethodResult(sal);
    expectMethodResult(gxi);
    ids.forEach((_, p) => {
      let n2 = 0;
      let dot = 0;
      for (let i = p * D; i < (p + 1) * D; i++) {
        n2 += (g[i] as number) ** 2;
        dot += (g[i] as number) * (x[i] as number);
      }
      expect(sal.scores[p]).toBeCloseTo(Math.sqrt(n2), 6);
      expect(gxi.scores[p]).toBeCloseTo(dot, 6);
    });
    expect(sal.fInput).toBeCloseTo(r.loss?.item() ?? Number.NaN, 6);
  });

  it("a token baseline is that token's embedding: IG from it explains f(x) − f(all that token)", () => {
    const m = tiny("llama");
    const ids = m.tokenizer?.encode(TEXT) ?? [];
    const pad = 0;
    const r = gradientAttribution(m, {
      kind: "attribution",
      method: "integrated_gradients",
      input: { ids },
      baseline: { kind: "token", id: pad },
      steps: 32,
      rule: "riemann_trapezoid",
      batch: 5,
    });
    // the baseline run: every position's embedding replaced by the pad token's (the model's own embedding row)
    const allPad = run(
      m,
      ids.map(() => pad),
    ).output;
    const target = r.target.id;
    expect(r.fBaseline).toBeCloseTo(logProb(allPad, target).item(), 5);
    expect(Math.abs(r.delta as number)).toBeLessThan(0.02 * Math.abs(r.fInput - (r.fBaseline as number)));
    expect(r.steps).toBe(32);
  });

  it("a dataset baseline is the mean activation over the texts; contrastive targets subtract the foil", () => {
    const m = tiny("gpt2");
    const r = gradientAttribution(m, {
      kind: "attribution",
      method: "integrated_gradients",
      input: { text: TEXT },
      target: 5,
      foil: 6,
      objective: "logit",
      baseline: { kind: "dataset", texts: ["a b c", "hello there"] },
    });
    expectMethodResult(r);
    const out = run(
      m,
      r.tokens.map((t) => t.id),
    ).output;
    const V = out.shape[2] as number;
    const last = (r.tokens.length - 1) * V;
    expect(r.fInput).toBeCloseTo((out.data[last + 5] as number) - (out.data[last + 6] as number), 5);
    expect(Math.abs(r.delta as number)).toBeLessThan(0.01 * Math.abs(r.fInput - (r.fBaseline as number)) + 1e-6);
  });

  it("any hook point with a position axis; bad requests name their field", () => {
    const m = tiny("gpt2");
    // at a residual stream: complete up to the quadrature's error, which more steps shrink
    const at = (steps: number) =>
      gradientAttribution(m, {
        kind: "attribution",
        method: "integrated_gradients",
        input: { text: TEXT },
        hook: "blocks.1.hook_resid_pre",
        steps,
      });
    const [coarse, fine] = [at(8), at(128)];
    const rel = (r: typeof fine) => Math.abs(r.delta as number) / Math.abs(r.fInput - (r.fBaseline as number));
    console.log(
      `gpt2 at blocks.1.hook_resid_pre from zero: |delta| ${(100 * rel(coarse)).toFixed(2)}% at 8 steps, ${(100 * rel(fine)).toFixed(3)}% at 128`,
    );
    expect(rel(fine)).toBeLessThan(rel(coarse));
    expect(rel(fine)).toBeLessThan(0.01);
    const bad = expectRequestError;
    const req = { kind: "attribution", method: "integrated_gradients", input: { text: TEXT } } as const;
    bad(() => gradientAttribution(m, { ...req, hook: "blocks.9.hook_resid_pre" }), "hook");
    bad(() => gradientAttribution(m, { ...req, hook: "blocks.0.attn.hook_pattern" }), "hook");
    bad(() => gradientAttribution(m, { ...req, target: -2 }), "target");
    bad(() => gradientAttribution(m, { ...req, steps: 0 }), "steps");
    bad(() => gradientAttribution(m, { ...req, batch: 0 }), "batch");
    bad(() => gradientAttribution(m, { ...req, baseline: { kind: "dataset", texts: [] } }), "baseline.texts");
    bad(() => gradientAttribution(m, { ...req, baseline: { kind: "token", id: 1e9 } }), "baseline.id");
  });
});

describe("attribution of a generation", () => {
  it("row j is generated token j's attribution over everything before it; later columns are null", () => {
    const m = tiny("gpt2");
    const ids = m.tokenizer?.encode("the quick") ?? [];
    const r = generationAttribution(m, {
      kind: "generation_attribution",
      input: { ids },
      maxNewTokens: 4,
      method: "integrated_gradients",
      baseline: { kind: "token", id: 0 },
      steps: 32,
    });
    expectMethodResult(r);
    const greedy = generate(m, [ids], { maxNewTokens: 4, temperature: 0 }).tokens[0] ?? [];
    expect(r.generated.map((t) => t.id)).toEqual(greedy);
    expect(r.matrix).toHaveLength(4);
    const all = [...ids, ...greedy];
    r.matrix.forEach((row, j) => {
      expect(row).toHaveLength(ids.length + 3);
      const prefix = all.slice(0, ids.length + j);
      const single = gradientAttribution(m, {
        kind: "attribution",
        method: "integrated_gradients",
        input: { ids: prefix },
        target: greedy[j] as number,
        baseline: { kind: "token", id: 0 },
        steps: 32,
      });
      expect(row.slice(0, prefix.length)).toEqual(single.scores);
      expect(row.slice(prefix.length).every((v) => v === null)).toBe(true);
    });
    for (const d of r.deltas ?? []) expect(Number.isFinite(d)).toBe(true);
    // contrastive: each step explains the generated token against a foil
    const c = generationAttribution(m, {
      kind: "generation_attribution",
      input: { ids },
      maxNewTokens: 2,
      method: "grad_x_input",
      foil: 3,
    });
    expect(c.foil?.id).toBe(3);
    expect(c.matrix[0]).not.toEqual(
      generationAttribution(m, { kind: "generation_attribution", input: { ids }, maxNewTokens: 2, method: "grad_x_input" })
        .matrix[0],
    );
  });
});
