// The tuned lens (Belrose et al. 2023): the logit lens reads every layer's residual stream through the model's
// final head as if it were the last layer's, which early layers are not; a tuned lens first passes each layer's
// stream through a learned affine translator h ↦ h + hA + b (A, b initialized to zero, so training starts from
// the logit lens), trained to minimize KL(final distribution ‖ lens distribution) on a text corpus. Translators
// are trained per layer with Adam on minibatches of the corpus's positions; a held-out share of positions gives
// each layer's KL under the logit lens and under the tuned lens.
import { run, type TransformerModel } from "@llmdbg/core";
import type { TunedLensResult, TunedLensTrainRequest } from "@llmdbg/protocol";
import * as T from "@llmdbg/tensor";
import { checkAborted, inputIds, type MethodOptions, MethodRequestError } from "./common.js";
import { rng } from "./perturbation.js";
import { logSoftmaxRow } from "./rows.js";

/** Trained translators, one per residual stream the logit lens reads (LensResult.layers). */
export interface TunedLens {
  readonly layers: readonly string[];
  /** A [d_model, d_model] and b [d_model] per layer */
  readonly translators: readonly { readonly A: T.Tensor; readonly b: T.Tensor }[];
}

/** The stream through its translator: h + hA + b ([..., d_model]). */
export function translate(lens: TunedLens, layer: number, h: T.Tensor): T.Tensor {
  const t = lens.translators[layer];
  if (t === undefined) throw new MethodRequestError("layer", `the tuned lens has no translator ${layer}`);
  return T.add(T.add(h, T.matmul(h, t.A)), t.b); // [..., d_model]
}

/** The streams the logit lens reads: every block's input, then the last block's output. */
export function lensLayers(model: TransformerModel): string[] {
  const L = model.nLayers;
  return [...Array.from({ length: L }, (_, l) => `blocks.${l}.hook_resid_pre`), `blocks.${L - 1}.hook_resid_post`];
}

/**
 * Trains a tuned lens on `req.texts` and reports each layer's held-out KL under the logit lens and the tuned lens.
 * @example const { result, lens } = trainTunedLens(model, { kind: "tuned_lens", texts: corpusLines })
 */
export function trainTunedLens(
  model: TransformerModel,
  req: TunedLensTrainRequest,
  opts: MethodOptions = {},
): { result: TunedLensResult; lens: TunedLens } {
  if (req.texts.length === 0) throw new MethodRequestError("texts", "is empty");
  const steps = req.steps ?? 200;
  const lr = req.lr ?? 1e-3;
  const batch = req.batchTokens ?? 128;
  const validation = req.validation ?? 0.2;
  const maxTokens = req.maxTokens ?? 4096;
  const seed = req.seed ?? 0;
  if (!Number.isInteger(steps) || steps < 0)
    throw new MethodRequestError("steps", `expected a non-negative integer, got ${steps}`);
  if (!(validation > 0 && validation < 1))
    throw new MethodRequestError("validation", `expected a share in (0, 1), got ${validation}`);
  const layers = lensLayers(model);
  const D = model.W_U.shape[0] as number;

  // every layer's stream and the final log-distribution at each corpus position, up to maxTokens
  const streams: Float32Array[][] = layers.map(() => []);
  const finals: Float64Array[] = [];
  for (const [i, text] of req.texts.entries()) {
    checkAborted(opts.signal);
    let ids: number[];
    try {
      ids = inputIds(model, { text });
    } catch (e) {
      throw e instanceof MethodRequestError ? new MethodRequestError(`texts[${i}]`, e.message) : e;
    }
    const { cache, output } = run(model, ids, { cache: layers });
    const V = output.shape[2] as number;
    for (let p = 0; p < ids.length && finals.length < maxTokens; p++) {
      for (const [l, name] of layers.entries())
        streams[l]?.push(Float32Array.from(cache.get(name).data.subarray(p * D, (p + 1) * D) as Float32Array));
      finals.push(logSoftmaxRow(output.data.subarray(p * V, (p + 1) * V)));
    }
    if (finals.length >= maxTokens) break;
  }
  const N = finals.length;
  if (N < 4) throw new MethodRequestError("texts", `give ${N} positions; a tuned lens needs more text`);
  const rand = rng(seed);
  const order = Array.from({ length: N }, (_, i) => i);
  for (let i = N - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  const nVal = Math.max(1, Math.round(validation * N));
  const val = order.slice(0, nVal);
  const train = order.slice(nVal);

  const V = finals[0]?.length ?? 0;
  const rows = (l: number, idx: readonly number[]) => {
    const out = new Float32Array(idx.length * D);
    idx.forEach((i, r) => {
      out.set(streams[l]?.[i] as Float32Array, r * D);
    });
    return T.tensor(out, [1, idx.length, D]); // [1, n, d_model]
  };
  const targets = (idx: readonly number[]) => {
    const out = new Float32Array(idx.length * V);
    idx.forEach((i, r) => {
      const lp = finals[i] as Float64Array;
      for (let v = 0; v < V; v++) out[r * V + v] = Math.exp(lp[v] as number);
    });
    return T.tensor(out, [1, idx.length, V]); // [1, n, d_vocab]
  };
  // mean over positions of KL(p ‖ q) = Σ p log p − Σ p log q; only the cross-entropy term depends on the lens
  const crossEntropy = (h: T.Tensor, p: T.Tensor, n: number) =>
    T.mul(T.sum(T.mul(p, T.logSoftmax(model.unembed(h), -1))), -1 / n); // []
  const kl = (lensOf: (h: T.Tensor) => T.Tensor, l: number) =>
    T.noGrad(() => {
      const lq = T.logSoftmax(model.unembed(lensOf(rows(l, val))), -1).data; // [1, n, d_vocab]
      let total = 0;
      val.forEach((i, r) => {
        const lp = finals[i] as Float64Array;
        for (let v = 0; v < V; v++) total += Math.exp(lp[v] as number) * ((lp[v] as number) - (lq[r * V + v] as number));
      });
      return total / val.length;
    });

  const translators: { A: T.Tensor; b: T.Tensor }[] = [];
  const klLogit: number[] = [];
  const klTuned: number[] = [];
  for (let l = 0; l < layers.length; l++) {
    let A = T.zeros([D, D]); // [d_model, d_model]
    let b = T.zeros([D]); // [d_model]
    const mA = new Float64Array(D * D);
    const vA = new Float64Array(D * D);
    const mB = new Float64Array(D);
    const vB = new Float64Array(D);
    const step = T.valueAndGrad((a: T.Tensor, bias: T.Tensor, h: T.Tensor, p: T.Tensor) =>
      crossEntropy(T.add(T.add(h, T.matmul(h, a)), bias), p, h.shape[1] as number),
    );
    for (let t = 1; t <= steps; t++) {
      checkAborted(opts.signal);
      const idx = Array.from({ length: Math.min(batch, train.length) }, () => train[Math.floor(rand() * train.length)] as number);
      const { grads } = step(A, b, rows(l, idx), targets(idx));
      A = adam(A, grads[0] as T.Tensor, mA, vA, t, lr);
      b = adam(b, grads[1] as T.Tensor, mB, vB, t, lr);
    }
    translators.push({ A, b });
    const lens: TunedLens = { layers, translators };
    klLogit.push(kl((h) => h, l));
    klTuned.push(kl((h) => translate(lens, l, h), l));
    opts.onProgress?.({ done: l + 1, total: layers.length, what: layers[l] as string });
  }
  return {
    result: {
      kind: "tuned_lens",
      layers,
      klLogitLens: klLogit,
      klTunedLens: klTuned,
      trainTokens: train.length,
      validationTokens: val.length,
      steps,
      seed,
    },
    lens: { layers, translators },
  };
}

/** One Adam step on a parameter (moments kept by the caller), returning the new parameter. */
function adam(x: T.Tensor, g: T.Tensor, m: Float64Array, v: Float64Array, t: number, lr: number): T.Tensor {
  const out = new Float32Array(x.size);
  for (let i = 0; i < x.size; i++) {
    const gi = g.data[i] as number;
    m[i] = 0.9 * (m[i] as number) + 0.1 * gi;
    v[i] = 0.999 * (v[i] as number) + 0.001 * gi * gi;
    out[i] =
      (x.data[i] as number) -
      (lr * ((m[i] as number) / (1 - 0.9 ** t))) / (Math.sqrt((v[i] as number) / (1 - 0.999 ** t)) + 1e-8);
  }
  return T.tensor(out, x.shape);
}
