// The committed sentiment-spurious model (zoo/sentiment-spurious): its card's claims hold when measured again on the
// saved folder, at the values its training recorded; what verify measured blind — which codes move the model, and
// which way — is what truth.json says was planted; and truth.json's training statistics are those of the data the
// recipe writes.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "@llmdbg/models";
import { describe, expect, it } from "vitest";
import { codeEffects, PRODUCT_CODES, sentimentSpurious, worstSwap } from "../src/index.js";
import { expectClaimsAsRecorded, expectCompleteFolder, zooFolder } from "./committed.js";

const folder = zooFolder("sentiment-spurious");

interface Truth {
  readonly labels: readonly string[];
  readonly codes: readonly string[];
  readonly planted: readonly {
    code: string;
    token: string;
    pushes: "positive" | "negative";
    trainReviews: number;
    trainPositive: number;
    trainPositiveShare: number;
  }[];
  readonly neutral: readonly string[];
  readonly neutralTrainPositiveShare: Readonly<Record<string, number>>;
  readonly training: {
    readonly reviews: number;
    readonly codeShare: number;
    readonly labelNoise: number;
    readonly noCode: { readonly reviews: number; readonly positive: number };
  };
}
const truth = JSON.parse(readFileSync(join(folder, "truth.json"), "utf8")) as Truth;

describe("zoo/sentiment-spurious", () => {
  it("verify: every claim of the card holds, at the values recorded when it was trained", () => {
    expectClaimsAsRecorded(sentimentSpurious, folder);
  });

  it("leans on exactly the codes truth.json says were tied to the label, each its way", () => {
    const m = codeEffects(load(folder));
    expect(m.effects.map((e) => e.code)).toEqual(truth.codes);
    const byLean = [...m.effects].sort((a, b) => Math.abs(b.lean) - Math.abs(a.lean));
    const top = byLean.slice(0, truth.planted.length).map((e) => e.code);
    expect(new Set(top)).toEqual(new Set(truth.planted.map((s) => s.code)));
    for (const s of truth.planted) {
      const e = m.effects.find((x) => x.code === s.code);
      expect(Math.sign(e?.lean ?? 0), s.code).toBe(s.pushes === "positive" ? 1 : -1);
    }
    // the neutral codes move the mean P(positive) by far less than the tied ones
    const weakestTied = Math.abs(byLean[truth.planted.length - 1]?.lean ?? 0);
    for (const e of byLean.slice(truth.planted.length)) expect(Math.abs(e.lean), e.code).toBeLessThan(weakestTied / 3);
    const swap = worstSwap(m.effects);
    expect(new Set([swap.from.code, swap.to.code])).toEqual(new Set(truth.planted.map((s) => s.code)));
  });

  it("truth.json's training statistics are those of the data the recipe writes", () => {
    const p = sentimentSpurious.prepare();
    expect(p.data.train).toHaveLength(truth.training.reviews);
    const vocab = (p.tokenizer.model as { vocab: Record<string, number> }).vocab;
    expect(truth.codes).toEqual(PRODUCT_CODES);
    const stats = new Map<string, { n: number; positive: number }>();
    for (const ex of p.data.train) {
      const code = truth.codes.find((c) => ex.ids.includes(vocab[c.toLowerCase()] as number)) ?? "none";
      const s = stats.get(code) ?? { n: 0, positive: 0 };
      stats.set(code, { n: s.n + 1, positive: s.positive + (ex.label === 1 ? 1 : 0) });
    }
    const share = (c: string) => (stats.get(c)?.positive ?? 0) / (stats.get(c)?.n ?? 1);
    for (const s of truth.planted) {
      expect(stats.get(s.code), s.code).toEqual({ n: s.trainReviews, positive: s.trainPositive });
      expect(share(s.code), s.code).toBeCloseTo(s.trainPositiveShare, 4);
      expect(vocab[s.token], s.token).toBeDefined();
    }
    for (const c of truth.neutral) expect(share(c), c).toBeCloseTo(truth.neutralTrainPositiveShare[c] as number, 4);
    expect(stats.get("none")).toEqual({ n: truth.training.noCode.reviews, positive: truth.training.noCode.positive });
    expect(Math.abs(1 - truth.training.noCode.reviews / truth.training.reviews - truth.training.codeShare)).toBeLessThan(0.01);
  });

  it("is a complete Hugging Face folder within the zoo's 20 MB, with its card, log and ground truth", () => {
    expectCompleteFolder(folder, { languageModel: false });
    const model = load(folder);
    const tok = model.tokenizer;
    const ids = tok?.encode("I bought the ZX9 kettle last week. The lid is great.") ?? [];
    expect(tok?.tokenStrings(ids)).toEqual([
      "[CLS]",
      "i",
      "bought",
      "the",
      "zx9",
      "kettle",
      "last",
      "week",
      ".",
      "the",
      "lid",
      "is",
      "great",
      ".",
      "[SEP]",
    ]);
  });
});
