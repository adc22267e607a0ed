// Checks shared by the test suites, built on vitest's expect: the architecture contract (hooks, identity
// interventions, finite differences, goldens, KV cache, padding) and crafted or broken model files.
export * from "./arch.js";
export * from "./format-errors.js";
export * from "./models.js";
export * from "./protocol.js";
export * from "./weights.js";
