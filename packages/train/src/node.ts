// Node entry of @llmdbg/train
export * from "./index.js";
