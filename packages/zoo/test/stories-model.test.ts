// The committed stories model (zoo/stories): its card's claims hold when measured again on the saved folder and
// equal the values its training recorded; it is within the zoo's size budget; and, as its ground truth says,
// nothing is planted in it.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stories } from "../src/index.js";
import { verifyZoo } from "../src/node.js";

const folder = new URL("../../../zoo/stories", import.meta.url).pathname;

describe("zoo/stories", () => {
  it("verify: every claim of the card holds, at the values recorded when it was trained", () => {
    const claims = verifyZoo(stories, folder);
    expect(claims.filter((c) => !c.pass)).toEqual([]);
    const recorded = JSON.parse(readFileSync(join(folder, "claims.json"), "utf8")) as typeof claims;
    expect(claims.map((c) => c.name)).toEqual(recorded.map((c) => c.name));
    for (const [i, c] of claims.entries()) {
      const r = recorded[i] as (typeof claims)[number];
      expect(Math.abs(c.value - r.value), c.name).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(r.value)));
    }
  });

  it("is a complete Hugging Face folder within the zoo's 20 MB, with its card, log and ground truth", () => {
    for (const f of [
      "config.json",
      "model.safetensors",
      "tokenizer.json",
      "tokenizer_config.json",
      "generation_config.json",
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
    expect(JSON.parse(readFileSync(join(folder, "truth.json"), "utf8")).planted).toEqual([]);
  });
});
