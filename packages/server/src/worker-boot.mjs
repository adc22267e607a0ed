// Starts a lane's worker thread from the TypeScript sources (tests, and the `llmdbg` bin before its bundle is
// built): tsx compiles them in this thread as the bin does in the main one. The bundle has server-worker.mjs.
import { workerData } from "node:worker_threads";

const { register } = await import("tsx/esm/api");
register();
await import(workerData.entry);
