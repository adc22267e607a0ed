// Hugging Face checkpoint → GGUF, laid out as llama.cpp's convert_hf_to_gguf.py does: the `<arch>.*` keys, tensor
// names (gguf-names.ts, the table the GGUF reader uses), the layout changes (Llama's q/k rows permuted for
// interleaved rope, GPT-2's Conv1D weights transposed, GPT-NeoX's q/k/v regrouped, Llama 3 scaling as
// `rope_freqs.weight`) and the tokenizer as `tokenizer.ggml.*` (byte-level BPE, SentencePiece-style BPE, WordPiece).
//
// The output is checked the way it will be read: the metadata normalizes back (normalizeGgufConfig) to the
// checkpoint's own ModelConfig, and the tokenizer rebuilt from it (loadGgufTokenizer) gives tokenizer.json's ids on a
// probe. What GGUF cannot express is a ModelFormatError naming the file and key, never a file that runs differently.
//
// Platform-neutral: the CLI's `convert` reads the folder and writes the file.

import type { GgufValue, GgufWriteInput, GgufWriteType } from "@llmdbg/formats";
import { ModelFormatError, show } from "@llmdbg/formats";
import {
  type Activation,
  buildModel,
  type GgufArchitecture,
  ggufTensorName,
  ggufWeightSource,
  type HfModelType,
  hfTensorName,
  type ModelConfig,
  normalizeGgufConfig,
  normalizeHfConfig,
} from "@llmdbg/models";
import { fromTyped, type Tensor } from "@llmdbg/tensor";
import {
  type GgufTokenizerModel,
  ggufPreAddsBos,
  ggufPreOf,
  type HfTokenizer,
  loadGgufTokenizer,
  loadHfTokenizer,
  mergesFromScores,
  readChatTemplate,
} from "@llmdbg/tokenizers";
import { llama3FreqFactors, permuteForInterleavedRope, regroupNeoxQkv, transpose2d } from "./layout.js";

/** A Hugging Face checkpoint as parsed JSON objects and f32 tensors (state-dict names, with or without the model prefix). */
export interface HfToGgufInput {
  /** config.json */
  readonly config: Readonly<Record<string, unknown>>;
  /** tokenizer.json; without it the GGUF carries no tokenizer (llama.cpp cannot run such a file) */
  readonly tokenizer?: Readonly<Record<string, unknown>>;
  /** tokenizer_config.json: special token names, add_bos_token/add_eos_token, chat_template */
  readonly tokenizerConfig?: Readonly<Record<string, unknown>>;
  readonly weights: Readonly<Record<string, Tensor>>;
}

export interface HfToGgufOptions {
  /**
   * storage of 2-D weights; 1-D tensors (norms, biases, rope_freqs) stay F32 as llama.cpp keeps them. Q8_0 needs rows
   * of a multiple of 32 values; other weights fall back to F16, as llama.cpp's converter does. Default F32
   */
  readonly type?: "F32" | "F16" | "Q8_0";
  /** general.name; none when absent */
  readonly name?: string;
  /** the paths errors name; default the file names of a Hugging Face folder */
  readonly files?: Partial<Files & { readonly weights: string }>;
}

type Files = { readonly config: string; readonly tokenizer: string; readonly tokenizerConfig: string };

type Obj = Readonly<Record<string, unknown>>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

const u32 = (value: number): GgufValue => ({ type: "u32", value });
const f32 = (value: number): GgufValue => ({ type: "f32", value });
const str = (value: string): GgufValue => ({ type: "string", value });
const bool = (value: boolean): GgufValue => ({ type: "bool", value });

// ——— per-architecture tables ———

/** llama.cpp's converter writes Mistral as `llama`; BERT and RoBERTa have no GGUF layout normalizeGgufConfig reads. */
export const GGUF_ARCHITECTURE_OF: { readonly [K in HfModelType]: GgufArchitecture | null } = {
  gpt2: "gpt2",
  llama: "llama",
  mistral: "llama",
  qwen2: "qwen2",
  gpt_neox: "gptneox",
  bert: null,
  roberta: null,
};

interface ArchLayout {
  /** the `<arch>.*` keys llama.cpp's converter writes for the architecture, by suffix, in its order */
  readonly keys: (c: ModelConfig) => Record<string, GgufValue>;
  /** llama.cpp's layout changes, by block role */
  readonly transforms: Readonly<Record<string, (t: Tensor, c: ModelConfig) => Tensor>>;
  /** checkpoint buffers that are not parameters (llama.cpp skips them) */
  readonly buffers: RegExp | null;
  /** GPT-2: llama.cpp writes the tied embedding a second time as output.weight */
  readonly outputCopiesEmbedding: boolean;
  /** Llama 3 scaling goes in as rope_freqs.weight, which only llama.cpp's llama graph reads */
  readonly ropeFreqs: boolean;
  /** the activation the GGUF architecture implies, and the config.json key that chooses it */
  readonly activation: readonly [key: string, value: Activation];
}

/** The keys Llama and Qwen2 share; llama.cpp stores the head width only when it is not embedding_length / head_count. */
function llamaKeys(c: ModelConfig): Record<string, GgufValue> {
  const rope = c.positional.kind === "rotary" ? c.positional : undefined;
  return {
    vocab_size: u32(c.vocabSize),
    block_count: u32(c.nLayers),
    context_length: u32(c.maxPositions),
    embedding_length: u32(c.dModel),
    feed_forward_length: u32(c.dMlp),
    "attention.head_count": u32(c.nHeads),
    "attention.head_count_kv": u32(c.nKvHeads),
    "rope.freq_base": f32(rope?.theta ?? 10000),
    "attention.layer_norm_rms_epsilon": f32(c.norm.eps),
    ...(c.dHead * c.nHeads !== c.dModel && { "attention.key_length": u32(c.dHead), "attention.value_length": u32(c.dHead) }),
  };
}

const LAYOUTS: { readonly [A in GgufArchitecture]: ArchLayout } = {
  llama: {
    keys: (c) => ({ ...llamaKeys(c), "rope.dimension_count": u32(c.dHead) }),
    // llama.cpp's rope rotates adjacent pairs; Hugging Face's q/k rows pair i with i + dHead/2
    transforms: {
      attn_q: (t, c) => permuteForInterleavedRope(t, c.nHeads),
      attn_k: (t, c) => permuteForInterleavedRope(t, c.nKvHeads),
    },
    buffers: /\.rotary_emb\.inv_freq$/,
    outputCopiesEmbedding: false,
    ropeFreqs: true,
    activation: ["hidden_act", "silu"],
  },
  qwen2: {
    keys: llamaKeys,
    transforms: {}, // Qwen2 runs llama.cpp's NEOX rope, Hugging Face's own pairing
    buffers: /\.rotary_emb\.inv_freq$/,
    outputCopiesEmbedding: false,
    ropeFreqs: false,
    activation: ["hidden_act", "silu"],
  },
  gpt2: {
    keys: (c) => ({
      block_count: u32(c.nLayers),
      context_length: u32(c.maxPositions),
      embedding_length: u32(c.dModel),
      feed_forward_length: u32(c.dMlp),
      "attention.head_count": u32(c.nHeads),
      "attention.layer_norm_epsilon": f32(c.norm.eps),
    }),
    // Conv1D stores [in, out]
    transforms: Object.fromEntries(
      ["attn_qkv", "attn_output", "ffn_up", "ffn_down"].map((role) => [role, (t: Tensor) => (t.rank === 2 ? transpose2d(t) : t)]),
    ),
    buffers: /\.attn\.(masked_)?bias$/,
    outputCopiesEmbedding: true,
    ropeFreqs: false,
    activation: ["activation_function", "gelu_tanh"],
  },
  gptneox: {
    keys: (c) => {
      const rope = c.positional.kind === "rotary" ? c.positional : undefined;
      return {
        context_length: u32(c.maxPositions),
        embedding_length: u32(c.dModel),
        block_count: u32(c.nLayers),
        feed_forward_length: u32(c.dMlp),
        "rope.dimension_count": u32(rope?.rotaryDim ?? c.dHead),
        // llama.cpp's converter writes no base for GPT-NeoX (its config calls it rotary_emb_base); 10000 is the default
        ...(rope !== undefined && rope.theta !== 10000 && { "rope.freq_base": f32(rope.theta) }),
        "attention.head_count": u32(c.nHeads),
        use_parallel_residual: bool(c.parallelResidual),
        "attention.layer_norm_epsilon": f32(c.norm.eps),
      };
    },
    transforms: { attn_qkv: (t, c) => regroupNeoxQkv(t, c.nHeads) },
    buffers: /\.attention\.(bias|masked_bias|rotary_emb\.inv_freq)$/,
    outputCopiesEmbedding: false,
    ropeFreqs: false,
    activation: ["hidden_act", "gelu_erf"],
  },
};

/** The name the converted metadata goes by when it is read back; inFile puts the source file in its place. */
const CONVERTED = "(converted)";

/** Runs `read` on the converted metadata, blaming `file` for what it rejects (e.g. a token spelled twice). */
function inFile<T>(file: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (!(e instanceof ModelFormatError) || e.file !== CONVERTED) throw e;
    throw new ModelFormatError(file, `as GGUF ${e.field}`, e.message.slice(`${CONVERTED}: ${e.field}: `.length));
  }
}

/** llama.cpp's LLAMA_FTYPE for general.file_type. */
const FILE_TYPES: { readonly [T in GgufWriteType]: number } = { F32: 0, F16: 1, Q8_0: 7 };

// ——— the checkpoint ———

/** The ModelConfig fields a GGUF file must give back (tied embeddings, ids and layout flags are carried otherwise). */
function comparable(c: ModelConfig) {
  const { dModel, nLayers, nHeads, nKvHeads, dHead, dMlp, vocabSize, maxPositions, activation, gatedMlp } = c;
  const { parallelResidual, qkvBias, oBias, mlpBias, norm, positional: p, slidingWindow: w } = c;
  const s = p.kind === "rotary" ? p.scaling : { kind: "none" as const };
  const sizes = { dModel, nLayers, nHeads, nKvHeads, dHead, dMlp, vocabSize, maxPositions, activation, gatedMlp };
  const flags = { parallelResidual, qkvBias, oBias, mlpBias, norm: { kind: norm.kind, eps: Math.fround(norm.eps) } };
  return {
    ...sizes,
    ...flags,
    rotary: p.kind === "rotary" ? { theta: Math.fround(p.theta), rotaryDim: p.rotaryDim } : null,
    // llama.cpp keeps Llama 3 scaling as rope_freqs.weight, computed here from the same numbers
    scaling: s.kind === "linear" ? { kind: s.kind, factor: Math.fround(s.factor) } : s.kind === "llama3" ? "freqFactors" : s.kind,
    // a window from a layer past the last one never applies
    slidingWindow: w !== null && w.fromLayer < nLayers ? w : null,
  };
}

/**
 * The GGUF file llama.cpp's convert_hf_to_gguf.py would write for a checkpoint of gpt2, llama, mistral, qwen2 or
 * gpt_neox: `<arch>.*` keys, tensors renamed as gguf-names.ts reads them, llama.cpp's layout changes, linear rope
 * scaling as `rope.scaling.*`, Llama 3 scaling as `rope_freqs.weight`, a sliding window as `attention.sliding_window`
 * (which llama.cpp ignores for these architectures), the tokenizer as `ggufTokenizerMetadata` writes it with the
 * byte-level pre-tokenizer name found by probing. What GGUF cannot express throws ModelFormatError naming the file
 * (config.json, tokenizer.json, the weights) and the key or tensor.
 *
 * @example
 * const input = hfToGguf({ config, tokenizer, tokenizerConfig, weights }, { type: "Q8_0", name: "TinyLlama" });
 * writeGguf("tinyllama-q8_0.gguf", input);
 */
export function hfToGguf(hf: HfToGgufInput, opts: HfToGgufOptions = {}): GgufWriteInput {
  const files = {
    config: opts.files?.config ?? "config.json",
    tokenizer: opts.files?.tokenizer ?? "tokenizer.json",
    tokenizerConfig: opts.files?.tokenizerConfig ?? "tokenizer_config.json",
    weights: opts.files?.weights ?? "model.safetensors",
  };
  const failConfig = (key: string, detail: string): never => {
    throw new ModelFormatError(files.config, key, detail);
  };
  const c = normalizeHfConfig(hf.config, files.config);
  if (c.source.format !== "hf") throw new Error("unreachable: normalizeHfConfig gives a Hugging Face source");
  const arch = GGUF_ARCHITECTURE_OF[c.source.modelType];
  if (arch === null) {
    const have = Object.keys(GGUF_ARCHITECTURE_OF).filter((k) => GGUF_ARCHITECTURE_OF[k as HfModelType] !== null);
    return failConfig("model_type", `${show(c.source.modelType)} has no GGUF layout; supported: ${have.join(", ")}`);
  }
  const layout = LAYOUTS[arch];
  if (c.classifier !== null) failConfig("architectures", "a classifier head has no GGUF layout; only language models convert");
  if (c.attnOnly)
    failConfig("attn_only", "an attention-only model has no GGUF layout: llama.cpp's blocks all have a feed-forward part");
  const [actKey, act] = layout.activation;
  if (c.activation !== act) failConfig(actKey, `GGUF ${arch} implies ${act}, the checkpoint uses ${c.activation}`);

  // ——— rope scaling and the sliding window ———
  const meta: Record<string, GgufValue> = { "general.architecture": str(arch) };
  if (opts.name !== undefined) meta["general.name"] = str(opts.name);
  for (const [k, v] of Object.entries(layout.keys(c))) meta[`${arch}.${k}`] = v;
  const tensors: { name: string; tensor: Tensor; type: GgufWriteType }[] = [];
  const type2d = opts.type ?? "F32";
  const put = (name: string, t: Tensor) => {
    const q8 = type2d === "Q8_0" && (t.shape[t.rank - 1] as number) % 32 !== 0 ? "F16" : type2d;
    tensors.push({ name, tensor: t, type: t.rank >= 2 ? q8 : "F32" });
  };
  const seen = new Map<string, string>(); // GGUF name → HF name
  const rope = c.positional.kind === "rotary" ? c.positional : undefined;
  if (rope?.scaling.kind === "linear") {
    meta[`${arch}.rope.scaling.type`] = str("linear");
    meta[`${arch}.rope.scaling.factor`] = f32(rope.scaling.factor);
  } else if (rope?.scaling.kind === "llama3") {
    if (!layout.ropeFreqs)
      failConfig("rope_scaling", `Llama 3 scaling is rope_freqs.weight, which llama.cpp reads for llama only`);
    const factors = llama3FreqFactors(rope.theta, rope.rotaryDim, rope.scaling);
    put("rope_freqs.weight", fromTyped(factors, [factors.length], "f32")); // first, as llama.cpp's extra tensors are
    seen.set("rope_freqs.weight", "rope_scaling");
  }
  const w = c.slidingWindow;
  if (w !== null && w.fromLayer < c.nLayers) {
    if (w.fromLayer > 0)
      failConfig("max_window_layers", `GGUF's attention.sliding_window is every layer's, not from ${w.fromLayer} on`);
    meta[`${arch}.attention.sliding_window`] = u32(w.size);
  }

  // ——— tensors ———
  const failWeight = (name: string, detail: string): never => {
    throw new ModelFormatError(files.weights, name, detail);
  };
  for (const [hfName, t] of Object.entries(hf.weights)) {
    if (layout.buffers?.test(hfName)) continue;
    const name = ggufTensorName(arch, hfName);
    if (name === undefined || name === "rope_freqs.weight") return failWeight(hfName, `no GGUF ${arch} tensor takes it`);
    const other = seen.get(name);
    if (other !== undefined) failWeight(hfName, `is ${name} in GGUF, as is ${other}`);
    seen.set(name, hfName);
    const block = /^blk\.(\d+)\.([a-z_]+)\./.exec(name);
    if (block !== null && Number(block[1]) >= c.nLayers)
      failWeight(hfName, `layer ${block[1]} is past the config's ${c.nLayers} layers`);
    const transform = block === null ? undefined : layout.transforms[block[2] as string];
    put(name, transform === undefined ? t : transform(t, c));
    if (name === "token_embd.weight" && layout.outputCopiesEmbedding && hf.weights["lm_head.weight"] === undefined) {
      put("output.weight", t); // the converter writes the tied embedding twice, right after itself
      seen.set("output.weight", hfName);
    }
  }
  const output = hfTensorName(arch, "output.weight") ?? "output.weight";
  if (!c.tiedEmbeddings && !seen.has("output.weight"))
    failWeight(output, "missing, and the config does not tie it to the embedding");

  meta["general.file_type"] = u32(FILE_TYPES[type2d]);
  if (hf.tokenizer === undefined) meta[`${arch}.vocab_size`] = u32(c.vocabSize);
  else Object.assign(meta, probedTokenizerMetadata(hf, files));

  // What llmdbg (and llama.cpp) will read back must be the checkpoint's own model, every tensor there in its shape.
  const names = new Set(tensors.map((t) => t.name));
  const back = inFile(files.config, () => normalizeGgufConfig(new Map(Object.entries(meta)), CONVERTED, names));
  const [want, got] = [comparable(c), comparable(back)];
  for (const key of Object.keys(want) as (keyof typeof want)[]) {
    const [a, b] = [JSON.stringify(want[key]), JSON.stringify(got[key])];
    if (a !== b) failConfig("model_type", `GGUF ${arch} would read ${key} back as ${b}, the checkpoint has ${a}`);
  }
  const byName = new Map(tensors.map((t) => [t.name, t.tensor]));
  const weights = ggufWeightSource(arch, names, (n) => byName.get(n) as Tensor);
  buildModel(back, weights, files.weights);
  return { metadata: meta, tensors };
}

// ——— tokenizer ———

/** gguf-py's TokenType. */
const TokenType = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

interface AddedToken {
  readonly id: number;
  readonly content: string;
  readonly special: boolean;
}

/** tokenizer.json and its config, read once for every family's writer. */
interface VocabSource {
  readonly tok: Obj;
  readonly model: Obj;
  readonly family: GgufTokenizerModel;
  /** tokenizer_config.json, {} when absent */
  readonly cfg: Obj;
  readonly config: Obj;
  /** id → token, gaps and rows up to config.json's vocab_size filled with llama.cpp's `[PAD{id}]` */
  readonly tokens: readonly string[];
  /** NORMAL, CONTROL (a special added token), USER_DEFINED (another added token) or UNUSED (a filler) */
  readonly types: readonly number[];
  readonly added: readonly AddedToken[];
  readonly fail: (field: string, detail: string) => never;
}

function readVocab(hf: Pick<HfToGgufInput, "config" | "tokenizer" | "tokenizerConfig">, files: Files): VocabSource {
  const fail = (field: string, detail: string): never => {
    throw new ModelFormatError(files.tokenizer, field, detail);
  };
  const tok = hf.tokenizer ?? fail("file", "missing");
  const model = isObj(tok.model) ? tok.model : fail("model", `expected an object, got ${show(tok.model)}`);
  const family = familyOf(model, fail);
  const vocab = isObj(model.vocab) ? model.vocab : fail("model.vocab", `expected an object, got ${show(model.vocab)}`);
  const byId: (string | undefined)[] = [];
  for (const [t, id] of Object.entries(vocab)) {
    if (!Number.isSafeInteger(id) || (id as number) < 0) fail(`model.vocab.${t}`, `expected a token id, got ${show(id)}`);
    byId[id as number] = t;
  }
  const rawAdded = tok.added_tokens ?? [];
  if (!Array.isArray(rawAdded)) fail("added_tokens", `expected an array, got ${show(rawAdded)}`);
  const added = (rawAdded as unknown[]).map((a, i): AddedToken => {
    if (!isObj(a) || !Number.isSafeInteger(a.id) || (a.id as number) < 0 || typeof a.content !== "string")
      return fail(`added_tokens[${i}]`, `expected {id, content}, got ${show(a)}`);
    return { id: a.id as number, content: a.content, special: a.special === true };
  });
  for (const a of added) byId[a.id] = a.content;
  const vocabSize = typeof hf.config.vocab_size === "number" ? hf.config.vocab_size : byId.length;
  if (byId.length > vocabSize)
    throw new ModelFormatError(files.config, "vocab_size", `the tokenizer has ids up to ${byId.length - 1}; got ${vocabSize}`);
  const types: number[] = [];
  const tokens = Array.from({ length: vocabSize }, (_, i) => {
    types.push(byId[i] === undefined ? TokenType.unused : TokenType.normal);
    return byId[i] ?? `[PAD${i}]`; // llama.cpp's filler for ids the tokenizer does not use
  });
  for (const a of added) types[a.id] = a.special || looksSpecial(a.content) ? TokenType.control : TokenType.userDefined;
  return { tok, model, family, cfg: hf.tokenizerConfig ?? {}, config: hf.config, tokens, types, added, fail };
}

/**
 * convert_hf_to_gguf.py's `does_token_look_special`: added tokens some models leave unmarked that are control tokens
 * all the same (Qwen's `<|file_sep|>`, DeepSeek's `<｜…｜>`, Gemma's `<unused…>`); llama.cpp retypes them at load.
 */
function looksSpecial(t: string): boolean {
  return (
    ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].includes(t) ||
    (t.startsWith("<|") && t.endsWith("|>")) ||
    (t.startsWith("<\uff5c") && t.endsWith("\uff5c>")) ||
    (t.startsWith("<unused") && t.endsWith(">"))
  );
}

const strings = (items: readonly string[]): GgufValue => ({ type: "array", value: { elemType: "string", items } });
const i32s = (items: readonly number[]): GgufValue => ({ type: "array", value: { elemType: "i32", items } });

/** Byte-level BPE as `_set_vocab_gpt2` writes it: tokens in their byte-level spelling, "left right" merges. */
function writeGpt2(s: VocabSource): Record<string, GgufValue> {
  const decoder = s.tok.decoder;
  if (!isObj(decoder) || decoder.type !== "ByteLevel")
    s.fail("decoder", `byte-level BPE (GPT-2's) decodes with ByteLevel, got ${show(isObj(decoder) ? decoder.type : decoder)}`);
  const raw = Array.isArray(s.model.merges) ? (s.model.merges as unknown[]) : s.fail("model.merges", "expected an array");
  // newer tokenizer.json files hold [left, right] pairs; byte-level symbols never contain a space
  const merges = raw.map((m, i) =>
    typeof m === "string" ? m : Array.isArray(m) && m.length === 2 ? m.join(" ") : s.fail(`model.merges[${i}]`, `got ${show(m)}`),
  );
  return {
    "tokenizer.ggml.model": str("gpt2"),
    "tokenizer.ggml.pre": str("gpt-2"),
    "tokenizer.ggml.tokens": strings(s.tokens),
    "tokenizer.ggml.token_type": i32s(s.types),
    "tokenizer.ggml.merges": strings(merges),
  };
}

/**
 * WordPiece as `BertModel.set_vocab` writes it, in llama.cpp's "phantom space" spelling: word-initial pieces get "▁",
 * "##" continuations lose it, `[…]` tokens stay.
 */
function writeBert(s: VocabSource): Record<string, GgufValue> {
  const phantom = (t: string): string =>
    t.startsWith("[") && t.endsWith("]") ? t : t.startsWith("##") ? t.slice(2) : `\u2581${t}`;
  const norm = s.tok.normalizer;
  const lowercase = isObj(norm) && norm.type === "BertNormalizer" && norm.lowercase !== false;
  return {
    "tokenizer.ggml.model": str("bert"),
    "tokenizer.ggml.pre": str("default"),
    "tokenizer.ggml.tokens": strings(s.tokens.map(phantom)),
    "tokenizer.ggml.token_type": i32s(s.types),
    "tokenizer.ggml.token_type_count": u32(typeof s.config.type_vocab_size === "number" ? s.config.type_vocab_size : 2),
    ...(lowercase && { "tokenizer.ggml.normalizer.lowercase": bool(true) }),
  };
}

const BYTE_PIECE = /^<0x[0-9A-Fa-f]{2}>$/;
const SPACE = "\u2581";

/** Whether text gets SentencePiece's "▁" in front (add_space_prefix), from Llama 2's normalizer or a Metaspace. */
function spacePrefix(s: VocabSource): boolean {
  const replace = (n: unknown) =>
    isObj(n) && n.type === "Replace" && isObj(n.pattern) && n.pattern.String === " " && n.content === SPACE;
  const norm = s.tok.normalizer ?? null;
  const pre = s.tok.pre_tokenizer ?? null;
  if (norm !== null) {
    if (pre !== null) s.fail("pre_tokenizer", `expected none beside Llama 2's "▁" normalizer, got ${show(pre)}`);
    if (replace(norm)) return false;
    const seq = isObj(norm) && norm.type === "Sequence" && Array.isArray(norm.normalizers) ? norm.normalizers : [];
    const prepend = seq[0];
    if (seq.length === 2 && isObj(prepend) && prepend.type === "Prepend" && prepend.prepend === SPACE && replace(seq[1]))
      return true;
    return s.fail("normalizer", `GGUF's SentencePiece only turns spaces into "▁" (Llama 2's normalizer), got ${show(norm)}`);
  }
  if (isObj(pre) && pre.type === "Metaspace" && pre.replacement === SPACE) {
    const scheme = pre.prepend_scheme ?? (pre.add_prefix_space === false ? "never" : "always");
    // transformers' non-legacy Llama: "▁" only at the very start; llama.cpp adds it after every special token too
    if (scheme === "first") s.fail("pre_tokenizer.prepend_scheme", `"first": llama.cpp also puts "▁" after every special token`);
    if (scheme === "always" || scheme === "never") return scheme === "always";
    return s.fail("pre_tokenizer.prepend_scheme", `expected "always", "first" or "never", got ${show(scheme)}`);
  }
  return s.fail("pre_tokenizer", `expected a Metaspace or Llama 2's "▁" normalizer (SentencePiece spaces), got ${show(pre)}`);
}

/**
 * Merges grouped by the token they form, tokens in the order of their first merge; the order of a token's merges
 * among themselves and among other tokens' is set aside (see llamaScores).
 */
function mergeGroups(merges: readonly (readonly [string, string])[], skip: ReadonlySet<string>) {
  const groups = new Map<string, string[]>();
  for (const [l, r] of merges) {
    const piece = l + r;
    if (skip.has(piece)) continue;
    const pairs = groups.get(piece);
    if (pairs === undefined) groups.set(piece, [`${l} ${r}`]);
    else pairs.push(`${l} ${r}`);
  }
  return [...groups].map(([piece, pairs]) => ({ piece, pairs: pairs.sort().join(", ") }));
}

/**
 * SentencePiece scores for a tokenizer.json that has merges and no scores (llama.cpp's own `_set_vocab_llama_hf`
 * writes -1000 for every token, which loses the merge order). GGUF readers rebuild merges from scores
 * (`mergesFromScores`: every split of a token into two tokens, ranked by the token's score), so a token's score is
 * -(1 + the rank of the first merge forming it), a token no merge forms scores below every merge, and control,
 * unknown and byte pieces 0 as in SentencePiece. The rebuilt merges must be tokenizer.json's, token by token in the
 * order of each token's first merge: a token that two halves would form but no merge does cannot be expressed.
 *
 * Where a token's later merges are ranked after other tokens' merges, scores rank them all at the token's first;
 * SentencePiece itself ranks them so (tokenizer.json's merges were extracted from its scores, ties broken by id).
 * Llama 2's and Mistral's files interleave the merges of their whitespace pieces ("▁▁" … 16 × "▁") this way at
 * the end of the list; llama.cpp, converting from tokenizer.model, ranks them by one score per piece as well. The
 * conversion's probe texts (whitespace runs of every length among them) then check that the GGUF tokenizes as
 * tokenizer.json does.
 */
function llamaScores(s: VocabSource, types: readonly number[]): number[] {
  const raw = Array.isArray(s.model.merges) ? (s.model.merges as unknown[]) : s.fail("model.merges", "expected an array");
  const ids = new Map(s.tokens.map((t, i) => [t, i]));
  const merges = raw.map((m, i): [string, string] => {
    const pair: unknown = typeof m === "string" ? m.split(" ") : m;
    const [l, r] = Array.isArray(pair) ? pair : [];
    if (!Array.isArray(pair) || pair.length !== 2 || typeof l !== "string" || typeof r !== "string")
      return s.fail(`model.merges[${i}]`, `expected "left right" or [left, right], got ${show(m)}`);
    for (const p of [l, r, l + r]) if (!ids.has(p)) s.fail(`model.merges[${i}]`, `${show(p)} is not a token`);
    return [l, r];
  });
  // f32 holds integers exactly up to 2^24
  if (merges.length + s.tokens.length >= 2 ** 24) s.fail("model.merges", "too many to rank exactly in f32 scores");
  const firstRank = new Map<string, number>();
  merges.forEach(([l, r], i) => {
    if (!firstRank.has(l + r)) firstRank.set(l + r, i);
  });
  const scores = s.tokens.map((t, i) => {
    const type = types[i];
    if (type === TokenType.control || type === TokenType.unknown || type === TokenType.byte) return 0;
    const rank = type === TokenType.normal ? firstRank.get(t) : undefined;
    return rank === undefined ? -(merges.length + 1 + i) : -(rank + 1);
  });
  // added tokens are split out of the text before BPE, so merges forming them never apply
  const skip = new Set(s.tokens.filter((_, i) => types[i] !== TokenType.normal && types[i] !== TokenType.byte));
  const want = mergeGroups(merges, skip);
  const got = mergeGroups(mergesFromScores(s.tokens, scores), skip);
  const wanted = new Set(want.map((g) => g.piece));
  for (let k = 0; k < Math.max(want.length, got.length); k++) {
    const a = want[k];
    const b = got[k];
    if (a?.piece === b?.piece && a?.pairs === b?.pairs) continue;
    // GGUF readers (llama.cpp, transformers) merge every pair of tokens that forms a token, ranked by its score
    const why =
      b !== undefined && !wanted.has(b.piece)
        ? `${show(b.piece)} would be formed from ${b.pairs}, but no merge forms it`
        : `${show(a?.piece)} is formed by ${a?.pairs}, from scores ${b?.piece === a?.piece ? `by ${b?.pairs}` : "later"}`;
    s.fail("model.merges", `cannot be stored as SentencePiece scores: ${why}`);
  }
  return scores;
}

/**
 * SentencePiece-style BPE (Llama 2, Mistral, TinyLlama: byte fallback, "▁" for spaces) as `_set_vocab_sentencepiece`
 * writes it: model "llama", scores (llamaScores), types (byte pieces BYTE, the unknown piece UNKNOWN) and
 * add_space_prefix.
 */
function writeLlama(s: VocabSource): Record<string, GgufValue> {
  const prefix = spacePrefix(s);
  if (s.model.ignore_merges === true) s.fail("model.ignore_merges", "SentencePiece BPE has no such rule");
  const types = [...s.types];
  s.tokens.forEach((t, i) => {
    if (types[i] === TokenType.normal && BYTE_PIECE.test(t)) types[i] = TokenType.byte;
  });
  const unk = typeof s.model.unk_token === "string" ? s.tokens.indexOf(s.model.unk_token) : -1;
  if (unk >= 0) types[unk] = TokenType.unknown;
  return {
    "tokenizer.ggml.model": str("llama"),
    "tokenizer.ggml.pre": str("default"),
    "tokenizer.ggml.tokens": strings(s.tokens),
    "tokenizer.ggml.scores": { type: "array", value: { elemType: "f32", items: llamaScores(s, types) } },
    "tokenizer.ggml.token_type": i32s(types),
    "tokenizer.ggml.add_space_prefix": bool(prefix),
  };
}

interface TokenizerFamily {
  readonly write: (s: VocabSource) => Record<string, GgufValue>;
  /** llama.cpp's defaults for missing add_bos/add_eos keys differ from Hugging Face's: write both */
  readonly explicitAddFlags: boolean;
  /** `tokenizer.ggml.pre` names to try, in order (the first is written unprobed) */
  readonly pre: readonly string[];
}

/** llama.cpp's tokenizer models, by the `tokenizer.ggml.model` they write. */
const FAMILIES: { readonly [M in GgufTokenizerModel]: TokenizerFamily } = {
  // the byte-level splits loadGgufTokenizer knows; the converter hashes a probe's tokens to pick the name
  gpt2: { write: writeGpt2, explicitAddFlags: false, pre: ["gpt-2", "llama-bpe", "qwen2"] },
  llama: { write: writeLlama, explicitAddFlags: true, pre: ["default"] },
  bert: { write: writeBert, explicitAddFlags: false, pre: ["default"] },
};

function familyOf(model: Obj, fail: (field: string, detail: string) => never): GgufTokenizerModel {
  if (model.type === "WordPiece") return "bert";
  if (model.type === "BPE") return model.byte_fallback === true ? "llama" : "gpt2";
  const what = "byte-level BPE, BPE with byte fallback (SentencePiece-style) or WordPiece";
  return fail("model.type", `${show(model.type)} has no GGUF tokenizer here; supported: ${what}`);
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
type Processor = { type?: string; single?: TemplatePiece[]; pair?: TemplatePiece[]; processors?: Processor[] };

/**
 * add_bos/add_eos/add_sep as gguf-py's SpecialVocab reads them: from a TemplateProcessing post-processor, then
 * tokenizer_config.json's add_*_token. transformers' Llama tokenizers follow the config, the tokenizer.json reader the
 * post-processor, so the two must agree.
 */
function addFlags(s: VocabSource, names: { readonly [T in SpecialTokenType]: string | undefined }, configFile: string) {
  const flags: Partial<Record<"bos" | "eos" | "sep", boolean>> = {};
  const post = s.tok.post_processor as Processor | null | undefined;
  const pp = (post?.processors ?? [post]).find((p) => p?.type === "TemplateProcessing");
  if (pp !== undefined && pp !== null) {
    const single = pp.single ?? [];
    const first = single.length > 1 ? single[0]?.SpecialToken?.id : undefined;
    const last = single.length > 1 ? single[single.length - 1]?.SpecialToken?.id : undefined;
    flags.bos = first !== undefined && (first === names.bos || first === names.cls);
    flags.eos = last !== undefined && last === names.eos;
    // "A [SEP] B" in the pair template, less the single template's ends: a separator only without a trailing token
    let pair = pp.pair ?? [];
    if (first !== undefined && pair[0]?.SpecialToken?.id === first) pair = pair.slice(1);
    if (last !== undefined && pair[pair.length - 1]?.SpecialToken?.id === last) pair = pair.slice(0, -1);
    const middle = pair[0]?.Sequence?.id === "A" && pair[pair.length - 1]?.Sequence?.id === "B" ? pair.slice(1, -1) : [];
    if (middle.length > 0) {
      const isSep = (p: TemplatePiece | undefined) => p?.SpecialToken?.id === names.sep || p?.SpecialToken?.id === names.eos;
      flags.sep = (isSep(middle[0]) && last === undefined) || (middle.length === 2 && isSep(middle[1]));
    }
  }
  for (const typ of ["bos", "eos", "sep"] as const) {
    const v = s.cfg[`add_${typ}_token`];
    if (typeof v !== "boolean") continue;
    if (typ !== "sep" && flags[typ] !== undefined && flags[typ] !== v) {
      const does = flags[typ] ? "adds" : "does not add";
      throw new ModelFormatError(configFile, `add_${typ}_token`, `is ${v}, but tokenizer.json's post_processor ${does} it`);
    }
    flags[typ] = v;
  }
  return flags;
}

/**
 * The `tokenizer.ggml.*` metadata llama.cpp's convert_hf_to_gguf.py writes for a tokenizer.json, by its shape:
 * byte-level BPE as `_set_vocab_gpt2` (model "gpt2", merges, pre "gpt-2": hfToGguf probes for the right name),
 * SentencePiece-style BPE with byte fallback as `_set_vocab_sentencepiece` (model "llama", llamaScores, byte and
 * unknown types, add_space_prefix), WordPiece as `BertModel.set_vocab` (model "bert"). Added tokens are CONTROL when
 * special, else USER_DEFINED; free ids up to vocab_size are `[PAD{id}]` UNUSED. Special ids, add_*_token flags and
 * the chat template as gguf-py's SpecialVocab finds them; SentencePiece gets both flags written, since llama.cpp's
 * defaults for missing ones are not Hugging Face's.
 *
 * @example
 * ggufTokenizerMetadata({ config, tokenizer, tokenizerConfig })["tokenizer.ggml.model"] // { type: "string", value: "llama" }
 */
export function ggufTokenizerMetadata(
  hf: Pick<HfToGgufInput, "config" | "tokenizer" | "tokenizerConfig">,
  files: Files = { config: "config.json", tokenizer: "tokenizer.json", tokenizerConfig: "tokenizer_config.json" },
): Record<string, GgufValue> {
  return vocabMetadata(readVocab(hf, files), files.tokenizerConfig);
}

function vocabMetadata(s: VocabSource, tokenizerConfigFile: string): Record<string, GgufValue> {
  const family = FAMILIES[s.family];
  const meta = family.write(s);
  const name = (key: string): string | undefined => {
    const v = s.cfg[key];
    return typeof v === "string" ? v : isObj(v) && typeof v.content === "string" ? v.content : undefined;
  };
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
  const modelUnk = typeof s.model.unk_token === "string" ? s.tokens.indexOf(s.model.unk_token) : -1;
  for (const typ of Object.keys(SPECIAL_TOKEN_KEYS) as SpecialTokenType[]) {
    const content = names[typ];
    const fromName = content === undefined ? undefined : s.added.find((a) => a.content === content)?.id;
    const fromConfig = s.config[`${typ}_token_id`];
    // the model's own unknown piece when neither file names one (llama.cpp would assume id 0)
    const fallback = typ === "unk" && modelUnk >= 0 ? modelUnk : undefined;
    const id = fromName ?? (typeof fromConfig === "number" ? fromConfig : fallback);
    if (id !== undefined && id < s.tokens.length) meta[SPECIAL_TOKEN_KEYS[typ]] = u32(id);
  }
  const flags = addFlags(s, names, tokenizerConfigFile);
  if (family.explicitAddFlags) {
    flags.bos ??= false;
    flags.eos ??= false;
  }
  for (const [typ, v] of Object.entries(flags)) meta[`tokenizer.ggml.add_${typ}_token`] = bool(v);
  const template = readChatTemplate(s.cfg, tokenizerConfigFile);
  if (template !== undefined) meta["tokenizer.chat_template"] = str(template);
  return meta;
}

/** Text on which the known splits disagree (digit runs, case in contractions, whitespace, scripts). */
const PROBE = "Hello world! I'VE 3 33 333 3333 33333 3.14\n\n \t x  y   z 我想 🦙 ----====== He's 'RE ''' you're";

/**
 * Text on which conversions have gone wrong: code, Markdown, runs of newlines (Qwen's "\n\n" is one token), runs
 * of spaces of every length to 20 (SentencePiece's whitespace pieces), digit runs, CJK, emoji, markup.
 */
const PROBE_MORE = [
  "def f(x):\n    return x ** 2  # square\n\n\nclass A:\n\tpass\n",
  "# Title\n\n- item *bold* `code`\n\n```js\nconst a = [1, 2];\n```\n> quote",
  "a\n\nb\n\n\nc \n\n d\r\n\r\ne",
  Array.from({ length: 20 }, (_, n) => `x${" ".repeat(n + 1)}y`).join("\n"),
  Array.from({ length: 20 }, (_, n) => " ".repeat(n + 1)).join("z"),
  "1234567890 12 123 1,234.56 v2.0.1 0x1F",
  "東京タワー、我想吃饭。한국어 العربية Ελληνικά",
  '<div class="x">markup</div> <s> </s> <|x|> [INST] <unk>',
];

/** The probes, and text around every added token (spaces after special tokens differ between SentencePiece conventions). */
function probeTexts(added: readonly string[]): string[] {
  const around = added.map((t) => `a${t} b  c${t}${t}\n${t}🦙`);
  return [PROBE, " leading space", "  two  spaces ", ...PROBE_MORE, ...around];
}

/** The first text `gguf` encodes to other ids than `hf` (with and without special tokens). */
function firstDifference(hf: HfTokenizer, gguf: HfTokenizer, texts: readonly string[]): string | undefined {
  for (const text of texts) {
    for (const addSpecialTokens of [true, false]) {
      const want = hf.encode(text, { addSpecialTokens });
      const got = gguf.encode(text, { addSpecialTokens });
      if (JSON.stringify(got) !== JSON.stringify(want))
        return `${show(text)} (addSpecialTokens ${addSpecialTokens}) is [${got}], tokenizer.json gives [${want}]`;
    }
  }
  return undefined;
}

/**
 * ggufTokenizerMetadata, checked: the GGUF tokenizer rebuilt from the metadata must give tokenizer.json's ids on
 * probe texts, and for byte-level BPE the `tokenizer.ggml.pre` name is the one that does.
 *
 * @example const meta = probedTokenizerMetadata({ config, tokenizer, tokenizerConfig }, files)
 */
export function probedTokenizerMetadata(
  hf: Pick<HfToGgufInput, "config" | "tokenizer" | "tokenizerConfig">,
  files: Files = { config: "config.json", tokenizer: "tokenizer.json", tokenizerConfig: "tokenizer_config.json" },
): Record<string, GgufValue> {
  const s = readVocab(hf, files);
  const meta = vocabMetadata(s, files.tokenizerConfig);
  const family = FAMILIES[s.family];
  const reference = loadHfTokenizer(hf.tokenizer, hf.tokenizerConfig, files.tokenizer);
  const texts = probeTexts(s.added.map((a) => a.content));
  // A byte-level split GGUF names is read off the pre-tokenizer; only an unnamed one is searched for by probing.
  // (Probing alone once took "gpt-2" for Qwen's split: the two agree on the probe and differ on "\n\n".)
  const known = s.family === "gpt2" ? ggufPreOf(hf.tokenizer) : undefined;
  const candidates = known === undefined ? family.pre : [known.name];
  const misses: string[] = [];
  for (const pre of candidates) {
    const candidate: Record<string, GgufValue> = { ...meta, "tokenizer.ggml.pre": str(pre) };
    // llama.cpp adds a BOS under "llama-bpe" unless told not to: a tokenizer.json that adds none (the first Llama 3
    // release) says so, where llama.cpp's own converter writes nothing and its GGUF gains a BOS the folder lacks.
    if (s.family === "gpt2" && ggufPreAddsBos(pre) === true && candidate["tokenizer.ggml.add_bos_token"] === undefined)
      candidate["tokenizer.ggml.add_bos_token"] = bool(false);
    const gguf = inFile(files.tokenizer, () => loadGgufTokenizer(new Map(Object.entries(candidate)), CONVERTED));
    const miss = firstDifference(reference, gguf, texts);
    if (miss === undefined) return candidate;
    misses.push(`under ${show(pre)}, ${miss}`);
  }
  const field = s.family === "gpt2" ? "pre_tokenizer" : s.tok.pre_tokenizer ? "pre_tokenizer" : "normalizer";
  const tried = candidates.length > 1 ? ` (tried tokenizer.ggml.pre ${candidates.join(", ")})` : "";
  throw new ModelFormatError(files.tokenizer, field, `GGUF would tokenize differently${tried}: ${misses.join("; ")}`);
}
