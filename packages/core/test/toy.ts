// A one-block attention + MLP transformer written for these tests (the real architectures live in
// @llmdbg/models): enough structure to exercise every kind of hook axis.

import type { Tensor } from "@llmdbg/tensor";
import * as T from "@llmdbg/tensor";
import {
  attentionBias,
  declareHooks,
  type ForwardContext,
  type ForwardOptions,
  type HookedModel,
  ParamStore,
  planForward,
} from "../src/index.js";

export const D = 8;
export const H = 2;
export const DH = 4;
export const V = 11;

export function toyModel(dtype: "f32" | "f64" = "f64"): HookedModel {
  const w = (shape: number[], seed: number) => T.randn(shape, seed, dtype, 0.4);
  const names = ["wte", "wpe", "wq", "wk", "wv", "wo", "win", "wout", "wu"] as const;
  const params = new ParamStore(
    Object.entries({
      wte: w([V, D], 1),
      wpe: w([16, D], 2),
      wq: w([D, H * DH], 3),
      wk: w([D, H * DH], 4),
      wv: w([D, H * DH], 5),
      wo: w([H * DH, D], 6),
      win: w([D, 16], 7),
      wout: w([16, D], 8),
      wu: w([D, V], 9),
    }),
  );
  const resid = ["batch", "pos", "d_model"] as const;
  const hookPoints = declareHooks(1, {
    before: { hook_embed: resid, hook_pos_embed: resid },
    perBlock: {
      hook_resid_pre: resid,
      "attn.hook_q": ["batch", "pos", "head", "d_head"],
      "attn.hook_k": ["batch", "pos", "head", "d_head"],
      "attn.hook_v": ["batch", "pos", "head", "d_head"],
      "attn.hook_attn_scores": ["batch", "head", "query_pos", "key_pos"],
      "attn.hook_pattern": ["batch", "head", "query_pos", "key_pos"],
      "attn.hook_z": ["batch", "pos", "head", "d_head"],
      hook_attn_out: resid,
      hook_resid_mid: resid,
      "mlp.hook_pre": ["batch", "pos", "d_mlp"],
      "mlp.hook_post": ["batch", "pos", "d_mlp"],
      hook_mlp_out: resid,
      hook_resid_post: resid,
    },
    after: { "ln_final.hook_normalized": resid },
  });
  const forward = (ids: Tensor, ctx: ForwardContext, opts: ForwardOptions = {}): Tensor => {
    const plan = planForward(ids, opts, "toy");
    const p = Object.fromEntries(names.map((n) => [n, ctx.param(n)])) as Record<(typeof names)[number], Tensor>;
    const { batch: B, queries: Tn } = plan;
    const embed = ctx.hook("hook_embed", T.gather(p.wte, ids, 0)); // [batch, pos, d_model]
    const pos = ctx.hook("hook_pos_embed", T.gather(p.wpe, plan.positions, 0)); // [batch, pos, d_model]
    const x0 = ctx.hook("blocks.0.hook_resid_pre", T.add(embed, pos)); // [batch, pos, d_model]
    const heads = (t: Tensor) => T.reshape(t, [B, Tn, H, DH]); // [batch, pos, head, d_head]
    const q = ctx.hook("blocks.0.attn.hook_q", heads(T.matmul(x0, p.wq))); // [batch, pos, head, d_head]
    const k = ctx.hook("blocks.0.attn.hook_k", heads(T.matmul(x0, p.wk))); // [batch, pos, head, d_head]
    const v = ctx.hook("blocks.0.attn.hook_v", heads(T.matmul(x0, p.wv))); // [batch, pos, head, d_head]
    const qh = T.permute(q, [0, 2, 1, 3]); // [batch, head, pos, d_head]
    let kh = T.permute(k, [0, 2, 1, 3]); // [batch, head, pos, d_head]
    let vh = T.permute(v, [0, 2, 1, 3]); // [batch, head, pos, d_head]
    if (plan.kvCache) ({ k: kh, v: vh } = plan.kvCache.extend(0, kh, vh)); // [batch, head, key_pos, d_head]
    const bias = attentionBias({ batch: B, queries: Tn, past: plan.past, causal: true, mask: plan.mask }); // [batch|1, 1, query_pos, key_pos]
    const causal = dtype === "f32" ? bias : T.cast(bias, dtype); // [batch|1, 1, query_pos, key_pos]
    const scores = ctx.hook(
      "blocks.0.attn.hook_attn_scores",
      T.add(T.mul(T.matmul(qh, kh, { transB: true }), 1 / Math.sqrt(DH)), causal),
    ); // [batch, head, query_pos, key_pos]
    const pattern = ctx.hook("blocks.0.attn.hook_pattern", T.softmax(scores)); // [batch, head, query_pos, key_pos]
    const z = ctx.hook("blocks.0.attn.hook_z", T.permute(T.matmul(pattern, vh), [0, 2, 1, 3])); // [batch, pos, head, d_head]
    const attnOut = ctx.hook("blocks.0.hook_attn_out", T.matmul(T.reshape(z, [B, Tn, H * DH]), p.wo)); // [batch, pos, d_model]
    const mid = ctx.hook("blocks.0.hook_resid_mid", T.add(x0, attnOut)); // [batch, pos, d_model]
    const pre = ctx.hook("blocks.0.mlp.hook_pre", T.matmul(mid, p.win)); // [batch, pos, d_mlp]
    const post = ctx.hook("blocks.0.mlp.hook_post", T.gelu(pre, "tanh")); // [batch, pos, d_mlp]
    const mlpOut = ctx.hook("blocks.0.hook_mlp_out", T.matmul(post, p.wout)); // [batch, pos, d_model]
    const resid = ctx.hook("blocks.0.hook_resid_post", T.add(mid, mlpOut)); // [batch, pos, d_model]
    const normed = ctx.hook("ln_final.hook_normalized", T.layerNorm(resid)); // [batch, pos, d_model]
    const rows = plan.logits === "last" ? T.narrow(normed, 1, Tn - 1, 1) : normed; // [batch, pos|1, d_model]
    return T.matmul(rows, p.wu); // [batch, pos, d_vocab]
  };
  const axisSizes = { d_model: D, head: H, d_head: DH, d_mlp: 16, d_vocab: V };
  return { hookPoints, params, axisSizes, forward };
}

export const ids = (rows: number[][]): Tensor => T.tensor(rows.flat(), [rows.length, (rows[0] ?? []).length], "i32");
