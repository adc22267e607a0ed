// Node entry: everything in index.ts plus writing tiny models to disk.
export * from "./index.js";
export { type RandomGpt2Options, writeRandomGpt2 } from "./random-gpt2-node.js";
export {
  broadTexts,
  llamaCppTokenize,
  REAL_TOKENIZER_NAMES,
  type RealTokenizer,
  type RealTokenizerName,
  realTokenizer,
  rustTokenizer,
} from "./real-tokenizers-node.js";
export { type WriteTinyModelOptions, writeTinyGguf, writeTinyModel } from "./tiny-node.js";
