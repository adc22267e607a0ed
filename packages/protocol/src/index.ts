// @llmdbg/protocol — the JSON wire types every other package speaks: hook-point metadata, tensors as data and
// slices, interventions, weight edits. No dependencies and no code beyond types, so the browser UI can import it alone.
// Method requests and results (methods.ts); the RPC contract joins these as the server lands.
export type {
  AdversarialFlip,
  AdversarialMethod,
  AdversarialRequest,
  AdversarialResult,
  Counterfactual,
  CounterfactualPrediction,
  CounterfactualRequest,
  CounterfactualResult,
} from "./adversarial.js";
export type { AttentionHeadScores, AttentionRequest, AttentionResult, AttentionSink } from "./attention.js";
export type { WeightEdit, WeightEditKind } from "./edits.js";
export type { Axis, HookKind, HookPoint } from "./hooks.js";
export type { Intervention, InterventionKind, Where } from "./interventions.js";
export type {
  AblationEffect,
  AblationMetric,
  AblationRequest,
  AblationResult,
  AttributionBaseline,
  AttributionObjective,
  AttributionPatching,
  DlaComponent,
  DlaComponentKind,
  DlaRequest,
  DlaResult,
  EditCheck,
  GradientAttributionRequest,
  GradientAttributionResult,
  LensCell,
  LensRequest,
  LensResult,
  LensTarget,
  MethodKind,
  MethodRequest,
  MethodResult,
  PatchGrid,
  PatchMetric,
  PatchReceiver,
  PatchRequest,
  PatchResult,
  PerturbationAttributionRequest,
  PerturbationAttributionResult,
  ProbeAtHook,
  ProbeExample,
  ProbeRequest,
  ProbeResult,
  QuadratureRule,
  RomeRequest,
  RomeResult,
  SteeringVector,
  SteerRequest,
  SteerResult,
  TokenInput,
  TokenRef,
  TokenScore,
  TunedLensResult,
  TunedLensTrainRequest,
} from "./methods.js";
export type {
  NeuronDirection,
  NeuronExample,
  NeuronHistogram,
  NeuronQuantile,
  NeuronStats,
  NeuronsRequest,
  NeuronsResult,
  NeuronUnit,
} from "./neurons.js";
export type { ActivationSummary, DType, TensorData, TensorSlice, TensorStats } from "./tensors.js";
