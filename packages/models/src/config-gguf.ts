// Config normalization for GGUF headers: llama.cpp's metadata keys (`<arch>.embedding_length`, …) become the
// same ModelConfig as a Hugging Face config.json (config.ts), so architecture files never see the format.

import type { GgufValue } from "@llmdbg/formats";
import { ModelFormatError, show } from "@llmdbg/formats";
import type { GgufArchitecture, ModelConfig, PositionalEncoding, RopeScaling } from "./config.js";

const GGUF_INT_TYPES: ReadonlySet<string> = new Set(["u8", "i8", "u16", "i16", "u32", "i32", "u64", "i64"]);

function showGguf(v: GgufValue): string {
  if (v.type === "array") return `an array of ${v.value.items.length} ${v.value.elemType}`;
  return `${v.type} ${typeof v.value === "string" ? show(v.value) : String(v.value)}`;
}

/** Reads `<arch>.*` and `tokenizer.*` keys with type and range checks; errors name the full key. */
class GgufFields {
  constructor(
    readonly metadata: ReadonlyMap<string, GgufValue>,
    readonly file: string,
    readonly arch: string,
  ) {}

  fail(key: string, detail: string): never {
    throw new ModelFormatError(this.file, key, detail);
  }

  /** `<arch>.<suffix>` */
  k(suffix: string): string {
    return `${this.arch}.${suffix}`;
  }

  has(key: string): boolean {
    return this.metadata.has(key);
  }

  private value<T>(key: string, fallback: T | undefined, what: string, read: (v: GgufValue) => T | undefined): T {
    const v = this.metadata.get(key);
    if (v === undefined) {
      if (fallback !== undefined) return fallback;
      this.fail(key, `expected ${what}, got nothing`);
    }
    const r = read(v);
    if (r === undefined) this.fail(key, `expected ${what}, got ${showGguf(v)}`);
    return r;
  }

  private intValue(v: GgufValue): number | undefined {
    if (!GGUF_INT_TYPES.has(v.type)) return undefined;
    const n = Number(v.value);
    return Number.isSafeInteger(n) ? n : undefined;
  }

  posInt(key: string, fallback?: number): number {
    return this.value(key, fallback, "a positive integer", (v) => {
      const n = this.intValue(v);
      return n !== undefined && n > 0 ? n : undefined;
    });
  }

  nonNegInt(key: string, fallback?: number): number {
    return this.value(key, fallback, "a non-negative integer", (v) => {
      const n = this.intValue(v);
      return n !== undefined && n >= 0 ? n : undefined;
    });
  }

  posNum(key: string, fallback?: number): number {
    return this.value(key, fallback, "a positive number", (v) => {
      const n = v.type === "f32" || v.type === "f64" ? v.value : this.intValue(v);
      return n !== undefined && Number.isFinite(n) && n > 0 ? n : undefined;
    });
  }

  bool(key: string, fallback?: boolean): boolean {
    return this.value(key, fallback, "a bool", (v) => (v.type === "bool" ? v.value : undefined));
  }

  str(key: string, fallback?: string): string {
    return this.value(key, fallback, "a string", (v) => (v.type === "string" ? v.value : undefined));
  }

  divisor(key: string, totalKey: string, total: number, fallback?: number): number {
    const v = this.posInt(key, fallback);
    if (total % v !== 0) this.fail(key, `expected a positive integer dividing ${totalKey} (${total}), got ${v}`);
    return v;
  }

  tokenId(key: string, vocabSize: number): number | null {
    if (!this.has(key)) return null;
    const id = this.nonNegInt(key);
    if (id >= vocabSize) this.fail(key, `expected a token id in [0, ${vocabSize}), got ${id}`);
    return id;
  }

  /** the vocabulary size: the token list's length, checked against `<arch>.vocab_size` when both are there */
  vocabSize(): number {
    const tokensKey = "tokenizer.ggml.tokens";
    const tokens = this.metadata.get(tokensKey);
    const declared = this.has(this.k("vocab_size")) ? this.posInt(this.k("vocab_size")) : undefined;
    if (tokens === undefined) {
      if (declared === undefined) this.fail(tokensKey, "expected an array of strings (the vocabulary), got nothing");
      return declared;
    }
    if (tokens.type !== "array" || tokens.value.elemType !== "string" || tokens.value.items.length === 0) {
      this.fail(tokensKey, `expected a non-empty array of strings, got ${showGguf(tokens)}`);
    }
    const n = tokens.value.items.length;
    if (declared !== undefined && declared !== n)
      this.fail(this.k("vocab_size"), `expected the token count of ${tokensKey} (${n}), got ${declared}`);
    return n;
  }
}

type GgufRopeType = "none" | "linear";
const GGUF_ROPE_TYPES: readonly GgufRopeType[] = ["none", "linear"];

function ggufRopeScaling(g: GgufFields, tensors: ReadonlySet<string> | null): RopeScaling {
  const typeKey = g.k("rope.scaling.type");
  if (g.has(typeKey)) {
    const type = g.str(typeKey);
    if (!(GGUF_ROPE_TYPES as readonly string[]).includes(type)) {
      g.fail(typeKey, `unsupported RoPE scaling ${show(type)}; supported: ${GGUF_ROPE_TYPES.join(", ")}`);
    }
    if (type === "linear") return { kind: "linear", factor: g.posNum(g.k("rope.scaling.factor")) };
  } else if (g.has(g.k("rope.scale_linear"))) {
    // the key older converters wrote before rope.scaling.*
    return { kind: "linear", factor: g.posNum(g.k("rope.scale_linear")) };
  }
  if (tensors?.has("rope_freqs.weight")) return { kind: "freqFactors", tensor: "rope_freqs.weight" };
  return { kind: "none" };
}

/** Biases and the unembedding are visible only in the tensor list; without it, the converter's defaults. */
interface GgufDefaults {
  readonly qkvBias: boolean;
  readonly oBias: boolean;
  readonly mlpBias: boolean;
}

function fromTensors(tensors: ReadonlySet<string> | null, d: GgufDefaults) {
  if (tensors === null) return { ...d, tiedEmbeddings: false };
  return {
    qkvBias: tensors.has("blk.0.attn_q.bias") || tensors.has("blk.0.attn_qkv.bias"),
    oBias: tensors.has("blk.0.attn_output.bias"),
    mlpBias: tensors.has("blk.0.ffn_up.bias"),
    // llama.cpp falls back to token_embd when a file has no output.weight
    tiedEmbeddings: !tensors.has("output.weight"),
  };
}

/** Shared by the GGUF architectures: the heads, sizes and ids every one of them stores under the same keys. */
function ggufCore(g: GgufFields) {
  const dModel = g.posInt(g.k("embedding_length"));
  const headsKey = g.k("attention.head_count");
  const explicitHead = g.has(g.k("attention.key_length"));
  const nHeads = explicitHead ? g.posInt(headsKey) : g.divisor(headsKey, g.k("embedding_length"), dModel);
  const nKvHeads = g.divisor(g.k("attention.head_count_kv"), headsKey, nHeads, nHeads);
  const dHead = g.posInt(g.k("attention.key_length"), dModel / nHeads);
  const valueLength = g.posInt(g.k("attention.value_length"), dHead);
  if (valueLength !== dHead)
    g.fail(g.k("attention.value_length"), `expected attention.key_length (${dHead}), got ${valueLength}`);
  const vocabSize = g.vocabSize();
  const eos = g.tokenId("tokenizer.ggml.eos_token_id", vocabSize);
  return {
    dModel,
    nLayers: g.posInt(g.k("block_count")),
    nHeads,
    nKvHeads,
    dHead,
    maxPositions: g.posInt(g.k("context_length")),
    vocabSize,
    typeVocabSize: 0,
    positionOffset: 0,
    classifier: null,
    // llama.cpp's blocks all have a feed-forward part
    attnOnly: false,
    causal: true,
    normPlacement: "pre" as const,
    weightLayout: "out_in" as const,
    bosTokenId: g.tokenId("tokenizer.ggml.bos_token_id", vocabSize),
    eosTokenIds: eos === null ? [] : [eos],
    padTokenId: g.tokenId("tokenizer.ggml.padding_token_id", vocabSize),
  };
}

function rotary(g: GgufFields, dHead: number, interleaved: boolean, tensors: ReadonlySet<string> | null): PositionalEncoding {
  const key = g.k("rope.dimension_count");
  const rotaryDim = g.posInt(key, dHead);
  if (rotaryDim % 2 !== 0 || rotaryDim > dHead)
    g.fail(key, `expected an even number <= the head width (${dHead}), got ${rotaryDim}`);
  return {
    kind: "rotary",
    theta: g.posNum(g.k("rope.freq_base"), 10000),
    rotaryDim,
    interleaved,
    scaling: ggufRopeScaling(g, tensors),
  };
}

function ggufLlamaLike(g: GgufFields, architecture: "llama" | "qwen2", tensors: ReadonlySet<string> | null): ModelConfig {
  const core = ggufCore(g);
  const window = g.has(g.k("attention.sliding_window")) ? g.posInt(g.k("attention.sliding_window")) : null;
  const qwen = architecture === "qwen2";
  return {
    family: "llama",
    source: { format: "gguf", architecture, file: g.file },
    ...core,
    dMlp: g.posInt(g.k("feed_forward_length")),
    norm: { kind: "rmsnorm", eps: g.posNum(g.k("attention.layer_norm_rms_epsilon"), 1e-5) },
    activation: "silu",
    gatedMlp: true,
    // llama.cpp permutes Llama's q/k rows for its adjacent-pair rope; Qwen2 is converted as-is (rope type NEOX)
    positional: rotary(g, core.dHead, !qwen, tensors),
    parallelResidual: false,
    qkvLayout: "separate",
    ...fromTensors(tensors, { qkvBias: qwen, oBias: false, mlpBias: false }),
    slidingWindow: window === null ? null : { size: window, fromLayer: 0 },
  };
}

const ggufNormalizers: { readonly [K in GgufArchitecture]: (g: GgufFields, tensors: ReadonlySet<string> | null) => ModelConfig } =
  {
    llama: (g, t) => ggufLlamaLike(g, "llama", t),
    qwen2: (g, t) => ggufLlamaLike(g, "qwen2", t),
    gpt2: (g, t) => {
      const core = ggufCore(g);
      return {
        family: "gpt2",
        source: { format: "gguf", architecture: "gpt2", file: g.file },
        ...core,
        dMlp: g.posInt(g.k("feed_forward_length"), 4 * core.dModel),
        norm: { kind: "layernorm", eps: g.posNum(g.k("attention.layer_norm_epsilon"), 1e-5) },
        activation: "gelu_tanh",
        gatedMlp: false,
        positional: { kind: "learned" },
        parallelResidual: false,
        // the converter transposes Conv1D to [out, in] and keeps c_attn fused as attn_qkv
        qkvLayout: "fused",
        ...fromTensors(t, { qkvBias: true, oBias: true, mlpBias: true }),
        slidingWindow: null,
      };
    },
    gptneox: (g, t) => {
      const core = ggufCore(g);
      return {
        family: "gpt_neox",
        source: { format: "gguf", architecture: "gptneox", file: g.file },
        ...core,
        dMlp: g.posInt(g.k("feed_forward_length")),
        norm: { kind: "layernorm", eps: g.posNum(g.k("attention.layer_norm_epsilon"), 1e-5) },
        activation: "gelu_erf",
        gatedMlp: false,
        positional: rotary(g, core.dHead, false, t),
        parallelResidual: g.bool(g.k("use_parallel_residual"), true),
        // the converter regroups query_key_value from [head, (q, k, v), dHead] into [q; k; v]
        qkvLayout: "fused",
        ...fromTensors(t, { qkvBias: true, oBias: true, mlpBias: true }),
        slidingWindow: null,
      };
    },
  };

/**
 * Normalizes a GGUF header's metadata into a `ModelConfig`. Pass the file's tensor names to learn what the
 * metadata does not say (biases, a tied unembedding, llama.cpp's `rope_freqs` Llama 3 scaling); without them,
 * llama.cpp's converter defaults are assumed and `tiedEmbeddings` is false.
 *
 * @example
 * const g = parseGguf(bytes, "model.gguf");
 * const cfg = normalizeGgufConfig(g.metadata, "model.gguf", g.tensors.map((t) => t.name));
 */
export function normalizeGgufConfig(
  metadata: ReadonlyMap<string, GgufValue>,
  file: string,
  tensorNames?: Iterable<string>,
): ModelConfig {
  const archKey = "general.architecture";
  const arch = new GgufFields(metadata, file, "general").str(archKey);
  if (!Object.hasOwn(ggufNormalizers, arch)) {
    throw new ModelFormatError(
      file,
      archKey,
      `unsupported architecture ${show(arch)}; supported: ${Object.keys(ggufNormalizers).join(", ")}`,
    );
  }
  const tensors = tensorNames === undefined ? null : new Set(tensorNames);
  return ggufNormalizers[arch as GgufArchitecture](new GgufFields(metadata, file, arch), tensors);
}
