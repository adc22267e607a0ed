// Matrix multiply: shape rules shared by all backends, and the plain-TS reference kernel (the oracle; the
// `ort` backend replaces it with MLAS).
import { type DType, dtypes, type TypedArray } from "../dtype.js";
import { broadcastShapes, fmt, type Shape, ShapeError, sizeOf, stridesOf } from "../shape.js";

export interface MatmulPlan {
  batch: number[];
  M: number;
  K: number;
  N: number;
  outShape: number[];
}

/** Validates a [..., M, K] · [..., K, N] product (with optional transposes); names both shapes on error. */
export function planMatmul(aShape: Shape, bShape: Shape, transA: boolean, transB: boolean): MatmulPlan {
  if (aShape.length < 2 || bShape.length < 2) {
    throw new ShapeError(`matmul: both operands need rank >= 2, got ${fmt(aShape)} and ${fmt(bShape)}`);
  }
  const ra = aShape.length;
  const rb = bShape.length;
  const M = aShape[transA ? ra - 1 : ra - 2] as number;
  const Ka = aShape[transA ? ra - 2 : ra - 1] as number;
  const Kb = bShape[transB ? rb - 1 : rb - 2] as number;
  const N = bShape[transB ? rb - 2 : rb - 1] as number;
  if (Ka !== Kb) {
    throw new ShapeError(
      `matmul: inner dimensions differ: ${fmt(aShape)}${transA ? "ᵀ" : ""} · ${fmt(bShape)}${transB ? "ᵀ" : ""} (${Ka} vs ${Kb})`,
    );
  }
  const batch = broadcastShapes("matmul", aShape.slice(0, -2), bShape.slice(0, -2));
  return { batch, M, K: Ka, N, outShape: [...batch, M, N] };
}

function batchOffsets(shape: Shape, batch: readonly number[], matSize: number): Int32Array {
  const bs = shape.slice(0, -2);
  const st = stridesOf(bs);
  const off = batch.length - bs.length;
  const n = sizeOf(batch);
  const out = new Int32Array(n);
  const idx = new Array<number>(batch.length).fill(0);
  for (let i = 0; i < n; i++) {
    let o = 0;
    for (let d = 0; d < bs.length; d++) if (bs[d] !== 1) o += (idx[d + off] as number) * (st[d] as number);
    out[i] = o * matSize;
    for (let d = batch.length - 1; d >= 0; d--) {
      idx[d] = (idx[d] as number) + 1;
      if ((idx[d] as number) < (batch[d] as number)) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** Plain-TS i-k-j kernel with float64 row accumulators. Slow (about 1 GFLOP/s) but exact to rounding. */
export function matmulRef(
  a: TypedArray,
  aShape: Shape,
  b: TypedArray,
  bShape: Shape,
  transA: boolean,
  transB: boolean,
  plan: MatmulPlan,
  out: TypedArray,
): void {
  const { M, K, N, batch } = plan;
  const offA = batchOffsets(aShape, batch, M * K);
  const offB = batchOffsets(bShape, batch, K * N);
  const acc = new Float64Array(N);
  const bt = transB ? new Float64Array(K * N) : null;
  for (let t = 0; t < offA.length; t++) {
    const oa = offA[t] as number;
    const ob = offB[t] as number;
    if (bt) for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) bt[k * N + n] = b[ob + n * K + k] as number;
    const bb: ArrayLike<number> = bt ?? b;
    const bo = bt ? 0 : ob;
    for (let i = 0; i < M; i++) {
      acc.fill(0);
      for (let k = 0; k < K; k++) {
        const av = (transA ? a[oa + k * M + i] : a[oa + i * K + k]) as number;
        const row = bo + k * N;
        for (let n = 0; n < N; n++) acc[n] = (acc[n] as number) + av * (bb[row + n] as number);
      }
      const o = (t * M + i) * N;
      for (let n = 0; n < N; n++) out[o + n] = acc[n] as number;
    }
  }
}

export function allocFor(dtype: DType, n: number): TypedArray {
  return dtypes[dtype].alloc(n);
}
