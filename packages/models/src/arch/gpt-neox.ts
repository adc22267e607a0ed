// GPT-NeoX / Pythia, read top to bottom like transformers' modeling_gpt_neox.py: token embeddings only (no
// learned positions), pre-LayerNorm blocks, one fused q/k/v projection, rotary embeddings on the leading
// `rotaryDim` dimensions of each head, causal attention, erf-GELU MLP and an untied unembedding (`embed_out`).
// With `parallelResidual` the attention and the MLP both read the block input: x + attn(ln1(x)) + mlp(ln2(x)).
// Hook points follow TransformerLens (`hook_rot_q`/`hook_rot_k` after rotary; no `hook_resid_mid` when the
// residual is parallel, because no such sum is ever formed).
import { declareHooks, type ForwardOptions, type HookContext, type HookedModel, planForward } from "@llmdbg/core";
import type { Axis } from "@llmdbg/protocol";
import type { Tensor } from "@llmdbg/tensor";
import * as T from "@llmdbg/tensor";
import type { ModelConfig } from "../config.js";
import {
  activations,
  attend,
  type ConfigSupport,
  checkConfig,
  checkpoint,
  inverseFrequencies,
  layerBias,
  linear,
  logitRows,
  must,
  norm,
  rotaryAngles,
  rotaryOf,
  rotate,
  type WeightSource,
} from "./common.js";

export type { WeightSource } from "./common.js";

/**
 * The checkpoint keys, in one place: `save_pretrained` writes the body under `gpt_neox.` and the unembedding
 * `embed_out.weight` at the top level; other exporters write bare body names.
 */
const keys = {
  prefixes: ["gpt_neox.", ""],
  headPrefixes: [""],
  embedIn: "embed_in.weight",
  embedOut: "embed_out.weight",
  lnF: "final_layer_norm",
  block: (l: number) => ({
    ln1: `layers.${l}.input_layernorm`,
    qkv: `layers.${l}.attention.query_key_value`,
    dense: `layers.${l}.attention.dense`,
    ln2: `layers.${l}.post_attention_layernorm`,
    up: `layers.${l}.mlp.dense_h_to_4h`,
    down: `layers.${l}.mlp.dense_4h_to_h`,
  }),
};

const resid = ["batch", "pos", "d_model"] as const;
const perHead = ["batch", "pos", "head", "d_head"] as const;
const scale = ["batch", "pos", "one"] as const; // sqrt(var + eps) per position, [batch, pos, 1]
const mlp = ["batch", "pos", "d_mlp"] as const;
const scores = ["batch", "head", "query_pos", "key_pos"] as const;

/** The hook points; `hook_resid_mid` exists only when the residual is sequential (TransformerLens never fires it otherwise). */
export function gptNeoxHookPoints(config: Pick<ModelConfig, "nLayers" | "parallelResidual">) {
  const mid: Record<string, readonly Axis[]> = config.parallelResidual ? {} : { hook_resid_mid: resid };
  return declareHooks(
    config.nLayers,
    {
      hook_embed: resid,
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
      "attn.hook_rot_q": perHead,
      "attn.hook_rot_k": perHead,
      "attn.hook_attn_scores": scores,
      "attn.hook_pattern": scores,
      "attn.hook_z": perHead,
      hook_attn_out: resid,
      ...mid,
      "ln2.hook_scale": scale,
      "ln2.hook_normalized": resid,
      "mlp.hook_pre": mlp,
      "mlp.hook_post": mlp,
      hook_mlp_out: resid,
      hook_resid_post: resid,
    },
  );
}

/** Splits the fused projection [batch, pos, 3·head·d_head] into part 0 (q), 1 (k) or 2 (v) [batch, pos, head, d_head]. */
type QkvSplit = (qkv: Tensor, part: 0 | 1 | 2) => Tensor;

/** How each `config.qkvLayout` orders the rows of the fused projection; chosen once when the model is built. */
const qkvLayouts: { readonly [L in ModelConfig["qkvLayout"]]: (c: ModelConfig) => QkvSplit } = {
  // Hugging Face's query_key_value: rows grouped [head, (q, k, v), d_head], viewed [B, T, H, 3·Dh] as HF does
  fused_per_head:
    ({ nHeads: H, dHead: Dh }) =>
    (qkv, part) => {
      const [B, P] = qkv.shape as [number, number, number];
      return T.narrow(T.reshape(qkv, [B, P, H, 3 * Dh]), 3, part * Dh, Dh); // [batch, pos, head, d_head]
    },
  // llama.cpp's converter regroups the rows to [q; k; v] (attn_qkv), each block [head, d_head]
  fused:
    ({ nHeads: H, dHead: Dh }) =>
    (qkv, part) => {
      const [B, P] = qkv.shape as [number, number, number];
      return T.reshape(T.narrow(qkv, 2, part * H * Dh, H * Dh), [B, P, H, Dh]); // [batch, pos, head, d_head]
    },
  separate: () => {
    throw new Error("unreachable: checkConfig refuses a separate q/k/v layout for GPT-NeoX");
  },
};

/** The config fields GPT-NeoX honours, and what it refuses. */
const support: ConfigSupport = {
  family: "read",
  source: "read",
  dModel: "read",
  nLayers: "read",
  nHeads: "read",
  // q, k and v share one row block per head, so grouped-query heads cannot be expressed in this layout
  nKvHeads: (v, c) => (v === c.nHeads ? null : `GPT-NeoX needs as many key/value heads as heads (${c.nHeads}), got ${v}`),
  dHead: "read",
  dMlp: "read",
  vocabSize: "read",
  maxPositions: "read",
  norm: "read",
  normPlacement: must("pre", "GPT-NeoX blocks are pre-norm"),
  activation: "read",
  gatedMlp: must(false, "GPT-NeoX's MLP is dense_4h_to_h(act(dense_h_to_4h(x))), not gated"),
  positional: (v) => (v.kind === "rotary" ? null : `GPT-NeoX has rotary positions, got ${v.kind}`),
  parallelResidual: "read",
  causal: "read",
  qkvBias: "read",
  oBias: "read",
  mlpBias: "read",
  typeVocabSize: must(0, "GPT-NeoX has no token-type embedding"),
  positionOffset: must(0, "rotary positions have no offset"),
  qkvLayout: (v) =>
    v === "separate"
      ? 'GPT-NeoX reads one fused query_key_value projection ("fused_per_head" or "fused"); "separate" q/k/v projections have no GPT-NeoX tensor names'
      : null,
  classifier: must(null, "a classification head is not implemented for GPT-NeoX"),
  tiedEmbeddings: "read",
  weightLayout: "read",
  bosTokenId: "read",
  eosTokenIds: "read",
  padTokenId: "read",
  slidingWindow: "read",
};

export interface GptNeoxModel extends HookedModel {
  readonly config: ModelConfig;
}

/**
 * Builds GPT-NeoX (Pythia) from a normalized config and its checkpoint (Hugging Face names; a GGUF file through
 * a renaming WeightSource, with `qkvLayout: "fused"`).
 * @example const model = gptNeox(normalizeHfConfig(json, "config.json"), readSafetensors("model.safetensors")); run(model, ids, { cache: true })
 */
export function gptNeox(config: ModelConfig, weights: WeightSource, file = "model.safetensors"): GptNeoxModel {
  checkConfig("gpt_neox", config, support);
  const { dModel: D, nHeads: H, dHead: Dh, nLayers, vocabSize: V } = config;
  const pos = rotaryOf(config);
  const split = qkvLayouts[config.qkvLayout](config);

  const ck = checkpoint(config, weights, file, keys.prefixes);
  const head = checkpoint(config, weights, file, keys.headPrefixes);
  const ln = (prefix: string) => ({
    w: ck.get(`${prefix}.weight`, [D]),
    b: config.norm.kind === "layernorm" ? ck.get(`${prefix}.bias`, [D]) : undefined,
  });
  const lin = (prefix: string, din: number, dout: number, bias: boolean) => ({
    w: ck.get(`${prefix}.weight`, [din, dout]),
    b: bias ? ck.get(`${prefix}.bias`, [dout]) : undefined,
  });
  const embedIn = ck.table(keys.embedIn, V, D); // [d_vocab, d_model]
  const p = {
    embedIn,
    // as stored: [d_vocab, d_model] for out_in; tied models read embed_in instead (transformers' tie_weights)
    embedOut: config.tiedEmbeddings ? embedIn : head.get(keys.embedOut, [D, V]),
    lnF: ln(keys.lnF),
    blocks: Array.from({ length: nLayers }, (_, l) => {
      const k = keys.block(l);
      return {
        ln1: ln(k.ln1),
        qkv: lin(k.qkv, D, 3 * H * Dh, config.qkvBias),
        dense: lin(k.dense, H * Dh, D, config.oBias),
        ln2: ln(k.ln2),
        up: lin(k.up, D, config.dMlp, config.mlpBias),
        down: lin(k.down, config.dMlp, D, config.mlpBias),
      };
    }),
  };
  // llama.cpp stores Llama 3-style scaling as a tensor; every other scaling lives in the config
  const factors = pos.scaling.kind === "freqFactors" ? ck.get(pos.scaling.tensor, [pos.rotaryDim / 2]) : undefined;
  const inv = inverseFrequencies(pos, factors); // [rotaryDim/2]
  const act = activations[config.activation];
  const hookPoints = gptNeoxHookPoints(config);
  const affine = (x: Tensor, l: { w: Tensor; b: Tensor | undefined }): Tensor => linear(x, l.w, l.b, ck.transB);
  const unembed = (x: Tensor): Tensor =>
    config.tiedEmbeddings ? T.matmul(x, p.embedOut, { transB: true }) : linear(x, p.embedOut, undefined, head.transB);

  // No position limit: transformers extends its rotary table past max_position_embeddings on demand.
  const forward = (ids: Tensor, ctx: HookContext, opts: ForwardOptions = {}): Tensor => {
    const plan = planForward(ids, opts, "gpt_neox");
    const { batch: B, queries: Tn } = plan;
    const bias = layerBias(config, plan);
    const angles = rotaryAngles(inv, plan.positions); // [batch, 1, pos, rotaryDim/2] each
    let x = ctx.hook("hook_embed", T.gather(p.embedIn, ids, 0)); // [batch, pos, d_model]
    p.blocks.forEach((blk, l) => {
      const h = (name: string, t: Tensor) => ctx.hook(`blocks.${l}.${name}`, t);
      x = h("hook_resid_pre", x); // [batch, pos, d_model]
      const a = norm(x, blk.ln1, config.norm, `blocks.${l}.ln1`, ctx); // [batch, pos, d_model]
      const qkv = affine(a, blk.qkv); // [batch, pos, 3*head*d_head]
      const q = h("attn.hook_q", split(qkv, 0)); // [batch, pos, head, d_head]
      const k = h("attn.hook_k", split(qkv, 1)); // [batch, pos, head, d_head]
      const v = h("attn.hook_v", split(qkv, 2)); // [batch, pos, head, d_head]
      const rq = h("attn.hook_rot_q", rotate(q, angles, pos)); // [batch, pos, head, d_head]
      const rk = h("attn.hook_rot_k", rotate(k, angles, pos)); // [batch, pos, head, d_head]
      const z = attend(h, rq, rk, v, plan, l, bias(l), 1 / Math.sqrt(Dh)); // [batch, pos, head, d_head]
      const attnOut = h("hook_attn_out", affine(T.reshape(z, [B, Tn, H * Dh]), blk.dense)); // [batch, pos, d_model]
      // parallel: the MLP reads the block input too, and resid_mid is never formed
      const mid = config.parallelResidual ? undefined : h("hook_resid_mid", T.add(x, attnOut)); // [batch, pos, d_model]
      const m = norm(mid ?? x, blk.ln2, config.norm, `blocks.${l}.ln2`, ctx); // [batch, pos, d_model]
      const pre = h("mlp.hook_pre", affine(m, blk.up)); // [batch, pos, d_mlp]
      const post = h("mlp.hook_post", act(pre)); // [batch, pos, d_mlp]
      const mlpOut = h("hook_mlp_out", affine(post, blk.down)); // [batch, pos, d_model]
      x = h("hook_resid_post", T.add(mid ?? T.add(x, attnOut), mlpOut)); // [batch, pos, d_model]
    });
    const normed = norm(x, p.lnF, config.norm, "ln_final", ctx); // [batch, pos, d_model]
    return ctx.hook("hook_logits", unembed(logitRows(normed, plan))); // [batch, pos, d_vocab]
  };

  return { config, hookPoints, forward };
}
