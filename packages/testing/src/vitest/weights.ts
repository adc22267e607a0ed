// The TransformerLens weight accessors checked against the activations they must produce: a wrong transpose,
// split, head order or bias in an accessor cannot hide, because each identity recomputes a hook from the
// accessor and compares it with what the forward pass reported.
import { run, type TransformerModel } from "@llmdbg/core";
import type { Tensor } from "@llmdbg/tensor";
import * as T from "@llmdbg/tensor";
import { relDiff } from "./arch.js";

/** Where each block's attention and MLP read their input (pre-norm models: ln1/ln2; BERT: resid_pre / ln1). */
export interface AccessorInputs {
  readonly attnIn: (layer: number) => string;
  readonly mlpIn: (layer: number) => string;
  /** the final normalized residual that W_U multiplies (null: the model has no unembedding, e.g. a classifier) */
  readonly unembedIn: string | null;
  /** the residual that `unembed` maps to the logits */
  readonly lastResid: string;
}

export const PRE_NORM: AccessorInputs = {
  attnIn: (l) => `blocks.${l}.ln1.hook_normalized`,
  mlpIn: (l) => `blocks.${l}.ln2.hook_normalized`,
  unembedIn: "ln_final.hook_normalized",
  lastResid: "blocks.-1.hook_resid_post",
};

/** x [batch, pos, d_model] through per-head weights W [heads, d_model, d_head] + b [heads, d_head] → [batch, pos, heads, d_head]. */
function perHead(x: Tensor, W: Tensor, b: Tensor): Tensor {
  const [B, P, D] = x.shape as [number, number, number];
  const [H, , Dh] = W.shape as [number, number, number];
  const y = T.matmul(T.reshape(x, [1, B * P, D]), W); // [heads, batch*pos, d_head]
  return T.reshape(T.add(T.permute(y, [1, 0, 2]), b), [B, P, H, Dh]); // [batch, pos, heads, d_head]
}

/**
 * The worst relative difference of each identity over every block: hook_q/k/v from the attention input and
 * W_Q/W_K/W_V, b_Q/b_K/b_V; hook_attn_out from hook_z, W_O, b_O; hook_pre (and hook_pre_linear) from the MLP
 * input and W_gate/W_in, b_in; hook_mlp_out from hook_post, W_out, b_out; hook_embed from W_E; the logits from
 * W_U, b_U and from unembed(last residual).
 */
export function weightAccessorDiffs(
  model: TransformerModel,
  ids: Tensor,
  inputs: AccessorInputs = PRE_NORM,
): Map<string, number> {
  const r = run(model, ids, { cache: true });
  const c = r.cache;
  const worst = new Map<string, number>();
  const note = (k: string, v: number) => worst.set(k, Math.max(worst.get(k) ?? 0, v));
  note(
    "W_E",
    relDiff(T.gather(model.W_E, ids, 0), c.get(model.hookPoints.find((p) => p.kind === "embed")?.name ?? "hook_embed")),
  );
  for (let l = 0; l < model.nLayers; l++) {
    const a = model.attn(l);
    const x = c.get(inputs.attnIn(l)); // [batch, pos, d_model]
    note("W_Q", relDiff(perHead(x, a.W_Q, a.b_Q), c.get(`blocks.${l}.attn.hook_q`)));
    note("W_K", relDiff(perHead(x, a.W_K, a.b_K), c.get(`blocks.${l}.attn.hook_k`)));
    note("W_V", relDiff(perHead(x, a.W_V, a.b_V), c.get(`blocks.${l}.attn.hook_v`)));
    const z = c.get(`blocks.${l}.attn.hook_z`); // [batch, pos, head, d_head]
    const [B, P, H, Dh] = z.shape as [number, number, number, number];
    const perHeadOut = T.matmul(T.permute(T.reshape(z, [B * P, H, Dh]), [1, 0, 2]), a.W_O); // [head, batch*pos, d_model]
    const attnOut = T.reshape(T.add(T.sum(perHeadOut, 0), a.b_O), c.get(`blocks.${l}.hook_attn_out`).shape); // [batch, pos, d_model]
    note("W_O", relDiff(attnOut, c.get(`blocks.${l}.hook_attn_out`)));
    const m = model.mlp(l);
    if (m === null) continue; // an attention-only block
    const xm = c.get(inputs.mlpIn(l)); // [batch, pos, d_model]
    const lin = T.add(T.matmul(xm, m.W_in), m.b_in); // [batch, pos, d_mlp]
    if (m.W_gate === null) note("W_in", relDiff(lin, c.get(`blocks.${l}.mlp.hook_pre`)));
    else {
      note("W_in", relDiff(lin, c.get(`blocks.${l}.mlp.hook_pre_linear`)));
      note("W_gate", relDiff(T.matmul(xm, m.W_gate), c.get(`blocks.${l}.mlp.hook_pre`)));
    }
    note(
      "W_out",
      relDiff(T.add(T.matmul(c.get(`blocks.${l}.mlp.hook_post`), m.W_out), m.b_out), c.get(`blocks.${l}.hook_mlp_out`)),
    );
  }
  if (inputs.unembedIn !== null) {
    note("W_U", relDiff(T.add(T.matmul(c.get(inputs.unembedIn), model.W_U), model.b_U), r.output));
    note("unembed", relDiff(model.unembed(c.get(inputs.lastResid)), r.output));
  }
  c.dispose();
  return worst;
}
