import { generate, run } from "@llmdbg/core";
import type { Model } from "@llmdbg/models";
import { expectMethodResult, expectRequestError, loadTiny } from "@llmdbg/testing/vitest";
import { describe, expect, it } from "vitest";
import { contrastiveVector, steer } from "../src/index.js";

const tiny = (type: "gpt2" | "llama"): Model => loadTiny(type, { seed: 12 });
const TEXT = "the quick brown fox";

describe.each(["gpt2", "llama"] as const)("%s", (type) => {
  it("a zero vector changes nothing", () => {
    const m = tiny(type);
    const D = m.W_U.shape[0] as number;
    const r = steer(m, {
      kind: "steer",
      input: { text: TEXT },
      hook: "blocks.1.hook_resid_post",
      vector: { values: new Array(D).fill(0) },
    });
    expectMethodResult(r);
    expect(r.after).toEqual(r.before);
    expect(r.kl).toBe(0);
  });

  it("a vector along a token's unembedding raises its logit, monotonically in the coefficient, and steers generation to it", () => {
    const m = tiny(type);
    const [D, V] = m.W_U.shape as [number, number];
    const target = 33;
    const u = Array.from({ length: D }, (_, i) => m.W_U.data[i * V + target] as number); // W_U[:, target]
    const logitAt = (coeff: number) => {
      const r = steer(m, {
        kind: "steer",
        input: { text: TEXT },
        hook: "blocks.1.hook_resid_post",
        vector: { values: u },
        coeff,
        topK: V,
      });
      return r.after.find((t) => t.id === target)?.logit as number;
    };
    const ls = [0, 1, 4, 16].map(logitAt);
    for (let i = 1; i < ls.length; i++) expect(ls[i]).toBeGreaterThan(ls[i - 1] as number);
    const r = steer(m, {
      kind: "steer",
      input: { text: TEXT },
      hook: "blocks.1.hook_resid_post",
      vector: { values: u },
      coeff: 200,
      generate: { maxNewTokens: 4 },
    });
    expect(r.after[0]?.id).toBe(target);
    expect(r.generated?.after.map((t) => t.id)).toEqual([target, target, target, target]);
    // the steered generation is generate() with the same intervention
    const ids = r.tokens.map((t) => t.id);
    const manual = generate(m, [ids], {
      maxNewTokens: 4,
      temperature: 0,
      interventions: [{ kind: "add", hook: "blocks.1.hook_resid_post", vector: u, coeff: 200 }],
    });
    expect(r.generated?.after.map((t) => t.id)).toEqual(manual.tokens[0]);
  });

  it("contrastive activation addition is the mean activation over positive prompts less that over negative ones", () => {
    const m = tiny(type);
    const hook = "blocks.0.hook_resid_post";
    const pos = [{ text: "good great" }, { text: "nice" }];
    const neg = [{ text: "bad awful thing" }];
    const v = contrastiveVector(m, hook, pos, neg);
    const meanOf = (text: string) => {
      const a = run(m, text, { cache: hook }).cache.get(hook);
      const D = a.shape[2] as number;
      const P = a.shape[1] as number;
      return Array.from({ length: D }, (_, j) => {
        let s = 0;
        for (let p = 0; p < P; p++) s += a.data[p * D + j] as number;
        return s / P;
      });
    };
    const [g, n, b] = [meanOf("good great"), meanOf("nice"), meanOf("bad awful thing")];
    v.forEach((x, j) => {
      expect(x).toBeCloseTo(((g[j] as number) + (n[j] as number)) / 2 - (b[j] as number), 5);
    });
    const r = steer(m, {
      kind: "steer",
      input: { text: TEXT },
      hook,
      vector: { contrast: { positive: pos, negative: neg } },
      coeff: 3,
      positions: [-1],
    });
    expect(r.vector).toEqual(v);
    expect(r.positions).toEqual([-1]);
  });
});

describe("bad requests", () => {
  it("name their field", () => {
    const m = tiny("gpt2");
    const D = m.W_U.shape[0] as number;
    const bad = expectRequestError;
    const req = {
      kind: "steer",
      input: { text: TEXT },
      hook: "blocks.0.hook_resid_post",
      vector: { values: new Array(D).fill(1) },
    } as const;
    bad(() => steer(m, { ...req, vector: { values: [1, 2] } }), "vector.values");
    bad(() => steer(m, { ...req, hook: "blocks.7.hook_resid_post" }), "hook");
    bad(
      () => steer(m, { ...req, vector: { contrast: { positive: [], negative: [{ text: "a" }] } } }),
      "vector.contrast.positive",
    );
    bad(() => steer(m, { ...req, coeff: Number.NaN }), "coeff");
    bad(() => steer(m, { ...req, positions: [99] }), "positions");
  });
});
