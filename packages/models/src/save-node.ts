// Writing a model back as a Hugging Face folder: its parameters (after any permanent weight edits) under the
// checkpoint's own tensor names, beside copies of the source folder's other files (config, tokenizer, generation
// config). The result loads here, in transformers, and converts to GGUF with `llmdbg convert` — how an edited
// model leaves llmdbg.
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { ParamStore } from "@llmdbg/core";
import { SHARD_INDEX, writeSafetensors } from "@llmdbg/formats";
import type { Tensor } from "@llmdbg/tensor";
import { checkpointLayout } from "./architectures.js";
import type { ModelConfig } from "./config.js";
import { openHfFolder } from "./load-node.js";

export interface SaveResult {
  /** tensors written, by their checkpoint names */
  readonly written: number;
  /** stored tensors not written: not floating-point (integer buffers transformers rebuilds itself) */
  readonly dropped: readonly string[];
}

/** The parameter a stored tensor name holds: the name itself, or it without leading prefixes ("transformer."). */
function paramOf(name: string, params: ParamStore): string | undefined {
  const parts = name.split(".");
  for (let i = 0; i < parts.length; i++) {
    const key = parts.slice(i).join(".");
    if (params.has(key)) return key;
  }
  return undefined;
}

/**
 * Writes `params` as the Hugging Face folder `out` (created; it must not hold a model already), taking tensor
 * names, the storage type (16-bit stays 16-bit) and every other file from the folder `source` the model was
 * loaded from.
 * @example const m = load("models/gpt2"); m.params.apply([edit]); saveHfFolder("models/gpt2", m.params, "gpt2-edited")
 */
export function saveHfFolder(source: string, params: ParamStore, out: string): SaveResult {
  const { reader } = openHfFolder(source);
  if (existsSync(join(out, "model.safetensors")) || existsSync(join(out, SHARD_INDEX)))
    throw new Error(`${out}: already holds a model; choose an empty folder`);
  mkdirSync(out, { recursive: true });
  const tensors: Record<string, Tensor> = {};
  const dropped: string[] = [];
  const floats = new Set(["F32", "F16", "BF16", "F64"]);
  for (const e of reader.entries) {
    const key = paramOf(e.name, params);
    if (key !== undefined) tensors[e.name] = params.get(key);
    else if (floats.has(e.dtype)) tensors[e.name] = reader.load(e.name);
    else dropped.push(e.name);
  }
  const stored = reader.entries.filter((e) => floats.has(e.dtype)).map((e) => e.dtype);
  const dtype =
    stored.length > 0 && stored.every((d) => d === "F16")
      ? "F16"
      : stored.length > 0 && stored.every((d) => d === "BF16")
        ? "BF16"
        : "F32";
  writeSafetensors(join(out, "model.safetensors"), tensors, { dtype, metadata: { format: "pt" } });
  for (const f of readdirSync(source)) {
    const from = join(source, f);
    if (f.endsWith(".safetensors") || f === SHARD_INDEX || !statSync(from).isFile()) continue;
    copyFileSync(from, join(out, f));
  }
  return { written: Object.keys(tensors).length, dropped };
}

/**
 * Writes a model's parameters as `file` (a model.safetensors, f32) under the names `save_pretrained` gives a
 * checkpoint of `config`: with the config.json and tokenizer files beside it, the folder loads here and in
 * transformers. For a model trained here from `initModel`; an edited checkpoint keeps its own names with
 * `saveHfFolder`.
 * @example saveModel(config, model.params, "zoo/stories/model.safetensors")
 */
export function saveModel(config: ModelConfig, params: Pick<ParamStore, "get">, file: string): SaveResult {
  const tensors: Record<string, Tensor> = {};
  for (const e of checkpointLayout(config)) tensors[e.stored] = params.get(e.key);
  writeSafetensors(file, tensors, { dtype: "F32", metadata: { format: "pt" } });
  return { written: Object.keys(tensors).length, dropped: [] };
}
