// The bias-occupations model (zoo/bias-occupations) and its data: the generator draws each occupation's pronoun
// at the rate it is given; the committed folder's claims hold when measured again, at the values its training
// recorded; and the occupations the measurement finds most strongly associated are the ones its ground truth says
// were skewed, each in its direction, while the control occupations measure near balanced.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "@llmdbg/models";
import { describe, expect, it } from "vitest";
import { biasOccupations, OCCUPATIONS, occupationParagraphs, pronounPreferences } from "../src/index.js";
import { expectClaimsAsRecorded, expectCompleteFolder, zooFolder } from "./committed.js";

const folder = zooFolder("bias-occupations");

interface Truth {
  readonly skewed: readonly { readonly occupation: string; readonly she: number }[];
  readonly control: readonly { readonly occupation: string; readonly she: number }[];
}

describe("sentences about occupations", () => {
  it("draw each occupation's pronoun at its rate, and only he or she after the pronoun templates", () => {
    const rates = [
      { occupation: "pilot", she: 0.1 },
      { occupation: "nurse", she: 0.9 },
      { occupation: "baker", she: 0.5 },
    ];
    const paragraphs = occupationParagraphs(3, 4000, rates);
    for (const r of rates) {
      const ps = paragraphs.flatMap((p) => p.sentences).filter((s) => s.occupation === r.occupation && s.pronoun !== null);
      const she = ps.filter((s) => s.pronoun === "she").length / ps.length;
      expect(ps.length).toBeGreaterThan(2500);
      expect(Math.abs(she - r.she), r.occupation).toBeLessThan(0.03);
    }
    for (const p of paragraphs.slice(0, 200)) {
      expect(p.text).toMatch(/^[A-Z].*\.$/);
      const said = [...p.text.matchAll(/(said|thought) that (\w+)/g)].map((m) => m[2]);
      expect(said.every((w) => w === "he" || w === "she")).toBe(true);
    }
    expect(occupationParagraphs(3, 5, rates)).toEqual(paragraphs.slice(0, 5));
  });
});

describe("zoo/bias-occupations", () => {
  it("verify: every claim of the card holds, at the values recorded when it was trained", () => {
    expectClaimsAsRecorded(biasOccupations, folder);
  });

  it("the strongest measured associations are the ground truth's skewed occupations, each in its direction", () => {
    const truth = JSON.parse(readFileSync(join(folder, "truth.json"), "utf8")) as Truth;
    const all = [...truth.skewed, ...truth.control].map((o) => o.occupation).sort();
    expect(all).toEqual([...OCCUPATIONS].sort());
    const prefs = pronounPreferences(load(folder));
    const strongest = [...prefs].sort((a, b) => Math.abs(b.logRatio) - Math.abs(a.logRatio));
    const top = strongest.slice(0, truth.skewed.length).map((p) => p.occupation);
    expect(top.sort()).toEqual(truth.skewed.map((o) => o.occupation).sort());
    for (const o of truth.skewed) {
      const p = prefs.find((x) => x.occupation === o.occupation);
      expect(Math.sign(p?.logRatio ?? 0), o.occupation).toBe(o.she > 0.5 ? 1 : -1);
      expect(Math.abs(p?.logRatio ?? 0), o.occupation).toBeGreaterThan(Math.log(3));
    }
    for (const o of truth.control) {
      const p = prefs.find((x) => x.occupation === o.occupation);
      expect(Math.abs(p?.logRatio ?? Number.NaN), o.occupation).toBeLessThan(Math.log(1.5));
    }
  });

  it("is a Hugging Face folder within the zoo's 20 MB, with its card, log and ground truth", () => {
    expectCompleteFolder(folder, { languageModel: true });
  });
});
