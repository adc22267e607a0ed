// The TransformerLens view of a model's weights, whatever the checkpoint's layout: read-only tensors computed
// from the current parameters on each access (so they reflect every edit), in TransformerLens's shapes. Methods
// that need the unembedding (direct logit attribution, the logit lens) or a head's OV circuit use these and
// `unembed`, never an architecture's internals.
import type { Tensor } from "@llmdbg/tensor";
import type { HookedModel } from "./run.js";

/** One block's attention weights; absent biases are zeros. Key/value weights have one entry per key/value head. */
export interface AttentionWeights {
  /** [head, d_model, d_head] */
  readonly W_Q: Tensor;
  /** [kv_head, d_model, d_head] */
  readonly W_K: Tensor;
  /** [kv_head, d_model, d_head] */
  readonly W_V: Tensor;
  /** [head, d_head, d_model] */
  readonly W_O: Tensor;
  /** [head, d_head] */
  readonly b_Q: Tensor;
  /** [kv_head, d_head] */
  readonly b_K: Tensor;
  /** [kv_head, d_head] */
  readonly b_V: Tensor;
  /** [d_model] */
  readonly b_O: Tensor;
}

/** One block's MLP weights; absent biases are zeros. */
export interface MlpWeights {
  /** [d_model, d_mlp] */
  readonly W_in: Tensor;
  /** [d_mlp] */
  readonly b_in: Tensor;
  /** [d_model, d_mlp] for a gated MLP (act(x W_gate) · x W_in), else null */
  readonly W_gate: Tensor | null;
  /** [d_mlp, d_model] */
  readonly W_out: Tensor;
  /** [d_model] */
  readonly b_out: Tensor;
}

/**
 * A weight matrix as the checkpoint stores it: its parameter key and layout, "in_out" ([in, out], as
 * TransformerLens reads it: GPT-2's Conv1D) or "out_in" ([out, in]: torch Linear, GGUF). An edit computed in
 * TransformerLens's orientation is transposed for "out_in" before it is applied to the parameter.
 */
export interface StoredWeight {
  readonly param: string;
  readonly layout: "in_out" | "out_in";
}

/** A transformer with reachable weights in TransformerLens's terms. */
export interface TransformerModel extends HookedModel {
  readonly nLayers: number;
  /** [d_vocab, d_model] */
  readonly W_E: Tensor;
  /** [n_ctx, d_model] for learned positions; null for rotary ones */
  readonly W_pos: Tensor | null;
  /** [d_model, d_vocab] */
  readonly W_U: Tensor;
  /** [d_vocab] */
  readonly b_U: Tensor;
  /** the attention weights of block `layer` (negative counts from the end) */
  attn(layer: number): AttentionWeights;
  /** the MLP weights of block `layer` (negative counts from the end); null when the block has no MLP (attention-only) */
  mlp(layer: number): MlpWeights | null;
  /**
   * Where block `layer`'s output projections live in the parameters: the attention's (W_O, heads along its input
   * rows) and the MLP's (W_out; null without an MLP): what an edit of those weights (zeroing a head, a rank-one
   * MLP edit) writes to.
   */
  outputParams(layer: number): { readonly attn: StoredWeight; readonly mlp: StoredWeight | null };
  /**
   * The model's head on a residual stream: the final norm and the unembedding (BERT: its masked-LM head),
   * resid [..., d_model] → logits [..., d_vocab]; with the current parameters, differentiable.
   * @example const lens = model.unembed(cache.get("blocks.3.hook_resid_post")) // the logit lens at layer 3
   */
  unembed(resid: Tensor): Tensor;
}
