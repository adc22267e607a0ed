// Steering: add a vector to one hook point's activation (at chosen positions, or everywhere — generated tokens
// included) and compare the predictions and the generated text with and without it. The vector is given, or
// built by contrastive activation addition (Rimsky et al. 2023): the mean activation over positive prompts less
// the mean over negative ones at the same hook. A probe's exported direction is a given vector.
import { generate, run, type TransformerModel, topK } from "@llmdbg/core";
import type { SteeringVector, SteerRequest, SteerResult, TokenInput } from "@llmdbg/protocol";
import type { Tensor } from "@llmdbg/tensor";
import { checkAborted, inputIds, type MethodOptions, MethodRequestError, tokenRef } from "./common.js";
import { klDivergence, logSoftmaxRow } from "./rows.js";

/** The last-axis length of `hook` (its activations' width), or an error naming the hook. */
function widthOf(model: TransformerModel, hook: string): number {
  const p = model.hookPoints.find((h) => h.name === hook);
  if (p === undefined) throw new MethodRequestError("hook", `${JSON.stringify(hook)} is not a hook point of this model`);
  const axis = p.axes[p.axes.length - 1];
  const width = axis === undefined ? undefined : model.axisSizes[axis];
  if (width === undefined) throw new MethodRequestError("hook", `${hook}'s last axis (${axis}) has no fixed size to steer along`);
  return width;
}

/**
 * Contrastive activation addition: mean activation at `hook` over the positive prompts less that over the
 * negative ones (each prompt its tokens' mean, or its last token).
 */
export function contrastiveVector(
  model: TransformerModel,
  hook: string,
  positive: readonly TokenInput[],
  negative: readonly TokenInput[],
  reduce: "last" | "mean" = "mean",
  signal?: AbortSignal,
): number[] {
  const width = widthOf(model, hook);
  const meanOver = (prompts: readonly TokenInput[], field: string) => {
    if (prompts.length === 0) throw new MethodRequestError(field, "is empty");
    const acc = new Float64Array(width);
    for (const [i, input] of prompts.entries()) {
      checkAborted(signal);
      let ids: number[];
      try {
        ids = inputIds(model, input);
      } catch (e) {
        throw e instanceof MethodRequestError ? new MethodRequestError(`${field}[${i}]`, e.message) : e;
      }
      const a = run(model, ids, { cache: hook }).cache.get(hook); // [1, pos, …, width]
      const rows = a.size / width;
      const perPos = rows / ids.length;
      const from = reduce === "last" ? (ids.length - 1) * perPos : 0;
      for (let r = from; r < rows; r++)
        for (let j = 0; j < width; j++) acc[j] = (acc[j] as number) + (a.data[r * width + j] as number) / (rows - from);
    }
    return acc.map((v) => v / prompts.length);
  };
  const pos = meanOver(positive, "vector.contrast.positive");
  const neg = meanOver(negative, "vector.contrast.negative");
  return Array.from(pos, (v, j) => v - (neg[j] as number));
}

function vectorOf(model: TransformerModel, req: SteerRequest, signal?: AbortSignal): number[] {
  const width = widthOf(model, req.hook);
  const v: SteeringVector = req.vector;
  if ("values" in v) {
    if (v.values.length !== width)
      throw new MethodRequestError("vector.values", `has ${v.values.length} entries; ${req.hook} is ${width} wide`);
    if (!v.values.every(Number.isFinite))
      throw new MethodRequestError("vector.values", "holds a value that is not a finite number");
    return [...v.values];
  }
  return contrastiveVector(model, req.hook, v.contrast.positive, v.contrast.negative, v.contrast.reduce ?? "mean", signal);
}

/**
 * The model's next-token predictions (and optionally a generation) with and without a steering vector.
 * @example steer(model, { kind: "steer", input: { text: "I think that" }, hook: "blocks.6.hook_resid_post", vector: { contrast: { positive: [{ text: "Love" }], negative: [{ text: "Hate" }] } }, coeff: 4 })
 */
export function steer(model: TransformerModel, req: SteerRequest, opts: MethodOptions = {}): SteerResult {
  const ids = inputIds(model, req.input);
  const coeff = req.coeff ?? 1;
  if (!Number.isFinite(coeff)) throw new MethodRequestError("coeff", `expected a finite number, got ${coeff}`);
  const k = req.topK ?? 5;
  const vector = vectorOf(model, req, opts.signal);
  const add = {
    kind: "add" as const,
    hook: req.hook,
    vector,
    coeff,
    ...(req.positions !== undefined && { positions: req.positions }),
  };
  const lastRow = (out: Tensor) => {
    const V = out.shape[out.rank - 1] as number;
    return out.data.subarray(out.size - V, out.size);
  };
  const before = lastRow(run(model, ids).output);
  let after: ArrayLike<number>;
  try {
    after = lastRow(run(model, ids, { interventions: [add] }).output);
  } catch (e) {
    // a position outside the input is the request's fault
    throw /positions/.test((e as Error).message) ? new MethodRequestError("positions", (e as Error).message) : e;
  }
  const scores = (row: ArrayLike<number>) =>
    topK(row, k).map((t) => ({ ...tokenRef(model, t.id), logit: t.logit, prob: t.prob }));
  const kl = klDivergence(logSoftmaxRow(before), logSoftmaxRow(after));

  let generated: SteerResult["generated"] = null;
  if (req.generate !== undefined) {
    checkAborted(opts.signal);
    const g = req.generate;
    const o = { maxNewTokens: g.maxNewTokens, temperature: g.temperature ?? 0, seed: g.seed ?? 0 };
    const plain = generate(model, [ids], o).tokens[0] ?? [];
    const steered = generate(model, [ids], { ...o, interventions: [add] }).tokens[0] ?? [];
    const text = (t: readonly number[]) =>
      model.tokenizer === undefined ? null : model.tokenizer.decode(t, { skipSpecialTokens: true });
    generated = {
      before: plain.map((id) => tokenRef(model, id)),
      after: steered.map((id) => tokenRef(model, id)),
      beforeText: text(plain),
      afterText: text(steered),
    };
  }
  return {
    kind: "steer",
    hook: req.hook,
    coeff,
    positions: req.positions === undefined ? null : [...req.positions],
    vector,
    norm: Math.sqrt(vector.reduce((s, x) => s + x * x, 0)),
    tokens: ids.map((id) => tokenRef(model, id)),
    before: scores(before),
    after: scores(after),
    kl,
    generated,
  };
}
