// `npm run mutants` is too slow for every CI run (about a minute), but its list must not rot as code moves: each
// mutation's text has to occur exactly once in its file, its tests must exist, and the list must cover the
// engine, core and all four architectures.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { applyOnce, mutations } from "../mutants.mjs";

const repo = new URL("../../", import.meta.url).pathname;

describe("the mutation list of scripts/mutants.mjs", () => {
  it.each(mutations.map((m) => [m.id, m] as const))("%s applies to its file once and names existing tests", (_id, m) => {
    const text = readFileSync(join(repo, m.file), "utf8");
    const mutated = applyOnce(text, m.find, m.replace, m.id);
    expect(mutated).not.toBe(text);
    for (const t of m.tests) expect(existsSync(join(repo, t)), t).toBe(true);
  });

  it("covers tensor, core and every architecture, with distinct ids", () => {
    const files = mutations.map((m) => m.file);
    for (const part of [
      "packages/tensor/",
      "packages/core/",
      "arch/gpt2.ts",
      "arch/llama.ts",
      "arch/gpt-neox.ts",
      "arch/bert.ts",
    ]) {
      expect(
        files.some((f) => f.includes(part)),
        part,
      ).toBe(true);
    }
    expect(new Set(mutations.map((m) => m.id)).size).toBe(mutations.length);
    expect(mutations.length).toBeGreaterThanOrEqual(10);
  });
});
