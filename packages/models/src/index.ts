// @llmdbg/models — architectures (GPT-2, the Llama family, GPT-NeoX, BERT/RoBERTa) on @llmdbg/core, config
// normalization from config.json and GGUF metadata, llama.cpp tensor names, generation defaults. Platform-neutral;
// `node.ts` adds loadModel.
export { type BertModel, bert } from "./arch/bert.js";
export {
  inverseFrequencies,
  type LayoutEntry,
  type LoadedArchitecture,
  llama3Divisors,
  memoryWeights,
  type WeightSource,
} from "./arch/common.js";
export { gptNeox } from "./arch/gpt-neox.js";
export { gpt2 } from "./arch/gpt2.js";
export { llama } from "./arch/llama.js";
export { type BuildOptions, buildModel, checkpointLayout } from "./architectures.js";
export {
  type Activation,
  type ArchitectureFamily,
  type ClassifierHead,
  type ConfigSource,
  type GgufArchitecture,
  type HfModelType,
  type ModelConfig,
  normalizeHfConfig,
  type PositionalEncoding,
  type ProblemType,
  type RopeScaling,
} from "./config.js";
export { normalizeGgufConfig } from "./config-gguf.js";
export { type GenerationDefaults, generationOptions, parseGenerationConfig } from "./generation-config.js";
export { ggufTensorName, ggufWeightSource, hfTensorName } from "./gguf-names.js";
export { type InitializedModel, type InitOptions, initModel } from "./init.js";
