// Applying interventions (the serializable union of @llmdbg/protocol) to activations. Each selects positions
// and heads through the hook point's declared axes; negative indices count from the end. In-process callers may
// also patch from a tensor or from another run's cache; prompts of different lengths patch by aligned positions.
import type { HookPoint, Intervention, TensorData, Where } from "@llmdbg/protocol";
import { add, broadcastTo, cast, fmt, fromTyped, mul, ShapeError, Tensor, tensor, where, zeros } from "@llmdbg/tensor";
import type { ActivationCache } from "./cache.js";
import { headAxis, positionAxis } from "./hooks.js";

/**
 * An intervention as `run` takes it: the protocol's JSON union, or a patch whose values are a tensor of the
 * activation's shape, or a patch from another run's cache (`from`). From a cache, target `positions` and
 * `sourcePositions` pair up one to one; absent, they default to every position when the two runs have the same
 * length, else to the overlapping positions aligned at the end (the last token patches the last token).
 */
export type InterventionInput =
  | Intervention
  | (Where & { readonly kind: "patch"; readonly values: Tensor })
  | (Where & { readonly kind: "patch"; readonly from: ActivationCache; readonly sourcePositions?: readonly number[] });

function fromData(d: TensorData, like: Tensor, what: string): Tensor {
  try {
    return tensor(d.data, d.shape, like.dtype);
  } catch (e) {
    throw new ShapeError(`${what}: ${(e as Error).message}`);
  }
}

/** `list` with negative entries counted from the end of an axis of length `n`; out-of-range entries are errors. */
function resolveIndices(list: readonly number[], n: number, what: string): number[] {
  return list.map((i) => {
    if (!Number.isInteger(i) || i < -n || i >= n) throw new ShapeError(`${what} entry ${i} out of range [-${n}, ${n})`);
    return i < 0 ? n + i : i;
  });
}

/** 1 at the selected positions × heads, 0 elsewhere; shaped to broadcast against x. Null when all is selected. */
function selection(
  x: Tensor,
  p: HookPoint,
  positions: readonly number[] | undefined,
  heads: readonly number[] | undefined,
  neurons: readonly number[] | undefined,
): Tensor | null {
  const shape = x.shape.map(() => 1);
  const picks: [number, readonly number[]][] = [];
  for (const [axis, list, label] of [
    [positionAxis(p), positions, "positions"],
    [headAxis(p), heads, "heads"],
    [x.rank - 1, neurons, "neurons"],
  ] as const) {
    if (list === undefined) continue;
    if (axis < 0)
      throw new ShapeError(
        `intervention on ${p.name}: it has no ${label === "heads" ? "head" : "position"} axis (axes ${p.axes.join(", ")})`,
      );
    if (picks.some(([a]) => a === axis))
      throw new ShapeError(`intervention on ${p.name}: its last axis is already selected by positions or heads`);
    const n = x.shape[axis] as number;
    shape[axis] = n;
    picks.push([axis, resolveIndices(list, n, `intervention on ${p.name}: ${label}`)]);
  }
  if (picks.length === 0) return null;
  const m = zeros(shape, x.dtype); // 1 on selected (pos, head) cells
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const rec = (k: number, off: number): void => {
    const pick = picks[k];
    if (pick === undefined) {
      m.data[off] = 1;
      return;
    }
    for (const i of pick[1]) rec(k + 1, off + i * (strides[pick[0]] as number));
  };
  rec(0, 0);
  return m;
}

/**
 * A patch from another run's cache as a tensor of x's shape (the source's values at the target positions, zeros
 * elsewhere) and the target positions it fills.
 */
function alignedSource(
  x: Tensor,
  p: HookPoint,
  from: ActivationCache,
  positions: readonly number[] | undefined,
  sourcePositions: readonly number[] | undefined,
): { values: Tensor; positions: number[] | undefined } {
  const src = from.get(p.name);
  const what = `patch on ${p.name}`;
  const axis = positionAxis(p);
  if (src.rank !== x.rank) throw new ShapeError(`${what}: source ${fmt(src.shape)} vs activation ${fmt(x.shape)}`);
  for (let i = 0; i < x.rank; i++) {
    if (i !== axis && src.shape[i] !== x.shape[i])
      throw new ShapeError(
        `${what}: source ${fmt(src.shape)} and activation ${fmt(x.shape)} differ on axis ${p.axes[i]}, which cannot be aligned`,
      );
  }
  if (axis < 0) return { values: src.dtype === x.dtype ? src : cast(src, x.dtype), positions: undefined };
  const Pt = x.shape[axis] as number;
  const Ps = src.shape[axis] as number;
  const tPos =
    positions !== undefined
      ? resolveIndices(positions, Pt, `${what}: positions`)
      : Array.from({ length: Math.min(Pt, Ps) }, (_, i) => Pt - Math.min(Pt, Ps) + i);
  const sPos =
    sourcePositions !== undefined
      ? resolveIndices(sourcePositions, Ps, `${what}: sourcePositions`)
      : positions !== undefined
        ? tPos.map((t) => t - Pt + Ps)
        : Array.from({ length: tPos.length }, (_, i) => Ps - tPos.length + i);
  if (sPos.length !== tPos.length)
    throw new ShapeError(`${what}: ${tPos.length} target positions but ${sPos.length} source positions`);
  for (const s of sPos) {
    if (s < 0 || s >= Ps)
      throw new ShapeError(`${what}: aligned at the end, a target position falls before the source's first (source has ${Ps})`);
  }
  // copy source rows into a zero tensor of x's shape, position by position: outer × [pos] × inner
  const outer = x.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = x.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const out = new (x.dtype === "f64" ? Float64Array : Float32Array)(x.size); // [x's shape]
  const sd = src.data;
  for (let o = 0; o < outer; o++)
    tPos.forEach((t, j) => {
      const s = sPos[j] as number;
      for (let k = 0; k < inner; k++) out[(o * Pt + t) * inner + k] = sd[(o * Ps + s) * inner + k] as number;
    });
  return { values: fromTyped(out, [...x.shape], x.dtype), positions: tPos };
}

/** Applies one intervention to the activation `x` at hook point `p`; returns a new tensor. */
export function applyIntervention(x: Tensor, p: HookPoint, iv: InterventionInput): Tensor {
  let positions = iv.positions;
  let patch: Tensor | undefined;
  if (iv.kind === "patch") {
    if ("from" in iv) ({ values: patch, positions } = alignedSource(x, p, iv.from, iv.positions, iv.sourcePositions));
    else patch = iv.values instanceof Tensor ? iv.values : fromData(iv.values, x, `patch on ${p.name}`);
  }
  const sel = selection(x, p, positions, iv.heads, iv.neurons); // broadcastable to x, or null for "everywhere"
  const pick = (replacement: Tensor): Tensor => (sel ? where(cast(sel, "bool"), replacement, x) : replacement);
  switch (iv.kind) {
    case "zero":
      return sel ? where(cast(sel, "bool"), 0, x) : zeros(x.shape, x.dtype);
    case "scale":
      // 1 + (factor − 1)·mask: exactly x where unselected, and exactly x when factor = 1
      return sel ? mul(x, add(mul(sel, iv.factor - 1), 1)) : mul(x, iv.factor);
    case "add": {
      const d = x.shape[x.rank - 1] as number;
      if (iv.vector.length !== d)
        throw new ShapeError(`add on ${p.name}: vector has ${iv.vector.length} entries, the last axis ${d}`);
      const v = mul(tensor(iv.vector, [d], x.dtype), iv.coeff ?? 1); // [last axis]
      return add(x, sel ? mul(sel, v) : v);
    }
    case "patch": {
      const v = patch as Tensor;
      if (v.shape.join() !== x.shape.join())
        throw new ShapeError(`patch on ${p.name}: values ${fmt(v.shape)} != activation ${fmt(x.shape)}`);
      return pick(v.dtype === x.dtype ? v : cast(v, x.dtype));
    }
    case "meanAblate": {
      const mean = broadcastTo(fromData(iv.mean, x, `meanAblate on ${p.name}`), x.shape); // same as x
      return pick(mean);
    }
  }
}
