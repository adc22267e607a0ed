// What a forward pass needs beyond token ids, shared by every architecture: which keys are real tokens
// (padding), each token's position, and the key/value cache that generation extends step by step.
// The architectures stay free of batching logic: they add `attentionBias(...)` to their scores and read
// `positions` (learned tables gather rows, rotary embeddings take them as angles).

import * as T from "@llmdbg/tensor";
import { fromTyped, type Tensor } from "@llmdbg/tensor";

export interface ForwardOptions {
  /**
   * [batch, key_pos] (any dtype), nonzero where the key is a real token, 0 for padding; key_pos covers the
   * cached positions plus this call's. Default: every key is real.
   */
  readonly attentionMask?: Tensor;
  /** [batch, pos] i32 position of each token. Default: `positionIds(attentionMask)` or past + 0..pos−1. */
  readonly positions?: Tensor;
  /** Keys and values of earlier calls; the forward pass reads it and appends this call's. */
  readonly kvCache?: KvCache;
  /** [batch, pos] i32 segment ids for encoders with a token-type embedding (BERT's token_type_ids); default 0. */
  readonly tokenTypeIds?: Tensor;
  /** "last": unembed only the final position (logits [batch, 1, d_vocab]); generation needs no more. */
  readonly logits?: "all" | "last";
  /**
   * Start at block `layer` from its input `resid` [batch, pos, d_model] (that block's `hook_resid_pre`) instead
   * of the embeddings: the embeddings and the blocks before it are not computed, and their hook points do not
   * fire. Activation patching restarts here rather than recomputing the layers a patch cannot change.
   */
  readonly startAt?: { readonly layer: number; readonly resid: Tensor };
}

/** Per-layer keys and values [batch, kv_head, key_pos, d_head] of the positions seen so far. */
export class KvCache {
  private readonly layers: ({ k: Tensor; v: Tensor } | undefined)[] = [];

  /** Positions cached (read it before a forward pass extends the cache). */
  get length(): number {
    return this.layers[0]?.k.shape[2] ?? 0;
  }

  /**
   * Appends this call's keys and values for `layer` and returns all of them.
   * @example const { k, v } = cache.extend(l, kNew, vNew) // [batch, kv_head, past + pos, d_head]
   */
  extend(layer: number, k: Tensor, v: Tensor): { k: Tensor; v: Tensor } {
    const old = this.layers[layer];
    // Concatenation copies the past once per step (as transformers' DynamicCache does); a preallocated
    // buffer written in place would fight the tape, and generation is not bound by this copy.
    const next = old === undefined ? { k, v } : { k: T.concat([old.k, k], 2), v: T.concat([old.v, v], 2) };
    this.layers[layer] = next;
    return next;
  }

  dispose(): void {
    for (const e of this.layers) {
      e?.k.dispose();
      e?.v.dispose();
    }
    this.layers.length = 0;
  }
}

/** A mask value of 0/false/absent means padding. */
function maskRows(mask: Tensor, batch: number, keys: number, who: string): ArrayLike<number> {
  if (mask.rank !== 2 || mask.shape[0] !== batch || mask.shape[1] !== keys) {
    throw new T.ShapeError(`${who}: attentionMask must be [batch=${batch}, key_pos=${keys}], got [${mask.shape.join(",")}]`);
  }
  return mask.data;
}

/**
 * The additive attention bias [batch or 1, 1, query_pos, key_pos]: 0 where a query may read a key, −inf
 * elsewhere. Query i sits at absolute position past + i. It reads key j when j is a real token (mask), not
 * in its future (causal) and within `window` positions. A query always reads its own key, so a padding
 * row is never all −inf (its softmax would be NaN and poison gradients); padding rows are ignored anyway.
 * @example T.add(scores, attentionBias({ batch: B, queries: Tn, past, causal: true, mask })) // [batch, head, query_pos, key_pos]
 */
export function attentionBias(o: {
  batch: number;
  queries: number;
  past: number;
  causal: boolean;
  mask?: Tensor | undefined;
  /** keys with query − key >= window are hidden (sliding-window attention) */
  window?: number | null | undefined;
}): Tensor {
  const S = o.past + o.queries;
  const m = o.mask === undefined ? undefined : maskRows(o.mask, o.batch, S, "attentionBias");
  const rows = m === undefined ? 1 : o.batch;
  const out = new Float32Array(rows * o.queries * S); // [rows, query_pos, key_pos]
  const win = o.window ?? Number.POSITIVE_INFINITY;
  for (let b = 0; b < rows; b++)
    for (let i = 0; i < o.queries; i++) {
      const qa = o.past + i;
      const row = (b * o.queries + i) * S;
      for (let j = 0; j < S; j++) {
        const ok = j === qa || ((!o.causal || j <= qa) && qa - j < win && (m === undefined || m[b * S + j] !== 0));
        out[row + j] = ok ? 0 : Number.NEGATIVE_INFINITY;
      }
    }
  return fromTyped(out, [rows, 1, o.queries, S], "f32");
}

/**
 * Position ids [batch, queries] for the last `queries` keys of `mask` [batch, key_pos]: a real token's
 * position is the number of real tokens before it, so a left-padded row starts at 0; padding gets 1
 * (transformers' generate: `mask.cumsum(-1) - 1`, masked_fill(mask == 0, 1)). Without a mask: past + i.
 */
export function positionIds(o: { batch: number; queries: number; past: number; mask?: Tensor | undefined }): Tensor {
  const S = o.past + o.queries;
  const out = new Int32Array(o.batch * o.queries); // [batch, pos]
  const m = o.mask === undefined ? undefined : maskRows(o.mask, o.batch, S, "positionIds");
  for (let b = 0; b < o.batch; b++) {
    let seen = 0;
    for (let j = 0; j < S; j++) {
      const real = m === undefined || m[b * S + j] !== 0;
      if (j >= o.past) out[b * o.queries + j - o.past] = real ? seen : 1;
      if (real) seen++;
    }
  }
  return fromTyped(out, [o.batch, o.queries], "i32");
}

/**
 * Everything an architecture needs to know about this call, resolved once: batch, new positions, cached
 * positions, the attention mask over all keys, and the position ids.
 */
export interface ForwardPlan {
  readonly batch: number;
  readonly queries: number;
  readonly past: number;
  readonly mask: Tensor | undefined;
  /** [batch, pos] i32 */
  readonly positions: Tensor;
  readonly kvCache: KvCache | undefined;
  readonly logits: "all" | "last";
}

/** Validates `ids` [batch, pos] and the options, and fills in the defaults. `who` names the model in errors. */
export function planForward(ids: Tensor, opts: ForwardOptions, who: string): ForwardPlan {
  if (ids.rank !== 2) throw new T.ShapeError(`${who}: ids must be [batch, pos], got [${ids.shape.join(",")}]`);
  if (ids.dtype !== "i32") throw new TypeError(`${who}: ids must be i32, got ${ids.dtype}`);
  const [batch, queries] = ids.shape as [number, number];
  const past = opts.kvCache?.length ?? 0;
  const mask = opts.attentionMask;
  if (mask !== undefined) maskRows(mask, batch, past + queries, who);
  const positions = opts.positions ?? positionIds({ batch, queries, past, mask });
  if (positions.rank !== 2 || positions.shape[0] !== batch || positions.shape[1] !== queries || positions.dtype !== "i32") {
    throw new T.ShapeError(
      `${who}: positions must be i32 [${batch}, ${queries}], got ${positions.dtype} [${positions.shape.join(",")}]`,
    );
  }
  return { batch, queries, past, mask, positions, kvCache: opts.kvCache, logits: opts.logits ?? "all" };
}

/** The largest position id in `positions` (to check it against a model's position table). */
export function maxPosition(positions: Tensor): number {
  let mx = -1;
  for (const v of positions.data as Int32Array) if (v > mx) mx = v;
  return mx;
}

/**
 * Pads token sequences to one length: ids [batch, pos] i32 and attentionMask [batch, pos] i32 (1 real,
 * 0 padding). Generation pads on the left so every row's last token is real.
 * @example const { ids, attentionMask } = padBatch([[5, 6, 7], [8]], { padId: 0, side: "left" })
 */
export function padBatch(
  seqs: readonly (readonly number[])[],
  o: { padId: number; side?: "left" | "right" },
): { ids: Tensor; attentionMask: Tensor } {
  if (seqs.length === 0) throw new RangeError("padBatch: no sequences");
  const len = Math.max(...seqs.map((s) => s.length));
  if (len === 0) throw new RangeError("padBatch: every sequence is empty");
  const ids = new Int32Array(seqs.length * len).fill(o.padId); // [batch, pos]
  const mask = new Int32Array(seqs.length * len); // [batch, pos]
  seqs.forEach((s, b) => {
    const start = o.side === "right" ? 0 : len - s.length;
    s.forEach((id, i) => {
      ids[b * len + start + i] = id;
      mask[b * len + start + i] = 1;
    });
  });
  return { ids: fromTyped(ids, [seqs.length, len], "i32"), attentionMask: fromTyped(mask, [seqs.length, len], "i32") };
}
