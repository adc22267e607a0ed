// Node entry of @llmdbg/train: everything in index.ts plus checkpoint folders, PEFT adapter folders and the JSONL
// telemetry log.
export {
  folderCheckpoints,
  loadCheckpoint,
  type ModelFiles,
  OPTIMIZER_FILE,
  readWeights,
  STATE_FILE,
  saveCheckpoint,
  WEIGHTS_FILE,
  writeWeights,
} from "./checkpoint-node.js";
export * from "./index.js";
export { loadAdapter, saveAdapter } from "./lora-node.js";
export { JsonlSink } from "./sinks-node.js";
