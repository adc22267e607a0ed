// Reverse-mode autodiff on a tape. Ops record a node when an input belongs to the active tape; `vjp` replays
// the nodes backwards through the rule table in vjp.ts. Hooks ask for gradients of intermediate tensors with
// `retainGrad`, the way PyTorch's `retain_grad` works. Every op passes through `record`, so it is also where
// an optional op listener (the profiler in profile.ts) sees them.

import { isFloat } from "./dtype.js";
import { add } from "./ops.js";
import type { Prim, PrimAttrs } from "./prims.js";
import { fmt, ShapeError, sameShape } from "./shape.js";
import { Tensor, zeros } from "./tensor.js";
import { addInto, addSparseInto, freshGrads, sparseGrad, vjpRule } from "./vjp.js";

export interface TapeNode<P extends Prim = Prim> {
  readonly prim: P;
  readonly attrs: PrimAttrs[P];
  readonly inputs: readonly Tensor[];
  readonly out: Tensor;
  /** The listener's scope label when the node was recorded (null unless profiling), inherited by its rule. */
  readonly label: string | null;
}

export class Tape {
  readonly nodes: TapeNode[] = [];
  readonly retained = new Set<number>();
}

let active: Tape | null = null;

/** Where an op runs: in the caller's code, or inside backprop (a VJP rule or gradient accumulation). */
export type OpPhase = "forward" | "backward";

/**
 * Sees every op, taped or not. At most one is installed; with none, `record` pays a single null check, so
 * this hook costs nothing unless a profiler is on.
 */
export interface OpListener {
  /** The caller's scope label (a layer); tape nodes keep it so that the backward pass can be split by it. */
  readonly label: string | null;
  /** An op has just computed `out` from `inputs`. */
  op(prim: Prim, inputs: readonly Tensor[], out: Tensor): void;
  /** Backprop begins ("backward") or has ended ("forward"), also when a rule threw. */
  phase(p: OpPhase): void;
  /** Backprop starts the rule of `node`, then the accumulation of its input gradients; null once both are done. */
  rule(node: TapeNode | null): void;
}

let listener: OpListener | null = null;

/**
 * Installs `l` as the op listener (null removes it) and returns the one it replaces. `profileOps` in
 * profile.ts is the usual way in.
 * @example const prev = setOpListener({ label: null, op: (p) => counts.set(p, (counts.get(p) ?? 0) + 1), phase() {}, rule() {} })
 */
export function setOpListener(l: OpListener | null): OpListener | null {
  const prev = listener;
  listener = l;
  return prev;
}

export function activeTape(): Tape | null {
  return active;
}

/** Called by every op after computing `out`: records it if any input is on the active tape. */
export function record<P extends Prim>(prim: P, attrs: PrimAttrs[P], inputs: readonly Tensor[], out: Tensor): Tensor {
  const l = listener;
  if (l !== null) l.op(prim, inputs, out);
  const tape = active;
  if (tape === null) return out;
  for (const x of inputs) {
    if (x.tape === tape) {
      out.tape = tape;
      tape.nodes.push({ prim, attrs, inputs: [...inputs], out, label: l === null ? null : l.label } as TapeNode);
      return out;
    }
  }
  return out;
}

/** A new tensor sharing storage with `x` and carrying no gradient history. */
export function stopGradient(x: Tensor): Tensor {
  return new Tensor(x.shape, x.dtype, x.store);
}

/** Runs `fn` without recording anything on the tape. */
export function noGrad<T>(fn: () => T): T {
  const prev = active;
  active = null;
  try {
    return fn();
  } finally {
    active = prev;
  }
}

/**
 * Puts `x` on the active tape and keeps its gradient (read it with `gradOf`). Unlike `retainGrad`, this also
 * works for a tensor that does not depend on any traced input (a hook on activations computed from frozen
 * weights): it becomes a leaf. A tensor already on the tape stays connected to what it depends on.
 */
export function watch(x: Tensor): Tensor {
  const tape = active;
  if (tape === null) return x;
  if (x.tape === tape) {
    tape.retained.add(x.id);
    return x;
  }
  const leaf = stopGradient(x);
  leaf.tape = tape;
  tape.retained.add(leaf.id);
  return leaf;
}

/** Marks an intermediate tensor so that its gradient is kept; read it with `gradOf` on the backward result. */
export function retainGrad(x: Tensor): Tensor {
  if (active !== null && x.tape === active) active.retained.add(x.id);
  return x;
}

export interface Backward {
  /** Gradients with respect to the inputs given to `vjp`, in order (zeros where there is no dependence). */
  grads: Tensor[];
  /** The gradient of a tensor marked with `retainGrad` during the forward call, or undefined. */
  gradOf(x: Tensor): Tensor | undefined;
}

function backprop(tape: Tape, outs: readonly Tensor[], cts: readonly (Tensor | null)[], inputs: readonly Tensor[]): Backward {
  const r = vjpRule;
  const grads = new Map<number, Tensor>();
  // Gradients held by exactly one entry of `grads` and by nothing else: sums this pass made, and the fresh
  // tensors of rules that make their own (freshGrads). A further contribution is added into such a gradient in
  // place instead of into a new tensor of its size. A gradient handed to a rule as its cotangent loses the mark:
  // the rule may pass it on, or views of it, to its inputs.
  const owned = new WeakSet<Tensor>();
  const accumulate = (id: number, gi: Tensor, fresh: boolean): void => {
    const prev = grads.get(id);
    if (prev === undefined) {
      grads.set(id, gi);
      if (fresh) owned.add(gi);
    } else if (owned.has(prev)) addInto(prev, gi);
    else if (fresh) {
      addInto(gi, prev);
      grads.set(id, gi);
      owned.add(gi);
    } else {
      const sum = add(prev, gi);
      grads.set(id, sum);
      owned.add(sum);
    }
  };
  const keep = new Set<number>([...tape.retained, ...inputs.map((x) => x.id)]);
  // the listener is read once: one installed mid-pass would see rules without their phase
  const l = listener;
  if (l !== null) l.phase("backward");
  try {
    outs.forEach((o, i) => {
      const ct = cts[i];
      if (ct === undefined) throw new ShapeError(`vjp: ${outs.length} outputs, ${cts.length} cotangents (null for none)`);
      // null: nothing flows back from this output (the same as zeros of its shape, without making them)
      if (ct === null) return;
      if (!sameShape(o.shape, ct.shape)) {
        throw new ShapeError(`vjp: cotangent shape ${fmt(ct.shape)} does not match output shape ${fmt(o.shape)}`);
      }
      const prev = grads.get(o.id);
      grads.set(o.id, prev ? add(prev, ct) : ct);
    });
    noGrad(() => {
      for (let n = tape.nodes.length - 1; n >= 0; n--) {
        const node = tape.nodes[n] as TapeNode;
        const g = grads.get(node.out.id);
        if (g === undefined) continue;
        if (!keep.has(node.out.id)) grads.delete(node.out.id);
        owned.delete(g);
        if (l !== null) l.rule(node);
        // a slice's block or a gather's rows go straight into the input's gradient when this pass owns it
        const x0 = node.inputs[0] as Tensor;
        const sp = x0.tape === tape ? sparseGrad(node, g) : null;
        const into = sp === null ? undefined : grads.get(x0.id);
        if (sp !== null && into !== undefined && owned.has(into)) addSparseInto(into, sp);
        else {
          const gin = r(node, g);
          const fresh = freshGrads(node.prim);
          node.inputs.forEach((x, i) => {
            const gi = gin[i];
            if (gi === null || gi === undefined || x.tape !== tape) return;
            // fresh: the rule's own tensor, sharing storage with neither its cotangent nor another input's gradient
            const own = fresh && gi.store !== g.store && gin.every((o, j) => j === i || o?.store !== gi.store);
            accumulate(x.id, gi, own);
          });
        }
        if (l !== null) l.rule(null);
      }
    });
  } finally {
    if (l !== null) l.phase("forward");
  }
  return {
    grads: inputs.map((x) => grads.get(x.id) ?? zeros(x.shape, isFloat(x.dtype) ? x.dtype : "f32")),
    gradOf: (x) => (keep.has(x.id) ? grads.get(x.id) : undefined),
  };
}

/**
 * Runs `f` on `inputs` recording a tape, and returns its outputs with a function that pulls cotangents back,
 * one per output; `null` for an output that contributes nothing (on a model's logits beside its loss, it saves
 * a logits-sized tensor of zeros and an add of that size).
 * @example const { out, backward } = vjp((x) => [mul(x, x)], [x]); backward([ones(x.shape)]).grads[0] // 2x
 */
export function vjp(
  f: (...xs: Tensor[]) => Tensor[],
  inputs: readonly Tensor[],
): { out: Tensor[]; backward: (cts: readonly (Tensor | null)[]) => Backward } {
  const tape = new Tape();
  const prev = active;
  active = tape;
  const watched = inputs.map((x) => {
    const w = stopGradient(x);
    w.tape = tape;
    return w;
  });
  let out: Tensor[];
  try {
    out = f(...watched);
  } finally {
    active = prev;
  }
  return { out, backward: (cts) => backprop(tape, out, cts, watched) };
}

/**
 * Value and gradients of a scalar function with respect to all of its arguments.
 * @example const { value, grads } = valueAndGrad((w) => sum(mul(w, w)))(w)
 */
export function valueAndGrad(
  f: (...xs: Tensor[]) => Tensor,
): (...inputs: Tensor[]) => { value: Tensor; grads: Tensor[]; gradOf: (x: Tensor) => Tensor | undefined } {
  return (...inputs) => {
    const { out, backward } = vjp((...xs) => [f(...xs)], inputs);
    const value = out[0] as Tensor;
    if (value.size !== 1) throw new ShapeError(`valueAndGrad: function must return one element, got shape ${fmt(value.shape)}`);
    const one = zeros(value.shape, value.dtype); // d value / d value
    one.data[0] = 1;
    const b = backward([one]);
    return { value, grads: b.grads, gradOf: b.gradOf };
  };
}

/** Gradients of a scalar function with respect to all of its arguments. */
export function grad(f: (...xs: Tensor[]) => Tensor): (...inputs: Tensor[]) => Tensor[] {
  const vg = valueAndGrad(f);
  return (...inputs) => vg(...inputs).grads;
}
