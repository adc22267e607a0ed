// The Llama family in one file: Llama 2/3, Mistral, Qwen2, SmolLM — pre-RMSNorm blocks, rotary positions (with
// Llama 3 / linear / GGUF frequency-factor scaling), grouped-query attention, a gated SwiGLU MLP, and
// a tied or separate unembedding. What differs between the members — q/k/v biases (Qwen2), sliding windows
// (Mistral, Qwen2), GQA ratios, rope scaling — are ModelConfig fields, never a name check. The parameters
// are one typed tree named after the checkpoint keys (`llamaParams`), read through the forward's context.
import { declareHooks, type ForwardContext, type ForwardOptions, planForward } from "@llmdbg/core";
import type { Tensor } from "@llmdbg/tensor";
import * as T from "@llmdbg/tensor";
import type { ModelConfig } from "../config.js";
import {
  AXES,
  activations,
  affine,
  affines,
  assembleModel,
  attend,
  biasOr,
  blockScope,
  type ConfigSupport,
  checkConfig,
  directContext,
  headsIn,
  headsOut,
  inOut,
  type Leaf,
  type Linear,
  type LoadedArchitecture,
  layerBias,
  loadParams,
  logitRows,
  must,
  type Norm,
  norm,
  rotaryAngles,
  rotaryFrequencies,
  rotaryOf,
  rotate,
  startResidual,
  type WeightSource,
} from "./common.js";

export type { WeightSource } from "./common.js";

/** `save_pretrained` writes `model.` before everything but `lm_head.weight`. */
const PREFIXES = ["model.", ""];

/** A Llama-family model's parameters, named after the checkpoint keys; `L` is a tensor, or a parameter name. */
export interface LlamaParams<L = Tensor> {
  /** [d_vocab, d_model] */
  readonly embed_tokens: L;
  readonly layers: readonly {
    readonly input_layernorm: Norm<L>;
    /** q: d_model → head·d_head; k, v: d_model → kv_head·d_head; o: head·d_head → d_model */
    readonly self_attn: {
      readonly q_proj: Linear<L>;
      readonly k_proj: Linear<L>;
      readonly v_proj: Linear<L>;
      readonly o_proj: Linear<L>;
    };
    readonly post_attention_layernorm: Norm<L>;
    /** gate, up: d_model → d_mlp; down: d_mlp → d_model */
    readonly mlp: { readonly gate_proj: Linear<L>; readonly up_proj: Linear<L>; readonly down_proj: Linear<L> };
  }[];
  readonly norm: Norm<L>;
  /** d_model → d_vocab; undefined when tied to embed_tokens */
  readonly lm_head: L | undefined;
}

/**
 * The parameter tree of a Llama-family config, each leaf made by `leaf` from its checkpoint key, shape and kind.
 * @example llamaParams(config, (key) => key) // the names
 */
export function llamaParams<L>(config: ModelConfig, leaf: Leaf<L>): LlamaParams<L> {
  const { dModel: D, nHeads: H, nKvHeads: Hkv, dHead: Dh, dMlp: M, vocabSize: V } = config;
  const ln = (k: string): Norm<L> => ({
    weight: leaf(`${k}.weight`, [D], "vector"),
    bias: config.norm.kind === "layernorm" ? leaf(`${k}.bias`, [D], "vector") : undefined,
  });
  const lin = (k: string, din: number, dout: number, bias: boolean): Linear<L> => ({
    weight: leaf(`${k}.weight`, [din, dout], "linear"),
    bias: bias ? leaf(`${k}.bias`, [dout], "vector") : undefined,
  });
  return {
    embed_tokens: leaf("embed_tokens.weight", [V, D], "table"),
    layers: Array.from({ length: config.nLayers }, (_, l) => {
      const k = `layers.${l}`;
      return {
        input_layernorm: ln(`${k}.input_layernorm`),
        self_attn: {
          q_proj: lin(`${k}.self_attn.q_proj`, D, H * Dh, config.qkvBias),
          k_proj: lin(`${k}.self_attn.k_proj`, D, Hkv * Dh, config.qkvBias),
          v_proj: lin(`${k}.self_attn.v_proj`, D, Hkv * Dh, config.qkvBias),
          o_proj: lin(`${k}.self_attn.o_proj`, H * Dh, D, config.oBias),
        },
        post_attention_layernorm: ln(`${k}.post_attention_layernorm`),
        mlp: {
          gate_proj: lin(`${k}.mlp.gate_proj`, D, M, config.mlpBias),
          up_proj: lin(`${k}.mlp.up_proj`, D, M, config.mlpBias),
          down_proj: lin(`${k}.mlp.down_proj`, M, D, config.mlpBias),
        },
      };
    }),
    norm: ln("norm"),
    lm_head: config.tiedEmbeddings ? undefined : leaf("lm_head.weight", [D, V], "linear"),
  };
}

const { resid, scale, perHead, perKvHead, mlp } = AXES;

/** The hook points of an `nLayers` Llama-family model (no hook_pos_embed: positions enter as rotations of q and k). */
export function llamaHookPoints(nLayers: number) {
  return declareHooks(nLayers, {
    before: {
      hook_embed: resid,
    },
    perBlock: {
      hook_resid_pre: resid,
      "ln1.hook_scale": scale,
      "ln1.hook_normalized": resid,
      "attn.hook_q": perHead,
      "attn.hook_k": perKvHead,
      "attn.hook_v": perKvHead,
      "attn.hook_rot_q": perHead,
      "attn.hook_rot_k": perKvHead,
      "attn.hook_attn_scores": AXES.scores,
      "attn.hook_pattern": AXES.scores,
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
    after: {
      "ln_final.hook_scale": scale,
      "ln_final.hook_normalized": resid,
      hook_logits: AXES.logits,
    },
  });
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
  attnOnly: must(false, "the Llama family has an MLP in every block; attention-only blocks are implemented for GPT-2"),
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
 * The forward pass over the parameters: ids [batch, pos] → logits [batch, pos, d_vocab]. `invFreq` are the rotary
 * inverse frequencies (after the config's scaling).
 */
export function llamaForward(
  config: ModelConfig,
  p: LlamaParams,
  invFreq: Float64Array,
  ids: Tensor,
  ctx: ForwardContext,
  opts: ForwardOptions = {},
): Tensor {
  const { nHeads: H, nKvHeads: Hkv, dHead: Dh } = config;
  const rope = rotaryOf(config);
  const transB = config.weightLayout === "out_in";
  const act = activations[config.activation];
  const plan = planForward(ids, opts, "llama");
  const { batch: B, queries: Tn } = plan;
  const bias = layerBias(config, plan);
  const angles = rotaryAngles(invFreq, plan.positions); // cos, sin [batch, 1, pos, rotaryDim/2]
  const start = startResidual(opts, config, plan);
  let x = start?.resid ?? ctx.hook("hook_embed", T.gather(p.embed_tokens, ids, 0)); // [batch, pos, d_model]
  p.layers.forEach((blk, l) => {
    if (l < (start?.layer ?? 0)) return;
    const { h, seen } = blockScope(ctx, l);
    const { q_proj, k_proj, v_proj, o_proj } = blk.self_attn;
    x = h("hook_resid_pre", x); // [batch, pos, d_model]
    const a = norm(x, blk.input_layernorm, config.norm, `blocks.${l}.ln1`, ctx); // [batch, pos, d_model]
    const [qa, ka, va] = affines(a, [q_proj, k_proj, v_proj], transB) as [Tensor, Tensor, Tensor]; // [batch, pos, (kv_)head·d_head]
    const q = h("attn.hook_q", T.reshape(qa, [B, Tn, H, Dh])); // [batch, pos, head, d_head]
    const k = h("attn.hook_k", T.reshape(ka, [B, Tn, Hkv, Dh])); // [batch, pos, kv_head, d_head]
    const v = h("attn.hook_v", T.reshape(va, [B, Tn, Hkv, Dh])); // [batch, pos, kv_head, d_head]
    const rq = h("attn.hook_rot_q", rotate(q, angles, rope)); // [batch, pos, head, d_head]
    // keys are cached rotated, so a later call never needs the positions of earlier ones
    const rk = h("attn.hook_rot_k", rotate(k, angles, rope)); // [batch, pos, kv_head, d_head]
    const z = attend(h, seen, rq, rk, v, plan, l, bias(l), 1 / Math.sqrt(Dh)); // [batch, pos, head, d_head]
    const attnOut = h("hook_attn_out", affine(T.reshape(z, [B, Tn, H * Dh]), o_proj, transB)); // [batch, pos, d_model]
    const mid = h("hook_resid_mid", T.add(x, attnOut)); // [batch, pos, d_model]
    const m = norm(mid, blk.post_attention_layernorm, config.norm, `blocks.${l}.ln2`, ctx); // [batch, pos, d_model]
    const [gate, up] = affines(m, [blk.mlp.gate_proj, blk.mlp.up_proj], transB) as [Tensor, Tensor]; // [batch, pos, d_mlp]
    const pre = h("mlp.hook_pre", gate); // [batch, pos, d_mlp]
    const preLinear = h("mlp.hook_pre_linear", up); // [batch, pos, d_mlp]
    const post = h("mlp.hook_post", T.mul(act(pre), preLinear)); // [batch, pos, d_mlp]
    const mlpOut = h("hook_mlp_out", affine(post, blk.mlp.down_proj, transB)); // [batch, pos, d_model]
    x = h("hook_resid_post", T.add(mid, mlpOut)); // [batch, pos, d_model]
  });
  const normed = norm(x, p.norm, config.norm, "ln_final", ctx); // [batch, pos, d_model]
  return ctx.hook("hook_logits", llamaUnembed(config, p, logitRows(normed, plan))); // [batch, pos, d_vocab]
}

/** The unembedding of normalized residuals: [..., d_model] → logits [..., d_vocab]. */
function llamaUnembed(config: ModelConfig, p: LlamaParams, normed: Tensor): Tensor {
  return p.lm_head === undefined
    ? T.matmul(normed, p.embed_tokens, { transB: true }) // [..., d_vocab]
    : affine(normed, { weight: p.lm_head, bias: undefined }, config.weightLayout === "out_in"); // [..., d_vocab]
}

/**
 * Builds a Llama-family model from a normalized config and its checkpoint (Hugging Face names; a GGUF file
 * goes through a WeightSource that maps them).
 * @example const model = llama(normalizeHfConfig(json, "config.json"), readSafetensors("model.safetensors")); run(model, ids, { cache: true })
 */
export function llama(config: ModelConfig, weights: WeightSource, file = "model.safetensors"): LoadedArchitecture {
  checkConfig("llama", config, support);
  const { dModel: D, nHeads: H, nKvHeads: Hkv, dHead: Dh } = config;
  const params = loadParams(config, weights, file, PREFIXES, (leaf) => llamaParams(config, leaf));
  const invFreq = rotaryFrequencies(config, weights, file, PREFIXES); // [rotaryDim/2]
  const stored = () => llamaParams(config, (key) => params.get(key));
  const transB = config.weightLayout === "out_in";
  const block = (layer: number) => stored().layers[layer] as LlamaParams["layers"][number];
  return assembleModel({
    config,
    hookPoints: llamaHookPoints(config.nLayers),
    params,
    forward: (ids, ctx, opts) =>
      llamaForward(
        config,
        llamaParams(config, (key) => ctx.param(key)),
        invFreq,
        ids,
        ctx,
        opts,
      ),
    unembed: (resid) => {
      const p = stored();
      return llamaUnembed(config, p, norm(resid, p.norm, config.norm, "ln_final", directContext(params))); // [..., d_vocab]
    },
    weights: {
      W_E: () => params.get("embed_tokens.weight"), // [d_vocab, d_model]
      W_pos: () => null,
      W_U: () => {
        const s = stored();
        return s.lm_head === undefined ? T.permute(s.embed_tokens, [1, 0]) : inOut(s.lm_head, transB); // [d_model, d_vocab]
      },
      b_U: () => T.zeros([config.vocabSize]), // [d_vocab]
      attn: (layer) => {
        const { q_proj, k_proj, v_proj, o_proj } = block(layer).self_attn;
        return {
          W_Q: headsIn(inOut(q_proj.weight, transB), H, Dh), // [head, d_model, d_head]
          W_K: headsIn(inOut(k_proj.weight, transB), Hkv, Dh), // [kv_head, d_model, d_head]
          W_V: headsIn(inOut(v_proj.weight, transB), Hkv, Dh), // [kv_head, d_model, d_head]
          W_O: headsOut(inOut(o_proj.weight, transB), H, Dh), // [head, d_head, d_model]
          b_Q: biasOr(q_proj.bias, [H, Dh]),
          b_K: biasOr(k_proj.bias, [Hkv, Dh]),
          b_V: biasOr(v_proj.bias, [Hkv, Dh]),
          b_O: biasOr(o_proj.bias, [D]),
        };
      },
      outputKeys: (layer) => {
        const blk = llamaParams(config, (key) => key).layers[layer] as LlamaParams<string>["layers"][number];
        return { attn: blk.self_attn.o_proj.weight, mlp: blk.mlp.down_proj.weight };
      },
      mlp: (layer) => {
        const { gate_proj, up_proj, down_proj } = block(layer).mlp;
        return {
          W_in: inOut(up_proj.weight, transB), // [d_model, d_mlp]
          b_in: biasOr(up_proj.bias, [config.dMlp]),
          W_gate: inOut(gate_proj.weight, transB), // [d_model, d_mlp]
          W_out: inOut(down_proj.weight, transB), // [d_mlp, d_model]
          b_out: biasOr(down_proj.bias, [D]),
        };
      },
    },
  });
}
