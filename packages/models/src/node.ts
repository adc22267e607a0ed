// Node entry: everything in index.ts plus loadModel (a model folder or a .gguf file).
export * from "./index.js";
export {
  type LoadedModel,
  type LoadModelOptions,
  type LoadProgress,
  load,
  loadModel,
  type Model,
  type ModelTokenizer,
  type StoredTensor,
} from "./load-node.js";
