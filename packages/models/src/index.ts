// @llmdbg/models — architectures (GPT-2, Llama family, GPT-NeoX, BERT/RoBERTa) and model files: safetensors
// and GGUF weights, config normalization, tokenizers and chat templates. This entry is platform-neutral; `node.ts` adds reading and writing files.

export * from "./arch/bert.js";
export * from "./arch/common.js";
export * from "./arch/gpt-neox.js";
export * from "./arch/gpt2.js";
export * from "./arch/llama.js";
export * from "./architectures.js";
export * from "./chat-template.js";
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
export { ModelFormatError } from "./errors.js";
export { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from "./float16.js";
export * from "./generation-config.js";
export * from "./gguf.js";
export * from "./gguf-names.js";
export * from "./gguf-to-hf.js";
export * from "./hf-to-gguf.js";
export { type Json, type JsonObject, JsonSyntaxError, parseJsonStrict } from "./json.js";
export {
  type ByteReader,
  decodeSafetensors,
  encodeSafetensors,
  type LoadOptions,
  MAX_HEADER_SIZE,
  makeSafetensorsReader,
  parseSafetensorsHeader,
  type SafetensorsDType,
  type SafetensorsHeader,
  type SafetensorsReader,
  safetensorsDTypeSize,
  type TensorEntry,
  type WriteOptions,
} from "./safetensors.js";
export * from "./tiny.js";
export * from "./tiny-tokenizers.js";
export * from "./tokenizer.js";
export * from "./tokenizer-gguf.js";
