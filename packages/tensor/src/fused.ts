// Fused composites: one loop per op instead of a chain of primitives, each with its own backward kernel
// (used by vjp.ts). These are where transformer time goes outside the matmuls.
import { activeTape, record } from "./autodiff.js";
import { getBackend } from "./backend.js";
import type { DType, TypedArray } from "./dtype.js";
import { erf as erfScalar } from "./kernels/elementwise.js";
import { planMatmul } from "./kernels/matmul.js";
import { permute as permuteKernel } from "./kernels/movement.js";
import * as rd from "./kernels/reduce.js";
import { needFloat, sameDtype } from "./ops.js";
import { broadcastShapes, fmt, normAxis, ShapeError, sizeOf } from "./shape.js";
import { empty, fromTyped, type Tensor } from "./tensor.js";

// ---------------------------------------------------------------- softmax / log-softmax

function axisView(op: string, x: Tensor, axis: number): { a: number; v: rd.ReduceView } {
  const a = normAxis(op, axis, x.rank);
  return { a, v: rd.contiguousView(x.shape, [a]) as rd.ReduceView };
}

function softmaxKernel(x: TypedArray, v: rd.ReduceView, out: TypedArray, logOut: boolean): void {
  const { outer, red, inner } = v;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * red * inner + i;
      let m = Number.NEGATIVE_INFINITY;
      for (let r = 0; r < red; r++) m = Math.max(m, x[base + r * inner] as number);
      if (m === Number.NEGATIVE_INFINITY) {
        // a fully masked row: zeros (softmax) / -inf (log-softmax) instead of NaN
        for (let r = 0; r < red; r++) out[base + r * inner] = logOut ? Number.NEGATIVE_INFINITY : 0;
        continue;
      }
      let s = 0;
      for (let r = 0; r < red; r++) {
        const e = Math.exp((x[base + r * inner] as number) - m);
        if (!logOut) out[base + r * inner] = e;
        s += e;
      }
      if (logOut) {
        const lse = m + Math.log(s);
        for (let r = 0; r < red; r++) out[base + r * inner] = (x[base + r * inner] as number) - lse;
      } else {
        const inv = 1 / s;
        for (let r = 0; r < red; r++) out[base + r * inner] = (out[base + r * inner] as number) * inv;
      }
    }
  }
}

/** softmax along `axis` (last by default). */
export function softmax(x: Tensor, axis = -1): Tensor {
  needFloat("softmax", x);
  const { a, v } = axisView("softmax", x, axis);
  const out = empty(x.shape, x.dtype); // same as x
  softmaxKernel(x.data, v, out.data, false);
  return record("softmax", { axis: a }, [x], out);
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  needFloat("logSoftmax", x);
  const { a, v } = axisView("logSoftmax", x, axis);
  const out = empty(x.shape, x.dtype); // same as x
  softmaxKernel(x.data, v, out.data, true);
  return record("logSoftmax", { axis: a }, [x], out);
}

// ---------------------------------------------------------------- cross-entropy

/**
 * Weighted cross-entropy of rows: Σᵢ wᵢ·(logsumexp(x[i, :]) − x[i, tᵢ]) for x [n, C], class indices `targets`
 * (n) and `weights` (n; a row of weight 0 is skipped: its target is not read). One read of x forward (the
 * per-row log-sum-exp, kept for backward) and one write of dx backward, where the chain of primitives
 * (logsumexp, gather, sub, mul) makes five tensors of x's size in backward alone: on a language model's logits
 * ([tokens, vocab], 100 MB for 512 tokens of GPT-2) that chain was a sixth of a training step.
 * @example crossEntropy(logits, Int32Array.of(3, 0), Float32Array.of(0.5, 0.5)) // [] the mean over two rows
 */
export function crossEntropy(x: Tensor, targets: Int32Array, weights: Float32Array | Float64Array): Tensor {
  needFloat("crossEntropy", x);
  if (x.rank !== 2) throw new ShapeError(`crossEntropy: x must be [n, classes], got ${fmt(x.shape)}`);
  const [n, C] = x.shape as [number, number];
  if (targets.length !== n || weights.length !== n)
    throw new ShapeError(`crossEntropy: ${n} rows but ${targets.length} targets and ${weights.length} weights`);
  for (let i = 0; i < n; i++) {
    const t = targets[i] as number;
    if (weights[i] !== 0 && !(Number.isInteger(t) && t >= 0 && t < C))
      throw new RangeError(`crossEntropy: target ${t} of row ${i} is not in [0, ${C})`);
  }
  const { exps, invSum, loss } = crossEntropyExps(x, targets, weights);
  const out = empty([], x.dtype); // []
  out.data[0] = loss;
  return record("crossEntropy", { targets, weights, exps, invSum, spent: { value: false } }, [x], out);
}

/**
 * The forward pass's exps of x [n, C] (for rows of nonzero weight), each row's 1 / Σ exps and the weighted loss;
 * the backward rule calls it again when a second backward pass finds the first one's gradient written over them.
 */
export function crossEntropyExps(
  x: Tensor,
  targets: Int32Array,
  weights: Float32Array | Float64Array,
): { exps: TypedArray; invSum: Float64Array; loss: number } {
  const [n, C] = x.shape as [number, number];
  const invSum = new Float64Array(n); // [n]
  // the exps of every row read, kept for backward: computed here anyway, keeping them spares the backward pass an
  // exp per logit (a pass over [tokens, vocab]) for one write of x's size, as torch keeps its log-softmax. A
  // backend's softmax (vectorized, every thread: the exps are most of this op's time on a language model's logits)
  // gives them normalized, so invSum is 1 there; the row's loss is then −log P[t], exact to P's rounding
  // (~6e-8 nats), except where P[t] is too small for that (or the row is not finite): such rows are redone below.
  const fast = getBackend().softmax?.(x) ?? null; // [n, classes] softmax rows, or null
  const P = fast === null ? empty(x.shape, x.dtype).data : fast.data; // [n, classes]
  const X = x.data; // (read after the backend's call, which hands x's buffer over and back)
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const w = weights[i] as number;
    if (w === 0) continue;
    const t = targets[i] as number;
    const base = i * C;
    if (fast !== null) {
      const pt = P[base + t] as number;
      if (pt >= 1e-30 && pt <= 1) {
        invSum[i] = 1;
        loss += w * -Math.log(pt);
        continue;
      }
    }
    let max = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < C; c++) max = Math.max(max, X[base + c] as number);
    let s = 0;
    for (let c = 0; c < C; c++) {
      const e = Math.exp((X[base + c] as number) - max);
      P[base + c] = e;
      s += e;
    }
    invSum[i] = 1 / s;
    loss += w * (max + Math.log(s) - (X[base + t] as number));
  }
  return { exps: P, invSum, loss };
}

/**
 * dx[i, c] = g·wᵢ·(softmax(x[i])[c] − [c = tᵢ]), the softmax from the forward's exps; rows of weight 0 get 0.
 * `overExps` writes dx over the exps (each element is read before it is written), which the caller then no longer
 * has: on a language model's logits that is one [tokens, vocab] buffer fewer to allocate and fault in per step.
 */
export function crossEntropyBackward(
  x: Tensor,
  g: Tensor,
  targets: Int32Array,
  weights: Float32Array | Float64Array,
  exps: TypedArray,
  invSum: Float64Array,
  overExps = false,
): Tensor {
  const [n, C] = x.shape as [number, number];
  const dx = overExps ? fromTyped(exps, x.shape, x.dtype) : empty(x.shape, x.dtype); // [n, classes]
  const E = exps;
  const D = dx.data;
  const G = g.data[0] as number;
  for (let i = 0; i < n; i++) {
    const base = i * C;
    const s = G * (weights[i] as number);
    if (s === 0) {
      D.fill(0, base, base + C);
      continue;
    }
    const k = s * (invSum[i] as number);
    for (let c = 0; c < C; c++) D[base + c] = k * (E[base + c] as number);
    D[base + (targets[i] as number)] = (D[base + (targets[i] as number)] as number) - s;
  }
  return dx;
}

/** dx = y * (g - sum(g * y)) for softmax; dx = g - exp(y) * sum(g) for log-softmax. */
export function softmaxBackward(y: Tensor, g: Tensor, axis: number, isLog: boolean): Tensor {
  const v = rd.contiguousView(y.shape, [axis]) as rd.ReduceView;
  const out = empty(y.shape, y.dtype); // same as y
  const Y = y.data;
  const G = g.data;
  const O = out.data;
  const { outer, red, inner } = v;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * red * inner + i;
      let s = 0;
      for (let r = 0; r < red; r++) {
        const p = base + r * inner;
        s += isLog ? (G[p] as number) : (G[p] as number) * (Y[p] as number);
      }
      for (let r = 0; r < red; r++) {
        const p = base + r * inner;
        O[p] = isLog ? (G[p] as number) - Math.exp(Y[p] as number) * s : (Y[p] as number) * ((G[p] as number) - s);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- layer norm / RMS norm

function checkNormParam(op: string, x: Tensor, p: Tensor | undefined, what: string): void {
  if (p === undefined) return;
  sameDtype(op, x, p);
  const D = x.shape[x.rank - 1];
  if (p.rank !== 1 || p.shape[0] !== D)
    throw new ShapeError(`${op}: ${what} shape ${fmt(p.shape)} must be [${D}] for input ${fmt(x.shape)}`);
}

/**
 * Layer norm over the last axis: (x - mean) / sqrt(var + eps) * weight + bias (biased variance, as PyTorch).
 * @example layerNorm(x, w, b, 1e-5) // [batch, pos, d_model]
 */
export function layerNorm(x: Tensor, weight?: Tensor, bias?: Tensor, eps = 1e-5): Tensor {
  needFloat("layerNorm", x);
  if (x.rank < 1) throw new ShapeError("layerNorm: input must have rank >= 1");
  checkNormParam("layerNorm", x, weight, "weight");
  checkNormParam("layerNorm", x, bias, "bias");
  const D = x.shape[x.rank - 1] as number;
  const rows = D === 0 ? 0 : x.size / D;
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  const out = empty(x.shape, x.dtype); // same as x
  const X = x.data;
  const O = out.data;
  const W = weight?.data;
  const B = bias?.data;
  // the two sums run in four interleaved accumulators: one chain of dependent adds per row was most of the time
  const D4 = D - (D % 4);
  for (let r = 0; r < rows; r++) {
    const o = r * D;
    let m0 = 0;
    let m1 = 0;
    let m2 = 0;
    let m3 = 0;
    let j = 0;
    for (; j < D4; j += 4) {
      m0 += X[o + j] as number;
      m1 += X[o + j + 1] as number;
      m2 += X[o + j + 2] as number;
      m3 += X[o + j + 3] as number;
    }
    for (; j < D; j++) m0 += X[o + j] as number;
    const m = (m0 + m1 + m2 + m3) / D;
    let v0 = 0;
    let v1 = 0;
    let v2 = 0;
    let v3 = 0;
    for (j = 0; j < D4; j += 4) {
      const d0 = (X[o + j] as number) - m;
      const d1 = (X[o + j + 1] as number) - m;
      const d2 = (X[o + j + 2] as number) - m;
      const d3 = (X[o + j + 3] as number) - m;
      v0 += d0 * d0;
      v1 += d1 * d1;
      v2 += d2 * d2;
      v3 += d3 * d3;
    }
    for (; j < D; j++) {
      const d = (X[o + j] as number) - m;
      v0 += d * d;
    }
    const rs = 1 / Math.sqrt((v0 + v1 + v2 + v3) / D + eps);
    mean[r] = m;
    rstd[r] = rs;
    if (W && B) for (j = 0; j < D; j++) O[o + j] = ((X[o + j] as number) - m) * rs * (W[j] as number) + (B[j] as number);
    else
      for (j = 0; j < D; j++) {
        let y = ((X[o + j] as number) - m) * rs;
        if (W) y *= W[j] as number;
        if (B) y += B[j] as number;
        O[o + j] = y;
      }
  }
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  return record("layerNorm", { eps, hasWeight: !!weight, hasBias: !!bias, mean, rstd }, inputs, out);
}

/** Gradients of layer norm (dx, dweight, dbias) from the saved mean and 1/std. */
export function layerNormBackward(
  x: Tensor,
  weight: Tensor | undefined,
  g: Tensor,
  mean: Float64Array,
  rstd: Float64Array,
  wantBias: boolean,
): { dx: Tensor; dw: Tensor | null; db: Tensor | null } {
  const D = x.shape[x.rank - 1] as number;
  const rows = mean.length;
  const dx = empty(x.shape, x.dtype); // same as x
  const dwAcc = new Float64Array(D);
  const dbAcc = new Float64Array(D);
  const X = x.data;
  const G = g.data;
  // no weight: ones, which multiply exactly (one loop for both cases: a test inside the loop cost a third of it)
  const W = weight?.data ?? new Float64Array(D).fill(1);
  const DX = dx.data;
  for (let r = 0; r < rows; r++) {
    const o = r * D;
    const m = mean[r] as number;
    const rs = rstd[r] as number;
    // the row sums in two interleaved accumulators each (one chain of dependent adds was the loop's bound)
    let s1 = 0;
    let s2 = 0;
    let t1 = 0;
    let t2 = 0;
    let j = 0;
    for (; j + 1 < D; j += 2) {
      const xh = ((X[o + j] as number) - m) * rs;
      const xh1 = ((X[o + j + 1] as number) - m) * rs;
      const gj = G[o + j] as number;
      const gj1 = G[o + j + 1] as number;
      const dxh = gj * (W[j] as number);
      const dxh1 = gj1 * (W[j + 1] as number);
      s1 += dxh;
      t1 += dxh1;
      s2 += dxh * xh;
      t2 += dxh1 * xh1;
      dwAcc[j] = (dwAcc[j] as number) + gj * xh;
      dwAcc[j + 1] = (dwAcc[j + 1] as number) + gj1 * xh1;
      dbAcc[j] = (dbAcc[j] as number) + gj;
      dbAcc[j + 1] = (dbAcc[j + 1] as number) + gj1;
    }
    for (; j < D; j++) {
      const xh = ((X[o + j] as number) - m) * rs;
      const gj = G[o + j] as number;
      const dxh = gj * (W[j] as number);
      s1 += dxh;
      s2 += dxh * xh;
      dwAcc[j] = (dwAcc[j] as number) + gj * xh;
      dbAcc[j] = (dbAcc[j] as number) + gj;
    }
    s1 = (s1 + t1) / D;
    s2 = (s2 + t2) / D;
    for (let j = 0; j < D; j++) {
      const xh = ((X[o + j] as number) - m) * rs;
      const gj = G[o + j] as number;
      const dxh = gj * (W[j] as number);
      DX[o + j] = rs * (dxh - s1 - xh * s2);
    }
  }
  const mk = (acc: Float64Array): Tensor => {
    const t = empty([D], x.dtype); // [d]
    t.data.set(acc);
    return t;
  };
  return { dx, dw: weight ? mk(dwAcc) : null, db: wantBias ? mk(dbAcc) : null };
}

/** RMS norm over the last axis: x / sqrt(mean(x²) + eps) * weight (Llama, Mistral, Qwen2). */
export function rmsNorm(x: Tensor, weight?: Tensor, eps = 1e-6): Tensor {
  needFloat("rmsNorm", x);
  if (x.rank < 1) throw new ShapeError("rmsNorm: input must have rank >= 1");
  checkNormParam("rmsNorm", x, weight, "weight");
  const D = x.shape[x.rank - 1] as number;
  const rows = D === 0 ? 0 : x.size / D;
  const rstd = new Float64Array(rows);
  const out = empty(x.shape, x.dtype); // same as x
  const X = x.data;
  const O = out.data;
  const W = weight?.data;
  for (let r = 0; r < rows; r++) {
    const o = r * D;
    let ss = 0;
    for (let j = 0; j < D; j++) ss += (X[o + j] as number) * (X[o + j] as number);
    const rs = 1 / Math.sqrt(ss / D + eps);
    rstd[r] = rs;
    for (let j = 0; j < D; j++) O[o + j] = W ? (X[o + j] as number) * rs * (W[j] as number) : (X[o + j] as number) * rs;
  }
  return record("rmsNorm", { eps, hasWeight: !!weight, rstd }, weight ? [x, weight] : [x], out);
}

export function rmsNormBackward(
  x: Tensor,
  weight: Tensor | undefined,
  g: Tensor,
  rstd: Float64Array,
): { dx: Tensor; dw: Tensor | null } {
  const D = x.shape[x.rank - 1] as number;
  const dx = empty(x.shape, x.dtype); // same as x
  const dwAcc = new Float64Array(D);
  const X = x.data;
  const G = g.data;
  const W = weight?.data;
  const DX = dx.data;
  for (let r = 0; r < rstd.length; r++) {
    const o = r * D;
    const rs = rstd[r] as number;
    let s = 0;
    for (let j = 0; j < D; j++) {
      const xh = (X[o + j] as number) * rs;
      const gj = G[o + j] as number;
      s += (W ? gj * (W[j] as number) : gj) * xh;
      dwAcc[j] = (dwAcc[j] as number) + gj * xh;
    }
    s /= D;
    for (let j = 0; j < D; j++) {
      const xh = (X[o + j] as number) * rs;
      const gj = G[o + j] as number;
      DX[o + j] = rs * ((W ? gj * (W[j] as number) : gj) - xh * s);
    }
  }
  let dw: Tensor | null = null;
  if (weight) {
    dw = empty([D], x.dtype); // [d]
    dw.data.set(dwAcc);
  }
  return { dx, dw };
}

// ---------------------------------------------------------------- activations

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** GELU: "tanh" is GPT-2's gelu_new, "none" is the exact erf form (BERT, GPT-NeoX). */
export function gelu(x: Tensor, approximate: "tanh" | "none" = "tanh"): Tensor {
  needFloat("gelu", x);
  // the gate is worth its extra output only when a backward pass will read it
  const taped = x.tape !== null && x.tape === activeTape();
  const fast = getBackend().gelu?.(x, approximate, taped) ?? null; // each same as x, or null: the kernel below
  if (fast !== null) return record("gelu", { approximate, rounded: false, gate: fast.gate }, [x], fast.out);
  const out = empty(x.shape, x.dtype); // same as x
  const X = x.data;
  const O = out.data;
  if (approximate === "tanh") {
    for (let i = 0; i < X.length; i++) {
      const v = X[i] as number;
      // 0.5·(1 + tanh(u)) = sigmoid(2u): one exp per element instead of V8's slower Math.tanh
      O[i] = v / (1 + Math.exp(-2 * SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
    }
  } else {
    for (let i = 0; i < X.length; i++) {
      const v = X[i] as number;
      O[i] = 0.5 * v * (1 + erfScalar(v * INV_SQRT_2));
    }
  }
  return record("gelu", { approximate, rounded: true, gate: null }, [x], out);
}

/** The tanh form's derivative at v from s = sigmoid(2u), u = √(2/π)(v + 0.044715 v³): s + v·s(1 − s)·2u'. */
const tanhGeluSlope = (v: number, s: number): number => s + v * s * (1 - s) * 2 * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * v * v);

/** The erf form's derivative at v from Φ(v): Φ + v·φ(v). */
const erfGeluSlope = (v: number, phi: number): number => phi + v * Math.exp(-0.5 * v * v) * INV_SQRT_2PI;

/**
 * dGELU/dx · g. With the forward's output `y` (= x·s, s the sigmoid of the tanh form or Φ(x) of the erf form),
 * s is read back as y / x — one division instead of an exp (or an erf) per element, the cost that dominated this
 * kernel — wherever y is a normal float, so that the quotient keeps float32's relative precision; elsewhere
 * (x = 0, tails where y underflows, and x ≥ 2 in the tanh form, where s(1 − s) would cancel) s is computed. Only a `y` rounded once from float64 will do (the tape says
 * which): a backend's GELU is close in absolute terms, but its relative error grows in the tails.
 */
export function geluBackward(x: Tensor, g: Tensor, approximate: "tanh" | "none", y?: Tensor, gate?: Tensor): Tensor {
  const dx = empty(x.shape, x.dtype); // same as x
  const X = x.data;
  const G = g.data;
  const D = dx.data;
  if (gate !== undefined && !gate.disposed) {
    // the forward pass's gate (σ(2u) or Φ(x)) as the backend computed it: the slope straight from it
    const S = gate.data;
    if (approximate === "tanh")
      for (let i = 0; i < X.length; i++) {
        const v = X[i] as number;
        // s(1 − s) cancels as s → 1 (its float32 rounding, relative to 1 − s, grows like e^(2u)): from x = 2 on,
        // a rare tail of any activation, s is computed here
        const si = v < 2 ? (S[i] as number) : 1 / (1 + Math.exp(-2 * SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
        D[i] = (G[i] as number) * tanhGeluSlope(v, si);
      }
    else for (let i = 0; i < X.length; i++) D[i] = (G[i] as number) * erfGeluSlope(X[i] as number, S[i] as number);
    return dx;
  }
  const Y = y === undefined || y.disposed ? null : y.data;
  for (let i = 0; i < X.length; i++) {
    const v = X[i] as number;
    let d: number;
    const yi = Y === null ? 0 : (Y[i] as number);
    // the tanh form's s(1 − s) cancels where s → 1: read s back below x = 2 only (most of any activation)
    if (Y !== null && Math.abs(yi) >= 1e-30 && Number.isFinite(yi) && (approximate === "none" || v < 2)) {
      const s = yi / v;
      d = approximate === "tanh" ? tanhGeluSlope(v, s) : erfGeluSlope(v, s);
    } else if (approximate === "tanh") {
      d = tanhGeluSlope(v, 1 / (1 + Math.exp(-2 * SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))));
    } else {
      d = erfGeluSlope(v, 0.5 * (1 + erfScalar(v * INV_SQRT_2)));
    }
    D[i] = (G[i] as number) * d;
  }
  return dx;
}

/** SiLU (swish): x * sigmoid(x), the gate of SwiGLU. */
export function silu(x: Tensor): Tensor {
  needFloat("silu", x);
  const out = empty(x.shape, x.dtype); // same as x
  const X = x.data;
  const O = out.data;
  for (let i = 0; i < X.length; i++) {
    const v = X[i] as number;
    O[i] = v / (1 + Math.exp(-v));
  }
  return record("silu", {}, [x], out);
}

export function siluBackward(x: Tensor, g: Tensor): Tensor {
  const dx = empty(x.shape, x.dtype); // same as x
  const X = x.data;
  const G = g.data;
  const D = dx.data;
  for (let i = 0; i < X.length; i++) {
    const v = X[i] as number;
    const s = 1 / (1 + Math.exp(-v));
    D[i] = (G[i] as number) * s * (1 + v * (1 - s));
  }
  return dx;
}

// ---------------------------------------------------------------- rotary embedding

/**
 * Rotary position embedding on the first `rotaryDim` features of x [..., D]. cos/sin [..., rotaryDim/2]
 * have leading dims that are a suffix of x's: [T, R/2] shares angles across batch and heads; [B, H, T, R/2]
 * gives every row its own (left-padded batches, where positions differ per row).
 * `interleaved: false` rotates halves (Llama/NeoX `rotate_half`); `true` rotates adjacent pairs (GPT-J).
 */
export function rope(x: Tensor, cos: Tensor, sin: Tensor, opts: { rotaryDim?: number; interleaved?: boolean } = {}): Tensor {
  needFloat("rope", x);
  sameDtype("rope", x, cos);
  sameDtype("rope", x, sin);
  if (x.rank < 2) throw new ShapeError(`rope: input ${fmt(x.shape)} must be [..., pos, d]`);
  const D = x.shape[x.rank - 1] as number;
  const R = opts.rotaryDim ?? D;
  if (R % 2 !== 0 || R > D || R <= 0) throw new ShapeError(`rope: rotaryDim ${R} must be even and in (0, ${D}]`);
  const lead = x.shape.slice(0, -1);
  for (const [n, t] of [
    ["cos", cos],
    ["sin", sin],
  ] as const) {
    const tl = t.shape.slice(0, -1);
    const suffix = tl.length >= 1 && tl.length <= lead.length && tl.every((d, i) => d === lead[lead.length - tl.length + i]);
    if (t.shape[t.rank - 1] !== R / 2 || !suffix) {
      throw new ShapeError(`rope: ${n} shape ${fmt(t.shape)} must be [..., ${R / 2}] with leading dims a suffix of ${fmt(lead)}`);
    }
  }
  if (cos.shape.join() !== sin.shape.join()) throw new ShapeError(`rope: cos ${fmt(cos.shape)} and sin ${fmt(sin.shape)} differ`);
  const interleaved = opts.interleaved ?? false;
  const out = empty(x.shape, x.dtype); // same as x
  ropeKernel(x.data, cos.data, sin.data, out.data, cos.size / (R / 2), D, R, interleaved, 1);
  return record("rope", { rotaryDim: R, interleaved }, [x, cos, sin], out);
}

/** sign = -1 applies the inverse rotation (the backward pass). */
export function ropeKernel(
  X: TypedArray,
  C: TypedArray,
  S: TypedArray,
  O: TypedArray,
  cosRows: number,
  D: number,
  R: number,
  interleaved: boolean,
  sign: number,
): void {
  const h = R / 2;
  const rows = D === 0 ? 0 : X.length / D;
  for (let r = 0; r < rows; r++) {
    const t = r % cosRows; // x row r uses angle row r mod cosRows (cos's dims are a suffix of x's)
    const o = r * D;
    for (let i = 0; i < h; i++) {
      const c = C[t * h + i] as number;
      const s = sign * (S[t * h + i] as number);
      const i1 = interleaved ? o + 2 * i : o + i;
      const i2 = interleaved ? o + 2 * i + 1 : o + i + h;
      const x1 = X[i1] as number;
      const x2 = X[i2] as number;
      O[i1] = x1 * c - x2 * s;
      O[i2] = x2 * c + x1 * s;
    }
    for (let j = R; j < D; j++) O[o + j] = X[o + j] as number;
  }
}

// ---------------------------------------------------------------- attention

/**
 * The additive causal mask [T, S]: 0 where query i may attend to key j (j <= i + S − T, the KV-cache offset
 * that `attention`'s `causal` option uses), −inf elsewhere. For models that build scores from primitives.
 * @example add(scores, causalMask(T)) // [batch, head, T, T]
 */
export function causalMask(T: number, S = T, dtype: DType = "f32"): Tensor {
  const m = empty([T, S], dtype); // [query_pos, key_pos]
  const d = m.data;
  for (let i = 0; i < T; i++) for (let j = 0; j < S; j++) d[i * S + j] = j <= i + S - T ? 0 : Number.NEGATIVE_INFINITY;
  return m;
}

export interface AttentionOptions {
  /** Multiplies q·kᵀ; default 1/sqrt(d_head). */
  scale?: number;
  /** Query i attends to keys j <= i + (S - T): the offset lets a KV cache hold earlier keys. */
  causal?: boolean;
  /** Additive mask broadcastable to [batch, head, T, S] (0 keeps, -inf drops); gets no gradient. */
  mask?: Tensor;
  /** Also return the scaled, masked scores (-inf where masked) before the softmax; costs one extra copy. */
  returnScores?: boolean;
  /**
   * q, k, v and the output are token-major, [batch, pos, head, d] (as a linear layer's output splits into heads),
   * instead of [batch, head, pos, d]: the layout change happens inside the op (on the backend in one session with
   * the product), which spares a model four copies of its activations per layer. The pattern stays
   * [batch, head, T, S].
   */
  tokenMajor?: boolean;
}

/** [a, b, c, d] → [a, c, b, d], off the tape (the attention op's own layout change). */
function swap12(x: Tensor): Tensor {
  const [a, b, c, d] = x.shape as [number, number, number, number];
  const out = empty([a, c, b, d], x.dtype); // [a, c, b, d]
  permuteKernel(x.data, x.shape, [0, 2, 1, 3], out.data);
  return out;
}

/**
 * Masked scaled-dot-product attention. Returns the mixed values, the attention pattern (the softmax saved
 * for the backward pass) and, if asked, the pre-softmax scores. Pattern and scores carry no gradient: models
 * that hook or differentiate them use the unfused primitives (matmul, add, softmax, matmul).
 * @example const { out, pattern } = attention(q, k, v, { causal: true }) // q,k,v [batch, head, pos, d_head]
 */
export function attention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  opts: AttentionOptions = {},
): { out: Tensor; pattern: Tensor; scores?: Tensor } {
  needFloat("attention", q);
  sameDtype("attention", q, k);
  sameDtype("attention", q, v);
  const tokenMajor = opts.tokenMajor ?? false;
  const layout = tokenMajor ? "[batch, pos, head, d]" : "[batch, head, pos, d]";
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4) {
    throw new ShapeError(`attention: q, k, v must be ${layout}; got ${fmt(q.shape)}, ${fmt(k.shape)}, ${fmt(v.shape)}`);
  }
  const [hAx, pAx] = tokenMajor ? [2, 1] : [1, 2];
  const [B, H, T, Dh] = [q.shape[0], q.shape[hAx], q.shape[pAx], q.shape[3]] as [number, number, number, number];
  const S = k.shape[pAx] as number;
  if (
    k.shape[0] !== B ||
    k.shape[hAx] !== H ||
    k.shape[3] !== Dh ||
    v.shape[0] !== B ||
    v.shape[hAx] !== H ||
    v.shape[pAx] !== S
  ) {
    throw new ShapeError(`attention: incompatible q ${fmt(q.shape)}, k ${fmt(k.shape)}, v ${fmt(v.shape)} (${layout})`);
  }
  const scale = opts.scale ?? 1 / Math.sqrt(Dh);
  const causal = opts.causal ?? false;
  const mask = opts.mask;
  if (mask) {
    sameDtype("attention", q, mask);
    const bs = broadcastShapes("attention mask", mask.shape, [B, H, T, S]);
    if (bs.length !== 4 || bs.some((d, i) => d !== [B, H, T, S][i])) {
      throw new ShapeError(`attention: mask ${fmt(mask.shape)} does not broadcast to [${B},${H},${T},${S}]`);
    }
  }
  const be = getBackend();
  const inputs = mask ? [q, k, v, mask] : [q, k, v];
  if (mask && !causal && !opts.returnScores && be.attention && !hidesRow(mask)) {
    // out [batch, head, T, Dv] (token-major: [batch, T, head, Dv]), pattern [batch, head, T, S]; or null
    const fast = be.attention(q, k, v, mask, scale, tokenMajor);
    if (fast !== null) {
      record("attention", { scale, causal, hasMask: true, pattern: fast.pattern, tokenMajor }, inputs, fast.out);
      return fast;
    }
  }
  const [qh, kh, vh] = tokenMajor ? [swap12(q), swap12(k), swap12(v)] : [q, k, v]; // [batch, head, pos, d]
  const scores = be.matmul(qh, kh, false, true, planMatmul(qh.shape, kh.shape, false, true)); // [batch, head, T, S]
  const pre = opts.returnScores ? empty(scores.shape, scores.dtype) : undefined; // [batch, head, T, S]
  maskedSoftmaxInPlace(scores.data, B, H, T, S, scale, causal, mask, pre?.data);
  const pattern = scores; // [batch, head, T, S]
  const oh = be.matmul(pattern, vh, false, false, planMatmul(pattern.shape, vh.shape, false, false)); // [batch, head, T, Dv]
  const out = tokenMajor ? swap12(oh) : oh; // [batch, head, T, Dv] or [batch, T, head, Dv]
  record("attention", { scale, causal, hasMask: !!mask, pattern, tokenMajor }, inputs, out);
  return pre ? { out, pattern, scores: pre } : { out, pattern };
}

// whether a mask hides some row whole (every entry −∞), by mask tensor: a model reuses one mask in every layer
const rowHidden = new WeakMap<Tensor, boolean>();

/** Whether some row of `mask` (its last axis; broadcasting repeats rows, never makes new ones) is −∞ throughout. */
export function hidesRow(mask: Tensor): boolean {
  let hidden = rowHidden.get(mask);
  if (hidden === undefined) {
    const M = mask.data;
    const S = mask.rank === 0 ? 1 : (mask.shape[mask.rank - 1] as number);
    hidden = false;
    for (let r = 0; r < M.length && !hidden; r += S) {
      let all = S > 0;
      for (let s = 0; s < S && all; s++) all = M[r + s] === Number.NEGATIVE_INFINITY;
      hidden = all;
    }
    rowHidden.set(mask, hidden);
  }
  return hidden;
}

function maskedSoftmaxInPlace(
  P: TypedArray,
  B: number,
  H: number,
  T: number,
  S: number,
  scale: number,
  causal: boolean,
  mask: Tensor | undefined,
  pre: TypedArray | undefined,
): void {
  const M = mask?.data;
  const ms = mask ? maskStrides(mask.shape) : null;
  const off = S - T;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < T; t++) {
        const row = ((b * H + h) * T + t) * S;
        const lim = causal ? Math.min(S, t + off + 1) : S;
        const mrow = ms ? b * (ms[0] as number) + h * (ms[1] as number) + t * (ms[2] as number) : 0;
        const m3 = ms ? (ms[3] as number) : 0;
        let mx = Number.NEGATIVE_INFINITY;
        for (let s = 0; s < lim; s++) {
          let val = (P[row + s] as number) * scale;
          if (M) val += M[mrow + s * m3] as number;
          P[row + s] = val;
          if (val > mx) mx = val;
        }
        if (pre) {
          for (let s = 0; s < lim; s++) pre[row + s] = P[row + s] as number;
          for (let s = lim; s < S; s++) pre[row + s] = Number.NEGATIVE_INFINITY;
        }
        if (mx === Number.NEGATIVE_INFINITY) {
          for (let s = 0; s < S; s++) P[row + s] = 0;
          continue;
        }
        let sum = 0;
        for (let s = 0; s < lim; s++) {
          const e = Math.exp((P[row + s] as number) - mx);
          P[row + s] = e;
          sum += e;
        }
        const inv = 1 / sum;
        for (let s = 0; s < lim; s++) P[row + s] = (P[row + s] as number) * inv;
        for (let s = lim; s < S; s++) P[row + s] = 0;
      }
}

function maskStrides(shape: readonly number[]): number[] {
  const full = [...new Array(4 - shape.length).fill(1), ...shape] as number[];
  const st = [0, 0, 0, 0];
  let s = 1;
  for (let i = 3; i >= 0; i--) {
    st[i] = full[i] === 1 ? 0 : s;
    s *= full[i] as number;
  }
  return st;
}

/** dS = P ⊙ (dP − rowsum(dP ⊙ P)) · scale, computed in place into dP. */
export function attentionScoresBackward(P: Tensor, dP: Tensor, scale: number): Tensor {
  const S = P.shape[3] as number;
  const rows = sizeOf(P.shape) / (S || 1);
  const p = P.data;
  const d = dP.data;
  for (let r = 0; r < rows; r++) {
    const o = r * S;
    let s = 0;
    for (let j = 0; j < S; j++) s += (d[o + j] as number) * (p[o + j] as number);
    for (let j = 0; j < S; j++) d[o + j] = (p[o + j] as number) * ((d[o + j] as number) - s) * scale;
  }
  return dP;
}
