// @llmdbg/core — hook points, run(), the activation cache, interventions, batching and generation. The JSON
// types it speaks (hook points, interventions, tensor data and slices) are @llmdbg/protocol's.
export * from "./cache.js";
export * from "./forward.js";
export * from "./generate.js";
export * from "./hooks.js";
export * from "./interventions.js";
export * from "./metrics.js";
export * from "./params.js";
export * from "./run.js";
export * from "./select.js";
export * from "./slices.js";
export type { Tokenizer } from "./tokenizer.js";
export * from "./weights.js";
