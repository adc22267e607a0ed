// The attention method's request and result: what every head looks at (its patterns, their entropy, the
// positions that soak up attention), how attention composes across layers (rollout and flow), and which heads do
// a known job (previous-token, induction, duplicate-token, copying), as TransformerLens and the literature
// define them. Indices are [layer][head] over the `layers` and `heads` the result lists.
import type { TokenInput, TokenRef } from "./methods.js";

export interface AttentionRequest {
  readonly kind: "attention";
  readonly input: TokenInput;
  /** layers reported (negative counts from the end); all if absent. Rollout and flow always use every layer */
  readonly layers?: readonly number[];
  /** query heads reported; all if absent */
  readonly heads?: readonly number[];
  /** compute the head scores, on synthetic repeated random sequences (default false) */
  readonly scores?: boolean;
  /** the seed of those sequences (default 0) */
  readonly seed?: number;
  /** N: each sequence is N distinct random tokens repeated twice (default 20, fewer where learned positions run out) */
  readonly repeatLength?: number;
  /** how many sequences (default 4) */
  readonly batch?: number;
  /** return every reported head's pattern on the input (default false: they are pos² numbers per head) */
  readonly includePatterns?: boolean;
}

/** A key position and the mean attention it receives from the queries (their masses over positions sum to 1). */
export interface AttentionSink {
  readonly position: number;
  readonly mass: number;
}

/** Head scores on the synthetic sequences, [layer][head]; all in [0, 1] except copying, in [−1, 1]. */
export interface AttentionHeadScores {
  /** mean attention from each position to the one before it */
  readonly previousToken: readonly (readonly number[])[];
  /** mean attention from the second copy's positions to the token after the same token's first occurrence (offset −N+1) */
  readonly induction: readonly (readonly number[])[];
  /** mean attention from the second copy's positions to the same token's first occurrence (offset −N) */
  readonly duplicateToken: readonly (readonly number[])[];
  /**
   * Σλ / Σ|λ| over the eigenvalues of the full OV circuit W_E W_V W_O W_U (weights only, norms not applied); 1 for a
   * head that copies the token it attends to, 0 for a head whose OV circuit is zero; null for a model without an
   * unembedding (a classifier)
   */
  readonly copying: readonly (readonly number[])[] | null;
}

export interface AttentionResult {
  readonly kind: "attention";
  readonly tokens: readonly TokenRef[];
  /** the layers and query heads reported (non-negative), in the order of the [layer][head] arrays */
  readonly layers: readonly number[];
  readonly heads: readonly number[];
  /** [layer][head]: the mean over query positions of the entropy of the query's attention, in nats */
  readonly entropy: readonly (readonly number[])[];
  /** [layer][head]: the first position's share of the attention (its mass among the sinks) */
  readonly firstToken: readonly (readonly number[])[];
  /** [layer][head]: the (up to 3) positions receiving the most attention, most first */
  readonly sinks: readonly (readonly (readonly AttentionSink[])[])[];
  /**
   * Attention rollout (Abnar & Zuidema 2020) through every layer: each layer's head-averaged attention mixed with
   * the residual (0.5·A + 0.5·I, rows renormalized) and multiplied; rollout[i][j] is how much of position i's
   * output comes from input position j (rows sum to 1)
   */
  readonly rollout: readonly (readonly number[])[];
  /**
   * Attention flow (Abnar & Zuidema 2020): flow[j] is the maximum flow from input position j to the last
   * position's output, through the layered graph whose edge capacities are the rollout's per-layer matrices
   */
  readonly flow: readonly number[];
  /** [layer][head][query][key] on the input, when the request asked for them */
  readonly patterns: readonly (readonly (readonly (readonly number[])[])[])[] | null;
  /** null unless the request asked for scores */
  readonly scores: AttentionHeadScores | null;
  /** the synthetic sequences behind the scores (null without scores): seed, N and how many; each sequence starts
   * with the tokenizer's BOS token when it has one */
  readonly seed: number | null;
  readonly repeatLength: number | null;
  readonly batch: number | null;
}

// ——— attention at long inputs ———
//
// At 1,024 tokens a 12 × 12 model's patterns are 151 M numbers: no JSON reply can carry them. The UI asks instead
// for an overview (every head's pattern pooled to a thumbnail, the head statistics, the rollout) and then for one
// head's full pattern when it is opened. Both come quantized, for display.

/**
 * A matrix of values in [0, 1] (attention weights, rollout) in 8 bits on the square root: byte q stands for
 * (q / 255)², row-major, base64. The square root spends the levels where a long prompt's weights live: the
 * smallest non-zero value is 1.5e-5 (a linear byte would round everything below 0.002 to zero, which at 1,024
 * tokens is most of a diffuse head); the error of a value v is at most (√v + 0.001) / 255, 0.4 % near 1.
 */
export interface QuantizedMatrix {
  readonly rows: number;
  readonly cols: number;
  readonly encoding: "sqrt8";
  /** rows × cols bytes, base64 */
  readonly data: string;
}

/**
 * The attention view's first request: the attention method's statistics with each head's pattern as a thumbnail.
 * Rollout comes quantized at full size; flow only up to `flowMaxPositions` positions (it is one maximum-flow
 * computation per position over a graph of layers × positions² edges: hours at 1,024 tokens).
 */
export interface AttentionOverviewRequest extends Omit<AttentionRequest, "kind" | "includePatterns"> {
  readonly kind: "attention_overview";
  /** a thumbnail's largest side (default 64, at most 256): each head's pattern max-pooled in square blocks */
  readonly thumbnail?: number;
}

export interface AttentionOverviewResult extends Omit<AttentionResult, "kind" | "patterns" | "rollout" | "flow"> {
  readonly kind: "attention_overview";
  /**
   * [layer][head]: the pattern max-pooled over blocks of `pool` × `pool` entries (the last block of a row or column
   * may be smaller). Max, not mean: a sharp head's one strong entry per row (a previous-token diagonal, an
   * induction stripe) keeps its weight and stays visible; a mean over a 16 × 16 block would divide it by 16.
   */
  readonly thumbnails: readonly (readonly QuantizedMatrix[])[];
  /** the side of a pooled block (1: the thumbnails are the patterns, only quantized) */
  readonly pool: number;
  /** the rollout (as AttentionResult's), positions × positions */
  readonly rollout: QuantizedMatrix;
  /** as AttentionResult's flow; null when the input has more positions than flowMaxPositions */
  readonly flow: readonly number[] | null;
  readonly flowMaxPositions: number;
}

/**
 * One head's full pattern on the input, for the enlarged view. The server keeps no state between requests: it
 * runs the model again up to that layer (a forward pass's worth of work at most; caching every pattern of the
 * overview per connection would hold 151 M floats, 604 MB, per open view at 1,024 tokens).
 */
export interface AttentionHeadRequest {
  readonly kind: "attention_head";
  readonly input: TokenInput;
  /** negative counts from the end */
  readonly layer: number;
  readonly head: number;
}

export interface AttentionHeadResult {
  readonly kind: "attention_head";
  readonly tokens: readonly TokenRef[];
  readonly layer: number;
  readonly head: number;
  /** [query][key], positions × positions */
  readonly pattern: QuantizedMatrix;
}
