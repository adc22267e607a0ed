// BERT and RoBERTa, read top to bottom like transformers' modeling_bert.py: word + position + token-type
// embeddings and a LayerNorm, then post-LayerNorm blocks (x = LN(x + attn(x)), x = LN(x + mlp(x))) whose
// attention is bidirectional, then the head the checkpoint carries. RoBERTa differs only in data: positions
// numbered after pad_token_id (ModelConfig.positionOffset), `roberta.` tensor names and its own head names.
// Hook points follow TransformerLens's HookedEncoder (BertEmbed, BertBlock, BertMLMHead, BertPooler). The
// parameters are one typed tree named after the checkpoint keys (`bertParams`), read through the forward's context.
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
  checkpoint,
  directContext,
  headsIn,
  headsOut,
  inOut,
  type LayoutEntry,
  type Leaf,
  type Linear,
  type LoadedArchitecture,
  layerBias,
  layoutOf,
  linear,
  loadParams,
  logitRows,
  must,
  type Norm,
  norm,
  startResidual,
  type WeightSource,
} from "./common.js";

export type { WeightSource } from "./common.js";

/** `save_pretrained` writes `bert.` / `roberta.` before the encoder and nothing before the heads; a bare BertModel has no prefix. */
const PREFIXES = ["bert.", "roberta.", ""];

/**
 * Sequence-classification heads, told apart by their output tensor. Both are dense + tanh on the first token
 * and a linear layer: BERT's pooler then `classifier`, RoBERTa's RobertaClassificationHead.
 */
const CLASSIFIERS = [
  { dense: "pooler.dense", out: "classifier" },
  { dense: "classifier.dense", out: "classifier.out_proj" },
] as const;

/**
 * Masked-LM heads, told apart by their dense layer: dense, activation, LayerNorm, decoder (tied to the word
 * embeddings unless the config unties them) plus a bias. RobertaLMHead calls erf GELU whatever hidden_act says.
 */
const MLM_HEADS = [
  {
    dense: "cls.predictions.transform.dense",
    ln: "cls.predictions.transform.LayerNorm",
    decoder: "cls.predictions.decoder",
    bias: "cls.predictions.bias",
    activation: null,
  },
  { dense: "lm_head.dense", ln: "lm_head.layer_norm", decoder: "lm_head.decoder", bias: "lm_head.bias", activation: "gelu_erf" },
] as const;

/** Which head a checkpoint carries, and under which keys (found by probing it before the tree is built). */
export type BertHeadKeys =
  | { readonly kind: "classifier"; readonly dense: string; readonly out: string }
  | {
      readonly kind: "mlm";
      readonly dense: string;
      readonly ln: string;
      readonly decoder: string;
      /** the bias's key: `cls.predictions.bias` / `lm_head.bias`, or the decoder's own bias */
      readonly bias: string;
      readonly activation: "gelu_erf" | null;
    }
  | { readonly kind: "none" };

/** A BERT or RoBERTa encoder's parameters, named after the checkpoint keys; `L` is a tensor, or a parameter name. */
export interface BertParams<L = Tensor> {
  readonly embeddings: {
    /** [d_vocab, d_model] */
    readonly word_embeddings: L;
    /** [n_ctx + positionOffset, d_model] */
    readonly position_embeddings: L;
    /** [n_types, d_model] */
    readonly token_type_embeddings: L;
    readonly LayerNorm: Norm<L>;
  };
  readonly layer: readonly {
    readonly attention: {
      readonly self: { readonly query: Linear<L>; readonly key: Linear<L>; readonly value: Linear<L> };
      readonly output: { readonly dense: Linear<L>; readonly LayerNorm: Norm<L> };
    };
    readonly intermediate: { readonly dense: Linear<L> };
    readonly output: { readonly dense: Linear<L>; readonly LayerNorm: Norm<L> };
  }[];
  /** dense (d_model → d_model, tanh, on the first token) and out (d_model → n_labels) */
  readonly classifier: { readonly dense: Linear<L>; readonly out: Linear<L> } | undefined;
  /** dense, LayerNorm, decoder [d_vocab, d_model] (the word embeddings when tied) and its bias [d_vocab] */
  readonly mlm: { readonly dense: Linear<L>; readonly ln: Norm<L>; readonly decoder: L; readonly bias: L } | undefined;
}

/**
 * The parameter tree of a BERT/RoBERTa config with the head `heads` names, each leaf made by `leaf` from its
 * checkpoint key, shape and kind.
 * @example bertParams(config, { kind: "none" }, (key) => key) // the names
 */
export function bertParams<L>(config: ModelConfig, heads: BertHeadKeys, leaf: Leaf<L>): BertParams<L> {
  const { dModel: D, nHeads: H, dHead: Dh, dMlp: M, vocabSize: V } = config;
  const ln = (k: string): Norm<L> => ({ weight: leaf(`${k}.weight`, [D], "vector"), bias: leaf(`${k}.bias`, [D], "vector") });
  const lin = (k: string, din: number, dout: number): Linear<L> => ({
    weight: leaf(`${k}.weight`, [din, dout], "linear"),
    bias: leaf(`${k}.bias`, [dout], "vector"),
  });
  const word = leaf("embeddings.word_embeddings.weight", [V, D], "table");
  return {
    embeddings: {
      word_embeddings: word,
      position_embeddings: leaf(
        "embeddings.position_embeddings.weight",
        [config.maxPositions + config.positionOffset, D],
        "table",
      ),
      token_type_embeddings: leaf("embeddings.token_type_embeddings.weight", [config.typeVocabSize, D], "table"),
      LayerNorm: ln("embeddings.LayerNorm"),
    },
    layer: Array.from({ length: config.nLayers }, (_, l) => {
      const k = `encoder.layer.${l}`;
      return {
        attention: {
          self: {
            query: lin(`${k}.attention.self.query`, D, H * Dh),
            key: lin(`${k}.attention.self.key`, D, H * Dh),
            value: lin(`${k}.attention.self.value`, D, H * Dh),
          },
          output: { dense: lin(`${k}.attention.output.dense`, H * Dh, D), LayerNorm: ln(`${k}.attention.output.LayerNorm`) },
        },
        intermediate: { dense: lin(`${k}.intermediate.dense`, D, M) },
        output: { dense: lin(`${k}.output.dense`, M, D), LayerNorm: ln(`${k}.output.LayerNorm`) },
      };
    }),
    classifier:
      heads.kind === "classifier"
        ? { dense: lin(heads.dense, D, D), out: lin(heads.out, D, config.classifier?.labels.length ?? 0) }
        : undefined,
    mlm:
      heads.kind === "mlm"
        ? {
            dense: lin(heads.dense, D, D),
            ln: ln(heads.ln),
            // tied: HF overwrites the decoder with the word embeddings on load, whatever the file holds
            decoder: config.tiedEmbeddings ? word : leaf(`${heads.decoder}.weight`, [D, V], "linear"),
            bias: leaf(heads.bias, [V], "vector"),
          }
        : undefined,
  };
}

/** What the forward pass returns: class logits, masked-LM logits, or (a bare encoder) the last hidden states. */
export type BertHead = BertHeadKeys["kind"];

const { resid, scale, perHead } = AXES;

/** The hook points of an `nLayers` encoder with `head` (TransformerLens's HookedEncoder names). */
export function bertHookPoints(nLayers: number, head: BertHead) {
  return declareHooks(nLayers, {
    before: {
      "embed.hook_embed": resid,
      "embed.hook_pos_embed": resid,
      "embed.hook_token_type_embed": resid,
      "embed.ln.hook_scale": scale,
      "embed.ln.hook_normalized": resid,
      hook_full_embed: resid,
    },
    perBlock: {
      hook_resid_pre: resid,
      "attn.hook_q": perHead,
      "attn.hook_k": perHead,
      "attn.hook_v": perHead,
      "attn.hook_attn_scores": AXES.scores,
      "attn.hook_pattern": AXES.scores,
      "attn.hook_z": perHead,
      hook_attn_out: resid,
      hook_resid_mid: resid,
      "ln1.hook_scale": scale,
      "ln1.hook_normalized": resid,
      "mlp.hook_pre": AXES.mlp,
      "mlp.hook_post": AXES.mlp,
      hook_mlp_out: resid,
      // TransformerLens: resid_post = ln1 output + mlp_out, before ln2; the block's output is ln2's
      hook_resid_post: resid,
      "ln2.hook_scale": scale,
      "ln2.hook_normalized": resid,
      hook_normalized_resid_post: resid,
    },
    after: {
      ...(head === "classifier" && { "pooler.hook_pooler_out": ["batch", "d_model"] as const }),
      ...(head === "mlm" && { "mlm_head.ln.hook_scale": scale, "mlm_head.ln.hook_normalized": resid }),
      // what forward returns: class logits, masked-LM logits, or (no head) the final hidden states
      hook_logits: head === "classifier" ? (["batch", "label"] as const) : head === "mlm" ? AXES.logits : resid,
    },
  });
}

/**
 * The row of the position table each token reads [batch, pos] i32. Given `positions` p read row
 * p + positionOffset. Otherwise as transformers numbers them: BERT by index (padding included, so right
 * padding leaves the real tokens' rows alone); with an offset (RoBERTa, fairseq's make_positions) from the ids,
 * not the attention mask: a token that is not pad_token_id reads offset + (non-pad tokens before it), a pad
 * token row offset − 1 (padding_idx). Either way a right-padded row's real tokens read what they read alone.
 */
function positionRows(ids: Tensor, given: Tensor | undefined, config: ModelConfig): Tensor {
  const [B, P] = ids.shape as [number, number];
  const off = config.positionOffset;
  const out = new Int32Array(B * P); // [batch, pos]
  const src = ids.data;
  const pad = config.padTokenId;
  for (let b = 0; b < B; b++) {
    let seen = 0;
    for (let i = 0; i < P; i++) {
      const r = b * P + i;
      if (given !== undefined) out[r] = (given.data[r] as number) + off;
      else if (off > 0 && pad !== null) out[r] = src[r] === pad ? off - 1 : off + seen++;
      else out[r] = i;
    }
  }
  const rows = config.maxPositions + off;
  for (const r of out) {
    if (r < 0 || r >= rows)
      throw new RangeError(`bert: position ${r - off} outside the model's ${config.maxPositions} positions (offset ${off})`);
  }
  return T.fromTyped(out, [B, P], "i32");
}

/** The segment ids [batch, pos] i32, checked against the token-type table; zeros when not given. */
function tokenTypes(given: Tensor | undefined, B: number, P: number, typeVocabSize: number): Tensor {
  if (given === undefined) return T.fromTyped(new Int32Array(B * P), [B, P], "i32");
  if (given.dtype !== "i32" || given.shape.join() !== [B, P].join())
    throw new T.ShapeError(`bert: tokenTypeIds must be i32 [${B}, ${P}], got ${given.dtype} [${given.shape.join(",")}]`);
  for (const t of given.data as Int32Array) {
    if (t < 0 || t >= typeVocabSize) throw new RangeError(`bert: token type id ${t} outside [0, ${typeVocabSize})`);
  }
  return given;
}

/** The config fields BERT/RoBERTa honour, and what they refuse. */
const support: ConfigSupport = {
  family: "read",
  source: "read",
  dModel: "read",
  nLayers: "read",
  nHeads: "read",
  nKvHeads: (v, c) => (v === c.nHeads ? null : `BERT has as many key/value heads as heads (${c.nHeads}), got ${v}`),
  dHead: (v, c) => (v * c.nHeads === c.dModel ? null : `BERT heads split d_model: dHead × nHeads must be ${c.dModel}, got ${v}`),
  dMlp: "read",
  vocabSize: "read",
  maxPositions: "read",
  norm: (v) => (v.kind === "layernorm" ? null : `BERT uses LayerNorm, got ${v.kind}`),
  normPlacement: must("post", "BERT blocks are post-norm"),
  activation: "read",
  gatedMlp: must(false, "BERT's MLP is output(act(intermediate(x))), not gated"),
  attnOnly: must(false, "BERT has an MLP in every layer; attention-only blocks are implemented for GPT-2"),
  positional: (v) => (v.kind === "learned" ? null : `BERT has learned positions, got ${v.kind}`),
  parallelResidual: must(false, "BERT blocks are sequential"),
  causal: "read",
  qkvBias: must(true, "BERT's query, key and value have biases"),
  oBias: must(true, "BERT's attention output has a bias"),
  mlpBias: must(true, "BERT's MLP projections have biases"),
  typeVocabSize: "read",
  positionOffset: "read",
  qkvLayout: must("separate", "BERT reads separate query, key and value"),
  classifier: "read",
  tiedEmbeddings: "read",
  weightLayout: "read",
  bosTokenId: "read",
  eosTokenIds: "read",
  padTokenId: "read",
  slidingWindow: "read",
};

/** The head the checkpoint carries: a classifier when the config has labels, else an MLM head if its dense layer is there. */
function findHead(config: ModelConfig, weights: WeightSource, file: string): BertHeadKeys {
  const ck = checkpoint(config, weights, file, PREFIXES);
  const D = config.dModel;
  if (config.classifier !== null) {
    const n = config.classifier.labels.length;
    const [bertKeys, ...others] = CLASSIFIERS;
    const k = others.find((o) => ck.maybe(`${o.out}.weight`, [D, n]) !== undefined) ?? bertKeys;
    return { kind: "classifier", dense: k.dense, out: k.out };
  }
  const m = MLM_HEADS.find((k) => ck.maybe(`${k.dense}.weight`, [D, D]) !== undefined);
  if (m === undefined) return { kind: "none" };
  const bias = ck.maybe(m.bias, [config.vocabSize]) !== undefined ? m.bias : `${m.decoder}.bias`;
  return { kind: "mlm", dense: m.dense, ln: m.ln, decoder: m.decoder, bias, activation: m.activation };
}

/** Google's TensorFlow checkpoints name LayerNorm parameters gamma and beta (transformers renames them on load). */
function tfAlias(key: string): string | undefined {
  if (key.endsWith("LayerNorm.weight")) return `${key.slice(0, -"weight".length)}gamma`;
  if (key.endsWith("LayerNorm.bias")) return `${key.slice(0, -"bias".length)}beta`;
  return undefined;
}

/**
 * The encoder over its parameters: ids [batch, pos] → class logits [batch, n_labels], masked-LM logits
 * [batch, pos, d_vocab], or the last hidden states [batch, pos, d_model], as `heads` says.
 */
export function bertForward(
  config: ModelConfig,
  heads: BertHeadKeys,
  p: BertParams,
  ids: Tensor,
  ctx: ForwardContext,
  opts: ForwardOptions = {},
): Tensor {
  const { dModel: D, nHeads: H, dHead: Dh } = config;
  const transB = config.weightLayout === "out_in";
  const act = activations[config.activation];
  const plan = planForward(ids, opts, "bert");
  if (plan.kvCache !== undefined) throw new Error("bert: an encoder takes no KV cache (every position attends to every other)");
  const { batch: B, queries: Tn } = plan;
  const rows = positionRows(ids, opts.positions, config); // [batch, pos]
  const types = tokenTypes(opts.tokenTypeIds, B, Tn, config.typeVocabSize); // [batch, pos]
  const bias = layerBias(config, plan); // not causal: only padding keys are hidden
  const start = startResidual(opts, config, plan);
  let x = start?.resid ?? embedTokens(); // [batch, pos, d_model]
  function embedTokens(): Tensor {
    const e = p.embeddings;
    const embed = ctx.hook("embed.hook_embed", T.gather(e.word_embeddings, ids, 0)); // [batch, pos, d_model]
    const pos = ctx.hook("embed.hook_pos_embed", T.gather(e.position_embeddings, rows, 0)); // [batch, pos, d_model]
    const type = ctx.hook("embed.hook_token_type_embed", T.gather(e.token_type_embeddings, types, 0)); // [batch, pos, d_model]
    const summed = T.add(T.add(embed, type), pos); // [batch, pos, d_model]
    return ctx.hook("hook_full_embed", norm(summed, e.LayerNorm, config.norm, "embed.ln", ctx)); // [batch, pos, d_model]
  }
  p.layer.forEach((blk, l) => {
    if (l < (start?.layer ?? 0)) return;
    const { h, seen } = blockScope(ctx, l);
    const { query, key, value } = blk.attention.self;
    x = h("hook_resid_pre", x); // [batch, pos, d_model]
    const [qa, ka, va] = affines(x, [query, key, value], transB) as [Tensor, Tensor, Tensor]; // [batch, pos, head·d_head]
    const q = h("attn.hook_q", T.reshape(qa, [B, Tn, H, Dh])); // [batch, pos, head, d_head]
    const k = h("attn.hook_k", T.reshape(ka, [B, Tn, H, Dh])); // [batch, pos, head, d_head]
    const v = h("attn.hook_v", T.reshape(va, [B, Tn, H, Dh])); // [batch, pos, head, d_head]
    const z = attend(h, seen, q, k, v, plan, l, bias(l), 1 / Math.sqrt(Dh)); // [batch, pos, head, d_head]
    const attnOut = h("hook_attn_out", affine(T.reshape(z, [B, Tn, H * Dh]), blk.attention.output.dense, transB)); // [batch, pos, d_model]
    const mid = h("hook_resid_mid", T.add(x, attnOut)); // [batch, pos, d_model]
    const a = norm(mid, blk.attention.output.LayerNorm, config.norm, `blocks.${l}.ln1`, ctx); // [batch, pos, d_model]
    const pre = h("mlp.hook_pre", affine(a, blk.intermediate.dense, transB)); // [batch, pos, d_mlp]
    const post = h("mlp.hook_post", act(pre)); // [batch, pos, d_mlp]
    const mlpOut = h("hook_mlp_out", affine(post, blk.output.dense, transB)); // [batch, pos, d_model]
    const sum = h("hook_resid_post", T.add(a, mlpOut)); // [batch, pos, d_model]
    x = h("hook_normalized_resid_post", norm(sum, blk.output.LayerNorm, config.norm, `blocks.${l}.ln2`, ctx)); // [batch, pos, d_model]
  });
  if (p.classifier !== undefined) {
    const first = T.reshape(T.narrow(x, 1, 0, 1), [B, D]); // [batch, d_model]
    const pooled = ctx.hook("pooler.hook_pooler_out", T.tanh(affine(first, p.classifier.dense, transB))); // [batch, d_model]
    return ctx.hook("hook_logits", affine(pooled, p.classifier.out, transB)); // [batch, n_labels]
  }
  if (p.mlm === undefined) return ctx.hook("hook_logits", logitRows(x, plan)); // [batch, pos or 1, d_model]
  return ctx.hook("hook_logits", mlmHead(config, heads, p, logitRows(x, plan), ctx)); // [batch, pos or 1, d_vocab]
}

/** The masked-LM head: dense, activation, LayerNorm, decoder + bias; x [..., d_model] → [..., d_vocab]. */
function mlmHead(config: ModelConfig, heads: BertHeadKeys, p: BertParams, x: Tensor, ctx: ForwardContext): Tensor {
  const mlm = p.mlm;
  if (mlm === undefined || heads.kind !== "mlm")
    throw new Error("bert: this checkpoint has no masked-LM head, so no unembedding");
  const transB = config.weightLayout === "out_in";
  const act = activations[heads.activation ?? config.activation];
  const t = act(affine(x, mlm.dense, transB)); // [..., d_model]
  const n = norm(t, mlm.ln, config.norm, "mlm_head.ln", ctx); // [..., d_model]
  return linear(n, mlm.decoder, mlm.bias, config.tiedEmbeddings || transB); // [..., d_vocab]
}

/** A BERT/RoBERTa model: with the head its forward returns. */
export type BertModel = LoadedArchitecture & {
  /** what forward returns: "classifier" [batch, n_labels], "mlm" [batch, pos, d_vocab], "none" [batch, pos, d_model] */
  readonly head: BertHead;
};

/**
 * Builds a BERT or RoBERTa encoder from a normalized config and its checkpoint. The output follows the head:
 * with `config.classifier`, class logits [batch, n_labels] from the first token ([CLS] / <s>) — a
 * `*ForSequenceClassification` checkpoint; else masked-LM logits [batch, pos, d_vocab] when the checkpoint has
 * an MLM head (`*ForMaskedLM`, `BertForPreTraining`); else the last hidden states [batch, pos, d_model].
 * Token types come from `tokenTypeIds` in the run options (default 0). Right-pad batches, with an attentionMask.
 * @example const model = bert(normalizeHfConfig(json, "config.json"), readSafetensors("model.safetensors")); run(model, ids, { attentionMask })
 */
export function bert(config: ModelConfig, weights: WeightSource, file = "model.safetensors"): BertModel {
  checkConfig("bert", config, support);
  const { dModel: D, nHeads: H, dHead: Dh } = config;
  const heads = findHead(config, weights, file);
  const params = loadParams(config, weights, file, PREFIXES, (leaf) => bertParams(config, heads, leaf), tfAlias);
  const stored = () => bertParams(config, heads, (key) => params.get(key));
  const transB = config.weightLayout === "out_in";
  const block = (layer: number) => stored().layer[layer] as BertParams["layer"][number];
  const mlmOf = () => {
    const m = stored().mlm;
    if (m === undefined) throw new Error("bert: this checkpoint has no masked-LM head, so no unembedding");
    return m;
  };
  return assembleModel({
    config,
    hookPoints: bertHookPoints(config.nLayers, heads.kind),
    params,
    forward: (ids, ctx, opts) =>
      bertForward(
        config,
        heads,
        bertParams(config, heads, (key) => ctx.param(key)),
        ids,
        ctx,
        opts,
      ),
    unembed: (resid) => mlmHead(config, heads, stored(), resid, directContext(params)),
    weights: {
      W_E: () => params.get("embeddings.word_embeddings.weight"), // [d_vocab, d_model]
      W_pos: () => params.get("embeddings.position_embeddings.weight"), // [n_ctx + offset, d_model]
      W_U: () => {
        const d = mlmOf().decoder;
        return config.tiedEmbeddings ? T.permute(d, [1, 0]) : inOut(d, transB); // [d_model, d_vocab]
      },
      b_U: () => mlmOf().bias, // [d_vocab]
      attn: (layer) => {
        const { self, output } = block(layer).attention;
        return {
          W_Q: headsIn(inOut(self.query.weight, transB), H, Dh), // [head, d_model, d_head]
          W_K: headsIn(inOut(self.key.weight, transB), H, Dh),
          W_V: headsIn(inOut(self.value.weight, transB), H, Dh),
          W_O: headsOut(inOut(output.dense.weight, transB), H, Dh), // [head, d_head, d_model]
          b_Q: biasOr(self.query.bias, [H, Dh]),
          b_K: biasOr(self.key.bias, [H, Dh]),
          b_V: biasOr(self.value.bias, [H, Dh]),
          b_O: biasOr(output.dense.bias, [D]),
        };
      },
      outputKeys: (layer) => {
        const blk = bertParams(config, heads, (key) => key).layer[layer] as BertParams<string>["layer"][number];
        return { attn: blk.attention.output.dense.weight, mlp: blk.output.dense.weight };
      },
      mlp: (layer) => {
        const b = block(layer);
        return {
          W_in: inOut(b.intermediate.dense.weight, transB), // [d_model, d_mlp]
          b_in: biasOr(b.intermediate.dense.bias, [config.dMlp]),
          W_gate: null,
          W_out: inOut(b.output.dense.weight, transB), // [d_mlp, d_model]
          b_out: biasOr(b.output.dense.bias, [D]),
        };
      },
    },
    extra: { head: heads.kind },
  });
}

/**
 * The tensors a fresh checkpoint of `config` stores (for initModel): the sequence classifier (pooler +
 * `classifier`) when the config has labels, else the masked-LM head, named as BertFor…/RobertaFor… save them.
 */
export function bertLayout(config: ModelConfig): LayoutEntry[] {
  const roberta = config.source.format === "hf" && config.source.modelType === "roberta";
  const [bertClassifier, robertaClassifier] = CLASSIFIERS;
  const [bertMlm, robertaMlm] = MLM_HEADS;
  const c = roberta ? robertaClassifier : bertClassifier;
  const m = roberta ? robertaMlm : bertMlm;
  const heads: BertHeadKeys =
    config.classifier !== null
      ? { kind: "classifier", dense: c.dense, out: c.out }
      : { kind: "mlm", dense: m.dense, ln: m.ln, decoder: m.decoder, bias: m.bias, activation: m.activation };
  const base = roberta ? "roberta." : "bert.";
  // the heads live beside the base model: `classifier.*`, `cls.*`, `lm_head.*`; RoBERTa's pooler is not stored
  const bare = /^(classifier|cls|lm_head)\./;
  return layoutOf(
    config,
    (leaf) => bertParams(config, heads, leaf),
    (k) => (bare.test(k) ? k : base + k),
  );
}
