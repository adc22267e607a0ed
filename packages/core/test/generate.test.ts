// Generation: the sampler against independently computed distributions (transformers' warper semantics),
// and the KV-cache loop against plain argmax over repeated full forward passes.
import { rng } from "@llmdbg/tensor";
import { describe, expect, it } from "vitest";
import { generate, generateStream, run, sampleToken } from "../src/index.js";
import { ids, toyModel } from "./toy.js";

const model = toyModel("f64");

/** Softmax of logits / t restricted to `keep`, as plain probabilities over the whole vocabulary. */
function expected(logits: number[], t: number, keep: (i: number) => boolean): number[] {
  const e = logits.map((l, i) => (keep(i) ? Math.exp(l / t) : 0));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

function draw(logits: number[], o: Parameters<typeof sampleToken>[1], n: number, seed = 1): number[] {
  const u = rng(seed).uniform;
  const f = logits.map(() => 0);
  for (let i = 0; i < n; i++) {
    const t = sampleToken(logits, o, u);
    f[t] = (f[t] ?? 0) + 1 / n;
  }
  return f;
}

const logits = [1.2, -0.3, 2.5, 0.7, 2.5, -1.1, 0.2, 1.9];

describe("sampleToken", () => {
  it("greedy picks the first maximum, whatever the other settings", () => {
    const u = rng(0).uniform;
    expect(sampleToken(logits, { temperature: 0 }, u)).toBe(2);
    expect(sampleToken(logits, { doSample: false, topK: 3 }, u)).toBe(2);
  });

  it("temperature alone samples the softmax of logits / t", () => {
    const want = expected(logits, 0.7, () => true);
    draw(logits, { temperature: 0.7 }, 40000).forEach((p, i) => {
      expect(Math.abs(p - (want[i] as number))).toBeLessThan(0.01);
    });
  });

  it("top-k keeps the k largest and ties with the k-th", () => {
    // k = 3: 2.5, 2.5, 1.9 survive; k = 1 keeps both 2.5s (the tie)
    const want3 = expected(logits, 1, (i) => (logits[i] as number) >= 1.9);
    draw(logits, { topK: 3 }, 40000).forEach((p, i) => {
      expect(Math.abs(p - (want3[i] as number))).toBeLessThan(0.01);
    });
    const f1 = draw(logits, { topK: 1 }, 4000);
    expect((f1[2] as number) + (f1[4] as number)).toBeCloseTo(1, 10);
    expect(Math.min(f1[2] as number, f1[4] as number)).toBeGreaterThan(0.4);
  });

  it("top-p keeps the smallest prefix of the ranking whose mass reaches p", () => {
    const probs = expected(logits, 1, () => true);
    const ranked = probs.map((p, i) => [p, i] as const).sort((a, b) => b[0] - a[0]);
    for (const p of [0.3, 0.6, 0.9]) {
      const kept = new Set<number>();
      let cum = 0;
      for (const [q, i] of ranked) {
        if (cum >= p) break;
        kept.add(i);
        cum += q;
      }
      const want = expected(logits, 1, (i) => kept.has(i));
      draw(logits, { topP: p }, 30000, 7).forEach((f, i) => {
        expect(Math.abs(f - (want[i] as number)), `p=${p} token ${i}`).toBeLessThan(0.012);
      });
    }
  });
});

describe("generate", () => {
  /** Greedy decoding by repeated full forward passes without a cache: the independent reference. */
  function greedyReference(prompt: number[], n: number): number[] {
    const seq = [...prompt];
    for (let i = 0; i < n; i++) {
      const out = run(model, ids([seq])).output.toArray();
      const V = out.length / seq.length;
      const row = out.slice((seq.length - 1) * V);
      seq.push(row.indexOf(Math.max(...row)));
    }
    return seq.slice(prompt.length);
  }

  it("greedy with the KV cache equals argmax over full passes, for every row of a padded batch", () => {
    const prompts = [[1, 2, 3, 4], [7], [5, 5, 2]];
    const r = generate(model, prompts, { maxNewTokens: 6, temperature: 0 });
    prompts.forEach((p, b) => {
      expect(r.tokens[b]).toEqual(greedyReference(p, 6));
    });
    expect(r.finishReasons).toEqual(["length", "length", "length"]);
  });

  it("is reproducible for a seed, streams every step, and stops a row at eos", () => {
    const o = { maxNewTokens: 8, temperature: 1.5, topK: 5, seed: 42 };
    const a = generate(model, [[1, 2]], o).tokens;
    expect(generate(model, [[1, 2]], o).tokens).toEqual(a);
    const others = [1, 2, 3, 4, 5].map((seed) => generate(model, [[1, 2]], { ...o, seed }).tokens[0]?.join());
    expect(new Set([a[0]?.join(), ...others]).size).toBeGreaterThan(1);
    const steps = [...generateStream(model, [[1, 2]], o)];
    expect(steps.map((s) => s.tokens[0])).toEqual(a[0]);
    const eos = a[0]?.[2] as number;
    const stopped = generate(model, [[1, 2]], { ...o, eosTokenIds: [eos] });
    expect(stopped.tokens[0]).toEqual(a[0]?.slice(0, (a[0]?.indexOf(eos) ?? 0) + 1));
    expect(stopped.finishReasons[0]).toBe("eos");
  });

  it("rejects bad settings", () => {
    expect(() => generate(model, [[1]], { maxNewTokens: -1 })).toThrow(RangeError);
    expect(() => generate(model, [[1]], { maxNewTokens: 2, temperature: -1 })).toThrow(/temperature/);
    expect(() => generate(model, [[1]], { maxNewTokens: 2, topP: 0 })).toThrow(/topP/);
    expect(() => generate(model, [[1]], { maxNewTokens: 2, topK: 1.5 })).toThrow(/topK/);
  });
});
