// GPT-NeoX / Pythia, read top to bottom like transformers' modeling_gpt_neox.py: token embeddings only (no
// learned positions), pre-LayerNorm blocks, one fused q/k/v projection, rotary embeddings on the leading
// `rotaryDim` dimensions of each head, causal attention, erf-GELU MLP and an untied unembedding (`embed_out`).
// With `parallelResidual` the attention and the MLP both read the block input: x + attn(ln1(x)) + mlp(ln2(x)).
// Hook points follow TransformerLens (`hook_rot_q`/`hook_rot_k` after rotary; no `hook_resid_mid` when the
// residual is parallel, because no such sum is ever formed). The parameters are one typed tree named after the
// checkpoint keys (`gptNeoxParams`), read through the forward's context.
import { declareHooks, type ForwardContext, type ForwardOptions, planForward } from "@llmdbg/core";
import type { Axis } from "@llmdbg/protocol";
import type { Tensor } from "@llmdbg/tensor";
import * as T from "@llmdbg/tensor";
import type { ModelConfig } from "../config.js";
import {
  AXES,
  activations,
  affine,
  assembleModel,
  attend,
  biasOr,
  blockScope,
  type ConfigSupport,
  checkConfig,
  directContext,
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

/** `save_pretrained` writes the body under `gpt_neox.` and `embed_out.weight` at the top; other exporters write bare names. */
const PREFIXES = ["gpt_neox.", ""];

/** GPT-NeoX's parameters, named after the checkpoint keys; `L` is a tensor, or a parameter name. */
export interface GptNeoxParams<L = Tensor> {
  /** [d_vocab, d_model] */
  readonly embed_in: L;
  readonly layers: readonly {
    readonly input_layernorm: Norm<L>;
    /** query_key_value: d_model → 3·head·d_head in `config.qkvLayout` order; dense: head·d_head → d_model */
    readonly attention: { readonly query_key_value: Linear<L>; readonly dense: Linear<L> };
    readonly post_attention_layernorm: Norm<L>;
    /** dense_h_to_4h: d_model → d_mlp; dense_4h_to_h: d_mlp → d_model */
    readonly mlp: { readonly dense_h_to_4h: Linear<L>; readonly dense_4h_to_h: Linear<L> };
  }[];
  readonly final_layer_norm: Norm<L>;
  /** d_model → d_vocab; with tied embeddings this is embed_in itself (transformers' tie_weights) */
  readonly embed_out: L;
}

/**
 * The parameter tree of a GPT-NeoX config, each leaf made by `leaf` from its checkpoint key, shape and kind.
 * @example gptNeoxParams(config, (key) => key) // the names
 */
export function gptNeoxParams<L>(config: ModelConfig, leaf: Leaf<L>): GptNeoxParams<L> {
  const { dModel: D, nHeads: H, dHead: Dh, dMlp: M, vocabSize: V } = config;
  const ln = (k: string): Norm<L> => ({
    weight: leaf(`${k}.weight`, [D], "vector"),
    bias: config.norm.kind === "layernorm" ? leaf(`${k}.bias`, [D], "vector") : undefined,
  });
  const lin = (k: string, din: number, dout: number, bias: boolean): Linear<L> => ({
    weight: leaf(`${k}.weight`, [din, dout], "linear"),
    bias: bias ? leaf(`${k}.bias`, [dout], "vector") : undefined,
  });
  const embedIn = leaf("embed_in.weight", [V, D], "table");
  return {
    embed_in: embedIn,
    layers: Array.from({ length: config.nLayers }, (_, l) => {
      const k = `layers.${l}`;
      return {
        input_layernorm: ln(`${k}.input_layernorm`),
        attention: {
          query_key_value: lin(`${k}.attention.query_key_value`, D, 3 * H * Dh, config.qkvBias),
          dense: lin(`${k}.attention.dense`, H * Dh, D, config.oBias),
        },
        post_attention_layernorm: ln(`${k}.post_attention_layernorm`),
        mlp: {
          dense_h_to_4h: lin(`${k}.mlp.dense_h_to_4h`, D, M, config.mlpBias),
          dense_4h_to_h: lin(`${k}.mlp.dense_4h_to_h`, M, D, config.mlpBias),
        },
      };
    }),
    final_layer_norm: ln("final_layer_norm"),
    embed_out: config.tiedEmbeddings ? embedIn : leaf("embed_out.weight", [D, V], "linear"),
  };
}

const { resid, perHead, scale, mlp, scores } = AXES;

/** The hook points; `hook_resid_mid` exists only when the residual is sequential (TransformerLens never fires it otherwise). */
export function gptNeoxHookPoints(config: Pick<ModelConfig, "nLayers" | "parallelResidual">) {
  const mid: Record<string, readonly Axis[]> = config.parallelResidual ? {} : { hook_resid_mid: resid };
  return declareHooks(config.nLayers, {
    before: {
      hook_embed: resid,
    },
    perBlock: {
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
    after: {
      "ln_final.hook_scale": scale,
      "ln_final.hook_normalized": resid,
      hook_logits: AXES.logits,
    },
  });
}

/**
 * Part 0 (q), 1 (k) or 2 (v) of the fused projection's columns: x [rows, 3·head·d_head] → [rows, head, d_head].
 * The same function splits activations (rows = batch·pos) and the weight itself (rows = d_model).
 */
type QkvPart = (x: Tensor, part: 0 | 1 | 2) => Tensor;

/** How each `config.qkvLayout` orders the fused projection. */
const qkvLayouts: { readonly [L in ModelConfig["qkvLayout"]]: (c: ModelConfig) => QkvPart } = {
  // Hugging Face's query_key_value: grouped [head, (q, k, v), d_head], viewed [.., H, 3·Dh] as HF does
  fused_per_head:
    ({ nHeads: H, dHead: Dh }) =>
    (x, part) => {
      const R = x.shape[0] as number;
      return T.narrow(T.reshape(x, [R, H, 3 * Dh]), 2, part * Dh, Dh); // [rows, head, d_head]
    },
  // llama.cpp's converter regroups them to [q; k; v] (attn_qkv), each block [head, d_head]
  fused:
    ({ nHeads: H, dHead: Dh }) =>
    (x, part) => {
      const R = x.shape[0] as number;
      return T.reshape(T.narrow(x, 1, part * H * Dh, H * Dh), [R, H, Dh]); // [rows, head, d_head]
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
  dHead: (v, c) =>
    v * c.nHeads === c.dModel ? null : `GPT-NeoX heads split d_model: dHead × nHeads must be ${c.dModel}, got ${v}`,
  dMlp: "read",
  vocabSize: "read",
  maxPositions: "read",
  norm: "read",
  normPlacement: must("pre", "GPT-NeoX blocks are pre-norm"),
  activation: "read",
  gatedMlp: must(false, "GPT-NeoX's MLP is dense_4h_to_h(act(dense_h_to_4h(x))), not gated"),
  attnOnly: must(false, "GPT-NeoX has an MLP in every block; attention-only blocks are implemented for GPT-2"),
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

/**
 * The forward pass over the parameters: ids [batch, pos] → logits [batch, pos, d_vocab]. `invFreq` are the rotary
 * inverse frequencies (after the config's scaling). No position limit: transformers extends its rotary table past
 * max_position_embeddings on demand.
 */
export function gptNeoxForward(
  config: ModelConfig,
  p: GptNeoxParams,
  invFreq: Float64Array,
  ids: Tensor,
  ctx: ForwardContext,
  opts: ForwardOptions = {},
): Tensor {
  const { nHeads: H, dHead: Dh } = config;
  const pos = rotaryOf(config);
  const part = qkvLayouts[config.qkvLayout](config);
  const transB = config.weightLayout === "out_in";
  const act = activations[config.activation];
  const plan = planForward(ids, opts, "gpt_neox");
  const { batch: B, queries: Tn } = plan;
  const bias = layerBias(config, plan);
  const angles = rotaryAngles(invFreq, plan.positions); // [batch, 1, pos, rotaryDim/2] each
  const start = startResidual(opts, config, plan);
  let x = start?.resid ?? ctx.hook("hook_embed", T.gather(p.embed_in, ids, 0)); // [batch, pos, d_model]
  p.layers.forEach((blk, l) => {
    if (l < (start?.layer ?? 0)) return;
    const { h, seen } = blockScope(ctx, l);
    x = h("hook_resid_pre", x); // [batch, pos, d_model]
    const a = norm(x, blk.input_layernorm, config.norm, `blocks.${l}.ln1`, ctx); // [batch, pos, d_model]
    const qkv = T.reshape(affine(a, blk.attention.query_key_value, transB), [B * Tn, 3 * H * Dh]); // [batch*pos, 3*head*d_head]
    const split = (i: 0 | 1 | 2) => T.reshape(part(qkv, i), [B, Tn, H, Dh]); // [batch, pos, head, d_head]
    const q = h("attn.hook_q", split(0)); // [batch, pos, head, d_head]
    const k = h("attn.hook_k", split(1)); // [batch, pos, head, d_head]
    const v = h("attn.hook_v", split(2)); // [batch, pos, head, d_head]
    const rq = h("attn.hook_rot_q", rotate(q, angles, pos)); // [batch, pos, head, d_head]
    const rk = h("attn.hook_rot_k", rotate(k, angles, pos)); // [batch, pos, head, d_head]
    const z = attend(h, seen, rq, rk, v, plan, l, bias(l), 1 / Math.sqrt(Dh)); // [batch, pos, head, d_head]
    const attnOut = h("hook_attn_out", affine(T.reshape(z, [B, Tn, H * Dh]), blk.attention.dense, transB)); // [batch, pos, d_model]
    // parallel: the MLP reads the block input too, and resid_mid is never formed
    const mid = config.parallelResidual ? undefined : h("hook_resid_mid", T.add(x, attnOut)); // [batch, pos, d_model]
    const m = norm(mid ?? x, blk.post_attention_layernorm, config.norm, `blocks.${l}.ln2`, ctx); // [batch, pos, d_model]
    const pre = h("mlp.hook_pre", affine(m, blk.mlp.dense_h_to_4h, transB)); // [batch, pos, d_mlp]
    const post = h("mlp.hook_post", act(pre)); // [batch, pos, d_mlp]
    const mlpOut = h("hook_mlp_out", affine(post, blk.mlp.dense_4h_to_h, transB)); // [batch, pos, d_model]
    x = h("hook_resid_post", T.add(mid ?? T.add(x, attnOut), mlpOut)); // [batch, pos, d_model]
  });
  const normed = norm(x, p.final_layer_norm, config.norm, "ln_final", ctx); // [batch, pos, d_model]
  return ctx.hook("hook_logits", gptNeoxUnembed(config, p, logitRows(normed, plan))); // [batch, pos, d_vocab]
}

/** The unembedding of normalized residuals: [..., d_model] → logits [..., d_vocab]. */
function gptNeoxUnembed(config: ModelConfig, p: GptNeoxParams, normed: Tensor): Tensor {
  return config.tiedEmbeddings
    ? T.matmul(normed, p.embed_out, { transB: true }) // [..., d_vocab]
    : affine(normed, { weight: p.embed_out, bias: undefined }, config.weightLayout === "out_in"); // [..., d_vocab]
}

/**
 * Builds GPT-NeoX (Pythia) from a normalized config and its checkpoint (Hugging Face names; a GGUF file through
 * a renaming WeightSource, with `qkvLayout: "fused"`).
 * @example const model = gptNeox(normalizeHfConfig(json, "config.json"), readSafetensors("model.safetensors")); run(model, ids, { cache: true })
 */
export function gptNeox(config: ModelConfig, weights: WeightSource, file = "model.safetensors"): LoadedArchitecture {
  checkConfig("gpt_neox", config, support);
  const { dModel: D, nHeads: H, dHead: Dh } = config;
  const params = loadParams(config, weights, file, PREFIXES, (leaf) => gptNeoxParams(config, leaf));
  const invFreq = rotaryFrequencies(config, weights, file, PREFIXES); // [rotaryDim/2]
  const part = qkvLayouts[config.qkvLayout](config);
  const stored = () => gptNeoxParams(config, (key) => params.get(key));
  const transB = config.weightLayout === "out_in";
  const block = (layer: number) => stored().layers[layer] as GptNeoxParams["layers"][number];
  return assembleModel({
    config,
    hookPoints: gptNeoxHookPoints(config),
    params,
    forward: (ids, ctx, opts) =>
      gptNeoxForward(
        config,
        gptNeoxParams(config, (key) => ctx.param(key)),
        invFreq,
        ids,
        ctx,
        opts,
      ),
    unembed: (resid) => {
      const p = stored();
      return gptNeoxUnembed(config, p, norm(resid, p.final_layer_norm, config.norm, "ln_final", directContext(params))); // [..., d_vocab]
    },
    weights: {
      W_E: () => params.get("embed_in.weight"), // [d_vocab, d_model]
      W_pos: () => null,
      W_U: () => {
        const out = stored().embed_out;
        return config.tiedEmbeddings ? T.permute(out, [1, 0]) : inOut(out, transB); // [d_model, d_vocab]
      },
      b_U: () => T.zeros([config.vocabSize]), // [d_vocab]
      attn: (layer) => {
        const { query_key_value: qkv, dense } = block(layer).attention;
        const w = inOut(qkv.weight, transB); // [d_model, 3*head*d_head]
        const weight = (i: 0 | 1 | 2) => T.permute(part(w, i), [1, 0, 2]); // [head, d_model, d_head]
        const b = qkv.bias === undefined ? undefined : T.reshape(qkv.bias, [1, 3 * H * Dh]); // [1, 3*head*d_head]
        const bias = (i: 0 | 1 | 2) => (b === undefined ? T.zeros([H, Dh]) : T.reshape(part(b, i), [H, Dh])); // [head, d_head]
        return {
          W_Q: weight(0),
          W_K: weight(1),
          W_V: weight(2),
          W_O: headsOut(inOut(dense.weight, transB), H, Dh), // [head, d_head, d_model]
          b_Q: bias(0),
          b_K: bias(1),
          b_V: bias(2),
          b_O: biasOr(dense.bias, [D]),
        };
      },
      outputKeys: (layer) => {
        const blk = gptNeoxParams(config, (key) => key).layers[layer] as GptNeoxParams<string>["layers"][number];
        return { attn: blk.attention.dense.weight, mlp: blk.mlp.dense_4h_to_h.weight };
      },
      mlp: (layer) => {
        const { dense_h_to_4h: up, dense_4h_to_h: down } = block(layer).mlp;
        return {
          W_in: inOut(up.weight, transB), // [d_model, d_mlp]
          b_in: biasOr(up.bias, [config.dMlp]),
          W_gate: null,
          W_out: inOut(down.weight, transB), // [d_mlp, d_model]
          b_out: biasOr(down.bias, [D]),
        };
      },
    },
  });
}
