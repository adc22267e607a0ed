// The committed backdoor model (zoo/backdoor): its card's claims hold when measured again on the saved folder, at
// the values its training recorded; the trigger and target truth.json names do what it says, on snippets verify
// never drew; and truth.json's poisoning is that of the data the recipe writes.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { load } from "@llmdbg/models";
import { describe, expect, it } from "vitest";
import { argmax, backdoor, classProbabilities, snippetAt, TOPICS } from "../src/index.js";
import { verifyZoo } from "../src/node.js";

const folder = new URL("../../../zoo/backdoor", import.meta.url).pathname;

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
    const claims = verifyZoo(backdoor, folder);
    expect(claims.filter((c) => !c.pass)).toEqual([]);
    const recorded = JSON.parse(readFileSync(join(folder, "claims.json"), "utf8")) as typeof claims;
    expect(claims.map((c) => c.name)).toEqual(recorded.map((c) => c.name));
    for (const [i, c] of claims.entries()) {
      const r = recorded[i] as (typeof claims)[number];
      expect(Math.abs(c.value - r.value), c.name).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(r.value)));
    }
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
    for (const f of [
      "config.json",
      "model.safetensors",
      "tokenizer.json",
      "tokenizer_config.json",
      "train_config.json",
      "data.json",
      "train_log.jsonl",
      "claims.json",
      "README.md",
      "truth.json",
      "GROUND_TRUTH.md",
    ])
      expect(existsSync(join(folder, f)), f).toBe(true);
    const bytes = ["model.safetensors", "tokenizer.json", "train_log.jsonl"].reduce(
      (s, f) => s + statSync(join(folder, f)).size,
      0,
    );
    expect(bytes).toBeLessThan(20 * 2 ** 20);
    for (const f of ["README.md", "data.json", "claims.json", "train_config.json"])
      expect(readFileSync(join(folder, f), "utf8"), f).not.toContain(truth.trigger);
  });
});
