// Method requests and results: serializable tagged unions. The CLI's --json prints a MethodResult; the store keeps
// it, the server sends it, the UI draws it. Token ids are the model's; text, where a tokenizer gives it, rides
// along for display only.

import type { AdversarialRequest, AdversarialResult, CounterfactualRequest, CounterfactualResult } from "./adversarial.js";
import type {
  AttentionHeadRequest,
  AttentionHeadResult,
  AttentionOverviewRequest,
  AttentionOverviewResult,
  AttentionRequest,
  AttentionResult,
} from "./attention.js";
import type { WeightEdit } from "./edits.js";
import type { NeuronsRequest, NeuronsResult } from "./neurons.js";
import type { ProjectionProbeRequest, ProjectionProbeResult, ProjectionRequest, ProjectionResult } from "./projection.js";

/** One kind of weight edit. */
type WeightEditOf<K extends WeightEdit["kind"]> = Extract<WeightEdit, { kind: K }>;

/** What a method runs on: text (the model's tokenizer encodes it, with its special tokens) or token ids. */
export type TokenInput = { readonly text: string } | { readonly ids: readonly number[] };

/** A token with its text as the tokenizer shows it (null without a tokenizer, or for an id it does not name). */
export interface TokenRef {
  readonly id: number;
  readonly text: string | null;
}

/** One prediction: a token, its logit and its probability (softmax over the vocabulary). */
export interface TokenScore extends TokenRef {
  readonly logit: number;
  readonly prob: number;
}

// ——— logit lens ———

export interface LensRequest {
  readonly kind: "lens";
  readonly input: TokenInput;
  /** predictions kept per layer and position (default 5) */
  readonly topK?: number;
  /** a token whose probability and rank are reported at every layer and position */
  readonly target?: number;
  /** positions to read (negative counts from the end); all if absent */
  readonly positions?: readonly number[];
}

/** The target token at one layer and position: its logit, probability and rank (0 = the top prediction). */
export interface LensTarget {
  readonly logit: number;
  readonly prob: number;
  readonly rank: number;
}

export interface LensCell {
  readonly top: readonly TokenScore[];
  readonly target: LensTarget | null;
}

export interface LensResult {
  readonly kind: "lens";
  readonly tokens: readonly TokenRef[];
  /**
   * The residual streams read, in order: `blocks.L.hook_resid_pre` for every layer, then the last layer's
   * `hook_resid_post` (the stream the model's own head reads).
   */
  readonly layers: readonly string[];
  /** the positions read (non-negative) */
  readonly positions: readonly number[];
  readonly target: TokenRef | null;
  /** cells[layer][position]: each stream through the final norm (its scale computed on that stream) and unembedding */
  readonly cells: readonly (readonly LensCell[])[];
  /** "tuned": each stream went through its tuned-lens translator first */
  readonly lens: "logit" | "tuned";
}

/** Training a tuned lens: per-layer affine translators fit on a corpus to the model's final distribution. */
export interface TunedLensTrainRequest {
  readonly kind: "tuned_lens";
  readonly texts: readonly string[];
  /** Adam steps per layer (default 200), learning rate (default 1e-3), positions per step (default 128) */
  readonly steps?: number;
  readonly lr?: number;
  readonly batchTokens?: number;
  /** the share of positions held out to measure KL (default 0.2), positions read at most (default 4096) */
  readonly validation?: number;
  readonly maxTokens?: number;
  readonly seed?: number;
}

export interface TunedLensResult {
  readonly kind: "tuned_lens";
  /** the streams, as LensResult.layers */
  readonly layers: readonly string[];
  /** mean KL(final ‖ lens) on the held-out positions, per layer, for the logit lens and for the tuned lens */
  readonly klLogitLens: readonly number[];
  readonly klTunedLens: readonly number[];
  readonly trainTokens: number;
  readonly validationTokens: number;
  readonly steps: number;
  readonly seed: number;
}

// ——— direct logit attribution ———

export interface DlaRequest {
  readonly kind: "dla";
  readonly input: TokenInput;
  /** the token whose logit is decomposed */
  readonly target: number;
  /** when given, the logit difference target − foil is decomposed */
  readonly foil?: number;
  /** the position read (default −1, the last) */
  readonly position?: number;
}

export type DlaComponentKind = "embed" | "pos_embed" | "head" | "attn_bias" | "mlp" | "bias";

/** One term of the decomposition: what one component writes to the residual stream, read through the head. */
export interface DlaComponent {
  /** e.g. "embed", "L3H5", "L3 attn bias", "L3 mlp", "bias" */
  readonly name: string;
  readonly kind: DlaComponentKind;
  readonly layer: number | null;
  readonly head: number | null;
  readonly value: number;
}

export interface DlaResult {
  readonly kind: "dla";
  readonly tokens: readonly TokenRef[];
  readonly position: number;
  readonly target: TokenRef;
  readonly foil: TokenRef | null;
  /** the model's own logit of the target (or target − foil) at the position */
  readonly logit: number;
  /** every component, in the order of the forward pass */
  readonly components: readonly DlaComponent[];
  /** the components' sum, and |sum − logit| */
  readonly sum: number;
  readonly error: number;
  /** how the final norm is treated, in words */
  readonly convention: string;
}

// ——— gradient attribution ———

/** What is differentiated: the target's log-probability (default), logit or probability at the position. */
export type AttributionObjective = "logprob" | "logit" | "prob";

/** The reference input of integrated gradients (and of grad × input's "input − baseline"). */
export type AttributionBaseline =
  | { readonly kind: "zero" }
  /** every position set to this token's activation (a pad or unknown token's embedding) */
  | { readonly kind: "token"; readonly id: number }
  /** the mean activation over every token of these texts (at hook_embed: the mean embedding) */
  | { readonly kind: "dataset"; readonly texts: readonly string[] };

/** How the path integral of integrated gradients is approximated over α ∈ [0, 1]. */
export type QuadratureRule = "riemann_left" | "riemann_right" | "riemann_middle" | "riemann_trapezoid" | "gauss_legendre";

export interface GradientAttributionRequest {
  readonly kind: "attribution";
  readonly method: "saliency" | "grad_x_input" | "integrated_gradients";
  readonly input: TokenInput;
  /** the token differentiated; default the model's top prediction at the position */
  readonly target?: number;
  /** when given, the objective is objective(target) − objective(foil) */
  readonly foil?: number;
  readonly objective?: AttributionObjective;
  /** the position whose prediction is explained (default −1) */
  readonly position?: number;
  /** the hook point attributed to (default "hook_embed"; it needs a position axis) */
  readonly hook?: string;
  /** grad × input and integrated gradients (default zero) */
  readonly baseline?: AttributionBaseline;
  /** integrated gradients: steps (default 64) and rule (default gauss_legendre) */
  readonly steps?: number;
  readonly rule?: QuadratureRule;
  /** integrated gradients: interpolation points per forward/backward pass (default 16) */
  readonly batch?: number;
}

export interface GradientAttributionResult {
  readonly kind: "attribution";
  readonly method: GradientAttributionRequest["method"];
  readonly hook: string;
  readonly tokens: readonly TokenRef[];
  readonly position: number;
  readonly target: TokenRef;
  readonly foil: TokenRef | null;
  readonly objective: AttributionObjective;
  /** one score per input position: saliency is the L2 norm of the gradient over the other axes; grad × input and
   * integrated gradients sum gradient × (input − baseline) over them */
  readonly scores: readonly number[];
  /** the objective at the input and at the baseline (integrated gradients and grad × input; null for saliency) */
  readonly fInput: number;
  readonly fBaseline: number | null;
  /** integrated gradients' completeness gap: Σ scores − (fInput − fBaseline); null otherwise */
  readonly delta: number | null;
  readonly baseline: AttributionBaseline | null;
  readonly steps: number | null;
  readonly rule: QuadratureRule | null;
}

/** Attribution of a generation: each generated token's gradient attribution to every token before it. */
export interface GenerationAttributionRequest {
  readonly kind: "generation_attribution";
  readonly input: TokenInput;
  /** tokens generated greedily */
  readonly maxNewTokens: number;
  readonly method: GradientAttributionRequest["method"];
  readonly objective?: AttributionObjective;
  /** contrastive: each step explains objective(generated token) − objective(foil) */
  readonly foil?: number;
  readonly baseline?: AttributionBaseline;
  readonly steps?: number;
  readonly rule?: QuadratureRule;
}

export interface GenerationAttributionResult {
  readonly kind: "generation_attribution";
  readonly method: GradientAttributionRequest["method"];
  readonly objective: AttributionObjective;
  readonly prompt: readonly TokenRef[];
  readonly generated: readonly TokenRef[];
  readonly foil: TokenRef | null;
  /**
   * matrix[j][i]: generated token j's score for the token at position i of prompt + generated (null from position
   * P + j on, which generated token j does not see)
   */
  readonly matrix: readonly (readonly (number | null)[])[];
  /** integrated gradients: each row's completeness gap; null otherwise */
  readonly deltas: readonly number[] | null;
}

// ——— perturbation attribution ———

export interface PerturbationAttributionRequest {
  readonly kind: "perturbation";
  /** occlusion: slide a window of masked tokens; lime: a weighted linear surrogate over random masks; shap: KernelSHAP */
  readonly method: "occlusion" | "lime" | "shap";
  readonly input: TokenInput;
  readonly target?: number;
  readonly foil?: number;
  readonly objective?: AttributionObjective;
  readonly position?: number;
  /** the token a masked position is replaced by (default the tokenizer's pad, else unknown, else 0) */
  readonly replacement?: number;
  /** occlusion: tokens masked at once (default 1) and the step between windows (default 1) */
  readonly window?: number;
  readonly stride?: number;
  /** lime and shap: masked samples evaluated (default 256) and the seed that draws them (default 0) */
  readonly samples?: number;
  readonly seed?: number;
  /** masked inputs per forward pass (default 32) */
  readonly batch?: number;
}

export interface PerturbationAttributionResult {
  readonly kind: "perturbation";
  readonly method: PerturbationAttributionRequest["method"];
  readonly tokens: readonly TokenRef[];
  readonly position: number;
  readonly target: TokenRef;
  readonly foil: TokenRef | null;
  readonly objective: AttributionObjective;
  readonly replacement: TokenRef;
  /** one score per input position; for shap they sum to fInput − fMasked exactly */
  readonly scores: readonly number[];
  /** the objective on the input, and with every position masked */
  readonly fInput: number;
  readonly fMasked: number;
  /** the masked inputs evaluated (occlusion: one per window) */
  readonly samples: number;
  /** lime and shap: the seed; shap with 2^n − 2 ≤ samples enumerates every coalition and draws nothing */
  readonly seed: number | null;
  /** lime: the weighted R² of the surrogate on its samples */
  readonly r2: number | null;
  /** occlusion: window and stride */
  readonly window: number | null;
  readonly stride: number | null;
}

// ——— activation patching ———

/** What patching measures at the last position: answer − foil logits, the answer's probability, or KL(clean ‖ run). */
export type PatchMetric = "logit_diff" | "prob" | "kl";

/**
 * The grid swept: layer × position for the residual stream before a block and the attention and MLP outputs;
 * layer × head for head outputs (z), queries, keys, values (key/value heads for k and v) and patterns; `path`:
 * layer × head of the senders whose direct path into one receiver head's input is patched.
 */
export type PatchGrid = "resid_pre" | "attn_out" | "mlp_out" | "z" | "q" | "k" | "v" | "pattern" | "path";

export interface PatchReceiver {
  readonly layer: number;
  readonly head: number;
  /** which input of the receiver the senders' paths are patched into */
  readonly input: "q" | "k" | "v";
}

export interface PatchRequest {
  readonly kind: "patch";
  /** the run whose activations are patched in */
  readonly clean: TokenInput;
  /** the run patched; as many tokens as the clean one */
  readonly corrupted: TokenInput;
  readonly metric?: PatchMetric;
  /** logit_diff and prob: the answer (default the clean run's top prediction) and, for logit_diff, the foil
   * (default the corrupted run's top prediction) */
  readonly answer?: number;
  readonly foil?: number;
  readonly grid?: PatchGrid;
  /** path patching: the receiver head */
  readonly receiver?: PatchReceiver;
  /** activation patching (real runs), attribution patching (the gradient approximation), or both (default) */
  readonly method?: "activation" | "attribution" | "both";
  /** patched runs per forward pass (default 16) */
  readonly batch?: number;
}

/** Attribution patching's approximation beside real patching: its grid and how well it ranks the cells. */
export interface AttributionPatching {
  /** normalized like `values` */
  readonly values: readonly (readonly (number | null)[])[];
  /** Spearman's rank correlation with real patching over the cells both have (null without real patching) */
  readonly rankCorrelation: number | null;
  /** the share of real patching's top-k cells by |value| that attribution patching's top-k also holds */
  readonly topKAgreement: { readonly k: number; readonly share: number } | null;
}

export interface PatchResult {
  readonly kind: "patch";
  readonly grid: PatchGrid;
  readonly metric: PatchMetric;
  readonly clean: readonly TokenRef[];
  readonly corrupted: readonly TokenRef[];
  readonly answer: TokenRef | null;
  readonly foil: TokenRef | null;
  readonly receiver: PatchReceiver | null;
  /** the metric on the clean and the corrupted run */
  readonly cleanMetric: number;
  readonly corruptedMetric: number;
  /** row labels (layers) and column labels (positions "3: ' Paris'" or heads "H5") */
  readonly rows: readonly string[];
  readonly cols: readonly string[];
  /** (patched − corrupted) / (clean − corrupted) per cell; null where a cell does not apply (a path sender at or
   * after the receiver's layer), or for attribution-only requests */
  readonly values: readonly (readonly (number | null)[])[] | null;
  /** the metric of each patched run, unnormalized */
  readonly raw: readonly (readonly (number | null)[])[] | null;
  readonly attribution: AttributionPatching | null;
}

// ——— ablation ———

/** What an ablation measures at the last position: the answer's log-probability, probability, or answer − foil. */
export type AblationMetric = "logprob" | "prob" | "logit_diff";

export interface AblationRequest {
  readonly kind: "ablate";
  readonly input: TokenInput;
  /** heads (each head's output z), neurons (each MLP neuron's activation), or layers (each attention and MLP output) */
  readonly components: "heads" | "neurons" | "layers";
  /** zero; mean: the mean activation over `dataset`; resample: activations of random dataset tokens */
  readonly ablation: "zero" | "mean" | "resample";
  /** texts for mean and resample ablation */
  readonly dataset?: readonly string[];
  readonly metric?: AblationMetric;
  /** default the clean run's top prediction; logit_diff needs a foil */
  readonly answer?: number;
  readonly foil?: number;
  /** neurons: the layers whose MLP neurons are ablated (default all) */
  readonly layers?: readonly number[];
  /** resample: draws averaged per component (default 4) and their seed (default 0) */
  readonly samples?: number;
  readonly seed?: number;
  /** ablated runs per forward pass (default 32) */
  readonly batch?: number;
}

export interface AblationEffect {
  /** "L3H5", "L2N117", "L4 attn", "L4 mlp" */
  readonly name: string;
  readonly layer: number;
  /** head or neuron index; null for a whole attention or MLP output */
  readonly index: number | null;
  readonly kind: "head" | "neuron" | "attn" | "mlp";
  /** the metric with the component ablated, and its change from the unablated run */
  readonly metric: number;
  readonly effect: number;
}

export interface AblationResult {
  readonly kind: "ablate";
  readonly components: AblationRequest["components"];
  readonly ablation: AblationRequest["ablation"];
  readonly metric: AblationMetric;
  readonly tokens: readonly TokenRef[];
  readonly answer: TokenRef;
  readonly foil: TokenRef | null;
  /** the metric of the unablated run */
  readonly baseline: number;
  /** every component, the largest |effect| first */
  readonly effects: readonly AblationEffect[];
  readonly samples: number | null;
  readonly seed: number | null;
}

// ——— probing ———

/** One labelled example: text (or token ids) and its class. */
export interface ProbeExample {
  readonly input: TokenInput;
  readonly label: string;
}

export interface ProbeRequest {
  readonly kind: "probe";
  /** hook points probed: names or globs ("blocks.*.hook_resid_post" gives the curve across layers) */
  readonly hooks: readonly string[] | string;
  readonly dataset: readonly ProbeExample[];
  /** the activation of each example: at its last token (default) or the mean over its tokens */
  readonly reduce?: "last" | "mean";
  /** the share of examples held out for validation (default 0.2) */
  readonly validation?: number;
  /** L2 penalty on the weights (default 1e-3), gradient steps (default 300) */
  readonly l2?: number;
  readonly steps?: number;
  /** the seed of the split and of the control task's shuffled labels (default 0) */
  readonly seed?: number;
  /** examples per forward pass (default 16) */
  readonly batch?: number;
}

export interface ProbeAtHook {
  readonly hook: string;
  readonly trainAccuracy: number;
  readonly validationAccuracy: number;
  /** the same probe trained on shuffled labels (the control task), on its own validation split */
  readonly controlAccuracy: number;
  /** validationAccuracy − controlAccuracy */
  readonly selectivity: number;
}

export interface ProbeResult {
  readonly kind: "probe";
  readonly labels: readonly string[];
  readonly reduce: "last" | "mean";
  readonly trainSize: number;
  readonly validationSize: number;
  readonly seed: number;
  /** one probe per hook, in the order of the request (the curve across layers) */
  readonly probes: readonly ProbeAtHook[];
  /** the hook whose probe validates best, and its direction per label in activation space (unit length): the
   * weights of that label less their mean over labels, undone from standardization — a steering vector */
  readonly best: { readonly hook: string; readonly directions: readonly (readonly number[])[] };
}

// ——— steering ———

/** A steering vector: given, or contrastive activation addition's mean difference between two prompt sets. */
export type SteeringVector =
  | { readonly values: readonly number[] }
  | {
      readonly contrast: {
        readonly positive: readonly TokenInput[];
        readonly negative: readonly TokenInput[];
        /** each prompt's activation: the mean over its tokens (default) or its last token */
        readonly reduce?: "last" | "mean";
      };
    };

export interface SteerRequest {
  readonly kind: "steer";
  readonly input: TokenInput;
  /** where the vector is added, e.g. "blocks.6.hook_resid_post" (its last axis is the vector's length) */
  readonly hook: string;
  readonly vector: SteeringVector;
  /** the vector is multiplied by this (default 1) */
  readonly coeff?: number;
  /** positions the vector is added at (negative from the end); all if absent, generated tokens included */
  readonly positions?: readonly number[];
  /** next-token predictions compared (default 5) */
  readonly topK?: number;
  /** also generate greedily (or at a temperature) with and without the vector */
  readonly generate?: { readonly maxNewTokens: number; readonly temperature?: number; readonly seed?: number };
}

export interface SteerResult {
  readonly kind: "steer";
  readonly hook: string;
  readonly coeff: number;
  readonly positions: readonly number[] | null;
  /** the vector added (before the coefficient) and its L2 norm */
  readonly vector: readonly number[];
  readonly norm: number;
  readonly tokens: readonly TokenRef[];
  /** the top predictions at the last position without and with the vector, and KL(without ‖ with) */
  readonly before: readonly TokenScore[];
  readonly after: readonly TokenScore[];
  readonly kl: number;
  readonly generated: {
    readonly before: readonly TokenRef[];
    readonly after: readonly TokenRef[];
    readonly beforeText: string | null;
    readonly afterText: string | null;
  } | null;
}

// ——— weight editing ———

/**
 * A rank-one MLP edit in the style of ROME (Meng et al. 2022): the key is the MLP's input activation (its
 * hook_post) at the subject's last token in `layer`; the value is the MLP output there plus a vector optimized so
 * that the prompt's next token becomes `target`; W_out gains key ⊗ (value − key·W_out) / ‖key‖², so that key now
 * maps to the new value. (ROME whitens the key by the covariance of keys over a corpus; this edit uses the
 * identity, as ROME's own ablation "without C" does.)
 */
export interface RomeRequest {
  readonly kind: "rome";
  /** the prompt that should now end in `target`, e.g. "The Eiffel Tower is located in the city of" */
  readonly prompt: TokenInput;
  /** the position of the subject's last token in the prompt (negative counts from the end) */
  readonly subjectPosition: number;
  readonly target: number;
  readonly layer: number;
  /** optimization of the value: Adam steps (default 100), learning rate (default 0.1), L2 weight (default 1e-3) */
  readonly steps?: number;
  readonly lr?: number;
  readonly l2?: number;
  /** other prompts evaluated before and after the edit (paraphrases, unrelated facts) */
  readonly checks?: readonly TokenInput[];
}

/** The target's probability at a prompt's last position, before and after an edit. */
export interface EditCheck {
  readonly tokens: readonly TokenRef[];
  readonly before: number;
  readonly after: number;
}

export interface RomeResult {
  readonly kind: "rome";
  readonly layer: number;
  readonly subjectPosition: number;
  readonly target: TokenRef;
  /** the edit, in the stored layout: apply it with `model.params.apply([edit])` (revertible) or per run */
  readonly edit: WeightEditOf<"rankOne">;
  /** ‖key‖ and ‖value − key·W_out‖ */
  readonly keyNorm: number;
  readonly deltaNorm: number;
  /** the optimization's loss (−log p(target) + L2) per step */
  readonly losses: readonly number[];
  /** the prompt first, then each check */
  readonly checks: readonly EditCheck[];
}

/** What `llmdbg edit` did: the edits (replayable), the ROME result when one was made, the predictions on a
 * prompt before and after, and where the edited model was written. */
export interface EditResult {
  readonly kind: "edit";
  readonly edits: readonly WeightEdit[];
  readonly rome: RomeResult | null;
  readonly before: readonly TokenScore[] | null;
  readonly after: readonly TokenScore[] | null;
  readonly out: string | null;
  /** tensors written to `out` */
  readonly written: number | null;
}

export type MethodRequest =
  | AblationRequest
  | AdversarialRequest
  | CounterfactualRequest
  | NeuronsRequest
  | AttentionRequest
  | AttentionOverviewRequest
  | AttentionHeadRequest
  | LensRequest
  | DlaRequest
  | GradientAttributionRequest
  | GenerationAttributionRequest
  | PerturbationAttributionRequest
  | PatchRequest
  | ProbeRequest
  | ProjectionRequest
  | ProjectionProbeRequest
  | SteerRequest
  | RomeRequest
  | TunedLensTrainRequest;
export type MethodResult =
  | AblationResult
  | AdversarialResult
  | CounterfactualResult
  | NeuronsResult
  | AttentionResult
  | AttentionOverviewResult
  | AttentionHeadResult
  | LensResult
  | DlaResult
  | GradientAttributionResult
  | GenerationAttributionResult
  | PerturbationAttributionResult
  | PatchResult
  | ProbeResult
  | ProjectionResult
  | ProjectionProbeResult
  | SteerResult
  | RomeResult
  | EditResult
  | TunedLensResult;
export type MethodKind = MethodResult["kind"];
