// Tiny deterministic models of every supported architecture, for tests: a Hugging Face config.json object, a
// tokenizer.json object and a weight dictionary with the exact checkpoint tensor names and shapes that
// `save_pretrained` writes, all from one seed. `ggufFromTiny` lays the same weights out as llama.cpp's
// convert_hf_to_gguf.py would (tensor names, metadata keys, the q/k row permutation for Llama).
//
// Platform-neutral: tiny-node.ts writes the folders and files.

import { fromTyped, randn, type Tensor } from "@llmdbg/tensor";
import type { GgufValue, GgufWriteInput, GgufWriteType } from "./gguf.js";
import { ENDOFTEXT, tinyByteLevelTokenizer, tinyTokenList, tinyWordPieceTokenizer } from "./tiny-tokenizers.js";

/** The `model_type`s the generator builds. */
export type TinyModelType = "gpt2" | "llama" | "qwen2" | "gpt_neox" | "bert";

export const TINY_MODEL_TYPES: readonly TinyModelType[] = ["gpt2", "llama", "qwen2", "gpt_neox", "bert"];

export interface TinyModelOptions {
  /** weights are a pure function of (seed, tensor name); default 0 */
  readonly seed?: number;
  /** llama: Llama 3.1-style `rope_scaling` (rope_type "llama3"); default "none" */
  readonly ropeScaling?: "none" | "llama3";
  /** llama, qwen2, gpt_neox: share the token embedding with the unembedding (no `lm_head.weight` / `embed_out.weight`) */
  readonly tieEmbeddings?: boolean;
  /** gpt_neox: fraction of each head that is rotated; default 0.25 */
  readonly rotaryPct?: 0.25 | 0.5;
  /** default 2 */
  readonly nLayers?: number;
  /** round `vocab_size` up to a multiple of this (real checkpoints pad their embeddings); default 1 */
  readonly padVocabTo?: number;
  /** bert: the head — "classifier" (`*ForSequenceClassification`, the default) or "mlm" (`*ForMaskedLM`) */
  readonly bertHead?: "classifier" | "mlm";
  /**
   * bert: a RoBERTa checkpoint instead (model_type "roberta", `roberta.` names, no pooler, one token type,
   * positions numbered from pad_token_id + 1, RoBERTa's head names); the tokenizer stays the tiny WordPiece
   */
  readonly roberta?: boolean;
}

/** A generated model: the JSON objects of its files and its weights (f32, checkpoint names and shapes). */
export interface TinyModel {
  readonly modelType: TinyModelType;
  readonly seed: number;
  /** config.json */
  readonly config: Record<string, unknown>;
  /** tokenizer.json */
  readonly tokenizer: Record<string, unknown>;
  /** tokenizer_config.json */
  readonly tokenizerConfig: Record<string, unknown>;
  /** generation_config.json; null for bert (encoder checkpoints have none) */
  readonly generationConfig: Record<string, unknown> | null;
  /** state-dict names → tensors, exactly the tensors `save_pretrained` puts in model.safetensors */
  readonly weights: Record<string, Tensor>;
}

// ——— deterministic weights ———

/** FNV-1a of a string: each tensor's stream depends only on the seed and its own name. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The seed of one tensor's normal stream. */
export function tinyTensorSeed(seed: number, name: string): number {
  return (Math.imul((seed >>> 0) ^ 0x85ebca6b, 0x9e3779b1) ^ fnv1a(name)) >>> 0;
}

class WeightMaker {
  readonly weights: Record<string, Tensor> = {};
  constructor(readonly seed: number) {}

  normal(name: string, shape: readonly number[], std: number, mean = 0): void {
    const t = randn(shape, tinyTensorSeed(this.seed, name), "f32", std);
    if (mean !== 0) {
      const d = t.data;
      for (let i = 0; i < d.length; i++) d[i] = (d[i] as number) + mean;
    }
    this.weights[name] = t;
  }
  /** a torch Linear ([out, in]) or GPT-2 Conv1D ([in, out]) weight */
  linear(name: string, shape: readonly number[]): void {
    this.normal(name, shape, 0.1);
  }
  bias(name: string, n: number): void {
    this.normal(name, [n], 0.05);
  }
  /** norm weights near 1 (not exactly 1, so a missing or misplaced norm weight changes results) */
  normWeight(name: string, n: number): void {
    this.normal(name, [n], 0.05, 1);
  }
  /** a LayerNorm's weight and bias */
  layerNorm(prefix: string, n: number): void {
    this.normWeight(`${prefix}.weight`, n);
    this.normal(`${prefix}.bias`, [n], 0.02);
  }
  embedding(name: string, rows: number, d: number): void {
    this.normal(name, [rows, d], 0.2);
  }
}

// ——— configs and weights ———

const TRANSFORMERS_VERSION = "4.44.0";
const MAX_POSITIONS = 64;

/** Llama 3.1-style scaling sized for a 64-position model: the first of 4 frequencies is smoothed, the rest divided. */
const LLAMA3_ROPE_SCALING = {
  factor: 4,
  low_freq_factor: 1,
  high_freq_factor: 4,
  original_max_position_embeddings: 16,
  rope_type: "llama3",
};

function roundUp(n: number, multiple: number): number {
  return Math.ceil(n / multiple) * multiple;
}

/** Generates a tiny model of `modelType`: config, tokenizer and weights, all deterministic in `opts.seed`. */
export function tinyModel(modelType: TinyModelType, opts: TinyModelOptions = {}): TinyModel {
  const seed = opts.seed ?? 0;
  const nLayers = opts.nLayers ?? 2;
  const bert = modelType === "bert";
  const tokenizer = bert ? tinyWordPieceTokenizer() : tinyByteLevelTokenizer();
  const tokens = tinyTokenList(tokenizer);
  const vocabSize = roundUp(tokens.length, opts.padVocabTo ?? 1);
  const w = new WeightMaker(seed);
  const common = { torch_dtype: "float32", transformers_version: TRANSFORMERS_VERSION };
  let config: Record<string, unknown>;

  if (bert) {
    const d = 32;
    const dMlp = 64;
    const labels = ["NEGATIVE", "POSITIVE"];
    const roberta = opts.roberta ?? false;
    const mlm = opts.bertHead === "mlm";
    const base = roberta ? "roberta" : "bert";
    const padId = tokens.indexOf("[PAD]");
    // RoBERTa's position p reads row p + pad_token_id + 1 (fairseq), so its table is that much longer
    const positionRows = roberta ? MAX_POSITIONS + padId + 1 : MAX_POSITIONS;
    const typeRows = roberta ? 1 : 2;
    config = {
      architectures: [`${roberta ? "Roberta" : "Bert"}${mlm ? "ForMaskedLM" : "ForSequenceClassification"}`],
      model_type: base,
      vocab_size: vocabSize,
      hidden_size: d,
      num_hidden_layers: nLayers,
      num_attention_heads: 4,
      intermediate_size: dMlp,
      hidden_act: "gelu",
      hidden_dropout_prob: 0.1,
      attention_probs_dropout_prob: 0.1,
      max_position_embeddings: positionRows,
      type_vocab_size: typeRows,
      initializer_range: 0.02,
      layer_norm_eps: 1e-12,
      ...(roberta && { bos_token_id: tokens.indexOf("[CLS]"), eos_token_id: tokens.indexOf("[SEP]") }),
      pad_token_id: padId,
      position_embedding_type: "absolute",
      classifier_dropout: null,
      ...(!mlm && {
        id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
        label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
      }),
      use_cache: true,
      ...common,
    };
    w.embedding(`${base}.embeddings.word_embeddings.weight`, vocabSize, d);
    w.embedding(`${base}.embeddings.position_embeddings.weight`, positionRows, d);
    w.embedding(`${base}.embeddings.token_type_embeddings.weight`, typeRows, d);
    w.layerNorm(`${base}.embeddings.LayerNorm`, d);
    for (let i = 0; i < nLayers; i++) {
      const p = `${base}.encoder.layer.${i}`;
      for (const x of ["query", "key", "value"]) {
        w.linear(`${p}.attention.self.${x}.weight`, [d, d]);
        w.bias(`${p}.attention.self.${x}.bias`, d);
      }
      w.linear(`${p}.attention.output.dense.weight`, [d, d]);
      w.bias(`${p}.attention.output.dense.bias`, d);
      w.layerNorm(`${p}.attention.output.LayerNorm`, d);
      w.linear(`${p}.intermediate.dense.weight`, [dMlp, d]);
      w.bias(`${p}.intermediate.dense.bias`, dMlp);
      w.linear(`${p}.output.dense.weight`, [d, dMlp]);
      w.bias(`${p}.output.dense.bias`, d);
      w.layerNorm(`${p}.output.LayerNorm`, d);
    }
    // save_pretrained drops the decoder weight and bias tied to the word embeddings and the head's bias
    if (mlm && roberta) {
      w.bias("lm_head.bias", vocabSize);
      w.linear("lm_head.dense.weight", [d, d]);
      w.bias("lm_head.dense.bias", d);
      w.layerNorm("lm_head.layer_norm", d);
    } else if (mlm) {
      w.bias("cls.predictions.bias", vocabSize);
      w.linear("cls.predictions.transform.dense.weight", [d, d]);
      w.bias("cls.predictions.transform.dense.bias", d);
      w.layerNorm("cls.predictions.transform.LayerNorm", d);
    } else if (roberta) {
      w.linear("classifier.dense.weight", [d, d]);
      w.bias("classifier.dense.bias", d);
      w.linear("classifier.out_proj.weight", [labels.length, d]);
      w.bias("classifier.out_proj.bias", labels.length);
    } else {
      w.linear("bert.pooler.dense.weight", [d, d]);
      w.bias("bert.pooler.dense.bias", d);
      w.linear("classifier.weight", [labels.length, d]);
      w.bias("classifier.bias", labels.length);
    }
  } else {
    const eos = tokens.indexOf(ENDOFTEXT);
    const ids = { bos_token_id: eos, eos_token_id: eos };
    if (modelType === "gpt2") {
      const d = 32;
      config = {
        architectures: ["GPT2LMHeadModel"],
        model_type: "gpt2",
        vocab_size: vocabSize,
        n_positions: MAX_POSITIONS,
        n_ctx: MAX_POSITIONS, // llama.cpp's converter reads n_ctx, as in the real gpt2 config.json
        n_embd: d,
        n_layer: nLayers,
        n_head: 4,
        n_inner: null,
        activation_function: "gelu_new",
        resid_pdrop: 0.1,
        embd_pdrop: 0.1,
        attn_pdrop: 0.1,
        layer_norm_epsilon: 1e-5,
        initializer_range: 0.02,
        scale_attn_weights: true,
        use_cache: true,
        tie_word_embeddings: true,
        ...ids,
        ...common,
      };
      // Names as GPT2LMHeadModel.save_pretrained writes them: prefixed `transformer.`, no lm_head.weight (tied to
      // wte), no attn.bias / attn.masked_bias buffers (non-persistent in current transformers). The original
      // openai-community/gpt2 model.safetensors instead has the bare GPT2Model names (`wte.weight`, `h.0.attn…`).
      w.embedding("transformer.wte.weight", vocabSize, d);
      w.embedding("transformer.wpe.weight", MAX_POSITIONS, d);
      for (let i = 0; i < nLayers; i++) {
        const p = `transformer.h.${i}`;
        w.layerNorm(`${p}.ln_1`, d);
        w.linear(`${p}.attn.c_attn.weight`, [d, 3 * d]); // Conv1D: [in, out]
        w.bias(`${p}.attn.c_attn.bias`, 3 * d);
        w.linear(`${p}.attn.c_proj.weight`, [d, d]);
        w.bias(`${p}.attn.c_proj.bias`, d);
        w.layerNorm(`${p}.ln_2`, d);
        w.linear(`${p}.mlp.c_fc.weight`, [d, 4 * d]);
        w.bias(`${p}.mlp.c_fc.bias`, 4 * d);
        w.linear(`${p}.mlp.c_proj.weight`, [4 * d, d]);
        w.bias(`${p}.mlp.c_proj.bias`, d);
      }
      w.layerNorm("transformer.ln_f", d);
    } else if (modelType === "gpt_neox") {
      const d = 32;
      const dMlp = 128;
      const tied = opts.tieEmbeddings ?? false;
      config = {
        architectures: ["GPTNeoXForCausalLM"],
        model_type: "gpt_neox",
        vocab_size: vocabSize,
        hidden_size: d,
        intermediate_size: dMlp,
        num_hidden_layers: nLayers,
        num_attention_heads: 4,
        max_position_embeddings: MAX_POSITIONS,
        rotary_pct: opts.rotaryPct ?? 0.25,
        rotary_emb_base: 10000,
        use_parallel_residual: true,
        layer_norm_eps: 1e-5,
        hidden_act: "gelu",
        attention_bias: true,
        attention_dropout: 0,
        hidden_dropout: 0,
        classifier_dropout: 0.1,
        initializer_range: 0.02,
        use_cache: true,
        tie_word_embeddings: tied,
        ...ids,
        ...common,
      };
      w.embedding("gpt_neox.embed_in.weight", vocabSize, d);
      for (let i = 0; i < nLayers; i++) {
        const p = `gpt_neox.layers.${i}`;
        w.layerNorm(`${p}.input_layernorm`, d);
        w.layerNorm(`${p}.post_attention_layernorm`, d);
        // rows grouped [head, (q, k, v), dHead]; random weights need no reordering, only ggufFromTiny regroups
        w.linear(`${p}.attention.query_key_value.weight`, [3 * d, d]);
        w.bias(`${p}.attention.query_key_value.bias`, 3 * d);
        w.linear(`${p}.attention.dense.weight`, [d, d]);
        w.bias(`${p}.attention.dense.bias`, d);
        w.linear(`${p}.mlp.dense_h_to_4h.weight`, [dMlp, d]);
        w.bias(`${p}.mlp.dense_h_to_4h.bias`, dMlp);
        w.linear(`${p}.mlp.dense_4h_to_h.weight`, [d, dMlp]);
        w.bias(`${p}.mlp.dense_4h_to_h.bias`, d);
      }
      w.layerNorm("gpt_neox.final_layer_norm", d);
      if (!tied) w.embedding("embed_out.weight", vocabSize, d);
    } else {
      const qwen = modelType === "qwen2";
      const d = 32;
      const nHeads = 4;
      const nKvHeads = 2;
      const dHead = d / nHeads;
      const dMlp = 64;
      const tied = opts.tieEmbeddings ?? qwen; // Qwen2.5's small models tie; Llama's do not
      const llama3 = (opts.ropeScaling ?? "none") === "llama3";
      if (llama3 && qwen) throw new Error('tinyModel: ropeScaling "llama3" is for llama only');
      config = {
        architectures: [qwen ? "Qwen2ForCausalLM" : "LlamaForCausalLM"],
        model_type: modelType,
        vocab_size: vocabSize,
        hidden_size: d,
        intermediate_size: dMlp,
        num_hidden_layers: nLayers,
        num_attention_heads: nHeads,
        num_key_value_heads: nKvHeads,
        hidden_act: "silu",
        max_position_embeddings: MAX_POSITIONS,
        rms_norm_eps: qwen ? 1e-6 : 1e-5,
        rope_theta: qwen ? 1000000 : llama3 ? 500000 : 10000,
        rope_scaling: llama3 ? { ...LLAMA3_ROPE_SCALING } : null,
        attention_dropout: 0,
        initializer_range: 0.02,
        use_cache: true,
        tie_word_embeddings: tied,
        ...(qwen
          ? { use_sliding_window: false, sliding_window: MAX_POSITIONS, max_window_layers: nLayers }
          : { head_dim: dHead, attention_bias: false, mlp_bias: false, pretraining_tp: 1 }),
        ...ids,
        ...common,
      };
      w.embedding("model.embed_tokens.weight", vocabSize, d);
      for (let i = 0; i < nLayers; i++) {
        const p = `model.layers.${i}`;
        w.normWeight(`${p}.input_layernorm.weight`, d);
        w.linear(`${p}.self_attn.q_proj.weight`, [nHeads * dHead, d]);
        w.linear(`${p}.self_attn.k_proj.weight`, [nKvHeads * dHead, d]);
        w.linear(`${p}.self_attn.v_proj.weight`, [nKvHeads * dHead, d]);
        if (qwen) {
          w.bias(`${p}.self_attn.q_proj.bias`, nHeads * dHead);
          w.bias(`${p}.self_attn.k_proj.bias`, nKvHeads * dHead);
          w.bias(`${p}.self_attn.v_proj.bias`, nKvHeads * dHead);
        }
        w.linear(`${p}.self_attn.o_proj.weight`, [d, nHeads * dHead]);
        w.normWeight(`${p}.post_attention_layernorm.weight`, d);
        w.linear(`${p}.mlp.gate_proj.weight`, [dMlp, d]);
        w.linear(`${p}.mlp.up_proj.weight`, [dMlp, d]);
        w.linear(`${p}.mlp.down_proj.weight`, [d, dMlp]);
      }
      w.normWeight("model.norm.weight", d);
      if (!tied) w.embedding("lm_head.weight", vocabSize, d);
    }
  }

  const tokenizerConfig = bert
    ? {
        tokenizer_class: "BertTokenizer",
        do_lower_case: true,
        cls_token: "[CLS]",
        sep_token: "[SEP]",
        pad_token: "[PAD]",
        unk_token: "[UNK]",
        mask_token: "[MASK]",
        model_max_length: MAX_POSITIONS,
        clean_up_tokenization_spaces: true,
      }
    : {
        tokenizer_class: "GPT2Tokenizer",
        add_prefix_space: false,
        bos_token: ENDOFTEXT,
        eos_token: ENDOFTEXT,
        unk_token: ENDOFTEXT,
        model_max_length: MAX_POSITIONS,
        clean_up_tokenization_spaces: false,
      };
  const generationConfig = bert
    ? null
    : {
        _from_model_config: true,
        bos_token_id: config.bos_token_id,
        eos_token_id: config.eos_token_id,
        transformers_version: TRANSFORMERS_VERSION,
      };
  return { modelType, seed, config, tokenizer, tokenizerConfig, generationConfig, weights: w.weights };
}

// ——— llama.cpp layout ———

/** Copies rows: out row r = w row from(r). Works for [rows, cols] and 1-D (biases). */
function mapRows(w: Tensor, from: (r: number) => number): Tensor {
  const rows = w.shape[0] as number;
  const cols = w.shape.length === 1 ? 1 : w.size / rows;
  const src = w.data as Float32Array;
  const out = new Float32Array(w.size);
  for (let r = 0; r < rows; r++) out.set(src.subarray(from(r) * cols, (from(r) + 1) * cols), r * cols);
  return fromTyped(out, w.shape, "f32");
}

/**
 * llama.cpp's `LlamaModel.permute` (convert_hf_to_gguf.py): `w.reshape(nHead, 2, rows / nHead / 2, …)
 * .swapaxes(1, 2).reshape(w.shape)`. Hugging Face's rotate-half pairs (i, i + dHead/2) of each head become
 * adjacent rows (2i, 2i + 1), for llama.cpp's interleaved rope. Pass nKvHeads for k_proj.
 */
export function permuteForInterleavedRope(w: Tensor, nHead: number): Tensor {
  const dHead = (w.shape[0] as number) / nHead;
  const half = dHead / 2;
  // out[h, i, j] = in[h, j, i] with out indexed [nHead, half, 2] and in [nHead, 2, half]
  return mapRows(w, (r) => {
    const h = Math.floor(r / dHead);
    const i = Math.floor((r % dHead) / 2);
    const j = r % 2;
    return h * dHead + j * half + i;
  });
}

/** The inverse of permuteForInterleavedRope: GGUF rows back to Hugging Face's rotate-half order. */
export function unpermuteForInterleavedRope(w: Tensor, nHead: number): Tensor {
  const dHead = (w.shape[0] as number) / nHead;
  const half = dHead / 2;
  return mapRows(w, (r) => {
    const h = Math.floor(r / dHead);
    const j = Math.floor((r % dHead) / half);
    const i = r % half;
    return h * dHead + 2 * i + j;
  });
}

/** [rows, cols] → [cols, rows] (GPT-2's Conv1D weights become [out, in]). */
export function transpose2d(w: Tensor): Tensor {
  const [rows, cols] = w.shape as [number, number];
  const src = w.data as Float32Array;
  const out = new Float32Array(w.size);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c] as number;
  return fromTyped(out, [cols, rows], "f32");
}

/** GPT-NeoX's query_key_value rows [head, (q, k, v), dHead] regrouped to [q; k; v], as llama.cpp's converter does. */
export function regroupNeoxQkv(w: Tensor, nHeads: number): Tensor {
  const dHead = (w.shape[0] as number) / 3 / nHeads;
  return mapRows(w, (r) => {
    const part = Math.floor(r / (nHeads * dHead)); // 0 q, 1 k, 2 v
    const h = Math.floor((r % (nHeads * dHead)) / dHead);
    return (h * 3 + part) * dHead + (r % dHead);
  });
}

/**
 * Llama 3's rope scaling as the per-frequency divisors llama.cpp stores in `rope_freqs.weight`
 * (convert_hf_to_gguf.py, LlamaModel.generate_extra_tensors). The converter takes original_max_position_embeddings
 * from the top level of config.json (default 8192), which real Llama 3.1 configs keep only in rope_scaling; here
 * it is read from rope_scaling, what transformers uses. Computed in f64, stored as f32.
 */
export function llama3RopeFactors(config: Record<string, unknown>): Float32Array {
  const s = config.rope_scaling as Record<string, number>;
  const num = (v: unknown): number => {
    if (typeof v !== "number") throw new Error(`llama3RopeFactors: expected a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const base = num(config.rope_theta);
  const dim = config.head_dim !== undefined ? num(config.head_dim) : num(config.hidden_size) / num(config.num_attention_heads);
  const factor = num(s.factor);
  const low = num(s.low_freq_factor);
  const high = num(s.high_freq_factor);
  const old = num(s.original_max_position_embeddings);
  const lowWavelen = old / low;
  const highWavelen = old / high;
  const out = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) {
    const freq = 1 / base ** ((2 * i) / dim);
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = factor;
    else {
      const smooth = (old / wavelen - low) / (high - low);
      out[i] = 1 / ((1 - smooth) / factor + smooth);
    }
  }
  return out;
}

export interface TinyGgufOptions {
  /** storage of 2-D weights; 1-D tensors (norms, biases, rope_freqs) stay F32 as llama.cpp keeps them. Default F32 */
  readonly type?: "F32" | "F16";
}

/** The GGUF architecture llama.cpp's converter gives a tiny model type; bert has none here. */
export function ggufArchitectureOf(modelType: TinyModelType): "llama" | "qwen2" | "gpt2" | "gptneox" {
  if (modelType === "bert") throw new Error("ggufFromTiny: bert has no GGUF layout here (normalizeGgufConfig reads none)");
  return modelType === "gpt_neox" ? "gptneox" : modelType;
}

const u32 = (value: number): GgufValue => ({ type: "u32", value });
const f32 = (value: number): GgufValue => ({ type: "f32", value });
const str = (value: string): GgufValue => ({ type: "string", value });

/**
 * The GGUF that llama.cpp's convert_hf_to_gguf.py would write for a tiny llama, qwen2, gpt2 or gpt_neox
 * model: its tensor names and metadata keys, and its layout changes — Llama's q/k rows permuted for interleaved
 * rope (`permuteForInterleavedRope`), Llama 3 scaling as `rope_freqs.weight`, GPT-2's Conv1D weights transposed to
 * [out, in] and `output.weight` written as a copy of the tied `token_embd.weight`, GPT-NeoX's query_key_value
 * regrouped to [q; k; v]. Qwen2 is converted as-is. The tokenizer goes in as `tokenizer.ggml.*` (`tinyGgufTokenizerMetadata`).
 */
export function ggufFromTiny(model: TinyModel, opts: TinyGgufOptions = {}): GgufWriteInput {
  const arch = ggufArchitectureOf(model.modelType);
  const c = model.config;
  const W = model.weights;
  const type2d: GgufWriteType = opts.type ?? "F32";
  const tensors: { name: string; tensor: Tensor; type: GgufWriteType }[] = [];
  const put = (name: string, tensor: Tensor) => tensors.push({ name, tensor, type: tensor.rank >= 2 ? type2d : "F32" });
  const get = (name: string): Tensor => {
    const t = W[name];
    if (t === undefined) throw new Error(`ggufFromTiny: the model has no tensor ${JSON.stringify(name)}`);
    return t;
  };
  const meta: Record<string, GgufValue> = {
    "general.architecture": str(arch),
    "general.name": str(`tiny-${model.modelType}`),
  };
  const k = (suffix: string) => `${arch}.${suffix}`;
  const num = (key: string) => c[key] as number;

  if (arch === "gpt2") {
    const d = num("n_embd");
    Object.assign(meta, {
      [k("block_count")]: u32(num("n_layer")),
      [k("context_length")]: u32(num("n_ctx")),
      [k("embedding_length")]: u32(d),
      [k("feed_forward_length")]: u32(4 * d),
      [k("attention.head_count")]: u32(num("n_head")),
      [k("attention.layer_norm_epsilon")]: f32(num("layer_norm_epsilon")),
    });
    put("token_embd.weight", get("transformer.wte.weight"));
    put("position_embd.weight", get("transformer.wpe.weight"));
    put("output.weight", get("transformer.wte.weight")); // the converter writes the tied embedding twice
    for (let i = 0; i < num("n_layer"); i++) {
      const p = `transformer.h.${i}`;
      const b = `blk.${i}`;
      const pairs: [string, string][] = [
        ["ln_1", "attn_norm"],
        ["attn.c_attn", "attn_qkv"],
        ["attn.c_proj", "attn_output"],
        ["ln_2", "ffn_norm"],
        ["mlp.c_fc", "ffn_up"],
        ["mlp.c_proj", "ffn_down"],
      ];
      for (const [hf, gg] of pairs) {
        const weight = get(`${p}.${hf}.weight`);
        put(`${b}.${gg}.weight`, weight.rank === 2 ? transpose2d(weight) : weight);
        put(`${b}.${gg}.bias`, get(`${p}.${hf}.bias`));
      }
    }
    put("output_norm.weight", get("transformer.ln_f.weight"));
    put("output_norm.bias", get("transformer.ln_f.bias"));
  } else if (arch === "gptneox") {
    const d = num("hidden_size");
    const nHeads = num("num_attention_heads");
    Object.assign(meta, {
      [k("context_length")]: u32(num("max_position_embeddings")),
      [k("embedding_length")]: u32(d),
      [k("block_count")]: u32(num("num_hidden_layers")),
      [k("feed_forward_length")]: u32(num("intermediate_size")),
      [k("rope.dimension_count")]: u32(Math.floor(num("rotary_pct") * (d / nHeads))),
      [k("attention.head_count")]: u32(nHeads),
      [k("use_parallel_residual")]: { type: "bool", value: c.use_parallel_residual === true },
      [k("attention.layer_norm_epsilon")]: f32(num("layer_norm_eps")),
    });
    put("token_embd.weight", get("gpt_neox.embed_in.weight"));
    for (let i = 0; i < num("num_hidden_layers"); i++) {
      const p = `gpt_neox.layers.${i}`;
      const b = `blk.${i}`;
      for (const [hf, gg] of [
        ["input_layernorm", "attn_norm"],
        ["attention.dense", "attn_output"],
        ["post_attention_layernorm", "ffn_norm"],
        ["mlp.dense_h_to_4h", "ffn_up"],
        ["mlp.dense_4h_to_h", "ffn_down"],
      ] as const) {
        put(`${b}.${gg}.weight`, get(`${p}.${hf}.weight`));
        put(`${b}.${gg}.bias`, get(`${p}.${hf}.bias`));
      }
      put(`${b}.attn_qkv.weight`, regroupNeoxQkv(get(`${p}.attention.query_key_value.weight`), nHeads));
      put(`${b}.attn_qkv.bias`, regroupNeoxQkv(get(`${p}.attention.query_key_value.bias`), nHeads));
    }
    put("output_norm.weight", get("gpt_neox.final_layer_norm.weight"));
    put("output_norm.bias", get("gpt_neox.final_layer_norm.bias"));
    if (W["embed_out.weight"] !== undefined) put("output.weight", get("embed_out.weight"));
  } else {
    const d = num("hidden_size");
    const nHeads = num("num_attention_heads");
    const nKvHeads = num("num_key_value_heads");
    const dHead = (c.head_dim as number | undefined) ?? d / nHeads;
    const permute = arch === "llama";
    Object.assign(meta, {
      [k("vocab_size")]: u32(num("vocab_size")),
      [k("block_count")]: u32(num("num_hidden_layers")),
      [k("context_length")]: u32(num("max_position_embeddings")),
      [k("embedding_length")]: u32(d),
      [k("feed_forward_length")]: u32(num("intermediate_size")),
      [k("attention.head_count")]: u32(nHeads),
      [k("attention.head_count_kv")]: u32(nKvHeads),
      [k("rope.freq_base")]: f32(num("rope_theta")),
      [k("attention.layer_norm_rms_epsilon")]: f32(num("rms_norm_eps")),
      ...(permute && { [k("rope.dimension_count")]: u32(dHead) }),
    });
    put("token_embd.weight", get("model.embed_tokens.weight"));
    if (permute && c.rope_scaling !== null && c.rope_scaling !== undefined) {
      const factors = llama3RopeFactors(c);
      put("rope_freqs.weight", fromTyped(factors, [factors.length], "f32"));
    }
    for (let i = 0; i < num("num_hidden_layers"); i++) {
      const p = `model.layers.${i}`;
      const b = `blk.${i}`;
      put(`${b}.attn_norm.weight`, get(`${p}.input_layernorm.weight`));
      for (const [x, heads] of [
        ["q", nHeads],
        ["k", nKvHeads],
        ["v", 0],
      ] as const) {
        for (const kind of ["weight", "bias"] as const) {
          const t = W[`${p}.self_attn.${x}_proj.${kind}`];
          if (t === undefined) continue;
          put(`${b}.attn_${x}.${kind}`, permute && heads > 0 ? permuteForInterleavedRope(t, heads) : t);
        }
      }
      put(`${b}.attn_output.weight`, get(`${p}.self_attn.o_proj.weight`));
      put(`${b}.ffn_norm.weight`, get(`${p}.post_attention_layernorm.weight`));
      put(`${b}.ffn_gate.weight`, get(`${p}.mlp.gate_proj.weight`));
      put(`${b}.ffn_up.weight`, get(`${p}.mlp.up_proj.weight`));
      put(`${b}.ffn_down.weight`, get(`${p}.mlp.down_proj.weight`));
    }
    put("output_norm.weight", get("model.norm.weight"));
    if (W["lm_head.weight"] !== undefined) put("output.weight", get("lm_head.weight"));
  }
  meta["general.file_type"] = u32(type2d === "F16" ? 1 : 0);
  Object.assign(meta, tinyGgufTokenizerMetadata(model));
  return { metadata: meta, tensors };
}

type SpecialTokenType = "bos" | "eos" | "unk" | "sep" | "pad" | "cls" | "mask";
/** gguf-py's SpecialVocab.special_token_types, in its order, with the metadata key each id goes to. */
const SPECIAL_TOKEN_KEYS: { readonly [T in SpecialTokenType]: string } = {
  bos: "tokenizer.ggml.bos_token_id",
  eos: "tokenizer.ggml.eos_token_id",
  unk: "tokenizer.ggml.unknown_token_id",
  sep: "tokenizer.ggml.seperator_token_id", // sic: llama.cpp's spelling
  pad: "tokenizer.ggml.padding_token_id",
  cls: "tokenizer.ggml.cls_token_id",
  mask: "tokenizer.ggml.mask_token_id",
};

type TemplatePiece = { SpecialToken?: { id?: string }; Sequence?: { id?: string } };

/**
 * The `tokenizer.ggml.*` metadata llama.cpp's convert_hf_to_gguf.py writes for a tiny model's tokenizer.
 * Byte-level BPE as `_set_vocab_gpt2` does (model "gpt2", tokens in their byte-level spelling, merges, added tokens
 * CONTROL when special and USER_DEFINED otherwise, `[PAD{i}]` UNUSED fillers up to vocab_size); bert as
 * `BertModel.set_vocab` does (model "bert", WordPiece in llama.cpp's "phantom space" spelling: word-initial pieces
 * get "▁", "##" continuations lose it, `[…]` tokens stay). Special ids, add_*_token flags and the chat template as
 * gguf-py's SpecialVocab finds them: tokenizer_config.json names resolved through added_tokens (first match),
 * config.json ids where no name resolves, flags from a TemplateProcessing post-processor.
 *
 * @example
 * tinyGgufTokenizerMetadata(tinyModel("bert"))["tokenizer.ggml.model"] // { type: "string", value: "bert" }
 */
export function tinyGgufTokenizerMetadata(model: TinyModel): Record<string, GgufValue> {
  const tok = model.tokenizer;
  const bert = model.modelType === "bert";
  const tokens = tinyTokenList(tok);
  const added = (tok.added_tokens ?? []) as { id: number; content: string; special?: boolean }[];
  const types: number[] = tokens.map((_, i) => {
    const a = added.find((t) => t.id === i);
    return a === undefined ? 1 : a.special === true ? 3 : 4; // NORMAL, CONTROL, USER_DEFINED
  });
  // llama.cpp pads a vocabulary shorter than vocab_size with [PAD{i}] tokens of type UNUSED
  const vocabSize = model.config.vocab_size as number;
  for (let i = tokens.length; i < vocabSize; i++) {
    tokens.push(`[PAD${i}]`);
    types.push(5);
  }
  const phantom = (t: string): string =>
    t.startsWith("[") && t.endsWith("]") ? t : t.startsWith("##") ? t.slice(2) : `\u2581${t}`;

  const cfg = model.tokenizerConfig;
  const name = (key: string): string | undefined => (typeof cfg[key] === "string" ? (cfg[key] as string) : undefined);
  // SpecialVocab stands the classifier tokens in for missing bos/eos names
  const names: { [T in SpecialTokenType]: string | undefined } = {
    bos: name("bos_token") ?? name("cls_token"),
    eos: name("eos_token") ?? name("sep_token"),
    unk: name("unk_token"),
    sep: name("sep_token"),
    pad: name("pad_token"),
    cls: name("cls_token"),
    mask: name("mask_token"),
  };
  const addFlags: Partial<Record<"bos" | "eos" | "sep", boolean>> = {};
  type Processor = { type?: string; single?: TemplatePiece[]; pair?: TemplatePiece[]; processors?: Processor[] };
  const post = tok.post_processor as Processor | null;
  const pp = (post?.processors ?? [post]).find((p) => p?.type === "TemplateProcessing");
  if (pp !== undefined && pp !== null) {
    const single = pp.single ?? [];
    const first = single.length > 1 ? single[0]?.SpecialToken?.id : undefined;
    const last = single.length > 1 ? single[single.length - 1]?.SpecialToken?.id : undefined;
    if (first !== undefined) addFlags.bos = first === names.bos || first === names.cls;
    if (last !== undefined) addFlags.eos = last === names.eos;
    // "A [SEP] B" in the pair template, less the single template's ends: a separator only without a trailing token
    let pair = pp.pair ?? [];
    if (first !== undefined && pair[0]?.SpecialToken?.id === first) pair = pair.slice(1);
    if (last !== undefined && pair[pair.length - 1]?.SpecialToken?.id === last) pair = pair.slice(0, -1);
    const middle = pair[0]?.Sequence?.id === "A" && pair[pair.length - 1]?.Sequence?.id === "B" ? pair.slice(1, -1) : [];
    if (middle.length > 0) {
      const isSep = (p: TemplatePiece | undefined) => p?.SpecialToken?.id === names.sep || p?.SpecialToken?.id === names.eos;
      addFlags.sep = (isSep(middle[0]) && last === undefined) || (middle.length === 2 && isSep(middle[1]));
    }
  }
  for (const typ of ["bos", "eos", "sep"] as const) {
    const v = cfg[`add_${typ}_token`];
    if (typeof v === "boolean") addFlags[typ] = v;
  }

  const meta: Record<string, GgufValue> = {
    "tokenizer.ggml.model": str(bert ? "bert" : "gpt2"),
    "tokenizer.ggml.pre": str(bert ? "default" : "gpt-2"),
    "tokenizer.ggml.tokens": { type: "array", value: { elemType: "string", items: bert ? tokens.map(phantom) : tokens } },
    "tokenizer.ggml.token_type": { type: "array", value: { elemType: "i32", items: types } },
  };
  if (bert) meta["tokenizer.ggml.token_type_count"] = u32(model.config.type_vocab_size as number);
  else {
    const merges = (tok.model as { merges: string[] }).merges;
    meta["tokenizer.ggml.merges"] = { type: "array", value: { elemType: "string", items: merges } };
  }
  for (const typ of Object.keys(SPECIAL_TOKEN_KEYS) as SpecialTokenType[]) {
    const content = names[typ];
    const fromName = content === undefined ? undefined : added.find((a) => a.content === content)?.id;
    const fromConfig = model.config[`${typ}_token_id`];
    const id = fromName ?? (typeof fromConfig === "number" ? fromConfig : undefined);
    if (id !== undefined) meta[SPECIAL_TOKEN_KEYS[typ]] = u32(id);
  }
  for (const [typ, v] of Object.entries(addFlags)) meta[`tokenizer.ggml.add_${typ}_token`] = { type: "bool", value: v };
  if (typeof cfg.chat_template === "string") meta["tokenizer.chat_template"] = str(cfg.chat_template);
  const norm = tok.normalizer as { type?: string; lowercase?: boolean } | null;
  if (norm?.type === "BertNormalizer" && norm.lowercase !== false)
    meta["tokenizer.ggml.normalizer.lowercase"] = { type: "bool", value: true };
  return meta;
}
