// Training as it crosses the wire: the trainer's configuration (plain JSON, so a run can be stored, replayed and
// shown) and the telemetry it emits, one `TrainEvent` per line of a JSONL log, tagged by `kind` so a view picks
// the events it draws. Every number in an event is finite: a step whose loss or gradient is not finite emits an
// `anomaly` instead of a `step`.

/** AdamW as torch.optim.AdamW: decoupled decay first, then the moments, bias correction, eps after the root. */
export interface AdamWConfig {
  readonly kind: "adamw";
  /** default [0.9, 0.999] */
  readonly betas?: readonly [number, number];
  /** default 1e-8 */
  readonly eps?: number;
  /** default 0.01 */
  readonly weightDecay?: number;
  /**
   * Leave 1-D parameters (biases, norm weights) undecayed, as the Hugging Face Trainer does; default true here
   * (the optimizer alone, like torch, decays everything unless told).
   */
  readonly noDecay1d?: boolean;
}

/** SGD as torch.optim.SGD: L2 weight decay added to the gradient, momentum with dampening, optional Nesterov. */
export interface SgdConfig {
  readonly kind: "sgd";
  /** default 0 */
  readonly momentum?: number;
  /** default 0 */
  readonly dampening?: number;
  /** default false */
  readonly nesterov?: boolean;
  /** default 0 */
  readonly weightDecay?: number;
  /** as AdamWConfig.noDecay1d; default true */
  readonly noDecay1d?: boolean;
}

export type OptimizerConfig = AdamWConfig | SgdConfig;

/** The learning-rate multiplier over the optimizer steps (transformers' get_*_schedule_with_warmup). */
export interface ScheduleConfig {
  readonly kind: "constant" | "linear" | "cosine";
  /** steps of linear warm-up from 0 (default 0) */
  readonly warmupSteps?: number;
  /** cosine: the floor as a fraction of the peak rate (get_cosine_with_min_lr_schedule_with_warmup); default 0 */
  readonly minLrRatio?: number;
}

/** Stop when `metric` (an evaluation metric) has not improved by `minDelta` for `patience` evaluations. */
export interface EarlyStoppingConfig {
  readonly metric: string;
  /** "min" (default) for losses, "max" for accuracies */
  readonly mode?: "min" | "max";
  readonly patience: number;
  /** default 0 */
  readonly minDelta?: number;
}

/** How token lists become a batch: padded to the longest (or to `length`), on the right by default. */
export interface PaddingConfig {
  readonly side?: "left" | "right";
  /** pad every batch to this many tokens (longer examples are refused); default: the batch's longest */
  readonly length?: number | null;
  /** the id written in padded slots (masked, so any valid id); default 0 */
  readonly padId?: number;
}

/**
 * The trainer's options. Absent fields take the defaults given; `ResolvedTrainConfig` (in the `start` event and in
 * a checkpoint's trainer_state.json) has every field filled in.
 */
export interface TrainConfig {
  /** seeds the shuffling generator; default 0 */
  readonly seed?: number;
  /** examples per micro-batch; default 8 */
  readonly batchSize?: number;
  /** micro-batches summed into one optimizer step (each loss scaled by 1/steps); default 1 */
  readonly gradientAccumulation?: number;
  /** passes over the training set; default 1 unless maxSteps is given */
  readonly epochs?: number | null;
  /** optimizer steps; wins over epochs when both are given */
  readonly maxSteps?: number | null;
  /** peak learning rate; default 5e-5 (the Hugging Face Trainer's) */
  readonly lr?: number;
  readonly schedule?: ScheduleConfig;
  readonly optimizer?: OptimizerConfig;
  /** global gradient-norm clipping (torch's clip_grad_norm_); null: none; default 1 */
  readonly clipNorm?: number | null;
  /** reshuffle the training set every epoch; default true */
  readonly shuffle?: boolean;
  readonly padding?: PaddingConfig;
  /** "causal_lm": next-token cross-entropy; "classification": the example's label against [batch, class] logits */
  readonly objective?: "causal_lm" | "classification";
  /** parameters trained (names or globs); default all */
  readonly trainable?: readonly string[] | null;
  /** evaluate on the validation set every this many steps and at the end; null: never; default null */
  readonly evalEvery?: number | null;
  /** examples per evaluation batch; default batchSize */
  readonly evalBatchSize?: number;
  readonly earlyStopping?: EarlyStoppingConfig | null;
  /** write a checkpoint every this many steps (and on abort) into checkpointDir; null: never; default null */
  readonly checkpointEvery?: number | null;
  readonly checkpointDir?: string | null;
  /** residual-stream statistics every this many steps; null: never; default null */
  readonly activationsEvery?: number | null;
  /** an `exploding_activations` event when a residual stream's |x| exceeds this; default 1e4 */
  readonly explodingThreshold?: number;
  /** on a non-finite loss or gradient: "stop" (default) the run, or "skip" the update and go on */
  readonly onAnomaly?: "stop" | "skip";
}

type Filled<T> = { readonly [K in keyof T]-?: Exclude<T[K], undefined> };

/**
 * LoRA adapters (PEFT's LoraConfig): each selected linear weight W runs as W + s·B·A, with A [r, in] and
 * B [out, r] trained and W frozen, s = alpha / r (alpha / √r with `useRslora`).
 */
export interface LoraConfig {
  /** the adapters' rank; default 8 (PEFT's) */
  readonly r?: number;
  /** the scaling numerator (PEFT's lora_alpha); default 8 (PEFT's) */
  readonly alpha?: number;
  /**
   * dropout probability on each adapter's input features while it trains; default 0. One mask per adapted weight
   * and forward pass, shared by every token of the batch (see the train package's lora.ts for why)
   */
  readonly dropout?: number;
  /**
   * The linear weights adapted. A plain name selects, as PEFT does, every module whose checkpoint path is that name
   * or ends in "." + it ("c_attn", "q_proj", "layers.0.self_attn.v_proj"); a pattern with `*` or ending in
   * ".weight" is a glob over parameter names ("h.*.attn.c_attn.weight"). Each must select at least one.
   */
  readonly targetModules: readonly string[];
  /** seeds A's initialization (and the dropout masks); default 0 */
  readonly seed?: number;
  /** rank-stabilized LoRA: scale by alpha / √r; default false */
  readonly useRslora?: boolean;
}

/** A LoraConfig with every default filled in. */
export type ResolvedLoraConfig = Filled<LoraConfig>;

// ——— Repair strategies: training options that change what the model learns (the train package's repair.ts and
// augment.ts). Each is plain JSON, and any of them combine in one run.

/** The attention patterns a penalty reads: hook points by name or glob, then layers and heads among them. */
export interface AttentionSelection {
  /** hook points holding patterns [batch, head, query_pos, key_pos]; default "blocks.*.attn.hook_pattern" */
  readonly hooks?: string | readonly string[];
  /** the blocks kept, by number (negative from the last); default every selected hook point */
  readonly layers?: readonly number[] | null;
  /** the heads kept; default all */
  readonly heads?: readonly number[] | null;
}

/**
 * A term on the entropy (nats) of attention rows: the objective gains `weight` × the mean entropy over the selected
 * layers, heads and real query positions. A positive weight sharpens attention, a negative one spreads it.
 */
export interface AttentionEntropyPenalty extends AttentionSelection {
  readonly kind: "entropy";
  readonly weight: number;
}

/**
 * A term on the attention mass real query positions put on chosen keys — tokens (by id or by text) or positions:
 * the objective gains `weight` × the mean mass. A positive weight penalizes attending to them (an attention sink, a
 * spurious token), a negative one encourages it.
 */
export interface AttentionMassPenalty extends AttentionSelection {
  readonly kind: "mass";
  readonly weight: number;
  /** keys holding one of these token ids */
  readonly tokens?: readonly number[];
  /** keys holding one of these tokens by text: a vocabulary entry ("<|endoftext|>") or text encoding to one token */
  readonly strings?: readonly string[];
  /** key positions within each example's real tokens (negative: from its last) */
  readonly positions?: readonly number[];
}

export type AttentionPenalty = AttentionEntropyPenalty | AttentionMassPenalty;

/**
 * Adversarial training on the input embeddings: each batch's embeddings (at `hook`) are moved inside an ε-ball to
 * raise the training loss — FGSM: one step of size ε along the gradient's sign (linf) or direction (l2); PGD:
 * `steps` steps of `stepSize`, each projected back onto the ball — and the model trains on the perturbed input.
 */
export interface AdversarialConfig {
  readonly method: "fgsm" | "pgd";
  /** the ball's radius: per element (linf), or over each example's embeddings (l2) */
  readonly epsilon: number;
  /** default "linf" */
  readonly norm?: "linf" | "l2";
  /** pgd: steps; default 3 */
  readonly steps?: number;
  /** pgd: the size of each step; default 2.5·ε/steps (Madry et al.) */
  readonly stepSize?: number;
  /** pgd: start from a random point of the ball instead of the clean input; default false */
  readonly randomStart?: boolean;
  /** the objective is α·(clean loss) + (1 − α)·(adversarial loss); Goodfellow et al. use 0.5; default 0 */
  readonly alpha?: number;
  /** the embedding hook point perturbed; default the one named "hook_embed" or ending in ".hook_embed" */
  readonly hook?: string;
  /** seeds randomStart (with the step and the batch); default 0 */
  readonly seed?: number;
}

/**
 * A consistency term: `weight` × the divergence between the model's output distributions on an example and on its
 * counterfactual (the pair data augmentation made) — next-token distributions at chosen positions for a causal LM,
 * class distributions for a classifier.
 */
export interface ConsistencyConfig {
  readonly weight: number;
  /** "js": Jensen–Shannon (default); "symmetric_kl": KL(p‖q) + KL(q‖p) */
  readonly divergence?: "js" | "symmetric_kl";
  /** causal LM: "last" (default), each sequence's last real position, or positions (negative: from the end) */
  readonly positions?: "last" | readonly number[];
}

/** The repair strategies that change the objective; any combination in one run. */
export interface RepairConfig {
  readonly attention?: readonly AttentionPenalty[];
  readonly adversarial?: AdversarialConfig | null;
  readonly consistency?: ConsistencyConfig | null;
}

/** Synonym groups: an example gets copies in which each word of a group is replaced by another of its group. */
export interface WordSwapAugment {
  readonly kind: "swap";
  readonly groups: readonly (readonly string[])[];
  /** the probability that an example (holding a group word) gets its copies; default 1 */
  readonly rate?: number;
  /** copies per example; default 1 */
  readonly copies?: number;
  /** default 0 */
  readonly seed?: number;
}

/** Templates with `{slot}` placeholders filled from lists: new examples, labelled as their template says. */
export interface TemplateAugment {
  readonly kind: "template";
  readonly templates: readonly (string | { readonly text: string; readonly label?: number })[];
  readonly slots: Readonly<Record<string, readonly string[]>>;
  /** examples drawn at random; default every filling of every template */
  readonly count?: number | null;
  /** default 0 */
  readonly seed?: number;
}

/**
 * Counterfactual pairs: an example holding a term gets a copy with every term swapped for its partner at once
 * (he ↔ she, Mary ↔ John), and with each suspected spurious word removed or replaced. The copy keeps the label and
 * is paired with its example for the consistency term.
 */
export interface CounterfactualAugment {
  readonly kind: "counterfactual";
  /** swapped both ways, whole words, a capitalized occurrence by the capitalized partner */
  readonly pairs?: readonly (readonly [string, string])[];
  /** suspected spurious words: removed, or replaced by a word drawn from `replacements` when it is given */
  readonly spurious?: readonly string[];
  readonly replacements?: readonly string[] | null;
  /** the probability that an example gets its counterfactual; default 1 */
  readonly rate?: number;
  /** default 0 */
  readonly seed?: number;
}

export type AugmentConfig = WordSwapAugment | TemplateAugment | CounterfactualAugment;

export type ResolvedTrainConfig = Filled<
  Omit<TrainConfig, "schedule" | "optimizer" | "padding" | "earlyStopping" | "trainable">
> & {
  readonly schedule: Filled<ScheduleConfig>;
  readonly optimizer: Filled<AdamWConfig> | Filled<SgdConfig>;
  readonly padding: Filled<PaddingConfig>;
  readonly earlyStopping: Filled<EarlyStoppingConfig> | null;
  readonly trainable: readonly string[] | null;
};

export interface TrainStartEvent {
  readonly kind: "start";
  readonly config: ResolvedTrainConfig;
  /** scalars in all parameters, and in those trained */
  readonly params: number;
  readonly trainableParams: number;
  readonly seed: number;
  readonly totalSteps: number;
  readonly examples: number;
  /** the step a resumed run continues after; null for a fresh run */
  readonly resumedFrom: number | null;
}

export interface TrainStepEvent {
  readonly kind: "step";
  /** optimizer steps done, this one included (1-based) */
  readonly step: number;
  /** epochs of data read, fractional */
  readonly epoch: number;
  /** the mean of the micro-batches' losses */
  readonly loss: number;
  /** the learning rate this step used */
  readonly lr: number;
  /** the global gradient norm before clipping */
  readonly gradNorm: number;
  /**
   * the gradient norm of each layer: parameters grouped by their first numeric path segment (`h.3.attn…` → "3"),
   * others by their first segment (`wte`)
   */
  readonly layerGradNorms: Readonly<Record<string, number>>;
  /** ‖Δw‖ / ‖w‖ of each layer's parameters over this step */
  readonly updateRatio: Readonly<Record<string, number>>;
  /** real (unpadded) tokens read this step */
  readonly tokens: number;
  readonly tokensPerSecond: number;
  readonly wallMs: number;
}

export interface TrainEvalEvent {
  readonly kind: "eval";
  readonly step: number;
  /** "loss" and "perplexity" (causal LM) or "accuracy" (classification), and the caller's metrics */
  readonly metrics: Readonly<Record<string, number>>;
}

/** Statistics of one residual stream over a batch's real tokens. */
export interface ActivationStat {
  readonly hook: string;
  readonly layer: number | null;
  readonly mean: number;
  readonly std: number;
  readonly maxAbs: number;
}

export interface TrainActivationsEvent {
  readonly kind: "activations";
  readonly step: number;
  readonly layers: readonly ActivationStat[];
}

export interface TrainAnomalyEvent {
  readonly kind: "anomaly";
  readonly step: number;
  readonly what: "nan" | "inf";
  /** the first primitive whose output was not finite while its inputs were (null if the rerun found none) */
  readonly op: string | null;
  /** where it ran: the last hook point reached before it, "loss" for the objective */
  readonly label: string | null;
  readonly phase: "forward" | "backward" | null;
  /** the parameter read by that op, else the first parameter whose gradient is not finite */
  readonly param: string | null;
  /** "stop": the run ends; "skip": this step's update was dropped */
  readonly action: "stop" | "skip";
  readonly message: string;
}

/** MLP neurons (post-activation) never above 0 over an evaluation's real tokens. */
export interface TrainDeadNeuronsEvent {
  readonly kind: "dead_neurons";
  readonly step: number;
  readonly hook: string;
  readonly count: number;
  readonly total: number;
}

export interface TrainExplodingActivationsEvent {
  readonly kind: "exploding_activations";
  readonly step: number;
  readonly hook: string;
  readonly maxAbs: number;
  readonly threshold: number;
}

export interface TrainCheckpointEvent {
  readonly kind: "checkpoint";
  readonly step: number;
  readonly path: string;
}

export interface TrainEarlyStopEvent {
  readonly kind: "early_stop";
  readonly step: number;
  readonly metric: string;
  /** the best value seen, and the step that reached it */
  readonly best: number;
  readonly bestStep: number;
}

export interface TrainEndEvent {
  readonly kind: "end";
  readonly step: number;
  readonly reason: "done" | "early_stop" | "aborted" | "anomaly";
  readonly wallMs: number;
}

export type TrainEvent =
  | TrainStartEvent
  | TrainStepEvent
  | TrainEvalEvent
  | TrainActivationsEvent
  | TrainAnomalyEvent
  | TrainDeadNeuronsEvent
  | TrainExplodingActivationsEvent
  | TrainCheckpointEvent
  | TrainEarlyStopEvent
  | TrainEndEvent;

export type TrainEventKind = TrainEvent["kind"];

/** A range a random search draws from: uniform, or log-uniform (learning rates). */
export interface TuneRange {
  readonly min: number;
  readonly max: number;
  readonly log?: boolean;
}

/**
 * The hyperparameters a search varies: each a list of values (grid, random, halving) or a range (random and
 * halving draw from it). Absent ones keep the base config's value.
 */
export interface TuneSpace {
  readonly lr?: readonly number[] | TuneRange;
  readonly batchSize?: readonly number[];
  readonly weightDecay?: readonly number[] | TuneRange;
  readonly warmupSteps?: readonly number[];
  /** LoRA ranks (the base LoRA config supplies the targets); needs `lora` */
  readonly loraRank?: readonly number[];
}

/** One trial's hyperparameters (the names of TuneSpace). */
export interface TuneParams {
  readonly lr?: number;
  readonly batchSize?: number;
  readonly weightDecay?: number;
  readonly warmupSteps?: number;
  readonly loraRank?: number;
}

export interface TuneConfig {
  /** grid: every combination; random: `trials` draws; halving: successive halving over `trials` draws */
  readonly method: "grid" | "random" | "halving";
  readonly space: TuneSpace;
  /** random and halving: configurations drawn; default 8 */
  readonly trials?: number;
  /** the evaluation metric compared (default "loss") and its direction (default "min") */
  readonly metric?: string;
  readonly mode?: "min" | "max";
  /**
   * The budget: `steps`, optimizer steps over all trials (grid and random give each trial steps / trials;
   * halving spreads them over its rungs), and/or `minutes` of wall time (no trial starts after it, and the one
   * running stops). At least one.
   */
  readonly budget: { readonly steps?: number; readonly minutes?: number };
  /** halving: the fraction kept per rung is 1/eta; default 3 */
  readonly eta?: number;
  /** seeds the draws; default 0 */
  readonly seed?: number;
}

/** One trial of a search, as its summary reports it. */
export interface TuneTrial {
  readonly id: number;
  /** halving: the rung (0 first); 0 otherwise */
  readonly rung: number;
  readonly params: TuneParams;
  readonly steps: number;
  /** the metric at the trial's last evaluation; null when it stopped before one (time budget, anomaly) */
  readonly value: number | null;
  readonly reason: TrainEndEvent["reason"];
  readonly wallMs: number;
}

export interface TuneResult {
  readonly kind: "tune";
  readonly method: TuneConfig["method"];
  readonly metric: string;
  readonly mode: "min" | "max";
  readonly trials: readonly TuneTrial[];
  /** the best trial (its last rung, for halving), or null when no trial reached an evaluation */
  readonly best: TuneTrial | null;
  /** the best trial's full training config */
  readonly bestConfig: TrainConfig | null;
  readonly wallMs: number;
}
