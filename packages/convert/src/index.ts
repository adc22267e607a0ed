// @llmdbg/convert — Hugging Face folders to GGUF files in llama.cpp's layout and back, each conversion checked
// by reading it back.
export { type GgufTensorSource, ggufToHf, type HfCheckpoint, type HfStorageType, TORCH_DTYPES } from "./gguf-to-hf.js";
export {
  GGUF_ARCHITECTURE_OF,
  ggufTokenizerMetadata,
  type HfToGgufInput,
  type HfToGgufOptions,
  hfToGguf,
  probedTokenizerMetadata,
} from "./hf-to-gguf.js";
export {
  llama3FreqFactors,
  permuteForInterleavedRope,
  regroupNeoxQkv,
  transpose2d,
  ungroupNeoxQkv,
  unpermuteForInterleavedRope,
} from "./layout.js";
