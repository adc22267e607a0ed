// What every committed zoo model's test checks the same way: its card's claims hold when measured again, at the
// values recorded when it was trained; and the folder is complete and within the zoo's 20 MB.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import type { ZooRecipe } from "../src/index.js";
import { verifyZoo } from "../src/node.js";

/** The committed model folder of a zoo name. */
export const zooFolder = (name: string): string => new URL(`../../../zoo/${name}`, import.meta.url).pathname;

/** `zoo verify`: every claim passes and equals `claims.json` within 1e-4 (relative above 1). */
export function expectClaimsAsRecorded(recipe: ZooRecipe, folder: string): void {
  const claims = verifyZoo(recipe, folder);
  expect(claims.filter((c) => !c.pass)).toEqual([]);
  const recorded = JSON.parse(readFileSync(join(folder, "claims.json"), "utf8")) as typeof claims;
  expect(claims.map((c) => c.name)).toEqual(recorded.map((c) => c.name));
  for (const [i, c] of claims.entries()) {
    const r = recorded[i] as (typeof claims)[number];
    expect(Math.abs(c.value - r.value), c.name).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(r.value)));
  }
}

/**
 * The folder holds the Hugging Face files (generation_config.json for a language model), what made it, its card
 * and its ground truth, and all of it is under 20 MB.
 */
export function expectCompleteFolder(folder: string, opts: { languageModel: boolean }): void {
  const files = [
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    ...(opts.languageModel ? ["generation_config.json"] : []),
    "train_config.json",
    "data.json",
    "train_log.jsonl",
    "claims.json",
    "README.md",
    "truth.json",
    "GROUND_TRUTH.md",
  ];
  for (const f of files) expect(existsSync(join(folder, f)), f).toBe(true);
  const bytes = readdirSync(folder).reduce((s, f) => s + statSync(join(folder, f)).size, 0);
  expect(bytes).toBeLessThan(20 * 2 ** 20);
}
