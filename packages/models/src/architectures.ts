// Which architecture file runs a normalized config. The only place that reads `config.family`: the table is
// an exhaustive mapped type, so a family without a file fails to compile.
import { bert } from "./arch/bert.js";
import type { LoadedArchitecture, WeightSource } from "./arch/common.js";
import { gptNeox } from "./arch/gpt-neox.js";
import { gpt2 } from "./arch/gpt2.js";
import { llama } from "./arch/llama.js";
import type { ArchitectureFamily, ModelConfig } from "./config.js";

type Builder = (config: ModelConfig, weights: WeightSource, file: string) => LoadedArchitecture;

const architectures: { readonly [F in ArchitectureFamily]: Builder } = {
  gpt2,
  llama,
  gpt_neox: gptNeox,
  bert,
};

/**
 * Builds the architecture of `config.family` from `weights`; `file` names the checkpoint in errors.
 * @example const model = buildModel(config, readSafetensors(path), path)
 */
export function buildModel(config: ModelConfig, weights: WeightSource, file: string): LoadedArchitecture {
  return architectures[config.family](config, weights, file);
}
