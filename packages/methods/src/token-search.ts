// What counterfactuals and the adversarial searches share: which tokens may be inserted (never a special token or an
// embedding row no token names), one row of logits read in float64 (its top token, a token's log-probability), and
// many candidate inputs evaluated in batched forward passes, inputs of one length per pass.
import { run, type TransformerModel } from "@llmdbg/core";
import type { TokenScore } from "@llmdbg/protocol";
import { matmul, type Tensor, tensor } from "@llmdbg/tensor";
import { checkAborted, checkToken, MethodRequestError, tokenRef } from "./common.js";

/** The tokenizer's special tokens: BOS, EOS, pad, unknown, and every added token its file marks special. */
export function specialTokens(model: TransformerModel): Set<number> {
  const tok = model.tokenizer;
  const out = new Set<number>();
  if (tok === undefined) return out;
  for (const id of [tok.bosTokenId, tok.eosTokenId, tok.padTokenId, tok.unkTokenId]) if (id !== undefined) out.add(id);
  // a Hugging Face tokenizer lists its special added tokens; the core interface does not require it
  const marked = (tok as { readonly specialTokenIds?: readonly number[] }).specialTokenIds;
  for (const id of marked ?? []) out.add(id);
  return out;
}

/**
 * allowed[v] = 1 for a token that may be inserted into an input: a row of W_E the tokenizer names (checkpoints pad
 * their embeddings past the vocabulary), not special, not in `exclude` (checked against the embedding: `field`).
 */
export function insertableTokens(model: TransformerModel, exclude: readonly number[] | undefined, field: string): Uint8Array {
  const rows = model.W_E.shape[0] as number; // W_E [d_vocab, d_model]
  const allowed = new Uint8Array(rows).fill(1);
  const tok = model.tokenizer;
  if (tok !== undefined) for (let v = 0; v < rows; v++) if (v >= tok.vocabSize || tok.idToToken(v) === undefined) allowed[v] = 0;
  for (const id of specialTokens(model)) if (id < rows) allowed[id] = 0;
  for (const [i, id] of (exclude ?? []).entries()) {
    checkToken(model, id, `${field}[${i}]`, "input");
    allowed[id] = 0;
  }
  return allowed;
}

/** A row of logits in float64: its top token (first maximum) and log Σ exp, to read any token's log-probability. */
export interface RowStats {
  readonly top: number;
  readonly topLogit: number;
  readonly logZ: number;
  readonly row: ArrayLike<number>;
}

export function rowStats(row: ArrayLike<number>): RowStats {
  let top = 0;
  for (let v = 1; v < row.length; v++) if ((row[v] as number) > (row[top] as number)) top = v;
  const mx = row[top] as number;
  let z = 0;
  for (let v = 0; v < row.length; v++) z += Math.exp((row[v] as number) - mx);
  return { top, topLogit: mx, logZ: mx + Math.log(z), row };
}

/** log p(token) from a row's stats. */
export const logProbOf = (s: RowStats, token: number): number => (s.row[token] as number) - s.logZ;

/** The top prediction of a row as a TokenScore. */
export function topScore(model: TransformerModel, s: RowStats): TokenScore {
  return { ...tokenRef(model, s.top), logit: s.topLogit, prob: Math.exp(s.topLogit - s.logZ) };
}

/** The width of the model's output: its last axis (tokens, or a classifier's labels). */
export function outputWidth(out: Tensor): number {
  return out.shape[out.rank - 1] as number;
}

/** Throws unless `id` indexes the model's output [0, width). */
export function checkOutput(id: number, width: number, field: string): void {
  if (!Number.isInteger(id) || id < 0 || id >= width)
    throw new MethodRequestError(field, `${id} is not an index of the model's output [0, ${width})`);
}

/** A positive integer option, or its default. */
export function positiveInt(v: number | undefined, dflt: number, field: string): number {
  const n = v ?? dflt;
  if (!Number.isInteger(n) || n < 1) throw new MethodRequestError(field, `expected a positive integer, got ${n}`);
  return n;
}

/**
 * Runs every sequence through the model, `batch` sequences of one length per forward pass, and hands each
 * sequence's logits to `read` as [pos, width] (`positions`: the rows of it kept; "last" unembeds only the last
 * position, which is then row 0). A classifier's [batch, label] output is handed over as its one row.
 */
export function forEachOutput(
  model: TransformerModel,
  seqs: readonly (readonly number[])[],
  opts: { batch: number; signal?: AbortSignal | undefined; last: boolean; onBatch?: (done: number) => void },
  read: (index: number, logits: Float32Array | Float64Array, width: number) => void,
): void {
  const byLength = new Map<number, number[]>();
  for (const [i, s] of seqs.entries()) {
    const list = byLength.get(s.length) ?? [];
    list.push(i);
    byLength.set(s.length, list);
  }
  let done = 0;
  for (const [len, members] of byLength) {
    for (let start = 0; start < members.length; start += opts.batch) {
      checkAborted(opts.signal);
      const chunk = members.slice(start, start + opts.batch);
      const rows = chunk.flatMap((i) => seqs[i] as number[]);
      const out = run(model, tensor(rows, [chunk.length, len], "i32"), opts.last ? { logits: "last" } : {}).output; // [k, pos', width] or [k, width]
      const width = outputWidth(out);
      const per = out.size / chunk.length;
      const data = out.data as Float32Array | Float64Array;
      for (const [r, i] of chunk.entries()) read(i, data.subarray(r * per, (r + 1) * per), width);
      done += chunk.length;
      opts.onBatch?.(done);
    }
  }
}

/** The last row of one sequence's logits [pos, width] as handed over by forEachOutput. */
export function lastRow(logits: Float32Array | Float64Array, width: number): Float32Array | Float64Array {
  return logits.subarray(logits.length - width);
}

/** The token-embedding hook (`hook_embed`, or `embed.hook_embed` in an encoder): where the one-hot input meets W_E. */
export function embedHook(model: TransformerModel): string {
  const point = model.hookPoints.find((p) => p.name === "hook_embed" || p.name === "embed.hook_embed");
  if (point === undefined) throw new MethodRequestError("method", "the model has no token-embedding hook (hook_embed)");
  return point.name;
}

/**
 * The gradient of `loss` with respect to the token embeddings of equal-length sequences run as one batch: rows do
 * not interact, so the gradient of a sum over rows is each row's own. Returns it [batch, pos, d_model] with the
 * forward pass's output.
 */
export function embeddingGradient(
  model: TransformerModel,
  seqs: readonly (readonly number[])[],
  loss: (out: Tensor) => Tensor,
  logits: "all" | "last",
): { grad: Float32Array | Float64Array; output: Tensor } {
  const hook = embedHook(model);
  const len = (seqs[0] as readonly number[]).length;
  const r = run(model, tensor(seqs.flat(), [seqs.length, len], "i32"), { logits, grads: { hooks: hook, loss } });
  return { grad: r.cache.grad(hook).data as Float32Array | Float64Array, output: r.output };
}

/**
 * g·E[v] for every row g of `grads` [n, d_model] and every token v: the gradient of the loss with respect to the
 * one-hot input at that position, since the embedding is onehot · W_E. Returns [n, d_vocab].
 */
export function oneHotGradient(model: TransformerModel, grads: ArrayLike<number>, n: number): Float32Array | Float64Array {
  const E = model.W_E; // [d_vocab, d_model]
  const D = E.shape[1] as number;
  const g = tensor(grads, [n, D], E.dtype); // [n, d_model]
  return matmul(g, E, { transB: true }).data as Float32Array | Float64Array; // [n, d_vocab]
}
