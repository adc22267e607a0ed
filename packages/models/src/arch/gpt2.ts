// GPT-2, read top to bottom like nanoGPT's model.py: learned positions, pre-LayerNorm blocks, fused q/k/v
// projection, causal attention, tanh-GELU MLP, tied unembedding. Hook points follow TransformerLens.
// Layer norms and attention are written in primitives so that every hook (ln scale, scores, pattern) is a
// real, differentiable tensor.
import { declareHooks, type HookContext, type HookedModel } from "@llmdbg/core";
import type { Tensor } from "@llmdbg/tensor";
import * as T from "@llmdbg/tensor";
import type { ModelConfig } from "../config.js";
import { ModelFormatError } from "../errors.js";

/** The checkpoint keys, in one place: `save_pretrained` writes the `transformer.` prefix, OpenAI's file has none. */
const keys = {
  wte: "wte.weight",
  wpe: "wpe.weight",
  lnF: "ln_f",
  block: (l: number) => ({
    ln1: `h.${l}.ln_1`,
    qkv: `h.${l}.attn.c_attn`,
    proj: `h.${l}.attn.c_proj`,
    ln2: `h.${l}.ln_2`,
    fc: `h.${l}.mlp.c_fc`,
    mlpProj: `h.${l}.mlp.c_proj`,
  }),
};

const resid = ["batch", "pos", "d_model"] as const;
const perHead = ["batch", "pos", "head", "d_head"] as const;
const scale = ["batch", "pos", "d_model"] as const;

export function gpt2HookPoints(nLayers: number) {
  return declareHooks(
    nLayers,
    {
      hook_embed: resid,
      hook_pos_embed: resid,
      "ln_final.hook_scale": scale,
      "ln_final.hook_normalized": resid,
    },
    {
      hook_resid_pre: resid,
      "ln1.hook_scale": scale,
      "ln1.hook_normalized": resid,
      "attn.hook_q": perHead,
      "attn.hook_k": perHead,
      "attn.hook_v": perHead,
      "attn.hook_attn_scores": ["batch", "head", "query_pos", "key_pos"],
      "attn.hook_pattern": ["batch", "head", "query_pos", "key_pos"],
      "attn.hook_z": perHead,
      hook_attn_out: resid,
      hook_resid_mid: resid,
      "ln2.hook_scale": scale,
      "ln2.hook_normalized": resid,
      "mlp.hook_pre": ["batch", "pos", "d_mlp"],
      "mlp.hook_post": ["batch", "pos", "d_mlp"],
      hook_mlp_out: resid,
      hook_resid_post: resid,
    },
  );
}

export interface Gpt2Model extends HookedModel {
  readonly config: ModelConfig;
}

/** Where weights come from: a safetensors reader (or anything with the same two methods). */
export interface WeightSource {
  has(key: string): boolean;
  load(key: string): Tensor;
}

/**
 * Builds GPT-2 from a normalized config and its checkpoint.
 * @example const model = gpt2(normalizeHfConfig(json, "config.json"), readSafetensors("model.safetensors")); run(model, ids, { cache: true })
 */
export function gpt2(config: ModelConfig, weights: WeightSource, file = "model.safetensors"): Gpt2Model {
  const load = (key: string): Tensor => {
    const k = weights.has(`transformer.${key}`) ? `transformer.${key}` : key;
    if (!weights.has(k)) throw new ModelFormatError(file, key, `missing tensor (also looked for transformer.${key})`);
    return weights.load(k);
  };
  const { dModel: D, nHeads: H, dHead: Dh, nLayers } = config;
  const eps = config.norm.eps;
  const transB = config.weightLayout === "out_in";
  const get = (key: string, shape: readonly number[]): Tensor => {
    const t = load(key);
    const want = transB && shape.length === 2 ? [shape[1] as number, shape[0] as number] : shape;
    if (t.shape.join() !== want.join()) {
      throw new ModelFormatError(file, key, `expected shape [${want.join(",")}], got [${t.shape.join(",")}]`);
    }
    return t.dtype === "f32" ? t : T.cast(t, "f32");
  };
  const ln = (prefix: string) => ({ w: get(`${prefix}.weight`, [D]), b: get(`${prefix}.bias`, [D]) });
  const linear = (prefix: string, din: number, dout: number) => ({
    w: get(`${prefix}.weight`, [din, dout]),
    b: get(`${prefix}.bias`, [dout]),
  });
  const p = {
    wte: get(keys.wte, [config.vocabSize, D]), // [d_vocab, d_model]
    wpe: get(keys.wpe, [config.maxPositions, D]), // [n_ctx, d_model]
    lnF: ln(keys.lnF),
    blocks: Array.from({ length: nLayers }, (_, l) => {
      const k = keys.block(l);
      return {
        ln1: ln(k.ln1),
        qkv: linear(k.qkv, D, 3 * D),
        proj: linear(k.proj, D, D),
        ln2: ln(k.ln2),
        fc: linear(k.fc, D, config.dMlp),
        mlpProj: linear(k.mlpProj, config.dMlp, D),
      };
    }),
  };
  const hookPoints = gpt2HookPoints(nLayers);

  const lin = (x: Tensor, l: { w: Tensor; b: Tensor }): Tensor => T.add(T.matmul(x, l.w, { transB }), l.b);

  /** LayerNorm as TransformerLens hooks it: scale = sqrt(var + eps) of the centred input. */
  const layerNorm = (x: Tensor, l: { w: Tensor; b: Tensor }, name: string, ctx: HookContext): Tensor => {
    const xc = T.sub(x, T.mean(x, -1, true)); // [batch, pos, d_model]
    const s = ctx.hook(`${name}.hook_scale`, T.sqrt(T.add(T.mean(T.mul(xc, xc), -1, true), eps))); // [batch, pos, 1]
    return ctx.hook(`${name}.hook_normalized`, T.add(T.mul(T.div(xc, s), l.w), l.b)); // [batch, pos, d_model]
  };

  const forward = (ids: Tensor, ctx: HookContext): Tensor => {
    if (ids.rank !== 2) throw new Error(`gpt2: ids must be [batch, pos], got [${ids.shape.join(",")}]`);
    const [B, Tn] = ids.shape as [number, number];
    if (Tn > config.maxPositions) throw new Error(`gpt2: ${Tn} positions exceed the model's ${config.maxPositions}`);
    const causal = T.causalMask(Tn); // [query_pos, key_pos]
    const embed = ctx.hook("hook_embed", T.gather(p.wte, ids, 0)); // [batch, pos, d_model]
    const pos = ctx.hook("hook_pos_embed", T.broadcastTo(T.narrow(p.wpe, 0, 0, Tn), [B, Tn, D])); // [batch, pos, d_model]
    let x = T.add(embed, pos); // [batch, pos, d_model]
    p.blocks.forEach((blk, l) => {
      const h = (name: string, t: Tensor) => ctx.hook(`blocks.${l}.${name}`, t);
      x = h("hook_resid_pre", x); // [batch, pos, d_model]
      const a = layerNorm(x, blk.ln1, `blocks.${l}.ln1`, ctx); // [batch, pos, d_model]
      const qkv = lin(a, blk.qkv); // [batch, pos, 3*d_model]
      const split = (i: number) => T.reshape(T.narrow(qkv, 2, i * D, D), [B, Tn, H, Dh]); // [batch, pos, head, d_head]
      const q = h("attn.hook_q", split(0)); // [batch, pos, head, d_head]
      const k = h("attn.hook_k", split(1)); // [batch, pos, head, d_head]
      const v = h("attn.hook_v", split(2)); // [batch, pos, head, d_head]
      const toHeads = (t: Tensor) => T.permute(t, [0, 2, 1, 3]); // [batch, head, pos, d_head]
      const scores = h(
        "attn.hook_attn_scores",
        T.add(T.mul(T.matmul(toHeads(q), toHeads(k), { transB: true }), 1 / Math.sqrt(Dh)), causal),
      ); // [batch, head, query_pos, key_pos]
      const pattern = h("attn.hook_pattern", T.softmax(scores)); // [batch, head, query_pos, key_pos]
      const z = h("attn.hook_z", T.permute(T.matmul(pattern, toHeads(v)), [0, 2, 1, 3])); // [batch, pos, head, d_head]
      const attnOut = h("hook_attn_out", lin(T.reshape(z, [B, Tn, D]), blk.proj)); // [batch, pos, d_model]
      const mid = h("hook_resid_mid", T.add(x, attnOut)); // [batch, pos, d_model]
      const m = layerNorm(mid, blk.ln2, `blocks.${l}.ln2`, ctx); // [batch, pos, d_model]
      const pre = h("mlp.hook_pre", lin(m, blk.fc)); // [batch, pos, d_mlp]
      const post = h("mlp.hook_post", T.gelu(pre, "tanh")); // [batch, pos, d_mlp]
      const mlpOut = h("hook_mlp_out", lin(post, blk.mlpProj)); // [batch, pos, d_model]
      x = h("hook_resid_post", T.add(mid, mlpOut)); // [batch, pos, d_model]
    });
    const normed = layerNorm(x, p.lnF, "ln_final", ctx); // [batch, pos, d_model]
    return T.matmul(normed, p.wte, { transB: true }); // [batch, pos, d_vocab]
  };

  return { config, hookPoints, forward };
}
