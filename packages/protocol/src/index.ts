// @llmdbg/protocol — the JSON wire types every other package speaks: hook-point metadata, tensors as data and
// slices, interventions, weight edits. No dependencies and no code beyond types, so the browser UI can import it alone.
// Method results and the RPC contract join these as the methods and the server land.
export type { WeightEdit, WeightEditKind } from "./edits.js";
export type { Axis, HookKind, HookPoint } from "./hooks.js";
export type { Intervention, InterventionKind, Where } from "./interventions.js";
export type { ActivationSummary, DType, TensorData, TensorSlice, TensorStats } from "./tensors.js";
