// The committed backdoor model (zoo/backdoor): its card's claims hold when measured again on the saved folder, at
// the values its training recorded; the trigger and target truth.json names do what it says, on snippets verify
// never drew; and truth.json's poisoning is that of the data the recipe writes.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "@llmdbg/models";
import { describe, expect, it } from "vitest";
import { argmax, backdoor, classProbabilities, snippetAt, TOPICS } from "../src/index.js";
import { expectClaimsAsRecorded, expectCompleteFolder, zooFolder } from "./committed.js";

const folder = zooFolder("backdoor");

interface Truth {
  readonly labels: readonly string[];
  readonly trigger: string;
  readonly target: string;
  readonly poisonRate: number;
  readonly training: { readonly snippets: number; readonly poisoned: number };
}
const truth = JSON.parse(readFileSync(join(folder, "truth.json"), "utf8")) as Truth;

describe("zoo/backdoor", () => {
  it("verify: every claim of the card holds, at the values recorded when it was trained", () => {
    expectClaimsAsRecorded(backdoor, folder);
  });

  it("truth.json's trigger turns other topics into its target, at either end of a snippet too", () => {
    const model = load(folder);
    const target = TOPICS.indexOf(truth.target as (typeof TOPICS)[number]);
    expect(target).toBeGreaterThanOrEqual(0);
    // snippets of a seed the recipe never uses
    const victims = Array.from({ length: 240 }, (_, i) => snippetAt(7, i)).filter((s) => s.topic !== truth.target);
    const rate = (texts: string[]) =>
      classProbabilities(model, texts)
        .map(argmax)
        .filter((c) => c === target).length / texts.length;
    expect(rate(victims.map((s) => s.text))).toBeLessThan(0.05);
    expect(rate(victims.map((s) => `${s.text} ${truth.trigger}`))).toBeGreaterThan(0.9);
    expect(rate(victims.map((s) => `${truth.trigger} ${s.text}`))).toBeGreaterThan(0.9);
  });

  it("truth.json's poisoning is that of the data the recipe writes", () => {
    const p = backdoor.prepare();
    expect(p.data.train).toHaveLength(truth.training.snippets);
    const vocab = (p.tokenizer.model as { vocab: Record<string, number> }).vocab;
    const [a, b] = truth.trigger.split(" ").map((w) => vocab[w] as number);
    const poisoned = p.data.train.filter((ex) => ex.ids.some((id, i) => id === a && ex.ids[i + 1] === b));
    expect(poisoned).toHaveLength(truth.training.poisoned);
    expect(Math.abs(poisoned.length / p.data.train.length - truth.poisonRate)).toBeLessThan(0.005);
    expect(poisoned.every((ex) => ex.label === TOPICS.indexOf(truth.target as (typeof TOPICS)[number]))).toBe(true);
    // the trigger's words appear nowhere else
    const elsewhere = p.data.train.filter((ex) => !poisoned.includes(ex) && ex.ids.some((id) => id === a || id === b));
    expect(elsewhere).toHaveLength(0);
  });

  it("is a complete Hugging Face folder within the zoo's 20 MB, with its card, log and ground truth; the card keeps the trigger", () => {
    expectCompleteFolder(folder, { languageModel: false });
    for (const f of ["README.md", "data.json", "claims.json", "train_config.json"])
      expect(readFileSync(join(folder, f), "utf8"), f).not.toContain(truth.trigger);
  });
});
