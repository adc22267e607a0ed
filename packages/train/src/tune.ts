// Hyperparameter search over training runs: grid, random and successive halving (Jamieson & Talwalkar 2016;
// the rung schedule of Li et al.'s Hyperband with one bracket) over learning rate, batch size, weight decay,
// warm-up and LoRA rank, under a budget of optimizer steps and/or minutes. Every trial is an ordinary `train` run
// on a fresh model from `makeModel`, evaluated at its end on the validation set; its events go to the sink the
// caller gives for it. Halving trains each rung's survivors again from scratch with the longer budget (so every
// trial is a complete run of its own length, as a schedule tied to the run's length needs).
import type { HookedModel } from "@llmdbg/core";
import type {
  LoraConfig,
  TrainConfig,
  TrainEvent,
  TuneConfig,
  TuneParams,
  TuneRange,
  TuneResult,
  TuneTrial,
} from "@llmdbg/protocol";
import { createLora, type LoraBase, loraModel } from "./lora.js";
import { Rng } from "./rng.js";
import type { TelemetrySink } from "./sinks.js";
import { type TrainData, train } from "./trainer.js";

export interface TuneOptions {
  /** the base training config each trial starts from (its lr, batch size… replaced by the trial's) */
  readonly base: TrainConfig;
  /** with `space.loraRank`: the adapter's other settings (targets, alpha…); each trial trains only an adapter */
  readonly lora?: LoraConfig;
  /** a sink for trial `id`'s events (a JSONL file per trial, say); none: not recorded */
  readonly sinkFor?: (trial: { id: number; rung: number; params: TuneParams }) => TelemetrySink | undefined;
  readonly onEvent?: (trial: number, e: TrainEvent) => void;
  /** after each trial */
  readonly onTrial?: (t: TuneTrial) => void;
  readonly signal?: AbortSignal;
}

const KEYS = ["lr", "batchSize", "weightDecay", "warmupSteps", "loraRank"] as const;
type Key = (typeof KEYS)[number];

const isRange = (v: unknown): v is TuneRange => typeof v === "object" && v !== null && !Array.isArray(v);

/** Checks the search's config; every problem names its field. */
function check(c: TuneConfig, hasLora: boolean): void {
  const bad = (field: string, what: string): never => {
    throw new RangeError(`tune: ${field}: expected ${what}`);
  };
  if (!["grid", "random", "halving"].includes(c.method)) bad("method", '"grid", "random" or "halving"');
  const b = c.budget;
  if (b === undefined || (b.steps === undefined && b.minutes === undefined)) bad("budget", "{ steps } and/or { minutes }");
  if (b.steps !== undefined && !(Number.isSafeInteger(b.steps) && b.steps > 0)) bad("budget.steps", "a positive integer");
  if (b.minutes !== undefined && !(b.minutes > 0 && Number.isFinite(b.minutes))) bad("budget.minutes", "a positive number");
  if (c.method !== "grid" && b.steps === undefined) bad("budget.steps", `a step budget (${c.method} sizes its trials by it)`);
  if (c.trials !== undefined && !(Number.isSafeInteger(c.trials) && c.trials > 0)) bad("trials", "a positive integer");
  if (c.eta !== undefined && !(c.eta >= 2 && Number.isFinite(c.eta))) bad("eta", "a number ≥ 2");
  const keys = KEYS.filter((k) => c.space[k] !== undefined);
  if (keys.length === 0) bad("space", `at least one of ${KEYS.join(", ")}`);
  for (const k of keys) {
    const v = c.space[k];
    if (Array.isArray(v)) {
      if (v.length === 0 || !v.every((x) => Number.isFinite(x))) bad(`space.${k}`, "a non-empty list of numbers");
    } else if (isRange(v)) {
      if (c.method === "grid") bad(`space.${k}`, "a list of values (a grid cannot enumerate a range)");
      if (!(Number.isFinite(v.min) && Number.isFinite(v.max) && v.min < v.max)) bad(`space.${k}`, "{ min < max }");
      if (v.log === true && !(v.min > 0)) bad(`space.${k}.min`, "a positive number for a log range");
    } else bad(`space.${k}`, "a list of values or a range { min, max, log? }");
  }
  if (c.space.loraRank !== undefined && !hasLora) bad("space.loraRank", "a LoRA config (its targets) beside the search");
}

/** Every combination of the listed values, in order (the first key varies slowest). */
function grid(space: TuneConfig["space"]): TuneParams[] {
  let out: TuneParams[] = [{}];
  for (const k of KEYS) {
    const v = space[k];
    if (v === undefined) continue;
    const values = v as readonly number[];
    out = out.flatMap((p) => values.map((x) => ({ ...p, [k]: x })));
  }
  return out;
}

function draw(space: TuneConfig["space"], rng: Rng): TuneParams {
  const p: Partial<Record<Key, number>> = {};
  for (const k of KEYS) {
    const v = space[k];
    if (v === undefined) continue;
    if (Array.isArray(v)) p[k] = v[rng.int(v.length)] as number;
    else {
      const r = v as TuneRange;
      const u = rng.uniform();
      p[k] = r.log === true ? Math.exp(Math.log(r.min) + u * (Math.log(r.max) - Math.log(r.min))) : r.min + u * (r.max - r.min);
      // counts stay integers
      if (k === "batchSize" || k === "warmupSteps" || k === "loraRank") p[k] = Math.round(p[k] as number);
    }
  }
  return p;
}

/** The trial's training config: the base with the trial's values and its length. */
export function trialConfig(base: TrainConfig, p: TuneParams, steps: number): TrainConfig {
  const optimizer = base.optimizer ?? { kind: "adamw" as const };
  return {
    ...base,
    maxSteps: steps,
    epochs: null,
    ...(p.lr !== undefined && { lr: p.lr }),
    ...(p.batchSize !== undefined && { batchSize: p.batchSize }),
    ...(p.weightDecay !== undefined && { optimizer: { ...optimizer, weightDecay: p.weightDecay } }),
    ...(p.warmupSteps !== undefined && { schedule: { kind: "linear", ...base.schedule, warmupSteps: p.warmupSteps } }),
    // one evaluation at the end is what trials are compared by
    evalEvery: steps,
    earlyStopping: null,
    checkpointEvery: null,
  };
}

/**
 * Searches the space: each trial trains a fresh model from `makeModel` on `data` and is scored by its final
 * evaluation's `metric`. Returns every trial, the best, and the best trial's full config.
 * @example const r = await tune(() => load(path), data, { method: "random", space: { lr: { min: 1e-4, max: 1e-2, log: true } }, trials: 6, budget: { steps: 300 } }, { base: { batchSize: 8 } })
 */
export async function tune(
  makeModel: () => HookedModel & LoraBase,
  data: TrainData,
  config: TuneConfig,
  opts: TuneOptions,
): Promise<TuneResult> {
  check(config, opts.lora !== undefined);
  if ((data.validation ?? []).length === 0) throw new RangeError("tune: trials are compared on validation examples; give some");
  const t0 = performance.now();
  const metric = config.metric ?? "loss";
  const mode = config.mode ?? "min";
  const deadline = config.budget.minutes === undefined ? Number.POSITIVE_INFINITY : t0 + config.budget.minutes * 60_000;
  const rng = Rng.seeded(config.seed ?? 0);
  const trials: TuneTrial[] = [];
  const configs = new Map<number, TrainConfig>();
  let nextId = 0;
  const better = (a: number, b: number) => (mode === "min" ? a < b : a > b);

  const runTrial = async (params: TuneParams, steps: number, rung: number): Promise<TuneTrial | null> => {
    if (performance.now() >= deadline || opts.signal?.aborted === true) return null;
    const id = nextId++;
    const cfg = trialConfig(opts.base, params, steps);
    configs.set(id, cfg);
    const base = makeModel();
    const model =
      params.loraRank !== undefined && opts.lora !== undefined
        ? loraModel(base, createLora(base, { ...opts.lora, r: params.loraRank }))
        : base;
    // the time budget stops the trial that is running when it ends
    const ac = new AbortController();
    const stop = () => ac.abort();
    opts.signal?.addEventListener("abort", stop);
    const timer = Number.isFinite(deadline) ? setTimeout(stop, Math.max(0, deadline - performance.now())) : undefined;
    const t1 = performance.now();
    try {
      const sink = opts.sinkFor?.({ id, rung, params });
      const r = await train(model, data, cfg, {
        signal: ac.signal,
        ...(sink !== undefined && { sink }),
        ...(opts.onEvent !== undefined && { onEvent: (e: TrainEvent) => opts.onEvent?.(id, e) }),
      });
      const v = r.reason === "done" ? r.lastEval?.[metric] : undefined;
      if (r.reason === "done" && v === undefined)
        throw new RangeError(
          `tune: metric "${metric}" is not among the evaluation's metrics (${Object.keys(r.lastEval ?? {}).join(", ")})`,
        );
      const t: TuneTrial = {
        id,
        rung,
        params,
        steps: r.step,
        value: v ?? null,
        reason: r.reason,
        wallMs: performance.now() - t1,
      };
      trials.push(t);
      opts.onTrial?.(t);
      return t;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      opts.signal?.removeEventListener("abort", stop);
    }
  };

  const budget = config.budget.steps;
  if (config.method === "halving") {
    // rungs r0, r0·eta, … until one survivor; n·r0·(rungs) ≈ budget (each rung costs about n·r0 steps)
    const eta = config.eta ?? 3;
    const n = config.trials ?? 8;
    // rungs until one configuration is left: n, ⌊n/eta⌋, … (counted, not from logarithms: log 9 / log 3 > 2)
    let rungs = 1;
    for (let m = n; m > 1; m = Math.floor(m / eta)) rungs++;
    const r0 = Math.max(1, Math.floor((budget as number) / (n * rungs)));
    let alive = Array.from({ length: n }, () => draw(config.space, rng));
    for (let rung = 0; rung < rungs && alive.length > 0; rung++) {
      const steps = Math.round(r0 * eta ** rung);
      const done: TuneTrial[] = [];
      for (const p of alive) {
        const t = await runTrial(p, steps, rung);
        if (t !== null && t.value !== null) done.push(t);
      }
      done.sort((a, b) => (better(a.value as number, b.value as number) ? -1 : 1));
      alive = done.slice(0, Math.max(1, Math.floor(done.length / eta))).map((t) => t.params);
      if (done.length <= 1) break;
    }
  } else {
    const points =
      config.method === "grid" ? grid(config.space) : Array.from({ length: config.trials ?? 8 }, () => draw(config.space, rng));
    const steps = budget === undefined ? (opts.base.maxSteps ?? 100) : Math.max(1, Math.floor(budget / points.length));
    for (const p of points) await runTrial(p, steps, 0);
  }

  // the best of the last rung a trial reached (a longer run is a better estimate than a short one)
  const scored = trials.filter((t) => t.value !== null);
  const top = Math.max(0, ...scored.map((t) => t.rung));
  let best: TuneTrial | null = null;
  for (const t of scored) if (t.rung === top && (best === null || better(t.value as number, best.value as number))) best = t;
  return {
    kind: "tune",
    method: config.method,
    metric,
    mode,
    trials,
    best,
    bestConfig: best === null ? null : (configs.get(best.id) ?? null),
    wallMs: performance.now() - t0,
  };
}
