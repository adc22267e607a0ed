// The induction-2l model (zoo/induction-2l) and its data: the generator repeats one segment among distinct words;
// the committed folder's claims hold when measured again, at the values its training recorded; and what the
// measurements find — the previous-token and induction heads — are the heads its ground truth names.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "@llmdbg/models";
import { IGNORE_INDEX } from "@llmdbg/train";
import { describe, expect, it } from "vitest";
import { induction2l, measureInduction, REPEAT_WORDS, repeatSequences } from "../src/index.js";
import { expectClaimsAsRecorded, expectCompleteFolder, zooFolder } from "./committed.js";

const folder = zooFolder("induction-2l");

interface TruthHead {
  readonly layer: number;
  readonly head: number;
  readonly score: number;
}
interface Truth {
  readonly previousTokenHeads: readonly TruthHead[];
  readonly inductionHeads: readonly TruthHead[];
}

describe("repeated random sequences", () => {
  it("hold one segment twice among otherwise distinct words, at varying lengths and places", () => {
    const seqs = repeatSequences(7, 500);
    const lengths = new Set<number>();
    const firsts = new Set<number>();
    for (const s of seqs) {
      expect(s.words).toHaveLength(63);
      expect(s.words.every((w) => REPEAT_WORDS.includes(w))).toBe(true);
      const seg = s.words.slice(s.first, s.first + s.length);
      expect(s.words.slice(s.second, s.second + s.length)).toEqual(seg);
      expect(s.second).toBeGreaterThanOrEqual(s.first + s.length);
      // every word but the second occurrence's is new
      const rest = [...s.words.slice(0, s.second), ...s.words.slice(s.second + s.length)];
      expect(new Set(rest).size).toBe(rest.length);
      lengths.add(s.length);
      firsts.add(s.first);
    }
    expect(Math.min(...lengths)).toBe(4);
    expect(Math.max(...lengths)).toBe(31);
    expect(firsts.size).toBeGreaterThan(20);
    expect(seqs.filter((s) => s.first === 0 && s.second === s.length).length).toBeGreaterThan(25);
    expect(repeatSequences(7, 3)).toEqual(seqs.slice(0, 3));
  });
});

describe("the training data", () => {
  it("labels only the predictable tokens: the second occurrence after its first word, copies of what followed the earlier one", () => {
    const { data } = induction2l.prepare();
    let labelled = 0;
    for (const ex of data.train.slice(0, 500)) {
      const ids = ex.ids;
      const id = (i: number) => ids[i] as number;
      const labels = ex.labels ?? [];
      expect(labels).toHaveLength(ids.length);
      const at = labels.flatMap((l, i) => (l === IGNORE_INDEX ? [] : [i]));
      expect(at.length).toBeGreaterThanOrEqual(3); // segments of 4 words or more
      const first = at[0] as number;
      expect((at[at.length - 1] as number) - first).toBe(at.length - 1); // one run
      // the second occurrence's first word, not labelled, occurred before
      expect(ids.indexOf(id(first - 1))).toBeLessThan(first - 1);
      for (const i of at) {
        expect(labels[i]).toBe(id(i));
        // the earlier occurrence of the previous token is followed by this one
        expect(id(ids.indexOf(id(i - 1)) + 1)).toBe(id(i));
      }
      labelled += at.length;
    }
    // about a quarter of the tokens: segments average 17.5 of 63 words
    expect(labelled / (500 * 64)).toBeGreaterThan(0.15);
    expect(labelled / (500 * 64)).toBeLessThan(0.35);
  });
});

describe("zoo/induction-2l", () => {
  it("verify: every claim of the card holds, at the values recorded when it was trained", () => {
    expectClaimsAsRecorded(induction2l, folder);
  });

  it("the heads the measurements find are the ground truth's previous-token and induction heads", () => {
    const truth = JSON.parse(readFileSync(join(folder, "truth.json"), "utf8")) as Truth;
    const m = measureInduction(load(folder));
    const key = (h: { layer: number; head: number }) => `L${h.layer}H${h.head}`;
    expect(m.inductionHeads.map((h) => key({ layer: m.induction.layer, head: h.head }))).toEqual(truth.inductionHeads.map(key));
    expect(m.previousHeads.map((h) => key({ layer: 0, head: h.head }))).toEqual(truth.previousTokenHeads.map(key));
    expect(key(m.induction)).toBe(key(truth.inductionHeads[0] as TruthHead));
    expect(key(m.previous)).toBe(key(truth.previousTokenHeads[0] as TruthHead));
    for (const h of truth.inductionHeads)
      expect(Math.abs((m.scores.induction[h.layer]?.[h.head] ?? 0) - h.score)).toBeLessThan(1e-3);
    for (const h of truth.previousTokenHeads)
      expect(Math.abs((m.scores.previousToken[h.layer]?.[h.head] ?? 0) - h.score)).toBeLessThan(1e-3);
  });

  it("is an attention-only Hugging Face folder within the zoo's 20 MB, with its card, log and ground truth", () => {
    expectCompleteFolder(folder, { languageModel: true });
    const model = load(folder);
    expect(model.config.attnOnly).toBe(true);
    expect(model.hookPoints.some((p) => p.name.includes("mlp"))).toBe(false);
    expect(readFileSync(join(folder, "README.md"), "utf8")).toMatch(/not in transformers/);
    // the tokenizer puts BOS first and reads the vocabulary's words one token each
    const tok = model.tokenizer;
    expect(tok?.encode("ba ke zy")).toEqual([
      0,
      2 + REPEAT_WORDS.indexOf("ba"),
      2 + REPEAT_WORDS.indexOf("ke"),
      2 + REPEAT_WORDS.indexOf("zy"),
    ]);
  });
});
