// Tiny models loaded the way a user loads a model — written to a folder, then `load(folder)` with the tokenizer
// attached — shared by the method suites, and the check every method suite makes of a bad request.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { load, type Model } from "@llmdbg/models";
import { expect } from "vitest";
import type { TinyModelOptions, TinyModelType } from "../tiny.js";
import { writeTinyModel } from "../tiny-node.js";

let root: string | undefined;
const cache = new Map<string, Model>();

/**
 * A tiny model of `type` written to a temporary folder (removed when the process exits) and loaded with `load`,
 * once per type and options in a test file. Tests that change parameters should revert them or use their own.
 * @example const m = loadTiny("gpt2", { seed: 5 })
 */
export function loadTiny(type: TinyModelType, opts: TinyModelOptions = {}): Model {
  const key = `${type}:${JSON.stringify(opts)}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  if (root === undefined) {
    const dir = mkdtempSync(join(tmpdir(), "llmdbg-tiny-"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    root = dir;
  }
  const folder = join(root, `${cache.size}-${type}`);
  writeTinyModel(folder, type, opts);
  const m = load(folder);
  cache.set(key, m);
  return m;
}

/**
 * Asserts that `f` throws a method's request error (named MethodRequestError) whose `field` is `field`, and whose
 * message matches `detail` when given.
 * @example expectRequestError(() => logitLens(m, { kind: "lens", input: { ids: [] } }), "input.ids", /is empty/)
 */
export function expectRequestError(f: () => unknown, field: string, detail?: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err, `expected a MethodRequestError on ${field}`).toBeInstanceOf(Error);
  expect((err as Error).name).toBe("MethodRequestError");
  expect((err as { field?: string }).field).toBe(field);
  if (detail !== undefined) expect((err as Error).message).toMatch(detail);
}
