// An op-level profiler: time, calls and output bytes per primitive, forward and backward, split by a scope
// label the caller sets (a layer). It listens on `record` (autodiff.ts), which every op calls once its
// output is computed, so there is nothing to instrument in the kernels and nothing to pay when it is off.
//
// Timing is wall time between listener events: an op is charged the time since the previous op ended (or
// since the profiler started, or backprop began or ended, when those came later). That covers the op's own
// kernel, matmuls that onnxruntime runs in its worker included, since the calling thread waits for them; the
// price is that TypeScript glue between two ops (argument checks, the caller's own code) is charged to the
// next op. The listener's bookkeeping is charged to nothing. In backward, the time a rule spends outside any
// op (the fused backward kernels such as softmax's and layerNorm's, which are not ops) is kept in a row with
// `op: null` for that rule, so that "the backward of softmax" is complete.
import { type OpListener, type OpPhase, setOpListener, type TapeNode } from "./autodiff.js";
import { dtypes } from "./dtype.js";
import type { Prim } from "./prims.js";
import type { Tensor } from "./tensor.js";

export interface OpStats {
  /** ops run (a rule's time outside its ops adds time, not calls) */
  calls: number;
  ms: number;
  /** bytes of freshly allocated outputs; a view (reshape) shares its input's buffer and adds nothing */
  bytesOut: number;
}

/** One line of the profile: every (phase, rule, label, op) seen, in first-seen order. */
export interface OpRow extends OpStats {
  phase: OpPhase;
  /** the op run; null: time inside the backward rule `rule` outside any op (calls then counts rule runs) */
  op: Prim | null;
  /** in backward, the primitive whose rule was running (null: seeding the output gradients); null in forward */
  rule: Prim | null;
  /** forward: the label set when the op ran; backward: the label of the tape node whose rule ran */
  label: string | null;
}

export type PrimStats = Partial<Record<Prim, OpStats>>;

export interface OpProfile {
  /** wall time of the whole profiled call; the rows' times sum to at most this */
  wallMs: number;
  rows: OpRow[];
  /** ops run outside backprop, by primitive */
  forward: PrimStats;
  /** ops run inside backprop, by primitive (the rules' time outside ops is only in `backwardByRule`) */
  backward: PrimStats;
  /** backprop by the primitive whose rule ran, "the backward of matmul"; calls counts the rule runs */
  backwardByRule: PrimStats;
}

const now = (): number => performance.now();

interface Context {
  phase: OpPhase;
  rule: Prim | null;
  label: string | null;
  ops: Map<Prim | null, OpRow>;
}

class Recorder implements OpListener {
  readonly rows: OpRow[] = [];
  /** when the last event ended: the next op is charged the time from here */
  last = now();
  private current: string | null = null;
  private phaseNow: OpPhase = "forward";
  private rulePrim: Prim | null = null;
  private ruleLabel: string | null = null;
  // rows are found through the context, which changes once per rule or label, not through a key per op
  private ctx: Context | null = null;
  private readonly contexts = new Map<string, Context>();

  get label(): string | null {
    return this.current;
  }

  setLabel(label: string | null): void {
    this.current = label;
    if (this.phaseNow === "forward") this.ctx = null;
  }

  op(prim: Prim, inputs: readonly Tensor[], out: Tensor): void {
    const t = now();
    const row = this.row(prim);
    row.calls++;
    row.ms += t - this.last;
    const store = out.store;
    let view = false;
    for (const x of inputs) if (x.store === store) view = true;
    if (!view) row.bytesOut += out.size * dtypes[out.dtype].bytes;
    this.last = now();
  }

  phase(p: OpPhase): void {
    this.phaseNow = p;
    this.rulePrim = null;
    this.ruleLabel = null;
    this.ctx = null;
    this.last = now();
  }

  rule(node: TapeNode | null): void {
    if (node !== null) {
      this.rulePrim = node.prim;
      this.ruleLabel = node.label;
      this.ctx = null;
      return;
    }
    const t = now();
    const row = this.row(null);
    row.calls++;
    row.ms += t - this.last;
    this.rulePrim = null;
    this.ruleLabel = null;
    this.ctx = null;
    this.last = now();
  }

  private row(op: Prim | null): OpRow {
    let c = this.ctx;
    if (c === null) {
      const backward = this.phaseNow === "backward";
      const rule = backward ? this.rulePrim : null;
      const label = backward ? this.ruleLabel : this.current;
      const key = JSON.stringify([this.phaseNow, rule, label]);
      c = this.contexts.get(key) ?? { phase: this.phaseNow, rule, label, ops: new Map() };
      this.contexts.set(key, c);
      this.ctx = c;
    }
    let r = c.ops.get(op);
    if (r === undefined) {
      r = { phase: c.phase, op, rule: c.rule, label: c.label, calls: 0, ms: 0, bytesOut: 0 };
      c.ops.set(op, r);
      this.rows.push(r);
    }
    return r;
  }
}

let recorder: Recorder | null = null;

function addStats(into: OpStats, r: OpStats, calls: number): void {
  into.calls += calls;
  into.ms += r.ms;
  into.bytesOut += r.bytesOut;
}

/**
 * Totals of `rows` grouped by `key`; calls counts ops, so a rule's time outside ops adds time only.
 * @example sumRows(p.rows.filter((r) => r.phase === "backward"), (r) => r.label) // backward by layer
 */
export function sumRows<K>(rows: readonly OpRow[], key: (r: OpRow) => K): Map<K, OpStats> {
  const m = new Map<K, OpStats>();
  for (const r of rows) {
    const k = key(r);
    let s = m.get(k);
    if (s === undefined) m.set(k, (s = { calls: 0, ms: 0, bytesOut: 0 }));
    addStats(s, r, r.op === null ? 0 : r.calls);
  }
  return m;
}

function byPrim(rows: readonly OpRow[], key: (r: OpRow) => Prim | null, calls: (r: OpRow) => number): PrimStats {
  const t: PrimStats = {};
  for (const r of rows) {
    const k = key(r);
    if (k === null) continue;
    const s = (t[k] ??= { calls: 0, ms: 0, bytesOut: 0 });
    addStats(s, r, calls(r));
  }
  return t;
}

/**
 * Runs `fn` with the op profiler on and returns its result with the profile. `fn` must be synchronous (a
 * listener alive across an await would see unrelated work); profiles do not nest.
 * @example const { profile } = profileOps(() => grad(loss)(w)); profile.backwardByRule.matmul?.ms
 */
export function profileOps<T>(fn: () => T): { result: T; profile: OpProfile } {
  if (recorder !== null) throw new Error("profileOps: a profile is already running (profiles do not nest)");
  const rec = new Recorder();
  const t0 = rec.last;
  recorder = rec;
  const prev = setOpListener(rec);
  let result: T;
  try {
    result = fn();
  } finally {
    setOpListener(prev);
    recorder = null;
  }
  const wallMs = now() - t0;
  if (typeof (result as { then?: unknown } | null)?.then === "function") {
    throw new Error("profileOps: fn returned a promise; only synchronous code can be profiled");
  }
  const rows = rec.rows;
  const fwd = rows.filter((r) => r.phase === "forward");
  const bwd = rows.filter((r) => r.phase === "backward");
  return {
    result,
    profile: {
      wallMs,
      rows,
      forward: byPrim(
        fwd,
        (r) => r.op,
        (r) => r.calls,
      ),
      backward: byPrim(
        bwd,
        (r) => r.op,
        (r) => r.calls,
      ),
      backwardByRule: byPrim(
        bwd,
        (r) => r.rule,
        (r) => (r.op === null ? r.calls : 0),
      ),
    },
  };
}

/**
 * Sets the scope label that later ops, and the backward rules of the tape nodes they record, are charged
 * to; returns the previous one. Does nothing (and returns null) when no profile is running.
 * @example setProfileLabel("blocks.3") // at the hook that starts layer 3
 */
export function setProfileLabel(label: string | null): string | null {
  const r = recorder;
  if (r === null) return null;
  const prev = r.label;
  r.setLabel(label);
  return prev;
}

/**
 * Runs `fn` under the scope label `label`, restoring the previous one after.
 * @example profileScope("blocks.0.mlp", () => mlp(x))
 */
export function profileScope<T>(label: string, fn: () => T): T {
  const prev = setProfileLabel(label);
  try {
    return fn();
  } finally {
    setProfileLabel(prev);
  }
}

/**
 * Runs `fn`, the caller's own instrumentation (sampling memory, say), so that its time is charged to no op:
 * the op clock restarts after it. Ops inside `fn` are still counted.
 * @example unprofiled(() => samples.push(process.memoryUsage()))
 */
export function unprofiled<T>(fn: () => T): T {
  const r = recorder;
  if (r === null) return fn();
  try {
    return fn();
  } finally {
    r.last = now();
  }
}
