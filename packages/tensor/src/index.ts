// @llmdbg/tensor — an eager tensor library with tape autodiff. This entry is platform-neutral; `node.ts`
// adds the onnxruntime backend.
import "./vjp.js";

export * from "./autodiff.js";
export { type Backend, type BackendName, BackendUnavailableError, getBackend, refBackend, useBackend } from "./backend.js";
export * from "./dtype.js";
export * from "./fused.js";
export * from "./ops.js";
export type { CompareOp, Prim, PrimAttrs } from "./prims.js";
export * from "./profile.js";
export * from "./shape.js";
export * from "./tensor.js";
export { sumTo } from "./vjp.js";
