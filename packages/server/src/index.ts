// @llmdbg/server — the local server: a token-guarded HTTP + WebSocket front to the models and methods, with the
// typed RPC of @llmdbg/protocol's rpc.ts, a job queue in worker threads, and the UI's static files.
export { isMethodKind, modelInfo, ParamsError, predictionsOf, runPredictions } from "./handlers.js";
export { QueueFullError } from "./lane.js";
export { runOfJob } from "./runs.js";
export { type JobRecord, type RunningServer, type ServerLimits, type ServerOptions, startServer } from "./server.js";
export { EVENTS_PAGE, trainingEvents, trainingList } from "./training.js";
