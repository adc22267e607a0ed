// @llmdbg/models — model file formats (for now: safetensors and GGUF). This entry is platform-neutral;
// `node.ts` adds reading and writing files.
export { ModelFormatError } from "./errors.js";
export { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from "./float16.js";
export * from "./gguf.js";
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
