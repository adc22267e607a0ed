// The Llama family (Llama 2/3, Mistral, Qwen2, SmolLM), read top to bottom like transformers' modeling_llama.py:
// token embedding, pre-RMSNorm blocks with rotary grouped-query attention and a SwiGLU MLP, a final RMSNorm and
// a tied or separate unembedding. What differs between the members — q/k/v biases (Qwen2), sliding windows
// (Mistral), Llama 3 frequency scaling, llama.cpp's interleaved rotary layout, head width — is all ModelConfig.
// Hook points follow TransformerLens (GroupedQueryAttention, GatedMLP, RMSNorm).
import { declareHooks, type ForwardOptions, type HookContext, type HookedModel, planForward } from "@llmdbg/core";
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

/** The checkpoint keys, in one place: `save_pretrained` writes `model.` before everything but `lm_head.weight`. */
const keys = {
  prefixes: ["model.", ""],
  embed: "embed_tokens.weight",
  lmHead: "lm_head.weight",
  norm: "norm",
  block: (l: number) => ({
    ln1: `layers.${l}.input_layernorm`,
    q: `layers.${l}.self_attn.q_proj`,
    k: `layers.${l}.self_attn.k_proj`,
    v: `layers.${l}.self_attn.v_proj`,
    o: `layers.${l}.self_attn.o_proj`,
    ln2: `layers.${l}.post_attention_layernorm`,
    gate: `layers.${l}.mlp.gate_proj`,
    up: `layers.${l}.mlp.up_proj`,
    down: `layers.${l}.mlp.down_proj`,
  }),
};

const resid = ["batch", "pos", "d_model"] as const;
const scale = ["batch", "pos", "one"] as const; // sqrt(var + eps) per position, [batch, pos, 1]
const perHead = ["batch", "pos", "head", "d_head"] as const;
// TransformerLens keeps grouped keys and values unrepeated: one entry per key/value head
const perKvHead = ["batch", "pos", "kv_head", "d_head"] as const;
const mlp = ["batch", "pos", "d_mlp"] as const;

/** The hook points of an `nLayers` Llama-family model (no hook_pos_embed: positions enter as rotations of q and k). */
export function llamaHookPoints(nLayers: number) {
  return declareHooks(
    nLayers,
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
      "attn.hook_k": perKvHead,
      "attn.hook_v": perKvHead,
      "attn.hook_rot_q": perHead,
      "attn.hook_rot_k": perKvHead,
      "attn.hook_attn_scores": ["batch", "head", "query_pos", "key_pos"],
      "attn.hook_pattern": ["batch", "head", "query_pos", "key_pos"],
      "attn.hook_z": perHead,
      hook_attn_out: resid,
      hook_resid_mid: resid,
      "ln2.hook_scale": scale,
      "ln2.hook_normalized": resid,
      "mlp.hook_pre": mlp,
      "mlp.hook_pre_linear": mlp,
      "mlp.hook_post": mlp,
      hook_mlp_out: resid,
      hook_resid_post: resid,
    },
  );
}

export interface LlamaModel extends HookedModel {
  readonly config: ModelConfig;
}

/** The config fields the Llama family honours, and what it refuses. */
const support: ConfigSupport = {
  family: "read",
  source: "read",
  dModel: "read",
  nLayers: "read",
  nHeads: "read",
  nKvHeads: (v, c) => (c.nHeads % v === 0 ? null : `key/value heads must divide the ${c.nHeads} query heads, got ${v}`),
  dHead: "read",
  dMlp: "read",
  vocabSize: "read",
  maxPositions: "read",
  norm: "read",
  normPlacement: must("pre", "Llama blocks are pre-norm"),
  activation: "read",
  gatedMlp: must(true, "the Llama MLP is gated (SwiGLU)"),
  positional: (v) => (v.kind === "rotary" ? null : `Llama has rotary positions, got ${v.kind}`),
  parallelResidual: must(false, "Llama blocks are sequential"),
  causal: "read",
  qkvBias: "read",
  oBias: "read",
  mlpBias: "read",
  typeVocabSize: must(0, "Llama has no token-type embedding"),
  positionOffset: must(0, "rotary positions have no offset"),
  qkvLayout: must("separate", "Llama reads separate q_proj, k_proj and v_proj"),
  classifier: must(null, "a classification head is not implemented for the Llama family"),
  tiedEmbeddings: "read",
  weightLayout: "read",
  bosTokenId: "read",
  eosTokenIds: "read",
  padTokenId: "read",
  slidingWindow: "read",
};

/**
 * Builds a Llama-family model from a normalized config and its checkpoint (Hugging Face names; a GGUF file
 * goes through a WeightSource that maps them).
 * @example const model = llama(normalizeHfConfig(json, "config.json"), readSafetensors("model.safetensors")); run(model, ids, { cache: true })
 */
export function llama(config: ModelConfig, weights: WeightSource, file = "model.safetensors"): LlamaModel {
  checkConfig("llama", config, support);
  const rope = rotaryOf(config);
  const { dModel: D, nHeads: H, nKvHeads: Hkv, dHead: Dh, dMlp: M, nLayers } = config;
  const ck = checkpoint(config, weights, file, keys.prefixes);
  const ln = (prefix: string) => ({
    w: ck.get(`${prefix}.weight`, [D]),
    b: config.norm.kind === "layernorm" ? ck.get(`${prefix}.bias`, [D]) : undefined,
  });
  const lin = (prefix: string, din: number, dout: number, bias: boolean) => ({
    w: ck.get(`${prefix}.weight`, [din, dout]),
    b: bias ? ck.get(`${prefix}.bias`, [dout]) : undefined,
  });
  // checkpoint() swaps 2-D shapes for [out, in] linear weights; an embedding table is [rows, d_model] in every layout
  const embed = ck.table(keys.embed, config.vocabSize, D); // [d_vocab, d_model]
  const p = {
    embed,
    // tied: the unembedding is the embedding itself, [d_vocab, d_model] whatever the checkpoint's layout
    lmHead: config.tiedEmbeddings ? undefined : ck.get(keys.lmHead, [D, config.vocabSize]),
    norm: ln(keys.norm),
    blocks: Array.from({ length: nLayers }, (_, l) => {
      const k = keys.block(l);
      return {
        ln1: ln(k.ln1),
        q: lin(k.q, D, H * Dh, config.qkvBias),
        k: lin(k.k, D, Hkv * Dh, config.qkvBias),
        v: lin(k.v, D, Hkv * Dh, config.qkvBias),
        o: lin(k.o, H * Dh, D, config.oBias),
        ln2: ln(k.ln2),
        gate: lin(k.gate, D, M, config.mlpBias),
        up: lin(k.up, D, M, config.mlpBias),
        down: lin(k.down, M, D, config.mlpBias),
      };
    }),
  };
  // llama.cpp stores Llama 3 scaling as per-frequency divisors in the file rather than in the metadata
  const factors = rope.scaling.kind === "freqFactors" ? ck.get(rope.scaling.tensor, [rope.rotaryDim / 2]) : undefined;
  const invFreq = inverseFrequencies(rope, factors); // [rotaryDim/2]
  const act = activations[config.activation];
  const hookPoints = llamaHookPoints(nLayers);
  const affine = (x: Tensor, l: { w: Tensor; b: Tensor | undefined }): Tensor => linear(x, l.w, l.b, ck.transB);

  // No maxPositions check: rotary angles exist at every position (unlike GPT-2's table), and transformers
  // does not refuse longer inputs either; quality past the trained context is the user's call.
  const forward = (ids: Tensor, ctx: HookContext, opts: ForwardOptions = {}): Tensor => {
    const plan = planForward(ids, opts, "llama");
    const { batch: B, queries: Tn } = plan;
    const bias = layerBias(config, plan);
    const angles = rotaryAngles(invFreq, plan.positions); // cos, sin [batch, 1, pos, rotaryDim/2]
    let x = ctx.hook("hook_embed", T.gather(p.embed, ids, 0)); // [batch, pos, d_model]
    p.blocks.forEach((blk, l) => {
      const h = (name: string, t: Tensor) => ctx.hook(`blocks.${l}.${name}`, t);
      x = h("hook_resid_pre", x); // [batch, pos, d_model]
      const a = norm(x, blk.ln1, config.norm, `blocks.${l}.ln1`, ctx); // [batch, pos, d_model]
      const q = h("attn.hook_q", T.reshape(affine(a, blk.q), [B, Tn, H, Dh])); // [batch, pos, head, d_head]
      const k = h("attn.hook_k", T.reshape(affine(a, blk.k), [B, Tn, Hkv, Dh])); // [batch, pos, kv_head, d_head]
      const v = h("attn.hook_v", T.reshape(affine(a, blk.v), [B, Tn, Hkv, Dh])); // [batch, pos, kv_head, d_head]
      const rq = h("attn.hook_rot_q", rotate(q, angles, rope)); // [batch, pos, head, d_head]
      // keys are cached rotated, so a later call never needs the positions of earlier ones
      const rk = h("attn.hook_rot_k", rotate(k, angles, rope)); // [batch, pos, kv_head, d_head]
      const z = attend(h, rq, rk, v, plan, l, bias(l), 1 / Math.sqrt(Dh)); // [batch, pos, head, d_head]
      const attnOut = h("hook_attn_out", affine(T.reshape(z, [B, Tn, H * Dh]), blk.o)); // [batch, pos, d_model]
      const mid = h("hook_resid_mid", T.add(x, attnOut)); // [batch, pos, d_model]
      const m = norm(mid, blk.ln2, config.norm, `blocks.${l}.ln2`, ctx); // [batch, pos, d_model]
      const pre = h("mlp.hook_pre", affine(m, blk.gate)); // [batch, pos, d_mlp]
      const preLinear = h("mlp.hook_pre_linear", affine(m, blk.up)); // [batch, pos, d_mlp]
      const post = h("mlp.hook_post", T.mul(act(pre), preLinear)); // [batch, pos, d_mlp]
      const mlpOut = h("hook_mlp_out", affine(post, blk.down)); // [batch, pos, d_model]
      x = h("hook_resid_post", T.add(mid, mlpOut)); // [batch, pos, d_model]
    });
    const normed = norm(x, p.norm, config.norm, "ln_final", ctx); // [batch, pos, d_model]
    const rows = logitRows(normed, plan); // [batch, pos or 1, d_model]
    const logits =
      p.lmHead === undefined
        ? T.matmul(rows, p.embed, { transB: true }) // [batch, pos, d_vocab]
        : affine(rows, { w: p.lmHead, b: undefined }); // [batch, pos, d_vocab]
    return ctx.hook("hook_logits", logits); // [batch, pos, d_vocab]
  };

  return { config, hookPoints, forward };
}
