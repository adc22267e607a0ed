// GPT-2, read top to bottom like nanoGPT's model.py: learned positions, pre-LayerNorm blocks, fused q/k/v
// projection, causal attention, an MLP with the config's activation (gelu_new for GPT-2 itself), tied (or, when
// the config says so, separate) unembedding. Hook points follow TransformerLens.
// Layer norms and attention are written in primitives (common.ts) so that every hook (ln scale, scores,
// pattern) is a real, differentiable tensor.
import { declareHooks, type ForwardOptions, type HookContext, type HookedModel, maxPosition, planForward } from "@llmdbg/core";
import type { Tensor } from "@llmdbg/tensor";
import * as T from "@llmdbg/tensor";
import type { ModelConfig } from "../config.js";
import {
  activations,
  attend,
  type ConfigSupport,
  checkConfig,
  checkpoint,
  layerBias,
  linear,
  logitRows,
  must,
  norm,
  type WeightSource,
} from "./common.js";

export type { WeightSource } from "./common.js";

/** The checkpoint keys, in one place: `save_pretrained` writes the `transformer.` prefix, OpenAI's file has none. */
const keys = {
  prefixes: ["transformer.", ""],
  wte: "wte.weight",
  lmHead: "lm_head.weight",
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
const scale = ["batch", "pos", "one"] as const; // sqrt(var + eps) per position, [batch, pos, 1]

export function gpt2HookPoints(nLayers: number) {
  return declareHooks(
    nLayers,
    {
      hook_embed: resid,
      hook_pos_embed: resid,
      "ln_final.hook_scale": scale,
      "ln_final.hook_normalized": resid,
      hook_logits: ["batch", "pos", "d_vocab"],
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

/** The config fields GPT-2 honours, and what it refuses. */
const support: ConfigSupport = {
  family: "read",
  source: "read",
  dModel: "read",
  nLayers: "read",
  nHeads: "read",
  nKvHeads: (v, c) => (v === c.nHeads ? null : `GPT-2 has as many key/value heads as heads (${c.nHeads}), got ${v}`),
  dHead: (v, c) => (v * c.nHeads === c.dModel ? null : `GPT-2 heads split d_model: dHead × nHeads must be ${c.dModel}, got ${v}`),
  dMlp: "read",
  vocabSize: "read",
  maxPositions: "read",
  norm: (v) => (v.kind === "layernorm" ? null : `GPT-2 uses LayerNorm, got ${v.kind}`),
  normPlacement: must("pre", "GPT-2 blocks are pre-norm"),
  activation: "read",
  gatedMlp: must(false, "GPT-2's MLP is c_proj(act(c_fc(x))), not gated"),
  positional: (v) => (v.kind === "learned" ? null : `GPT-2 has learned positions (wpe), got ${v.kind}`),
  parallelResidual: must(false, "GPT-2 blocks are sequential"),
  causal: must(true, "GPT-2 is a causal language model"),
  qkvBias: must(true, "GPT-2's c_attn has a bias"),
  oBias: must(true, "GPT-2's c_proj has a bias"),
  mlpBias: must(true, "GPT-2's MLP projections have biases"),
  tiedEmbeddings: "read",
  typeVocabSize: must(0, "GPT-2 has no token-type embedding"),
  positionOffset: must(0, "GPT-2 reads position p at row p"),
  weightLayout: "read",
  qkvLayout: must("fused", "GPT-2 reads one fused c_attn projection"),
  classifier: must(null, "GPT-2 here is a language model; a classification head is not implemented"),
  bosTokenId: "read",
  eosTokenIds: "read",
  padTokenId: "read",
  slidingWindow: "read",
};

export interface Gpt2Model extends HookedModel {
  readonly config: ModelConfig;
}

/**
 * Builds GPT-2 from a normalized config and its checkpoint.
 * @example const model = gpt2(normalizeHfConfig(json, "config.json"), readSafetensors("model.safetensors")); run(model, ids, { cache: true })
 */
export function gpt2(config: ModelConfig, weights: WeightSource, file = "model.safetensors"): Gpt2Model {
  checkConfig("gpt2", config, support);
  const { dModel: D, nHeads: H, dHead: Dh, nLayers } = config;
  const ck = checkpoint(config, weights, file, keys.prefixes);
  const ln = (prefix: string) => ({ w: ck.get(`${prefix}.weight`, [D]), b: ck.get(`${prefix}.bias`, [D]) });
  const lin = (prefix: string, din: number, dout: number) => ({
    w: ck.get(`${prefix}.weight`, [din, dout]),
    b: ck.get(`${prefix}.bias`, [dout]),
  });
  const p = {
    wte: ck.table(keys.wte, config.vocabSize, D), // [d_vocab, d_model]
    wpe: ck.table(keys.wpe, config.maxPositions, D), // [n_ctx, d_model]
    lnF: ln(keys.lnF),
    // [d_vocab, d_model] like the embedding (an nn.Linear even in Conv1D checkpoints); only when untied
    lmHead: config.tiedEmbeddings ? undefined : ck.table(keys.lmHead, config.vocabSize, D),
    blocks: Array.from({ length: nLayers }, (_, l) => {
      const k = keys.block(l);
      return {
        ln1: ln(k.ln1),
        qkv: lin(k.qkv, D, 3 * D),
        proj: lin(k.proj, D, D),
        ln2: ln(k.ln2),
        fc: lin(k.fc, D, config.dMlp),
        mlpProj: lin(k.mlpProj, config.dMlp, D),
      };
    }),
  };
  const hookPoints = gpt2HookPoints(nLayers);
  const act = activations[config.activation];
  const affine = (x: Tensor, l: { w: Tensor; b: Tensor }): Tensor => linear(x, l.w, l.b, ck.transB);

  const forward = (ids: Tensor, ctx: HookContext, opts: ForwardOptions = {}): Tensor => {
    const plan = planForward(ids, opts, "gpt2");
    const { batch: B, queries: Tn } = plan;
    const last = maxPosition(plan.positions);
    if (last >= config.maxPositions)
      throw new RangeError(`gpt2: position ${last} exceeds the model's ${config.maxPositions} positions`);
    const bias = layerBias(config, plan);
    const embed = ctx.hook("hook_embed", T.gather(p.wte, ids, 0)); // [batch, pos, d_model]
    const pos = ctx.hook("hook_pos_embed", T.gather(p.wpe, plan.positions, 0)); // [batch, pos, d_model]
    let x = T.add(embed, pos); // [batch, pos, d_model]
    p.blocks.forEach((blk, l) => {
      const h = (name: string, t: Tensor) => ctx.hook(`blocks.${l}.${name}`, t);
      x = h("hook_resid_pre", x); // [batch, pos, d_model]
      const a = norm(x, blk.ln1, config.norm, `blocks.${l}.ln1`, ctx); // [batch, pos, d_model]
      const qkv = affine(a, blk.qkv); // [batch, pos, 3*d_model]
      const split = (i: number) => T.reshape(T.narrow(qkv, 2, i * D, D), [B, Tn, H, Dh]); // [batch, pos, head, d_head]
      const q = h("attn.hook_q", split(0)); // [batch, pos, head, d_head]
      const k = h("attn.hook_k", split(1)); // [batch, pos, head, d_head]
      const v = h("attn.hook_v", split(2)); // [batch, pos, head, d_head]
      const z = attend(h, q, k, v, plan, l, bias(l), 1 / Math.sqrt(Dh)); // [batch, pos, head, d_head]
      const attnOut = h("hook_attn_out", affine(T.reshape(z, [B, Tn, D]), blk.proj)); // [batch, pos, d_model]
      const mid = h("hook_resid_mid", T.add(x, attnOut)); // [batch, pos, d_model]
      const m = norm(mid, blk.ln2, config.norm, `blocks.${l}.ln2`, ctx); // [batch, pos, d_model]
      const pre = h("mlp.hook_pre", affine(m, blk.fc)); // [batch, pos, d_mlp]
      const post = h("mlp.hook_post", act(pre)); // [batch, pos, d_mlp]
      const mlpOut = h("hook_mlp_out", affine(post, blk.mlpProj)); // [batch, pos, d_model]
      x = h("hook_resid_post", T.add(mid, mlpOut)); // [batch, pos, d_model]
    });
    const normed = norm(x, p.lnF, config.norm, "ln_final", ctx); // [batch, pos, d_model]
    return ctx.hook("hook_logits", T.matmul(logitRows(normed, plan), p.lmHead ?? p.wte, { transB: true })); // [batch, pos, d_vocab]
  };

  return { config, hookPoints, forward };
}
