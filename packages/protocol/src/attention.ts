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
