// Hook-point metadata as it crosses the wire: TransformerLens names, the block, the axes, and a closed `kind`
// saying what the activation is, so a method or a view can find "every residual stream" or "every attention
// pattern" without parsing names.

/**
 * Axis names of hook declarations, shape comments and tensor slices; `label` indexes a classifier's outputs;
 * `one` is a size-1 axis kept for broadcasting (a norm's scale).
 */
export type Axis =
  | "batch"
  | "pos"
  | "query_pos"
  | "key_pos"
  | "head"
  | "kv_head"
  | "d_model"
  | "d_head"
  | "d_mlp"
  | "d_vocab"
  | "label"
  | "one";

/** What an activation is, whatever the architecture. */
export type HookKind =
  | "embed"
  | "pos_embed"
  | "token_type_embed"
  /** BERT's embeddings after their LayerNorm: the input of block 0 */
  | "full_embed"
  | "resid_pre"
  | "resid_mid"
  | "resid_post"
  /** BERT's block output after its post-LayerNorm: the input of the next block */
  | "resid_normalized"
  /** sqrt(var + eps) of a LayerNorm, or of the mean square for an RMSNorm */
  | "norm_scale"
  | "norm_out"
  | "q"
  | "k"
  | "v"
  | "rot_q"
  | "rot_k"
  | "attn_scores"
  | "attn_pattern"
  | "z"
  | "attn_out"
  | "mlp_pre"
  /** the linear (up) branch of a gated MLP */
  | "mlp_pre_linear"
  | "mlp_post"
  | "mlp_out"
  | "pooler_out"
  | "logits";

export interface HookPoint {
  /** TransformerLens name, e.g. `blocks.3.attn.hook_pattern`. */
  readonly name: string;
  /** Block index, or null for points outside the blocks (`hook_embed`, `ln_final.hook_normalized`). */
  readonly layer: number | null;
  /** The name without its block prefix, e.g. `attn.hook_pattern`: the same component across layers. */
  readonly component: string;
  readonly kind: HookKind;
  readonly axes: readonly Axis[];
}
