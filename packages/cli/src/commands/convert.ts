// `llmdbg convert <model> --to safetensors|gguf <out>`: a Hugging Face folder to a single-file Hugging Face
// folder (e.g. to merge shards or change the storage type) or to a GGUF file laid out as llama.cpp's
// convert_hf_to_gguf.py does; a GGUF file back to a Hugging Face folder. The GGUF layout is @llmdbg/models'
// `ggufFromTiny`, which is written for any Hugging Face weight dictionary of the four GGUF architectures, not
// only the tiny test models: this file only completes the config keys that Hugging Face lets default, picks the
// tokenizer's pre-tokenizer name by tokenizing a probe both ways, and quantizes. The way back is `ggufToHf`;
// this file writes its objects as the folder's files.
import { copyFileSync, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import {
  type GgufValue,
  type GgufWriteInput,
  ggufFromTiny,
  ggufToHf,
  loadGgufTokenizer,
  loadTokenizerFromFolder,
  type ModelConfig,
  ModelFormatError,
  normalizeHfConfig,
  openGguf,
  readJsonFile,
  readSafetensors,
  readShardedSafetensors,
  type SafetensorsReader,
  SHARD_INDEX,
  type TinyModel,
  type TinyModelType,
  TORCH_DTYPES,
  writeGguf,
  writeSafetensors,
} from "@llmdbg/models";
import type { Tensor } from "@llmdbg/tensor";
import { oneOf, parse, UsageError } from "../args.js";
import { bytes, print, printJson, progressBar } from "../output.js";
import type { Command } from "./command.js";

const options = {
  to: { type: "string" },
  quant: { type: "string" },
  json: { type: "boolean" },
} as const;

type Quant = "q8_0" | "f16" | "f32";

/** The non-weight files of a Hugging Face folder that travel with the weights. */
const FOLDER_FILES = [
  "config.json",
  "generation_config.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "added_tokens.json",
  "chat_template.jinja",
  "vocab.json",
  "vocab.txt",
  "merges.txt",
  "tokenizer.model",
];

/** config.json model_type → the model type ggufFromTiny lays out (llama.cpp converts Mistral as Llama). */
const GGUF_MODEL_TYPES: { readonly [K in string]?: Exclude<TinyModelType, "bert"> } = {
  gpt2: "gpt2",
  llama: "llama",
  mistral: "llama",
  qwen2: "qwen2",
  gpt_neox: "gpt_neox",
};

/** llama.cpp's `tokenizer.ggml.pre` names for the byte-level splits our GGUF tokenizer knows. */
const PRE_TOKENIZERS = ["gpt-2", "llama-bpe", "qwen2"];

/** Text on which the known splits disagree (digit runs, case in contractions, whitespace, scripts). */
const PROBE = "Hello world! I'VE 3 33 333 3333 33333 3.14\n\n \t x  y   z 我想 🦙 ----====== He's 'RE ''' you're";

interface Source {
  folder: string;
  configJson: Record<string, unknown>;
  config: ModelConfig;
  reader: SafetensorsReader;
}

function openFolder(folder: string): Source {
  if (!existsSync(folder)) throw new ModelFormatError(folder, "path", "does not exist (expected a Hugging Face model folder)");
  const configPath = join(folder, "config.json");
  if (!existsSync(configPath))
    throw new ModelFormatError(configPath, "file", "not found (a Hugging Face model folder has config.json)");
  const configJson = readJsonFile(configPath) as Record<string, unknown>;
  const config = normalizeHfConfig(configJson, configPath);
  const single = join(folder, "model.safetensors");
  let reader: SafetensorsReader;
  if (existsSync(join(folder, SHARD_INDEX))) reader = readShardedSafetensors(folder);
  else if (existsSync(single)) reader = readSafetensors(single);
  else throw new ModelFormatError(single, "file", `not found (nor ${SHARD_INDEX}); only safetensors checkpoints are read`);
  return { folder, configJson, config, reader };
}

/** Every tensor as f32 (16-bit floats widened), with a progress bar over the stored bytes. */
function readAll(src: Source): Record<string, Tensor> {
  const bar = progressBar(`reading ${basename(src.folder)}`);
  const total = src.reader.entries.reduce((a, e) => a + e.end - e.begin, 0);
  const out: Record<string, Tensor> = {};
  let done = 0;
  try {
    for (const e of src.reader.entries) {
      out[e.name] = src.reader.load(e.name);
      done += e.end - e.begin;
      bar?.update(done, total);
    }
  } finally {
    bar?.finish();
  }
  return out;
}

/** The 16-bit storage type when every float tensor has it, else F32: converting keeps precision and size. */
function storedFloat(src: Source): "F32" | "F16" | "BF16" {
  const floats = new Set(src.reader.entries.map((e) => e.dtype).filter((d) => d.startsWith("F") || d === "BF16"));
  const only = floats.size === 1 ? [...floats][0] : undefined;
  return only === "F16" || only === "BF16" ? only : "F32";
}

function toSafetensors(src: Source, out: string, quant: Quant | undefined) {
  if (quant === "q8_0") throw new UsageError("--quant q8_0 is a GGUF type; safetensors takes f16 or f32");
  if (resolve(out) === resolve(src.folder)) throw new UsageError("<out> must be a different folder from <model>");
  if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`${out}: exists and is not a folder`);
  mkdirSync(out, { recursive: true });
  const copied = FOLDER_FILES.filter((f) => existsSync(join(src.folder, f)));
  for (const f of copied) copyFileSync(join(src.folder, f), join(out, f));
  const dtype = quant === "f16" ? "F16" : quant === "f32" ? "F32" : storedFloat(src);
  const file = join(out, "model.safetensors");
  writeSafetensors(file, readAll(src), { dtype, metadata: { format: "pt" } });
  return { to: "safetensors", out, files: [...copied, "model.safetensors"], dtype, bytes: statSync(file).size };
}

/**
 * The config.json ggufFromTiny reads, with the keys Hugging Face lets default filled from the normalized
 * config (a config without `rope_theta` or `use_parallel_residual` means transformers' default). Every
 * family's keys are filled; the converter reads only its own.
 */
function completedConfig(raw: Record<string, unknown>, c: ModelConfig): Record<string, unknown> {
  const rotary = c.positional.kind === "rotary" ? c.positional : undefined;
  const defaults: Record<string, unknown> = {
    n_ctx: c.maxPositions,
    num_key_value_heads: c.nKvHeads,
    use_parallel_residual: c.parallelResidual,
    ...(rotary !== undefined && { rope_theta: rotary.theta, rotary_pct: rotary.rotaryDim / c.dHead }),
  };
  return { ...defaults, ...Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== null)) };
}

/** Refuses what the GGUF layout would silently get wrong. */
function checkGgufable(c: ModelConfig, modelType: string): Exclude<TinyModelType, "bert"> {
  const t = GGUF_MODEL_TYPES[modelType];
  if (t === undefined)
    throw new Error(`model_type ${modelType}: no GGUF layout (supported: ${Object.keys(GGUF_MODEL_TYPES).join(", ")})`);
  if (c.classifier !== null) throw new Error("a classifier head has no GGUF layout; only language models convert");
  const s = c.positional.kind === "rotary" ? c.positional.scaling.kind : "none";
  if (s !== "none" && !(s === "llama3" && t === "llama"))
    throw new Error(`rope scaling ${s} is not written to GGUF yet (Llama 3 scaling is)`);
  // llama.cpp derives GPT-2's MLP width as 4 × n_embd
  if (t === "gpt2" && c.dMlp !== 4 * c.dModel)
    throw new Error(`n_inner ${c.dMlp} is not 4 × n_embd; GGUF gpt2 has no key for it`);
  return t;
}

/** tokenizer.json with merges as "a b" strings (the newer [a, b] pairs are what GGUF does not store). */
function ggufTokenizerJson(json: Record<string, unknown>, file: string): Record<string, unknown> {
  const model = json.model as { type?: unknown; merges?: unknown } | undefined;
  const decoder = json.decoder as { type?: unknown } | null | undefined;
  // SentencePiece-style BPE (Llama 2, Mistral) goes to GGUF as model "llama" with scores, not written here yet
  if (model?.type !== "BPE" || decoder?.type !== "ByteLevel")
    throw new Error(`${file}: only byte-level BPE tokenizers are written to GGUF yet (this one is ${String(model?.type)})`);
  const merges = Array.isArray(model.merges) ? model.merges.map((m) => (Array.isArray(m) ? m.join(" ") : m)) : model.merges;
  return { ...json, model: { ...model, merges } };
}

/** The first pre-tokenizer name under which the GGUF tokenizer gives the folder tokenizer's ids on the probe. */
function pickPreTokenizer(src: Source, meta: Record<string, GgufValue>, out: string): string {
  const hf = loadTokenizerFromFolder(src.folder);
  const want = JSON.stringify(hf.encode(PROBE));
  for (const pre of PRE_TOKENIZERS) {
    const m = new Map(Object.entries({ ...meta, "tokenizer.ggml.pre": { type: "string", value: pre } as GgufValue }));
    if (JSON.stringify(loadGgufTokenizer(m, out).encode(PROBE)) === want) return pre;
  }
  throw new Error(
    `${join(src.folder, "tokenizer.json")}: its pre-tokenizer is none of ${PRE_TOKENIZERS.join(", ")}; GGUF would tokenize differently`,
  );
}

function metaRecord(input: GgufWriteInput): Record<string, GgufValue> {
  const m = input.metadata;
  return m === undefined ? {} : m instanceof Map ? Object.fromEntries(m) : { ...(m as Readonly<Record<string, GgufValue>>) };
}

/** Quantizes the 2-D weights to Q8_0 as llama.cpp's --outtype q8_0 does; rows not a multiple of 32 stay as they are. */
function toQ8(input: GgufWriteInput): GgufWriteInput {
  return {
    metadata: { ...metaRecord(input), "general.file_type": { type: "u32", value: 7 } }, // LLAMA_FTYPE_MOSTLY_Q8_0
    tensors: input.tensors.map((t) => ({
      ...t,
      type: t.tensor.rank >= 2 && (t.tensor.shape[t.tensor.rank - 1] as number) % 32 === 0 ? "Q8_0" : t.type,
    })),
  };
}

function toGguf(src: Source, out: string, quant: Quant | undefined) {
  if (src.config.source.format !== "hf") throw new Error("unreachable: a folder has a config.json");
  const modelType = checkGgufable(src.config, src.config.source.modelType);
  const tokPath = join(src.folder, "tokenizer.json");
  if (!existsSync(tokPath)) throw new ModelFormatError(tokPath, "file", "not found (a GGUF file carries its tokenizer)");
  const tokConfigPath = join(src.folder, "tokenizer_config.json");
  const genPath = join(src.folder, "generation_config.json");
  const weights = readAll(src);
  // ggufFromTiny asks for `save_pretrained` names; checkpoints written without the model prefix get aliases
  for (const name of Object.keys(weights))
    for (const p of ["transformer.", "model.", "gpt_neox."])
      if (!name.startsWith(p) && weights[p + name] === undefined) weights[p + name] = weights[name] as Tensor;
  const tiny: TinyModel = {
    modelType,
    seed: 0,
    config: completedConfig(src.configJson, src.config),
    tokenizer: ggufTokenizerJson(readJsonFile(tokPath) as Record<string, unknown>, tokPath),
    tokenizerConfig: existsSync(tokConfigPath) ? (readJsonFile(tokConfigPath) as Record<string, unknown>) : {},
    generationConfig: existsSync(genPath) ? (readJsonFile(genPath) as Record<string, unknown>) : null,
    weights,
  };
  const type = quant === "f16" || (quant === undefined && storedFloat(src) !== "F32") ? "F16" : "F32";
  let input = ggufFromTiny(tiny, { type });
  const meta: Record<string, GgufValue> = {
    ...metaRecord(input),
    "general.name": { type: "string", value: basename(resolve(src.folder)) },
  };
  meta["tokenizer.ggml.pre"] = { type: "string", value: pickPreTokenizer(src, meta, out) };
  input = { ...input, metadata: meta };
  if (quant === "q8_0") input = toQ8(input);
  writeGguf(out, input);
  return { to: "gguf", out, type: quant === "q8_0" ? "Q8_0" : type, bytes: statSync(out).size };
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** A GGUF file to a Hugging Face folder: config, weights, tokenizer files and generation defaults. */
function ggufToFolder(path: string, out: string, quant: Quant | undefined) {
  if (quant === "q8_0") throw new UsageError("--quant q8_0 is a GGUF type; safetensors takes f16 or f32");
  if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`${out}: exists and is not a folder`);
  const reader = openGguf(path);
  const bar = progressBar(`reading ${basename(path)}`);
  const sizes = new Map(reader.header.tensors.map((t) => [t.name, t.byteSize]));
  const total = reader.header.tensors.reduce((a, t) => a + t.byteSize, 0);
  let done = 0;
  let hf: ReturnType<typeof ggufToHf>;
  try {
    const tensor = (name: string) => {
      const t = reader.tensor(name);
      done += sizes.get(name) ?? 0;
      bar?.update(done, total);
      return t;
    };
    hf = ggufToHf({ header: reader.header, tensor }, path);
  } finally {
    bar?.finish();
    reader.close();
  }
  mkdirSync(out, { recursive: true });
  const dtype = quant === "f16" ? "F16" : quant === "f32" ? "F32" : hf.dtype;
  const files: [string, unknown][] = [
    ["config.json", { ...hf.config, torch_dtype: TORCH_DTYPES[dtype] }],
    ["generation_config.json", hf.generationConfig],
    ["tokenizer.json", hf.tokenizer],
    ["tokenizer_config.json", hf.tokenizerConfig],
  ];
  const written = files.filter(([, v]) => v !== undefined).map(([name]) => name);
  for (const [name, value] of files) if (value !== undefined) writeJson(join(out, name), value);
  const file = join(out, "model.safetensors");
  writeSafetensors(file, hf.weights, { dtype, metadata: { format: "pt" } });
  return { to: "safetensors", out, files: [...written, "model.safetensors"], dtype, bytes: statSync(file).size };
}

export const convertCommand: Command = {
  summary: "a Hugging Face folder to one safetensors file or to GGUF, or a GGUF file to a Hugging Face folder",
  usage: "llmdbg convert <model> --to safetensors|gguf [--quant q8_0|f16|f32] <out>",
  help: [
    "<model>            a Hugging Face folder, or a .gguf file (llama, qwen2, gpt2, gptneox) for --to safetensors",
    "--to safetensors   <out> is a folder: config, tokenizer files and one model.safetensors",
    "--to gguf          <out> is a .gguf file laid out as llama.cpp's converter does",
    "--quant T          storage of the weights: f32, f16, or q8_0 (GGUF only); default: the stored precision",
    "--json             one JSON object describing what was written",
  ],
  run(argv) {
    const { values, positionals } = parse(argv, options);
    const to = oneOf("to", values.to, ["safetensors", "gguf"] as const);
    if (to === undefined) throw new UsageError("missing --to safetensors|gguf");
    const quant = oneOf("quant", values.quant, ["q8_0", "f16", "f32"] as const);
    if (positionals.length !== 2) throw new UsageError(`expected <model> and <out>, got ${positionals.length} arguments`);
    const [model, out] = positionals as [string, string];
    if (to === "gguf" && existsSync(out) && statSync(out).isDirectory())
      throw new UsageError(`${out}: is a folder; --to gguf writes a file`);
    const gguf = existsSync(model) && !statSync(model).isDirectory();
    if (gguf && to === "gguf") throw new UsageError(`${model}: is already a GGUF file`);
    let r: { out: string; bytes: number };
    if (gguf) r = ggufToFolder(model, out, quant);
    else {
      const src = openFolder(model);
      r = to === "safetensors" ? toSafetensors(src, out, quant) : toGguf(src, out, quant);
    }
    if (values.json === true) printJson({ model, ...r });
    else print(`wrote ${r.out} (${bytes(r.bytes)})`);
    return 0;
  },
};
