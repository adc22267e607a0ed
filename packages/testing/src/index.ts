// @llmdbg/testing (private, for tests and tools only) — deterministic tiny models of every supported type with
// their tokenizers, in the Hugging Face and llama.cpp layouts, and hand-built tokenizer fixtures. The checks
// that use vitest's expect are in "@llmdbg/testing/vitest".
export * from "./tiny.js";
export { ENDOFTEXT, TINY_CORPUS, tinyByteLevelTokenizer, tinyWordPieceTokenizer } from "./tiny-tokenizers.js";
export { byteFallbackPieces, llama2TokenizerJson } from "./tokenizer-fixtures.js";
