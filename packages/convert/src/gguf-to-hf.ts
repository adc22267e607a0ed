// GGUF → Hugging Face: the inverse of llama.cpp's convert_hf_to_gguf.py. A GGUF file holds the weights in
// llama.cpp's names and layouts and the config and tokenizer as metadata; this rebuilds what `save_pretrained`
// would have written: config.json, the state dict (names, layouts, tied weights dropped), tokenizer.json with
// tokenizer_config.json, and generation_config.json.
//
// The file is first built into our own model through the same path loadModel takes, so every tensor the
// architecture needs is present with its shape, and every tensor the file has is one the architecture reads (or
// the LM head): nothing is dropped silently. What Hugging Face's config classes cannot express (a partial-rotary Llama,
// per-frequency rope factors that are not Llama 3's formula, biases the model type never has) fails, naming
// the metadata key or tensor, rather than writing a folder transformers would load into a different model.

import type { GgufFile } from "@llmdbg/formats";
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, ModelFormatError, show } from "@llmdbg/formats";
import type { GgufArchitecture, ModelConfig, PositionalEncoding, RopeScaling } from "@llmdbg/models";
import {
  buildModel,
  ggufTensorName,
  ggufWeightSource,
  hfTensorName,
  inverseFrequencies,
  normalizeGgufConfig,
} from "@llmdbg/models";
import type { Tensor } from "@llmdbg/tensor";
import { ggufTokenizerFiles } from "@llmdbg/tokenizers";
import { transpose2d, ungroupNeoxQkv, unpermuteForInterleavedRope } from "./layout.js";

/** What ggufToHf reads: a GGUF header and its tensors dequantized to f32 (an open `GgufReader` is one). */
export interface GgufTensorSource {
  readonly header: Pick<GgufFile, "metadata" | "tensors">;
  /** the named tensor as f32, whatever its storage type */
  tensor(name: string): Tensor;
}

/** A Hugging Face checkpoint as objects: each field is one file of the folder. */
export interface HfCheckpoint {
  /** config.json */
  readonly config: Record<string, unknown>;
  /** model.safetensors: state-dict names → f32 tensors in Hugging Face layouts */
  readonly weights: Record<string, Tensor>;
  /** the storage type that loses nothing the GGUF held (see storageType) */
  readonly dtype: HfStorageType;
  /** tokenizer.json; undefined when the GGUF has no `tokenizer.ggml.model` */
  readonly tokenizer: Record<string, unknown> | undefined;
  /** tokenizer_config.json, with the tokenizer */
  readonly tokenizerConfig: Record<string, unknown> | undefined;
  /** generation_config.json; undefined when the GGUF names neither a bos nor an eos token */
  readonly generationConfig: Record<string, unknown> | undefined;
}

/** How model.safetensors stores the weights; config.json's torch_dtype says the same. */
export type HfStorageType = "F32" | HalfType;
type HalfType = "F16" | "BF16";

type Rotary = Extract<PositionalEncoding, { kind: "rotary" }>;
type Llama3Scaling = Extract<RopeScaling, { kind: "llama3" }>;
type TensorOf = (ggufName: string) => Tensor;
type Fail = (field: string, detail: string) => never;

/** What the config builders need beyond the ModelConfig: facts about the file's tensors, already decided. */
interface Resolved {
  readonly arch: GgufArchitecture;
  /** output.weight is absent or a copy of token_embd.weight */
  readonly tied: boolean;
  readonly fail: Fail;
  /** config.json's rope_scaling for a rotary model (null: none) */
  ropeScaling(pos: Rotary): Record<string, unknown> | null;
}

/** A GGUF layout change undone: llama.cpp's tensor → the Hugging Face tensor. */
type Invert = (t: Tensor, c: ModelConfig) => Tensor;

interface HfLayout {
  /** config.json: the keys the model type's transformers config class reads */
  config(c: ModelConfig, r: Resolved): Record<string, unknown>;
  /** by GGUF role (the name without `blk.N.` and `.weight`/`.bias`); a role not listed is stored as Hugging Face does */
  readonly invert: Readonly<Partial<Record<string, Invert>>>;
}

/** The shortest decimal that reads back as the same f32: the config.json value llama.cpp rounded to f32. */
function f32Decimal(x: number): number {
  for (let p = 1; p < 17; p++) {
    const d = Number(x.toPrecision(p));
    if (Math.fround(d) === x) return d;
  }
  return x;
}

function rotaryOf(c: ModelConfig, r: Resolved): Rotary {
  if (c.positional.kind !== "rotary") return r.fail(`${r.arch}.rope.dimension_count`, "expected a rotary model");
  return c.positional;
}

/** The token ids every causal config.json carries. */
function idKeys(c: ModelConfig): Record<string, unknown> {
  return {
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenIds.length > 1 ? [...c.eosTokenIds] : (c.eosTokenIds[0] ?? null),
    ...(c.padTokenId !== null && { pad_token_id: c.padTokenId }),
  };
}

/** Refuses a bias the model type's Hugging Face module does (or does not) have, naming the tensor that shows it. */
function requireBias(r: Resolved, has: boolean, want: boolean, tensor: string, what: string): void {
  if (has !== want)
    r.fail(`tensor ${show(tensor)}`, `${has ? "present" : "missing"}, but ${what} ${want ? "always has" : "never has"} it`);
}

/** Refuses an output-projection bias unlike the q/k/v ones: the config has one attention_bias flag for all four. */
function oneAttentionBias(r: Resolved, c: ModelConfig, qkvTensor: string): void {
  const state = (b: boolean) => (b ? "present" : "missing");
  if (c.oBias !== c.qkvBias)
    r.fail(
      `tensor ${show("blk.0.attn_output.bias")}`,
      `${state(c.oBias)} while ${qkvTensor} is ${state(c.qkvBias)}; attention_bias covers q, k, v and o together`,
    );
}

function llamaLikeConfig(c: ModelConfig, r: Resolved, rope: Rotary): Record<string, unknown> {
  return {
    vocab_size: c.vocabSize,
    hidden_size: c.dModel,
    intermediate_size: c.dMlp,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    head_dim: c.dHead,
    hidden_act: "silu",
    max_position_embeddings: c.maxPositions,
    rms_norm_eps: f32Decimal(c.norm.eps),
    rope_theta: f32Decimal(rope.theta),
    rope_scaling: r.ropeScaling(rope),
  };
}

const HF_LAYOUTS: { readonly [A in GgufArchitecture]: HfLayout } = {
  llama: {
    config(c, r) {
      const rope = rotaryOf(c, r);
      if (rope.rotaryDim !== c.dHead)
        r.fail("llama.rope.dimension_count", `Hugging Face's Llama rotates whole heads (${c.dHead}), got ${rope.rotaryDim}`);
      // llama.cpp converts Mistral as Llama; only Mistral's config has a sliding window
      const mistral = c.slidingWindow !== null;
      if (mistral) {
        requireBias(r, c.qkvBias, false, "blk.0.attn_q.bias", "Mistral");
        requireBias(r, c.oBias, false, "blk.0.attn_output.bias", "Mistral");
        requireBias(r, c.mlpBias, false, "blk.0.ffn_up.bias", "Mistral");
      } else oneAttentionBias(r, c, "blk.0.attn_q.bias");
      return {
        architectures: [mistral ? "MistralForCausalLM" : "LlamaForCausalLM"],
        model_type: mistral ? "mistral" : "llama",
        ...llamaLikeConfig(c, r, rope),
        ...(mistral ? { sliding_window: c.slidingWindow?.size } : { attention_bias: c.qkvBias, mlp_bias: c.mlpBias }),
        tie_word_embeddings: r.tied,
        ...idKeys(c),
      };
    },
    // llama.cpp permutes q and k rows for its adjacent-pair rope (LlamaModel.permute); v and the rest are as-is
    invert: {
      attn_q: (t, c) =>
        c.positional.kind === "rotary" && c.positional.interleaved ? unpermuteForInterleavedRope(t, c.nHeads) : t,
      attn_k: (t, c) =>
        c.positional.kind === "rotary" && c.positional.interleaved ? unpermuteForInterleavedRope(t, c.nKvHeads) : t,
    },
  },
  qwen2: {
    config(c, r) {
      const rope = rotaryOf(c, r);
      if (rope.rotaryDim !== c.dHead)
        r.fail("qwen2.rope.dimension_count", `Hugging Face's Qwen2 rotates whole heads (${c.dHead}), got ${rope.rotaryDim}`);
      // Qwen2's module has q/k/v biases and no others, whatever the config says
      requireBias(r, c.qkvBias, true, "blk.0.attn_q.bias", "Qwen2");
      requireBias(r, c.oBias, false, "blk.0.attn_output.bias", "Qwen2");
      requireBias(r, c.mlpBias, false, "blk.0.ffn_up.bias", "Qwen2");
      const w = c.slidingWindow;
      return {
        architectures: ["Qwen2ForCausalLM"],
        model_type: "qwen2",
        ...llamaLikeConfig(c, r, rope),
        use_sliding_window: w !== null,
        ...(w !== null && { sliding_window: w.size, max_window_layers: w.fromLayer }),
        tie_word_embeddings: r.tied,
        ...idKeys(c),
      };
    },
    invert: {},
  },
  gpt2: {
    config(c, r) {
      requireBias(r, c.qkvBias, true, "blk.0.attn_qkv.bias", "GPT-2's Conv1D");
      requireBias(r, c.oBias, true, "blk.0.attn_output.bias", "GPT-2's Conv1D");
      requireBias(r, c.mlpBias, true, "blk.0.ffn_up.bias", "GPT-2's Conv1D");
      if (c.nKvHeads !== c.nHeads)
        r.fail("gpt2.attention.head_count_kv", `GPT-2 has no grouped-query attention, got ${c.nKvHeads} of ${c.nHeads}`);
      if (c.dHead * c.nHeads !== c.dModel)
        r.fail("gpt2.attention.key_length", `GPT-2's heads split n_embd (${c.dModel}), got ${c.dHead} × ${c.nHeads}`);
      return {
        architectures: ["GPT2LMHeadModel"],
        model_type: "gpt2",
        vocab_size: c.vocabSize,
        n_positions: c.maxPositions,
        n_ctx: c.maxPositions,
        n_embd: c.dModel,
        n_layer: c.nLayers,
        n_head: c.nHeads,
        n_inner: c.dMlp === 4 * c.dModel ? null : c.dMlp,
        activation_function: "gelu_new",
        layer_norm_epsilon: f32Decimal(c.norm.eps),
        scale_attn_weights: true,
        tie_word_embeddings: r.tied,
        ...idKeys(c),
      };
    },
    // llama.cpp transposes GPT-2's Conv1D weights to [out, in]; Hugging Face keeps them [in, out]
    invert: Object.fromEntries(
      ["attn_qkv", "attn_output", "ffn_up", "ffn_down"].map((role) => [role, (t: Tensor) => (t.rank === 2 ? transpose2d(t) : t)]),
    ),
  },
  gptneox: {
    config(c, r) {
      const rope = rotaryOf(c, r);
      oneAttentionBias(r, c, "blk.0.attn_qkv.bias");
      requireBias(r, c.mlpBias, true, "blk.0.ffn_up.bias", "GPT-NeoX's MLP");
      if (c.nKvHeads !== c.nHeads || c.dHead * c.nHeads !== c.dModel)
        r.fail("gptneox.attention.head_count_kv", "GPT-NeoX's heads split hidden_size, with no grouped-query attention");
      const pct = rope.rotaryDim / c.dHead;
      // transformers rotates int(head_size * rotary_pct) dimensions
      if (Math.floor(c.dHead * pct) !== rope.rotaryDim)
        r.fail("gptneox.rope.dimension_count", `${rope.rotaryDim} of ${c.dHead} is no rotary_pct transformers reads back`);
      return {
        architectures: ["GPTNeoXForCausalLM"],
        model_type: "gpt_neox",
        vocab_size: c.vocabSize,
        hidden_size: c.dModel,
        intermediate_size: c.dMlp,
        num_hidden_layers: c.nLayers,
        num_attention_heads: c.nHeads,
        max_position_embeddings: c.maxPositions,
        rotary_pct: pct,
        rotary_emb_base: f32Decimal(rope.theta),
        rope_scaling: r.ropeScaling(rope),
        use_parallel_residual: c.parallelResidual,
        layer_norm_eps: f32Decimal(c.norm.eps),
        hidden_act: "gelu",
        attention_bias: c.qkvBias,
        tie_word_embeddings: r.tied,
        ...idKeys(c),
      };
    },
    invert: {
      attn_qkv: (t, c) => ungroupNeoxQkv(t, c.nHeads),
    },
  },
};

// ——— rope scaling ———

/** Meta's Llama 3.x values (3.1, 3.2, 3.3 alike); tried when the factors do not pin the thresholds down. */
const META_LLAMA3 = { highFreqFactor: 4, originalMaxPositions: 8192 };

/** The inverse frequencies of `pos` with `scaling`, against those of the file's factors: relative difference. */
function maxRelDiff(pos: Rotary, scaling: RopeScaling, want: Float64Array): number {
  const got = inverseFrequencies({ ...pos, scaling });
  return got.reduce((m, g, i) => Math.max(m, Math.abs(g - (want[i] as number)) / (want[i] as number)), 0);
}

/**
 * The Llama 3 rope_scaling whose per-frequency divisors are `factors` (llama.cpp's rope_freqs.weight), or
 * undefined. Only the wavelength thresholds original_max_position_embeddings / low_freq_factor and
 * / high_freq_factor shape the curve, so low_freq_factor is fixed at 1 (Meta's) and the other two are solved
 * from the smoothed entries (between 1 and factor): each gives old / wavelen - 1 = smooth · (high - 1). With
 * one such entry high is taken as Meta's 4; with none, original_max_position_embeddings is any value between
 * the wavelengths at the plateaus' edges, Meta's 8192 if it fits. Each candidate is checked by recomputing.
 */
function llama3FromFactors(pos: Rotary, factors: Tensor): Llama3Scaling | undefined {
  const v = Array.from(factors.data as Float32Array);
  const factor = Math.max(...v);
  if (!(factor > 1)) return undefined;
  const wavelen = v.map((_, i) => 2 * Math.PI * pos.theta ** ((2 * i) / pos.rotaryDim));
  const eps = 1e-6; // f32 plateaus
  const smoothed = v.flatMap((x, i) =>
    x > 1 + eps && x < factor * (1 - eps) ? [{ wl: wavelen[i] as number, s: (1 / x - 1 / factor) / (1 - 1 / factor) }] : [],
  );
  const candidates: { high: number; old: number }[] = [];
  const first = smoothed[0];
  const last = smoothed[smoothed.length - 1];
  if (first !== undefined && last !== undefined && smoothed.length > 1) {
    // old / wl_a - s_a (high - 1) = 1 = old / wl_b - s_b (high - 1), solved for high - 1, then old rounded
    const hm1 = (last.wl - first.wl) / (first.s * first.wl - last.s * last.wl);
    const old = Math.round(first.wl * (1 + first.s * hm1));
    candidates.push({ old, high: Number((1 + (old / first.wl - 1) / first.s).toPrecision(6)) });
  }
  if (first !== undefined)
    candidates.push({
      high: META_LLAMA3.highFreqFactor,
      old: Math.round(first.wl * (1 + first.s * (META_LLAMA3.highFreqFactor - 1))),
    });
  else {
    // unscaled entries need wavelen < old / high, fully scaled ones wavelen > old
    const lo = Math.max(0, ...v.flatMap((x, i) => (x <= 1 + eps ? [(wavelen[i] as number) * META_LLAMA3.highFreqFactor] : [])));
    const hi = Math.min(...v.flatMap((x, i) => (x >= factor * (1 - eps) ? [wavelen[i] as number] : [])));
    const pow2 = 2 ** Math.ceil(Math.log2(lo + 1));
    const old =
      lo < META_LLAMA3.originalMaxPositions && META_LLAMA3.originalMaxPositions < hi
        ? META_LLAMA3.originalMaxPositions
        : pow2 < hi
          ? pow2
          : Math.ceil(lo + 1);
    candidates.push({ high: META_LLAMA3.highFreqFactor, old });
  }
  candidates.push({ old: META_LLAMA3.originalMaxPositions, high: META_LLAMA3.highFreqFactor });
  const want = inverseFrequencies(pos, factors);
  for (const { high, old } of candidates) {
    if (!(high > 1) || !Number.isSafeInteger(old) || old <= 0) continue;
    const scaling: Llama3Scaling = {
      kind: "llama3",
      factor: f32Decimal(factor),
      lowFreqFactor: 1,
      highFreqFactor: high,
      originalMaxPositions: old,
    };
    // llama.cpp computes the factors with f32 frequencies; 1e-5 is far below any other setting's difference
    if (maxRelDiff(pos, scaling, want) < 1e-5) return scaling;
  }
  return undefined;
}

/** config.json's rope_scaling for each kind a GGUF config can carry; a new kind without an entry fails to compile. */
const ropeScalingJson: {
  readonly [K in RopeScaling["kind"]]: (
    s: Extract<RopeScaling, { kind: K }>,
    pos: Rotary,
    tensor: TensorOf,
    fail: Fail,
  ) => Record<string, unknown> | null;
} = {
  none: () => null,
  linear: (s) => ({ rope_type: "linear", factor: f32Decimal(s.factor) }),
  llama3: (s) => ({
    rope_type: "llama3",
    factor: s.factor,
    low_freq_factor: s.lowFreqFactor,
    high_freq_factor: s.highFreqFactor,
    original_max_position_embeddings: s.originalMaxPositions,
  }),
  freqFactors(s, pos, tensor, fail) {
    const factors = tensor(s.tensor);
    // all ones: llama.cpp wrote the tensor for a model that does not scale
    if (Array.from(factors.data as Float32Array).every((x) => x === 1)) return null;
    const l3 = llama3FromFactors(pos, factors);
    if (l3 === undefined) {
      return fail(
        `tensor ${show(s.tensor)}`,
        "per-frequency rope factors that follow no Llama 3 rope_scaling; a Hugging Face config has no place for arbitrary factors",
      );
    }
    return ropeScalingJson.llama3(l3, pos, tensor, fail);
  },
};

/** The rope_scaling of `pos`: its kind's entry, called with the narrowed scaling. */
function ropeScalingFor(pos: Rotary, tensor: TensorOf, fail: Fail): Record<string, unknown> | null {
  // TypeScript cannot relate the kind of pos.scaling to the parameter type of the entry it picks
  const rule = ropeScalingJson[pos.scaling.kind] as (
    s: RopeScaling,
    pos: Rotary,
    tensor: TensorOf,
    fail: Fail,
  ) => Record<string, unknown> | null;
  return rule(pos.scaling, pos, tensor, fail);
}

// ——— tensors ———

/** The part of a GGUF name that says what the tensor is: `blk.3.attn_q.bias` → `attn_q`. */
function roleOf(ggufName: string): string {
  return ggufName.replace(/^blk\.\d+\./, "").replace(/\.(weight|bias)$/, "");
}

function sameValues(a: Tensor, b: Tensor): boolean {
  if (a.shape.join() !== b.shape.join()) return false;
  const x = a.data;
  const y = b.data;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Each 16-bit type both formats store: a value rounded to it, to test whether it fits exactly. */
const HALF_ROUND: { readonly [H in HalfType]: (x: number) => number } = {
  F16: (x) => f16BitsToF32(f32ToF16Bits(x)),
  BF16: (x) => bf16BitsToF32(f32ToBf16Bits(x)),
};

/**
 * F16 (BF16) when every 2-D weight is stored F16 (BF16) and every other tensor (llama.cpp keeps norms and biases
 * F32) holds only values that type represents exactly, as those of a 16-bit checkpoint do; otherwise F32. Either
 * way nothing the file held is rounded; quantized weights dequantize to values a 16-bit type would round.
 */
function storageType(header: GgufTensorSource["header"], weights: readonly Tensor[]): HfStorageType {
  const types = new Set(header.tensors.filter((t) => t.shape.length >= 2).map((t) => t.ggmlType as string));
  const only = types.size === 1 ? [...types][0] : undefined;
  if (only !== "F16" && only !== "BF16") return "F32";
  const round = HALF_ROUND[only];
  for (const w of weights) {
    if (w.rank >= 2) continue;
    for (const x of w.data as Float32Array) if (round(x) !== x && !Number.isNaN(x)) return "F32";
  }
  return only;
}

/** config.json's torch_dtype for each storage type. */
export const TORCH_DTYPES: { readonly [S in HfStorageType]: string } = { F32: "float32", F16: "float16", BF16: "bfloat16" };

/** An error the architecture raised in Hugging Face terms, restated with the GGUF tensor it is about. */
function inGgufTerms(e: unknown, arch: GgufArchitecture, file: string, names: ReadonlySet<string>): unknown {
  if (!(e instanceof ModelFormatError) || e.file !== file) return e;
  const g = ggufTensorName(arch, e.field);
  if (g === undefined) return e;
  const detail = names.has(g)
    ? e.message.slice(`${file}: ${e.field}: `.length)
    : `missing (the ${arch} model reads it as ${e.field})`;
  return new ModelFormatError(file, `tensor ${show(g)}`, detail);
}

/**
 * Converts a GGUF model (as llama.cpp's convert_hf_to_gguf.py writes it: llama, qwen2, gpt2, gptneox) into the
 * files of a Hugging Face folder transformers loads: config.json, the state dict in Hugging Face names and
 * layouts (Llama's q/k rows unpermuted, GPT-2's Conv1D weights transposed back, GPT-NeoX's q/k/v regrouped per
 * head, an output.weight equal to the token embedding dropped as tied, Llama 3's rope_freqs.weight turned back
 * into rope_scaling), tokenizer.json and tokenizer_config.json, generation_config.json. Quantized tensors arrive
 * dequantized (f32). Throws ModelFormatError naming `file` and the metadata key or tensor when the file is broken
 * or holds what a Hugging Face config cannot express.
 *
 * @example
 * const g = openGguf("model.gguf");
 * try { const hf = ggufToHf(g, "model.gguf"); writeSafetensors("out/model.safetensors", hf.weights); } finally { g.close(); }
 */
export function ggufToHf(src: GgufTensorSource, file: string): HfCheckpoint {
  const { header } = src;
  const names = new Set(header.tensors.map((t) => t.name));
  const c = normalizeGgufConfig(header.metadata, file, names);
  if (c.source.format !== "gguf") throw new Error("unreachable: a GGUF config has a GGUF source");
  const arch = c.source.architecture;
  const fail: Fail = (field, detail) => {
    throw new ModelFormatError(file, field, detail);
  };

  // Building the model reads exactly the tensors the architecture needs, with their shapes checked; what it
  // leaves unread is refused below in the converter's terms (it would be dropped), so buildModel lets it pass.
  const read = new Map<string, Tensor>();
  const load = (g: string): Tensor => {
    const t = read.get(g) ?? src.tensor(g);
    read.set(g, t);
    return t;
  };
  try {
    buildModel(c, ggufWeightSource(arch, names, load), file, { allowUnread: true });
  } catch (e) {
    throw inGgufTerms(e, arch, file, names);
  }
  // The LM head is converted whether or not our architecture reads it: GPT-2's always ties, but an untied one is
  // a lm_head.weight to transformers. Any other tensor left unread would vanish from the conversion.
  for (const t of header.tensors)
    if (!read.has(t.name) && t.name !== "output.weight")
      fail(`tensor ${show(t.name)}`, `not part of a ${arch} model; converting would drop it`);

  const embed = load("token_embd.weight");
  const output = names.has("output.weight") ? load("output.weight") : undefined;
  // llama.cpp writes a tied head again as output.weight (GPT-2); an exact copy is tied in Hugging Face terms
  const tied = output === undefined || sameValues(output, embed);
  const scalingTensor =
    c.positional.kind === "rotary" && c.positional.scaling.kind === "freqFactors" ? c.positional.scaling.tensor : null;
  const layout = HF_LAYOUTS[arch];
  const resolved: Resolved = {
    arch,
    tied,
    fail,
    ropeScaling: (pos) => ropeScalingFor(pos, load, fail),
  };
  const weights: Record<string, Tensor> = {};
  for (const t of header.tensors) {
    if (t.name === scalingTensor || (tied && t.name === "output.weight")) continue;
    const hf = hfTensorName(arch, t.name);
    if (hf === undefined) return fail(`tensor ${show(t.name)}`, `has no Hugging Face name for ${arch}`);
    const invert = layout.invert[roleOf(t.name)];
    const w = load(t.name);
    weights[hf] = invert === undefined ? w : invert(w, c);
  }
  const dtype = storageType(header, Object.values(weights));
  const config = { ...layout.config(c, resolved), torch_dtype: TORCH_DTYPES[dtype] };

  let tokenizer: Record<string, unknown> | undefined;
  let tokenizerConfig: Record<string, unknown> | undefined;
  if (header.metadata.has("tokenizer.ggml.model")) {
    const files = ggufTokenizerFiles(header.metadata, file);
    tokenizer = files.tokenizer;
    // PreTrainedTokenizerFast uses tokenizer.json as it is; a model type's own class (LlamaTokenizerFast)
    // would rebuild the post-processor from its add_bos_token default
    tokenizerConfig = { tokenizer_class: "PreTrainedTokenizerFast", model_max_length: c.maxPositions, ...files.tokenizerConfig };
  }
  const ids = idKeys(c);
  const generationConfig = c.bosTokenId === null && c.eosTokenIds.length === 0 ? undefined : ids;
  return { config, weights, dtype, tokenizer, tokenizerConfig, generationConfig };
}
