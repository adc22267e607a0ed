// @llmdbg/train — training on llmdbg's engine with telemetry. Platform-neutral; `node.ts` adds what needs Node.
export {
  AdamW,
  type AdamWOptions,
  type Optimizer,
  type OptimizerState,
  type ParamAccess,
  Sgd,
  type SgdOptions,
  type UpdateNorms,
} from "./optim.js";
export { Rng, type RngState } from "./rng.js";
export { clipGradNorm, globalNorm, lrFactor } from "./schedule.js";
