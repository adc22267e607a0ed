// Node entry of @llmdbg/zoo
export * from "./index.js";
