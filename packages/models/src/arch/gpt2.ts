// GPT-2, read top to bottom like nanoGPT's model.py: learned positions, pre-LayerNorm blocks, fused q/k/v
// projection, causal attention, an MLP with the config's activation (gelu_new for GPT-2 itself), tied (or, when
// the config says so, separate) unembedding. Hook points follow TransformerLens.
// An attention-only config (`attn_only`, as TransformerLens calls it) drops each block's second half: no ln_2
// and no MLP in the parameter tree or the checkpoint, and, as in TransformerLens, no hook points for them nor
// hook_resid_mid (which would equal hook_resid_post): the block is resid_post = resid_pre + attn_out.
// Layer norms and attention are written in primitives (common.ts) so that every hook (ln scale, scores,
// pattern) is a real, differentiable tensor. The parameters are one typed tree named after the checkpoint keys
// (`gpt2Params`); the forward pass reads them through its context, so they can be edited and differentiated.
import { declareHooks, type ForwardContext, type ForwardOptions, maxPosition, planForward } from "@llmdbg/core";
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
  startResidual,
  type WeightSource,
} from "./common.js";

export type { WeightSource } from "./common.js";

/** `save_pretrained` writes the `transformer.` prefix (lm_head has none); OpenAI's file has none either. */
const PREFIXES = ["transformer.", ""];

/** GPT-2's parameters, named after the checkpoint keys; `L` is a tensor, or a parameter name. */
export interface Gpt2Params<L = Tensor> {
  /** [d_vocab, d_model] */
  readonly wte: L;
  /** [n_ctx, d_model] */
  readonly wpe: L;
  readonly h: readonly {
    readonly ln_1: Norm<L>;
    /** c_attn: d_model → 3·d_model (q | k | v); c_proj: d_model → d_model */
    readonly attn: { readonly c_attn: Linear<L>; readonly c_proj: Linear<L> };
    /** null in an attention-only model */
    readonly ln_2: Norm<L> | null;
    /** c_fc: d_model → d_mlp; c_proj: d_mlp → d_model; null in an attention-only model */
    readonly mlp: { readonly c_fc: Linear<L>; readonly c_proj: Linear<L> } | null;
  }[];
  readonly ln_f: Norm<L>;
  /** [d_vocab, d_model] (an nn.Linear even in Conv1D checkpoints); undefined when tied to wte */
  readonly lm_head: L | undefined;
}

/**
 * The parameter tree of a GPT-2 config, each leaf made by `leaf` from its checkpoint key, shape and kind.
 * @example gpt2Params(config, (key) => key) // the names
 */
export function gpt2Params<L>(config: ModelConfig, leaf: Leaf<L>): Gpt2Params<L> {
  const { dModel: D, dMlp: F, vocabSize: V } = config;
  const ln = (k: string): Norm<L> => ({ weight: leaf(`${k}.weight`, [D], "vector"), bias: leaf(`${k}.bias`, [D], "vector") });
  const lin = (k: string, din: number, dout: number): Linear<L> => ({
    weight: leaf(`${k}.weight`, [din, dout], "linear"),
    bias: leaf(`${k}.bias`, [dout], "vector"),
  });
  return {
    wte: leaf("wte.weight", [V, D], "table"),
    wpe: leaf("wpe.weight", [config.maxPositions, D], "table"),
    h: Array.from({ length: config.nLayers }, (_, l) => ({
      ln_1: ln(`h.${l}.ln_1`),
      attn: { c_attn: lin(`h.${l}.attn.c_attn`, D, 3 * D), c_proj: lin(`h.${l}.attn.c_proj`, D, D) },
      ln_2: config.attnOnly ? null : ln(`h.${l}.ln_2`),
      mlp: config.attnOnly ? null : { c_fc: lin(`h.${l}.mlp.c_fc`, D, F), c_proj: lin(`h.${l}.mlp.c_proj`, F, D) },
    })),
    ln_f: ln("ln_f"),
    lm_head: config.tiedEmbeddings ? undefined : leaf("lm_head.weight", [V, D], "table"),
  };
}

const { resid, perHead, scale } = AXES;

/** The hook points of a GPT-2 with `nLayers` blocks; an attention-only one has none for the MLP half. */
export function gpt2HookPoints(nLayers: number, attnOnly = false) {
  const mlpHalf = {
    hook_resid_mid: resid,
    "ln2.hook_scale": scale,
    "ln2.hook_normalized": resid,
    "mlp.hook_pre": AXES.mlp,
    "mlp.hook_post": AXES.mlp,
    hook_mlp_out: resid,
  };
  return declareHooks(nLayers, {
    before: {
      hook_embed: resid,
      hook_pos_embed: resid,
    },
    perBlock: {
      hook_resid_pre: resid,
      "ln1.hook_scale": scale,
      "ln1.hook_normalized": resid,
      "attn.hook_q": perHead,
      "attn.hook_k": perHead,
      "attn.hook_v": perHead,
      "attn.hook_attn_scores": AXES.scores,
      "attn.hook_pattern": AXES.scores,
      "attn.hook_z": perHead,
      hook_attn_out: resid,
      ...(attnOnly ? {} : mlpHalf),
      hook_resid_post: resid,
    },
    after: {
      "ln_final.hook_scale": scale,
      "ln_final.hook_normalized": resid,
      hook_logits: AXES.logits,
    },
  });
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
  attnOnly: "read",
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

/** The points inside a block, all but its two ends: a block in which none is observed may run as one program. */
const INNER_POINTS = gpt2HookPoints(1)
  .filter((p) => p.layer === 0 && p.component !== "hook_resid_pre" && p.component !== "hook_resid_post")
  .map((p) => p.component);

/**
 * A GPT-2 block as one program (T.runProgram): ln_1, the fused q/k/v projection split in three, multi-head
 * attention under the layer's mask, c_proj, the residual, ln_2, the MLP with the config's GELU, the residual —
 * the ops of the forward below, in their order. Null where the block has something a program does not express
 * (another norm or activation, no MLP).
 */
function blockProgram(config: ModelConfig, transB: boolean, shape: readonly number[]): T.Program | null {
  if (config.norm.kind !== "layernorm" || config.attnOnly) return null;
  if (config.activation !== "gelu_tanh" && config.activation !== "gelu_erf") return null;
  const eps = config.norm.eps;
  const lin = (x: string, w: string, out: string): T.ProgramStep => ({
    op: "linear",
    x,
    weight: `${w}_w`,
    bias: `${w}_b`,
    transB,
    out,
  });
  const scale = 1 / Math.sqrt(config.dHead);
  return {
    steps: [
      { op: "layerNorm", x: "x", weight: "ln1_w", bias: "ln1_b", eps, out: "a" },
      lin("a", "qkv", "qkv"),
      { op: "split", x: "qkv", outs: ["q", "k", "v"] },
      { op: "attention", q: "q", k: "k", v: "v", mask: "mask", heads: config.nHeads, scale, out: "z" },
      lin("z", "o", "attn_out"),
      { op: "add", a: "x", b: "attn_out", out: "mid" },
      { op: "layerNorm", x: "mid", weight: "ln2_w", bias: "ln2_b", eps, out: "m" },
      lin("m", "fc", "pre"),
      { op: "gelu", x: "pre", approximate: config.activation === "gelu_tanh" ? "tanh" : "none", out: "post" },
      lin("post", "proj", "mlp_out"),
      { op: "add", a: "mid", b: "mlp_out", out: "out" },
    ],
    output: "out",
    outShape: shape,
  };
}

/**
 * GPT-2's forward pass over its parameters: ids [batch, pos] → logits [batch, pos, d_vocab], reporting every
 * hook point to `ctx`.
 */
export function gpt2Forward(
  config: ModelConfig,
  p: Gpt2Params,
  ids: Tensor,
  ctx: ForwardContext,
  opts: ForwardOptions = {},
): Tensor {
  const { dModel: D, nHeads: H, dHead: Dh } = config;
  const transB = config.weightLayout === "out_in";
  const act = activations[config.activation];
  const plan = planForward(ids, opts, "gpt2");
  const { batch: B, queries: Tn } = plan;
  const last = maxPosition(plan.positions);
  if (last >= config.maxPositions)
    throw new RangeError(`gpt2: position ${last} exceeds the model's ${config.maxPositions} positions`);
  const bias = layerBias(config, plan);
  const start = startResidual(opts, config, plan);
  let x = start?.resid ?? embedTokens(); // [batch, pos, d_model]
  function embedTokens(): Tensor {
    const embed = ctx.hook("hook_embed", T.gather(p.wte, ids, 0)); // [batch, pos, d_model]
    const pos = ctx.hook("hook_pos_embed", T.gather(p.wpe, plan.positions, 0)); // [batch, pos, d_model]
    return T.add(embed, pos); // [batch, pos, d_model]
  }
  const program = plan.kvCache === undefined ? blockProgram(config, transB, [B, Tn, D]) : null;
  p.h.forEach((blk, l) => {
    if (l < (start?.layer ?? 0)) return;
    const { h, seen } = blockScope(ctx, l);
    x = h("hook_resid_pre", x); // [batch, pos, d_model]
    if (program !== null && blk.ln_2 !== null && blk.mlp !== null && !INNER_POINTS.some(seen)) {
      // nothing observes the block's inside and nothing differentiates it: the backend may run it whole
      const out = T.runProgram(program, {
        x,
        mask: bias(l),
        ln1_w: blk.ln_1.weight,
        ln1_b: blk.ln_1.bias as Tensor,
        qkv_w: blk.attn.c_attn.weight,
        qkv_b: blk.attn.c_attn.bias as Tensor,
        o_w: blk.attn.c_proj.weight,
        o_b: blk.attn.c_proj.bias as Tensor,
        ln2_w: blk.ln_2.weight,
        ln2_b: blk.ln_2.bias as Tensor,
        fc_w: blk.mlp.c_fc.weight,
        fc_b: blk.mlp.c_fc.bias as Tensor,
        proj_w: blk.mlp.c_proj.weight,
        proj_b: blk.mlp.c_proj.bias as Tensor,
      }); // [batch, pos, d_model], or null: the ops below
      if (out !== null) {
        x = h("hook_resid_post", out); // [batch, pos, d_model]
        return;
      }
    }
    const a = norm(x, blk.ln_1, config.norm, `blocks.${l}.ln1`, ctx); // [batch, pos, d_model]
    const qkv = affine(a, blk.attn.c_attn, transB); // [batch, pos, 3*d_model]
    const split = (i: number) => T.reshape(T.narrow(qkv, 2, i * D, D), [B, Tn, H, Dh]); // [batch, pos, head, d_head]
    const q = h("attn.hook_q", split(0)); // [batch, pos, head, d_head]
    const k = h("attn.hook_k", split(1)); // [batch, pos, head, d_head]
    const v = h("attn.hook_v", split(2)); // [batch, pos, head, d_head]
    const z = attend(h, seen, q, k, v, plan, l, bias(l), 1 / Math.sqrt(Dh)); // [batch, pos, head, d_head]
    const attnOut = h("hook_attn_out", affine(T.reshape(z, [B, Tn, D]), blk.attn.c_proj, transB)); // [batch, pos, d_model]
    if (blk.ln_2 === null || blk.mlp === null) {
      x = h("hook_resid_post", T.add(x, attnOut)); // [batch, pos, d_model]
      return;
    }
    const mid = h("hook_resid_mid", T.add(x, attnOut)); // [batch, pos, d_model]
    const m = norm(mid, blk.ln_2, config.norm, `blocks.${l}.ln2`, ctx); // [batch, pos, d_model]
    const pre = h("mlp.hook_pre", affine(m, blk.mlp.c_fc, transB)); // [batch, pos, d_mlp]
    const post = h("mlp.hook_post", act(pre)); // [batch, pos, d_mlp]
    const mlpOut = h("hook_mlp_out", affine(post, blk.mlp.c_proj, transB)); // [batch, pos, d_model]
    x = h("hook_resid_post", T.add(mid, mlpOut)); // [batch, pos, d_model]
  });
  const normed = norm(x, p.ln_f, config.norm, "ln_final", ctx); // [batch, pos, d_model]
  return ctx.hook("hook_logits", gpt2Unembed(p, logitRows(normed, plan))); // [batch, pos, d_vocab]
}

/** The unembedding of normalized residuals: [..., d_model] → logits [..., d_vocab]. */
function gpt2Unembed(p: Gpt2Params, normed: Tensor): Tensor {
  return T.matmul(normed, p.lm_head ?? p.wte, { transB: true }); // [..., d_vocab]
}

/**
 * Builds GPT-2 from a normalized config and its checkpoint.
 * @example const model = gpt2(normalizeHfConfig(json, "config.json"), readSafetensors("model.safetensors")); run(model, ids, { cache: true })
 */
export function gpt2(config: ModelConfig, weights: WeightSource, file = "model.safetensors"): LoadedArchitecture {
  checkConfig("gpt2", config, support);
  const { dModel: D, nHeads: H, dHead: Dh } = config;
  const params = loadParams(config, weights, file, PREFIXES, (leaf) => gpt2Params(config, leaf));
  const stored = () => gpt2Params(config, (key) => params.get(key));
  const transB = config.weightLayout === "out_in";
  return assembleModel({
    config,
    hookPoints: gpt2HookPoints(config.nLayers, config.attnOnly),
    params,
    forward: (ids, ctx, opts) =>
      gpt2Forward(
        config,
        gpt2Params(config, (key) => ctx.param(key)),
        ids,
        ctx,
        opts,
      ),
    unembed: (resid) => {
      const p = stored();
      return gpt2Unembed(p, norm(resid, p.ln_f, config.norm, "ln_final", directContext(params))); // [..., d_vocab]
    },
    weights: {
      W_E: () => params.get("wte.weight"), // [d_vocab, d_model]
      W_pos: () => params.get("wpe.weight"), // [n_ctx, d_model]
      W_U: () => {
        const s = stored();
        return T.permute(s.lm_head ?? s.wte, [1, 0]); // [d_model, d_vocab]
      },
      b_U: () => T.zeros([config.vocabSize]), // [d_vocab]: GPT-2's head has no bias
      attn: (layer) => {
        const { c_attn, c_proj } = (stored().h[layer] as Gpt2Params["h"][number]).attn;
        const w = inOut(c_attn.weight, transB); // [d_model, 3*d_model]
        const b = c_attn.bias as Tensor; // [3*d_model]
        const part = (i: number) => T.narrow(w, 1, i * D, D); // [d_model, d_model]
        const bias = (i: number) => T.reshape(T.narrow(b, 0, i * D, D), [H, Dh]); // [head, d_head]
        return {
          W_Q: headsIn(part(0), H, Dh), // [head, d_model, d_head]
          W_K: headsIn(part(1), H, Dh), // [head, d_model, d_head]
          W_V: headsIn(part(2), H, Dh), // [head, d_model, d_head]
          W_O: headsOut(inOut(c_proj.weight, transB), H, Dh), // [head, d_head, d_model]
          b_Q: bias(0),
          b_K: bias(1),
          b_V: bias(2),
          b_O: biasOr(c_proj.bias, [D]), // [d_model]
        };
      },
      outputKeys: (layer) => {
        const blk = gpt2Params(config, (key) => key).h[layer] as Gpt2Params<string>["h"][number];
        return { attn: blk.attn.c_proj.weight, mlp: blk.mlp?.c_proj.weight ?? null };
      },
      mlp: (layer) => {
        const mlp = (stored().h[layer] as Gpt2Params["h"][number]).mlp;
        if (mlp === null) return null;
        const { c_fc, c_proj } = mlp;
        return {
          W_in: inOut(c_fc.weight, transB), // [d_model, d_mlp]
          b_in: biasOr(c_fc.bias, [config.dMlp]), // [d_mlp]
          W_gate: null,
          W_out: inOut(c_proj.weight, transB), // [d_mlp, d_model]
          b_out: biasOr(c_proj.bias, [D]), // [d_model]
        };
      },
    },
  });
}
