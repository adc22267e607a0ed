// @llmdbg/core — hook points, run(), the activation cache, interventions, batching and generation.
export * from "./cache.js";
export * from "./forward.js";
export * from "./generate.js";
export * from "./hooks.js";
export * from "./interventions.js";
export * from "./run.js";
export type { Tokenizer } from "./tokenizer.js";
