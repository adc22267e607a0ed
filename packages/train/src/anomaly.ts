// Where a NaN or an infinity comes from. Training checks only the loss and the gradient norm (free: it computes
// both anyway); when either is not finite, the step's micro-batch is run again under an op listener that scans
// every op's output, forward and backward, and names the first op that made a non-finite value out of finite
// inputs (or that read a non-finite parameter), with where it ran and the parameter involved. The rerun is
// slow (every op's output is read) and happens only after something went wrong.
import { type HookedModel, type RunOptions, run } from "@llmdbg/core";
import { isFloat, type OpListener, type OpPhase, setOpListener, type Tensor } from "@llmdbg/tensor";
import { type Batch, type Objective, runParams } from "./loss.js";
import { mergeHooks } from "./stats.js";

/** What the rerun found: the first op that produced a NaN (or an infinity) from inputs without one. */
export interface AnomalyReport {
  readonly what: "nan" | "inf";
  /** the primitive (null when no op reproduced it: the non-finite value came from outside the ops) */
  readonly op: string | null;
  /** forward: the last hook point reached before the op ("input" before the first, "loss" in the objective); backward: that label of the tape node being differentiated */
  readonly label: string | null;
  readonly phase: OpPhase | null;
  /** backward: the primitive whose gradient rule ran the op */
  readonly rule: string | null;
  /** a parameter the op read (a non-finite one first), else the first parameter whose gradient is not finite */
  readonly param: string | null;
  readonly message: string;
}

interface Finite {
  readonly nan: boolean;
  readonly inf: boolean;
}

const CLEAN: Finite = { nan: false, inf: false };

function scan(t: Tensor): Finite {
  if (!isFloat(t.dtype)) return CLEAN;
  const d = t.data;
  let nan = false;
  let inf = false;
  for (let i = 0; i < d.length; i++) {
    const v = d[i] as number;
    if (Number.isNaN(v)) nan = true;
    else if (v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY) inf = true;
  }
  return { nan, inf };
}

/** The listener: flags per storage (views share their input's), the first offending op once seen. */
class Finder implements OpListener {
  label: string | null = "input";
  found: Omit<AnomalyReport, "message"> | null = null;
  private phaseNow: OpPhase = "forward";
  private node: { prim: string; label: string | null } | null = null;
  private readonly flags = new WeakMap<object, Finite>();

  constructor(private readonly paramOf: ReadonlyMap<object, string>) {}

  private flagsOf(t: Tensor): Finite {
    let f = this.flags.get(t.store);
    if (f === undefined) this.flags.set(t.store, (f = scan(t)));
    return f;
  }

  op(prim: string, inputs: readonly Tensor[], out: Tensor): void {
    if (this.found !== null) return;
    const f = scan(out);
    this.flags.set(out.store, f);
    if (!f.nan && !f.inf) return;
    let inNan = false;
    let inInf = false;
    let param: string | null = null;
    let badParam: string | null = null;
    for (const x of inputs) {
      const fx = this.flagsOf(x);
      inNan ||= fx.nan;
      inInf ||= fx.inf;
      const name = this.paramOf.get(x.store);
      if (name !== undefined) {
        param ??= name;
        if (fx.nan || fx.inf) badParam ??= name;
      }
    }
    // an additive −inf mask is a non-finite input, so the op that applies it is not blamed for its −inf outputs
    const fresh = badParam !== null || (f.nan && !inNan) || (f.inf && !inNan && !inInf);
    if (!fresh) return;
    const backward = this.phaseNow === "backward";
    this.found = {
      what: f.nan ? "nan" : "inf",
      op: prim,
      label: backward ? (this.node?.label ?? null) : this.label,
      phase: this.phaseNow,
      rule: backward ? (this.node?.prim ?? null) : null,
      param: badParam ?? param,
    };
  }

  phase(p: OpPhase): void {
    this.phaseNow = p;
    this.node = null;
  }

  rule(node: { prim: string; label: string | null } | null): void {
    this.node = node;
  }
}

/**
 * Runs `batch` again with gradients of `trainable` under an op listener and reports where the first non-finite
 * value appeared; null when the rerun is finite throughout (the anomaly did not reproduce).
 * @example const r = locateAnomaly(model, batch, causalLmObjective, model.params.names()); r?.op // "matmul"
 */
export function locateAnomaly(
  model: HookedModel,
  batch: Batch,
  objective: Objective,
  trainable: readonly string[],
  extra: Omit<RunOptions, "grads"> = {},
  step = 0,
): AnomalyReport | null {
  const { model: wrapped, param: runParam } = runParams(model);
  const paramOf = new Map<object, string>();
  for (const [name, t] of model.params.entries()) paramOf.set(t.store, name);
  const finder = new Finder(paramOf);
  const hooks = mergeHooks(extra.hooks, {
    "*": (_x, p) => {
      finder.label = p.name;
      return undefined;
    },
  });
  let lossValue = Number.NaN;
  let grads: ReadonlyMap<string, Tensor> = new Map();
  const prev = setOpListener(finder);
  try {
    const r = run(wrapped, batch.ids, {
      ...extra,
      ...(batch.attentionMask === undefined ? {} : { attentionMask: batch.attentionMask }),
      hooks,
      grads: {
        params: [...trainable],
        loss: (out) => {
          finder.label = "loss";
          return objective(out, batch, { param: runParam, step });
        },
      },
    });
    lossValue = r.loss?.item() ?? Number.NaN;
    grads = r.paramGrads;
  } finally {
    setOpListener(prev);
  }
  let badGrad: string | null = null;
  for (const [name, g] of grads) {
    const f = scan(g);
    if (f.nan || f.inf) {
      badGrad = name;
      break;
    }
  }
  const found = finder.found;
  if (found === null) {
    if (Number.isFinite(lossValue) && badGrad === null) return null;
    const what = Number.isNaN(lossValue) ? "nan" : "inf";
    return {
      what,
      op: null,
      label: null,
      phase: null,
      rule: null,
      param: badGrad,
      message: `the loss is ${lossValue}${badGrad === null ? "" : ` and the gradient of ${badGrad} is not finite`}, but no op made a non-finite value from finite inputs`,
    };
  }
  const param = found.param ?? badGrad;
  const at = found.label === "loss" ? "in the objective" : `after ${found.label}`;
  const where = found.phase === "backward" ? `in the backward of ${found.rule} (recorded ${at})` : `in the forward pass, ${at}`;
  const reads =
    found.param === null ? (badGrad === null ? "" : `; first non-finite gradient: ${badGrad}`) : `, reading ${found.param}`;
  const value = found.what === "nan" ? "NaN" : "an infinity";
  return { ...found, param, message: `${found.op} produced ${value} ${where}${reads}` };
}
