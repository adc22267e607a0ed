// Perturbation attribution: which input tokens a prediction rests on, measured by masking them (replacing them by
// a neutral token) and watching the objective move — no gradients, so it treats the model as a black box.
//
//   occlusion  slide a window of `window` masked tokens; a token's score is the mean drop f(x) − f(masked) over
//              the windows that cover it (Captum's Occlusion)
//   lime       random masks weighted by a cosine kernel to the unmasked input, a weighted ridge regression of f on
//              which tokens are kept; the coefficients are the scores, with the surrogate's weighted R² (Ribeiro et
//              al. 2016, LIME's text explainer)
//   shap       KernelSHAP (Lundberg & Lee 2017): coalitions drawn from the Shapley kernel, a least-squares fit with
//              efficiency imposed exactly, so the scores sum to f(x) − f(all masked); with 2^n − 2 ≤ samples every
//              coalition is enumerated and the scores are the exact Shapley values
//
// The samplers and solvers below work on any value function of a keep-mask; `perturbationAttribution` supplies the
// model's, evaluating masked inputs as rows of one batch.
import { run, type TransformerModel } from "@llmdbg/core";
import type { PerturbationAttributionRequest, PerturbationAttributionResult } from "@llmdbg/protocol";
import { tensor } from "@llmdbg/tensor";
import {
  checkAborted,
  checkToken,
  inputIds,
  type MethodOptions,
  MethodRequestError,
  resolvePosition,
  tokenRef,
} from "./common.js";
import { argmax, objectiveOfRow } from "./rows.js";

/** A value function: f of each keep-mask (1 = the token is kept, 0 = masked), evaluated in one call. */
export type MaskValue = (masks: readonly Uint8Array[]) => number[];

/** A seeded generator of floats in [0, 1) (mulberry32): the same seed draws the same samples. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** A random subset of `size` of n positions, as a keep-mask (Floyd's algorithm: `size` draws). */
function subsetMask(n: number, size: number, rand: () => number): Uint8Array {
  const mask = new Uint8Array(n);
  for (let j = n - size; j < n; j++) {
    const t = Math.floor(rand() * (j + 1));
    if (mask[t] === 1) mask[j] = 1;
    else mask[t] = 1;
  }
  return mask;
}

/**
 * Solves the symmetric positive-definite system A x = b (A n×n, row-major) by Cholesky, in float64. A ridge
 * term keeps it definite; a singular system (a coalition design that does not span every feature) throws.
 */
function solveSpd(A: Float64Array, b: Float64Array, n: number): Float64Array {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * n + j] as number;
      for (let k = 0; k < j; k++) s -= (L[i * n + k] as number) * (L[j * n + k] as number);
      if (i === j) {
        if (!(s > 1e-12)) throw new MethodRequestError("samples", "too few samples to determine every token's score; draw more");
        L[i * n + i] = Math.sqrt(s);
      } else L[i * n + j] = s / (L[j * n + j] as number);
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i] as number;
    for (let k = 0; k < i; k++) s -= (L[i * n + k] as number) * (y[k] as number);
    y[i] = s / (L[i * n + i] as number);
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i] as number;
    for (let k = i + 1; k < n; k++) s -= (L[k * n + i] as number) * (x[k] as number);
    x[i] = s / (L[i * n + i] as number);
  }
  return x;
}

/** Weighted least squares: argmin Σ w_s (y_s − X_s β)² + ridge ‖β‖² (X rows of width p). */
function weightedLeastSquares(
  X: readonly Float64Array[],
  y: readonly number[],
  w: readonly number[],
  p: number,
  ridge: number,
): Float64Array {
  const A = new Float64Array(p * p);
  const b = new Float64Array(p);
  X.forEach((row, s) => {
    const ws = w[s] as number;
    for (let i = 0; i < p; i++) {
      const ri = (row[i] as number) * ws;
      b[i] = (b[i] as number) + ri * (y[s] as number);
      for (let j = 0; j <= i; j++) A[i * p + j] = (A[i * p + j] as number) + ri * (row[j] as number);
    }
  });
  for (let i = 0; i < p; i++) {
    A[i * p + i] = (A[i * p + i] as number) + ridge;
    for (let j = 0; j < i; j++) A[j * p + i] = A[i * p + j] as number;
  }
  return solveSpd(A, b, p);
}

/**
 * KernelSHAP over n features: Shapley values of `value` between the all-masked and all-kept masks, summing to
 * value(all kept) − value(none) exactly. Every coalition is enumerated when 2^n − 2 ≤ samples (then exact);
 * otherwise `samples` coalitions are drawn: a size k with probability ∝ (n − 1) / (k (n − k)), then a uniform
 * subset of that size, each weighted equally (the Shapley kernel sampled, as the shap library does).
 */
export function kernelShap(
  n: number,
  value: MaskValue,
  opts: { samples: number; seed: number },
): { scores: number[]; full: number; empty: number; evaluated: number; enumerated: boolean } {
  const [full, empty] = value([new Uint8Array(n).fill(1), new Uint8Array(n)]) as [number, number];
  if (n === 1) return { scores: [full - empty], full, empty, evaluated: 2, enumerated: true };
  const masks: Uint8Array[] = [];
  const weights: number[] = [];
  const enumerated = 2 ** n - 2 <= opts.samples;
  const binom = (k: number) => {
    let c = 1;
    for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
    return c;
  };
  if (enumerated) {
    for (let bits = 1; bits < 2 ** n - 1; bits++) {
      const m = new Uint8Array(n);
      let k = 0;
      for (let i = 0; i < n; i++) {
        if ((bits >> i) & 1) {
          m[i] = 1;
          k++;
        }
      }
      masks.push(m);
      weights.push((n - 1) / (binom(k) * k * (n - k))); // the Shapley kernel
    }
  } else {
    const rand = rng(opts.seed);
    const sizeWeight = Array.from({ length: n - 1 }, (_, i) => (n - 1) / ((i + 1) * (n - i - 1)));
    const total = sizeWeight.reduce((a, b) => a + b, 0);
    for (let s = 0; s < opts.samples; s++) {
      let u = rand() * total;
      let k = 1;
      while (k < n - 1 && u >= (sizeWeight[k - 1] as number)) u -= sizeWeight[k++ - 1] as number;
      masks.push(subsetMask(n, k, rand));
      weights.push(1);
    }
  }
  const fz = value(masks);
  // efficiency imposed by eliminating the last feature: φ_n = (full − empty) − Σ_{i<n} φ_i, so
  // f(z) − empty − z_n (full − empty) = Σ_{i<n} φ_i (z_i − z_n)
  const gap = full - empty;
  const X = masks.map((m) => Float64Array.from({ length: n - 1 }, (_, i) => (m[i] as number) - (m[n - 1] as number)));
  const y = masks.map((m, s) => (fz[s] as number) - empty - (m[n - 1] as number) * gap);
  const head = weightedLeastSquares(X, y, weights, n - 1, 0);
  const scores = [...head, gap - head.reduce((a, b) => a + b, 0)];
  return { scores, full, empty, evaluated: masks.length + 2, enumerated };
}

/**
 * LIME over n features: `samples` masks (a number of tokens to mask drawn uniformly, then which), weighted by
 * exp(−d² / width²) with d the cosine distance to the all-kept mask (width 0.25, LIME's text default), and a
 * weighted ridge regression (λ = 1) of f on the keep-mask with an intercept. Scores are its coefficients.
 */
export function lime(
  n: number,
  value: MaskValue,
  opts: { samples: number; seed: number },
): { scores: number[]; full: number; empty: number; r2: number; evaluated: number } {
  const rand = rng(opts.seed);
  const masks: Uint8Array[] = [new Uint8Array(n).fill(1), new Uint8Array(n)];
  for (let s = 0; s < opts.samples; s++) {
    const masked = 1 + Math.floor(rand() * n); // 1..n tokens masked
    masks.push(subsetMask(n, n - masked, rand));
  }
  const fz = value(masks);
  const w = masks.map((m) => {
    const kept = m.reduce((a, b) => a + b, 0);
    const d = 1 - Math.sqrt(kept / n); // cosine distance between m and the all-ones mask
    return Math.exp(-(d * d) / (0.25 * 0.25));
  });
  const X = masks.map((m) => Float64Array.from([1, ...m])); // intercept first
  const beta = weightedLeastSquares(X, fz, w, n + 1, 1);
  // the weighted R² of the surrogate on its own samples
  const wsum = w.reduce((a, b) => a + b, 0);
  const mean = fz.reduce((a, v, s) => a + (w[s] as number) * v, 0) / wsum;
  let ssRes = 0;
  let ssTot = 0;
  X.forEach((row, s) => {
    const pred = row.reduce((a, v, i) => a + v * (beta[i] as number), 0);
    ssRes += (w[s] as number) * ((fz[s] as number) - pred) ** 2;
    ssTot += (w[s] as number) * ((fz[s] as number) - mean) ** 2;
  });
  return {
    scores: Array.from(beta.subarray(1)),
    full: fz[0] as number,
    empty: fz[1] as number,
    r2: ssTot === 0 ? 1 : 1 - ssRes / ssTot,
    evaluated: masks.length,
  };
}

/** Occlusion: windows of `window` masked positions every `stride`; a position's score is the mean drop over its windows. */
export function occlusion(
  n: number,
  value: MaskValue,
  opts: { window: number; stride: number },
): { scores: number[]; full: number; empty: number; evaluated: number } {
  const starts: number[] = [];
  for (let s = 0; s + opts.window <= n || (s < n && starts.length === 0); s += opts.stride) starts.push(s);
  if (starts.at(-1) !== undefined && (starts.at(-1) as number) + opts.window < n) starts.push(n - opts.window); // cover the tail
  const masks: Uint8Array[] = [new Uint8Array(n).fill(1), new Uint8Array(n)];
  for (const s of starts) {
    const m = new Uint8Array(n).fill(1);
    for (let i = s; i < Math.min(n, s + opts.window); i++) m[i] = 0;
    masks.push(m);
  }
  const fz = value(masks);
  const [full, empty] = fz as [number, number];
  const sum = new Float64Array(n);
  const count = new Float64Array(n);
  starts.forEach((s, k) => {
    const drop = full - (fz[k + 2] as number);
    for (let i = s; i < Math.min(n, s + opts.window); i++) {
      sum[i] = (sum[i] as number) + drop;
      count[i] = (count[i] as number) + 1;
    }
  });
  return { scores: Array.from(sum, (v, i) => v / Math.max(1, count[i] as number)), full, empty, evaluated: masks.length };
}

/**
 * Attributes one prediction to the input tokens by occlusion, LIME or KernelSHAP, masking tokens by a
 * replacement token.
 * @example perturbationAttribution(model, { kind: "perturbation", method: "shap", input: { text }, samples: 512 })
 */
export function perturbationAttribution(
  model: TransformerModel,
  req: PerturbationAttributionRequest,
  opts: MethodOptions = {},
): PerturbationAttributionResult {
  const ids = inputIds(model, req.input);
  const n = ids.length;
  const position = resolvePosition(req.position ?? -1, n, "position");
  const kind = req.objective ?? "logprob";
  const tok = model.tokenizer;
  const replacement = req.replacement ?? tok?.padTokenId ?? tok?.unkTokenId ?? 0;
  checkToken(model, replacement, "replacement", "input");
  const batch = req.batch ?? 32;
  if (!Number.isInteger(batch) || batch < 1) throw new MethodRequestError("batch", `expected a positive integer, got ${batch}`);
  const samples = req.samples ?? 256;
  if (!Number.isInteger(samples) || samples < 1)
    throw new MethodRequestError("samples", `expected a positive integer, got ${samples}`);
  const seed = req.seed ?? 0;
  const window = req.window ?? 1;
  const stride = req.stride ?? 1;
  if (!Number.isInteger(window) || window < 1 || window > n)
    throw new MethodRequestError("window", `expected an integer in [1, ${n}], got ${window}`);
  if (!Number.isInteger(stride) || stride < 1)
    throw new MethodRequestError("stride", `expected a positive integer, got ${stride}`);

  const clean = run(model, ids).output;
  const width = clean.shape[clean.rank - 1] as number; // tokens, or a classifier's labels
  const at = clean.rank === 3 ? position : 0;
  const inRange = (id: number, field: string) => {
    if (!Number.isInteger(id) || id < 0 || id >= width)
      throw new MethodRequestError(field, `${id} is not an index of the model's output [0, ${width})`);
  };
  let target = req.target;
  if (target === undefined) {
    const row = clean.data.subarray(at * width, (at + 1) * width);
    target = argmax(row);
  }
  inRange(target, "target");
  if (req.foil !== undefined) inRange(req.foil, "foil");
  const t = target;
  const f = (row: ArrayLike<number>) =>
    objectiveOfRow(row, t, kind) - (req.foil === undefined ? 0 : objectiveOfRow(row, req.foil, kind));

  let done = 0;
  const value: MaskValue = (masks) => {
    const out: number[] = [];
    for (let start = 0; start < masks.length; start += batch) {
      checkAborted(opts.signal);
      const chunk = masks.slice(start, start + batch);
      const rows = chunk.flatMap((m) => ids.map((id, i) => (m[i] === 1 ? id : replacement)));
      // a prediction at the last position needs only its logits: [k, 1, width]
      const lastOnly = clean.rank === 3 && position === n - 1;
      const logits = run(model, tensor(rows, [chunk.length, n], "i32"), lastOnly ? { logits: "last" } : {}).output; // [k, pos, width] or [k, width]
      const per = logits.size / chunk.length;
      chunk.forEach((_, r) => {
        // the row read: `at`, unless the model unembedded the last position only
        const off = r * per + (logits.rank === 3 && (logits.shape[1] as number) === n ? at * width : 0);
        out.push(f(logits.data.subarray(off, off + width)));
      });
      done += chunk.length;
      opts.onProgress?.({ done, total: Math.max(done, expected), what: "masked inputs" });
    }
    return out;
  };
  const expected =
    req.method === "occlusion"
      ? Math.ceil(n / stride) + 2
      : req.method === "lime"
        ? samples + 2
        : Math.min(samples, 2 ** n - 2) + 2;

  const base = {
    kind: "perturbation" as const,
    method: req.method,
    tokens: ids.map((id) => tokenRef(model, id)),
    position,
    target: tokenRef(model, t),
    foil: req.foil === undefined ? null : tokenRef(model, req.foil),
    objective: kind,
    replacement: tokenRef(model, replacement),
  };
  switch (req.method) {
    case "occlusion": {
      const r = occlusion(n, value, { window, stride });
      return {
        ...base,
        scores: r.scores,
        fInput: r.full,
        fMasked: r.empty,
        samples: r.evaluated,
        seed: null,
        r2: null,
        window,
        stride,
      };
    }
    case "lime": {
      const r = lime(n, value, { samples, seed });
      return {
        ...base,
        scores: r.scores,
        fInput: r.full,
        fMasked: r.empty,
        samples: r.evaluated,
        seed,
        r2: r.r2,
        window: null,
        stride: null,
      };
    }
    case "shap": {
      const r = kernelShap(n, value, { samples, seed });
      return {
        ...base,
        scores: r.scores,
        fInput: r.full,
        fMasked: r.empty,
        samples: r.evaluated,
        seed: r.enumerated ? null : seed,
        r2: null,
        window: null,
        stride: null,
      };
    }
  }
}
