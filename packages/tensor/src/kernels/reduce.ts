// Reductions. The input is viewed as [outer, reduced, inner] when the reduced axes are contiguous (the common
// case); otherwise the reduced axes are first moved last by a permute.
import type { TypedArray } from "../dtype.js";
import type { Shape } from "../shape.js";
import { sizeOf } from "../shape.js";

export interface ReduceView {
  outer: number;
  red: number;
  inner: number;
}

/** Returns the [outer, red, inner] view if `axes` (sorted) are contiguous, else null. */
export function contiguousView(shape: Shape, axes: readonly number[]): ReduceView | null {
  if (axes.length === 0) return { outer: sizeOf(shape), red: 1, inner: 1 };
  for (let i = 1; i < axes.length; i++) if (axes[i] !== (axes[i - 1] as number) + 1) return null;
  const a0 = axes[0] as number;
  const a1 = (axes[axes.length - 1] as number) + 1;
  return { outer: sizeOf(shape.slice(0, a0)), red: sizeOf(shape.slice(a0, a1)), inner: sizeOf(shape.slice(a1)) };
}

export function sumView(x: TypedArray, v: ReduceView, out: TypedArray): void {
  const { outer, red, inner } = v;
  if (inner === 1) {
    for (let o = 0; o < outer; o++) {
      let s = 0;
      const b = o * red;
      for (let r = 0; r < red; r++) s += x[b + r] as number;
      out[o] = s;
    }
    return;
  }
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    acc.fill(0);
    // four rows per pass over the accumulator (a bias gradient sums 512 token rows): half the time of one row
    // per pass, which reads and writes the accumulator for every element
    let r = 0;
    for (; r + 4 <= red; r += 4) {
      const b0 = (o * red + r) * inner;
      const b1 = b0 + inner;
      const b2 = b1 + inner;
      const b3 = b2 + inner;
      for (let i = 0; i < inner; i++)
        acc[i] =
          (acc[i] as number) + ((x[b0 + i] as number) + (x[b1 + i] as number) + ((x[b2 + i] as number) + (x[b3 + i] as number)));
    }
    for (; r < red; r++) {
      const b = (o * red + r) * inner;
      for (let i = 0; i < inner; i++) acc[i] = (acc[i] as number) + (x[b + i] as number);
    }
    for (let i = 0; i < inner; i++) out[o * inner + i] = acc[i] as number;
  }
}

export function maxView(x: TypedArray, v: ReduceView, out: TypedArray, arg: Int32Array | null): void {
  const { outer, red, inner } = v;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let m = Number.NEGATIVE_INFINITY;
      let am = 0;
      for (let r = 0; r < red; r++) {
        const val = x[(o * red + r) * inner + i] as number;
        // NaN propagates like numpy/torch max
        if (val > m || Number.isNaN(val)) {
          m = val;
          am = r;
          if (Number.isNaN(val)) break;
        }
      }
      out[o * inner + i] = m;
      if (arg) arg[o * inner + i] = am;
    }
  }
}

export function logsumexpView(x: TypedArray, v: ReduceView, out: TypedArray): void {
  const { outer, red, inner } = v;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let m = Number.NEGATIVE_INFINITY;
      for (let r = 0; r < red; r++) m = Math.max(m, x[(o * red + r) * inner + i] as number);
      if (m === Number.NEGATIVE_INFINITY || Number.isNaN(m)) {
        out[o * inner + i] = m;
        continue;
      }
      let s = 0;
      for (let r = 0; r < red; r++) s += Math.exp((x[(o * red + r) * inner + i] as number) - m);
      out[o * inner + i] = m + Math.log(s);
    }
  }
}
