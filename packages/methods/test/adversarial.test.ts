// HotFlip and GCG proven where the adversarial input is known. A tiny Llama set by hand reads only its last token
// (every attention and MLP output is zero, so the logits are RMSNorm(E[x_last])·W_Uᵀ): embedding dimension 0
// belongs to " dog" alone and is read only by the unembedding row of " fox", dimension 1 to " fox" alone, read only
// by the row of " the". So " fox" is the top prediction exactly when the last token is " dog" (p ≈ 0.9999), and
// " fox the" is generated greedily exactly when the last token is " dog": HotFlip must flip the last token to
// " dog", GCG must end its suffix with it, each within its budget, while random search with the same budget does
// not. HotFlip's first-order scores equal g·(E[v] − E[x_i]) computed by hand (also on a random tiny GPT-2); bad
// requests name their field; an aborted signal stops GCG; the results have their schema.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generate, logProb, run } from "@llmdbg/core";
import { load, type Model } from "@llmdbg/models";
import type { AdversarialRequest } from "@llmdbg/protocol";
import * as T from "@llmdbg/tensor";
import { writeTinyModel } from "@llmdbg/testing";
import { expectMethodResult } from "@llmdbg/testing/vitest";
import { afterAll, describe, expect, it } from "vitest";
import { adversarialAttack, hotflipScores, MethodRequestError, rng } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "llmdbg-adversarial-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DOG = 278; // " dog": the trigger
const FOX = 280; // " fox": what " dog" makes the model predict
const THE = 258; // " the": what " fox" makes the model predict
const SPECIAL = 296; // <|endoftext|>, the last id: random tokens are drawn below it
/** the unembedding's weight on the trigger dimensions: logit 3·√32 ≈ 17 for the token a trigger selects */
const S = 3;

/** The tiny Llama with the last-token-only circuit described above; the other rows random on dimensions 2…31. */
function handMade(name: string): Model {
  const folder = join(dir, name);
  writeTinyModel(folder, "llama", { seed: 3 });
  const m = load(folder);
  const p = m.params;
  const set = (n: string, fill: (w: Float32Array, shape: readonly number[]) => void) => {
    const old = p.get(n);
    const w = Float32Array.from(old.data as Float32Array);
    fill(w, old.shape);
    p.set(n, T.tensor(w, old.shape));
  };
  const rand = rng(17);
  const normal = () => Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
  set("embed_tokens.weight", (w, [V, D]) => {
    // [d_vocab, d_model]: dimensions 0 and 1 are " dog"'s and " fox"'s alone
    for (let v = 0; v < (V as number); v++)
      for (let d = 0; d < (D as number); d++) w[v * (D as number) + d] = d < 2 ? 0 : normal();
    for (let d = 0; d < (D as number); d++) {
      w[DOG * (D as number) + d] = d === 0 ? 2 : 0;
      w[FOX * (D as number) + d] = d === 1 ? 2 : 0;
    }
  });
  set("lm_head.weight", (w, [V, D]) => {
    // [d_vocab, d_model]: only " fox" reads dimension 0, only " the" reads dimension 1
    for (let v = 0; v < (V as number); v++)
      for (let d = 0; d < (D as number); d++) w[v * (D as number) + d] = d < 2 ? 0 : 0.1 * normal();
    for (let d = 0; d < (D as number); d++) {
      w[FOX * (D as number) + d] = d === 0 ? S : 0;
      w[THE * (D as number) + d] = d === 1 ? S : 0;
    }
  });
  set("norm.weight", (w) => w.fill(1));
  for (let l = 0; l < 2; l++) {
    set(`layers.${l}.self_attn.o_proj.weight`, (w) => w.fill(0));
    set(`layers.${l}.mlp.down_proj.weight`, (w) => w.fill(0));
  }
  return m;
}

const models = new Map<string, Model>();
function model(name = "hand"): Model {
  const hit = models.get(name);
  if (hit !== undefined) return hit;
  const m = name === "gpt2" ? tinyGpt2() : handMade(name);
  models.set(name, m);
  return m;
}
function tinyGpt2(): Model {
  const folder = join(dir, "gpt2");
  writeTinyModel(folder, "gpt2", { seed: 4 });
  return load(folder);
}

/** The last position's log-softmax in float64, and its argmax. */
function lastRow(m: Model, ids: readonly number[]): { top: number; logp: (t: number) => number } {
  const out = run(m, [...ids]).output; // [1, pos, d_vocab]
  const V = out.shape[2] as number;
  const row = Array.from(out.data.subarray(out.size - V));
  const mx = Math.max(...row);
  const lz = mx + Math.log(row.reduce((s, x) => s + Math.exp(x - mx), 0));
  return { top: row.indexOf(mx), logp: (t) => (row[t] as number) - lz };
}

const PROMPT = [276, 66, 64, 83, 75]; // "the" c a t l: no trigger anywhere

describe("the hand-built model", () => {
  it("predicts ' fox' exactly when the last token is ' dog', and ' the' after ' fox'", () => {
    const m = model();
    const dog = lastRow(m, [...PROMPT, DOG]);
    expect(dog.top).toBe(FOX);
    expect(Math.exp(dog.logp(FOX))).toBeGreaterThan(0.999);
    expect(lastRow(m, [...PROMPT, FOX]).top).toBe(THE);
    // every other last token: " fox" has logit 0 and never wins
    const rand = rng(1);
    for (let i = 0; i < 20; i++) {
      const v = Math.floor(rand() * SPECIAL);
      if (v !== DOG) expect(lastRow(m, [...PROMPT, v]).top).not.toBe(FOX);
    }
  });
});

describe("HotFlip", () => {
  it("its first-order scores are g·(E[v] − E[x_i]) computed by hand (hand-built Llama and random GPT-2)", () => {
    for (const [name, target] of [
      ["hand", FOX],
      ["gpt2", 42],
    ] as const) {
      const m = model(name);
      const ids = [...PROMPT, 90];
      const r = hotflipScores(m, ids, target);
      expect(r.loss).toBeCloseTo(-lastRow(m, ids).logp(target), 5);
      const g = run(m, ids, { grads: { hooks: "hook_embed", loss: (out) => T.neg(logProb(out, target)) } });
      // buffers read after the last op: a kernel may move them
      const grad = g.cache.grad("hook_embed").data; // [1, pos, d_model]
      const E = m.W_E.data; // [d_vocab, d_model]
      const [V, D] = m.W_E.shape as [number, number];
      let worst = 0;
      let scale = 0;
      for (let p = 0; p < ids.length; p++) {
        const x = ids[p] as number;
        for (let v = 0; v < V; v++) {
          let s = 0;
          for (let d = 0; d < D; d++) s += (grad[p * D + d] as number) * ((E[v * D + d] as number) - (E[x * D + d] as number));
          worst = Math.max(worst, Math.abs(s - (r.scores[p * V + v] as number)));
          scale = Math.max(scale, Math.abs(s));
        }
      }
      expect(scale).toBeGreaterThan(0);
      expect(worst).toBeLessThanOrEqual(1e-5 * scale);
    }
  });

  it("ranks the trigger first: flipping the last token to ' dog' is the best first-order flip", () => {
    const m = model();
    const ids = [...PROMPT, 90];
    const { scores } = hotflipScores(m, ids, FOX);
    const V = m.W_E.shape[0] as number;
    let best = 0;
    for (let i = 0; i < scores.length; i++) if ((scores[i] as number) < (scores[best] as number)) best = i;
    expect([Math.floor(best / V), best % V]).toEqual([ids.length - 1, DOG]);
    // the positions the model does not read have exactly zero gradient
    for (let i = 0; i < (ids.length - 1) * V; i++) expect(scores[i]).toBe(0);
  });

  it("finds the one flip that makes the model predict the target within its budget; random flips with the same budget do not", () => {
    const m = model();
    const ids = [...PROMPT, 90];
    const r = adversarialAttack(m, {
      kind: "adversarial",
      method: "hotflip",
      input: { ids },
      target: FOX,
      beamWidth: 2,
      maxFlips: 2,
      candidates: 4,
    });
    expectMethodResult(r);
    expect(r.success).toBe(true);
    expect(r.stopped).toBe("success");
    expect(r.steps).toBe(1);
    expect(r.adversarial.map((t) => t.id)).toEqual([...PROMPT, DOG]);
    expect(r.flips?.map((f) => [f.position, f.from.id, f.to.id])).toEqual([[ids.length - 1, 90, DOG]]);
    expect(r.after.id).toBe(FOX);
    expect(r.targetProbs[0]).toBeGreaterThan(0.999);
    expect(r.loss).toBeLessThan(r.lossBefore);
    expect(r.losses).toEqual([r.loss]);
    // the flip's predicted change is the score at the input, its actual change the forward passes' difference
    const V = m.W_E.shape[0] as number;
    const flip = r.flips?.[0];
    expect(flip?.predicted).toBeCloseTo(hotflipScores(m, ids, FOX).scores[(ids.length - 1) * V + DOG] as number, 5);
    expect(flip?.actual).toBeCloseTo(r.loss - r.lossBefore, 5);
    // random search: the same number of verified inputs, each a random flip of a random position
    const budget = r.evaluated;
    let hits = 0;
    for (let seed = 0; seed < 20; seed++) {
      const rand = rng(seed);
      for (let i = 0; i < budget; i++) {
        const next = [...ids];
        next[Math.floor(rand() * ids.length)] = Math.floor(rand() * SPECIAL);
        if (lastRow(m, next).top === FOX) {
          hits++;
          break;
        }
      }
    }
    console.log(`HotFlip: success after ${budget} verified inputs; random flips with that budget: ${hits}/20 seeds`);
    expect(hits).toBeLessThanOrEqual(2);
  });

  it("without a target, moves the prediction away from the input's top token", () => {
    const m = model();
    const ids = [...PROMPT, DOG]; // top " fox"
    const r = adversarialAttack(m, { kind: "adversarial", method: "hotflip", input: { ids }, maxFlips: 1, candidates: 4 });
    expectMethodResult(r);
    expect(r.objective).toBe("away");
    expect(r.target.map((t) => t.id)).toEqual([FOX]);
    expect(r.success).toBe(true);
    expect(r.after.id).not.toBe(FOX);
    expect(r.before.id).toBe(FOX);
    expect(r.flips?.[0]?.position).toBe(ids.length - 1);
    expect(r.loss).toBeLessThan(r.lossBefore);
  });

  it("respects the positions it may flip and the tokens it may not insert", () => {
    const m = model();
    const ids = [...PROMPT, 90];
    // the last position is off limits: nothing else matters to the model, so it cannot succeed
    const r = adversarialAttack(m, {
      kind: "adversarial",
      method: "hotflip",
      input: { ids },
      target: FOX,
      positions: [0, 1, 2],
      maxFlips: 2,
      beamWidth: 2,
      candidates: 3,
    });
    expect(r.success).toBe(false);
    expect(r.stopped).toBe("steps");
    for (const f of r.flips ?? []) expect(f.position).toBeLessThan(3);
    expect(r.losses).toHaveLength(2);
    // the trigger excluded: no flip can succeed either, and none inserts it
    const x = adversarialAttack(m, {
      kind: "adversarial",
      method: "hotflip",
      input: { ids },
      target: FOX,
      exclude: [DOG],
      maxFlips: 1,
      candidates: 8,
    });
    expect(x.success).toBe(false);
    expect(x.adversarial.map((t) => t.id)).not.toContain(DOG);
  });
});

/**
 * Random search with GCG's budget: each step, 12 uniformly random single-token substitutions of the 3-token suffix,
 * the best kept; the best loss seen and whether any input made greedy decoding produce " fox the".
 */
function randomSearch(m: Model, budget: number, seed: number): { loss: number; success: boolean } {
  const target = [FOX, THE];
  const rand = rng(seed);
  const score = (s: readonly number[]) => {
    const out = run(m, [...PROMPT, ...s, ...target]).output; // [1, pos, d_vocab]
    const V = out.shape[2] as number;
    let l = 0;
    let greedy = true;
    for (const [j, t] of target.entries()) {
      const row = Array.from(out.data.subarray((PROMPT.length + 2 + j) * V, (PROMPT.length + 3 + j) * V));
      const mx = Math.max(...row);
      l -= (row[t] as number) - mx - Math.log(row.reduce((a, x) => a + Math.exp(x - mx), 0));
      if (row.indexOf(mx) !== t) greedy = false;
    }
    return { l, greedy };
  };
  let suffix = [5, 6, 7];
  let loss = Number.POSITIVE_INFINITY;
  let success = false;
  for (let e = 0; e < budget; e += 12) {
    let stepBest: { s: number[]; l: number } | undefined;
    for (let c = 0; c < 12; c++) {
      const s = [...suffix];
      s[Math.floor(rand() * 3)] = Math.floor(rand() * SPECIAL);
      const v = score(s);
      success ||= v.greedy;
      if (stepBest === undefined || v.l < stepBest.l) stepBest = { s, l: v.l };
    }
    if (stepBest !== undefined) {
      suffix = stepBest.s;
      loss = Math.min(loss, stepBest.l);
    }
  }
  return { loss, success };
}

describe("GCG", () => {
  const req = (over: Partial<AdversarialRequest> = {}): AdversarialRequest => ({
    kind: "adversarial",
    method: "gcg",
    input: { ids: PROMPT },
    targetString: { text: " fox the" },
    suffixInit: [5, 6, 7],
    topK: 4,
    candidates: 12,
    steps: 10,
    seed: 0,
    ...over,
  });

  it("finds the suffix that makes greedy decoding produce the target, stops there, and beats random search", () => {
    const m = model();
    const steps: number[] = [];
    const r = adversarialAttack(m, req(), { onProgress: (p) => steps.push(p.done) });
    expectMethodResult(r);
    console.log(`GCG: losses per step ${r.losses.map((l) => l.toFixed(4)).join(", ")}; ${r.evaluated} inputs evaluated`);
    expect(r.target.map((t) => t.id)).toEqual([FOX, THE]);
    expect(r.success).toBe(true);
    expect(r.stopped).toBe("success");
    expect(r.steps).toBeLessThan(10);
    expect(steps).toEqual(Array.from({ length: r.steps }, (_, i) => i + 1));
    expect(r.losses).toHaveLength(r.steps);
    expect(r.suffix?.at(-1)?.id).toBe(DOG);
    expect(r.adversarial.map((t) => t.id)).toEqual([...PROMPT, ...(r.suffix ?? []).map((t) => t.id)]);
    for (const p of r.targetProbs) expect(p).toBeGreaterThan(0.999);
    expect(r.loss).toBeCloseTo(r.losses.at(-1) as number, 12);
    expect(r.lossBefore).toBeGreaterThan(5);
    // greedy generation from the adversarial input produces the target
    const gen = generate(m, [r.adversarial.map((t) => t.id)], { maxNewTokens: 2, temperature: 0 });
    expect(gen.tokens[0]).toEqual([FOX, THE]);
    // the same inputs, determined by the seed
    expect(adversarialAttack(m, req())).toEqual(r);

    // other seeds succeed within the budget too
    for (let seed = 1; seed < 5; seed++) expect(adversarialAttack(m, req({ seed })).success).toBe(true);

    // random search with the same budget, over 10 seeds: never succeeds, and stays far above GCG's loss
    const budget = r.evaluated - 1; // the starting suffix's evaluation not counted
    const searches = Array.from({ length: 10 }, (_, seed) => randomSearch(m, budget, seed));
    console.log(
      `random search, ${budget} inputs: best losses ${searches.map((x) => x.loss.toFixed(2)).join(", ")}; ${searches.filter((x) => x.success).length}/10 succeed`,
    );
    for (const x of searches) {
      expect(x.success).toBe(false);
      expect(x.loss).toBeGreaterThan(r.loss + 5);
    }
  });

  it("ranks the trigger first at the last suffix position by the one-hot gradient", () => {
    const m = model();
    const ids = [...PROMPT, 5, 6, 7, FOX, THE];
    const first = PROMPT.length + 2;
    const g = run(m, ids, {
      grads: {
        hooks: "hook_embed",
        loss: (out) => T.add(T.neg(logProb(out, FOX, { position: first })), T.neg(logProb(out, THE, { position: first + 1 }))),
      },
    }).cache.grad("hook_embed").data; // [1, pos, d_model]
    const E = m.W_E.data; // [d_vocab, d_model]
    const [V, D] = m.W_E.shape as [number, number];
    const dot = (p: number, v: number) => {
      let s = 0;
      for (let d = 0; d < D; d++) s += (g[p * D + d] as number) * (E[v * D + d] as number);
      return s;
    };
    let best = 0;
    for (let v = 0; v < V - 1; v++) if (dot(first, v) < dot(first, best)) best = v;
    expect(best).toBe(DOG);
  });

  it("stops at its time budget, and an aborted signal stops it between steps", () => {
    const m = model();
    // " the" after " the" never wins: an unreachable target
    const impossible = req({ targetString: { ids: [THE, THE] }, steps: 10_000, timeMs: 30 });
    const t = adversarialAttack(m, impossible);
    expect(t.stopped).toBe("time");
    expect(t.success).toBe(false);
    expect(t.steps).toBeGreaterThan(0);
    expect(t.steps).toBeLessThan(10_000);

    const ctl = new AbortController();
    const seen: number[] = [];
    expect(() =>
      adversarialAttack(m, req({ targetString: { ids: [THE, THE] }, steps: 50 }), {
        signal: ctl.signal,
        onProgress: (p) => {
          seen.push(p.done);
          if (p.done === 2) ctl.abort(new Error("stop"));
        },
      }),
    ).toThrow("stop");
    expect(seen).toEqual([1, 2]);
  });
});

describe("bad requests name their field", () => {
  const bad = (over: Partial<AdversarialRequest>, field: string) => {
    const m = model();
    const r = {
      kind: "adversarial",
      method: "hotflip",
      input: { ids: [...PROMPT, 90] },
      ...over,
    } as AdversarialRequest;
    try {
      adversarialAttack(m, r);
    } catch (e) {
      expect(e).toBeInstanceOf(MethodRequestError);
      expect((e as MethodRequestError).field).toBe(field);
      return;
    }
    expect.fail(`expected a MethodRequestError on ${field}`);
  };
  it("hotflip and gcg", () => {
    bad({ method: "beam" as "gcg" }, "method");
    bad({ target: 5000 }, "target");
    bad({ positions: [99] }, "positions[0]");
    bad({ beamWidth: 0 }, "beamWidth");
    bad({ maxFlips: 1.5 }, "maxFlips");
    bad({ candidates: 0 }, "candidates");
    bad({ exclude: [-1] }, "exclude[0]");
    bad({ input: { ids: [] } }, "input.ids");
    bad({ method: "gcg" }, "targetString");
    bad({ method: "gcg", targetString: { ids: [] } }, "targetString.ids");
    bad({ method: "gcg", targetString: { ids: [9999] } }, "targetString.ids[0]");
    bad({ method: "gcg", targetString: { text: "" } }, "targetString.text");
    bad({ method: "gcg", targetString: { ids: [FOX] }, suffixInit: [] }, "suffixInit");
    bad({ method: "gcg", targetString: { ids: [FOX] }, suffixInit: [1, 9999] }, "suffixInit[1]");
    bad({ method: "gcg", targetString: { ids: [FOX] }, suffixLength: 0 }, "suffixLength");
    bad({ method: "gcg", targetString: { ids: [FOX] }, topK: 0 }, "topK");
    bad({ method: "gcg", targetString: { ids: [FOX] }, timeMs: 0 }, "timeMs");
    bad({ method: "gcg", targetString: { ids: [FOX] }, seed: 0.5 }, "seed");
  });
});

// ——— the result's runtime schema (to join @llmdbg/testing's MethodResult schemas) ———
