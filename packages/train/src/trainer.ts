// The training loop: one call, no global state. Batches come from a seeded generator whose state (and the data
// position) goes into every checkpoint, so a resumed run reads the same batches in the same order as an
// uninterrupted one; the learning rate is a pure function of the step; the optimizer's moments are saved as
// tensors. Each step sums its micro-batches' gradients, checks the loss and the gradient norm for NaN or
// infinity (and, if they are not finite, reruns the micro-batch to find the op), clips, updates, and emits
// telemetry. The loop yields to the event loop between steps so that an AbortSignal can stop it.
import { type HookedModel, type RunOptions, run, selectNames } from "@llmdbg/core";
import type { ResolvedTrainConfig, TrainConfig, TrainEndEvent, TrainEvent } from "@llmdbg/protocol";
import * as T from "@llmdbg/tensor";
import { locateAnomaly } from "./anomaly.js";
import type { CheckpointStore, TrainSnapshot } from "./checkpoint.js";
import {
  type Batch,
  causalLmLossSum,
  causalLmObjective,
  classificationLogits,
  classificationObjective,
  collate,
  type Example,
  type Objective,
  runParams,
} from "./loss.js";
import { AdamW, type Optimizer, Sgd, type StepHelper } from "./optim.js";
import { Rng, type RngState } from "./rng.js";
import { clipCoef, clipGradNorm, lrFactor, sumSquares } from "./schedule.js";
import type { TelemetrySink } from "./sinks.js";
import { DeadNeuronTracker, layerNorms, mergeHooks, streamStats, updateRatios } from "./stats.js";

export interface TrainData {
  readonly train: readonly Example[];
  /** what evaluation reads (needed when evalEvery is set) */
  readonly validation?: readonly Example[];
}

/** What a caller's metric sees: the model as trained so far and the validation examples. */
export interface MetricContext {
  readonly model: HookedModel;
  readonly examples: readonly Example[];
  readonly step: number;
}

export type MetricFn = (ctx: MetricContext) => number;

/** Run options a caller adds to every forward pass (interventions, edits, hooks); gradients are the trainer's. */
export type ExtraRunOptions = Omit<RunOptions, "grads" | "attentionMask">;

export interface TrainOptions {
  readonly sink?: TelemetrySink;
  readonly onEvent?: (event: TrainEvent) => void;
  /** stops the run between steps: a checkpoint is written when a store is given, then `end` with "aborted" */
  readonly signal?: AbortSignal;
  /** where checkpoints go (Node: folderCheckpoints(dir)); required for checkpointEvery */
  readonly checkpoints?: CheckpointStore;
  /** continue a run from its checkpoint (Node: loadCheckpoint(folder)) */
  readonly resume?: TrainSnapshot;
  /** replaces the config's objective (a regularizer adds its term to a built-in one) */
  readonly objective?: Objective;
  /** evaluation metrics beside the built-in ones, by name */
  readonly metrics?: Readonly<Record<string, MetricFn>>;
  /** extra run options for the forward passes of step `step` (training and evaluation) */
  readonly runOptions?: (step: number) => ExtraRunOptions;
  /** an optimizer instead of the config's (its state is checkpointed through the same interface) */
  readonly optimizer?: Optimizer;
  /**
   * a second thread for the config's AdamW (Node: `stepHelper()`, which the caller closes): it updates about half
   * the parameters, bit for bit as this thread would, once they hold 4 Mi elements or more
   */
  readonly stepHelper?: StepHelper;
}

export interface TrainResult {
  readonly reason: TrainEndEvent["reason"];
  /** optimizer steps done (counting those of the run resumed from) */
  readonly step: number;
  /** the loss of each step this call ran */
  readonly losses: readonly number[];
  readonly lastEval: Readonly<Record<string, number>> | null;
  readonly best: number | null;
  readonly bestStep: number | null;
}

const positiveInt = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) > 0;

/**
 * The config with every default filled in (and checked): what the `start` event and a checkpoint record.
 * @example resolveTrainConfig({ lr: 1e-3 }).optimizer // { kind: "adamw", betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, noDecay1d: true }
 */
export function resolveTrainConfig(c: TrainConfig): ResolvedTrainConfig {
  const o = c.optimizer ?? { kind: "adamw" };
  const optimizer: ResolvedTrainConfig["optimizer"] =
    o.kind === "adamw"
      ? {
          kind: "adamw",
          betas: o.betas ?? [0.9, 0.999],
          eps: o.eps ?? 1e-8,
          weightDecay: o.weightDecay ?? 0.01,
          noDecay1d: o.noDecay1d ?? true,
        }
      : {
          kind: "sgd",
          momentum: o.momentum ?? 0,
          dampening: o.dampening ?? 0,
          nesterov: o.nesterov ?? false,
          weightDecay: o.weightDecay ?? 0,
          noDecay1d: o.noDecay1d ?? true,
        };
  const batchSize = c.batchSize ?? 8;
  const maxSteps = c.maxSteps ?? null;
  const es = c.earlyStopping ?? null;
  const r: ResolvedTrainConfig = {
    seed: c.seed ?? 0,
    batchSize,
    gradientAccumulation: c.gradientAccumulation ?? 1,
    epochs: c.epochs ?? (maxSteps === null ? 1 : null),
    maxSteps,
    lr: c.lr ?? 5e-5,
    schedule: {
      kind: c.schedule?.kind ?? "linear",
      warmupSteps: c.schedule?.warmupSteps ?? 0,
      minLrRatio: c.schedule?.minLrRatio ?? 0,
    },
    optimizer,
    clipNorm: c.clipNorm === undefined ? 1 : c.clipNorm,
    shuffle: c.shuffle ?? true,
    padding: { side: c.padding?.side ?? "right", length: c.padding?.length ?? null, padId: c.padding?.padId ?? 0 },
    objective: c.objective ?? "causal_lm",
    trainable: c.trainable ?? null,
    evalEvery: c.evalEvery ?? null,
    evalBatchSize: c.evalBatchSize ?? batchSize,
    earlyStopping:
      es === null ? null : { metric: es.metric, mode: es.mode ?? "min", patience: es.patience, minDelta: es.minDelta ?? 0 },
    checkpointEvery: c.checkpointEvery ?? null,
    checkpointDir: c.checkpointDir ?? null,
    activationsEvery: c.activationsEvery ?? null,
    explodingThreshold: c.explodingThreshold ?? 1e4,
    onAnomaly: c.onAnomaly ?? "stop",
  };
  const bad = (field: string, what: string): never => {
    throw new RangeError(`train config: ${field} ${what}`);
  };
  if (!Number.isSafeInteger(r.seed)) bad("seed", `must be an integer, got ${r.seed}`);
  for (const k of ["batchSize", "gradientAccumulation", "evalBatchSize"] as const)
    if (!positiveInt(r[k])) bad(k, `must be a positive integer, got ${r[k]}`);
  for (const k of ["maxSteps", "evalEvery", "checkpointEvery", "activationsEvery"] as const)
    if (r[k] !== null && !positiveInt(r[k])) bad(k, `must be a positive integer or null, got ${r[k]}`);
  if (r.epochs !== null && !(r.epochs > 0 && Number.isFinite(r.epochs))) bad("epochs", `must be positive, got ${r.epochs}`);
  if (!(r.lr >= 0 && Number.isFinite(r.lr))) bad("lr", `must be a finite non-negative number, got ${r.lr}`);
  if (r.clipNorm !== null && !(r.clipNorm > 0)) bad("clipNorm", `must be positive or null, got ${r.clipNorm}`);
  if (!(r.schedule.warmupSteps >= 0) || !(r.schedule.minLrRatio >= 0 && r.schedule.minLrRatio <= 1))
    bad("schedule", "needs warmupSteps >= 0 and minLrRatio in [0, 1]");
  if (r.earlyStopping !== null && !positiveInt(r.earlyStopping.patience))
    bad("earlyStopping.patience", "must be a positive integer");
  return r;
}

/** Fields that decide the trajectory: a resumed run must have the same, or it cannot continue the same run. */
const TRAJECTORY: readonly (keyof ResolvedTrainConfig)[] = [
  "seed",
  "batchSize",
  "gradientAccumulation",
  "epochs",
  "maxSteps",
  "lr",
  "schedule",
  "optimizer",
  "clipNorm",
  "shuffle",
  "padding",
  "objective",
  "trainable",
  "onAnomaly",
];

function makeOptimizer(o: ResolvedTrainConfig["optimizer"], helper: StepHelper | undefined): Optimizer {
  return o.kind === "adamw" ? new AdamW({ ...o, ...(helper !== undefined && { helper }) }) : new Sgd(o);
}

/** The order examples are read in: one permutation per epoch, drawn from the run's generator. */
class DataStream {
  epoch = 0;
  position = 0;
  epochRng: RngState;
  private order: number[] = [];

  constructor(
    private readonly n: number,
    private readonly batchSize: number,
    private readonly shuffle: boolean,
    public rng: Rng,
  ) {
    this.epochRng = rng.state();
    this.draw();
  }

  get perEpoch(): number {
    return Math.ceil(this.n / this.batchSize);
  }

  /** The next micro-batch's example indices; the last of an epoch may be short. */
  next(): number[] {
    const start = this.position * this.batchSize;
    const idx = this.order.slice(start, start + this.batchSize);
    if (++this.position === this.perEpoch) {
      this.epoch++;
      this.position = 0;
      // drawn now, not lazily, so that a checkpoint between epochs holds the state it was drawn from
      this.draw();
    }
    return idx;
  }

  restore(s: { epoch: number; position: number; rng: RngState; epochRng: RngState }): void {
    if (s.position >= this.perEpoch)
      throw new RangeError(`resume: data position ${s.position} is past an epoch of ${this.perEpoch} batches`);
    this.rng = Rng.fromState(s.epochRng);
    this.draw();
    this.rng = Rng.fromState(s.rng);
    this.epoch = s.epoch;
    this.position = s.position;
  }

  private draw(): void {
    this.epochRng = this.rng.state();
    this.order = this.shuffle ? this.rng.permutation(this.n) : Array.from({ length: this.n }, (_, i) => i);
  }
}

const yieldTurn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * Trains `model`'s parameters in place on `data.train` and reports each step, evaluation, anomaly and checkpoint
 * as a TrainEvent to `opts.sink` and `opts.onEvent`.
 * @example const sink = new MemorySink(); const r = await train(model, { train: examples }, { lr: 1e-3, maxSteps: 30 }, { sink })
 */
export async function train(
  model: HookedModel,
  data: TrainData,
  config: TrainConfig,
  opts: TrainOptions = {},
): Promise<TrainResult> {
  const cfg = resolveTrainConfig(config);
  const t0 = performance.now();
  const N = data.train.length;
  if (N === 0) throw new RangeError("train: no training examples");
  const val = data.validation ?? [];
  if (cfg.evalEvery !== null && val.length === 0) throw new RangeError("train: evalEvery needs validation examples");
  if (cfg.checkpointEvery !== null && opts.checkpoints === undefined)
    throw new Error("train: checkpointEvery needs a checkpoint store (Node: folderCheckpoints(dir))");
  const classify = cfg.objective === "classification";
  const objective = opts.objective ?? (classify ? classificationObjective : causalLmObjective);
  const { model: tracked, param } = runParams(model);
  const labelKind = classify ? "class" : "tokens";
  const builtIn = classify ? ["loss", "accuracy"] : ["loss", "perplexity"];
  const es = cfg.earlyStopping;
  if (es !== null && !builtIn.includes(es.metric) && opts.metrics?.[es.metric] === undefined)
    throw new RangeError(
      `train: earlyStopping.metric "${es.metric}" is not a metric (${[...builtIn, ...Object.keys(opts.metrics ?? {})].join(", ")})`,
    );
  const names = model.params.names();
  const trainable = cfg.trainable === null ? names : selectNames(cfg.trainable, names, "trainable");
  const optimizer = opts.optimizer ?? makeOptimizer(cfg.optimizer, opts.stepHelper);
  const accum = cfg.gradientAccumulation;
  const stream = new DataStream(N, cfg.batchSize, cfg.shuffle, Rng.seeded(cfg.seed));
  const totalSteps = cfg.maxSteps ?? Math.max(1, Math.ceil(((cfg.epochs ?? 1) * stream.perEpoch) / accum));

  let step = 0;
  let best: number | null = null;
  let bestStep: number | null = null;
  let patience = 0;
  const resume = opts.resume;
  if (resume !== undefined) {
    const s = resume.state;
    for (const k of TRAJECTORY)
      if (JSON.stringify(s.config[k]) !== JSON.stringify(cfg[k]))
        throw new Error(
          `resume: config.${k} is ${JSON.stringify(cfg[k])}, the checkpoint's run had ${JSON.stringify(s.config[k])}`,
        );
    if (s.schedule.totalSteps !== totalSteps)
      throw new Error(
        `resume: this run has ${totalSteps} steps, the checkpoint's had ${s.schedule.totalSteps} (was the training set changed?)`,
      );
    if (s.optimizer.kind !== optimizer.kind)
      throw new Error(`resume: the checkpoint holds ${s.optimizer.kind} state, the run uses ${optimizer.kind}`);
    for (const [name, t] of resume.weights) model.params.set(name, t);
    optimizer.loadState(resume.optimizer);
    stream.restore(s);
    ({ step, best, bestStep, patience } = s);
  }

  const emit = (e: TrainEvent): void => {
    opts.sink?.emit(e);
    opts.onEvent?.(e);
  };
  const trainableSet = new Set(trainable);
  let trainableParams = 0;
  for (const [name, t] of model.params.entries()) if (trainableSet.has(name)) trainableParams += t.size;
  emit({
    kind: "start",
    config: cfg,
    params: model.params.count(),
    trainableParams,
    seed: cfg.seed,
    totalSteps,
    examples: N,
    resumedFrom: resume === undefined ? null : step,
  });

  const extraFor = (s: number): ExtraRunOptions => opts.runOptions?.(s) ?? {};
  const masked = (b: Batch) => (b.attentionMask === undefined ? {} : { attentionMask: b.attentionMask });

  const snapshot = (): TrainSnapshot => ({
    state: {
      format: 1,
      step,
      epoch: stream.epoch,
      position: stream.position,
      rng: stream.rng.state(),
      epochRng: stream.epochRng,
      schedule: { step, totalSteps, lr: cfg.lr * lrFactor(cfg.schedule, step, totalSteps) },
      optimizer: { kind: optimizer.kind, step: optimizer.steps },
      best,
      bestStep,
      patience,
      config: cfg,
    },
    weights: new Map(model.params.entries()),
    optimizer: optimizer.state(),
  });
  const checkpoint = async (): Promise<void> => {
    const store = opts.checkpoints;
    if (store === undefined) return;
    emit({ kind: "checkpoint", step, path: await store.save(snapshot()) });
  };

  /** Loss and metrics on the validation set; dead neurons over it as events. */
  const evaluate = (): Record<string, number> => {
    const tracker = new DeadNeuronTracker(model.hookPoints);
    const extra = extraFor(step);
    let sum = 0;
    let count = 0;
    let correct = 0;
    for (let i = 0; i < val.length; i += cfg.evalBatchSize) {
      const batch = collate(val.slice(i, i + cfg.evalBatchSize), cfg.padding, labelKind);
      const out = T.noGrad(
        () =>
          run(tracked, batch.ids, {
            ...extra,
            ...masked(batch),
            hooks: mergeHooks(extra.hooks, tracker.hooks(batch.attentionMask)),
          }).output,
      );
      if (!classify && opts.objective === undefined) {
        const s = causalLmLossSum(out, batch.labels, batch.attentionMask);
        sum += s.sum;
        count += s.count;
      } else {
        sum += T.noGrad(() => objective(out, batch, { param, step })).item() * batch.size;
        count += batch.size;
      }
      if (classify) {
        const pred = T.argmax(classificationLogits(out, batch), -1).data; // [batch]
        const lab = batch.labels.data;
        for (let b = 0; b < batch.size; b++) if (pred[b] === lab[b]) correct++;
      }
    }
    const loss = count === 0 ? 0 : sum / count;
    const metrics: Record<string, number> = classify
      ? { loss, accuracy: correct / val.length }
      : { loss, perplexity: Math.exp(loss) };
    for (const [name, fn] of Object.entries(opts.metrics ?? {})) metrics[name] = fn({ model, examples: val, step });
    for (const { hook, count, total } of tracker.read()) if (count > 0) emit({ kind: "dead_neurons", step, hook, count, total });
    return metrics;
  };

  const losses: number[] = [];
  let lastEval: Record<string, number> | null = null;
  let lastEvalStep = -1;
  /** Evaluates, and says whether early stopping ends the run. */
  const evalAndCheck = (): boolean => {
    const metrics = evaluate();
    lastEval = metrics;
    lastEvalStep = step;
    emit({ kind: "eval", step, metrics });
    if (es === null) return false;
    const v = metrics[es.metric] as number;
    const improved = best === null || (es.mode === "min" ? v < best - es.minDelta : v > best + es.minDelta);
    if (improved) {
      best = v;
      bestStep = step;
      patience = 0;
      return false;
    }
    if (++patience < es.patience) return false;
    emit({ kind: "early_stop", step, metric: es.metric, best: best as number, bestStep: bestStep as number });
    return true;
  };

  const finish = async (reason: TrainEndEvent["reason"]): Promise<TrainResult> => {
    emit({ kind: "end", step, reason, wallMs: performance.now() - t0 });
    await opts.sink?.close();
    return { reason, step, losses, lastEval, best, bestStep };
  };

  try {
    while (step < totalSteps) {
      await yieldTurn();
      if (opts.signal?.aborted) {
        await checkpoint();
        return finish("aborted");
      }
      const ts = performance.now();
      const lr = cfg.lr * lrFactor(cfg.schedule, step, totalSteps);
      const wantStats = cfg.activationsEvery !== null && (step + 1) % cfg.activationsEvery === 0;
      const extra = extraFor(step);
      const grads = new Map<string, Float32Array>();
      const owned = new Set<object>();
      const batches: Batch[] = [];
      let lossSum = 0;
      let tokens = 0;
      let finite = true;
      let stats: ReturnType<typeof streamStats> | null = null;
      for (let k = 0; k < accum; k++) {
        const batch = collate(
          stream.next().map((i) => data.train[i] as Example),
          cfg.padding,
          labelKind,
        );
        batches.push(batch);
        tokens += batch.tokens;
        const s = wantStats && k === 0 ? streamStats(model.hookPoints, batch.attentionMask) : null;
        stats ??= s;
        let raw: T.Tensor | null = null;
        const r = run(tracked, batch.ids, {
          ...extra,
          ...masked(batch),
          ...(s === null ? {} : { hooks: mergeHooks(extra.hooks, s.hooks) }),
          grads: {
            params: trainable,
            loss: (out) => {
              raw = objective(out, batch, { param, step });
              return accum === 1 ? raw : T.mul(raw, 1 / accum); // []
            },
          },
        });
        const lv = (raw as T.Tensor | null)?.item() ?? Number.NaN;
        lossSum += lv;
        if (!Number.isFinite(lv)) finite = false;
        for (const [name, g] of r.paramGrads) {
          if (g.dtype !== "f32") throw new TypeError(`train: the gradient of ${name} is ${g.dtype}; only f32 parameters train`);
          const d = g.data as Float32Array;
          const acc = grads.get(name);
          if (acc === undefined) {
            // the gradient's own buffer becomes the accumulator, unless another gradient shares it (a rule may
            // hand the same tensor to two inputs), since clipping and accumulation write into it
            grads.set(name, owned.has(g.store) ? Float32Array.from(d) : d);
            owned.add(g.store);
          } else for (let i = 0; i < d.length; i++) acc[i] = (acc[i] as number) + (d[i] as number);
        }
      }
      const sums = new Map<string, number>();
      let total2 = 0;
      for (const [name, g] of grads) {
        const s = sumSquares(g);
        sums.set(name, s);
        total2 += s;
      }
      const gradNorm = Math.sqrt(total2);
      if (!finite || !Number.isFinite(gradNorm)) {
        let report = null;
        for (const b of batches) if ((report = locateAnomaly(model, b, objective, trainable, extra, step)) !== null) break;
        emit({
          kind: "anomaly",
          step: step + 1,
          what: report?.what ?? (Number.isNaN(gradNorm) || !finite ? "nan" : "inf"),
          op: report?.op ?? null,
          label: report?.label ?? null,
          phase: report?.phase ?? null,
          param: report?.param ?? null,
          action: cfg.onAnomaly,
          message:
            report?.message ?? "the loss or gradient norm was not finite, and a rerun of the step's micro-batches was finite",
        });
        if (cfg.onAnomaly === "stop") return finish("anomaly");
        step++;
        continue;
      }
      // clipping is the optimizer's gradient scale where it applies one (the same f32 values clipGradNorm would
      // write, read in its loop); any other optimizer gets the gradients clipped in place
      const coef = cfg.clipNorm === null ? 1 : clipCoef(gradNorm, cfg.clipNorm);
      if (coef < 1 && optimizer.scalesGradients !== true) clipGradNorm(grads.values(), cfg.clipNorm ?? 0, gradNorm);
      const norms =
        optimizer.scalesGradients === true
          ? optimizer.step(model.params, grads, lr, coef, true) // the gradients are this step's alone
          : optimizer.step(model.params, grads, lr);
      step++;
      const loss = lossSum / accum;
      losses.push(loss);
      const wallMs = performance.now() - ts;
      emit({
        kind: "step",
        step,
        epoch: stream.epoch + stream.position / stream.perEpoch,
        loss,
        lr,
        gradNorm,
        layerGradNorms: layerNorms(sums),
        updateRatio: updateRatios(norms),
        tokens,
        tokensPerSecond: wallMs > 0 ? tokens / (wallMs / 1000) : 0,
        wallMs,
      });
      if (stats !== null) {
        const layers = stats.read();
        emit({ kind: "activations", step, layers });
        for (const l of layers)
          if (l.maxAbs > cfg.explodingThreshold)
            emit({ kind: "exploding_activations", step, hook: l.hook, maxAbs: l.maxAbs, threshold: cfg.explodingThreshold });
      }
      if (cfg.evalEvery !== null && step % cfg.evalEvery === 0 && evalAndCheck()) {
        await checkpoint();
        return finish("early_stop");
      }
      if (cfg.checkpointEvery !== null && step % cfg.checkpointEvery === 0) await checkpoint();
    }
    if (cfg.evalEvery !== null && lastEvalStep !== step && evalAndCheck()) return finish("early_stop");
    return finish("done");
  } catch (e) {
    // a run that throws (a metric, a checkpoint store, the model) still releases its sink; it emits no `end`
    await opts.sink?.close();
    throw e;
  }
}
