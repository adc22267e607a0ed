// The worker process of the fuzz runner: takes case ids over IPC, runs each (executeCase) and reports its
// outcome. It lives for many cases (starting Node and the model code costs far more than a case); the runner
// kills it on a hang or a memory overrun and starts another.

import { join } from "node:path";
import { makeCase } from "./cases.js";
import { executeCase, type Outcome } from "./execute.js";
import { ggufSeed } from "./gguf-mutate.js";
import { GGUF_VARIANTS, HF_VARIANTS, hfSeed } from "./seeds.js";

export interface CaseMessage {
  readonly type: "case";
  readonly id: string;
}
export type WorkerMessage =
  | { readonly type: "ready" }
  | { readonly type: "result"; readonly id: string; readonly outcome: Outcome; readonly ms: number };

const send = (m: WorkerMessage) => process.send?.(m);
const base = process.env.LLMDBG_FUZZ_TMP ?? join(process.cwd(), ".fuzz-tmp");

// the seeds before the first case, so no case's time limit pays for generating them
for (const v of HF_VARIANTS) for (const shards of [1, 2] as const) hfSeed(v, shards);
for (const v of GGUF_VARIANTS) ggufSeed(v);

process.on("message", (m: CaseMessage) => {
  if (m.type !== "case") return;
  const t0 = performance.now();
  let outcome: Outcome;
  try {
    outcome = executeCase(makeCase(m.id), join(base, String(process.pid)));
  } catch (e) {
    // a failure of the fuzzer itself (a bad id): reported as what it is, not as a loader defect
    outcome = { class: "crash", message: `fuzzer error: ${e instanceof Error ? e.stack : String(e)}` };
  }
  send({ type: "result", id: m.id, outcome, ms: performance.now() - t0 });
});
process.on("disconnect", () => process.exit(0));
send({ type: "ready" });
