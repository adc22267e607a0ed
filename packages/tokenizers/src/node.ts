// Node entry: everything in index.ts plus tokenizers read from a model folder.
export * from "./index.js";
export { loadTokenizerFromFolder, readJsonFile } from "./tokenizer-node.js";
