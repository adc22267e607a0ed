// @llmdbg/train — training on llmdbg's engine with telemetry: optimizers with torch's update rules, schedules,
// clipping and accumulation, causal-LM and classification objectives over padded batches, a trainer that emits
// protocol TrainEvents (loss, gradient and update norms per layer, activation statistics, dead neurons, NaN/Inf
// located to the op and parameter), checkpoints that resume bit for bit, LoRA adapters (trained through a view of
// the model whose parameters are the adapter's, merged and unmerged, in PEFT's layout), repair strategies (attention
// penalties, adversarial training on the embeddings, consistency between counterfactual pairs; data augmentation).
// Platform-neutral; `node.ts` adds the checkpoint and adapter folders and the JSONL log.
export { type AnomalyReport, locateAnomaly } from "./anomaly.js";
export {
  type AugmentedExample,
  augmentTexts,
  counterfactualAugment,
  type TextExample,
  templateAugment,
  wordSwapAugment,
} from "./augment.js";
export { type CheckpointStore, checkTrainerState, type TrainerState, type TrainSnapshot } from "./checkpoint.js";
export {
  createLora,
  isParamGlob,
  LoraAdapter,
  type LoraBase,
  type LoraModelOptions,
  type LoraTarget,
  linearTargets,
  loraModel,
  loraScaling,
  peftNameMatches,
  resolveLoraConfig,
  selectLoraTargets,
  withLoraNames,
} from "./lora.js";
export {
  type Batch,
  causalLmLoss,
  causalLmLossSum,
  causalLmObjective,
  classificationLogits,
  classificationLoss,
  classificationObjective,
  collate,
  type Example,
  IGNORE_INDEX,
  type Objective,
  type ObjectiveContext,
  runParams,
} from "./loss.js";
export {
  AdamW,
  type AdamWDone,
  type AdamWJob,
  type AdamWOptions,
  type AdamWScalars,
  type AdamWUpdate,
  adamwModule,
  adamwUpdater,
  type Optimizer,
  type OptimizerState,
  type ParamAccess,
  Sgd,
  type SgdOptions,
  type StepHelper,
  type UpdateNorms,
  type WasmModule,
} from "./optim.js";
export {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  type AdapterTensorSource,
  adapterFromPeft,
  type PeftSaveOptions,
  peftAdapterConfig,
  peftAdapterTensors,
  peftTensorNames,
} from "./peft.js";
export {
  type AttentionTerm,
  adversarialLoss,
  adversarialPerturbation,
  attentionTerm,
  consistencyValue,
  divergence,
  embeddingHook,
  type PairedExample,
  type Perturbation,
  paramView,
  type Repair,
  type RepairOptions,
  type ResolvedAdversarialConfig,
  type ResolvedConsistencyConfig,
  repairTraining,
  resolveAdversarial,
  resolveConsistency,
  selectPatterns,
} from "./repair.js";
export { Rng, type RngState } from "./rng.js";
export { clipCoef, clipGradNorm, globalNorm, lrFactor } from "./schedule.js";
export { MemorySink, type TelemetrySink } from "./sinks.js";
export { DeadNeuronTracker, layerKey, layerNorms, streamStats, updateRatios } from "./stats.js";
export {
  type ExtraRunOptions,
  type MetricContext,
  type MetricFn,
  resolveTrainConfig,
  type TrainData,
  type TrainOptions,
  type TrainResult,
  train,
} from "./trainer.js";
export { type TuneOptions, trialConfig, tune } from "./tune.js";
