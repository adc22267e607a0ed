// Node entry: everything in index.ts plus writing tiny models to disk.
export * from "./index.js";
export { type WriteTinyModelOptions, writeTinyGguf, writeTinyModel } from "./tiny-node.js";
