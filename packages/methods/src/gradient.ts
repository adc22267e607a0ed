// Gradient attribution of one prediction to the input positions, at the token embeddings (`hook_embed`; learned
// positional embeddings are added after it and are not interpolated) or at any hook point with a position axis:
//
//   saliency             ‖∂f/∂x_p‖₂ over the other axes
//   grad × input         Σ ∂f/∂x_p · (x_p − x'_p)
//   integrated gradients Σ (x_p − x'_p) · ∫₀¹ ∂f/∂x_p(x' + α(x − x')) dα, the integral by a quadrature rule
//
// f is the target's log-probability (or logit, or probability) at the position, or its difference with a foil's;
// x' is the baseline. Integrated gradients is complete: the scores sum to f(x) − f(x'), and the gap (`delta`)
// measures the quadrature's error (Sundararajan et al. 2017; Captum's `convergence_delta`). The interpolation
// points run as rows of one batch, `batch` at a time, the baseline-to-input path given to the hook point by a
// per-call hook function.
import { generate, run, type TransformerModel } from "@llmdbg/core";
import type {
  AttributionBaseline,
  AttributionObjective,
  GenerationAttributionRequest,
  GenerationAttributionResult,
  GradientAttributionRequest,
  GradientAttributionResult,
  QuadratureRule,
} from "@llmdbg/protocol";
import { exp, logSoftmax, narrow, reshape, sub, sum, type Tensor, tensor } from "@llmdbg/tensor";
import {
  checkAborted,
  checkToken,
  inputIds,
  type MethodOptions,
  MethodRequestError,
  resolvePosition,
  tokenRef,
} from "./common.js";
import { argmax } from "./rows.js";

/**
 * Points α_k in [0, 1] and weights w_k with Σ w_k g(α_k) ≈ ∫₀¹ g(α) dα. Gauss–Legendre is exact for polynomials
 * of degree 2n − 1; the Riemann rules are Captum's (the trapezoid's n points include both ends).
 * @example quadrature("gauss_legendre", 2) // { alphas: [0.2113…, 0.7886…], weights: [0.5, 0.5] }
 */
export function quadrature(rule: QuadratureRule, n: number): { alphas: number[]; weights: number[] } {
  if (!Number.isInteger(n) || n < 1 || (rule === "riemann_trapezoid" && n < 2))
    throw new MethodRequestError("steps", `expected an integer ≥ ${rule === "riemann_trapezoid" ? 2 : 1}, got ${n}`);
  const k = Array.from({ length: n }, (_, i) => i);
  switch (rule) {
    case "riemann_left":
      return { alphas: k.map((i) => i / n), weights: k.map(() => 1 / n) };
    case "riemann_right":
      return { alphas: k.map((i) => (i + 1) / n), weights: k.map(() => 1 / n) };
    case "riemann_middle":
      return { alphas: k.map((i) => (i + 0.5) / n), weights: k.map(() => 1 / n) };
    case "riemann_trapezoid":
      return { alphas: k.map((i) => i / (n - 1)), weights: k.map((i) => (i === 0 || i === n - 1 ? 0.5 : 1) / (n - 1)) };
    case "gauss_legendre":
      return gaussLegendre(n);
  }
}

/** Gauss–Legendre nodes and weights on [0, 1]: Newton's method on P_n from Chebyshev-like starting points. */
function gaussLegendre(n: number): { alphas: number[]; weights: number[] } {
  const alphas: number[] = [];
  const weights: number[] = [];
  for (let i = 1; i <= n; i++) {
    let x = Math.cos((Math.PI * (i - 0.25)) / (n + 0.5));
    let dp = 0;
    for (let iter = 0; iter < 100; iter++) {
      // P_n(x) and P_n'(x) by the three-term recurrence
      let p0 = 1;
      let p1 = x;
      for (let j = 2; j <= n; j++) [p0, p1] = [p1, ((2 * j - 1) * x * p1 - (j - 1) * p0) / j];
      const pn = n === 1 ? x : p1;
      const pm = n === 1 ? 1 : p0;
      dp = (n * (x * pn - pm)) / (x * x - 1);
      const dx = pn / dp;
      x -= dx;
      if (Math.abs(dx) < 1e-15) break;
    }
    alphas.push((1 - x) / 2); // ascending in α
    weights.push(1 / ((1 - x * x) * dp * dp)); // 2 / ((1 − x²) P'²), halved for [0, 1]
  }
  return { alphas, weights };
}

/** The top prediction at `position` of the first row of logits [batch, pos, d_vocab] (or of [batch, label]). */
function argmaxRow(out: Tensor, position: number): number {
  const V = out.shape[out.rank - 1] as number;
  const at = out.rank === 3 ? position : 0;
  return argmax(out.data.subarray(at * V, (at + 1) * V));
}

/**
 * The objective summed over every row of a batch at one position: rows are independent, so the gradient of the
 * sum gives each row its own gradient. Read as one slice and one log-softmax for all rows (a slice per row would
 * cost a full-size gradient per row in the backward pass).
 */
function batchObjective(kind: AttributionObjective, target: number, foil: number | undefined) {
  return (out: Tensor, position: number): Tensor => {
    const width = out.shape[out.rank - 1] as number;
    const k = out.shape[0] as number;
    const at = out.rank === 3 ? reshape(narrow(out, 1, position, 1), [k, width]) : out; // [k, width]
    const scored = kind === "logit" ? at : logSoftmax(at, -1); // [k, width]
    const pick = (token: number) => {
      const v = narrow(scored, 1, token, 1); // [k, 1]
      return kind === "prob" ? exp(v) : v;
    };
    return sum(foil === undefined ? pick(target) : sub(pick(target), pick(foil))); // []
  };
}

/**
 * Attributes one prediction to the input positions by saliency, grad × input or integrated gradients.
 * @example gradientAttribution(model, { kind: "attribution", method: "integrated_gradients", input: { text }, steps: 64 })
 */
export function gradientAttribution(
  model: TransformerModel,
  req: GradientAttributionRequest,
  opts: MethodOptions = {},
): GradientAttributionResult {
  const ids = inputIds(model, req.input);
  const position = resolvePosition(req.position ?? -1, ids.length, "position");
  // the token embeddings: `hook_embed` (TransformerLens's HookedTransformer) or `embed.hook_embed` (HookedEncoder)
  const hook =
    req.hook ?? model.hookPoints.find((p) => p.name === "hook_embed" || p.name === "embed.hook_embed")?.name ?? "hook_embed";
  const point = model.hookPoints.find((p) => p.name === hook);
  if (point === undefined) throw new MethodRequestError("hook", `${JSON.stringify(hook)} is not a hook point of this model`);
  if (point.axes[0] !== "batch" || point.axes[1] !== "pos")
    throw new MethodRequestError("hook", `${hook} has axes [${point.axes.join(", ")}]; attribution needs [batch, pos, …]`);
  const kind = req.objective ?? "logprob";

  const clean = run(model, ids, { cache: hook });
  // a language model's tokens, or a classifier's labels: whatever the output's last axis holds
  const width = clean.output.shape[clean.output.rank - 1] as number;
  const inRange = (id: number, field: string) => {
    if (!Number.isInteger(id) || id < 0 || id >= width)
      throw new MethodRequestError(field, `${id} is not an index of the model's output [0, ${width})`);
  };
  if (req.foil !== undefined) inRange(req.foil, "foil");
  const target = req.target ?? argmaxRow(clean.output, position);
  inRange(target, "target");
  const P = ids.length;
  // a language model explained at its last position needs the logits of that position only: the unembedding of
  // the others is most of a small model's forward pass, and most of its backward
  const lastOnly = clean.output.rank === 3 && position === P - 1;
  const logits = lastOnly ? ("last" as const) : ("all" as const);
  const objective = batchObjective(kind, target, req.foil);
  const f = (out: Tensor) => objective(out, lastOnly && out.shape[1] === 1 ? 0 : position); // []
  const x = clean.cache.get(hook); // [1, pos, …]
  const R = x.size / P; // the size of one position's slice
  const xs = x.data;

  const base = { tokens: ids.map((id) => tokenRef(model, id)), position, target: tokenRef(model, target), hook };
  const foil = req.foil === undefined ? null : tokenRef(model, req.foil);
  if (req.method === "saliency" || req.method === "grad_x_input") {
    const r = run(model, ids, { logits, grads: { hooks: hook, loss: f } });
    const g = r.cache.grad(hook).data;
    const b = req.method === "grad_x_input" ? baselineOf(model, req.baseline, ids, hook, R) : null;
    const scores = Array.from({ length: P }, (_, p) => {
      let s = 0;
      for (let i = p * R; i < (p + 1) * R; i++) {
        const gi = g[i] as number;
        s += b === null ? gi * gi : gi * ((xs[i] as number) - (b[i % R] as number));
      }
      return b === null ? Math.sqrt(s) : s;
    });
    return {
      kind: "attribution",
      method: req.method,
      ...base,
      foil,
      objective: kind,
      scores,
      fInput: (r.loss as Tensor).item(),
      fBaseline: null,
      delta: null,
      baseline: b === null ? null : (req.baseline ?? { kind: "zero" }),
      steps: null,
      rule: null,
    };
  }

  // integrated gradients
  const rule = req.rule ?? "gauss_legendre";
  const { alphas, weights } = quadrature(rule, req.steps ?? 64);
  const chunk = req.batch ?? 16;
  if (!Number.isInteger(chunk) || chunk < 1) throw new MethodRequestError("batch", `expected a positive integer, got ${chunk}`);
  const b = baselineOf(model, req.baseline, ids, hook, R); // [R], the same at every position
  const diff = new Float64Array(P * R); // x − x'
  for (let i = 0; i < P * R; i++) diff[i] = (xs[i] as number) - (b[i % R] as number);
  const avg = new Float64Array(P * R); // Σ_k w_k ∂f/∂x(x' + α_k (x − x'))
  const shape = (k: number) => [k, ...x.shape.slice(1)];
  for (let start = 0; start < alphas.length; start += chunk) {
    checkAborted(opts.signal);
    const a = alphas.slice(start, start + chunk);
    const path = new Float32Array(a.length * P * R); // [k, pos, …]
    a.forEach((alpha, r) => {
      for (let i = 0; i < P * R; i++) path[r * P * R + i] = (b[i % R] as number) + alpha * (diff[i] as number);
    });
    const rows = a.flatMap(() => ids);
    const out = run(model, tensor(rows, [a.length, P], "i32"), {
      logits,
      hooks: { [hook]: () => tensor(path, shape(a.length), x.dtype) },
      grads: { hooks: hook, loss: f },
    });
    const g = out.cache.grad(hook).data; // [k, pos, …]
    a.forEach((_, r) => {
      const w = weights[start + r] as number;
      for (let i = 0; i < P * R; i++) avg[i] = (avg[i] as number) + w * (g[r * P * R + i] as number);
    });
    opts.onProgress?.({ done: Math.min(start + chunk, alphas.length), total: alphas.length, what: "integration steps" });
  }
  const scores = Array.from({ length: P }, (_, p) => {
    let s = 0;
    for (let i = p * R; i < (p + 1) * R; i++) s += (diff[i] as number) * (avg[i] as number);
    return s;
  });
  const fInput = f(clean.output).item();
  const atBaseline = run(model, ids, {
    logits,
    hooks: {
      [hook]: () =>
        tensor(
          Float32Array.from({ length: P * R }, (_, i) => b[i % R] as number),
          x.shape,
          x.dtype,
        ),
    },
  });
  const fBaseline = f(atBaseline.output).item();
  const total = scores.reduce((s, v) => s + v, 0);
  return {
    kind: "attribution",
    method: "integrated_gradients",
    ...base,
    foil,
    objective: kind,
    scores,
    fInput,
    fBaseline,
    delta: total - (fInput - fBaseline),
    baseline: req.baseline ?? { kind: "zero" },
    steps: alphas.length,
    rule,
  };
}

/** The baseline's activation for one position ([R]; the same at every position). */
function baselineOf(
  model: TransformerModel,
  baseline: AttributionBaseline | undefined,
  ids: readonly number[],
  hook: string,
  R: number,
): Float64Array {
  const b = baseline ?? { kind: "zero" };
  const mean = (runs: readonly (readonly number[])[]) => {
    const acc = new Float64Array(R);
    let n = 0;
    for (const seq of runs) {
      const a = run(model, [...seq], { cache: hook }).cache.get(hook).data; // [1, pos, …]
      for (let p = 0; p < seq.length; p++) for (let i = 0; i < R; i++) acc[i] = (acc[i] as number) + (a[p * R + i] as number);
      n += seq.length;
    }
    return acc.map((v) => v / n);
  };
  switch (b.kind) {
    case "zero":
      return new Float64Array(R);
    case "token":
      checkToken(model, b.id, "baseline.id", "input");
      // the activation a sequence of that token has at the hook (at hook_embed: the token's embedding row)
      return mean([ids.map(() => b.id)]);
    case "dataset": {
      if (b.texts.length === 0) throw new MethodRequestError("baseline.texts", "is empty");
      const tok = model.tokenizer;
      if (tok === undefined) throw new MethodRequestError("baseline.texts", "this model was loaded without a tokenizer");
      const seqs = b.texts.map((t) => tok.encode(t)).filter((s) => s.length > 0);
      if (seqs.length === 0) throw new MethodRequestError("baseline.texts", "encode to no tokens");
      return mean(seqs);
    }
  }
}

/**
 * Attribution of a greedy generation: each generated token explained by gradient attribution over every token
 * before it (the prompt and the tokens generated so far), as Inseq attributes generations; rows are generated
 * tokens, columns positions of prompt + generation.
 * @example generationAttribution(model, { kind: "generation_attribution", input: { text }, maxNewTokens: 8, method: "grad_x_input" })
 */
export function generationAttribution(
  model: TransformerModel,
  req: GenerationAttributionRequest,
  opts: MethodOptions = {},
): GenerationAttributionResult {
  const prompt = inputIds(model, req.input);
  const n = req.maxNewTokens;
  if (!Number.isInteger(n) || n < 1) throw new MethodRequestError("maxNewTokens", `expected a positive integer, got ${n}`);
  const generated = generate(model, [prompt], { maxNewTokens: n, temperature: 0 }).tokens[0] ?? [];
  const all = [...prompt, ...generated];
  const width = prompt.length + generated.length - 1; // the last generated token is seen by no row
  const matrix: (number | null)[][] = [];
  const deltas: number[] = [];
  generated.forEach((token, j) => {
    checkAborted(opts.signal);
    const prefix = all.slice(0, prompt.length + j);
    const r = gradientAttribution(model, {
      kind: "attribution",
      method: req.method,
      input: { ids: prefix },
      target: token,
      ...(req.foil !== undefined && { foil: req.foil }),
      ...(req.objective !== undefined && { objective: req.objective }),
      ...(req.baseline !== undefined && { baseline: req.baseline }),
      ...(req.steps !== undefined && { steps: req.steps }),
      ...(req.rule !== undefined && { rule: req.rule }),
    });
    matrix.push([...r.scores, ...new Array<null>(Math.max(0, width - prefix.length)).fill(null)]);
    if (r.delta !== null) deltas.push(r.delta);
    opts.onProgress?.({ done: j + 1, total: generated.length, what: "generated tokens" });
  });
  return {
    kind: "generation_attribution",
    method: req.method,
    objective: req.objective ?? "logprob",
    prompt: prompt.map((id) => tokenRef(model, id)),
    generated: generated.map((id) => tokenRef(model, id)),
    foil: req.foil === undefined ? null : tokenRef(model, req.foil),
    matrix,
    deltas: req.method === "integrated_gradients" ? deltas : null,
  };
}
