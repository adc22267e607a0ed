// @llmdbg/core — hook points, run(), the activation cache and interventions.
export * from "./cache.js";
export * from "./hooks.js";
export * from "./interventions.js";
export * from "./run.js";
