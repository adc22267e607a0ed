// Tiny deterministic model fixtures on disk (Node): a Hugging Face model folder, or the same model as GGUF.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SHARD_INDEX, writeGguf, writeSafetensors } from "@llmdbg/formats";
import type { Tensor } from "@llmdbg/tensor";
import {
  ggufFromTiny,
  type TinyGgufOptions,
  type TinyModel,
  type TinyModelOptions,
  type TinyModelType,
  tinyModel,
} from "./tiny.js";

export interface WriteTinyModelOptions extends TinyModelOptions {
  /** 2: two shards `model-0000{1,2}-of-00002.safetensors` and `model.safetensors.index.json`; default 1 */
  readonly shards?: 1 | 2;
  /** storage type of the weights; default F32 */
  readonly dtype?: "F32" | "F16" | "BF16";
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Writes a tiny model as a Hugging Face folder: config.json, model.safetensors (or two shards and their index),
 * tokenizer.json, tokenizer_config.json and, for the causal models, generation_config.json. Returns the model
 * (its weights as f32, before any F16/BF16 rounding).
 *
 * @example
 * const m = writeTinyModel(join(tmpdir(), "tiny-llama"), "llama", { seed: 1, shards: 2 });
 */
export function writeTinyModel(folder: string, modelType: TinyModelType, opts: WriteTinyModelOptions = {}): TinyModel {
  const model = tinyModel(modelType, opts);
  mkdirSync(folder, { recursive: true });
  writeJson(join(folder, "config.json"), model.config);
  writeJson(join(folder, "tokenizer.json"), model.tokenizer);
  writeJson(join(folder, "tokenizer_config.json"), model.tokenizerConfig);
  if (model.generationConfig !== null) writeJson(join(folder, "generation_config.json"), model.generationConfig);
  const st = { ...(opts.dtype !== undefined && { dtype: opts.dtype }), metadata: { format: "pt" } };
  if ((opts.shards ?? 1) === 1) {
    writeSafetensors(join(folder, "model.safetensors"), model.weights, st);
    return model;
  }
  // transformers fills shards in state-dict order up to max_shard_size; here: the first half of the bytes
  const bytesPer = opts.dtype === "F16" || opts.dtype === "BF16" ? 2 : 4;
  const names = Object.keys(model.weights);
  const size = (n: string) => (model.weights[n] as Tensor).size * bytesPer;
  const total = names.reduce((s, n) => s + size(n), 0);
  const parts: Record<string, Tensor>[] = [{}, {}];
  const weightMap: Record<string, string> = {};
  const shardName = (i: number) => `model-0000${i + 1}-of-00002.safetensors`;
  let done = 0;
  for (const n of names) {
    const i = done < total / 2 ? 0 : 1;
    (parts[i] as Record<string, Tensor>)[n] = model.weights[n] as Tensor;
    weightMap[n] = shardName(i);
    done += size(n);
  }
  parts.forEach((p, i) => {
    writeSafetensors(join(folder, shardName(i)), p, st);
  });
  const sortedMap = Object.fromEntries(
    Object.keys(weightMap)
      .sort()
      .map((n) => [n, weightMap[n]]),
  );
  writeJson(join(folder, SHARD_INDEX), { metadata: { total_size: total }, weight_map: sortedMap });
  return model;
}

/**
 * Writes a tiny llama, qwen2, gpt2 or gpt_neox model as llama.cpp's converter would lay it out (see `ggufFromTiny`).
 * Pass a TinyModel to convert one already generated (e.g. the one `writeTinyModel` returned).
 *
 * @example
 * const m = writeTinyModel(dir, "llama", { seed: 3 });
 * writeTinyGguf(join(dir, "tiny.gguf"), m);
 */
export function writeTinyGguf(
  path: string,
  model: TinyModel | TinyModelType,
  opts: TinyModelOptions & TinyGgufOptions = {},
): TinyModel {
  const m = typeof model === "string" ? tinyModel(model, opts) : model;
  writeGguf(path, ggufFromTiny(m, opts));
  return m;
}
