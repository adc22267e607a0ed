// Config normalization: real config.json files of each supported family come out as the expected ModelConfig,
// and each malformed one is a ModelFormatError naming the file and the key.

import type { GgufValue } from "@llmdbg/formats";
import { ModelFormatError, parseJsonStrict } from "@llmdbg/formats";
import { describe, expect, it } from "vitest";
import { normalizeHfConfig } from "../src/config.js";
import { normalizeGgufConfig } from "../src/config-gguf.js";

type Obj = Record<string, unknown>;

/** Through JSON text and the strict parser, as a loader would read config.json. */
const hf = (c: Obj) => normalizeHfConfig(parseJsonStrict(JSON.stringify(c)), "config.json");

function formatError(run: () => unknown): ModelFormatError {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(ModelFormatError);
    return e as ModelFormatError;
  }
  throw new Error("no error");
}

// The public config.json files, trimmed of nothing the loader reads (dropout and init fields kept as they are).
const GPT2: Obj = {
  activation_function: "gelu_new",
  architectures: ["GPT2LMHeadModel"],
  attn_pdrop: 0.1,
  bos_token_id: 50256,
  embd_pdrop: 0.1,
  eos_token_id: 50256,
  initializer_range: 0.02,
  layer_norm_epsilon: 1e-5,
  model_type: "gpt2",
  n_ctx: 1024,
  n_embd: 768,
  n_head: 12,
  n_layer: 12,
  n_positions: 1024,
  resid_pdrop: 0.1,
  summary_activation: null,
  summary_first_dropout: 0.1,
  summary_proj_to_labels: true,
  summary_type: "cls_index",
  summary_use_proj: true,
  task_specific_params: { "text-generation": { do_sample: true, max_length: 50 } },
  vocab_size: 50257,
};

const LLAMA_3_2_1B: Obj = {
  architectures: ["LlamaForCausalLM"],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 128000,
  eos_token_id: 128001,
  head_dim: 64,
  hidden_act: "silu",
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 8192,
  max_position_embeddings: 131072,
  mlp_bias: false,
  model_type: "llama",
  num_attention_heads: 32,
  num_hidden_layers: 16,
  num_key_value_heads: 8,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: {
    factor: 32.0,
    high_freq_factor: 4.0,
    low_freq_factor: 1.0,
    original_max_position_embeddings: 8192,
    rope_type: "llama3",
  },
  rope_theta: 500000.0,
  tie_word_embeddings: true,
  torch_dtype: "bfloat16",
  transformers_version: "4.45.0.dev0",
  use_cache: true,
  vocab_size: 128256,
};

const MISTRAL_7B: Obj = {
  architectures: ["MistralForCausalLM"],
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: "silu",
  hidden_size: 4096,
  initializer_range: 0.02,
  intermediate_size: 14336,
  max_position_embeddings: 32768,
  model_type: "mistral",
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  sliding_window: 4096,
  tie_word_embeddings: false,
  torch_dtype: "bfloat16",
  transformers_version: "4.34.0.dev0",
  use_cache: true,
  vocab_size: 32000,
};

const QWEN2_0_5B: Obj = {
  architectures: ["Qwen2ForCausalLM"],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151643,
  hidden_act: "silu",
  hidden_size: 896,
  initializer_range: 0.02,
  intermediate_size: 4864,
  max_position_embeddings: 131072,
  max_window_layers: 24,
  model_type: "qwen2",
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 131072,
  tie_word_embeddings: true,
  torch_dtype: "bfloat16",
  transformers_version: "4.40.1",
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

const SMOLLM_135M: Obj = {
  architectures: ["LlamaForCausalLM"],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 0,
  eos_token_id: 0,
  hidden_act: "silu",
  hidden_size: 576,
  initializer_range: 0.02,
  intermediate_size: 1536,
  max_position_embeddings: 2048,
  model_type: "llama",
  num_attention_heads: 9,
  num_hidden_layers: 30,
  num_key_value_heads: 3,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  rope_theta: 10000.0,
  tie_word_embeddings: true,
  torch_dtype: "float32",
  transformers_version: "4.39.3",
  use_cache: true,
  vocab_size: 49152,
};

const PYTHIA_70M: Obj = {
  architectures: ["GPTNeoXForCausalLM"],
  bos_token_id: 0,
  eos_token_id: 0,
  hidden_act: "gelu",
  hidden_size: 512,
  initializer_range: 0.02,
  intermediate_size: 2048,
  layer_norm_eps: 1e-5,
  max_position_embeddings: 2048,
  model_type: "gpt_neox",
  num_attention_heads: 8,
  num_hidden_layers: 6,
  rotary_emb_base: 10000,
  rotary_pct: 0.25,
  tie_word_embeddings: false,
  torch_dtype: "float16",
  transformers_version: "4.24.0",
  use_cache: true,
  use_parallel_residual: true,
  vocab_size: 50304,
};

const BERT_BASE_UNCASED: Obj = {
  architectures: ["BertForMaskedLM"],
  attention_probs_dropout_prob: 0.1,
  gradient_checkpointing: false,
  hidden_act: "gelu",
  hidden_dropout_prob: 0.1,
  hidden_size: 768,
  initializer_range: 0.02,
  intermediate_size: 3072,
  layer_norm_eps: 1e-12,
  max_position_embeddings: 512,
  model_type: "bert",
  num_attention_heads: 12,
  num_hidden_layers: 12,
  pad_token_id: 0,
  position_embedding_type: "absolute",
  transformers_version: "4.6.0.dev0",
  type_vocab_size: 2,
  use_cache: true,
  vocab_size: 30522,
};

// roberta-base fine-tuned for sentiment (the shape of e.g. a SST-2 checkpoint's config)
const ROBERTA_SST2: Obj = {
  architectures: ["RobertaForSequenceClassification"],
  attention_probs_dropout_prob: 0.1,
  bos_token_id: 0,
  classifier_dropout: null,
  eos_token_id: 2,
  hidden_act: "gelu",
  hidden_dropout_prob: 0.1,
  hidden_size: 768,
  id2label: { "0": "NEGATIVE", "1": "POSITIVE" },
  initializer_range: 0.02,
  intermediate_size: 3072,
  label2id: { NEGATIVE: 0, POSITIVE: 1 },
  layer_norm_eps: 1e-5,
  max_position_embeddings: 514,
  model_type: "roberta",
  num_attention_heads: 12,
  num_hidden_layers: 12,
  pad_token_id: 1,
  position_embedding_type: "absolute",
  problem_type: "single_label_classification",
  type_vocab_size: 1,
  use_cache: true,
  vocab_size: 50265,
};

describe("normalizeHfConfig: real configs", () => {
  it("GPT-2 small", () => {
    expect(hf(GPT2)).toEqual({
      family: "gpt2",
      source: { format: "hf", modelType: "gpt2", file: "config.json" },
      dModel: 768,
      nLayers: 12,
      nHeads: 12,
      nKvHeads: 12,
      dHead: 64,
      dMlp: 3072,
      vocabSize: 50257,
      maxPositions: 1024,
      norm: { kind: "layernorm", eps: 1e-5 },
      normPlacement: "pre",
      activation: "gelu_tanh",
      gatedMlp: false,
      attnOnly: false,
      positional: { kind: "learned" },
      parallelResidual: false,
      causal: true,
      qkvBias: true,
      oBias: true,
      mlpBias: true,
      tiedEmbeddings: true,
      typeVocabSize: 0,
      positionOffset: 0,
      weightLayout: "in_out",
      qkvLayout: "fused",
      classifier: null,
      bosTokenId: 50256,
      eosTokenIds: [50256],
      padTokenId: null,
      slidingWindow: null,
    });
  });

  it("Llama-3.2-1B: GQA, explicit head_dim, llama3 rope scaling, tied embeddings", () => {
    const c = hf(LLAMA_3_2_1B);
    expect(c).toMatchObject({
      family: "llama",
      source: { format: "hf", modelType: "llama", file: "config.json" },
      dModel: 2048,
      nLayers: 16,
      nHeads: 32,
      nKvHeads: 8,
      dHead: 64,
      dMlp: 8192,
      vocabSize: 128256,
      maxPositions: 131072,
      norm: { kind: "rmsnorm", eps: 1e-5 },
      activation: "silu",
      gatedMlp: true,
      attnOnly: false,
      parallelResidual: false,
      causal: true,
      qkvBias: false,
      oBias: false,
      mlpBias: false,
      tiedEmbeddings: true,
      weightLayout: "out_in",
      qkvLayout: "separate",
      bosTokenId: 128000,
      eosTokenIds: [128001],
      padTokenId: null,
      slidingWindow: null,
    });
    expect(c.positional).toEqual({
      kind: "rotary",
      theta: 500000,
      rotaryDim: 64,
      interleaved: false,
      scaling: { kind: "llama3", factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 },
    });
  });

  it("Llama 3 instruct lists several eos ids", () => {
    expect(hf({ ...LLAMA_3_2_1B, eos_token_id: [128001, 128008, 128009] }).eosTokenIds).toEqual([128001, 128008, 128009]);
  });

  it("Mistral-7B: sliding window from layer 0, untied, no biases", () => {
    const c = hf(MISTRAL_7B);
    expect(c).toMatchObject({
      family: "llama",
      source: { format: "hf", modelType: "mistral", file: "config.json" },
      dModel: 4096,
      nLayers: 32,
      nHeads: 32,
      nKvHeads: 8,
      dHead: 128,
      dMlp: 14336,
      vocabSize: 32000,
      maxPositions: 32768,
      tiedEmbeddings: false,
      qkvBias: false,
      oBias: false,
      slidingWindow: { size: 4096, fromLayer: 0 },
      bosTokenId: 1,
      eosTokenIds: [2],
    });
    expect(c.positional).toMatchObject({ kind: "rotary", theta: 10000, rotaryDim: 128, scaling: { kind: "none" } });
    expect(hf({ ...MISTRAL_7B, sliding_window: null }).slidingWindow).toBeNull();
  });

  it("Qwen2-0.5B: q/k/v biases without an o bias, sliding window off", () => {
    const c = hf(QWEN2_0_5B);
    expect(c).toMatchObject({
      family: "llama",
      source: { format: "hf", modelType: "qwen2", file: "config.json" },
      dModel: 896,
      nLayers: 24,
      nHeads: 14,
      nKvHeads: 2,
      dHead: 64,
      dMlp: 4864,
      vocabSize: 151936,
      norm: { kind: "rmsnorm", eps: 1e-6 },
      qkvBias: true,
      oBias: false,
      mlpBias: false,
      tiedEmbeddings: true,
      slidingWindow: null,
    });
    expect(c.positional).toMatchObject({ theta: 1000000 });
    expect(hf({ ...QWEN2_0_5B, use_sliding_window: true, sliding_window: 4096, max_window_layers: 21 }).slidingWindow).toEqual({
      size: 4096,
      fromLayer: 21,
    });
  });

  it("SmolLM-135M: a llama with 9 heads of 64 and 3 kv heads", () => {
    expect(hf(SMOLLM_135M)).toMatchObject({
      family: "llama",
      dModel: 576,
      nLayers: 30,
      nHeads: 9,
      nKvHeads: 3,
      dHead: 64,
      dMlp: 1536,
      vocabSize: 49152,
      maxPositions: 2048,
      tiedEmbeddings: true,
      positional: { kind: "rotary", theta: 10000, rotaryDim: 64, interleaved: false, scaling: { kind: "none" } },
      bosTokenId: 0,
      eosTokenIds: [0],
    });
  });

  it("Llama defaults: kv heads = heads, head_dim = hidden / heads, theta 10000, untied", () => {
    const { num_key_value_heads, head_dim, rope_theta, tie_word_embeddings, rope_scaling, ...rest } = LLAMA_3_2_1B;
    const c = hf(rest);
    expect(c).toMatchObject({ nKvHeads: 32, dHead: 64, tiedEmbeddings: false });
    expect(c.positional).toMatchObject({ theta: 10000, scaling: { kind: "none" } });
    expect(hf({ ...rest, attention_bias: true, mlp_bias: true })).toMatchObject({ qkvBias: true, oBias: true, mlpBias: true });
  });

  it("linear rope scaling, with the old `type` key", () => {
    const c = hf({ ...SMOLLM_135M, rope_scaling: { type: "linear", factor: 4 } });
    expect(c.positional).toMatchObject({ scaling: { kind: "linear", factor: 4 } });
  });

  it("Pythia-70M: partial rotary, parallel residual, exact gelu, per-head fused qkv", () => {
    expect(hf(PYTHIA_70M)).toEqual({
      family: "gpt_neox",
      source: { format: "hf", modelType: "gpt_neox", file: "config.json" },
      dModel: 512,
      nLayers: 6,
      nHeads: 8,
      nKvHeads: 8,
      dHead: 64,
      dMlp: 2048,
      vocabSize: 50304,
      maxPositions: 2048,
      norm: { kind: "layernorm", eps: 1e-5 },
      normPlacement: "pre",
      activation: "gelu_erf",
      gatedMlp: false,
      attnOnly: false,
      positional: { kind: "rotary", theta: 10000, rotaryDim: 16, interleaved: false, scaling: { kind: "none" } },
      parallelResidual: true,
      causal: true,
      qkvBias: true,
      oBias: true,
      mlpBias: true,
      tiedEmbeddings: false,
      typeVocabSize: 0,
      positionOffset: 0,
      weightLayout: "out_in",
      qkvLayout: "fused_per_head",
      classifier: null,
      bosTokenId: 0,
      eosTokenIds: [0],
      padTokenId: null,
      slidingWindow: null,
    });
  });

  it("bert-base-uncased: bidirectional, post-norm, token types", () => {
    expect(hf(BERT_BASE_UNCASED)).toEqual({
      family: "bert",
      source: { format: "hf", modelType: "bert", file: "config.json" },
      dModel: 768,
      nLayers: 12,
      nHeads: 12,
      nKvHeads: 12,
      dHead: 64,
      dMlp: 3072,
      vocabSize: 30522,
      maxPositions: 512,
      norm: { kind: "layernorm", eps: 1e-12 },
      normPlacement: "post",
      activation: "gelu_erf",
      gatedMlp: false,
      attnOnly: false,
      positional: { kind: "learned" },
      parallelResidual: false,
      causal: false,
      qkvBias: true,
      oBias: true,
      mlpBias: true,
      tiedEmbeddings: true,
      typeVocabSize: 2,
      positionOffset: 0,
      weightLayout: "out_in",
      qkvLayout: "separate",
      classifier: null,
      bosTokenId: null,
      eosTokenIds: [],
      padTokenId: 0,
      slidingWindow: null,
    });
  });

  it("roberta-base with a 2-label classifier: positions start after the pad id", () => {
    expect(hf(ROBERTA_SST2)).toMatchObject({
      family: "bert",
      source: { format: "hf", modelType: "roberta", file: "config.json" },
      maxPositions: 512,
      positionOffset: 2,
      typeVocabSize: 1,
      vocabSize: 50265,
      norm: { kind: "layernorm", eps: 1e-5 },
      causal: false,
      classifier: { labels: ["NEGATIVE", "POSITIVE"], problemType: "single_label_classification" },
      bosTokenId: 0,
      eosTokenIds: [2],
      padTokenId: 1,
    });
  });

  it("a classifier without id2label gets generic labels from num_labels", () => {
    const { id2label, label2id, problem_type, ...rest } = ROBERTA_SST2;
    expect(hf({ ...rest, num_labels: 3 }).classifier).toEqual({ labels: ["LABEL_0", "LABEL_1", "LABEL_2"], problemType: null });
    // a masked-LM checkpoint has no classifier even when id2label is there
    expect(hf({ ...ROBERTA_SST2, architectures: ["RobertaForMaskedLM"] }).classifier).toBeNull();
  });
});

describe("normalizeHfConfig: malformed configs", () => {
  const cases: [name: string, config: Obj, field: string, message: RegExp][] = [
    [
      "kv heads not dividing heads",
      { ...LLAMA_3_2_1B, num_attention_heads: 12, num_key_value_heads: 5 },
      "num_key_value_heads",
      /^config\.json: num_key_value_heads: expected a positive integer dividing num_attention_heads \(12\), got 5$/,
    ],
    [
      "missing hidden_size",
      { ...LLAMA_3_2_1B, hidden_size: undefined },
      "hidden_size",
      /expected a positive integer, got nothing/,
    ],
    ["hidden_size as a string", { ...MISTRAL_7B, hidden_size: "4096" }, "hidden_size", /got "4096"/],
    ["fractional layer count", { ...SMOLLM_135M, num_hidden_layers: 30.5 }, "num_hidden_layers", /positive integer, got 30.5/],
    ["zero heads", { ...GPT2, n_head: 0 }, "n_head", /dividing n_embd \(768\), got 0/],
    ["heads not dividing the width", { ...GPT2, n_head: 7 }, "n_head", /dividing n_embd \(768\), got 7/],
    ["negative epsilon", { ...BERT_BASE_UNCASED, layer_norm_eps: -1e-12 }, "layer_norm_eps", /positive number/],
    [
      "unknown model type",
      { ...GPT2, model_type: "gemma" },
      "model_type",
      /unsupported model type "gemma"; supported: gpt2, llama/,
    ],
    ["no model type", { ...GPT2, model_type: undefined }, "model_type", /expected a string, got nothing/],
    [
      "unknown rope scaling",
      { ...LLAMA_3_2_1B, rope_scaling: { rope_type: "yarn", factor: 4 } },
      "rope_scaling.rope_type",
      /unsupported RoPE scaling "yarn"; supported: default, linear, llama3/,
    ],
    [
      "llama3 scaling without its factors",
      { ...LLAMA_3_2_1B, rope_scaling: { rope_type: "llama3", factor: 8 } },
      "rope_scaling.low_freq_factor",
      /got nothing/,
    ],
    [
      "llama3 high factor below the low one",
      { ...LLAMA_3_2_1B, rope_scaling: { ...(LLAMA_3_2_1B.rope_scaling as Obj), high_freq_factor: 0.5 } },
      "rope_scaling.high_freq_factor",
      /more than low_freq_factor \(1\)/,
    ],
    ["rope_scaling not an object", { ...LLAMA_3_2_1B, rope_scaling: "llama3" }, "rope_scaling", /expected an object or null/],
    ["odd rotary width", { ...PYTHIA_70M, rotary_pct: 0.3 }, "rotary_pct", /even number of rotary dims.*19 dims/],
    ["rotary_pct above 1", { ...PYTHIA_70M, rotary_pct: 1.5 }, "rotary_pct", /fraction in \(0, 1\]/],
    [
      "unknown activation",
      { ...GPT2, activation_function: "gelu_10" },
      "activation_function",
      /unsupported activation "gelu_10"/,
    ],
    ["eos id past the vocabulary", { ...GPT2, eos_token_id: 50257 }, "eos_token_id", /token id in \[0, 50257\), got 50257/],
    ["a bad id in an eos list", { ...LLAMA_3_2_1B, eos_token_id: [128001, -1] }, "eos_token_id[1]", /got -1/],
    ["tie flag not a bool", { ...MISTRAL_7B, tie_word_embeddings: "false" }, "tie_word_embeddings", /true or false/],
    [
      "relative positions",
      { ...BERT_BASE_UNCASED, position_embedding_type: "relative_key" },
      "position_embedding_type",
      /only "absolute"/,
    ],
    ["RoBERTa position table too short", { ...ROBERTA_SST2, max_position_embeddings: 2 }, "max_position_embeddings", /more than/],
    ["id2label with a gap", { ...ROBERTA_SST2, id2label: { "0": "NEG", "2": "POS" } }, "id2label.2", /indices 0\.\.1/],
    ["num_labels disagreeing with id2label", { ...ROBERTA_SST2, num_labels: 3 }, "num_labels", /id2label entries \(2\)/],
    [
      "unknown problem type",
      { ...ROBERTA_SST2, problem_type: "ranking" },
      "problem_type",
      /one of "single_label_classification"/,
    ],
    ["pretraining_tp > 1", { ...LLAMA_3_2_1B, pretraining_tp: 2 }, "pretraining_tp", /tensor-parallel/],
    ["odd head width", { ...LLAMA_3_2_1B, head_dim: 63 }, "head_dim", /even head width, got 63/],
  ];

  it.each(cases)("%s", (_, config, field, message) => {
    const e = formatError(() => hf(JSON.parse(JSON.stringify(config))));
    expect(e.file).toBe("config.json");
    expect(e.field).toBe(field);
    expect(e.message).toMatch(message);
    expect(e.message.startsWith(`config.json: ${field}: `)).toBe(true);
  });

  it("not an object at all", () => {
    expect(formatError(() => normalizeHfConfig([1, 2], "m/config.json")).message).toMatch(
      /^m\/config\.json: \(top level\): expected a JSON object/,
    );
    expect(formatError(() => normalizeHfConfig(null, "config.json")).field).toBe("(top level)");
  });
});

// ——— GGUF ———

const u32 = (value: number): GgufValue => ({ type: "u32", value });
const f32 = (value: number): GgufValue => ({ type: "f32", value: Math.fround(value) });
const str = (value: string): GgufValue => ({ type: "string", value });
const tokens = (n: number): GgufValue => ({
  type: "array",
  value: { elemType: "string", items: Array.from({ length: n }, (_, i) => `t${i}`) },
});

// the metadata llama.cpp's converter writes for Llama-3.2-1B (minus the tokenizer merges and chat template)
function llamaGguf(): Map<string, GgufValue> {
  return new Map<string, GgufValue>([
    ["general.architecture", str("llama")],
    ["general.name", str("Llama 3.2 1B")],
    ["llama.block_count", u32(16)],
    ["llama.context_length", u32(131072)],
    ["llama.embedding_length", u32(2048)],
    ["llama.feed_forward_length", u32(8192)],
    ["llama.attention.head_count", u32(32)],
    ["llama.attention.head_count_kv", u32(8)],
    ["llama.rope.freq_base", f32(500000)],
    ["llama.attention.layer_norm_rms_epsilon", f32(1e-5)],
    ["llama.attention.key_length", u32(64)],
    ["llama.attention.value_length", u32(64)],
    ["llama.vocab_size", u32(128256)],
    ["llama.rope.dimension_count", u32(64)],
    ["tokenizer.ggml.model", str("gpt2")],
    ["tokenizer.ggml.tokens", tokens(128256)],
    ["tokenizer.ggml.bos_token_id", u32(128000)],
    ["tokenizer.ggml.eos_token_id", u32(128009)],
  ]);
}

function gpt2Gguf(): Map<string, GgufValue> {
  return new Map<string, GgufValue>([
    ["general.architecture", str("gpt2")],
    ["gpt2.block_count", u32(12)],
    ["gpt2.context_length", u32(1024)],
    ["gpt2.embedding_length", u32(768)],
    ["gpt2.feed_forward_length", u32(3072)],
    ["gpt2.attention.head_count", u32(12)],
    ["gpt2.attention.layer_norm_epsilon", f32(1e-5)],
    ["tokenizer.ggml.model", str("gpt2")],
    ["tokenizer.ggml.tokens", tokens(50257)],
    ["tokenizer.ggml.bos_token_id", u32(50256)],
    ["tokenizer.ggml.eos_token_id", u32(50256)],
  ]);
}

describe("normalizeGgufConfig", () => {
  it("Llama-3.2-1B: interleaved rope (the converter permutes q/k), llama3 scaling from rope_freqs", () => {
    const names = ["token_embd.weight", "rope_freqs.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight", "output_norm.weight"];
    const c = normalizeGgufConfig(llamaGguf(), "llama.gguf", names);
    expect(c).toMatchObject({
      family: "llama",
      source: { format: "gguf", architecture: "llama", file: "llama.gguf" },
      dModel: 2048,
      nLayers: 16,
      nHeads: 32,
      nKvHeads: 8,
      dHead: 64,
      dMlp: 8192,
      vocabSize: 128256,
      maxPositions: 131072,
      norm: { kind: "rmsnorm", eps: Math.fround(1e-5) },
      activation: "silu",
      gatedMlp: true,
      attnOnly: false,
      qkvLayout: "separate",
      weightLayout: "out_in",
      qkvBias: false,
      oBias: false,
      mlpBias: false,
      tiedEmbeddings: true,
      bosTokenId: 128000,
      eosTokenIds: [128009],
      padTokenId: null,
      slidingWindow: null,
    });
    expect(c.positional).toEqual({
      kind: "rotary",
      theta: 500000,
      rotaryDim: 64,
      interleaved: true,
      scaling: { kind: "freqFactors", tensor: "rope_freqs.weight" },
    });
    // without the tensor list: converter defaults, no way to see rope_freqs
    const bare = normalizeGgufConfig(llamaGguf(), "llama.gguf");
    expect(bare).toMatchObject({ tiedEmbeddings: false, qkvBias: false });
    expect(bare.positional).toMatchObject({ scaling: { kind: "none" } });
  });

  it("llama with linear scaling and a sliding window (Mistral as converted by llama.cpp)", () => {
    const m = llamaGguf();
    m.set("llama.rope.scaling.type", str("linear"));
    m.set("llama.rope.scaling.factor", f32(2));
    m.set("llama.attention.sliding_window", u32(4096));
    const c = normalizeGgufConfig(m, "m.gguf");
    expect(c.positional).toMatchObject({ scaling: { kind: "linear", factor: 2 } });
    expect(c.slidingWindow).toEqual({ size: 4096, fromLayer: 0 });
  });

  it("qwen2: rotate-half rope and q/k/v biases", () => {
    const m = new Map<string, GgufValue>([
      ["general.architecture", str("qwen2")],
      ["qwen2.block_count", u32(24)],
      ["qwen2.context_length", u32(131072)],
      ["qwen2.embedding_length", u32(896)],
      ["qwen2.feed_forward_length", u32(4864)],
      ["qwen2.attention.head_count", u32(14)],
      ["qwen2.attention.head_count_kv", u32(2)],
      ["qwen2.rope.freq_base", f32(1000000)],
      ["qwen2.attention.layer_norm_rms_epsilon", f32(1e-6)],
      ["tokenizer.ggml.tokens", tokens(151936)],
    ]);
    const c = normalizeGgufConfig(m, "qwen.gguf", ["blk.0.attn_q.bias", "blk.0.attn_k.bias", "blk.0.attn_v.bias"]);
    expect(c).toMatchObject({ family: "llama", dHead: 64, nKvHeads: 2, qkvBias: true, oBias: false, tiedEmbeddings: true });
    expect(c.positional).toMatchObject({ interleaved: false, rotaryDim: 64, theta: 1000000 });
  });

  it("gpt2: learned positions, weights transposed to [out, in], fused qkv", () => {
    const names = ["token_embd.weight", "position_embd.weight", "output.weight", "blk.0.attn_qkv.weight", "blk.0.attn_qkv.bias"];
    expect(normalizeGgufConfig(gpt2Gguf(), "gpt2.gguf", [...names, "blk.0.attn_output.bias", "blk.0.ffn_up.bias"])).toEqual({
      family: "gpt2",
      source: { format: "gguf", architecture: "gpt2", file: "gpt2.gguf" },
      dModel: 768,
      nLayers: 12,
      nHeads: 12,
      nKvHeads: 12,
      dHead: 64,
      dMlp: 3072,
      vocabSize: 50257,
      maxPositions: 1024,
      norm: { kind: "layernorm", eps: Math.fround(1e-5) },
      normPlacement: "pre",
      activation: "gelu_tanh",
      gatedMlp: false,
      attnOnly: false,
      positional: { kind: "learned" },
      parallelResidual: false,
      causal: true,
      qkvBias: true,
      oBias: true,
      mlpBias: true,
      tiedEmbeddings: false,
      typeVocabSize: 0,
      positionOffset: 0,
      weightLayout: "out_in",
      qkvLayout: "fused",
      classifier: null,
      bosTokenId: 50256,
      eosTokenIds: [50256],
      padTokenId: null,
      slidingWindow: null,
    });
  });

  it("gptneox: partial rotary and parallel residual", () => {
    const m = new Map<string, GgufValue>([
      ["general.architecture", str("gptneox")],
      ["gptneox.block_count", u32(6)],
      ["gptneox.context_length", u32(2048)],
      ["gptneox.embedding_length", u32(512)],
      ["gptneox.feed_forward_length", u32(2048)],
      ["gptneox.attention.head_count", u32(8)],
      ["gptneox.rope.dimension_count", u32(16)],
      ["gptneox.use_parallel_residual", { type: "bool", value: true }],
      ["gptneox.attention.layer_norm_epsilon", f32(1e-5)],
      ["tokenizer.ggml.tokens", tokens(50304)],
    ]);
    const c = normalizeGgufConfig(m, "pythia.gguf");
    expect(c).toMatchObject({
      family: "gpt_neox",
      dHead: 64,
      parallelResidual: true,
      activation: "gelu_erf",
      qkvLayout: "fused",
    });
    expect(c.positional).toEqual({ kind: "rotary", theta: 10000, rotaryDim: 16, interleaved: false, scaling: { kind: "none" } });
  });

  it("reads 64-bit integers", () => {
    const m = gpt2Gguf();
    m.set("gpt2.block_count", { type: "u64", value: 12n });
    expect(normalizeGgufConfig(m, "gpt2.gguf").nLayers).toBe(12);
  });

  const bad: [name: string, edit: (m: Map<string, GgufValue>) => void, field: string, message: RegExp][] = [
    [
      "unknown architecture",
      (m) => m.set("general.architecture", str("falcon")),
      "general.architecture",
      /supported: llama, qwen2, gpt2, gptneox/,
    ],
    ["no architecture", (m) => m.delete("general.architecture"), "general.architecture", /got nothing/],
    [
      "kv heads not dividing heads",
      (m) => m.set("llama.attention.head_count_kv", u32(5)),
      "llama.attention.head_count_kv",
      /dividing llama\.attention\.head_count \(32\), got 5/,
    ],
    ["block count as a float", (m) => m.set("llama.block_count", f32(16)), "llama.block_count", /positive integer, got f32 16/],
    ["missing embedding length", (m) => m.delete("llama.embedding_length"), "llama.embedding_length", /got nothing/],
    [
      "yarn scaling",
      (m) => m.set("llama.rope.scaling.type", str("yarn")),
      "llama.rope.scaling.type",
      /unsupported RoPE scaling "yarn"/,
    ],
    [
      "odd rotary dims",
      (m) => m.set("llama.rope.dimension_count", u32(63)),
      "llama.rope.dimension_count",
      /even number <= the head width \(64\)/,
    ],
    [
      "vocab size disagreeing with the token list",
      (m) => m.set("llama.vocab_size", u32(1000)),
      "llama.vocab_size",
      /token count .* \(128256\), got 1000/,
    ],
    [
      "no token list",
      (m) => m.delete("tokenizer.ggml.tokens") && m.delete("llama.vocab_size"),
      "tokenizer.ggml.tokens",
      /array of strings/,
    ],
    [
      "eos id past the vocabulary",
      (m) => m.set("tokenizer.ggml.eos_token_id", u32(200000)),
      "tokenizer.ggml.eos_token_id",
      /\[0, 128256\)/,
    ],
  ];

  it.each(bad)("%s", (_, edit, field, message) => {
    const m = llamaGguf();
    edit(m);
    const e = formatError(() => normalizeGgufConfig(m, "bad.gguf"));
    expect(e.file).toBe("bad.gguf");
    expect(e.field).toBe(field);
    expect(e.message).toMatch(message);
  });
});
