// Node entry: everything in index.ts plus loadModel (a model folder or a .gguf file).

export { type DtypeCount, describeModel, type HookShape, hookShapes } from "./describe.js";
export * from "./index.js";
export {
  type HfFolder,
  type LoadedModel,
  type LoadModelOptions,
  type LoadProgress,
  load,
  loadModel,
  type Model,
  type ModelTokenizer,
  openHfFolder,
  type StoredTensor,
} from "./load-node.js";
export { type ComponentCost, type Cost, type Kind, profileModel } from "./profile-node.js";
export { type SaveResult, saveHfFolder, saveModel } from "./save-node.js";
