// Objectives and batches. The losses are built from tensor primitives (logsumexp, gather, mul, sum), so the tape
// differentiates them like any other op and the anomaly detector sees their ops by name. A padded batch carries
// its attention mask, which run() hands to the forward pass (core's padding: masked keys, positions counted over
// real tokens), and labels in which padding is IGNORE_INDEX.
import type { ForwardContext, HookedModel } from "@llmdbg/core";
import type { PaddingConfig } from "@llmdbg/protocol";
import * as T from "@llmdbg/tensor";
import { fromTyped, ShapeError, type Tensor } from "@llmdbg/tensor";

/** Labels at this value are not predicted (torch's CrossEntropyLoss ignore_index). */
export const IGNORE_INDEX = -100;

/** One training example: token ids, with either per-token labels (causal LM) or a class label. */
export interface Example {
  readonly ids: readonly number[];
  /** per-token labels, aligned with ids (the loss shifts them); default: the ids, padding ignored */
  readonly labels?: readonly number[];
  /** the class of a sequence-classification example */
  readonly label?: number;
}

/** Examples collated into tensors for one forward pass. */
export interface Batch {
  /** [batch, pos] i32 */
  readonly ids: Tensor;
  /** [batch, pos] i32, 1 for real tokens; undefined when no row is padded */
  readonly attentionMask: Tensor | undefined;
  /** [batch, pos] i32 token labels (IGNORE_INDEX where not predicted), or [batch] i32 class labels */
  readonly labels: Tensor;
  /** real (unpadded) tokens in the batch */
  readonly tokens: number;
  readonly size: number;
  /** the examples collated, in row order (an objective reads what else they carry, e.g. a counterfactual) */
  readonly examples: readonly Example[];
}

/**
 * Pads the examples' ids to the longest (or `padding.length`) on `padding.side` (right by default), with an
 * attention mask, and collates their labels: per-token labels (the ids by default) with padding set to
 * IGNORE_INDEX, or the class labels when `labels` is "class".
 * @example const b = collate([{ ids: [5, 6, 7] }, { ids: [8] }]) // ids [2, 3], labels [[5, 6, 7], [8, -100, -100]]
 */
export function collate(examples: readonly Example[], padding: PaddingConfig = {}, labels: "tokens" | "class" = "tokens"): Batch {
  if (examples.length === 0) throw new RangeError("collate: no examples");
  const longest = Math.max(...examples.map((e) => e.ids.length));
  const len = padding.length ?? longest;
  if (longest === 0) throw new RangeError("collate: every example is empty");
  if (longest > len) throw new RangeError(`collate: an example has ${longest} tokens, more than the padding length ${len}`);
  const B = examples.length;
  const ids = new Int32Array(B * len).fill(padding.padId ?? 0); // [batch, pos]
  const mask = new Int32Array(B * len); // [batch, pos]
  const tok = labels === "tokens" ? new Int32Array(B * len).fill(IGNORE_INDEX) : null; // [batch, pos]
  const cls = labels === "class" ? new Int32Array(B) : null; // [batch]
  let tokens = 0;
  examples.forEach((e, b) => {
    const start = padding.side === "left" ? len - e.ids.length : 0;
    if (e.labels !== undefined && e.labels.length !== e.ids.length)
      throw new ShapeError(`collate: example ${b} has ${e.ids.length} ids and ${e.labels.length} labels`);
    e.ids.forEach((id, i) => {
      ids[b * len + start + i] = id;
      mask[b * len + start + i] = 1;
      if (tok !== null) tok[b * len + start + i] = e.labels?.[i] ?? id;
    });
    tokens += e.ids.length;
    if (cls !== null) {
      if (e.label === undefined || !Number.isInteger(e.label)) throw new RangeError(`collate: example ${b} has no class label`);
      cls[b] = e.label;
    }
  });
  const padded = tokens < B * len;
  return {
    ids: fromTyped(ids, [B, len], "i32"), // [batch, pos]
    attentionMask: padded ? fromTyped(mask, [B, len], "i32") : undefined, // [batch, pos]
    labels: tok !== null ? fromTyped(tok, [B, len], "i32") : fromTyped(cls as Int32Array, [B], "i32"), // [batch, pos] | [batch]
    tokens,
    size: B,
    examples,
  };
}

/**
 * Cross-entropy of `logits` [n, classes] against `targets` (n class indices, IGNORE_INDEX to skip), averaged over
 * the targets kept; 0 when none is kept (torch gives NaN: a batch with nothing to predict contributes nothing).
 * nll = logsumexp(row) − row[target], in one fused op (T.crossEntropy): the log-softmax is never materialized.
 */
function crossEntropyRows(logits: Tensor, targets: ArrayLike<number>): Tensor {
  const [n, C] = logits.shape as [number, number];
  const idx = new Int32Array(n); // [n]
  const w = new Float64Array(n); // [n]
  let kept = 0;
  for (let i = 0; i < n; i++) {
    const t = targets[i] as number;
    if (t === IGNORE_INDEX) continue;
    if (!Number.isInteger(t) || t < 0 || t >= C) throw new RangeError(`cross-entropy: target ${t} out of range [0, ${C})`);
    idx[i] = t;
    w[i] = 1;
    kept++;
  }
  if (kept > 0) for (let i = 0; i < n; i++) w[i] = (w[i] as number) / kept;
  return T.crossEntropy(logits, idx, w); // []
}

/**
 * Causal LM loss: the mean next-token cross-entropy of logits [batch, pos, d_vocab] against labels [batch, pos]
 * aligned with the ids (position t predicts labels[t + 1], as transformers shifts them), IGNORE_INDEX skipped.
 * With `mask` [batch, pos], a padding position predicts nothing either: with left padding the last pad would
 * otherwise be asked for the first real token.
 * @example const loss = causalLmLoss(output, batch.labels, batch.attentionMask) // []
 */
export function causalLmLoss(logits: Tensor, labels: Tensor, mask?: Tensor): Tensor {
  if (logits.rank !== 3) throw new ShapeError(`causalLmLoss: logits must be [batch, pos, d_vocab], got [${logits.shape}]`);
  const [B, Tn, V] = logits.shape as [number, number, number];
  if (labels.rank !== 2 || labels.shape[0] !== B || labels.shape[1] !== Tn)
    throw new ShapeError(`causalLmLoss: labels must be [${B}, ${Tn}], got [${labels.shape}]`);
  // shift the labels, not the logits: the last position's row just gets no target (no narrowed copy of the logits)
  const lab = labels.data as Int32Array;
  const targets = new Int32Array(B * Tn).fill(IGNORE_INDEX); // [batch, pos]
  const m = mask?.data;
  if (mask !== undefined && (mask.rank !== 2 || mask.shape[0] !== B || mask.shape[1] !== Tn))
    throw new ShapeError(`causalLmLoss: mask must be [${B}, ${Tn}], got [${mask.shape}]`);
  for (let b = 0; b < B; b++)
    for (let t = 0; t + 1 < Tn; t++)
      if (m === undefined || m[b * Tn + t] !== 0) targets[b * Tn + t] = lab[b * Tn + t + 1] as number;
  return crossEntropyRows(T.reshape(logits, [B * Tn, V]), targets); // []
}

/**
 * Sequence-classification loss: the mean cross-entropy of logits [batch, classes] against labels [batch].
 * @example const loss = classificationLoss(logits, batch.labels) // []
 */
export function classificationLoss(logits: Tensor, labels: Tensor): Tensor {
  if (logits.rank !== 2 || labels.rank !== 1 || labels.shape[0] !== logits.shape[0])
    throw new ShapeError(
      `classificationLoss: logits [batch, classes] and labels [batch], got [${logits.shape}] and [${labels.shape}]`,
    );
  return crossEntropyRows(logits, labels.data as Int32Array); // []
}

/**
 * The model output a classification objective reads: [batch, classes] as it is, or the last real token's row of
 * [batch, pos, classes] (a decoder scoring a sequence at its end, as transformers' *ForSequenceClassification).
 */
export function classificationLogits(output: Tensor, batch: Batch): Tensor {
  if (output.rank === 2) return output;
  if (output.rank !== 3)
    throw new ShapeError(`classification: expected [batch, classes] or [batch, pos, classes], got [${output.shape}]`);
  const [B, Tn, C] = output.shape as [number, number, number];
  const mask = batch.attentionMask?.data;
  const rows = new Int32Array(B); // [batch]
  for (let b = 0; b < B; b++) {
    let last = Tn - 1;
    if (mask !== undefined) while (last > 0 && mask[b * Tn + last] === 0) last--;
    rows[b] = b * Tn + last;
  }
  return T.gather(T.reshape(output, [B * Tn, C]), fromTyped(rows, [B], "i32"), 0); // [batch, classes]
}

/** What an objective sees of its run besides the output. */
export interface ObjectiveContext {
  /**
   * This run's tensor of the parameter `name`: for a trained parameter, the leaf being differentiated, so a
   * term built from it (a weight penalty, a LoRA regularizer) gets its gradient like the forward pass does.
   */
  param(name: string): Tensor;
  /** the optimizer step being computed, counted as the schedule counts (0 for the first update) */
  readonly step: number;
}

/**
 * What training minimizes: a one-element tensor from the model's output and the batch. Regularizers compose
 * here (add a term to a built-in objective, over `ctx.param`); activations reach them through the run options'
 * hooks.
 * @example const l2: Objective = (o, b, ctx) => T.add(causalLmObjective(o, b, ctx), T.mul(T.sum(T.mul(ctx.param("wte.weight"), ctx.param("wte.weight"))), 1e-4))
 */
export type Objective = (output: Tensor, batch: Batch, ctx: ObjectiveContext) => Tensor;

/**
 * `model` with its forward pass's context kept, so that `param(name)` gives the tensors of the run in progress
 * (run() makes that context and drops it; an objective runs inside the call, after the forward pass).
 */
export function runParams(model: HookedModel): { model: HookedModel; param: (name: string) => Tensor } {
  let ctx: ForwardContext | null = null;
  const wrapped: HookedModel = {
    hookPoints: model.hookPoints,
    params: model.params,
    axisSizes: model.axisSizes,
    tokenizer: model.tokenizer,
    forward: (ids, c, opts) => {
      ctx = c;
      return model.forward(ids, c, opts);
    },
  };
  const param = (name: string): Tensor => {
    if (ctx === null) throw new Error(`objective: param("${name}") is only available during a run`);
    return ctx.param(name);
  };
  return { model: wrapped, param };
}

export const causalLmObjective: Objective = (output, batch) => causalLmLoss(output, batch.labels, batch.attentionMask);
export const classificationObjective: Objective = (output, batch) =>
  classificationLoss(classificationLogits(output, batch), batch.labels);

/** Sum of next-token losses and the count of predicted tokens (for an evaluation's token-weighted mean). */
export function causalLmLossSum(logits: Tensor, labels: Tensor, mask?: Tensor): { sum: number; count: number } {
  const lab = labels.data as Int32Array;
  const m = mask?.data;
  const [B, Tn] = labels.shape as [number, number];
  let count = 0;
  for (let b = 0; b < B; b++)
    for (let t = 1; t < Tn; t++) if (lab[b * Tn + t] !== IGNORE_INDEX && (m === undefined || m[b * Tn + t - 1] !== 0)) count++;
  return { sum: count === 0 ? 0 : T.noGrad(() => causalLmLoss(logits, labels, mask)).item() * count, count };
}
