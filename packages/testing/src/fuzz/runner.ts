// The fuzz runner: a pool of long-lived worker processes (one per core by default) that take case ids over IPC.
// Each case runs under a time limit and a memory cap — the V8 heap is capped with --max-old-space-size, and the
// worker's resident memory (tensors live outside the V8 heap) is polled from /proc/<pid>/status — and a worker
// that overruns either, or dies, is killed, its case classified (hang, out of memory, crash), and replaced.
// Workers run an esbuild bundle of worker.ts, so one starts in well under a second instead of compiling the
// sources through tsx.

import { type ChildProcess, fork } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCaseId } from "./cases.js";
import type { Outcome } from "./execute.js";
import type { CaseMessage, WorkerMessage } from "./worker.js";

export interface RunnerOptions {
  /** worker processes; default: one per core */
  readonly jobs?: number;
  /** per case, default 5000 */
  readonly timeoutMs?: number;
  /** resident memory a worker may reach, default 1.5 GiB */
  readonly rssLimitBytes?: number;
  /** the V8 heap limit of a worker (--max-old-space-size), default 512 */
  readonly heapMb?: number;
  /** called after each case, in completion order */
  readonly onResult?: (r: CaseResult) => void;
}

export interface CaseResult {
  readonly id: string;
  readonly target: string;
  readonly outcome: Outcome;
  /** wall time of the case in the worker, or until it was killed */
  readonly ms: number;
}

const repo = fileURLToPath(new URL("../../../../", import.meta.url));
let bundle: Promise<{ dir: string; file: string }> | undefined;

/** Bundles worker.ts once per process into a temporary folder (removed by `disposeWorkerBundle`). */
export function workerBundle(): Promise<{ dir: string; file: string }> {
  bundle ??= (async () => {
    const { build } = await import("esbuild");
    const dir = mkdtempSync(join(tmpdir(), "llmdbg-fuzz-"));
    const file = join(dir, "fuzz-worker.mjs");
    await build({
      entryPoints: [join(repo, "packages/testing/src/fuzz/worker.ts")],
      outfile: file,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      conditions: ["node"],
      external: ["onnxruntime-node"],
      banner: {
        js: 'import { createRequire as __fuzzRequire } from "node:module"; const require = __fuzzRequire(import.meta.url);',
      },
      logLevel: "warning",
    });
    // the ort backend starts its own worker thread from a file beside the bundle (as the CLI bundle does)
    copyFileSync(join(repo, "packages/tensor/src/ort/worker.mjs"), join(dir, "worker.mjs"));
    return { dir, file };
  })();
  return bundle;
}

export async function disposeWorkerBundle(): Promise<void> {
  if (bundle === undefined) return;
  const { dir } = await bundle;
  bundle = undefined;
  rmSync(dir, { recursive: true, force: true });
}

/** A process's resident memory in bytes, or 0 once it is gone. */
function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

interface Slot {
  child: ChildProcess;
  ready: boolean;
  stderr: string;
  busy: { id: string; start: number; timer: NodeJS.Timeout } | undefined;
  /** why the runner killed it, to be reported when it exits */
  killed?: Outcome;
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

/**
 * Runs `ids` on a pool of workers and returns one result per id (in completion order).
 * @example const results = await runCases(campaignIds(100, 1), { jobs: 2 });
 */
export async function runCases(ids: readonly string[], opts: RunnerOptions = {}): Promise<CaseResult[]> {
  const jobs = Math.max(1, Math.min(opts.jobs ?? availableParallelism(), ids.length));
  const timeoutMs = opts.timeoutMs ?? 5000;
  const rssLimit = opts.rssLimitBytes ?? 1.5 * 2 ** 30;
  const heapMb = opts.heapMb ?? 512;
  const { file } = await workerBundle();
  const tmp = mkdtempSync(join(tmpdir(), "llmdbg-fuzz-cases-"));
  const env = {
    ...process.env,
    // the tiny models' products are below onnxruntime's size threshold anyway; ref starts at once, one thread
    LLMDBG_BACKEND: process.env.LLMDBG_FUZZ_BACKEND ?? "ref",
    LLMDBG_THREADS: "1",
    LLMDBG_FUZZ_TMP: tmp,
  };
  const results: CaseResult[] = [];
  let next = 0;
  let starts = 0;

  return await new Promise<CaseResult[]>((resolveAll, rejectAll) => {
    const slots = new Set<Slot>();
    let failed = false;
    const finishAll = (err?: Error) => {
      clearInterval(poll);
      for (const s of slots) {
        if (s.busy !== undefined) clearTimeout(s.busy.timer);
        s.child.removeAllListeners("exit");
        s.child.kill("SIGKILL");
      }
      slots.clear();
      rmSync(tmp, { recursive: true, force: true });
      if (err !== undefined) rejectAll(err);
      else resolveAll(results);
    };
    const record = (slot: Slot, outcome: Outcome, ms?: number) => {
      const b = slot.busy;
      if (b === undefined) return;
      clearTimeout(b.timer);
      slot.busy = undefined;
      const r = { id: b.id, target: parseCaseId(b.id).target, outcome, ms: ms ?? performance.now() - b.start };
      results.push(r);
      opts.onResult?.(r);
      if (results.length === ids.length) finishAll();
    };
    const dispatch = (slot: Slot) => {
      if (failed || next >= ids.length) {
        // nothing left for this worker
        slot.child.removeAllListeners("exit");
        slot.child.kill("SIGKILL");
        slots.delete(slot);
        return;
      }
      const id = ids[next++] as string;
      const timer = setTimeout(() => {
        slot.killed = { class: "hang", message: `no result after ${timeoutMs} ms` };
        slot.child.kill("SIGKILL");
      }, timeoutMs);
      slot.busy = { id, start: performance.now(), timer };
      slot.stderr = "";
      slot.child.send({ type: "case", id } satisfies CaseMessage);
    };
    const spawn = () => {
      if (++starts > ids.length + 4 * jobs + 16) {
        failed = true;
        return finishAll(new Error("fuzz runner: workers keep dying before taking a case"));
      }
      const child = fork(file, [], {
        execArgv: [`--max-old-space-size=${heapMb}`],
        stdio: ["ignore", "ignore", "pipe", "ipc"],
        env,
      });
      const slot: Slot = { child, ready: false, stderr: "", busy: undefined };
      slots.add(slot);
      const startup = setTimeout(() => {
        if (!slot.ready) {
          failed = true;
          finishAll(new Error(`fuzz runner: a worker did not start within 120 s\n${slot.stderr}`));
        }
      }, 120_000);
      child.stderr?.on("data", (d: Buffer) => {
        slot.stderr = (slot.stderr + d.toString()).slice(-8000);
      });
      child.on("message", (m: WorkerMessage) => {
        if (m.type === "ready") {
          clearTimeout(startup);
          slot.ready = true;
          dispatch(slot);
        } else if (m.type === "result" && slot.busy?.id === m.id) {
          record(slot, m.outcome, m.ms);
          dispatch(slot);
        }
      });
      child.on("exit", (code, signal) => {
        clearTimeout(startup);
        slots.delete(slot);
        if (!slot.ready && slot.busy === undefined && !failed) {
          failed = true;
          return finishAll(new Error(`fuzz runner: a worker exited (${signal ?? code}) before it was ready\n${slot.stderr}`));
        }
        if (slot.busy !== undefined) {
          const heap = /heap out of memory|Allocation failed|Array buffer allocation failed/i.test(slot.stderr);
          const tail = slot.stderr.trim().split("\n").slice(-6).join("\n");
          record(
            slot,
            slot.killed ??
              (heap
                ? { class: "out of memory", message: `V8 heap limit (${heapMb} MB): ${tail}` }
                : { class: "crash", message: `worker exited with ${signal ?? `code ${code}`}: ${tail}` }),
          );
        }
        if (!failed && next < ids.length) spawn();
      });
    };
    const poll = setInterval(() => {
      for (const s of slots) {
        if (s.busy === undefined || s.killed !== undefined || s.child.pid === undefined) continue;
        const rss = rssOf(s.child.pid);
        if (rss > rssLimit) {
          s.killed = { class: "out of memory", message: `resident memory ${mib(rss)} over the ${mib(rssLimit)} cap` };
          s.child.kill("SIGKILL");
        }
      }
    }, 25);
    if (ids.length === 0) return finishAll();
    for (let i = 0; i < jobs; i++) spawn();
  });
}

/** Whether the runner can work here (it reads /proc for the memory cap). */
export const runnerSupported = (): boolean => existsSync("/proc/self/status");
