// Batching and the KV cache: masks and position ids against hand-written expectations and the tensor
// package's causalMask, and — the property that matters — a padded batch or an incremental (cached) run
// gives the same logits as running each prompt alone in one pass.
import * as T from "@llmdbg/tensor";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { attentionBias, KvCache, padBatch, planForward, positionIds, run } from "../src/index.js";
import { ids, toyModel, V } from "./toy.js";

const model = toyModel("f64");
const NEG = Number.NEGATIVE_INFINITY;

/** Logits [1, pos, V] of one unpadded prompt. */
const alone = (seq: number[]) => run(model, ids([seq])).output.toArray();

describe("attention bias and positions", () => {
  it("without padding equals the causal mask with the KV-cache offset", () => {
    for (const [q, past] of [
      [4, 0],
      [2, 3],
      [1, 5],
    ] as const) {
      const b = attentionBias({ batch: 3, queries: q, past, causal: true });
      expect(b.shape).toEqual([1, 1, q, past + q]);
      expect(b.toArray()).toEqual(T.causalMask(q, past + q).toArray());
    }
  });

  it("hides padding keys, keeps each query's own key, and honours the window", () => {
    const mask = T.tensor([0, 1, 1, 1, 1, 1, 1, 1], [2, 4], "i32"); // row 0: left pad
    const b = attentionBias({ batch: 2, queries: 4, past: 0, causal: true, mask }).toArray();
    // row 0, query 0 is padding: only its own key; query 2 sees keys 1, 2
    expect(b.slice(0, 4)).toEqual([0, NEG, NEG, NEG]);
    expect(b.slice(8, 12)).toEqual([NEG, 0, 0, NEG]);
    const w = attentionBias({ batch: 1, queries: 4, past: 0, causal: true, window: 2 }).toArray();
    expect(w.slice(12, 16)).toEqual([NEG, NEG, 0, 0]);
    const bi = attentionBias({ batch: 2, queries: 4, past: 0, causal: false, mask }).toArray();
    expect(bi.slice(4, 8)).toEqual([NEG, 0, 0, 0]); // a real query of row 0 reads every real key, later ones too
  });

  it("position ids count real tokens (transformers' cumsum − 1, padding at 1)", () => {
    const mask = T.tensor([0, 0, 1, 1, 1, 1, 1, 1, 1, 1], [2, 5], "i32");
    expect(positionIds({ batch: 2, queries: 5, past: 0, mask }).toArray()).toEqual([1, 1, 0, 1, 2, 0, 1, 2, 3, 4]);
    expect(positionIds({ batch: 2, queries: 2, past: 3, mask }).toArray()).toEqual([1, 2, 3, 4]);
    expect(positionIds({ batch: 1, queries: 3, past: 2 }).toArray()).toEqual([2, 3, 4]);
  });

  it("pads left or right and rejects empty input", () => {
    const l = padBatch([[5, 6, 7], [8]], { padId: 0 });
    expect(l.ids.toArray()).toEqual([5, 6, 7, 0, 0, 8]);
    expect(l.attentionMask.toArray()).toEqual([1, 1, 1, 0, 0, 1]);
    const r = padBatch([[5, 6, 7], [8]], { padId: 9, side: "right" });
    expect(r.ids.toArray()).toEqual([5, 6, 7, 8, 9, 9]);
    expect(() => padBatch([], { padId: 0 })).toThrow(RangeError);
    expect(() => padBatch([[]], { padId: 0 })).toThrow(/empty/);
  });

  it("names the bad option", () => {
    const x = ids([[1, 2, 3]]);
    expect(() => planForward(x, { attentionMask: T.ones([1, 2], "i32") }, "toy")).toThrow(
      /toy: attentionMask must be \[batch=1, key_pos=3\]/,
    );
    expect(() => planForward(x, { positions: T.zeros([1, 3], "f32") }, "toy")).toThrow(/positions must be i32/);
    expect(() => planForward(T.zeros([1, 3], "f32"), {}, "toy")).toThrow(/ids must be i32/);
  });
});

describe("batched and cached runs equal single runs", () => {
  it("a left-padded batch gives each prompt's own logits at its real positions", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: V - 1 }), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 4 }),
        (seqs) => {
          for (const side of ["left", "right"] as const) {
            const { ids: x, attentionMask } = padBatch(seqs, { padId: 0, side });
            const out = run(model, x, { attentionMask }).output.toArray(); // [batch, len, V]
            const len = x.shape[1] as number;
            seqs.forEach((s, b) => {
              const ref = alone(s);
              const start = side === "left" ? len - s.length : 0;
              const got = out.slice((b * len + start) * V, (b * len + start + s.length) * V);
              got.forEach((v, i) => {
                expect(Math.abs(v - (ref[i] as number))).toBeLessThan(1e-12);
              });
            });
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("a KV cache fed in chunks gives the one-pass logits, and 'last' returns only the final row", () => {
    const seq = [3, 1, 4, 1, 5, 9, 2];
    const ref = alone(seq);
    const cache = new KvCache();
    const a = run(model, ids([seq.slice(0, 4)]), { kvCache: cache }).output.toArray();
    expect(cache.length).toBe(4);
    const b = run(model, ids([seq.slice(4, 6)]), { kvCache: cache }).output.toArray();
    const c = run(model, ids([seq.slice(6)]), { kvCache: cache, logits: "last" }).output;
    expect(c.shape).toEqual([1, 1, V]);
    [...a, ...b, ...c.toArray()].forEach((v, i) => {
      expect(Math.abs(v - (ref[i] as number))).toBeLessThan(1e-12);
    });
    cache.dispose();
    expect(cache.length).toBe(0);
  });
});
