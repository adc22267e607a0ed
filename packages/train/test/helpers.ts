// Fresh tiny models for the trainer's tests (training changes parameters, so loadTiny's shared model will not
// do), and the repeated-pattern data they learn.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { load, type Model } from "@llmdbg/models";
import { type TinyModelType, writeTinyModel } from "@llmdbg/testing";
import { afterAll } from "vitest";
import type { Example } from "../src/index.js";

const root = mkdtempSync(join(tmpdir(), "llmdbg-train-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const written = new Set<string>();

/** A tiny model as its folder loads it: every call gives a new model with the same initial weights. */
export function fresh(type: TinyModelType = "gpt2", seed = 1): Model {
  const folder = join(root, `${type}-${seed}`);
  if (!written.has(folder)) {
    writeTinyModel(folder, type, { seed });
    written.add(folder);
  }
  return load(folder);
}

/** A scratch folder removed after the file's tests. */
export function scratch(name: string): string {
  return join(root, name);
}

/** `n` sequences of `len` tokens cycling through `pattern`, each starting at a different phase. */
export function patternData(n: number, len = 16, pattern: readonly number[] = [10, 20, 30, 40, 50, 60]): Example[] {
  return Array.from({ length: n }, (_, i) => ({
    ids: Array.from({ length: len }, (_, t) => pattern[(i + t) % pattern.length] as number),
  }));
}

/** Every parameter's values, by name (copies). */
export function snapshotParams(m: Model): Map<string, Float32Array> {
  return new Map([...m.params.entries()].map(([k, t]) => [k, Float32Array.from(t.data as Float32Array)]));
}
