// BERT and RoBERTa, read top to bottom like transformers' modeling_bert.py: word + position + token-type
// embeddings and a LayerNorm, then post-LayerNorm blocks (x = LN(x + attn(x)), x = LN(x + mlp(x))) whose
// attention is bidirectional, then the head the checkpoint carries. RoBERTa differs only in data: positions
// numbered after pad_token_id (ModelConfig.positionOffset), `roberta.` tensor names and its own head names.
// Hook points follow TransformerLens's HookedEncoder (BertEmbed, BertBlock, BertMLMHead, BertPooler).
import { declareHooks, type ForwardOptions, type HookContext, type HookedModel, planForward } from "@llmdbg/core";
import type { Tensor } from "@llmdbg/tensor";
import * as T from "@llmdbg/tensor";
import type { ModelConfig } from "../config.js";
import {
  activations,
  attend,
  type Checkpoint,
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

/**
 * The checkpoint keys, in one place. `save_pretrained` writes `bert.` / `roberta.` before the encoder and
 * nothing before the heads; a bare BertModel has no prefix at all.
 */
const keys = {
  prefixes: ["bert.", "roberta.", ""],
  word: "embeddings.word_embeddings.weight",
  position: "embeddings.position_embeddings.weight",
  tokenType: "embeddings.token_type_embeddings.weight",
  embedLn: "embeddings.LayerNorm",
  block: (l: number) => ({
    q: `encoder.layer.${l}.attention.self.query`,
    k: `encoder.layer.${l}.attention.self.key`,
    v: `encoder.layer.${l}.attention.self.value`,
    o: `encoder.layer.${l}.attention.output.dense`,
    ln1: `encoder.layer.${l}.attention.output.LayerNorm`,
    up: `encoder.layer.${l}.intermediate.dense`,
    down: `encoder.layer.${l}.output.dense`,
    ln2: `encoder.layer.${l}.output.LayerNorm`,
  }),
  /**
   * Sequence-classification heads, told apart by their output tensor. Both are dense + tanh on the first
   * token and a linear layer: BERT's pooler then `classifier`, RoBERTa's RobertaClassificationHead.
   */
  classifiers: [
    { dense: "pooler.dense", out: "classifier" },
    { dense: "classifier.dense", out: "classifier.out_proj" },
  ] as const,
  /**
   * Masked-LM heads, told apart by their dense layer: dense, activation, LayerNorm, decoder (tied to the word
   * embeddings unless the config unties them) plus a bias. RobertaLMHead calls erf GELU whatever hidden_act says.
   */
  mlmHeads: [
    {
      dense: "cls.predictions.transform.dense",
      ln: "cls.predictions.transform.LayerNorm",
      decoder: "cls.predictions.decoder",
      bias: "cls.predictions.bias",
      activation: null,
    },
    {
      dense: "lm_head.dense",
      ln: "lm_head.layer_norm",
      decoder: "lm_head.decoder",
      bias: "lm_head.bias",
      activation: "gelu_erf",
    },
  ] as const,
};

/** What the forward pass returns: class logits, masked-LM logits, or (a bare encoder) the last hidden states. */
export type BertHead = "classifier" | "mlm" | "none";

const resid = ["batch", "pos", "d_model"] as const;
const scale = ["batch", "pos", "one"] as const; // sqrt(var + eps) per position, [batch, pos, 1]
const perHead = ["batch", "pos", "head", "d_head"] as const;

/** The hook points of an `nLayers` encoder with `head` (TransformerLens's HookedEncoder names). */
export function bertHookPoints(nLayers: number, head: BertHead) {
  return declareHooks(
    nLayers,
    {
      "embed.hook_embed": resid,
      "embed.hook_pos_embed": resid,
      "embed.hook_token_type_embed": resid,
      "embed.ln.hook_scale": scale,
      "embed.ln.hook_normalized": resid,
      hook_full_embed: resid,
      ...(head === "classifier" && { "pooler.hook_pooler_out": ["batch", "d_model"] as const }),
      ...(head === "mlm" && { "mlm_head.ln.hook_scale": scale, "mlm_head.ln.hook_normalized": resid }),
      // what forward returns: class logits, masked-LM logits, or (no head) the final hidden states
      hook_logits:
        head === "classifier" ? (["batch", "label"] as const) : head === "mlm" ? (["batch", "pos", "d_vocab"] as const) : resid,
    },
    {
      hook_resid_pre: resid,
      "attn.hook_q": perHead,
      "attn.hook_k": perHead,
      "attn.hook_v": perHead,
      "attn.hook_attn_scores": ["batch", "head", "query_pos", "key_pos"],
      "attn.hook_pattern": ["batch", "head", "query_pos", "key_pos"],
      "attn.hook_z": perHead,
      hook_attn_out: resid,
      hook_resid_mid: resid,
      "ln1.hook_scale": scale,
      "ln1.hook_normalized": resid,
      "mlp.hook_pre": ["batch", "pos", "d_mlp"],
      "mlp.hook_post": ["batch", "pos", "d_mlp"],
      hook_mlp_out: resid,
      // TransformerLens: resid_post = ln1 output + mlp_out, before ln2; the block's output is ln2's
      hook_resid_post: resid,
      "ln2.hook_scale": scale,
      "ln2.hook_normalized": resid,
      hook_normalized_resid_post: resid,
    },
  );
}

export interface BertModel extends HookedModel {
  readonly config: ModelConfig;
  /** what forward returns: "classifier" [batch, n_labels], "mlm" [batch, pos, d_vocab], "none" [batch, pos, d_model] */
  readonly head: BertHead;
}

/** a linear layer's or a LayerNorm's weight and bias */
type Params = { w: Tensor; b: Tensor };

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

/** The classification head the checkpoint has (found by its output tensor), or a ModelFormatError naming BERT's. */
function classifierHead(ck: Checkpoint, D: number, nLabels: number): { dense: Params; out: Params } {
  const [bertKeys, ...others] = keys.classifiers;
  const k = others.find((o) => ck.maybe(`${o.out}.weight`, [D, nLabels]) !== undefined) ?? bertKeys;
  const out = { w: ck.get(`${k.out}.weight`, [D, nLabels]), b: ck.get(`${k.out}.bias`, [nLabels]) };
  return { dense: { w: ck.get(`${k.dense}.weight`, [D, D]), b: ck.get(`${k.dense}.bias`, [D]) }, out };
}

/** The config fields BERT/RoBERTa honour, and what they refuse. */
const support: ConfigSupport = {
  family: "read",
  source: "read",
  dModel: "read",
  nLayers: "read",
  nHeads: "read",
  nKvHeads: (v, c) => (v === c.nHeads ? null : `BERT has as many key/value heads as heads (${c.nHeads}), got ${v}`),
  dHead: "read",
  dMlp: "read",
  vocabSize: "read",
  maxPositions: "read",
  norm: (v) => (v.kind === "layernorm" ? null : `BERT uses LayerNorm, got ${v.kind}`),
  normPlacement: must("post", "BERT blocks are post-norm"),
  activation: "read",
  gatedMlp: must(false, "BERT's MLP is output(act(intermediate(x))), not gated"),
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
  const { dModel: D, nHeads: H, dHead: Dh, nLayers, vocabSize: V } = config;
  const ck = checkpoint(config, weights, file, keys.prefixes);
  // Google's TensorFlow checkpoints name LayerNorm parameters gamma and beta (transformers renames them on load)
  const ln = (prefix: string): Params => ({
    w: ck.maybe(`${prefix}.gamma`, [D]) ?? ck.get(`${prefix}.weight`, [D]),
    b: ck.maybe(`${prefix}.beta`, [D]) ?? ck.get(`${prefix}.bias`, [D]),
  });
  const lin = (prefix: string, din: number, dout: number): Params => ({
    w: ck.get(`${prefix}.weight`, [din, dout]),
    b: ck.get(`${prefix}.bias`, [dout]),
  });
  const word = ck.table(keys.word, V, D); // [d_vocab, d_model]
  const p = {
    word,
    position: ck.table(keys.position, config.maxPositions + config.positionOffset, D), // [n_ctx + offset, d_model]
    tokenType: ck.table(keys.tokenType, config.typeVocabSize, D), // [n_types, d_model]
    embedLn: ln(keys.embedLn),
    blocks: Array.from({ length: nLayers }, (_, l) => {
      const k = keys.block(l);
      return {
        q: lin(k.q, D, H * Dh),
        k: lin(k.k, D, H * Dh),
        v: lin(k.v, D, H * Dh),
        o: lin(k.o, H * Dh, D),
        ln1: ln(k.ln1),
        up: lin(k.up, D, config.dMlp),
        down: lin(k.down, config.dMlp, D),
        ln2: ln(k.ln2),
      };
    }),
  };
  const act = activations[config.activation];
  const affine = (x: Tensor, l: Params): Tensor => linear(x, l.w, l.b, ck.transB);

  const classifier = config.classifier === null ? undefined : classifierHead(ck, D, config.classifier.labels.length);
  const mlmKeys = classifier === undefined ? keys.mlmHeads.find((k) => ck.maybe(`${k.dense}.weight`, [D, D])) : undefined;
  const mlm = mlmKeys && {
    dense: lin(mlmKeys.dense, D, D),
    ln: ln(mlmKeys.ln),
    act: activations[mlmKeys.activation ?? config.activation],
    // tied: HF overwrites the decoder with the word embeddings on load, whatever the file holds
    decoder: config.tiedEmbeddings ? word : ck.get(`${mlmKeys.decoder}.weight`, [D, V]), // [d_vocab, d_model]
    bias: ck.maybe(mlmKeys.bias, [V]) ?? ck.get(`${mlmKeys.decoder}.bias`, [V]), // [d_vocab]
  };
  const head: BertHead = classifier !== undefined ? "classifier" : mlm !== undefined ? "mlm" : "none";
  const hookPoints = bertHookPoints(nLayers, head);

  const forward = (ids: Tensor, ctx: HookContext, opts: ForwardOptions = {}): Tensor => {
    const plan = planForward(ids, opts, "bert");
    if (plan.kvCache !== undefined) throw new Error("bert: an encoder takes no KV cache (every position attends to every other)");
    const { batch: B, queries: Tn } = plan;
    const rows = positionRows(ids, opts.positions, config); // [batch, pos]
    const types = tokenTypes(opts.tokenTypeIds, B, Tn, config.typeVocabSize); // [batch, pos]
    const bias = layerBias(config, plan); // not causal: only padding keys are hidden
    const embed = ctx.hook("embed.hook_embed", T.gather(p.word, ids, 0)); // [batch, pos, d_model]
    const pos = ctx.hook("embed.hook_pos_embed", T.gather(p.position, rows, 0)); // [batch, pos, d_model]
    const type = ctx.hook("embed.hook_token_type_embed", T.gather(p.tokenType, types, 0)); // [batch, pos, d_model]
    const summed = T.add(T.add(embed, type), pos); // [batch, pos, d_model]
    let x = ctx.hook("hook_full_embed", norm(summed, p.embedLn, config.norm, "embed.ln", ctx)); // [batch, pos, d_model]
    p.blocks.forEach((blk, l) => {
      const h = (name: string, t: Tensor) => ctx.hook(`blocks.${l}.${name}`, t);
      x = h("hook_resid_pre", x); // [batch, pos, d_model]
      const q = h("attn.hook_q", T.reshape(affine(x, blk.q), [B, Tn, H, Dh])); // [batch, pos, head, d_head]
      const k = h("attn.hook_k", T.reshape(affine(x, blk.k), [B, Tn, H, Dh])); // [batch, pos, head, d_head]
      const v = h("attn.hook_v", T.reshape(affine(x, blk.v), [B, Tn, H, Dh])); // [batch, pos, head, d_head]
      const z = attend(h, q, k, v, plan, l, bias(l), 1 / Math.sqrt(Dh)); // [batch, pos, head, d_head]
      const attnOut = h("hook_attn_out", affine(T.reshape(z, [B, Tn, H * Dh]), blk.o)); // [batch, pos, d_model]
      const mid = h("hook_resid_mid", T.add(x, attnOut)); // [batch, pos, d_model]
      const a = norm(mid, blk.ln1, config.norm, `blocks.${l}.ln1`, ctx); // [batch, pos, d_model]
      const pre = h("mlp.hook_pre", affine(a, blk.up)); // [batch, pos, d_mlp]
      const post = h("mlp.hook_post", act(pre)); // [batch, pos, d_mlp]
      const mlpOut = h("hook_mlp_out", affine(post, blk.down)); // [batch, pos, d_model]
      const sum = h("hook_resid_post", T.add(a, mlpOut)); // [batch, pos, d_model]
      x = h("hook_normalized_resid_post", norm(sum, blk.ln2, config.norm, `blocks.${l}.ln2`, ctx)); // [batch, pos, d_model]
    });
    if (classifier !== undefined) {
      const first = T.reshape(T.narrow(x, 1, 0, 1), [B, D]); // [batch, d_model]
      const pooled = ctx.hook("pooler.hook_pooler_out", T.tanh(affine(first, classifier.dense))); // [batch, d_model]
      return ctx.hook("hook_logits", affine(pooled, classifier.out)); // [batch, n_labels]
    }
    if (mlm === undefined) return ctx.hook("hook_logits", logitRows(x, plan)); // [batch, pos or 1, d_model]
    const t = mlm.act(affine(logitRows(x, plan), mlm.dense)); // [batch, pos or 1, d_model]
    const n = norm(t, mlm.ln, config.norm, "mlm_head.ln", ctx); // [batch, pos or 1, d_model]
    return ctx.hook("hook_logits", linear(n, mlm.decoder, mlm.bias, config.tiedEmbeddings || ck.transB)); // [batch, pos or 1, d_vocab]
  };

  return { config, head, hookPoints, forward };
}
