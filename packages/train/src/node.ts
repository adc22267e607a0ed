// Node entry of @llmdbg/train: everything in index.ts plus checkpoint folders, PEFT adapter folders, the JSONL
// telemetry log and the optimizer's helper thread.
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
export { HelperError, stepHelper, WorkerStepHelper } from "./helper-node.js";
export * from "./index.js";
export { loadAdapter, saveAdapter } from "./lora-node.js";
export { JsonlSink } from "./sinks-node.js";
