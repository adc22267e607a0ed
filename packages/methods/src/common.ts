// What every method does first: turn the request's input into token ids the model accepts, check the tokens and
// positions it names, and describe tokens for the result. A bad request is a MethodRequestError naming the field.
import type { TransformerModel } from "@llmdbg/core";
import type { TokenInput, TokenRef } from "@llmdbg/protocol";

/** Progress and cancellation for long methods; both optional. */
export interface MethodOptions {
  /** called after each unit of work (a layer, a batch of samples) */
  readonly onProgress?: (p: { readonly done: number; readonly total: number; readonly what: string }) => void;
  /** checked between units of work; an aborted signal stops the method with its reason */
  readonly signal?: AbortSignal;
}

/** A request the method cannot run: `field` names the request field at fault ("target", "input.ids[3]"). */
export class MethodRequestError extends Error {
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`${field}: ${detail}`);
    this.name = "MethodRequestError";
  }
}

/** The number of rows of the model's unembedding: the ids a prediction may have. */
export function vocabSize(model: TransformerModel): number {
  // b_U [d_vocab], as wide as W_U [d_model, d_vocab]: a tied W_U is the embedding transposed, a copy of the whole
  // table (~250 ms for GPT-2) that a bounds check must not pay
  return model.b_U.shape[0] as number;
}

/** The number of rows of the token embedding: the ids an input may hold (a classifier has no unembedding). */
function embeddingRows(model: TransformerModel): number {
  return model.W_E.shape[0] as number; // W_E [d_vocab, d_model]
}

/** The request's token ids: text through the model's tokenizer, or ids checked against the vocabulary. */
export function inputIds(model: TransformerModel, input: TokenInput): number[] {
  if ("text" in input) {
    if (model.tokenizer === undefined)
      throw new MethodRequestError("input.text", "this model was loaded without a tokenizer; pass input.ids");
    const ids = model.tokenizer.encode(input.text);
    if (ids.length === 0) throw new MethodRequestError("input.text", `${JSON.stringify(input.text)} encodes to no tokens`);
    return ids;
  }
  if (input.ids.length === 0) throw new MethodRequestError("input.ids", "is empty");
  for (const [i, id] of input.ids.entries()) checkToken(model, id, `input.ids[${i}]`, "input");
  return [...input.ids];
}

/** Throws unless `id` is a token the model predicts (`output`: a row of W_U) or reads (`input`: a row of W_E). */
export function checkToken(model: TransformerModel, id: number, field: string, side: "input" | "output" = "output"): void {
  const n = side === "output" ? vocabSize(model) : embeddingRows(model);
  if (!Number.isInteger(id) || id < 0 || id >= n) throw new MethodRequestError(field, `token id ${id} is not in [0, ${n})`);
}

/** `p` as a non-negative position of a sequence of `n` (negative counts from the end). */
export function resolvePosition(p: number, n: number, field: string): number {
  if (!Number.isInteger(p) || p < -n || p >= n) throw new MethodRequestError(field, `position ${p} is not in [-${n}, ${n})`);
  return p < 0 ? n + p : p;
}

/** A token for a result: its id and, where the tokenizer names it, its text. */
export function tokenRef(model: TransformerModel, id: number): TokenRef {
  const tok = model.tokenizer;
  const text = tok !== undefined && tok.idToToken(id) !== undefined ? tok.decode([id]) : null;
  return { id, text };
}

/** Throws the signal's reason when it is aborted. */
export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason ?? "aborted"));
}
