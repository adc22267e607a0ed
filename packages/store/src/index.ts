// @llmdbg/store — the run store: runs, models, method results, training events, datasets, evaluations, notes
// and labels in SQLite (better-sqlite3, WAL), tensors as safetensors blobs named by their sha256. Node only.

export {
  addDataset,
  type DatasetInput,
  datasetExamples,
  type EvaluationInput,
  type Example,
  getDataset,
  latestEvaluation,
  listDatasets,
  recordEvaluation,
  type StoredDataset,
  type StoredEvaluation,
} from "./datasets.js";
export { StoreError } from "./errors.js";
export { EXPORT_FORMAT, EXPORT_VERSION, exportRun, importRun, type RunExport } from "./export.js";
export { BLOB_HASH, hardwareInfo, hashFile, hashModel, LLMDBG_VERSION, sha256, storeHome } from "./home.js";
export {
  type CheckpointRecord,
  checkpointsOf,
  type EventsPage,
  eventsAfter,
  LiveRun,
  type LiveRunEnd,
  type LiveRunOptions,
  type RunState,
  runState,
  type TrainingSummary,
  trainingRuns,
} from "./live.js";
export { MIGRATIONS, type Migration, migrate, SCHEMA_VERSION } from "./schema.js";
export {
  type BlobRef,
  type DatasetRecord,
  type Evaluation,
  type GcReport,
  type Label,
  type ModelInput,
  type ModelRecord,
  type Note,
  openStore,
  type ResultJson,
  type RunBlob,
  type RunFilter,
  type RunInput,
  type RunRecord,
  type RunStatus,
  type RunSummary,
  Store,
  type StoredResult,
  type Tensors,
} from "./store.js";
