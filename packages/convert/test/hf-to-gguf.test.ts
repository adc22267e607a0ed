// Hugging Face → GGUF (hfToGguf): the layout moved out of tiny.ts writes what it wrote before, and every converted
// checkpoint reads back as itself — the tokenizer rebuilt from `tokenizer.ggml.*` gives the tokenizer.json's ids and
// text, and the model built from the GGUF header and tensors gives the Hugging Face logits. SentencePiece-style
// tokenizers (Llama 2's tokenizer.json), linear rope scaling and Mistral's sliding window round-trip the same way;
// what GGUF cannot express fails naming the file and the key.
import { createHash } from "node:crypto";
import { run } from "@llmdbg/core";
import { encodeGguf, type GgufValue, type GgufWriteInput, ggufTensor, parseGguf } from "@llmdbg/formats";
import type { WeightSource } from "@llmdbg/models";
import {
  buildModel,
  ggufWeightSource,
  type ModelConfig,
  memoryWeights,
  normalizeGgufConfig,
  normalizeHfConfig,
} from "@llmdbg/models";
import type { Tensor } from "@llmdbg/tensor";
import * as T from "@llmdbg/tensor";
import {
  ggufFromTiny,
  llama2TokenizerJson,
  type TinyModel,
  type TinyModelOptions,
  type TinyModelType,
  tinyModel,
} from "@llmdbg/testing";
import { expectFormatError } from "@llmdbg/testing/vitest";
import { type HfTokenizer, loadGgufTokenizer, loadHfTokenizer } from "@llmdbg/tokenizers";
import { describe, expect, it } from "vitest";
import { ggufTokenizerMetadata, type HfToGgufInput, hfToGguf, probedTokenizerMetadata } from "../src/hf-to-gguf.js";

type Obj = Record<string, unknown>;
const FILE = "model.gguf";

const inputOf = (m: TinyModel): HfToGgufInput => ({
  config: m.config,
  tokenizer: m.tokenizer,
  tokenizerConfig: m.tokenizerConfig,
  weights: m.weights,
});

const memory = (w: Readonly<Record<string, Tensor>>): WeightSource => memoryWeights(w);

/** Order-independent digest of a GGUF write input: metadata entries and each tensor's name, type, shape and f32 data. */
function digest(input: GgufWriteInput): string {
  const m = input.metadata instanceof Map ? Object.fromEntries(input.metadata) : (input.metadata ?? {});
  const meta = Object.entries(m as Record<string, GgufValue>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
  const tensors = [...input.tensors]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((t) => ({
      name: t.name,
      type: t.type,
      shape: t.tensor.shape,
      data: sha(new Uint8Array(Float32Array.from(t.tensor.data as ArrayLike<number>).buffer)),
    }));
  const json = JSON.stringify({ meta, tensors }, (_, v) => (typeof v === "bigint" ? v.toString() : v));
  return sha(new TextEncoder().encode(json)).slice(0, 16);
}

/** The file as a reader sees it: encoded, parsed, its config, tokenizer and model. */
function readBack(input: GgufWriteInput) {
  const bytes = encodeGguf(input);
  const g = parseGguf(bytes, FILE);
  const names = new Set(g.tensors.map((t) => t.name));
  const config = normalizeGgufConfig(g.metadata, FILE, names);
  if (config.source.format !== "gguf") throw new Error("unreachable");
  const weights = ggufWeightSource(config.source.architecture, names, (n) => ggufTensor(g, bytes, n, FILE));
  return { g, config, tokenizer: loadGgufTokenizer(g.metadata, FILE), model: buildModel(config, weights, FILE) };
}

/** The checkpoint as llmdbg runs a Hugging Face folder. */
function hfSide(input: HfToGgufInput) {
  const config = normalizeHfConfig(input.config, "config.json");
  return {
    config,
    tokenizer: loadHfTokenizer(input.tokenizer, input.tokenizerConfig, "tokenizer.json"),
    model: buildModel(config, memory(input.weights), "model.safetensors"),
  };
}

function maxDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs((a.data[i] as number) - (b.data[i] as number)));
  return m;
}

/** max |Δlogits| between the two models on `ids` (printed), which must be below 1e-5. */
function expectSameLogits(label: string, hf: ReturnType<typeof hfSide>, back: ReturnType<typeof readBack>, ids: number[]) {
  const x = T.tensor(ids, [1, ids.length], "i32");
  const d = maxDiff(run(back.model, x).output, run(hf.model, x).output);
  console.log(`${label}: GGUF vs Hugging Face logits over ${ids.length} tokens, max |Δ| ${d.toExponential(2)}`);
  expect(d).toBeLessThan(1e-5);
}

const TEXTS = [
  "the quick brown fox jumps over the lazy dog.",
  "Hello World! The model READS the text.",
  "  two leading spaces,   three inside,\ttab\nnewline\n\nand blank line  ",
  " leading space",
  "numbers 0 12 345 6789 and 3.14159, 1,000,000",
  "it's they're DON'T",
  "café naïve e\u0301",
  "emoji 🙂👍🏽 and CJK 中文字 日本語 한국어",
  "symbols: <>{}[]()#$%^&*_+=|\\/~`@ — “quotes” …",
  "",
  " ",
  "\n",
];

/** Same ids with and without special tokens, the same text back, the same special ids. */
function expectSameTokenizer(hf: HfTokenizer, gguf: HfTokenizer, texts: readonly string[]): void {
  for (const text of texts) {
    for (const addSpecialTokens of [true, false]) {
      const ids = hf.encode(text, { addSpecialTokens });
      expect(gguf.encode(text, { addSpecialTokens }), `${JSON.stringify(text)} addSpecialTokens=${addSpecialTokens}`).toEqual(
        ids,
      );
      for (const skipSpecialTokens of [false, true])
        expect(gguf.decode(ids, { skipSpecialTokens }), JSON.stringify(text)).toBe(hf.decode(ids, { skipSpecialTokens }));
    }
  }
  for (const key of ["bosTokenId", "eosTokenId", "unkTokenId", "chatTemplate"] as const) expect(gguf[key], key).toEqual(hf[key]);
}

/** Texts with the tokenizer's special tokens spliced in. */
const withSpecials = (tok: HfTokenizer): string[] =>
  tok.specialTokenIds.map((id) => tok.idToToken(id) as string).flatMap((s) => [s, `hello${s}world`, `${s} the fox ${s}${s}\n`]);

// ——— the move ———

// Digests of what ggufFromTiny wrote before the layout moved to hf-to-gguf.ts (computed with that code, seed 5).
const BEFORE: [string, TinyModelType, TinyModelOptions, "F32" | "F16", string][] = [
  ["gpt2", "gpt2", {}, "F32", "76e933f0d4a5e2a1"],
  ["llama", "llama", {}, "F32", "a4b2fe95233287a1"],
  ["llama (llama3 rope, tied)", "llama", { ropeScaling: "llama3", tieEmbeddings: true }, "F32", "48aff4cba5969371"],
  ["qwen2", "qwen2", {}, "F32", "18261e59beeefac9"],
  ["gpt_neox", "gpt_neox", { rotaryPct: 0.5 }, "F32", "ce04677f5998e557"],
  ["llama (padded vocabulary, F16)", "llama", { padVocabTo: 64 }, "F16", "26076661118b77cd"],
];

describe("hfToGguf writes what ggufFromTiny wrote", () => {
  it.each(BEFORE)("%s", (_label, type, opts, storage, before) => {
    const m = tinyModel(type, { seed: 5, ...opts });
    const input = hfToGguf(inputOf(m), { type: storage, name: `tiny-${type}` });
    expect(digest(input)).toBe(before);
    const tiny = ggufFromTiny(m, { type: storage });
    expect(input.metadata).toEqual(tiny.metadata);
    expect(input.tensors.map((t) => [t.name, t.type])).toEqual(tiny.tensors.map((t) => [t.name, t.type]));
  });

  it("takes GPT2Model's bare names (openai-community/gpt2) and skips its attention-mask buffers", () => {
    const m = tinyModel("gpt2", { seed: 5 });
    const bare = Object.fromEntries(Object.entries(m.weights).map(([k, t]) => [k.replace(/^transformer\./, ""), t]));
    bare["h.0.attn.bias"] = T.tensor([1], [1, 1, 1, 1]);
    bare["h.0.attn.masked_bias"] = T.tensor([-1e4], []);
    expect(digest(hfToGguf({ ...inputOf(m), weights: bare }, { name: "tiny-gpt2" }))).toBe(BEFORE[0]?.[4]);
  });
});

// ——— round trips ———

const ROUND_TRIPS: [string, TinyModelType, TinyModelOptions][] = [
  ["gpt2", "gpt2", {}],
  ["llama", "llama", {}],
  ["llama (llama3 rope, padded vocabulary)", "llama", { ropeScaling: "llama3", padVocabTo: 64 }],
  ["qwen2", "qwen2", {}],
  ["gpt_neox", "gpt_neox", { tieEmbeddings: true }],
  ["llama (SentencePiece tokenizer)", "llama", { tokenizer: "sentencepiece" }],
  ["llama (SentencePiece tokenizer, padded vocabulary)", "llama", { tokenizer: "sentencepiece", padVocabTo: 64 }],
];

describe("a converted checkpoint reads back as itself", () => {
  it.each(ROUND_TRIPS)("%s: tokenizer ids and text, logits within 1e-5", (label, type, opts) => {
    const input = inputOf(tinyModel(type, { seed: 9, ...opts }));
    const hf = hfSide(input);
    const back = readBack(hfToGguf(input));
    expect(back.tokenizer.vocabSize).toBe(hf.config.vocabSize);
    expectSameTokenizer(hf.tokenizer, back.tokenizer, [...TEXTS, ...withSpecials(hf.tokenizer)]);
    const ids = hf.tokenizer.encode("Hello world, the quick brown fox 12 🦙 jumps");
    expectSameLogits(label, hf, back, ids);
  });
});

describe("without tokenizer.json", () => {
  it("writes no tokenizer keys and the vocabulary size as <arch>.vocab_size", () => {
    const m = tinyModel("gpt_neox", { seed: 3 });
    const input = hfToGguf({ config: m.config, weights: m.weights });
    const meta = new Map(Object.entries(input.metadata ?? {}));
    expect([...meta.keys()].filter((k) => k.startsWith("tokenizer."))).toEqual([]);
    const names = input.tensors.map((t) => t.name);
    expect(normalizeGgufConfig(meta, FILE, names).vocabSize).toBe(m.config.vocab_size);
  });
});

// ——— SentencePiece ———

/** The tiny Llama 2 tokenizer's vocabulary and merges. */
function spmParts(m: TinyModel) {
  const model = m.tokenizer.model as { vocab: Record<string, number>; merges: string[] };
  return { vocab: model.vocab, merges: model.merges };
}

describe("SentencePiece-style BPE (Llama 2's tokenizer.json) goes in as model llama with scores", () => {
  const m = tinyModel("llama", { seed: 2, tokenizer: "sentencepiece" });
  const { vocab, merges } = spmParts(m);
  const meta = new Map(Object.entries(ggufTokenizerMetadata(m)));
  const items = (key: string) => (meta.get(key) as Extract<GgufValue, { type: "array" }>).value.items as readonly unknown[];

  it("the tiny tokenizer is Llama 2's tokenizer.json around its vocabulary", () => {
    expect(m.tokenizer).toEqual(llama2TokenizerJson(vocab, merges));
    expect(m.tokenizerConfig).toMatchObject({ bos_token: "<s>", eos_token: "</s>", unk_token: "<unk>", add_bos_token: true });
  });

  it("writes llama.cpp's keys: types, scores, special ids, add_bos/add_eos and the space prefix", () => {
    expect(meta.get("tokenizer.ggml.model")).toEqual({ type: "string", value: "llama" });
    expect(meta.has("tokenizer.ggml.merges")).toBe(false);
    const tokens = items("tokenizer.ggml.tokens") as string[];
    const types = items("tokenizer.ggml.token_type") as number[];
    const scores = items("tokenizer.ggml.scores") as number[];
    expect(tokens.length).toBe(m.config.vocab_size);
    expect(types.slice(0, 4)).toEqual([2, 3, 3, 6]); // <unk> UNKNOWN, <s> </s> CONTROL, <0x00> BYTE
    expect(types.filter((t) => t === 6).length).toBe(256);
    expect(types.filter((t) => t === 1).length).toBe(tokens.length - 259);
    // a merged piece scores by its first merge's rank; single characters below every merge
    const first = merges[0]?.split(" ").join("") as string;
    expect(scores[vocab[first] as number]).toBe(-1);
    expect(Math.max(...scores.filter((_, i) => types[i] === 1 && Array.from(tokens[i] as string).length === 1))).toBeLessThan(
      -merges.length,
    );
    expect(Object.fromEntries([...meta].filter(([k]) => /_id$|add_|space_prefix/.test(k)).map(([k, v]) => [k, v.value]))).toEqual(
      {
        "tokenizer.ggml.bos_token_id": 1,
        "tokenizer.ggml.eos_token_id": 2,
        "tokenizer.ggml.unknown_token_id": 0,
        "tokenizer.ggml.add_bos_token": true,
        "tokenizer.ggml.add_eos_token": false,
        "tokenizer.ggml.add_sep_token": false,
        "tokenizer.ggml.add_space_prefix": true,
      },
    );
  });

  it("byte fallback, special tokens and the space prefix tokenize as the tokenizer.json does", () => {
    const hf = loadHfTokenizer(m.tokenizer, m.tokenizerConfig, "tokenizer.json");
    const gguf = loadGgufTokenizer(parseGguf(encodeGguf({ metadata: meta, tensors: [] }), FILE).metadata, FILE);
    expectSameTokenizer(hf, gguf, [...TEXTS, ...withSpecials(hf), "<s>the dog</s>", "the</s> fox", "</s> after"]);
    // the fixture exercises what it should: CJK as bytes, "▁" pieces, <s> in front
    const pieces = gguf.tokenStrings(gguf.encode("the fox 中"));
    expect(pieces[0]).toBe("<s>");
    expect(pieces).toContain("\u2581fox");
    expect(pieces.filter((t) => /^<0x[0-9A-F]{2}>$/.test(t)).length).toBe(3);
  });

  it("scores follow the merges, not the vocabulary order (Llama 2 merges its id-259 '▁▁' last)", () => {
    const formed = (mg: string) => mg.split(" ").join("");
    const late = formed(merges[0] as string); // "▁t", then formed after every token that has it as a half
    const reordered = [...merges.filter((mg) => formed(mg) !== late), ...merges.filter((mg) => formed(mg) === late)];
    const tokenizer = llama2TokenizerJson(vocab, reordered);
    const input = { ...inputOf(m), tokenizer };
    const back = readBack(hfToGguf(input));
    const scores = (back.g.metadata.get("tokenizer.ggml.scores") as Extract<GgufValue, { type: "array" }>).value.items;
    const built = formed(reordered[0] as string);
    expect(scores[vocab[late] as number]).toBeLessThan(scores[vocab[built] as number] as number);
    const hf = loadHfTokenizer(tokenizer, m.tokenizerConfig, "tokenizer.json");
    expect(hf.tokenStrings(hf.encode("the", { addSpecialTokens: false }))).toEqual(["\u2581the"]);
    expectSameTokenizer(hf, back.tokenizer, [...TEXTS, ...withSpecials(hf)]);
  });

  it("reads Llama 2's AddedToken dicts in tokenizer_config.json and a chat template", () => {
    const added = (content: string) => ({ __type: "AddedToken", content, lstrip: false, normalized: false, rstrip: false });
    const chat_template = "{{ bos_token }}{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}";
    const tokenizerConfig = { ...m.tokenizerConfig, bos_token: added("<s>"), eos_token: added("</s>"), chat_template };
    const config = { ...m.config, bos_token_id: undefined, eos_token_id: undefined };
    const got = ggufTokenizerMetadata({ config, tokenizer: m.tokenizer, tokenizerConfig });
    expect(got["tokenizer.ggml.bos_token_id"]).toEqual({ type: "u32", value: 1 });
    expect(got["tokenizer.ggml.eos_token_id"]).toEqual({ type: "u32", value: 2 });
    expect(got["tokenizer.chat_template"]).toEqual({ type: "string", value: chat_template });
  });

  it("a Metaspace that never prepends is add_space_prefix false", () => {
    const metaspace = { type: "Metaspace", replacement: "\u2581", prepend_scheme: "never", split: false };
    const tokenizer = { ...m.tokenizer, normalizer: null, pre_tokenizer: metaspace, decoder: metaspace };
    const input = { ...inputOf(m), tokenizer };
    const back = readBack(hfToGguf(input));
    expect(back.g.metadata.get("tokenizer.ggml.add_space_prefix")).toEqual({ type: "bool", value: false });
    expect(back.tokenizer.encode("the fox")).toEqual(hfSide(input).tokenizer.encode("the fox"));
  });
});

// ——— rope scaling and sliding windows ———

/** A tiny model with config.json keys replaced (undefined deletes). */
function withConfig(type: TinyModelType, keys: Obj, opts: TinyModelOptions = {}): HfToGgufInput {
  const m = tinyModel(type, { seed: 4, ...opts });
  const config = Object.fromEntries(Object.entries({ ...m.config, ...keys }).filter(([, v]) => v !== undefined));
  return { ...inputOf(m), config };
}

const positional = (c: ModelConfig) => (c.positional.kind === "rotary" ? { ...c.positional, interleaved: null } : c.positional);

describe("linear rope scaling goes in as rope.scaling.type / rope.scaling.factor", () => {
  it.each([
    ["llama", { type: "linear", factor: 2 }],
    ["qwen2", { rope_type: "linear", factor: 4 }],
    ["gpt_neox", { type: "linear", factor: 2.5 }],
  ] as [TinyModelType, Obj][])("%s %o", (type, rope_scaling) => {
    const input = withConfig(type, { rope_scaling });
    const hf = hfSide(input);
    const back = readBack(hfToGguf(input));
    const arch = type === "gpt_neox" ? "gptneox" : type;
    expect(back.g.metadata.get(`${arch}.rope.scaling.type`)).toEqual({ type: "string", value: "linear" });
    expect(back.g.metadata.get(`${arch}.rope.scaling.factor`)).toEqual({ type: "f32", value: rope_scaling.factor });
    expect(positional(back.config)).toEqual(positional(hf.config));
    expect(hf.config.positional).toMatchObject({ scaling: { kind: "linear", factor: rope_scaling.factor } });
    expectSameLogits(`${type} linear rope ×${rope_scaling.factor}`, hf, back, [3, 17, 42, 5, 99, 7, 250, 11, 60, 61, 62, 63]);
  });
});

describe("sliding windows", () => {
  it("Mistral: llama with attention.sliding_window, attending as the checkpoint does past the window", () => {
    const input = withConfig("llama", { model_type: "mistral", sliding_window: 4, mlp_bias: undefined, head_dim: undefined });
    const hf = hfSide(input);
    expect(hf.config.slidingWindow).toEqual({ size: 4, fromLayer: 0 });
    const back = readBack(hfToGguf(input));
    expect(back.g.metadata.get("general.architecture")).toEqual({ type: "string", value: "llama" });
    expect(back.g.metadata.get("llama.attention.sliding_window")).toEqual({ type: "u32", value: 4 });
    expect(back.config.slidingWindow).toEqual({ size: 4, fromLayer: 0 });
    expectSameLogits("mistral (window 4)", hf, back, [3, 17, 42, 5, 99, 7, 250, 11, 60, 61, 62, 63]);
  });

  it("Qwen2: a window on every layer is written, one on no layer is nothing, one from a later layer is refused", () => {
    const qwen = (max_window_layers: number) =>
      withConfig("qwen2", { use_sliding_window: true, sliding_window: 4, max_window_layers });
    expect(hfToGguf(qwen(0)).metadata).toMatchObject({ "qwen2.attention.sliding_window": { type: "u32", value: 4 } });
    expect(Object.keys(hfToGguf(qwen(2)).metadata ?? {})).not.toContain("qwen2.attention.sliding_window");
    expectFormatError(() => hfToGguf(qwen(1)), "config.json", "max_window_layers", /every layer/);
  });
});

// ——— storage ———

describe("storage types", () => {
  it("Q8_0 for 2-D weights with rows of a multiple of 32, F16 for the others, F32 for 1-D tensors", () => {
    const m = tinyModel("llama", { seed: 4 });
    // an MLP width of 48: down_proj's rows are 48 long
    const weights = { ...m.weights };
    for (let i = 0; i < 2; i++) {
      for (const [name, shape] of [
        ["gate_proj", [48, 32]],
        ["up_proj", [48, 32]],
        ["down_proj", [32, 48]],
      ] as const)
        weights[`model.layers.${i}.mlp.${name}.weight`] = T.randn([...shape], 100 + i, "f32", 0.1);
    }
    const input = hfToGguf({ ...inputOf(m), config: { ...m.config, intermediate_size: 48 }, weights }, { type: "Q8_0" });
    expect(input.metadata).toMatchObject({ "general.file_type": { type: "u32", value: 7 } });
    for (const t of input.tensors) {
      const want = t.tensor.rank === 1 ? "F32" : (t.tensor.shape[1] as number) % 32 === 0 ? "Q8_0" : "F16";
      expect(t.type, t.name).toBe(want);
    }
    expect(input.tensors.find((t) => t.name === "blk.0.ffn_down.weight")?.type).toBe("F16");
  });
});

// ——— errors ———

describe("what GGUF cannot express fails naming the file and the key", () => {
  const llama = () => tinyModel("llama", { seed: 1 });
  const spm = () => tinyModel("llama", { seed: 1, tokenizer: "sentencepiece" });
  const convert = (input: HfToGgufInput) => () => hfToGguf(input);

  it("config.json: model types, heads, activations and scalings without a GGUF key", () => {
    expectFormatError(convert(inputOf(tinyModel("bert"))), "config.json", "model_type", /"bert" has no GGUF layout/);
    const classifier = withConfig("qwen2", {
      architectures: ["Qwen2ForSequenceClassification"],
      id2label: { 0: "NEGATIVE", 1: "POSITIVE" },
    });
    expectFormatError(convert(classifier), "config.json", "architectures", /classifier/);
    expectFormatError(convert(withConfig("gpt2", { activation_function: "relu" })), "config.json", "activation_function");
    expectFormatError(convert(withConfig("gpt_neox", { hidden_act: "gelu_new" })), "config.json", "hidden_act", /gelu_erf/);
    const llama3 = {
      rope_type: "llama3",
      factor: 4,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 16,
    };
    expectFormatError(convert(withConfig("qwen2", { rope_scaling: llama3 })), "config.json", "rope_scaling", /llama only/);
    // the files name their full paths when given
    const files = { config: "/m/config.json", weights: "/m/model.safetensors" };
    expectFormatError(() => hfToGguf(inputOf(tinyModel("bert")), { files }), "/m/config.json", "model_type");
  });

  it("the weights: a missing, unknown or out-of-range tensor, an untied model without its head, a stray bias", () => {
    const m = llama();
    const without = (name: string) => Object.fromEntries(Object.entries(m.weights).filter(([k]) => k !== name));
    const w = (weights: Record<string, Tensor>) => convert({ ...inputOf(m), weights });
    expectFormatError(w(without("model.layers.1.mlp.up_proj.weight")), "model.safetensors", /layers\.1\.mlp\.up_proj\.weight/);
    expectFormatError(w(without("lm_head.weight")), "model.safetensors", "lm_head.weight", /does not tie/);
    const q = m.weights["model.layers.0.self_attn.q_proj.weight"] as Tensor;
    const extra = (name: string, t: Tensor) => w({ ...m.weights, [name]: t });
    expectFormatError(
      extra("model.layers.0.self_attn.q_norm.weight", q),
      "model.safetensors",
      "model.layers.0.self_attn.q_norm.weight",
    );
    expectFormatError(extra("model.layers.2.input_layernorm.weight", q), "model.safetensors", /layers\.2/, /past the config's 2/);
    const bias = T.tensor(new Array(32).fill(0.5), [32]);
    expectFormatError(extra("model.layers.0.self_attn.q_proj.bias", bias), "config.json", "model_type", /qkvBias/);
    // a buffer transformers does not load is skipped, as llama.cpp does: the same file as without it
    const withBuffer = { ...inputOf(m), weights: { ...m.weights, "model.layers.0.self_attn.rotary_emb.inv_freq": bias } };
    expect(digest(hfToGguf(withBuffer))).toBe(digest(hfToGguf(inputOf(m))));
    // a tensor of the wrong shape is the architecture's error, in the weights file
    const wrong = T.tensor(new Array(16 * 32).fill(0), [16, 32]);
    expectFormatError(extra("model.layers.0.self_attn.q_proj.weight", wrong), "model.safetensors", /q_proj\.weight/, /shape/);
  });

  it("tokenizer.json: other models, a vocabulary past vocab_size, a split GGUF cannot name", () => {
    const m = llama();
    const tok = (tokenizer: Obj, config: Obj = m.config) => convert({ ...inputOf(m), tokenizer, config });
    const unigram = { ...m.tokenizer, model: { type: "Unigram", unk_id: 0, vocab: [["<unk>", 0]] } };
    expectFormatError(tok(unigram), "tokenizer.json", "model.type", /Unigram/);
    const sp = spm(); // <s> and </s> are ids 1 and 2, within any vocab_size
    const small = { ...inputOf(sp), config: { ...sp.config, vocab_size: 100 } };
    expectFormatError(convert(small), "config.json", "vocab_size", /ids up to \d+; got 100/);
    // every character its own pre-token: none of the byte-level splits GGUF names
    const split = { type: "Split", pattern: { Regex: "." }, behavior: "Isolated", invert: false };
    const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false };
    const perChar = { ...m.tokenizer, pre_tokenizer: { type: "Sequence", pretokenizers: [split, byteLevel] } };
    const e = expectFormatError(
      tok(perChar),
      "tokenizer.json",
      "pre_tokenizer",
      /tried tokenizer\.ggml\.pre gpt-2, llama-bpe, qwen2/,
    );
    // why each candidate failed, not only the first
    for (const pre of ["gpt-2", "llama-bpe", "qwen2"]) expect(e.message).toContain(`under "${pre}", `);
  });

  it("tokenizer.json: SentencePiece merges that scores cannot rank, a normalizer or Metaspace llama.cpp does not follow", () => {
    const m = spm();
    const { vocab, merges } = spmParts(m);
    const tok = (tokenizer: Obj) => convert({ ...inputOf(m), tokenizer });
    const formed = (mg: string) => mg.split(" ").join("");
    // a token no merge forms, though its halves are tokens: llama.cpp would merge them
    const dropped = formed(merges[3] as string);
    const gap = merges.filter((mg) => formed(mg) !== dropped);
    expectFormatError(tok(llama2TokenizerJson(vocab, gap)), "tokenizer.json", "model.merges", /no merge forms it/);
    // the merges forming one token ranked apart (as Llama 2's whitespace pieces are): scores rank the late merge at
    // the token's first, and the GGUF tokenizes as the file does — on every string of up to 7 of the letters involved
    const twice = merges.find((mg, i) => merges.findIndex((o) => formed(o) === formed(mg)) !== i) as string;
    expect(twice).toBeDefined();
    const apart = llama2TokenizerJson(vocab, [...merges.filter((mg) => mg !== twice), twice]);
    const meta = probedTokenizerMetadata({ config: m.config, tokenizer: apart, tokenizerConfig: m.tokenizerConfig });
    const gguf = loadGgufTokenizer(new Map(Object.entries(meta)), "apart.gguf");
    const hf = loadHfTokenizer(apart, m.tokenizerConfig, "apart/tokenizer.json");
    const letters = [...new Set(Array.from(`${formed(twice)} `))];
    let strings = [""];
    for (let len = 1; len <= 7; len++) {
      strings = strings.flatMap((p) => letters.map((c) => p + c));
      for (const t of strings) expect(gguf.encode(t), t).toEqual(hf.encode(t));
    }
    // merges written as [a, b] pairs instead of "a b" strings are the same merges: the same file
    const pairs = llama2TokenizerJson(
      vocab,
      merges.map((mg) => mg.split(" ") as [string, string]),
    );
    expect(digest(hfToGguf({ ...inputOf(m), tokenizer: pairs }))).toBe(digest(hfToGguf(inputOf(m))));
    const nfkc = { ...m.tokenizer, normalizer: { type: "NFKC" } };
    expectFormatError(tok(nfkc), "tokenizer.json", "normalizer", /only turns spaces into/);
    const first = { type: "Metaspace", replacement: "\u2581", prepend_scheme: "first", split: false };
    expectFormatError(
      tok({ ...m.tokenizer, normalizer: null, pre_tokenizer: first }),
      "tokenizer.json",
      "pre_tokenizer.prepend_scheme",
    );
    // transformers' Metaspace does not add "▁" before a leading space; llama.cpp does
    const always = { ...first, prepend_scheme: "always" };
    expectFormatError(
      tok({ ...m.tokenizer, normalizer: null, pre_tokenizer: always }),
      "tokenizer.json",
      "pre_tokenizer",
      /leading space/,
    );
  });

  it("tokenizer_config.json: add_bos_token against a post-processor that does otherwise", () => {
    const m = spm();
    const input = { ...inputOf(m), tokenizerConfig: { ...m.tokenizerConfig, add_bos_token: false } };
    expectFormatError(convert(input), "tokenizer_config.json", "add_bos_token", /post_processor adds it/);
  });
});
