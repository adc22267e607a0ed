// The objectives against hand-computed cross-entropies and float64 finite differences, and padded batches
// against the same examples run one by one (the mask reaches the forward pass, padding is never predicted).
import { run } from "@llmdbg/core";
import * as T from "@llmdbg/tensor";
import { loadTiny } from "@llmdbg/testing/vitest";
import { describe, expect, it } from "vitest";
import { causalLmLoss, classificationLoss, collate, IGNORE_INDEX } from "../src/index.js";

const lse = (xs: readonly number[]) => Math.log(xs.reduce((s, x) => s + Math.exp(x), 0));

describe("causalLmLoss", () => {
  it("is the mean next-token cross-entropy, labels shifted, IGNORE_INDEX skipped", () => {
    // one sequence of 3 tokens over a vocabulary of 3: position t predicts labels[t + 1]
    const logits = T.tensor([1, 2, 3, 0, 0, 0, 2, -1, 0.5], [1, 3, 3], "f64");
    const labels = T.tensor([0, 2, 1], [1, 3], "i32");
    const byHand = (lse([1, 2, 3]) - 3 + (lse([0, 0, 0]) - 0)) / 2;
    expect(causalLmLoss(logits, labels).item()).toBeCloseTo(byHand, 12);
    // the second target ignored: only position 0's
    const some = T.tensor([0, 2, IGNORE_INDEX], [1, 3], "i32");
    expect(causalLmLoss(logits, some).item()).toBeCloseTo(lse([1, 2, 3]) - 3, 12);
    // nothing to predict: 0, not NaN
    expect(causalLmLoss(logits, T.tensor([0, IGNORE_INDEX, IGNORE_INDEX], [1, 3], "i32")).item()).toBe(0);
  });

  it("has the gradient of its float64 finite differences", () => {
    const r = T.rng(3);
    const x = T.tensor(
      Array.from({ length: 2 * 4 * 5 }, () => 2 * r.normal()),
      [2, 4, 5],
      "f64",
    ); // [batch, pos, d_vocab]
    const labels = T.tensor([1, 4, 0, 2, 3, 3, IGNORE_INDEX, IGNORE_INDEX], [2, 4], "i32");
    const f = (t: T.Tensor) => causalLmLoss(t, labels);
    const [grad] = T.grad(f)(x) as [T.Tensor];
    const h = 1e-6;
    let worst = 0;
    for (let i = 0; i < x.size; i++) {
      const up = Float64Array.from(x.data);
      const dn = Float64Array.from(x.data);
      up[i] = (up[i] as number) + h;
      dn[i] = (dn[i] as number) - h;
      const fd = (f(T.tensor(up, x.shape, "f64")).item() - f(T.tensor(dn, x.shape, "f64")).item()) / (2 * h);
      worst = Math.max(worst, Math.abs(fd - (grad.data[i] as number)));
    }
    console.log(`causalLmLoss gradient vs finite differences: max |Δ| ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(2e-9); // ~7× the measured 2.8e-10
    // the rows whose targets are all ignored (row 1's last three positions predict nothing) get no gradient
    for (let i = (4 + 1) * 5; i < 8 * 5; i++) expect(grad.data[i]).toBe(0);
  });
});

describe("classificationLoss", () => {
  it("is the mean cross-entropy of [batch, classes] against class labels", () => {
    const logits = T.tensor([0.5, -1, 2, 1, 1, 1], [2, 3], "f64");
    const byHand = (lse([0.5, -1, 2]) - 2 + (lse([1, 1, 1]) - 1)) / 2;
    expect(classificationLoss(logits, T.tensor([2, 0], [2], "i32")).item()).toBeCloseTo(byHand, 12);
    expect(() => classificationLoss(logits, T.tensor([3, 0], [2], "i32"))).toThrow(/out of range/);
  });
});

describe("collate", () => {
  it("pads right by default, masks padding and ignores it in the labels", () => {
    const b = collate([{ ids: [5, 6, 7] }, { ids: [8] }], { padId: 1 });
    expect(b.ids.toArray()).toEqual([5, 6, 7, 8, 1, 1]);
    expect(b.attentionMask?.toArray()).toEqual([1, 1, 1, 1, 0, 0]);
    expect(b.labels.toArray()).toEqual([5, 6, 7, 8, IGNORE_INDEX, IGNORE_INDEX]);
    expect(b.tokens).toBe(4);
    const left = collate([{ ids: [5, 6, 7] }, { ids: [8] }], { side: "left", length: 4 });
    expect(left.ids.toArray()).toEqual([0, 5, 6, 7, 0, 0, 0, 8]);
    expect(left.attentionMask?.toArray()).toEqual([0, 1, 1, 1, 0, 0, 0, 1]);
    // no padding: no mask (the forward pass takes its unmasked path)
    expect(collate([{ ids: [1, 2] }, { ids: [3, 4] }]).attentionMask).toBeUndefined();
    expect(collate([{ ids: [1], label: 2 }], {}, "class").labels.toArray()).toEqual([2]);
    expect(() => collate([{ ids: [1, 2, 3] }], { length: 2 })).toThrow(/more than the padding length/);
  });

  it("a padded batch's loss is the token-weighted mean of its examples' losses, on either side", () => {
    const m = loadTiny("gpt2");
    const a = [12, 40, 7, 33, 18, 5];
    const b = [9, 21, 30];
    const alone = (ids: number[]) => {
      const x = collate([{ ids }]);
      return causalLmLoss(run(m, x.ids).output, x.labels).item();
    };
    const want = (5 * alone(a) + 2 * alone(b)) / 7;
    for (const side of ["right", "left"] as const) {
      const x = collate([{ ids: a }, { ids: b }], { side });
      const out = run(m, x.ids, x.attentionMask === undefined ? {} : { attentionMask: x.attentionMask }).output;
      const got = causalLmLoss(out, x.labels, x.attentionMask).item();
      expect(Math.abs(got - want), `${side} padding: ${got} vs ${want}`).toBeLessThan(1e-5);
    }
  });
});
