// A lane: a queue of jobs and the worker threads that run them, one job per thread at a time. The server keeps
// two: `interactive` (run, generate) and `heavy` (the methods), so a long attribution never waits in front of
// a forward pass. A lane caps its queue (a full one refuses the job at once), gives each job a time budget, and
// stops a job on request: a queued one leaves the queue, a running one is asked through a shared flag (its
// progress callback polls it) and, if it does not stop within a grace period, its thread is terminated and a
// new one started. A thread that dies fails its job and is replaced; no job is ever left without an answer.
import { existsSync } from "node:fs";
import { Worker } from "node:worker_threads";
import type { LoadedModel } from "@llmdbg/models";
import type { ModelInfo, RpcErrorCode, RpcPartial } from "@llmdbg/protocol";
import { executeJob, failureCode, type JobMethod, JobStop, overBudget } from "./handlers.js";

export type { JobMethod };

/** What a worker thread is started with. */
export interface WorkerSetup {
  /** model id → folder or .gguf file */
  readonly models: Readonly<Record<string, string>>;
  /** load every model at start and report their infos (else on first use) */
  readonly preload: boolean;
  /** after loading, run one token through each model before reporting ready (ServerOptions.warmUp) */
  readonly warm?: boolean;
  readonly allowUnread: boolean;
  readonly backend?: "ref" | "ort";
  /** an Int32Array(1): the seq of the job the main thread wants stopped */
  readonly cancel: SharedArrayBuffer;
}

export type ToWorker = {
  readonly type: "job";
  readonly seq: number;
  readonly method: JobMethod;
  readonly model: string;
  readonly params: unknown;
  /** the job's time budget, ms, counted from when the thread starts it */
  readonly budgetMs: number;
  /** the job's memory budget, MiB beyond what the thread held when it started the job (null: none) */
  readonly memoryMb: number | null;
};

export type FromWorker =
  | { readonly type: "ready"; readonly infos: ModelInfo[] }
  | { readonly type: "loadError"; readonly message: string }
  | { readonly type: "started"; readonly seq: number }
  | { readonly type: "progress"; readonly seq: number; readonly done: number; readonly total: number; readonly what: string }
  | { readonly type: "partial"; readonly seq: number; readonly data: RpcPartial }
  | { readonly type: "done"; readonly seq: number; readonly result: unknown }
  | { readonly type: "fail"; readonly seq: number; readonly code: RpcErrorCode; readonly message: string };

/** A job and where its replies go; exactly one of `onDone`/`onFail` is called, once. */
export interface Job {
  readonly method: JobMethod;
  readonly model: string;
  readonly params: unknown;
  /** when a thread starts running it (the time it waited in the queue ends) */
  onStart?(): void;
  onProgress(p: { done: number; total: number; what: string }): void;
  onPartial(data: RpcPartial): void;
  onDone(result: unknown): void;
  onFail(code: RpcErrorCode, message: string): void;
}

export interface LaneOptions {
  readonly name: string;
  readonly workers: number;
  readonly queueCap: number;
  readonly timeoutMs: number;
  /** how long a running job asked to stop may take before its thread is terminated */
  readonly graceMs: number;
}

export interface WorkerLaneOptions extends LaneOptions {
  readonly setup: Omit<WorkerSetup, "cancel">;
  /**
   * each job's memory, MiB: what the thread's tensors (array buffers) and JavaScript heap grow by while it runs,
   * checked at every progress report; past it the job stops with `memory` (worker.ts)
   */
  readonly memoryMb?: number;
  /** the JavaScript heap of each thread, MiB: past it the thread alone stops (its job fails, a new one starts) */
  readonly heapMb?: number;
}

/**
 * The worker's entry: the bundled `server-worker.mjs` beside the `llmdbg` bundle when there is one, else the
 * TypeScript source through tsx (`worker-boot.mjs`).
 */
function workerEntry(): { file: URL; entry?: string } {
  const bundled = new URL("./server-worker.mjs", import.meta.url);
  if (existsSync(bundled)) return { file: bundled };
  return { file: new URL("./worker-boot.mjs", import.meta.url), entry: new URL("./worker.ts", import.meta.url).href };
}

export interface Running {
  readonly seq: number;
  readonly job: Job;
  timers: NodeJS.Timeout[];
}

/** Where a lane runs its jobs, one at a time: a worker thread, or this thread. */
export interface Slot {
  readonly running: Running | undefined;
  /** closing or being replaced: takes no job */
  readonly retired: boolean;
  readonly ready: Promise<ModelInfo[]>;
  run(seq: number, job: Job): void;
  stop(r: Running): void;
  close(): Promise<void>;
}

export class WorkerSlot implements Slot {
  worker!: Worker;
  flag!: Int32Array;
  running: Running | undefined;
  ready!: Promise<ModelInfo[]>;
  /** set when the lane closes or the thread is being replaced: its exit is expected */
  retired = false;
  /** threads that died one after another without finishing a job */
  private crashes = 0;

  constructor(
    private readonly lane: Lane,
    private readonly opts: WorkerLaneOptions,
  ) {
    this.start();
  }

  start(): void {
    const cancel = new SharedArrayBuffer(4);
    this.flag = new Int32Array(cancel);
    const { file, entry } = workerEntry();
    const worker = new Worker(file, {
      workerData: { ...this.opts.setup, cancel, ...(entry !== undefined && { entry }) } satisfies WorkerSetup & {
        entry?: string;
      },
      ...(this.opts.heapMb !== undefined && { resourceLimits: { maxOldGenerationSizeMb: this.opts.heapMb } }),
    });
    this.worker = worker;
    this.retired = false;
    this.ready = new Promise((resolve, reject) => {
      worker.once("message", (m: FromWorker) => {
        if (m.type === "ready") resolve(m.infos);
        else if (m.type === "loadError") reject(new Error(m.message));
      });
      worker.once("exit", (code) => reject(new Error(`the ${this.opts.name} worker stopped while starting (exit ${code})`)));
    });
    // a failed start is reported by whoever awaits `ready`; an unawaited rejection must not crash the server
    this.ready.catch(() => {});
    worker.on("message", (m: FromWorker) => this.onMessage(m));
    worker.on("error", () => {}); // followed by `exit`, handled there
    worker.on("exit", (code) => {
      if (this.worker !== worker) return;
      const r = this.running;
      this.running = undefined;
      if (r !== undefined) {
        for (const t of r.timers) clearTimeout(t);
        r.job.onFail("internal", `the ${this.opts.name} worker stopped (exit ${code}) while running this job`);
      }
      if (!this.retired && !this.lane.closed) {
        // a thread that keeps dying (at start, say) is restarted ever more slowly, not in a tight loop
        const wait = Math.min(30_000, 250 * 2 ** this.crashes - 250);
        this.crashes++;
        this.retired = true;
        setTimeout(() => {
          if (this.lane.closed || this.worker !== worker) return;
          this.start();
          this.lane.pump();
        }, wait).unref();
      }
    });
  }

  private onMessage(m: FromWorker): void {
    const r = this.running;
    if (m.type === "ready" || m.type === "loadError" || r === undefined || m.seq !== r.seq) return;
    if (m.type === "started") {
      r.job.onStart?.();
      // the thread stops the job itself at its budget when the job reports progress; one that does not is
      // terminated a grace period later (the budget starts here, not while a fresh thread starts up)
      r.timers.push(
        setTimeout(() => this.kill(r, "timeout", overBudget(this.opts.timeoutMs)), this.opts.timeoutMs + this.opts.graceMs),
      );
    } else if (m.type === "progress") r.job.onProgress(m);
    else if (m.type === "partial") r.job.onPartial(m.data);
    else {
      for (const t of r.timers) clearTimeout(t);
      this.running = undefined;
      this.crashes = 0;
      if (m.type === "done") r.job.onDone(m.result);
      else r.job.onFail(m.code, m.message);
      this.lane.pump();
    }
  }

  run(seq: number, job: Job): void {
    const r: Running = { seq, job, timers: [] };
    this.running = r;
    this.worker.postMessage({
      type: "job",
      seq,
      method: job.method,
      model: job.model,
      params: job.params,
      budgetMs: this.opts.timeoutMs,
      memoryMb: this.opts.memoryMb ?? null,
    } satisfies ToWorker);
  }

  stop(r: Running): void {
    Atomics.store(this.flag, 0, r.seq);
    r.timers.push(setTimeout(() => this.kill(r, "cancelled", "cancelled"), this.opts.graceMs));
  }

  /** Ends a job that did not stop by itself: answers it, then replaces the thread. */
  private kill(r: Running, code: RpcErrorCode, message: string): void {
    if (this.running !== r) return;
    for (const t of r.timers) clearTimeout(t);
    this.running = undefined;
    r.job.onFail(code, message);
    this.retired = true;
    const old = this.worker;
    this.start();
    void old.terminate();
    this.lane.pump();
  }

  async close(): Promise<void> {
    this.retired = true;
    const r = this.running;
    this.running = undefined;
    if (r !== undefined) {
      for (const t of r.timers) clearTimeout(t);
      r.job.onFail("cancelled", "the server is shutting down");
    }
    await this.worker.terminate();
  }
}

/**
 * Runs jobs on this thread. The methods are synchronous, so while one runs nothing else is answered and a cancel
 * can only reach a job that has not started (or an async one, neurons, between batches); the time budget is
 * checked at each unit of work, as in a worker.
 */
class InlineSlot implements Slot {
  running: Running | undefined;
  retired = false;
  readonly ready: Promise<ModelInfo[]> = Promise.resolve([]);
  private ctl: AbortController | undefined;

  constructor(
    private readonly lane: Lane,
    private readonly opts: LaneOptions,
    private readonly models: ReadonlyMap<string, LoadedModel>,
  ) {}

  run(seq: number, job: Job): void {
    const r: Running = { seq, job, timers: [] };
    this.running = r;
    const ctl = new AbortController();
    this.ctl = ctl;
    // a turn of the event loop first, so the replies already queued (and a cancel) go out before it blocks
    setImmediate(async () => {
      job.onStart?.();
      const deadline = Date.now() + this.opts.timeoutMs;
      const poll = () => {
        if (!ctl.signal.aborted && Date.now() > deadline) ctl.abort(new JobStop("timeout", this.opts.timeoutMs));
      };
      let result: unknown;
      let failure: unknown;
      try {
        if (ctl.signal.aborted) throw ctl.signal.reason;
        const m = this.models.get(job.model);
        if (m === undefined) throw new Error(`no in-process model ${JSON.stringify(job.model)}`);
        result = await executeJob(m, job.model, job.method, job.params, {
          signal: ctl.signal,
          onProgress: (p) => {
            job.onProgress(p);
            poll();
          },
          onPartial: (d) => {
            job.onPartial(d);
            poll();
          },
        });
      } catch (e) {
        failure = ctl.signal.aborted ? ctl.signal.reason : e;
      }
      if (this.running !== r) return;
      this.running = undefined;
      if (failure === undefined) job.onDone(result);
      else job.onFail(failureCode(failure), failure instanceof Error ? failure.message : String(failure));
      this.lane.pump();
    });
  }

  stop(r: Running): void {
    if (this.running === r) this.ctl?.abort(new JobStop("cancelled"));
  }

  async close(): Promise<void> {
    this.retired = true;
    const r = this.running;
    this.running = undefined;
    this.ctl?.abort(new JobStop("cancelled"));
    r?.job.onFail("cancelled", "the server is shutting down");
  }
}

export class QueueFullError extends Error {
  override name = "QueueFullError";
}

export class Lane {
  closed = false;
  private readonly slots: Slot[];
  private readonly queue: { seq: number; job: Job }[] = [];
  private seq = 0;

  constructor(
    private readonly opts: LaneOptions,
    slot: (lane: Lane) => Slot,
  ) {
    this.slots = Array.from({ length: opts.workers }, () => slot(this));
  }

  /** A lane of worker threads. */
  static ofWorkers(opts: WorkerLaneOptions): Lane {
    return new Lane(opts, (lane) => new WorkerSlot(lane, opts));
  }

  /** A lane that runs jobs on this thread, on models handed over loaded (they cannot move to a worker). */
  static inProcess(opts: LaneOptions, models: ReadonlyMap<string, LoadedModel>): Lane {
    return new Lane({ ...opts, workers: 1 }, (lane) => new InlineSlot(lane, opts, models));
  }

  /** The first thread's model infos once it is up (rejects with the loading error of a bad model file). */
  ready(): Promise<ModelInfo[]> {
    return (this.slots[0] as Slot).ready;
  }

  /** Jobs waiting, not counting those running. */
  get queued(): number {
    return this.queue.length;
  }

  /** Queues a job: its place in the queue (0 = next), or -1 when a thread took it at once; throws QueueFullError when the queue is full. */
  submit(job: Job): number {
    if (this.closed) throw new QueueFullError("the server is shutting down");
    if (this.queue.length >= this.opts.queueCap)
      throw new QueueFullError(`the ${this.opts.name} queue is full (${this.opts.queueCap} jobs waiting); try again later`);
    this.queue.push({ seq: ++this.seq, job });
    this.pump();
    return this.queue.findIndex((q) => q.job === job);
  }

  /** Stops a queued or running job; false when the lane does not hold it. The job is answered `cancelled`. */
  cancel(job: Job): boolean {
    const i = this.queue.findIndex((q) => q.job === job);
    if (i >= 0) {
      this.queue.splice(i, 1);
      job.onFail("cancelled", "cancelled before it started");
      return true;
    }
    for (const s of this.slots) {
      if (s.running?.job === job) {
        s.stop(s.running);
        return true;
      }
    }
    return false;
  }

  /** Starts queued jobs on idle threads. */
  pump(): void {
    for (const s of this.slots) {
      if (this.queue.length === 0) return;
      if (s.running !== undefined || s.retired) continue;
      const next = this.queue.shift();
      if (next !== undefined) s.run(next.seq, next.job);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const q of this.queue.splice(0)) q.job.onFail("cancelled", "the server is shutting down");
    await Promise.all(this.slots.map((s) => s.close()));
  }
}
