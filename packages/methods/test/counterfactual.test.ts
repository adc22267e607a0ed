// Counterfactuals proven where the answer is known. A tiny Llama set by hand reads only its last token (every
// attention and MLP output is zero) and predicts " fox" exactly when that token is " dog": swaps that leave the last
// token alone keep the prediction (robustness 1, the logits unchanged), swaps of the last token change it
// (robustness 0), a mix scores its share. The same-length option drops exactly the swaps that change the token
// count; the embedding neighbours are the cosine-nearest W_E rows computed by hand, never a special token; batched
// evaluation equals single runs; word swaps keep case and whole words; bad requests name their field.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "@llmdbg/core";
import { load, type Model } from "@llmdbg/models";
import type { CounterfactualRequest } from "@llmdbg/protocol";
import * as T from "@llmdbg/tensor";
import { writeTinyModel } from "@llmdbg/testing";
import { expectMethodResult } from "@llmdbg/testing/vitest";
import { afterAll, describe, expect, it } from "vitest";
import { counterfactuals, MethodRequestError, nearestTokens, rng, wordSwaps } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "llmdbg-counterfactual-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DOG = 278; // " dog": the token the model reads
const FOX = 280; // " fox": its prediction after " dog"
const SPECIAL = 296; // <|endoftext|>
const TWIN = 66; // "c": the special token's embedding is set equal to this token's
const TEXT = "the quick fox jumps over the lazy dog"; // ends in " dog"

/**
 * The tiny Llama reading only its last token: dimension 0 of the embedding is " dog"'s alone and only the
 * unembedding row of " fox" reads it (logit 3·√32 ≈ 17), every other row random on dimensions 1…31.
 */
let cached: Model | undefined;
function handMade(): Model {
  if (cached !== undefined) return cached;
  const folder = join(dir, "llama");
  writeTinyModel(folder, "llama", { seed: 3 });
  const m = load(folder);
  const p = m.params;
  const set = (n: string, fill: (w: Float32Array, D: number) => void) => {
    const old = p.get(n);
    const w = Float32Array.from(old.data as Float32Array);
    fill(w, old.shape[old.rank - 1] as number);
    p.set(n, T.tensor(w, old.shape));
  };
  const rand = rng(17);
  const normal = () => Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
  set("embed_tokens.weight", (w, D) => {
    // [d_vocab, d_model]
    for (let i = 0; i < w.length; i++) w[i] = i % D === 0 ? 0 : normal();
    for (let d = 0; d < D; d++) w[DOG * D + d] = d === 0 ? 2 : 0;
    // a special token that is the nearest neighbour of TWIN (cosine 1), which must never be chosen
    for (let d = 0; d < D; d++) w[SPECIAL * D + d] = w[TWIN * D + d] as number;
  });
  set("lm_head.weight", (w, D) => {
    // [d_vocab, d_model]
    for (let i = 0; i < w.length; i++) w[i] = i % D === 0 ? 0 : 0.1 * normal();
    for (let d = 0; d < D; d++) w[FOX * D + d] = d === 0 ? 3 : 0;
  });
  set("norm.weight", (w) => w.fill(1));
  for (let l = 0; l < 2; l++) {
    set(`layers.${l}.self_attn.o_proj.weight`, (w) => w.fill(0));
    set(`layers.${l}.mlp.down_proj.weight`, (w) => w.fill(0));
  }
  cached = m;
  return m;
}

const req = (over: Partial<CounterfactualRequest>): CounterfactualRequest => ({
  kind: "counterfactual",
  input: { text: TEXT },
  ...over,
});

describe("word swaps", () => {
  it("swap whole words both ways, one occurrence at a time or all at once, keeping a capital", () => {
    expect(wordSwaps("He said he would, hehe", [["he", "she"]], false)).toEqual([
      { from: "he", to: "she", at: [0], text: "She said he would, hehe" },
      { from: "he", to: "she", at: [8], text: "He said she would, hehe" },
    ]);
    expect(wordSwaps("He said he would", [["he", "she"]], true)).toEqual([
      { from: "he", to: "she", at: [0, 8], text: "She said she would" },
    ]);
    expect(wordSwaps("red or blue", [["red", "green", "blue"]], false).map((s) => s.text)).toEqual([
      "green or blue",
      "blue or blue",
      "red or red",
      "red or green",
    ]);
  });
});

describe("counterfactuals on a model that reads only the last token", () => {
  it("swaps away from the last token keep the prediction (robustness 1); swaps of it change it", () => {
    const m = handMade();
    const r = counterfactuals(m, req({ wordLists: [["quick", "lazy"]] }));
    expectMethodResult(r);
    expect(r.tokens.at(-1)?.id).toBe(DOG);
    expect(r.original.top.id).toBe(FOX);
    expect(r.target.id).toBe(FOX);
    expect(r.counterfactuals.map((c) => c.text)).toEqual([
      "the lazy fox jumps over the lazy dog",
      "the quick fox jumps over the quick dog",
    ]);
    expect(r.robustness).toEqual({ all: 1, words: 1, neighbours: null });
    for (const c of r.counterfactuals) {
      expect(c.top.id).toBe(FOX);
      // the model reads the last token only: its prediction is the same to the last bit of rounding
      expect(Math.abs(c.deltaLogProb)).toBeLessThan(1e-6);
    }

    const mixed = counterfactuals(m, req({ wordLists: [["fox", "dog"]] }));
    expectMethodResult(mixed);
    expect(mixed.counterfactuals.map((c) => [c.from, c.to, c.at, c.keepsTop])).toEqual([
      ["fox", "dog", [TEXT.indexOf("fox")], true],
      ["dog", "fox", [TEXT.indexOf("dog")], false],
    ]);
    expect(mixed.robustness.words).toBe(0.5);
    const changed = mixed.counterfactuals[1];
    expect(changed?.targetProb).toBeLessThan(0.05);
    expect(changed?.deltaProb).toBeLessThan(-0.9);
  });

  it("neighbour swaps: every position but the last keeps the prediction, the last loses it", () => {
    const m = handMade();
    const n = m.tokenizer?.encode(TEXT).length as number;
    const rest = Array.from({ length: n - 1 }, (_, p) => p);
    const keep = counterfactuals(m, req({ neighbours: { k: 2, positions: rest }, batch: 7 }));
    expectMethodResult(keep);
    expect(keep.counterfactuals).toHaveLength(2 * (n - 1));
    expect(keep.robustness).toEqual({ all: 1, words: null, neighbours: 1 });
    const last = counterfactuals(m, req({ neighbours: { k: 3, positions: [-1] } }));
    expect(last.counterfactuals.map((c) => c.at)).toEqual([[n - 1], [n - 1], [n - 1]]);
    expect(last.robustness.neighbours).toBe(0);
    // both sources together: the shares of each and of all
    const both = counterfactuals(m, req({ wordLists: [["fox", "dog"]], neighbours: { k: 1, positions: [0, -1] } }));
    expect(both.robustness).toEqual({ all: 0.5, words: 0.5, neighbours: 0.5 });
  });

  it("batched evaluation equals one run per counterfactual", () => {
    const m = handMade();
    const r = counterfactuals(
      m,
      req({ wordLists: [["quick", "lazy", "brown"]], neighbours: { k: 2, positions: [1, 2] }, batch: 2 }),
    );
    expect(r.counterfactuals.length).toBeGreaterThan(4);
    for (const c of r.counterfactuals) {
      const out = run(
        m,
        c.tokens.map((t) => t.id),
      ).output; // [1, pos, d_vocab]
      const V = out.shape[2] as number;
      const row = Array.from(out.data.subarray(out.size - V));
      const mx = Math.max(...row);
      const lz = mx + Math.log(row.reduce((s, x) => s + Math.exp(x - mx), 0));
      expect(c.top.id).toBe(row.indexOf(mx));
      expect(c.targetLogProb).toBeCloseTo((row[FOX] as number) - lz, 5);
    }
  });

  it("the same-length option drops exactly the swaps that change the token count", () => {
    const m = handMade();
    const tok = m.tokenizer;
    const n = tok?.encode(TEXT).length;
    // " fox" is one token, " cat" four, " dog" one
    const lists = [["fox", "cat", "dog"]];
    const all = counterfactuals(m, req({ wordLists: lists }));
    const same = counterfactuals(m, req({ wordLists: lists, sameLength: true }));
    const lengths = all.counterfactuals.map((c) => c.tokens.length);
    expect(lengths.some((l) => l !== n)).toBe(true);
    expect(same.sameLength).toBe(true);
    expect(same.skipped).toBe(lengths.filter((l) => l !== n).length);
    expect(same.counterfactuals.map((c) => c.text)).toEqual(
      all.counterfactuals.filter((c) => c.tokens.length === n).map((c) => c.text),
    );
    for (const c of same.counterfactuals) expect(c.tokens).toHaveLength(n as number);
    // neighbour swaps: the decoded text must re-encode to the same length
    const nb = counterfactuals(m, req({ neighbours: { k: 5 }, sameLength: true }));
    for (const c of nb.counterfactuals) expect(tok?.encode(c.text as string)).toHaveLength(n as number);
  });
});

describe("embedding neighbours", () => {
  it("are the cosine-nearest W_E rows computed by hand, never a special token or the token itself", () => {
    const m = handMade();
    const ids = [TWIN, 90, DOG];
    const near = nearestTokens(m, ids, 4);
    const E = m.W_E.data; // [d_vocab, d_model]
    const [V, D] = m.W_E.shape as [number, number];
    const cos = (a: number, b: number) => {
      let ab = 0;
      let aa = 0;
      let bb = 0;
      for (let d = 0; d < D; d++) {
        const x = E[a * D + d] as number;
        const y = E[b * D + d] as number;
        ab += x * y;
        aa += x * x;
        bb += y * y;
      }
      return aa === 0 || bb === 0 ? Number.NaN : ab / Math.sqrt(aa * bb);
    };
    for (const [i, id] of ids.entries()) {
      const byHand = Array.from({ length: V }, (_, v) => ({ id: v, similarity: cos(id, v) }))
        .filter((x) => x.id !== id && x.id !== SPECIAL && !Number.isNaN(x.similarity))
        .sort((a, b) => b.similarity - a.similarity || a.id - b.id)
        .slice(0, 4);
      const got = near[i] ?? [];
      expect(got.map((x) => x.id)).toEqual(byHand.map((x) => x.id));
      for (const [j, x] of got.entries()) expect(x.similarity).toBeCloseTo(byHand[j]?.similarity as number, 5);
    }
    // the special token is TWIN's exact copy (cosine 1) and still not chosen
    expect(cos(TWIN, SPECIAL)).toBeCloseTo(1, 6);
    expect(near[0]?.map((x) => x.id)).not.toContain(SPECIAL);
    // the request's neighbours are these, with their similarity reported
    const r = counterfactuals(m, { kind: "counterfactual", input: { ids }, neighbours: { k: 4, positions: [0] } });
    expect(r.counterfactuals.map((c) => c.swap?.to)).toEqual(near[0]?.map((x) => x.id));
    expect(r.counterfactuals.map((c) => c.swap?.similarity)).toEqual(near[0]?.map((x) => x.similarity));
    // excluded tokens are skipped
    const ex = counterfactuals(m, {
      kind: "counterfactual",
      input: { ids },
      neighbours: { k: 4, positions: [0] },
      exclude: [near[0]?.[0]?.id as number],
    });
    expect(ex.counterfactuals.map((c) => c.swap?.to)).toEqual([...(near[0] ?? []).slice(1).map((x) => x.id), expect.any(Number)]);
  });
});

describe("bad requests name their field", () => {
  it("counterfactual", () => {
    const m = handMade();
    const bad = (r: Partial<CounterfactualRequest>, field: string) => {
      try {
        counterfactuals(m, req(r));
      } catch (e) {
        expect(e).toBeInstanceOf(MethodRequestError);
        expect((e as MethodRequestError).field).toBe(field);
        return;
      }
      expect.fail(`expected a MethodRequestError on ${field}`);
    };
    bad({}, "wordLists");
    bad({ input: { ids: [1, 2] }, wordLists: [["a", "b"]] }, "wordLists");
    bad({ wordLists: [["fox"]] }, "wordLists[0]");
    bad({ wordLists: [["fox", " dog"]] }, "wordLists[0][1]");
    bad({ neighbours: { k: 0 } }, "neighbours.k");
    bad({ neighbours: { k: 1, positions: [99] } }, "neighbours.positions[0]");
    bad({ neighbours: { k: 1 }, target: 5000 }, "target");
    bad({ neighbours: { k: 1 }, exclude: [1, 9999] }, "exclude[1]");
    bad({ neighbours: { k: 1 }, batch: 0 }, "batch");
    bad({ input: { text: "" }, neighbours: { k: 1 } }, "input.text");
  });
});

// ——— the result's runtime schema (to join @llmdbg/testing's MethodResult schemas) ———
