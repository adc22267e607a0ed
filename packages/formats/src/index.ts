// @llmdbg/formats — model files: safetensors and GGUF (parsed strictly, dequantized, written), float16 and
// bfloat16 conversion, strict JSON, and the ModelFormatError every loader throws. Platform-neutral; `node.ts`
// adds reading and writing files on disk.
export { ModelFormatError, show } from "./errors.js";
export { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from "./float16.js";
export {
  decodeGgufTensor,
  encodeGguf,
  type GgufArray,
  type GgufFile,
  GgufFormatError,
  type GgufTensorInfo,
  type GgufValue,
  type GgufValueType,
  type GgufWriteInput,
  type GgufWriteType,
  ggufTensor,
  parseGguf,
  parseGgufHeader,
} from "./gguf.js";
export { DEQUANTIZABLE, GGML_TYPES, type GgmlTypeName } from "./gguf-quants.js";
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
