// One case, run in this process: write its files, load the model as a user would (`loadModel`), run one forward
// pass on a few token ids, encode a short text with its tokenizer, and say how it went. The runner calls this
// inside a worker process, which it kills on a hang or a memory overrun: nothing here guards against those.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { run } from "@llmdbg/core";
import { ModelFormatError } from "@llmdbg/formats";
import { loadModel } from "@llmdbg/models";
import * as T from "@llmdbg/tensor";
import type { FuzzCase } from "./cases.js";

export const CLASSES = [
  "clean error",
  "loaded, finite outputs",
  "loaded, non-finite outputs",
  "raw exception",
  "crash",
  "hang",
  "out of memory",
] as const;
export type OutcomeClass = (typeof CLASSES)[number];

/** Classes that fail a campaign. */
export const FAILING: readonly OutcomeClass[] = ["raw exception", "crash", "hang", "out of memory"];

export interface Outcome {
  readonly class: OutcomeClass;
  /** the error's message, or what happened to the worker */
  readonly message?: string;
  /** raw exception: the error's class and the first frame of its stack */
  readonly errorClass?: string;
  readonly stackTop?: string;
  /** raw exception: the first lines of its stack (for `--case ID`) */
  readonly stack?: string;
  /** clean error: what the ModelFormatError names, and whether that file is one of the case's */
  readonly file?: string;
  readonly field?: string;
  readonly fileInCase?: boolean;
}

const TEXT = "Hello world, héllo wörld 😀 <s> [CLS]\n\ttabs";

/** Whether `file` (as an error names it) is the case folder or one of the files written into it. */
function inCase(file: string, dir: string, c: FuzzCase): boolean {
  const p = resolve(file);
  return p === resolve(dir) || [...c.files.keys()].some((f) => resolve(dir, f) === p);
}

/** An error as an outcome: a ModelFormatError naming a file and a field is clean, anything else is raw. */
export function classifyError(e: unknown, dir: string, c: FuzzCase): Outcome {
  if (e instanceof ModelFormatError && e.file !== "" && e.field !== "") {
    return { class: "clean error", message: e.message, file: e.file, field: e.field, fileInCase: inCase(e.file, dir, c) };
  }
  if (e instanceof Error) {
    const top = (e.stack ?? "").split("\n").find((l) => l.trim().startsWith("at "));
    const stack = (e.stack ?? "").split("\n").slice(0, 12).join("\n");
    return {
      class: "raw exception",
      errorClass: e.constructor.name,
      message: e.message.slice(0, 2000),
      stackTop: top?.trim() ?? "",
      stack,
    };
  }
  return { class: "raw exception", errorClass: typeof e, message: String(e).slice(0, 2000), stackTop: "" };
}

/** Test-only cases that misbehave on purpose (see TEST_KINDS). */
function misbehave(kind: string): Outcome {
  if (kind === "test-hang") for (;;);
  if (kind === "test-alloc") {
    // outside the V8 heap, as tensors are: only the RSS watch catches this
    const hold: Buffer[] = [];
    for (;;) hold.push(Buffer.alloc(64 << 20, 1));
  }
  if (kind === "test-crash") process.kill(process.pid, "SIGSEGV");
  throw new TypeError("test-throw: a deliberate raw exception");
}

/**
 * Runs one case under `baseDir` (a fresh folder per case, removed afterwards).
 * @example executeCase(makeCase("config:gpt2:7"), tmpdir()).class
 */
export function executeCase(c: FuzzCase, baseDir: string): Outcome {
  const kind = c.id.split(":")[0] as string;
  if (kind.startsWith("test-")) {
    try {
      return misbehave(kind);
    } catch (e) {
      return classifyError(e, baseDir, c);
    }
  }
  mkdirSync(baseDir, { recursive: true });
  const dir = mkdtempSync(join(baseDir, "case-"));
  try {
    for (const [name, bytes] of c.files) writeFileSync(join(dir, name), bytes);
    try {
      const loaded = loadModel(c.entry === "" ? dir : join(dir, c.entry));
      const vocab = Math.max(1, loaded.config.vocabSize);
      const ids = T.tensor(
        [1, 5, 17, 42].map((i) => i % vocab),
        [1, 4],
        "i32",
      );
      const { output } = run(loaded.model, ids);
      const values = output.toArray();
      let bad = 0;
      for (const v of values) if (!Number.isFinite(v)) bad++;
      if (loaded.tokenizer !== undefined) {
        const enc = loaded.tokenizer.encode(TEXT);
        loaded.tokenizer.decode(enc);
      }
      if (bad > 0) return { class: "loaded, non-finite outputs", message: `${bad} of ${values.length} logits are not finite` };
      return { class: "loaded, finite outputs" };
    } catch (e) {
      return classifyError(e, dir, c);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
