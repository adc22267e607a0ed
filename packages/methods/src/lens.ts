// The logit lens: what the model would predict if the residual stream stopped at each layer. Every layer's stream
// (and the last layer's output) goes through the model's own head — its final norm, with the scale computed on
// that stream, and the unembedding — as nostalgebraist defined the lens and TransformerLens's
// `accumulated_resid(apply_ln=True)` reads the same streams. The last row is the model's output.
import { run, type TransformerModel, topK } from "@llmdbg/core";
import type { LensCell, LensRequest, LensResult } from "@llmdbg/protocol";
import {
  checkAborted,
  checkToken,
  inputIds,
  type MethodOptions,
  MethodRequestError,
  resolvePosition,
  tokenRef,
} from "./common.js";
import { type TunedLens, translate } from "./tuned-lens.js";

/**
 * Top-k predictions (and a target's probability and rank) at every layer × position.
 * @example logitLens(model, { kind: "lens", input: { text: "The Eiffel Tower is in" }, target: paris })
 */
export function logitLens(
  model: TransformerModel,
  req: LensRequest,
  opts: MethodOptions & { readonly tuned?: TunedLens } = {},
): LensResult {
  const ids = inputIds(model, req.input);
  const k = req.topK ?? 5;
  if (!Number.isInteger(k) || k < 1) throw new MethodRequestError("topK", `expected a positive integer, got ${k}`);
  if (req.target !== undefined) checkToken(model, req.target, "target");
  const positions = (req.positions ?? ids.map((_, i) => i)).map((p, i) => resolvePosition(p, ids.length, `positions[${i}]`));
  const L = model.nLayers;
  const layers = [...Array.from({ length: L }, (_, l) => `blocks.${l}.hook_resid_pre`), `blocks.${L - 1}.hook_resid_post`];
  if (opts.tuned !== undefined && opts.tuned.layers.join() !== layers.join())
    throw new MethodRequestError(
      "tuned",
      `the tuned lens was trained for ${opts.tuned.layers.length} streams; this model has ${layers.length}`,
    );
  const { cache, output } = run(model, ids, { cache: layers });
  if (output.rank !== 3)
    throw new MethodRequestError("model", `the lens reads next-token logits; this model outputs ${output.shape}`);

  const cells: LensCell[][] = [];
  for (const [i, name] of layers.entries()) {
    checkAborted(opts.signal);
    const resid = cache.get(name); // [1, pos, d_model]
    const logits = model.unembed(opts.tuned === undefined ? resid : translate(opts.tuned, i, resid)); // [1, pos, d_vocab]
    const V = logits.shape[2] as number;
    const data = logits.data as Float32Array | Float64Array; // row-major: position p's logits at [p·V, (p+1)·V)
    cells.push(
      positions.map((p) => {
        const row = data.subarray(p * V, (p + 1) * V);
        const top = topK(row, k).map((t) => ({ ...tokenRef(model, t.id), logit: t.logit, prob: t.prob }));
        return { top, target: req.target === undefined ? null : targetAt(row, req.target) };
      }),
    );
    opts.onProgress?.({ done: i + 1, total: layers.length, what: name });
  }
  return {
    kind: "lens",
    tokens: ids.map((id) => tokenRef(model, id)),
    layers,
    positions,
    target: req.target === undefined ? null : tokenRef(model, req.target),
    cells,
    lens: opts.tuned === undefined ? "logit" : "tuned",
  };
}

/** The target's logit, probability (softmax in float64) and rank (how many tokens score strictly higher). */
function targetAt(row: Float32Array | Float64Array, target: number): LensCell["target"] {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of row) max = Math.max(max, v);
  let z = 0;
  for (const v of row) z += Math.exp(v - max);
  const logit = row[target] as number;
  let rank = 0;
  for (const v of row) if (v > logit) rank++;
  return { logit, prob: Math.exp(logit - max) / z, rank };
}
