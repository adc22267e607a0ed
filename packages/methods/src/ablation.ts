// Ablation: take one component out and see what the prediction loses. A component is an attention head (its
// output z at every position), an MLP neuron (its activation at every position) or a whole layer's attention or
// MLP output; it is replaced by zero, by its mean over a dataset (every token of every text), or by activations
// resampled from random dataset tokens (a token drawn per position and per draw, averaged over `samples` draws,
// so the component carries plausible but uninformative values). Each ablated run starts at the component's layer
// from the unablated run's residual, the components of one layer as rows of one batch.
import { run, type TransformerModel } from "@llmdbg/core";
import type { AblationEffect, AblationMetric, AblationRequest, AblationResult } from "@llmdbg/protocol";
import { type Tensor, tensor } from "@llmdbg/tensor";
import { checkAborted, checkToken, inputIds, type MethodOptions, MethodRequestError, tokenRef } from "./common.js";
import { rng } from "./perturbation.js";
import { argmax, objectiveOfRow } from "./rows.js";

/** The hook each kind of component lives on, and the axis its index runs along (null: the whole activation). */
const SITES = {
  head: { hook: "attn.hook_z", axis: 2 }, // [batch, pos, head, d_head]
  neuron: { hook: "mlp.hook_post", axis: 2 }, // [batch, pos, d_mlp]
  attn: { hook: "hook_attn_out", axis: null }, // [batch, pos, d_model]
  mlp: { hook: "hook_mlp_out", axis: null },
} as const;
type Kind = keyof typeof SITES;

interface Component {
  readonly kind: Kind;
  readonly layer: number;
  readonly index: number | null;
}

/**
 * Ablates every head, neuron or layer output in turn and reports the metric's change, largest first.
 * @example ablate(model, { kind: "ablate", input: { text }, components: "heads", ablation: "mean", dataset: texts })
 */
export function ablate(model: TransformerModel, req: AblationRequest, opts: MethodOptions = {}): AblationResult {
  const ids = inputIds(model, req.input);
  const P = ids.length;
  const L = model.nLayers;
  const kindMetric: AblationMetric = req.metric ?? "logprob";
  const batch = req.batch ?? 32;
  if (!Number.isInteger(batch) || batch < 1) throw new MethodRequestError("batch", `expected a positive integer, got ${batch}`);
  const samples = req.ablation === "resample" ? (req.samples ?? 4) : null;
  if (samples !== null && (!Number.isInteger(samples) || samples < 1))
    throw new MethodRequestError("samples", `expected a positive integer, got ${samples}`);
  const seed = req.ablation === "resample" ? (req.seed ?? 0) : null;
  const layers = req.components === "neurons" && req.layers !== undefined ? req.layers : Array.from({ length: L }, (_, l) => l);
  for (const [i, l] of layers.entries())
    if (!Number.isInteger(l) || l < 0 || l >= L)
      throw new MethodRequestError(`layers[${i}]`, `expected a layer in [0, ${L}), got ${l}`);
  const wanted: Kind[] = req.components === "heads" ? ["head"] : req.components === "neurons" ? ["neuron"] : ["attn", "mlp"];
  // an attention-only model has no MLP sites: its layers are their attention outputs alone
  const declared = new Set(model.hookPoints.map((p) => p.component));
  const kinds = wanted.filter((k) => declared.has(SITES[k].hook));
  if (kinds.length === 0)
    throw new MethodRequestError(
      "components",
      `this model has no ${req.components} to ablate (no ${SITES[wanted[0] as Kind].hook} hook)`,
    );
  const names = layers.flatMap((l) => [`blocks.${l}.hook_resid_pre`, ...kinds.map((k) => `blocks.${l}.${SITES[k].hook}`)]);
  const clean = run(model, ids, { cache: names });
  if (clean.output.rank !== 3)
    throw new MethodRequestError("model", "ablation reads next-token logits; this model is a classifier");
  const V = clean.output.shape[2] as number;
  const lastRow = (out: Tensor, r: number) => out.data.subarray((r * P + P - 1) * V, (r * P + P) * V);
  let answer = req.answer;
  if (answer === undefined) {
    const row = lastRow(clean.output, 0);
    answer = argmax(row);
  }
  checkToken(model, answer, "answer");
  if (kindMetric === "logit_diff" && req.foil === undefined) throw new MethodRequestError("foil", "logit_diff needs a foil");
  if (req.foil !== undefined) checkToken(model, req.foil, "foil");
  const a = answer;
  const metricOf = (row: ArrayLike<number>) =>
    kindMetric === "logit_diff" ? (row[a] as number) - (row[req.foil as number] as number) : objectiveOfRow(row, a, kindMetric);
  const baseline = metricOf(lastRow(clean.output, 0));

  // the replacement values: per hook, one activation slice per dataset token (mean: their average)
  const pool =
    req.ablation === "zero"
      ? null
      : datasetActivations(
          model,
          req.dataset,
          layers.flatMap((l) => kinds.map((k) => `blocks.${l}.${SITES[k].hook}`)),
        );
  const rand = seed === null ? null : rng(seed);

  const effects: AblationEffect[] = [];
  const components: Component[] = layers.flatMap((l) =>
    kinds.flatMap((kind) => {
      const site = SITES[kind];
      const n = site.axis === null ? 1 : (clean.cache.get(`blocks.${l}.${site.hook}`).shape[site.axis] as number);
      return Array.from({ length: n }, (_, i) => ({ kind, layer: l, index: site.axis === null ? null : i }));
    }),
  );
  const draws = samples ?? 1;
  let done = 0;
  for (const l of layers) {
    const here = components.filter((c) => c.layer === l);
    for (let start = 0; start < here.length; start += batch) {
      checkAborted(opts.signal);
      const chunk = here.slice(start, start + batch);
      const rowsPer = chunk.length * draws;
      const hooks: Record<string, (x: Tensor) => Tensor> = {};
      for (const kind of new Set(chunk.map((c) => c.kind))) {
        const name = `blocks.${l}.${SITES[kind].hook}`;
        hooks[name] = (x) => replaced(x, chunk, kind, draws, pool?.get(name) ?? null, req.ablation, rand);
      }
      const resid = clean.cache.get(`blocks.${l}.hook_resid_pre`); // [1, pos, d_model]
      const start0 = new Float32Array(rowsPer * resid.size);
      for (let r = 0; r < rowsPer; r++) start0.set(resid.data as Float32Array, r * resid.size);
      const out = run(model, tensor(Array.from({ length: rowsPer }, () => ids).flat(), [rowsPer, P], "i32"), {
        startAt: { layer: l, resid: tensor(start0, [rowsPer, P, resid.shape[2] as number], resid.dtype) },
        hooks,
      }).output;
      chunk.forEach((c, i) => {
        let m = 0;
        for (let d = 0; d < draws; d++) m += metricOf(lastRow(out, i * draws + d));
        m /= draws;
        const name = c.kind === "head" ? `L${l}H${c.index}` : c.kind === "neuron" ? `L${l}N${c.index}` : `L${l} ${c.kind}`;
        effects.push({ name, layer: l, index: c.index, kind: c.kind, metric: m, effect: m - baseline });
      });
      done += chunk.length;
      opts.onProgress?.({ done, total: components.length, what: "components" });
    }
  }
  effects.sort((x, y) => Math.abs(y.effect) - Math.abs(x.effect));
  return {
    kind: "ablate",
    components: req.components,
    ablation: req.ablation,
    metric: kindMetric,
    tokens: ids.map((id) => tokenRef(model, id)),
    answer: tokenRef(model, a),
    foil: req.foil === undefined ? null : tokenRef(model, req.foil),
    baseline,
    effects,
    samples,
    seed,
  };
}

/**
 * `x` [rows, pos, …] with, in each row, its component's slice replaced: zero, the dataset mean, or a random
 * dataset token's slice per position (rows run `draws` per component).
 */
function replaced(
  x: Tensor,
  chunk: readonly Component[],
  kind: Kind,
  draws: number,
  pool: Float32Array[] | null,
  how: AblationRequest["ablation"],
  rand: (() => number) | null,
): Tensor {
  const out = Float32Array.from(x.data as Float32Array);
  const [rows, P] = x.shape as [number, number];
  const per = x.size / rows / P; // one position's slice
  const axis = SITES[kind].axis;
  const inner = axis === null ? per : x.shape.slice(axis + 1).reduce((a, b) => a * b, 1); // [d_head] for a head
  const mean = how === "mean" && pool !== null ? meanOf(pool, per) : null;
  chunk.forEach((c, i) => {
    if (c.kind !== kind) return;
    for (let d = 0; d < draws; d++) {
      const r = i * draws + d;
      for (let p = 0; p < P; p++) {
        const src =
          how === "zero" ? null : how === "mean" ? mean : (pool?.[Math.floor((rand as () => number)() * pool.length)] ?? null);
        const base = (r * P + p) * per;
        const from = c.index === null ? 0 : c.index * inner;
        for (let j = from; j < from + (c.index === null ? per : inner); j++)
          out[base + j] = src === null ? 0 : (src[j] as number);
      }
    }
  });
  return tensor(out, x.shape, x.dtype);
}

function meanOf(pool: readonly Float32Array[], per: number): Float32Array {
  const m = new Float64Array(per);
  for (const v of pool) for (let j = 0; j < per; j++) m[j] = (m[j] as number) + (v[j] as number);
  return Float32Array.from(m, (v) => v / pool.length);
}

/** Every dataset token's activation slice at each hook: the pool that mean and resample ablation draw from. */
function datasetActivations(
  model: TransformerModel,
  dataset: readonly string[] | undefined,
  hooks: readonly string[],
): Map<string, Float32Array[]> {
  if (dataset === undefined || dataset.length === 0)
    throw new MethodRequestError("dataset", "mean and resample ablation need dataset texts");
  const tok = model.tokenizer;
  if (tok === undefined) throw new MethodRequestError("dataset", "this model was loaded without a tokenizer");
  const pool = new Map<string, Float32Array[]>(hooks.map((h) => [h, []]));
  for (const [i, text] of dataset.entries()) {
    const ids = tok.encode(text);
    if (ids.length === 0) throw new MethodRequestError(`dataset[${i}]`, "encodes to no tokens");
    const { cache } = run(model, ids, { cache: [...hooks] });
    for (const h of hooks) {
      const a = cache.get(h); // [1, pos, …]
      const per = a.size / ids.length;
      for (let p = 0; p < ids.length; p++)
        pool.get(h)?.push(Float32Array.from(a.data.subarray(p * per, (p + 1) * per) as Float32Array));
    }
  }
  return pool;
}
