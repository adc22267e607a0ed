// Fresh models: every tensor a checkpoint of a config stores, initialized as transformers' `_init_weights`
// does (normal(0, initializer_range) for linear weights and embeddings, zeros for biases, ones for norm
// weights), built into the architecture. What `llmdbg train` starts from; `saveModel` writes the result under
// the names `save_pretrained` uses, so transformers loads it too.
import { randn, type Tensor, zeros } from "@llmdbg/tensor";
import type { LayoutEntry, LoadedArchitecture } from "./arch/common.js";
import { memoryWeights } from "./arch/common.js";
import { buildModel, checkpointLayout } from "./architectures.js";
import { type ModelConfig, normalizeHfConfig } from "./config.js";

export interface InitOptions {
  /** every tensor's values are a pure function of (seed, stored name); default 0 */
  readonly seed?: number;
  /** the standard deviation of weights and embeddings; default config.json's `initializer_range`, else 0.02 */
  readonly std?: number;
}

export interface InitializedModel {
  readonly config: ModelConfig;
  readonly model: LoadedArchitecture;
  /** the stored tensors by their checkpoint names (the model's parameters share them) */
  readonly weights: Readonly<Record<string, Tensor>>;
}

/** FNV-1a of a string, mixed with the seed: a tensor's stream does not depend on which tensors came before. */
function tensorSeed(seed: number, name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return (Math.imul((seed >>> 0) ^ 0x85ebca6b, 0x9e3779b1) ^ h) >>> 0;
}

/** One fresh tensor: vectors are biases (zeros) or norm weights (ones); matrices and tables are normal(0, std). */
function fresh(e: LayoutEntry, seed: number, std: number): Tensor {
  if (e.kind !== "vector") return randn(e.shape, tensorSeed(seed, e.stored), "f32", std);
  const t = zeros(e.shape, "f32");
  if (!e.key.endsWith(".bias")) t.data.fill(1);
  return t;
}

/**
 * A model of the architecture `configJson` (a config.json object) describes, with freshly initialized weights.
 * @example const { model } = initModel({ model_type: "gpt2", n_embd: 128, n_layer: 4, n_head: 4, vocab_size: 2048, n_positions: 256 }, { seed: 1 })
 */
export function initModel(configJson: Record<string, unknown>, opts: InitOptions = {}): InitializedModel {
  const config = normalizeHfConfig(configJson, "config.json");
  const range = configJson.initializer_range;
  const std = opts.std ?? (typeof range === "number" && range > 0 ? range : 0.02);
  const seed = opts.seed ?? 0;
  const weights: Record<string, Tensor> = {};
  for (const e of checkpointLayout(config)) weights[e.stored] = fresh(e, seed, std);
  const model = buildModel(config, memoryWeights(weights), "initModel");
  return { config, model, weights };
}
