// Config normalization: a Hugging Face `config.json` or a GGUF header becomes one `ModelConfig`, plain data
// that an architecture file reads without knowing which model type or file format it came from. Every
// difference between model types (norm kind, activation, biases, rotary layout, weight layout) is a field
// here, so shared code never asks for a model's name. `family` only picks the architecture file.
//
// Validation is strict: a size that is missing, not a positive integer, or inconsistent with another size
// is a ModelFormatError naming the file and the config key, before any weight is read.

import { ModelFormatError, show } from "@llmdbg/formats";

/** The architecture file that runs the model. Only for choosing that file: behaviour comes from the other fields. */
export type ArchitectureFamily = "gpt2" | "llama" | "gpt_neox" | "bert";

/** The `model_type` values of `config.json` that `normalizeHfConfig` accepts. */
export type HfModelType = "gpt2" | "llama" | "mistral" | "qwen2" | "gpt_neox" | "bert" | "roberta";

/** The `general.architecture` values that `normalizeGgufConfig` accepts (llama.cpp writes Mistral as `llama`). */
export type GgufArchitecture = "llama" | "qwen2" | "gpt2" | "gptneox";

/** `gelu_tanh`: the tanh approximation (GPT-2's gelu_new); `gelu_erf`: exact GELU (BERT, GPT-NeoX). */
export type Activation = "gelu_tanh" | "gelu_erf" | "silu" | "relu";

/** How rotary frequencies are stretched for long contexts. */
export type RopeScaling =
  | { readonly kind: "none" }
  /** every position is divided by `factor` */
  | { readonly kind: "linear"; readonly factor: number }
  /** Llama 3.1's piecewise rescaling of the inverse frequencies by wavelength */
  | {
      readonly kind: "llama3";
      readonly factor: number;
      readonly lowFreqFactor: number;
      readonly highFreqFactor: number;
      /** the context length the frequencies were trained at */
      readonly originalMaxPositions: number;
    }
  /**
   * Inverse frequency i is divided by element i of a 1-D tensor in the checkpoint (rotaryDim / 2 values).
   * llama.cpp stores Llama 3 scaling this way, as `rope_freqs.weight`, instead of in the metadata.
   */
  | { readonly kind: "freqFactors"; readonly tensor: string };

export type PositionalEncoding =
  /** a learned table of absolute position embeddings added to the token embeddings */
  | { readonly kind: "learned" }
  | {
      readonly kind: "rotary";
      /** the base of the inverse frequencies: theta^(-2i / rotaryDim) */
      readonly theta: number;
      /** rotated leading dimensions of each head (even, <= dHead); the rest pass through (GPT-NeoX) */
      readonly rotaryDim: number;
      /**
       * false: rotate-half pairs (i, i + rotaryDim/2), as in Hugging Face checkpoints; true: adjacent pairs
       * (2i, 2i + 1), which llama.cpp's converter bakes into Llama's q/k weights by permuting their rows.
       */
      readonly interleaved: boolean;
      readonly scaling: RopeScaling;
    };

/** Hugging Face's `problem_type`: which loss the classifier was trained with (null: inferred from the labels). */
export type ProblemType = "single_label_classification" | "multi_label_classification" | "regression";

export interface ClassifierHead {
  /** label names by output index (`id2label`) */
  readonly labels: readonly string[];
  readonly problemType: ProblemType | null;
}

/**
 * Where the config came from: names the checkpoint's tensor-naming scheme, and nothing else may branch on it;
 * `file` is the config.json or .gguf path that errors about the config name.
 */
export type ConfigSource =
  | { readonly format: "hf"; readonly modelType: HfModelType; readonly file: string }
  | { readonly format: "gguf"; readonly architecture: GgufArchitecture; readonly file: string };

/** A transformer's hyperparameters, normalized: the same fields for every supported model type and file format. */
export interface ModelConfig {
  /** which architecture file runs it; never branch on it elsewhere */
  readonly family: ArchitectureFamily;
  readonly source: ConfigSource;
  /** width of the residual stream */
  readonly dModel: number;
  readonly nLayers: number;
  /** query heads */
  readonly nHeads: number;
  /** key/value heads (divides nHeads; < nHeads is grouped-query attention) */
  readonly nKvHeads: number;
  /** width of one head; nHeads * dHead need not equal dModel */
  readonly dHead: number;
  /** hidden width of the MLP (of each of gate and up when gatedMlp) */
  readonly dMlp: number;
  readonly vocabSize: number;
  /** the longest sequence the position encoding supports */
  readonly maxPositions: number;
  /** layernorm has a weight and a bias; rmsnorm a weight only */
  readonly norm: { readonly kind: "layernorm" | "rmsnorm"; readonly eps: number };
  /** pre: x + f(norm(x)) and a final norm; post: norm(x + f(x)), a norm on the embeddings, no final norm (BERT) */
  readonly normPlacement: "pre" | "post";
  readonly activation: Activation;
  /** MLP is down(act(gate(x)) * up(x)) (SwiGLU) instead of down(act(up(x))) */
  readonly gatedMlp: boolean;
  /**
   * Blocks have attention and no MLP: x + attn(ln1(x)), no second norm (TransformerLens's `attn_only`, read from
   * config.json's `attn_only`; transformers has no such option, so such a checkpoint loads in llmdbg only)
   */
  readonly attnOnly: boolean;
  readonly positional: PositionalEncoding;
  /** attention and MLP both read the block input: x + attn(ln1(x)) + mlp(ln2(x)) (GPT-NeoX, Pythia) */
  readonly parallelResidual: boolean;
  /** false: every position attends to every position (BERT) */
  readonly causal: boolean;
  /** q, k and v projections have biases */
  readonly qkvBias: boolean;
  /** the attention output projection has a bias */
  readonly oBias: boolean;
  /** the MLP projections have biases */
  readonly mlpBias: boolean;
  /** the unembedding is the transposed token embedding */
  readonly tiedEmbeddings: boolean;
  /** rows of the token-type (segment) embedding; 0 when there is none */
  readonly typeVocabSize: number;
  /** position p reads row p + positionOffset of the learned position table (RoBERTa: pad_token_id + 1) */
  readonly positionOffset: number;
  /** linear weights as stored: [out, in] (torch Linear, GGUF) or [in, out] (GPT-2's Conv1D) */
  readonly weightLayout: "out_in" | "in_out";
  /**
   * separate: q, k, v are three matrices; fused: one matrix, rows [q; k; v] (GPT-2 c_attn, GGUF attn_qkv);
   * fused_per_head: one matrix whose rows are grouped [head, (q, k, v), dHead] (GPT-NeoX query_key_value)
   */
  readonly qkvLayout: "separate" | "fused" | "fused_per_head";
  /** a sequence-classification head instead of the LM head; null for language models */
  readonly classifier: ClassifierHead | null;
  readonly bosTokenId: number | null;
  /** any of these ends generation */
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number | null;
  /** layers with index >= fromLayer attend only to keys with query - key < size; null: full attention */
  readonly slidingWindow: { readonly size: number; readonly fromLayer: number } | null;
}

// ——— which key of the file a field came from ———

// An architecture that refuses a config value names the file's key, not the normalized field: a user edits
// `n_head` in config.json or `gpt2.attention.key_length` in a GGUF, never `dHead`. The fields a normalizer derives
// from the model type alone (gatedMlp, qkvLayout, …) come from `model_type` / `general.architecture`.
type KeyTable = Partial<Record<keyof ModelConfig, string>>;
const COMMON_HF_KEYS: KeyTable = {
  vocabSize: "vocab_size",
  classifier: "architectures",
  bosTokenId: "bos_token_id",
  eosTokenIds: "eos_token_id",
  padTokenId: "pad_token_id",
  tiedEmbeddings: "tie_word_embeddings",
  attnOnly: "attn_only",
};
const LLAMA_HF_KEYS: KeyTable = {
  dModel: "hidden_size",
  nLayers: "num_hidden_layers",
  nHeads: "num_attention_heads",
  nKvHeads: "num_key_value_heads",
  dHead: "head_dim",
  dMlp: "intermediate_size",
  maxPositions: "max_position_embeddings",
  norm: "rms_norm_eps",
  activation: "hidden_act",
  positional: "rope_scaling",
  qkvBias: "attention_bias",
  oBias: "attention_bias",
  mlpBias: "mlp_bias",
  slidingWindow: "sliding_window",
};
const BERT_HF_KEYS: KeyTable = {
  dModel: "hidden_size",
  nLayers: "num_hidden_layers",
  nHeads: "num_attention_heads",
  nKvHeads: "num_attention_heads",
  dHead: "num_attention_heads",
  dMlp: "intermediate_size",
  maxPositions: "max_position_embeddings",
  norm: "layer_norm_eps",
  activation: "hidden_act",
  typeVocabSize: "type_vocab_size",
  positionOffset: "pad_token_id",
};
const HF_KEYS: { readonly [K in HfModelType]: KeyTable } = {
  gpt2: {
    dModel: "n_embd",
    nLayers: "n_layer",
    nHeads: "n_head",
    nKvHeads: "n_head",
    dHead: "n_head",
    dMlp: "n_inner",
    maxPositions: "n_positions",
    norm: "layer_norm_epsilon",
    activation: "activation_function",
  },
  llama: LLAMA_HF_KEYS,
  mistral: LLAMA_HF_KEYS,
  qwen2: LLAMA_HF_KEYS,
  gpt_neox: {
    ...BERT_HF_KEYS,
    positional: "rotary_pct",
    parallelResidual: "use_parallel_residual",
    qkvBias: "attention_bias",
    oBias: "attention_bias",
  },
  bert: BERT_HF_KEYS,
  roberta: BERT_HF_KEYS,
};
const GGUF_KEYS: KeyTable = {
  dModel: "embedding_length",
  nLayers: "block_count",
  nHeads: "attention.head_count",
  nKvHeads: "attention.head_count_kv",
  dHead: "attention.key_length",
  dMlp: "feed_forward_length",
  maxPositions: "context_length",
  positional: "rope.dimension_count",
  parallelResidual: "use_parallel_residual",
  slidingWindow: "attention.sliding_window",
};
const GGUF_GLOBAL_KEYS: KeyTable = {
  vocabSize: "tokenizer.ggml.tokens",
  bosTokenId: "tokenizer.ggml.bos_token_id",
  eosTokenIds: "tokenizer.ggml.eos_token_id",
  padTokenId: "tokenizer.ggml.padding_token_id",
};

/**
 * The key of the config file that sets `field` of `config`, for errors about it: `n_head` in a GPT-2 config.json,
 * `gpt2.attention.key_length` in a GGUF; the model type's key for a field the model type alone decides.
 *
 * @example configKey(gpt2GgufConfig, "dHead") // "gpt2.attention.key_length"
 */
export function configKey(config: ModelConfig, field: keyof ModelConfig): string {
  const src = config.source;
  if (src.format === "hf") return HF_KEYS[src.modelType][field] ?? COMMON_HF_KEYS[field] ?? "model_type";
  const global = GGUF_GLOBAL_KEYS[field];
  if (global !== undefined) return global;
  const key = GGUF_KEYS[field];
  // a head width the file does not state is embedding_length / head_count
  if (field === "dHead" && config.dHead * config.nHeads === config.dModel) return `${src.architecture}.attention.head_count`;
  return key === undefined ? "general.architecture" : `${src.architecture}.${key}`;
}

// ——— Hugging Face config.json ———

/** Reads one JSON object's keys with the checks every config needs; `prefix` names nested objects in errors. */
class HfFields {
  constructor(
    readonly obj: { readonly [key: string]: unknown },
    readonly file: string,
    readonly prefix = "",
  ) {}

  fail(key: string, detail: string): never {
    throw new ModelFormatError(this.file, this.prefix + key, detail);
  }

  /** present and not null (Hugging Face writes null for "use the default") */
  has(key: string): boolean {
    return Object.hasOwn(this.obj, key) && this.obj[key] !== null;
  }

  private value<T>(key: string, fallback: T | undefined, what: string, ok: (v: unknown) => v is T): T {
    if (!this.has(key)) {
      if (fallback !== undefined) return fallback;
      this.fail(key, `expected ${what}, got nothing`);
    }
    const v = this.obj[key];
    if (!ok(v)) this.fail(key, `expected ${what}, got ${show(v)}`);
    return v;
  }

  posInt(key: string, fallback?: number): number {
    return this.value(key, fallback, "a positive integer", isPosInt);
  }

  nonNegInt(key: string, fallback?: number): number {
    return this.value(key, fallback, "a non-negative integer", isNonNegInt);
  }

  /** finite and > 0 */
  posNum(key: string, fallback?: number): number {
    return this.value(key, fallback, "a positive number", isPosNum);
  }

  bool(key: string, fallback?: boolean): boolean {
    return this.value(key, fallback, "true or false", (v): v is boolean => typeof v === "boolean");
  }

  str(key: string, fallback?: string): string {
    return this.value(key, fallback, "a string", (v): v is string => typeof v === "string");
  }

  /** one of a closed set of strings */
  oneOf<T extends string>(key: string, allowed: readonly T[], fallback?: T): T {
    const what = `one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`;
    return this.value(key, fallback, what, (v): v is T => typeof v === "string" && (allowed as readonly string[]).includes(v));
  }

  /** a nested object, or null when absent or null */
  object(key: string): HfFields | null {
    if (!this.has(key)) return null;
    const v = this.obj[key];
    if (!isObject(v)) this.fail(key, `expected an object or null, got ${show(v)}`);
    return new HfFields(v, this.file, `${this.prefix}${key}.`);
  }

  /** a positive integer that divides `total` (named `totalKey` in the message) */
  divisor(key: string, totalKey: string, total: number, fallback?: number): number {
    const v = this.value(key, fallback, `a positive integer dividing ${totalKey} (${total})`, isPosInt);
    if (total % v !== 0) this.fail(key, `expected a positive integer dividing ${totalKey} (${total}), got ${v}`);
    return v;
  }

  /** a token id below vocabSize, or null when absent */
  tokenId(key: string, vocabSize: number): number | null {
    if (!this.has(key)) return null;
    return this.checkId(key, this.obj[key], vocabSize);
  }

  /** a token id or a list of them (Llama 3 instruct lists several end-of-turn ids) */
  tokenIds(key: string, vocabSize: number): number[] {
    if (!this.has(key)) return [];
    const v = this.obj[key];
    return Array.isArray(v) ? v.map((x, i) => this.checkId(`${key}[${i}]`, x, vocabSize)) : [this.checkId(key, v, vocabSize)];
  }

  private checkId(key: string, v: unknown, vocabSize: number): number {
    if (!isNonNegInt(v) || v >= vocabSize) this.fail(key, `expected a token id in [0, ${vocabSize}), got ${show(v)}`);
    return v;
  }

  /** Rejects a key whose value is not what our architectures implement, instead of silently computing something else. */
  unsupported(key: string, expected: unknown, why: string): void {
    if (this.has(key) && this.obj[key] !== expected)
      this.fail(key, `${why}: only ${show(expected)} is supported, got ${show(this.obj[key])}`);
  }
}

const isObject = (v: unknown): v is { readonly [key: string]: unknown } =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isPosInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;
const isNonNegInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isPosNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v > 0;

const HF_ACTIVATIONS: ReadonlyMap<string, Activation> = new Map([
  ["gelu_new", "gelu_tanh"],
  ["gelu_pytorch_tanh", "gelu_tanh"],
  ["gelu", "gelu_erf"],
  ["silu", "silu"],
  ["swish", "silu"],
  ["relu", "relu"],
]);

function activation(f: HfFields, key: string, fallback: string): Activation {
  const name = f.str(key, fallback);
  const a = HF_ACTIVATIONS.get(name);
  if (a === undefined) f.fail(key, `unsupported activation ${show(name)}; supported: ${[...HF_ACTIVATIONS.keys()].join(", ")}`);
  return a;
}

type HfRopeType = "default" | "linear" | "llama3";

const ropeScalings: { readonly [K in HfRopeType]: (s: HfFields) => RopeScaling } = {
  default: () => ({ kind: "none" }),
  linear: (s) => ({ kind: "linear", factor: s.posNum("factor") }),
  llama3: (s) => {
    const lowFreqFactor = s.posNum("low_freq_factor");
    const highFreqFactor = s.posNum("high_freq_factor");
    // the smoothing interpolates between the two wavelengths and divides by their difference
    if (highFreqFactor <= lowFreqFactor)
      s.fail("high_freq_factor", `expected more than low_freq_factor (${lowFreqFactor}), got ${highFreqFactor}`);
    return {
      kind: "llama3",
      factor: s.posNum("factor"),
      lowFreqFactor,
      highFreqFactor,
      originalMaxPositions: s.posInt("original_max_position_embeddings"),
    };
  },
};

function ropeScaling(f: HfFields): RopeScaling {
  const s = f.object("rope_scaling");
  if (s === null) return { kind: "none" };
  // transformers renamed `type` to `rope_type`; configs carry either, some both
  const key = s.has("rope_type") ? "rope_type" : "type";
  const type = s.str(key);
  if (s.has("rope_type") && s.has("type") && s.str("type") !== type) s.fail("type", `disagrees with rope_type ${show(type)}`);
  if (!Object.hasOwn(ropeScalings, type)) {
    s.fail(key, `unsupported RoPE scaling ${show(type)}; supported: ${Object.keys(ropeScalings).join(", ")}`);
  }
  return ropeScalings[type as HfRopeType](s);
}

const PROBLEM_TYPES: readonly ProblemType[] = ["single_label_classification", "multi_label_classification", "regression"];

/**
 * Transformers builds a classification head when the checkpoint's class is `*ForSequenceClassification`; the
 * labels come from `id2label` (keys "0".."n-1"), else `num_labels` generic names.
 */
function classifier(f: HfFields): ClassifierHead | null {
  if (!f.has("architectures")) return null;
  const arch = f.obj.architectures;
  if (!Array.isArray(arch) || !arch.every((a) => typeof a === "string"))
    f.fail("architectures", `expected a list of strings, got ${show(arch)}`);
  if (!arch.some((a: string) => a.endsWith("ForSequenceClassification"))) return null;
  const problemType = f.has("problem_type") ? f.oneOf("problem_type", PROBLEM_TYPES) : null;
  const id2label = f.object("id2label");
  let labels: string[];
  if (id2label === null) {
    labels = Array.from({ length: f.posInt("num_labels", 2) }, (_, i) => `LABEL_${i}`);
  } else {
    const keys = Object.keys(id2label.obj);
    labels = keys.map(() => "");
    for (const k of keys) {
      const i = Number(k);
      if (!/^(0|[1-9][0-9]*)$/.test(k) || i >= keys.length)
        id2label.fail(k, `expected the keys to be the indices 0..${keys.length - 1}`);
      labels[i] = id2label.str(k);
    }
    if (labels.length === 0) f.fail("id2label", "expected at least one label");
    if (f.has("num_labels") && f.posInt("num_labels") !== labels.length) {
      f.fail("num_labels", `expected the number of id2label entries (${labels.length}), got ${show(f.obj.num_labels)}`);
    }
  }
  return { labels, problemType };
}

/** What every family shares: ids, vocabulary, classifier, attention-only blocks (each architecture says if it computes them). */
function common(f: HfFields, vocabSize: number) {
  return {
    vocabSize,
    attnOnly: f.bool("attn_only", false),
    classifier: classifier(f),
    bosTokenId: f.tokenId("bos_token_id", vocabSize),
    eosTokenIds: f.tokenIds("eos_token_id", vocabSize),
    padTokenId: f.tokenId("pad_token_id", vocabSize),
  };
}

/** Per-model-type differences of the Llama-style decoders, as data. */
interface LlamaVariant {
  /** "attention_bias": read the flag (default false) for q, k, v and o; else fixed */
  readonly attnBias: "attention_bias" | { readonly qkv: boolean; readonly o: boolean };
  /** whether the config may carry `mlp_bias` (only Llama's does) */
  readonly mlpBiasKey: boolean;
  readonly sliding: "none" | "mistral" | "qwen2";
}

function llamaLike(f: HfFields, modelType: "llama" | "mistral" | "qwen2", v: LlamaVariant): ModelConfig {
  const dModel = f.posInt("hidden_size");
  const nLayers = f.posInt("num_hidden_layers");
  const nHeads = f.has("head_dim") ? f.posInt("num_attention_heads") : f.divisor("num_attention_heads", "hidden_size", dModel);
  const nKvHeads = f.divisor("num_key_value_heads", "num_attention_heads", nHeads, nHeads);
  const dHead = f.posInt("head_dim", dModel / nHeads);
  if (dHead % 2 !== 0)
    f.fail(f.has("head_dim") ? "head_dim" : "num_attention_heads", `rotary needs an even head width, got ${dHead}`);
  const bias = v.attnBias === "attention_bias" ? f.bool("attention_bias", false) : null;
  f.unsupported("pretraining_tp", 1, "tensor-parallel slicing changes the arithmetic");
  let slidingWindow: ModelConfig["slidingWindow"] = null;
  if (v.sliding === "mistral" && f.has("sliding_window")) slidingWindow = { size: f.posInt("sliding_window"), fromLayer: 0 };
  if (v.sliding === "qwen2" && f.bool("use_sliding_window", false)) {
    slidingWindow = { size: f.posInt("sliding_window"), fromLayer: f.nonNegInt("max_window_layers", 28) };
  }
  return {
    family: "llama",
    source: { format: "hf", modelType, file: f.file },
    dModel,
    nLayers,
    nHeads,
    nKvHeads,
    dHead,
    dMlp: f.posInt("intermediate_size"),
    maxPositions: f.posInt("max_position_embeddings"),
    norm: { kind: "rmsnorm", eps: f.posNum("rms_norm_eps", 1e-6) },
    normPlacement: "pre",
    activation: activation(f, "hidden_act", "silu"),
    gatedMlp: true,
    positional: {
      kind: "rotary",
      theta: f.posNum("rope_theta", 10000),
      rotaryDim: dHead,
      interleaved: false,
      scaling: ropeScaling(f),
    },
    parallelResidual: false,
    causal: true,
    qkvBias: bias ?? (v.attnBias !== "attention_bias" && v.attnBias.qkv),
    oBias: bias ?? (v.attnBias !== "attention_bias" && v.attnBias.o),
    mlpBias: v.mlpBiasKey ? f.bool("mlp_bias", false) : false,
    tiedEmbeddings: f.bool("tie_word_embeddings", false),
    typeVocabSize: 0,
    positionOffset: 0,
    weightLayout: "out_in",
    qkvLayout: "separate",
    slidingWindow,
    ...common(f, f.posInt("vocab_size")),
  };
}

function bertLike(f: HfFields, modelType: "bert" | "roberta"): ModelConfig {
  const dModel = f.posInt("hidden_size");
  const nHeads = f.divisor("num_attention_heads", "hidden_size", dModel);
  f.unsupported("position_embedding_type", "absolute", "relative position embeddings are not implemented");
  const vocabSize = f.posInt("vocab_size");
  const c = common(f, vocabSize);
  // RoBERTa numbers positions from padding_idx + 1 (fairseq's make_positions), so its table is 2 rows longer
  let positionOffset = 0;
  if (modelType === "roberta") {
    if (c.padTokenId === null) f.fail("pad_token_id", "expected a token id: RoBERTa's positions start after it, got nothing");
    positionOffset = c.padTokenId + 1;
  }
  const tableSize = f.posInt("max_position_embeddings");
  if (tableSize <= positionOffset) {
    f.fail(
      "max_position_embeddings",
      `expected more than the position offset pad_token_id + 1 (${positionOffset}), got ${tableSize}`,
    );
  }
  return {
    family: "bert",
    source: { format: "hf", modelType, file: f.file },
    dModel,
    nLayers: f.posInt("num_hidden_layers"),
    nHeads,
    nKvHeads: nHeads,
    dHead: dModel / nHeads,
    dMlp: f.posInt("intermediate_size"),
    maxPositions: tableSize - positionOffset,
    norm: { kind: "layernorm", eps: f.posNum("layer_norm_eps", 1e-12) },
    normPlacement: "post",
    activation: activation(f, "hidden_act", "gelu"),
    gatedMlp: false,
    positional: { kind: "learned" },
    parallelResidual: false,
    causal: false,
    qkvBias: true,
    oBias: true,
    mlpBias: true,
    tiedEmbeddings: f.bool("tie_word_embeddings", true),
    typeVocabSize: f.nonNegInt("type_vocab_size", 2),
    positionOffset,
    weightLayout: "out_in",
    qkvLayout: "separate",
    slidingWindow: null,
    ...c,
  };
}

const hfNormalizers: { readonly [K in HfModelType]: (f: HfFields) => ModelConfig } = {
  gpt2: (f) => {
    const dModel = f.posInt("n_embd");
    const nHeads = f.divisor("n_head", "n_embd", dModel);
    f.unsupported("scale_attn_weights", true, "attention without the 1/sqrt(d_head) scale is not implemented");
    f.unsupported("scale_attn_by_inverse_layer_idx", false, "per-layer attention scaling is not implemented");
    return {
      family: "gpt2",
      source: { format: "hf", modelType: "gpt2", file: f.file },
      dModel,
      nLayers: f.posInt("n_layer"),
      nHeads,
      nKvHeads: nHeads,
      dHead: dModel / nHeads,
      dMlp: f.posInt("n_inner", 4 * dModel),
      maxPositions: f.posInt("n_positions"),
      norm: { kind: "layernorm", eps: f.posNum("layer_norm_epsilon", 1e-5) },
      normPlacement: "pre",
      activation: activation(f, "activation_function", "gelu_new"),
      gatedMlp: false,
      positional: { kind: "learned" },
      parallelResidual: false,
      causal: true,
      qkvBias: true,
      oBias: true,
      mlpBias: true,
      tiedEmbeddings: f.bool("tie_word_embeddings", true),
      typeVocabSize: 0,
      positionOffset: 0,
      weightLayout: "in_out",
      qkvLayout: "fused",
      slidingWindow: null,
      ...common(f, f.posInt("vocab_size")),
    };
  },
  llama: (f) => llamaLike(f, "llama", { attnBias: "attention_bias", mlpBiasKey: true, sliding: "none" }),
  mistral: (f) => llamaLike(f, "mistral", { attnBias: { qkv: false, o: false }, mlpBiasKey: false, sliding: "mistral" }),
  // Qwen2's q/k/v projections always carry biases and its o_proj never does; the config has no flag for it
  qwen2: (f) => llamaLike(f, "qwen2", { attnBias: { qkv: true, o: false }, mlpBiasKey: false, sliding: "qwen2" }),
  gpt_neox: (f) => {
    const dModel = f.posInt("hidden_size");
    const nHeads = f.divisor("num_attention_heads", "hidden_size", dModel);
    const dHead = dModel / nHeads;
    // newer transformers call rotary_pct partial_rotary_factor and rotary_emb_base rope_theta
    const pctKey = f.has("rotary_pct") || !f.has("partial_rotary_factor") ? "rotary_pct" : "partial_rotary_factor";
    const pct = f.posNum(pctKey, 0.25);
    const rotaryDim = Math.floor(dHead * pct); // transformers: int(head_size * rotary_pct)
    if (pct > 1 || rotaryDim === 0 || rotaryDim % 2 !== 0) {
      f.fail(
        pctKey,
        `expected a fraction in (0, 1] giving an even number of rotary dims of head width ${dHead}, got ${pct} (${rotaryDim} dims)`,
      );
    }
    const thetaKey = f.has("rotary_emb_base") || !f.has("rope_theta") ? "rotary_emb_base" : "rope_theta";
    const bias = f.bool("attention_bias", true);
    return {
      family: "gpt_neox",
      source: { format: "hf", modelType: "gpt_neox", file: f.file },
      dModel,
      nLayers: f.posInt("num_hidden_layers"),
      nHeads,
      nKvHeads: nHeads,
      dHead,
      dMlp: f.posInt("intermediate_size"),
      maxPositions: f.posInt("max_position_embeddings"),
      norm: { kind: "layernorm", eps: f.posNum("layer_norm_eps", 1e-5) },
      normPlacement: "pre",
      activation: activation(f, "hidden_act", "gelu"),
      gatedMlp: false,
      positional: { kind: "rotary", theta: f.posNum(thetaKey, 10000), rotaryDim, interleaved: false, scaling: ropeScaling(f) },
      parallelResidual: f.bool("use_parallel_residual", true),
      causal: true,
      qkvBias: bias,
      oBias: bias,
      mlpBias: true,
      tiedEmbeddings: f.bool("tie_word_embeddings", false),
      typeVocabSize: 0,
      positionOffset: 0,
      weightLayout: "out_in",
      qkvLayout: "fused_per_head",
      slidingWindow: null,
      ...common(f, f.posInt("vocab_size")),
    };
  },
  bert: (f) => bertLike(f, "bert"),
  roberta: (f) => bertLike(f, "roberta"),
};

/**
 * Normalizes a Hugging Face `config.json` (already parsed, e.g. with `parseJsonStrict`) into a `ModelConfig`.
 * Throws ModelFormatError naming `file` and the offending key when a field is missing, mistyped, out of range
 * or inconsistent, and for model types and options the architectures do not implement.
 *
 * @example
 * const cfg = normalizeHfConfig(parseJsonStrict(readFileSync("gpt2/config.json", "utf8")), "gpt2/config.json");
 * cfg.dModel // 768
 */
export function normalizeHfConfig(json: unknown, file: string): ModelConfig {
  if (!isObject(json)) throw new ModelFormatError(file, "(top level)", `expected a JSON object, got ${show(json)}`);
  const f = new HfFields(json, file);
  const type = f.str("model_type");
  if (!Object.hasOwn(hfNormalizers, type)) {
    f.fail("model_type", `unsupported model type ${show(type)}; supported: ${Object.keys(hfNormalizers).join(", ")}`);
  }
  return hfNormalizers[type as HfModelType](f);
}
