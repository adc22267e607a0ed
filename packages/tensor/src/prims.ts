import type { DType, TypedArray } from "./dtype.js";
import type { Tensor } from "./tensor.js";

/**
 * The closed set of primitives. Each has one forward implementation (ops.ts) and one backward rule (vjp.ts);
 * both tables are mapped types over this interface, so adding a primitive without a gradient is a compile error.
 * Attributes hold what the backward rule needs (for fused ops, the statistics saved by the forward pass).
 */
export interface PrimAttrs {
  add: Record<string, never>;
  sub: Record<string, never>;
  mul: Record<string, never>;
  div: Record<string, never>;
  maximum: Record<string, never>;
  pow: Record<string, never>;
  neg: Record<string, never>;
  exp: Record<string, never>;
  log: Record<string, never>;
  sqrt: Record<string, never>;
  rsqrt: Record<string, never>;
  tanh: Record<string, never>;
  erf: Record<string, never>;
  /** inputs: cond (bool), a, b */
  where: Record<string, never>;
  compare: { op: CompareOp };
  sum: { axes: number[]; keepDims: boolean };
  max: { axes: number[]; keepDims: boolean };
  argmax: { axis: number; keepDims: boolean };
  logsumexp: { axes: number[]; keepDims: boolean };
  reshape: { shape: number[] };
  broadcastTo: { shape: number[] };
  permute: { perm: number[] };
  slice: { begin: number[]; end: number[] };
  concat: { axis: number };
  /** inputs: x, indices (i32). out = x.shape[:axis] + indices.shape + x.shape[axis+1:] */
  gather: { axis: number };
  /** inputs: updates, indices (i32); the adjoint of gather, into a tensor whose `axis` has `dimSize` entries. */
  scatterAdd: { axis: number; dimSize: number };
  pad: { before: number[]; after: number[]; value: number };
  /** inputs: a [..., M, K] (or [..., K, M] if transA), b [..., K, N] (or [..., N, K] if transB); batch dims broadcast. */
  matmul: { transA: boolean; transB: boolean };
  /** inputs: x [..., K], w [K, N] (or [N, K] if transB), bias [N]: x·w + bias, the product and the bias in one call. */
  linear: { transB: boolean };
  cast: { dtype: DType };
  softmax: { axis: number };
  logSoftmax: { axis: number };
  /** inputs: x [..., D], weight [D] | none, bias [D] | none (absent inputs are omitted). */
  layerNorm: { eps: number; hasWeight: boolean; hasBias: boolean; mean: Float64Array; rstd: Float64Array };
  /** inputs: x [..., D], weight [D] | none. `offset` adds a constant to the weight (Gemma-style 1 + w). */
  rmsNorm: { eps: number; hasWeight: boolean; rstd: Float64Array };
  /** inputs: x [n, classes]; Σᵢ wᵢ·(logsumexp(x[i]) − x[i, tᵢ]); `lse` is the per-row log-sum-exp saved for backward. */
  /**
   * `exps`: exp(x − the row's max) for every row read (x's dtype; weight-0 rows left 0) and `invSum` each row's
   * 1 / Σ exps, kept from the forward pass: the backward pass's softmax without an exp of its own. The first
   * backward pass writes its gradient over `exps` and sets `spent`; a later one computes them again.
   */
  crossEntropy: {
    targets: Int32Array;
    weights: Float32Array | Float64Array;
    exps: TypedArray;
    invSum: Float64Array;
    spent: { value: boolean };
  };
  /** `rounded`: the output is the float64 value rounded once (the TypeScript kernel), so the backward pass can
   * read the sigmoid back from it; a backend's kernel is close in absolute terms only (its tails cancel) */
  gelu: { approximate: "tanh" | "none"; rounded: boolean; gate: Tensor | null };
  silu: Record<string, never>;
  /** inputs: x [..., T, D], cos [T, R/2], sin [T, R/2]; rotates the first R = rotaryDim features. */
  rope: { rotaryDim: number; interleaved: boolean };
  /**
   * inputs: q [B, H, T, D], k [B, H, S, D], v [B, H, S, Dv], optional additive mask broadcastable to [B, H, T, S].
   * `pattern` is the softmax saved for backward and exposed to hooks.
   */
  attention: { scale: number; causal: boolean; hasMask: boolean; pattern: Tensor | null; tokenMajor: boolean };
  /**
   * A chain of fused ops run in one backend call (program.ts), off the tape only: recorded for the op listener (a
   * profile), never differentiated.
   */
  program: { steps: number };
}

export type Prim = keyof PrimAttrs;
export type CompareOp = "eq" | "ne" | "lt" | "le" | "gt" | "ge";
