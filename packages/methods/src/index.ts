// @llmdbg/methods — interpretability methods over a TransformerModel, each one function
// `(model, request, { onProgress, signal }) → result` with a protocol request and result; no global state.

export { ablate } from "./ablation.js";
export * from "./adversarial.js";
export * from "./attention.js";
export {
  type AttentionViewOptions,
  attentionHead,
  attentionOverview,
  dequantizeSqrt8,
  FLOW_MAX_POSITIONS,
  type PatternShelf,
  quantizeSqrt8,
} from "./attention-view.js";
export { checkToken, inputIds, type MethodOptions, MethodRequestError, resolvePosition, tokenRef, vocabSize } from "./common.js";
export * from "./counterfactual.js";
export { directLogitAttribution } from "./dla.js";
export { romeEdit, zeroHeadEdits } from "./edit.js";
export { generationAttribution, gradientAttribution, quadrature } from "./gradient.js";
export { logitLens } from "./lens.js";
export * from "./neurons.js";
export { base64, packFloat32, packInt32 } from "./pack.js";
export { activationPatching } from "./patching.js";
export { type Pca, pca, type SymmetricEigen, symmetricEigen } from "./pca.js";
export { kernelShap, lime, type MaskValue, occlusion, perturbationAttribution, rng } from "./perturbation.js";
export { fitLogistic, probe } from "./probe.js";
export {
  MAX_PCA_POINTS,
  MAX_PROBE_POINTS,
  MAX_UMAP_POINTS,
  projection,
  projectionProbe,
} from "./projection.js";
export { contrastiveVector, steer } from "./steer.js";
export { lensLayers, type TunedLens, trainTunedLens, translate } from "./tuned-lens.js";
