// Tiny deterministic models of every supported architecture, for tests: a Hugging Face config.json object, a
// tokenizer.json object (byte-level BPE, WordPiece, or Llama 2's SentencePiece BPE) and a weight dictionary with the exact checkpoint tensor names and shapes that
// `save_pretrained` writes, all from one seed. `ggufFromTiny` lays the same weights out as llama.cpp's
// convert_hf_to_gguf.py would, through the product's converter (hf-to-gguf.ts).
//
// Platform-neutral: tiny-node.ts writes the folders and files.

import { GGUF_ARCHITECTURE_OF, ggufTokenizerMetadata, hfToGguf, llama3FreqFactors } from "@llmdbg/convert";
import type { GgufValue, GgufWriteInput } from "@llmdbg/formats";
import { normalizeHfConfig } from "@llmdbg/models";
import { randn, type Tensor } from "@llmdbg/tensor";
import { addedToken, bosEosTemplate, sentencePieceBpeJson } from "@llmdbg/tokenizers";
import { ENDOFTEXT, TINY_CORPUS, tinyByteLevelTokenizer, tinyTokenList, tinyWordPieceTokenizer } from "./tiny-tokenizers.js";

// The layout helpers moved to hf-to-gguf.ts; these names stay importable from here.
export {
  permuteForInterleavedRope,
  regroupNeoxQkv,
  transpose2d,
  unpermuteForInterleavedRope,
} from "@llmdbg/convert";

/** The `model_type`s the generator builds. */
export type TinyModelType = "gpt2" | "llama" | "qwen2" | "gpt_neox" | "bert";

export const TINY_MODEL_TYPES: readonly TinyModelType[] = ["gpt2", "llama", "qwen2", "gpt_neox", "bert"];

export interface TinyModelOptions {
  /** weights are a pure function of (seed, tensor name); default 0 */
  readonly seed?: number;
  /** llama: Llama 3.1-style `rope_scaling` (rope_type "llama3"); default "none" */
  readonly ropeScaling?: "none" | "llama3";
  /**
   * llama: "sentencepiece" gives it Llama 2's tokenizer (tinySentencePieceTokenizer) and ids (<s> 1, </s> 2) instead of
   * the byte-level BPE; default "byte-level"
   */
  readonly tokenizer?: "byte-level" | "sentencepiece";
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

/** What every generator gets: the options, the sizes the tokenizer fixed, and the weight maker (draws in order). */
interface Gen {
  readonly opts: TinyModelOptions;
  readonly nLayers: number;
  readonly vocabSize: number;
  readonly tokens: readonly string[];
  readonly spm: boolean;
  readonly w: WeightMaker;
  readonly common: Readonly<Record<string, unknown>>;
}

/** A decoder's bos/eos ids: `<s>`/`</s>` for the SentencePiece tokenizer, else `<|endoftext|>` for both. */
function decoderIds(g: Gen): { bos_token_id: number; eos_token_id: number } {
  const eos = g.tokens.indexOf(g.spm ? "</s>" : ENDOFTEXT);
  return { bos_token_id: g.spm ? g.tokens.indexOf("<s>") : eos, eos_token_id: eos };
}

/** GPT-2 as GPT2LMHeadModel.save_pretrained writes it. */
function tinyGpt2(g: Gen): Record<string, unknown> {
  const { nLayers, vocabSize, w, common } = g;
  const ids = decoderIds(g);
  const d = 32;
  const config = {
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
  return config;
}

/** GPT-NeoX (Pythia): parallel residual, partial rotary (opts.rotaryPct), untied unless opts.tieEmbeddings. */
function tinyGptNeox(g: Gen): Record<string, unknown> {
  const { opts, nLayers, vocabSize, w, common } = g;
  const ids = decoderIds(g);
  const d = 32;
  const dMlp = 128;
  const tied = opts.tieEmbeddings ?? false;
  const config = {
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
  return config;
}

/** Llama (GQA, optional llama3 rope scaling) or Qwen2 (q/k/v biases, tied, sliding-window fields). */
function tinyLlamaLike(g: Gen, modelType: "llama" | "qwen2"): Record<string, unknown> {
  const { opts, nLayers, vocabSize, w, common } = g;
  const ids = decoderIds(g);
  const qwen = modelType === "qwen2";
  const d = 32;
  const nHeads = 4;
  const nKvHeads = 2;
  const dHead = d / nHeads;
  const dMlp = 64;
  const tied = opts.tieEmbeddings ?? qwen; // Qwen2.5's small models tie; Llama's do not
  const llama3 = (opts.ropeScaling ?? "none") === "llama3";
  if (llama3 && qwen) throw new Error('tinyModel: ropeScaling "llama3" is for llama only');
  const config = {
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
  return config;
}

/** BERT or RoBERTa (opts.roberta), with a sequence-classification or masked-LM head (opts.bertHead). */
function tinyBert(g: Gen): Record<string, unknown> {
  const { opts, nLayers, vocabSize, tokens, w, common } = g;
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
  const config = {
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
  return config;
}

/** One generator per model type: each writes its checkpoint's tensors and returns its config.json. */
const GENERATORS: { readonly [T in TinyModelType]: (g: Gen) => Record<string, unknown> } = {
  gpt2: tinyGpt2,
  llama: (g) => tinyLlamaLike(g, "llama"),
  qwen2: (g) => tinyLlamaLike(g, "qwen2"),
  gpt_neox: tinyGptNeox,
  bert: tinyBert,
};

/** Generates a tiny model of `modelType`: config, tokenizer and weights, all deterministic in `opts.seed`. */
export function tinyModel(modelType: TinyModelType, opts: TinyModelOptions = {}): TinyModel {
  const seed = opts.seed ?? 0;
  const nLayers = opts.nLayers ?? 2;
  const bert = modelType === "bert";
  const spm = opts.tokenizer === "sentencepiece";
  if (spm && modelType !== "llama") throw new Error('tinyModel: tokenizer "sentencepiece" is for llama only');
  const tokenizer = bert ? tinyWordPieceTokenizer() : spm ? tinySentencePieceTokenizer() : tinyByteLevelTokenizer();
  const tokens = tinyTokenList(tokenizer);
  const vocabSize = roundUp(tokens.length, opts.padVocabTo ?? 1);
  const w = new WeightMaker(seed);
  const common = { torch_dtype: "float32", transformers_version: TRANSFORMERS_VERSION };
  const config = GENERATORS[modelType]({ opts, nLayers, vocabSize, tokens, spm, w, common });

  const tokenizerConfig = spm
    ? {
        tokenizer_class: "LlamaTokenizer",
        add_bos_token: true,
        add_eos_token: false,
        bos_token: "<s>",
        eos_token: "</s>",
        unk_token: "<unk>",
        pad_token: null,
        legacy: true,
        model_max_length: MAX_POSITIONS,
        clean_up_tokenization_spaces: false,
      }
    : bert
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

// ——— a SentencePiece tokenizer ———

const SPM_SPECIALS = ["<unk>", "<s>", "</s>"];

/**
 * A Llama-2-style tokenizer.json (SentencePiece BPE with byte fallback, as transformers converts tokenizer.model):
 * `<unk>` `<s>` `</s>` (special), the 256 byte pieces `<0x00>`…, then pieces learned on TINY_CORPUS the textbook way
 * ("▁" before every word, most frequent pair first, ties to the smaller pair) in merge order, then the single
 * characters by frequency. The merges are what transformers' SentencePieceExtractor derives from that vocabulary:
 * every split of a piece into two pieces, pieces in vocabulary (score) order, splits by their halves' ids.
 *
 * @example
 * tinySentencePieceTokenizer().decoder // Replace "▁" → " ", ByteFallback, Fuse, Strip one leading space
 */
export function tinySentencePieceTokenizer(nMerges = 60): Record<string, unknown> {
  const counts = new Map<string, number>();
  for (const w of TINY_CORPUS.split(" ")) counts.set(`\u2581${w}`, (counts.get(`\u2581${w}`) ?? 0) + 1);
  let words = [...counts].map(([w, count]) => ({ syms: Array.from(w), count }));
  const charCounts = new Map<string, number>();
  for (const { syms, count } of words) for (const c of syms) charCounts.set(c, (charCounts.get(c) ?? 0) + count);
  const merged: string[] = [];
  while (merged.length < nMerges) {
    const pairs = new Map<string, number>();
    for (const { syms, count } of words)
      for (let i = 0; i + 1 < syms.length; i++)
        pairs.set(`${syms[i]}\0${syms[i + 1]}`, (pairs.get(`${syms[i]}\0${syms[i + 1]}`) ?? 0) + count);
    let best: string | undefined;
    for (const [k, n] of pairs)
      if (best === undefined || n > (pairs.get(best) as number) || (n === pairs.get(best) && k < best)) best = k;
    if (best === undefined) break;
    const [a, b] = best.split("\0") as [string, string];
    merged.push(a + b);
    words = words.map(({ syms, count }) => {
      const out: string[] = [];
      for (let i = 0; i < syms.length; i++) {
        const pair = syms[i] === a && syms[i + 1] === b;
        out.push(pair ? a + b : (syms[i] as string));
        if (pair) i++;
      }
      return { syms: out, count };
    });
  }
  const chars = [...charCounts].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).map(([c]) => c);
  const bytes = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
  const pieces = [...SPM_SPECIALS, ...bytes, ...new Set([...merged, ...chars])];
  const vocab = Object.fromEntries(pieces.map((p, i) => [p, i]));
  const merges: string[] = [];
  for (const piece of pieces) {
    const cs = Array.from(piece);
    const splits: [string, string][] = [];
    for (let k = 1; k < cs.length; k++) {
      const [l, r] = [cs.slice(0, k).join(""), cs.slice(k).join("")];
      if (Object.hasOwn(vocab, l) && Object.hasOwn(vocab, r)) splits.push([l, r]);
    }
    splits.sort((x, y) => (vocab[x[0]] as number) - (vocab[y[0]] as number) || (vocab[x[1]] as number) - (vocab[y[1]] as number));
    merges.push(...splits.map(([l, r]) => `${l} ${r}`));
  }
  return sentencePieceBpeJson({
    vocab,
    merges,
    addedTokens: SPM_SPECIALS.map((content) => addedToken(vocab[content] as number, content)),
    unkToken: "<unk>",
    addPrefixSpace: true,
    postProcessor: bosEosTemplate([vocab["<s>"] as number, "<s>"], undefined),
  });
}

// ——— llama.cpp layout ———

export interface TinyGgufOptions {
  /** storage of 2-D weights; 1-D tensors (norms, biases, rope_freqs) stay F32 as llama.cpp keeps them. Default F32 */
  readonly type?: "F32" | "F16";
}

/**
 * Llama 3's rope scaling of a config.json as the divisors llama.cpp stores in `rope_freqs.weight` (llama3FreqFactors).
 * @example llama3RopeFactors(tinyModel("llama", { ropeScaling: "llama3" }).config).length // dHead / 2
 */
export function llama3RopeFactors(config: Record<string, unknown>): Float32Array {
  const p = normalizeHfConfig(config, "config.json").positional;
  if (p.kind !== "rotary" || p.scaling.kind !== "llama3") throw new Error("llama3RopeFactors: the config has no Llama 3 scaling");
  return llama3FreqFactors(p.theta, p.rotaryDim, p.scaling);
}

/** The GGUF architecture llama.cpp's converter gives a tiny model type; bert has none here. */
export function ggufArchitectureOf(modelType: TinyModelType): "llama" | "qwen2" | "gpt2" | "gptneox" {
  const arch = GGUF_ARCHITECTURE_OF[modelType];
  if (arch === null) throw new Error("ggufFromTiny: bert has no GGUF layout here (normalizeGgufConfig reads none)");
  return arch;
}

/**
 * The GGUF that llama.cpp's convert_hf_to_gguf.py would write for a tiny llama, qwen2, gpt2 or gpt_neox model:
 * `hfToGguf` on its files, named `tiny-<model type>`.
 *
 * @example
 * const bytes = encodeGguf(ggufFromTiny(tinyModel("llama", { ropeScaling: "llama3" })));
 */
export function ggufFromTiny(model: TinyModel, opts: TinyGgufOptions = {}): GgufWriteInput {
  ggufArchitectureOf(model.modelType);
  const { config, tokenizer, tokenizerConfig, weights } = model;
  return hfToGguf({ config, tokenizer, tokenizerConfig, weights }, { type: opts.type ?? "F32", name: `tiny-${model.modelType}` });
}

/**
 * The `tokenizer.ggml.*` metadata llama.cpp's convert_hf_to_gguf.py writes for a tiny model's tokenizer
 * (`ggufTokenizerMetadata`; byte-level vocabularies get `tokenizer.ggml.pre` "gpt-2" without probing).
 *
 * @example
 * tinyGgufTokenizerMetadata(tinyModel("bert"))["tokenizer.ggml.model"] // { type: "string", value: "bert" }
 */
export function tinyGgufTokenizerMetadata(model: TinyModel): Record<string, GgufValue> {
  return ggufTokenizerMetadata(model);
}
