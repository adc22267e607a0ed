// One entry point for a model on disk: a Hugging Face folder (config.json, model.safetensors or a sharded
// index, tokenizer.json, generation_config.json) or a GGUF file. Weights are read one tensor at a time and
// converted to f32 as the architecture asks for them, so loading never holds the file and the model at once.
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Tokenizer } from "@llmdbg/core";
import {
  ModelFormatError,
  openGguf,
  readSafetensors,
  readShardedSafetensors,
  type SafetensorsReader,
  SHARD_INDEX,
} from "@llmdbg/formats";
import type { Tensor } from "@llmdbg/tensor";
import { loadGgufTokenizer, loadTokenizerFromFolder, readJsonFile } from "@llmdbg/tokenizers";
import type { LoadedArchitecture, WeightSource } from "./arch/common.js";
import { buildModel } from "./architectures.js";
import type { ModelConfig } from "./config.js";
import { normalizeHfConfig } from "./config.js";
import { normalizeGgufConfig } from "./config-gguf.js";
import { type GenerationDefaults, parseGenerationConfig } from "./generation-config.js";
import { ggufTensorName, ggufWeightSource } from "./gguf-names.js";

/** A tensor as stored in the checkpoint (before conversion to f32). */
export interface StoredTensor {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly bytes: number;
}

export interface LoadProgress {
  /** bytes of stored tensors read so far */
  readonly done: number;
  readonly total: number;
  /** the tensor just read */
  readonly tensor: string;
}

export interface LoadModelOptions {
  /** Called after each tensor is read (for a progress bar). */
  readonly onProgress?: (p: LoadProgress) => void;
  /**
   * Load even when the checkpoint stores tensors the architecture does not read (they are listed in
   * `unread`); without it such a checkpoint is refused, naming them.
   */
  readonly allowUnread?: boolean;
}

/** A tokenizer as the loaders return it: with the chat template the model files carry, if any. */
export type ModelTokenizer = Tokenizer & { readonly chatTemplate: string | undefined };

/** A model with its tokenizer attached: `run(model, "some text")` works. */
export type Model = LoadedArchitecture & { readonly tokenizer: ModelTokenizer | undefined };

export interface LoadedModel {
  /** the folder or .gguf file */
  readonly path: string;
  readonly format: "safetensors" | "gguf";
  readonly config: ModelConfig;
  /** the model, with `tokenizer` attached */
  readonly model: Model;
  /** undefined when the folder has no tokenizer.json */
  readonly tokenizer: ModelTokenizer | undefined;
  readonly generation: GenerationDefaults;
  /** every tensor of the checkpoint, in file order */
  readonly stored: readonly StoredTensor[];
  /** stored tensors the architecture did not read (empty unless `allowUnread` let them through) */
  readonly unread: readonly string[];
}

/** Counts bytes as the architecture reads tensors, for `onProgress`. */
function withProgress(w: WeightSource, sizeOf: (k: string) => number, opts: LoadModelOptions, total: number): WeightSource {
  const report = opts.onProgress;
  if (report === undefined) return w;
  let done = 0;
  return {
    has: (k) => w.has(k),
    keys: () => w.keys(),
    ...(w.storedName !== undefined && { storedName: (k: string) => w.storedName?.(k) ?? k }),
    load(k): Tensor {
      const t = w.load(k);
      done += sizeOf(k);
      report({ done, total, tensor: k });
      return t;
    },
  };
}

/** Attaches the tokenizer to the model object itself (not a copy: its weight accessors are getters). */
function withTokenizer(model: LoadedArchitecture, tokenizer: ModelTokenizer | undefined): Model {
  return Object.defineProperty(model, "tokenizer", { value: tokenizer, enumerable: true }) as Model;
}

function loadGgufFile(path: string, opts: LoadModelOptions): LoadedModel {
  const reader = openGguf(path);
  try {
    const { header } = reader;
    const names = new Set(header.tensors.map((t) => t.name));
    const config = normalizeGgufConfig(header.metadata, path, names);
    if (config.source.format !== "gguf") throw new Error("unreachable: a GGUF config has a GGUF source");
    const arch = config.source.architecture;
    const weights = ggufWeightSource(arch, names, (n) => reader.tensor(n));
    const byGguf = new Map(header.tensors.map((t) => [t.name, t.byteSize]));
    const total = header.tensors.reduce((a, t) => a + t.byteSize, 0);
    const sizeOf = (k: string) => byGguf.get(ggufTensorName(arch, k) ?? "") ?? 0;
    const source = withProgress(weights, sizeOf, opts, total);
    const tokenizer = header.metadata.has("tokenizer.ggml.model") ? loadGgufTokenizer(header.metadata, path) : undefined;
    let unread: readonly string[] = [];
    const build = { allowUnread: opts.allowUnread === true, onUnread: (names: readonly string[]) => (unread = names) };
    const model = withTokenizer(buildModel(config, source, path, build), tokenizer);
    const eos = config.eosTokenIds;
    return {
      path,
      format: "gguf",
      config,
      model,
      tokenizer,
      generation: eos.length > 0 ? { eosTokenIds: eos } : {},
      stored: header.tensors.map((t) => ({ name: t.name, dtype: t.ggmlType, shape: t.shape, bytes: t.byteSize })),
      unread,
    };
  } finally {
    reader.close();
  }
}

/** A Hugging Face folder opened: its config.json (raw and normalized) and a reader over its safetensors weights. */
export interface HfFolder {
  readonly folder: string;
  readonly configJson: Record<string, unknown>;
  readonly config: ModelConfig;
  readonly reader: SafetensorsReader;
}

/**
 * Opens a Hugging Face model folder: config.json is read and normalized first (a broken config fails before
 * gigabytes of weights are touched), then the single or sharded safetensors checkpoint's header.
 * @example const { config, reader } = openHfFolder("models/gpt2")
 */
export function openHfFolder(folder: string): HfFolder {
  if (!existsSync(folder)) throw new ModelFormatError(folder, "path", "does not exist (expected a Hugging Face model folder)");
  const configPath = join(folder, "config.json");
  if (!existsSync(configPath))
    throw new ModelFormatError(configPath, "file", "not found (a Hugging Face model folder has config.json)");
  const configJson = readJsonFile(configPath) as Record<string, unknown>;
  const config = normalizeHfConfig(configJson, configPath);
  const single = join(folder, "model.safetensors");
  const reader = existsSync(join(folder, SHARD_INDEX))
    ? readShardedSafetensors(folder)
    : existsSync(single)
      ? readSafetensors(single)
      : undefined;
  if (reader === undefined)
    throw new ModelFormatError(single, "file", `not found (nor ${SHARD_INDEX}); only safetensors checkpoints are read`);
  return { folder, configJson, config, reader };
}

function loadFolder(folder: string, opts: LoadModelOptions): LoadedModel {
  const { config, reader: st } = openHfFolder(folder);
  const sizes = new Map(st.entries.map((e) => [e.name, e.end - e.begin]));
  const sizeOf = (k: string) => sizes.get(k) ?? 0;
  const total = st.entries.reduce((a, e) => a + e.end - e.begin, 0);
  const weights = withProgress({ has: (k) => st.has(k), load: (k) => st.load(k), keys: () => st.keys() }, sizeOf, opts, total);
  // the tokenizer's ids index the embedding: one beyond its rows could never run
  const idLimit = { below: config.vocabSize, what: `the model's ${config.vocabSize} embedding rows (config.json vocab_size)` };
  const tokenizer = existsSync(join(folder, "tokenizer.json")) ? loadTokenizerFromFolder(folder, idLimit) : undefined;
  let unread: readonly string[] = [];
  const build = { allowUnread: opts.allowUnread === true, onUnread: (names: readonly string[]) => (unread = names) };
  const model = withTokenizer(buildModel(config, weights, st.file, build), tokenizer);
  const genPath = join(folder, "generation_config.json");
  const fromFile = existsSync(genPath) ? parseGenerationConfig(readJsonFile(genPath), genPath) : {};
  const eos = fromFile.eosTokenIds ?? config.eosTokenIds;
  return {
    path: folder,
    format: "safetensors",
    config,
    model,
    tokenizer,
    generation: eos.length > 0 ? { ...fromFile, eosTokenIds: eos } : fromFile,
    stored: st.entries.map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape, bytes: e.end - e.begin })),
    unread,
  };
}

/**
 * The one-call entry point: the model in a Hugging Face folder or a `.gguf` file, with its tokenizer attached.
 * @example const model = load("models/tiny-gpt2"); const { output, cache } = run(model, "Hello", { cache: "blocks.*.attn.hook_pattern" })
 */
export function load(path: string, opts: LoadModelOptions = {}): Model {
  return loadModel(path, opts).model;
}

/**
 * Loads a model from a Hugging Face folder or a `.gguf` file, with what came with it (config, tokenizer,
 * generation defaults, the stored tensor list).
 * @example const { model, tokenizer } = loadModel("models/gpt2"); run(model, T.tensor(tokenizer.encode("Hi"), [1, 1], "i32"))
 */
export function loadModel(path: string, opts: LoadModelOptions = {}): LoadedModel {
  if (!existsSync(path)) throw new ModelFormatError(path, "path", "does not exist (expected a model folder or a .gguf file)");
  if (path.endsWith(".safetensors") && !statSync(path).isDirectory()) {
    throw new ModelFormatError(path, "path", "is a safetensors file: pass the model folder that holds it (with its config.json)");
  }
  return statSync(path).isDirectory() ? loadFolder(path, opts) : loadGgufFile(path, opts);
}
