// Training runs recorded while they run, and read while they run. The writer (`LiveRun`, used by `llmdbg train`)
// records the run with status `running` before its first step, appends its events in batches — one short write
// transaction per batch, never held between batches — and sets the final status; the server reads through a
// handle of its own (`trainingRuns`, `eventsAfter`), which in WAL mode never waits for the writer nor blocks it.
// Every batch and status write touches the run's `updated_at`, so a reader tells a run that goes on from one
// whose process died (it stays `running`, its time standing still).
import { basename } from "node:path";
import type { TrainEvent } from "@llmdbg/protocol";
import { StoreError } from "./errors.js";
import type { RunInput, RunStatus, Store } from "./store.js";

/** A checkpoint a training run wrote: its folder stays in the store, for the machine that trained. */
export interface CheckpointRecord {
  readonly id: number;
  readonly run: number;
  readonly step: number;
  readonly path: string;
  readonly createdAt: string;
}

export interface LiveRunOptions {
  /** the longest a `step` or `activations` event waits before its batch is written, ms (default 250) */
  readonly flushMs?: number;
  /** a failed write (the first one only); default: stderr */
  readonly warn?: (message: string) => void;
  /** the clock, ms (tests) */
  readonly now?: () => number;
}

/** How a live run ended. */
export interface LiveRunEnd {
  readonly status: Exclude<RunStatus, "running">;
  /** why it failed: stored as the run's `{ kind: "error", message }` result (as the server stores failed jobs) */
  readonly error?: string;
  readonly timings?: Readonly<Record<string, number>>;
  /** the model the run ended with (the folder it wrote), replacing the one it started from */
  readonly model?: number | null;
}

/** Events written at once, whatever the time: they are rare, and a view waits for them (a checkpoint's marker). */
const FREQUENT = new Set<TrainEvent["kind"]>(["step", "activations"]);

/**
 * A training run recorded as it goes. Events are buffered and written in batches (a batch every `flushMs`, and at
 * once for rare events); a write that fails keeps its events for the next one and warns once, so a busy or
 * broken store never stops training. `finish` writes what is left and the final status in one transaction.
 * @example
 * const live = LiveRun.start(store, { kind: "train", model, options });
 * await train(model, data, config, { onEvent: (e) => live.push(e) });
 * live.finish({ status: "done" });
 */
export class LiveRun {
  private pending: TrainEvent[] = [];
  private lastFlush: number;
  private warned = false;
  private finished = false;
  private readonly flushMs: number;
  private readonly warn: (message: string) => void;
  private readonly now: () => number;
  /** events written so far */
  written = 0;

  private constructor(
    readonly store: Store,
    readonly id: number,
    opts: LiveRunOptions,
  ) {
    this.flushMs = opts.flushMs ?? 250;
    this.warn = opts.warn ?? ((m) => process.stderr.write(`${m}\n`));
    this.now = opts.now ?? (() => performance.now());
    this.lastFlush = this.now();
  }

  /** Records the run (status `running`, no events yet) and returns its writer. Throws when the store cannot. */
  static start(store: Store, run: Omit<RunInput, "status" | "events">, opts: LiveRunOptions = {}): LiveRun {
    return new LiveRun(store, store.recordRun({ ...run, status: "running" }), opts);
  }

  /** Takes one event; writes the batch when it is due. */
  push(event: TrainEvent): void {
    if (this.finished) throw new StoreError(this.store.file, `run ${this.id}: an event after the run finished`);
    this.pending.push(event);
    if (!FREQUENT.has(event.kind) || this.now() - this.lastFlush >= this.flushMs) this.flush();
  }

  /** Writes the buffered events; false (after a warning, the first time) when the store refused them. */
  flush(): boolean {
    this.lastFlush = this.now();
    if (this.pending.length === 0) return true;
    try {
      this.store.appendEvents(this.id, this.pending);
      this.written += this.pending.length;
      this.pending = [];
      return true;
    } catch (e) {
      this.warnOnce(e);
      // a store that stays broken must not hold a long run's events in memory: the JSONL log keeps them all
      if (this.pending.length > 100_000) this.pending = [];
      return false;
    }
  }

  /** Writes the remaining events, the final status (and the error, the timings, the model) in one transaction. */
  finish(end: LiveRunEnd): boolean {
    this.finished = true;
    try {
      this.store.transaction(() => {
        if (this.pending.length > 0) this.store.appendEvents(this.id, this.pending);
        if (end.error !== undefined) this.store.addResult(this.id, { kind: "error", message: end.error });
        if (end.model !== undefined) this.store.db.prepare("UPDATE runs SET model_id = ? WHERE id = ?").run(end.model, this.id);
        this.store.setStatus(this.id, end.status, end.timings);
      });
      this.written += this.pending.length;
      this.pending = [];
      return true;
    } catch (e) {
      this.warnOnce(e);
      return false;
    }
  }

  private warnOnce(e: unknown): void {
    if (this.warned) return;
    this.warned = true;
    this.warn(
      `llmdbg: warning: the run store did not record training run ${this.id} (${e instanceof Error ? e.message : e}); training goes on`,
    );
  }
}

type Row = Record<string, unknown>;

/** The checkpoints a run recorded, by step. */
export function checkpointsOf(store: Store, run: number): CheckpointRecord[] {
  return (store.db.prepare("SELECT * FROM checkpoints WHERE run_id = ? ORDER BY step, id").all(run) as Row[]).map((r) => ({
    id: r.id as number,
    run,
    step: r.step as number,
    path: r.path as string,
    createdAt: r.created_at as string,
  }));
}

/** What a reader needs to know of a run besides its events. */
export interface RunState {
  readonly id: number;
  readonly kind: string;
  readonly status: RunStatus;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** the message of its `error` result, if it has one */
  readonly error: string | null;
}

const errorOf = (store: Store, run: number): string | null => {
  const r = store.db
    .prepare("SELECT result FROM results WHERE run_id = ? AND kind = 'error' ORDER BY id DESC LIMIT 1")
    .get(run) as { result: string } | undefined;
  if (r === undefined) return null;
  try {
    const v = JSON.parse(r.result) as { message?: unknown };
    return typeof v.message === "string" ? v.message : null;
  } catch {
    return null;
  }
};

/** A run's status, times and error; a StoreError when there is no such run. */
export function runState(store: Store, run: number): RunState {
  const r = store.db.prepare("SELECT id, kind, status, created_at, updated_at FROM runs WHERE id = ?").get(run) as
    | Row
    | undefined;
  if (r === undefined) throw new StoreError(store.file, `run ${run} is not in the store`);
  return {
    id: run,
    kind: r.kind as string,
    status: r.status as RunStatus,
    createdAt: r.created_at as string,
    updatedAt: (r.updated_at as string | null) ?? (r.created_at as string),
    error: errorOf(store, run),
  };
}

/** One page of a run's events: those numbered after `after`, in order. */
export interface EventsPage {
  /** the stored events with their sequence numbers (consecutive from after + 1) */
  readonly events: readonly { readonly seq: number; readonly event: TrainEvent }[];
  /** more events follow this page (its count or byte cap was reached) */
  readonly more: boolean;
}

/**
 * The run's events numbered after `after` (-1: from the first), at most `limit` of them and about `maxBytes` of
 * JSON (at least one event, whatever its size), read in one statement.
 * @example let after = -1; for (;;) { const p = eventsAfter(store, id, after); after = p.events.at(-1)?.seq ?? after; … }
 */
export function eventsAfter(store: Store, run: number, after: number, limit = 5000, maxBytes = 2 << 20): EventsPage {
  const rows = store.db
    .prepare("SELECT seq, event FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?")
    .all(run, after, limit + 1) as { seq: number; event: string }[];
  const events: { seq: number; event: TrainEvent }[] = [];
  let bytes = 0;
  for (const r of rows.slice(0, limit)) {
    if (events.length > 0 && bytes + r.event.length > maxBytes) break;
    bytes += r.event.length;
    try {
      events.push({ seq: r.seq, event: JSON.parse(r.event) as TrainEvent });
    } catch (e) {
      throw new StoreError(store.file, `run ${run} event ${r.seq} is not valid JSON (${(e as Error).message})`);
    }
  }
  return { events, more: rows.length > events.length };
}

/** A training run in a list: where it stands, read from its newest events. */
export interface TrainingSummary extends RunState {
  readonly uid: string;
  /** the model's folder name (basename only) */
  readonly model: string | null;
  readonly step: number | null;
  readonly totalSteps: number | null;
  readonly loss: number | null;
  readonly evalLoss: number | null;
  readonly tokensPerSecond: number | null;
  readonly events: number;
  readonly checkpoints: number;
}

const eventJson = (store: Store, run: number, kind: string, newest: boolean): Row | undefined => {
  const r = store.db
    .prepare(`SELECT event FROM events WHERE run_id = ? AND kind = ? ORDER BY seq ${newest ? "DESC" : "ASC"} LIMIT 1`)
    .get(run, kind) as { event: string } | undefined;
  if (r === undefined) return undefined;
  try {
    return JSON.parse(r.event) as Row;
  } catch {
    return undefined;
  }
};

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/**
 * The `train` runs, running ones first, then newest first (at most `limit`), each with its last step, loss,
 * evaluation loss and counts. One read transaction, so a writer's batch is seen whole or not at all.
 */
export function trainingRuns(store: Store, limit = 200): TrainingSummary[] {
  const read = () => {
    const rows = store.db
      .prepare(
        `SELECT r.id, r.uid, r.status, r.created_at, r.updated_at, m.path AS model,
           (SELECT count(*) FROM events WHERE run_id = r.id) AS events,
           (SELECT count(*) FROM checkpoints WHERE run_id = r.id) AS checkpoints
         FROM runs r LEFT JOIN models m ON m.id = r.model_id
         WHERE r.kind = 'train'
         ORDER BY (r.status = 'running') DESC, r.id DESC LIMIT ?`,
      )
      .all(Math.max(0, Math.floor(limit))) as Row[];
    return rows.map((r): TrainingSummary => {
      const id = r.id as number;
      const step = eventJson(store, id, "step", true);
      const start = eventJson(store, id, "start", false);
      const evalEvent = eventJson(store, id, "eval", true);
      return {
        id,
        uid: r.uid as string,
        kind: "train",
        status: r.status as RunStatus,
        createdAt: r.created_at as string,
        updatedAt: (r.updated_at as string | null) ?? (r.created_at as string),
        error: r.status === "failed" ? errorOf(store, id) : null,
        model: r.model === null ? null : basename(r.model as string),
        step: num(step?.step),
        totalSteps: num(start?.totalSteps),
        loss: num(step?.loss),
        evalLoss: num((evalEvent?.metrics as Row | undefined)?.loss),
        tokensPerSecond: num(step?.tokensPerSecond),
        events: r.events as number,
        checkpoints: r.checkpoints as number,
      };
    });
  };
  return store.db.transaction(read).deferred();
}
