// Elementwise kernels on plain typed arrays. Hot arithmetic (add/sub/mul/div) gets dedicated loops for the
// layouts transformer code produces (same shape, scalar, trailing-dims bias); everything else goes through
// one strided loop.
import type { TypedArray } from "../dtype.js";
import type { Shape } from "../shape.js";
import { stridesOf } from "../shape.js";

export type BinFn = (x: number, y: number) => number;

/** Strides of `shape` seen from a broadcast `out` shape (0 along broadcast axes). */
export function broadcastStrides(shape: Shape, out: Shape): number[] {
  const st = stridesOf(shape);
  const r = new Array<number>(out.length).fill(0);
  const off = out.length - shape.length;
  for (let i = 0; i < shape.length; i++) r[i + off] = shape[i] === 1 ? 0 : (st[i] as number);
  return r;
}

/** `small` equals the trailing dims of `out` once its own leading 1s are dropped (a bias against activations). */
export function isSuffix(small: Shape, out: Shape): boolean {
  let s = 0;
  while (s < small.length && small[s] === 1) s++;
  const k = small.length - s;
  if (k > out.length) return false;
  for (let i = 0; i < k; i++) if (small[s + i] !== out[out.length - k + i]) return false;
  return true;
}

/** out[i] = f(a[ia], b[ib]) with NumPy broadcasting. */
export function binary(
  f: BinFn,
  a: TypedArray,
  aShape: Shape,
  b: TypedArray,
  bShape: Shape,
  out: TypedArray,
  outShape: Shape,
): void {
  const n = out.length;
  const na = a.length;
  const nb = b.length;
  if (na === n && nb === n) {
    for (let i = 0; i < n; i++) out[i] = f(a[i] as number, b[i] as number);
    return;
  }
  if (nb === 1) {
    const y = b[0] as number;
    if (na === n) {
      for (let i = 0; i < n; i++) out[i] = f(a[i] as number, y);
      return;
    }
  }
  if (na === 1) {
    const x = a[0] as number;
    if (nb === n) {
      for (let i = 0; i < n; i++) out[i] = f(x, b[i] as number);
      return;
    }
  }
  if (na === n && isSuffix(bShape, outShape)) {
    for (let o = 0; o < n; o += nb) for (let j = 0; j < nb; j++) out[o + j] = f(a[o + j] as number, b[j] as number);
    return;
  }
  if (nb === n && isSuffix(aShape, outShape)) {
    for (let o = 0; o < n; o += na) for (let j = 0; j < na; j++) out[o + j] = f(a[j] as number, b[o + j] as number);
    return;
  }
  stridedBinary(f, a, aShape, b, bShape, out, outShape);
}

function stridedBinary(
  f: BinFn,
  a: TypedArray,
  aShape: Shape,
  b: TypedArray,
  bShape: Shape,
  out: TypedArray,
  outShape: Shape,
): void {
  const r = outShape.length;
  const n = out.length;
  if (n === 0) return;
  if (r === 0) {
    out[0] = f(a[0] as number, b[0] as number);
    return;
  }
  const sa = broadcastStrides(aShape, outShape);
  const sb = broadcastStrides(bShape, outShape);
  const last = outShape[r - 1] as number;
  const la = sa[r - 1] as number;
  const lb = sb[r - 1] as number;
  const idx = new Array<number>(r).fill(0);
  let ia = 0;
  let ib = 0;
  for (let o = 0; o < n; o += last) {
    let pa = ia;
    let pb = ib;
    for (let j = 0; j < last; j++, pa += la, pb += lb) out[o + j] = f(a[pa] as number, b[pb] as number);
    // advance the odometer over all but the last axis
    for (let d = r - 2; d >= 0; d--) {
      idx[d] = (idx[d] as number) + 1;
      ia += sa[d] as number;
      ib += sb[d] as number;
      if ((idx[d] as number) < (outShape[d] as number)) break;
      ia -= (sa[d] as number) * (outShape[d] as number);
      ib -= (sb[d] as number) * (outShape[d] as number);
      idx[d] = 0;
    }
  }
}

/** out = where(c, a, b) with broadcasting of all three to outShape. */
export function where3(
  c: TypedArray,
  cShape: Shape,
  a: TypedArray,
  aShape: Shape,
  b: TypedArray,
  bShape: Shape,
  out: TypedArray,
  outShape: Shape,
): void {
  const r = outShape.length;
  const n = out.length;
  const sc = broadcastStrides(cShape, outShape);
  const sa = broadcastStrides(aShape, outShape);
  const sb = broadcastStrides(bShape, outShape);
  const idx = new Array<number>(r).fill(0);
  for (let o = 0; o < n; o++) {
    let ic = 0;
    let ia = 0;
    let ib = 0;
    for (let d = 0; d < r; d++) {
      const i = idx[d] as number;
      ic += i * (sc[d] as number);
      ia += i * (sa[d] as number);
      ib += i * (sb[d] as number);
    }
    out[o] = c[ic] ? (a[ia] as number) : (b[ib] as number);
    for (let d = r - 1; d >= 0; d--) {
      idx[d] = (idx[d] as number) + 1;
      if ((idx[d] as number) < (outShape[d] as number)) break;
      idx[d] = 0;
    }
  }
}

export function unary(f: (x: number) => number, a: TypedArray, out: TypedArray): void {
  const n = out.length;
  for (let i = 0; i < n; i++) out[i] = f(a[i] as number);
}

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/**
 * erf to ~1e-15: the Maclaurin series below |x| = 2.5 and the continued fraction of erfc above it (modified
 * Lentz). Short polynomial fits (Abramowitz–Stegun 7.1.26, ~1e-7) are too coarse for float64 gradient checks.
 */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (Number.isNaN(x)) return x;
  if (ax < 2.5) {
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 1; n < 80; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return TWO_OVER_SQRT_PI * sum;
  }
  if (ax > 6) return Math.sign(x);
  // erfc(x) = exp(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …)))))
  const tiny = 1e-300;
  let f = ax;
  let C = ax;
  let D = 0;
  for (let k = 1; k < 200; k++) {
    const a = k / 2;
    D = ax + a * D;
    D = Math.abs(D) < tiny ? tiny : D;
    C = ax + a / C;
    C = Math.abs(C) < tiny ? tiny : C;
    D = 1 / D;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return x < 0 ? erfc - 1 : 1 - erfc;
}
