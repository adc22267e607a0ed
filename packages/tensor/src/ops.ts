// Forward implementations of the primitives. Each validates its arguments (errors name the op, shapes and
// dtypes), computes with a kernel, and records a tape node. Composite ops (mean, transpose, …) are built from
// primitives and get their gradients for free.
import { record } from "./autodiff.js";
import { getBackend } from "./backend.js";
import { type DType, dtypes, isFloat } from "./dtype.js";
import { arith } from "./kernels/arith.js";
import * as ew from "./kernels/elementwise.js";
import { planMatmul } from "./kernels/matmul.js";
import * as mv from "./kernels/movement.js";
import * as rd from "./kernels/reduce.js";
import type { CompareOp } from "./prims.js";
import { broadcastShapes, checkShape, DTypeError, fmt, normAxes, normAxis, type Shape, ShapeError, sizeOf } from "./shape.js";
import { empty, Storage, Tensor, zeros } from "./tensor.js";

export type Operand = Tensor | number;

function lift(x: Operand, like: Tensor): Tensor {
  if (typeof x !== "number") return x;
  const t = zeros([], like.dtype);
  t.data[0] = x;
  return t;
}

function sameDtype(op: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== b.dtype) throw new DTypeError(`${op}: dtype mismatch: ${a.dtype} and ${b.dtype}`);
}

function needFloat(op: string, x: Tensor): void {
  if (!isFloat(x.dtype)) throw new DTypeError(`${op}: expected a float dtype (f32 or f64), got ${x.dtype}`);
}

function pair(op: string, a: Operand, b: Operand): [Tensor, Tensor] {
  if (typeof a === "number" && typeof b === "number") throw new DTypeError(`${op}: at least one operand must be a tensor`);
  const ta = typeof a === "number" ? lift(a, b as Tensor) : a;
  const tb = lift(b, ta);
  sameDtype(op, ta, tb);
  return [ta, tb];
}

const binFns = {
  add: (x: number, y: number) => x + y,
  sub: (x: number, y: number) => x - y,
  mul: (x: number, y: number) => x * y,
  div: (x: number, y: number) => x / y,
  maximum: (x: number, y: number) => (x >= y || Number.isNaN(x) ? x : y),
  pow: (x: number, y: number) => x ** y,
} as const;
type BinPrim = keyof typeof binFns;

function binary(prim: BinPrim, a: Operand, b: Operand): Tensor {
  const [ta, tb] = pair(prim, a, b);
  const shape = broadcastShapes(prim, ta.shape, tb.shape);
  const out = empty(shape, ta.dtype); // broadcast of a and b
  const fast = prim !== "maximum" && prim !== "pow" && arith(prim, ta.data, ta.shape, tb.data, tb.shape, out.data, shape);
  if (!fast) ew.binary(binFns[prim], ta.data, ta.shape, tb.data, tb.shape, out.data, shape);
  return record(prim, {}, [ta, tb], out);
}

/** Elementwise sum with broadcasting. @example add(x, 1) */
export const add = (a: Operand, b: Operand): Tensor => binary("add", a, b);
export const sub = (a: Operand, b: Operand): Tensor => binary("sub", a, b);
export const mul = (a: Operand, b: Operand): Tensor => binary("mul", a, b);
export const div = (a: Operand, b: Operand): Tensor => binary("div", a, b);
export const maximum = (a: Operand, b: Operand): Tensor => binary("maximum", a, b);
export const pow = (a: Operand, b: Operand): Tensor => binary("pow", a, b);

const unFns = {
  neg: (x: number) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x: number) => 1 / Math.sqrt(x),
  tanh: Math.tanh,
  erf: ew.erf,
} as const;
type UnPrim = keyof typeof unFns;

function unary(prim: UnPrim, x: Tensor): Tensor {
  if (prim !== "neg") needFloat(prim, x);
  const out = empty(x.shape, x.dtype); // same as x
  ew.unary(unFns[prim], x.data, out.data);
  return record(prim, {}, [x], out);
}

export const neg = (x: Tensor): Tensor => unary("neg", x);
export const exp = (x: Tensor): Tensor => unary("exp", x);
export const log = (x: Tensor): Tensor => unary("log", x);
export const sqrt = (x: Tensor): Tensor => unary("sqrt", x);
export const rsqrt = (x: Tensor): Tensor => unary("rsqrt", x);
export const tanh = (x: Tensor): Tensor => unary("tanh", x);
export const erf = (x: Tensor): Tensor => unary("erf", x);

/** Picks a where cond is true, else b; all three broadcast. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const [ta, tb] = pair("where", a, b);
  if (cond.dtype !== "bool") throw new DTypeError(`where: condition must be bool, got ${cond.dtype}`);
  const shape = broadcastShapes("where", broadcastShapes("where", cond.shape, ta.shape), tb.shape);
  const out = empty(shape, ta.dtype); // broadcast of cond, a, b
  ew.where3(cond.data, cond.shape, ta.data, ta.shape, tb.data, tb.shape, out.data, shape);
  return record("where", {}, [cond, ta, tb], out);
}

const cmpFns: { [K in CompareOp]: ew.BinFn } = {
  eq: (x, y) => (x === y ? 1 : 0),
  ne: (x, y) => (x !== y ? 1 : 0),
  lt: (x, y) => (x < y ? 1 : 0),
  le: (x, y) => (x <= y ? 1 : 0),
  gt: (x, y) => (x > y ? 1 : 0),
  ge: (x, y) => (x >= y ? 1 : 0),
};

/** Elementwise comparison; returns bool and has no gradient. */
export function compare(op: CompareOp, a: Operand, b: Operand): Tensor {
  const [ta, tb] = pair(op, a, b);
  const shape = broadcastShapes(op, ta.shape, tb.shape);
  const out = empty(shape, "bool"); // broadcast of a and b
  ew.binary(cmpFns[op], ta.data, ta.shape, tb.data, tb.shape, out.data, shape);
  return record("compare", { op }, [ta, tb], out);
}

export const eq = (a: Operand, b: Operand): Tensor => compare("eq", a, b);
export const lt = (a: Operand, b: Operand): Tensor => compare("lt", a, b);
export const gt = (a: Operand, b: Operand): Tensor => compare("gt", a, b);
export const ge = (a: Operand, b: Operand): Tensor => compare("ge", a, b);
export const le = (a: Operand, b: Operand): Tensor => compare("le", a, b);
export const ne = (a: Operand, b: Operand): Tensor => compare("ne", a, b);

function reducedShape(shape: Shape, axes: readonly number[], keepDims: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepDims) out.push(1);
  });
  return out;
}

/** Returns x with `axes` moved last (a copy only when they are not already contiguous) and their view. */
function reduceView(op: string, x: Tensor, axes: readonly number[]): { data: Tensor; view: rd.ReduceView } {
  const v = rd.contiguousView(x.shape, axes);
  if (v) return { data: x, view: v };
  const rest = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const p = permute(x, [...rest, ...axes]);
  const moved = rd.contiguousView(
    p.shape,
    axes.map((_, i) => rest.length + i),
  );
  if (!moved) throw new Error(`${op}: internal error building reduce view`);
  return { data: p, view: moved };
}

type ReducePrim = "sum" | "max" | "logsumexp";

function reduce(prim: ReducePrim, x: Tensor, axesArg: number | readonly number[] | undefined, keepDims: boolean): Tensor {
  const axes = normAxes(prim, axesArg, x.rank);
  if (prim !== "sum") {
    needFloat(prim, x);
    for (const a of axes)
      if (x.shape[a] === 0) throw new ShapeError(`${prim}: cannot reduce over empty axis ${a} of ${fmt(x.shape)}`);
  }
  const shape = reducedShape(x.shape, axes, keepDims);
  // summing over size-1 axes moves no data: a reshape (and its cheap gradient) is enough
  if (prim !== "logsumexp" && axes.every((a) => x.shape[a] === 1)) return reshape(x, shape);
  const out = empty(shape, x.dtype); // x without `axes`
  const { data, view } = reduceView(prim, x, axes);
  if (prim === "sum") rd.sumView(data.data, view, out.data);
  else if (prim === "max") rd.maxView(data.data, view, out.data, null);
  else rd.logsumexpView(data.data, view, out.data);
  return record(prim, { axes, keepDims }, [x], out);
}

/** Sum over `axes` (all by default). @example sum(x, -1, true) */
export const sum = (x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor => reduce("sum", x, axes, keepDims);
export const max = (x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor => reduce("max", x, axes, keepDims);
export const logsumexp = (x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor =>
  reduce("logsumexp", x, axes, keepDims);

export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const ax = normAxes("mean", axes, x.rank);
  const n = ax.reduce((p, a) => p * (x.shape[a] as number), 1);
  return mul(sum(x, ax, keepDims), 1 / n);
}

/** Index of the maximum along `axis` (i32, no gradient). */
export function argmax(x: Tensor, axis = -1, keepDims = false): Tensor {
  const a = normAxis("argmax", axis, x.rank);
  if (x.shape[a] === 0) throw new ShapeError(`argmax: cannot reduce over empty axis ${a} of ${fmt(x.shape)}`);
  const shape = reducedShape(x.shape, [a], keepDims);
  const vals = dtypes[x.dtype].alloc(sizeOf(shape));
  const out = empty(shape, "i32"); // x without `axis`
  rd.maxView(x.data, rd.contiguousView(x.shape, [a]) as rd.ReduceView, vals, out.data as Int32Array);
  return record("argmax", { axis: a, keepDims }, [x], out);
}

/** Same elements, new shape (one entry may be -1). Shares storage. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const s = [...shape];
  const neg = s.filter((d) => d === -1).length;
  if (neg > 1) throw new ShapeError(`reshape: more than one -1 in ${fmt(shape)}`);
  if (neg === 1) {
    const known = s.reduce((p, d) => (d === -1 ? p : p * d), 1);
    if (known === 0 || x.size % known !== 0)
      throw new ShapeError(`reshape: cannot infer -1 reshaping ${fmt(x.shape)} to ${fmt(shape)}`);
    s[s.indexOf(-1)] = x.size / known;
  }
  checkShape("reshape", s);
  if (sizeOf(s) !== x.size) throw new ShapeError(`reshape: cannot reshape ${fmt(x.shape)} (${x.size}) to ${fmt(shape)}`);
  const out = new Tensor(s, x.dtype, x.store);
  return record("reshape", { shape: s }, [x], out);
}

export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  const s = broadcastShapes("broadcastTo", x.shape, shape);
  if (s.length !== shape.length || s.some((d, i) => d !== shape[i])) {
    throw new ShapeError(`broadcastTo: cannot broadcast ${fmt(x.shape)} to ${fmt(shape)}`);
  }
  const out = empty(s, x.dtype); // `shape`
  mv.broadcastTo(x.data, x.shape, out.data, s);
  return record("broadcastTo", { shape: s }, [x], out);
}

/** Reorders axes. @example permute(x, [0, 2, 1, 3]) // [batch, pos, head, d] -> [batch, head, pos, d] */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw new ShapeError(`permute: ${fmt(perm)} is not a permutation of the ${x.rank} axes of ${fmt(x.shape)}`);
  }
  const shape = perm.map((p) => x.shape[p] as number);
  const out = empty(shape, x.dtype); // x's axes in `perm` order
  mv.permute(x.data, x.shape, perm, out.data);
  return record("permute", { perm: [...perm] }, [x], out);
}

export function transpose(x: Tensor, a0 = -2, a1 = -1): Tensor {
  const i = normAxis("transpose", a0, x.rank);
  const j = normAxis("transpose", a1, x.rank);
  const perm = x.shape.map((_, k) => k);
  perm[i] = j;
  perm[j] = i;
  return permute(x, perm);
}

/** x[begin:end] per axis (negative indices count from the end; missing axes are taken whole). */
export function slice(x: Tensor, begin: readonly number[], end?: readonly number[]): Tensor {
  if (begin.length > x.rank || (end && end.length > x.rank)) {
    throw new ShapeError(`slice: ${begin.length} bounds for a tensor of shape ${fmt(x.shape)}`);
  }
  const b: number[] = [];
  const e: number[] = [];
  x.shape.forEach((d, i) => {
    let bi = begin[i] ?? 0;
    let ei = end?.[i] ?? d;
    if (bi < 0) bi += d;
    if (ei < 0) ei += d;
    if (!Number.isInteger(bi) || !Number.isInteger(ei) || bi < 0 || ei > d || bi > ei) {
      throw new ShapeError(`slice: bounds ${begin[i]}:${end?.[i] ?? d} out of range for axis ${i} of ${fmt(x.shape)}`);
    }
    b.push(bi);
    e.push(ei);
  });
  const shape = b.map((bi, i) => (e[i] as number) - bi);
  const out = empty(shape, x.dtype); // end - begin per axis
  mv.slice(x.data, x.shape, b, out.data, shape);
  return record("slice", { begin: b, end: e }, [x], out);
}

/** `len` entries of `axis` starting at `start`. */
export function narrow(x: Tensor, axis: number, start: number, len: number): Tensor {
  const a = normAxis("narrow", axis, x.rank);
  const b = x.shape.map((_, i) => (i === a ? start : 0));
  const e = x.shape.map((d, i) => (i === a ? start + len : d));
  return slice(x, b, e);
}

export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  const first = xs[0];
  if (first === undefined) throw new ShapeError("concat: needs at least one tensor");
  const a = normAxis("concat", axis, first.rank);
  for (const x of xs) {
    sameDtype("concat", first, x);
    if (x.rank !== first.rank || x.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new ShapeError(`concat: shapes ${fmt(first.shape)} and ${fmt(x.shape)} differ outside axis ${a}`);
    }
  }
  const shape = [...first.shape];
  shape[a] = xs.reduce((p, x) => p + (x.shape[a] as number), 0);
  const out = empty(shape, first.dtype); // inputs joined along `axis`
  let off = 0;
  for (const x of xs) {
    mv.place(
      x.data,
      x.shape,
      out.data,
      shape,
      shape.map((_, i) => (i === a ? off : 0)),
    );
    off += x.shape[a] as number;
  }
  return record("concat", { axis: a }, xs, out);
}

/** Selects entries of `axis` by i32 `indices` (embedding lookup: gather(W, ids, 0)). */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  const a = normAxis("gather", axis, x.rank);
  if (indices.dtype !== "i32") throw new DTypeError(`gather: indices must be i32, got ${indices.dtype}`);
  const dim = x.shape[a] as number;
  const idx = indices.data as Int32Array;
  for (let i = 0; i < idx.length; i++) {
    const v = idx[i] as number;
    if (v < 0 || v >= dim) throw new ShapeError(`gather: index ${v} out of range [0, ${dim}) for axis ${a} of ${fmt(x.shape)}`);
  }
  const shape = [...x.shape.slice(0, a), ...indices.shape, ...x.shape.slice(a + 1)];
  const remote = x.store.remote;
  let out: Tensor; // x.shape[:axis] + indices.shape + x.shape[axis+1:]
  if (remote !== null) {
    // a pinned table that a backend holds (GPT-2's embedding is also its unembedding): copy the rows out
    // there, rather than bring the whole table back for a few of them every step
    out = new Tensor(shape, x.dtype, new Storage(remote.home.gather(x.store, x.shape, a, idx)));
  } else {
    out = empty(shape, x.dtype);
    mv.gather(x.data, x.shape, a, idx, out.data);
  }
  return record("gather", { axis: a }, [x, indices], out);
}

/** Adds `updates` into a zero tensor at `indices` along `axis` (the adjoint of gather). */
export function scatterAdd(updates: Tensor, indices: Tensor, axis: number, dimSize: number): Tensor {
  if (indices.dtype !== "i32") throw new DTypeError(`scatterAdd: indices must be i32, got ${indices.dtype}`);
  const a = normAxis("scatterAdd", axis, updates.rank - indices.rank + 1);
  const lead = updates.shape.slice(0, a);
  const mid = updates.shape.slice(a, a + indices.rank);
  if (mid.length !== indices.rank || mid.some((d, i) => d !== indices.shape[i])) {
    throw new ShapeError(`scatterAdd: updates ${fmt(updates.shape)} do not match indices ${fmt(indices.shape)} at axis ${a}`);
  }
  const idx = indices.data as Int32Array;
  for (let i = 0; i < idx.length; i++) {
    const v = idx[i] as number;
    if (v < 0 || v >= dimSize) throw new ShapeError(`scatterAdd: index ${v} out of range [0, ${dimSize})`);
  }
  const tail = updates.shape.slice(a + indices.rank);
  const shape = [...lead, dimSize, ...tail];
  const out = zeros(shape, updates.dtype); // updates with the index axes replaced by dimSize
  mv.scatterAdd(updates.data, idx, sizeOf(lead), dimSize, sizeOf(tail), out.data);
  return record("scatterAdd", { axis: a, dimSize }, [updates, indices], out);
}

/** Pads each axis with `before[i]` and `after[i]` entries of `value`. */
export function pad(x: Tensor, before: readonly number[], after: readonly number[], value = 0): Tensor {
  if (before.length !== x.rank || after.length !== x.rank || [...before, ...after].some((p) => !Number.isInteger(p) || p < 0)) {
    throw new ShapeError(`pad: need ${x.rank} non-negative before/after amounts for ${fmt(x.shape)}`);
  }
  const shape = x.shape.map((d, i) => d + (before[i] as number) + (after[i] as number));
  checkShape("pad", shape);
  const out = zeros(shape, x.dtype); // x grown by the pads
  if (value !== 0) out.data.fill(value);
  mv.place(x.data, x.shape, out.data, shape, before);
  return record("pad", { before: [...before], after: [...after], value }, [x], out);
}

/**
 * Batched matrix product with broadcasting batch dims and optional transposes of the last two axes.
 * @example matmul(x, w) // [batch, pos, d_model] · [d_model, d_mlp] -> [batch, pos, d_mlp]
 */
export function matmul(a: Tensor, b: Tensor, opts: { transA?: boolean; transB?: boolean } = {}): Tensor {
  sameDtype("matmul", a, b);
  needFloat("matmul", a);
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const plan = planMatmul(a.shape, b.shape, transA, transB);
  const out = getBackend().matmul(a, b, transA, transB, plan); // [...batch, M, N]
  return record("matmul", { transA, transB }, [a, b], out);
}

/**
 * A linear layer, x·w + bias: the same numbers as `add(matmul(x, w), bias)` — the bias added to each f32 product
 * once, as add would — but in one backend call and without a second tensor of the output's size, where a batch's
 * bias adds had cost as much as a third of its matmuls' time in JavaScript.
 * @example linear(x, w, b, { transB: true }) // [batch, pos, d_in] · [d_out, d_in]ᵀ + [d_out] -> [batch, pos, d_out]
 */
export function linear(x: Tensor, w: Tensor, bias: Tensor, opts: { transB?: boolean } = {}): Tensor {
  sameDtype("linear", x, w);
  sameDtype("linear", x, bias);
  needFloat("linear", x);
  const transB = opts.transB ?? false;
  if (w.rank !== 2) throw new ShapeError(`linear: the weight must be a matrix, got ${fmt(w.shape)}`);
  const plan = planMatmul(x.shape, w.shape, false, transB);
  if (bias.rank !== 1 || bias.shape[0] !== plan.N)
    throw new ShapeError(`linear: the bias must be [${plan.N}] for weight ${fmt(w.shape)}, got ${fmt(bias.shape)}`);
  const be = getBackend();
  let out = be.linear?.(x, w, bias, transB, plan) ?? null; // [..., N], or null: the product here and the bias below
  if (out === null) {
    out = be.matmul(x, w, false, transB, plan); // [..., N], a fresh tensor: the bias goes in place
    const O = out.data;
    const B = bias.data;
    const N = plan.N;
    for (let i = 0; i < O.length; i += N) for (let j = 0; j < N; j++) O[i + j] = (O[i + j] as number) + (B[j] as number);
  }
  return record("linear", { transB }, [x, w, bias], out);
}

/**
 * `a` times each of `bs`: the same numbers and gradients as one `matmul` per weight, in one backend call where
 * the backend has a cost per call (three projections of one input cost the `ort` backend one worker round
 * trip instead of three). A profile sees each product as a matmul, the shared call's time on the first.
 * @example const [q, k, v] = matmuls(x, [wq, wk, wv], { transB: true }) // [batch, pos, d_model] · [out, d_model]ᵀ
 */
export function matmuls(a: Tensor, bs: readonly Tensor[], opts: { transA?: boolean; transB?: boolean } = {}): Tensor[] {
  needFloat("matmul", a);
  for (const b of bs) sameDtype("matmul", a, b);
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const plans = bs.map((b) => planMatmul(a.shape, b.shape, transA, transB));
  const outs = getBackend().matmuls(a, bs, transA, transB, plans); // each [...batch, M, N_i]
  return outs.map((out, i) => record("matmul", { transA, transB }, [a, bs[i] as Tensor], out));
}

export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  const out = empty(x.shape, dtype); // same as x
  const s = x.data;
  const d = out.data;
  if (dtype === "bool") for (let i = 0; i < s.length; i++) d[i] = s[i] ? 1 : 0;
  else if (dtype === "i32") for (let i = 0; i < s.length; i++) d[i] = Math.trunc(s[i] as number);
  else d.set(s);
  return record("cast", { dtype }, [x], out);
}

export { needFloat, sameDtype };
