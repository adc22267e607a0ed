// Data movement kernels. All tensors are contiguous row-major, so every movement op is one copy loop.
// A contiguous run of at least RUN elements is copied with TypedArray.set (a memcpy): these kernels see every
// dtype, so V8's element accesses in the loops are polymorphic, ~2 ns an element against ~0.3 for the memcpy
// (a head split of a 32 × 64-token batch: 3.3 ms against 0.5).
const RUN = 16;

import type { TypedArray } from "../dtype.js";
import type { Shape } from "../shape.js";
import { sizeOf, stridesOf } from "../shape.js";
import { broadcastStrides } from "./elementwise.js";

/** Generic strided copy: out (contiguous, outShape) reads x at sum(idx[d] * xStrides[d]) + offset. */
export function stridedCopy(x: TypedArray, xStrides: readonly number[], offset: number, out: TypedArray, outShape: Shape): void {
  const r = outShape.length;
  const n = out.length;
  if (n === 0) return;
  if (r === 0) {
    out[0] = x[offset] as number;
    return;
  }
  const last = outShape[r - 1] as number;
  const ls = xStrides[r - 1] as number;
  const idx = new Array<number>(r).fill(0);
  let base = offset;
  const run = ls === 1 && last >= RUN && x.constructor === out.constructor;
  for (let o = 0; o < n; o += last) {
    if (run) out.set(x.subarray(base, base + last), o);
    else if (ls === 1) for (let j = 0; j < last; j++) out[o + j] = x[base + j] as number;
    else for (let j = 0, p = base; j < last; j++, p += ls) out[o + j] = x[p] as number;
    for (let d = r - 2; d >= 0; d--) {
      idx[d] = (idx[d] as number) + 1;
      base += xStrides[d] as number;
      if ((idx[d] as number) < (outShape[d] as number)) break;
      base -= (xStrides[d] as number) * (outShape[d] as number);
      idx[d] = 0;
    }
  }
}

export function permute(x: TypedArray, shape: Shape, perm: readonly number[], out: TypedArray): void {
  const st = stridesOf(shape);
  const outShape = perm.map((p) => shape[p] as number);
  const ps = perm.map((p) => st[p] as number);
  if (outShape.length >= 2 && perm.length === shape.length) {
    const r = perm.length;
    // 2-D tile transpose of the last two axes: cache-friendly for the attention-shaped transposes
    if (perm[r - 1] === r - 2 && perm[r - 2] === r - 1 && perm.slice(0, r - 2).every((p, i) => p === i)) {
      const rows = shape[r - 2] as number;
      const cols = shape[r - 1] as number;
      const batch = sizeOf(shape.slice(0, r - 2));
      const B = 32;
      for (let bt = 0; bt < batch; bt++) {
        const o = bt * rows * cols;
        for (let i0 = 0; i0 < rows; i0 += B)
          for (let j0 = 0; j0 < cols; j0 += B) {
            const i1 = Math.min(rows, i0 + B);
            const j1 = Math.min(cols, j0 + B);
            for (let i = i0; i < i1; i++) for (let j = j0; j < j1; j++) out[o + j * rows + i] = x[o + i * cols + j] as number;
          }
      }
      return;
    }
  }
  stridedCopy(x, ps, 0, out, outShape);
}

export function slice(x: TypedArray, shape: Shape, begin: readonly number[], out: TypedArray, outShape: Shape): void {
  const st = stridesOf(shape);
  let off = 0;
  for (let d = 0; d < shape.length; d++) off += (begin[d] as number) * (st[d] as number);
  stridedCopy(x, st, off, out, outShape);
}

export function broadcastTo(x: TypedArray, shape: Shape, out: TypedArray, outShape: Shape): void {
  stridedCopy(x, broadcastStrides(shape, outShape), 0, out, outShape);
}

/** Copies `x` (shape) into `out` (outShape) at `begin`; the rest of out is untouched. */
export function place(x: TypedArray, shape: Shape, out: TypedArray, outShape: Shape, begin: readonly number[]): void {
  blockWalk(x, shape, out, outShape, begin, false);
}

/** Adds `x` (shape) into `out` (outShape) at `begin`, in place: the adjoint of a slice, accumulated. */
export function placeAdd(x: TypedArray, shape: Shape, out: TypedArray, outShape: Shape, begin: readonly number[]): void {
  blockWalk(x, shape, out, outShape, begin, true);
}

/** The rows of `x` written (or added) into the block of `out` at `begin`. */
function blockWalk(x: TypedArray, shape: Shape, out: TypedArray, outShape: Shape, begin: readonly number[], add: boolean): void {
  const r = shape.length;
  const n = x.length;
  if (n === 0) return;
  if (r === 0) {
    out[0] = add ? (out[0] as number) + (x[0] as number) : (x[0] as number);
    return;
  }
  const ost = stridesOf(outShape);
  let base = 0;
  for (let d = 0; d < r; d++) base += (begin[d] as number) * (ost[d] as number);
  const last = shape[r - 1] as number;
  const idx = new Array<number>(r).fill(0);
  const run = !add && last >= RUN && x.constructor === out.constructor;
  for (let i = 0; i < n; i += last) {
    if (run) out.set(x.subarray(i, i + last), base);
    else if (add) for (let j = 0; j < last; j++) out[base + j] = (out[base + j] as number) + (x[i + j] as number);
    else for (let j = 0; j < last; j++) out[base + j] = x[i + j] as number;
    for (let d = r - 2; d >= 0; d--) {
      idx[d] = (idx[d] as number) + 1;
      base += ost[d] as number;
      if ((idx[d] as number) < (shape[d] as number)) break;
      base -= (ost[d] as number) * (shape[d] as number);
      idx[d] = 0;
    }
  }
}

/** out[o, i, k] = x[o, idx[i], k] with o over shape[:axis] and k over shape[axis+1:]. */
export function gather(x: TypedArray, shape: Shape, axis: number, idx: Int32Array, out: TypedArray): void {
  const outer = sizeOf(shape.slice(0, axis));
  const dim = shape[axis] as number;
  const inner = sizeOf(shape.slice(axis + 1));
  const m = idx.length;
  const run = inner >= RUN && x.constructor === out.constructor;
  let p = 0;
  for (let o = 0; o < outer; o++) {
    const base = o * dim * inner;
    for (let i = 0; i < m; i++) {
      const src = base + (idx[i] as number) * inner;
      if (run) {
        out.set(x.subarray(src, src + inner), p);
        p += inner;
      } else for (let k = 0; k < inner; k++) out[p++] = x[src + k] as number;
    }
  }
}

/** The adjoint of gather: out[o, idx[i], k] += u[o, i, k]; out must be zeroed. */
export function scatterAdd(u: TypedArray, idx: Int32Array, outer: number, dim: number, inner: number, out: TypedArray): void {
  const m = idx.length;
  let p = 0;
  for (let o = 0; o < outer; o++) {
    const base = o * dim * inner;
    for (let i = 0; i < m; i++) {
      const dst = base + (idx[i] as number) * inner;
      for (let k = 0; k < inner; k++) out[dst + k] = (out[dst + k] as number) + (u[p++] as number);
    }
  }
}
