// The "train" section's measurements, each in a fresh process (started by bench/train.ts as
// `node --import tsx bench/train-child.ts <mode> <folder> <options JSON>`, with the bench's MALLOC_* environment),
// so that neither side's timed steps run beside the other's model and optimizer state: on this machine (a VM) a
// process that merely holds 4 GB of touched memory made the peer's step ~40% slower (backward 2.7 → 3.8 s, AdamW
// 0.3 → 1.0 s), and ours ~10%; with ours timed in the bench process itself, the peer always ran beside our ~3 GB.
// Modes (each prints one JSON line last):
//   check    writes the random model to <folder>/model.safetensors, takes one train() step from it on fresh
//            optimizer state, and writes what the update read (the clipped gradients) and the updated parameters
//            to ours-grads.safetensors and ours-params.safetensors: { loss, grad_norm, check_ms, params }
//   compare  the check step against the peer's (grads.safetensors, params.safetensors and its JSON): a Check
//   time     loads the model, takes `warmup` untimed and `reps` timed train() steps on fresh optimizer state (the
//            peer's loop does the same), then, with `profile`, one more step written out and timed phase by phase
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type HookedModel, run } from "@llmdbg/core";
import { readSafetensors, writeSafetensors } from "@llmdbg/formats";
import { gpt2, memoryWeights, normalizeHfConfig } from "@llmdbg/models";
import type { TrainConfig, TrainEvent } from "@llmdbg/protocol";
import { fromTyped, type OpProfile, profileOps, type Tensor } from "@llmdbg/tensor";
import {
  AdamW,
  type AdamWOptions,
  causalLmLoss,
  clipCoef,
  type Example,
  globalNorm,
  type Optimizer,
  type ParamAccess,
  stepHelper,
  train,
} from "@llmdbg/train";
import { allOf, type Check, maxAbsDiff, maxRelDiff, within } from "./common.js";
import { type GPT2_SMALL_CONFIG, type Gpt2Shape, gpt2SmallWeights } from "./gpt2-weights.js";

/** The step both sides take. */
export const STEP = {
  batch: 4,
  seq: 128,
  lr: 1e-4,
  betas: [0.9, 0.999] as const,
  eps: 1e-8,
  weightDecay: 0.01,
  clip: 1.0,
} as const;

/**
 * Bounds, about 5–10× the differences measured on 2026-12-06 (GPT-2-small shape, 4 × 128 tokens; float32 through
 * 12 layers forward and back in other summation orders; the same figures in two runs). A wrong op, weight, target,
 * clipping coefficient or update rule moves them by far more.
 */
export const TOL = {
  /** |Δ loss|, nats (measured 9.5e-7 of 10.96) */
  loss: 5e-6,
  /** |Δ| / norm: our gradient norm (float64 sums) against torch's gradients summed in float64 (measured 2.9e-8) */
  gradNorm: 3e-7,
  /**
   * the same against clip_grad_norm_'s own value, which sums in float32 over 124M entries (measured 6.7e-5); it
   * sets torch's clipping coefficient, so the clipped gradients differ by that factor too
   */
  torchClipNorm: 5e-4,
  /** gradients before clipping (each side's clipped gradient ÷ its own coefficient), max |Δ| / max |g| of the worst parameter (measured 1.5e-6) */
  grads: 1e-5,
  /** our AdamW on torch's clipped gradients vs torch's update: max |Δ| / max |w| of the worst parameter (measured 1.1e-7, ~1 f32 ulp; 2.1e-7 with the float64 update before) */
  adamw: 1e-6,
  /**
   * the two full steps' parameters, max |Δ| / lr (measured 0.061): an entry whose gradient is at float noise could
   * move the other way (up to 2·lr); none did here
   */
  stepMax: 0.5,
  /** ‖Δ‖ / ‖update‖ over all parameters (measured 4.1e-5) */
  stepNorm: 3e-4,
} as const;

/** Fixed, spread-out token ids [batch][seq] (the gpt2 section's sequence, continued row after row). */
export function batchIds(batch: number, seq: number, vocab: number): number[][] {
  return Array.from({ length: batch }, (_, b) => Array.from({ length: seq }, (_, i) => ((b * seq + i) * 7919 + 13) % vocab));
}

/** The trainer's config for one step of STEP (train() called once per timed step). */
export function oneStepConfig(): TrainConfig {
  return {
    lr: STEP.lr,
    maxSteps: 1,
    batchSize: STEP.batch,
    shuffle: false,
    schedule: { kind: "constant" },
    clipNorm: STEP.clip,
    optimizer: { kind: "adamw", betas: STEP.betas, eps: STEP.eps, weightDecay: STEP.weightDecay, noDecay1d: true },
  };
}

export const ADAMW: AdamWOptions = { betas: STEP.betas, eps: STEP.eps, weightDecay: STEP.weightDecay, noDecay1d: true };

/** An optimizer that keeps the clipped gradients its update reads (the ones handed, times the scale), then lets `inner` update. */
export function recording(inner: Optimizer): {
  opt: Optimizer;
  grads: () => ReadonlyMap<string, Float32Array>;
  forget: () => void;
} {
  let seen: ReadonlyMap<string, Float32Array> = new Map();
  const opt: Optimizer = {
    kind: inner.kind,
    scalesGradients: inner.scalesGradients === true,
    get steps() {
      return inner.steps;
    },
    step(params, grads, lr, gradScale = 1) {
      // train() hands over the unclipped gradients and the clipping coefficient: keep what the update reads
      seen = new Map([...grads].map(([name, g]) => [name, gradScale === 1 ? g : g.map((x) => Math.fround(x * gradScale))]));
      return inner.step(params, grads, lr, gradScale);
    },
    state: () => inner.state(),
    loadState: (s) => inner.loadState(s),
  };
  return { opt, grads: () => seen, forget: () => (seen = new Map()) };
}

/** Parameters held in a map (what AdamW reads and writes). */
function mapParams(m: Map<string, Tensor>): ParamAccess {
  return {
    get: (name) => m.get(name) as Tensor,
    set: (name, value) => {
      m.set(name, value);
      return value;
    },
  };
}

/** What bench/peers/train.py prints. */
export interface PeerCheck {
  peer: string;
  loss: number;
  /** clip_grad_norm_'s (float32 sums) */
  grad_norm: number;
  grad_norm_f64: number;
  check_ms: number;
}

export interface PeerTimes {
  peer: string;
  samples_ms: number[];
  losses: number[];
  /** medians over the round's timed steps: forward + loss, backward, clipping, AdamW */
  phases_ms: [number, number, number, number];
}

/** One step of ours as train() takes it, phase by phase (ms). */
export interface Breakdown {
  total: number;
  run: number;
  forward: number;
  backward: number;
  norm: number;
  /** AdamW with the clipping coefficient as its gradient scale */
  adamw: number;
  topBackward: string;
  topForward: string;
}

function top(stats: OpProfile["forward"], n: number): string {
  return Object.entries(stats)
    .sort((a, b) => (b[1]?.ms ?? 0) - (a[1]?.ms ?? 0))
    .slice(0, n)
    .map(([k, s]) => `${k} ${(s?.ms ?? 0).toFixed(0)}`)
    .join(", ");
}

/**
 * One step written out the way train() runs it (run with grads.params, the loss, the global norm, AdamW with
 * the clipping coefficient as its gradient scale), timed phase by phase; the run under profileOps for its forward/backward split.
 */
export function profiledStep(model: HookedModel, ids: Tensor, opt: Optimizer): Breakdown {
  const names = model.params.names();
  const t0 = performance.now();
  const { result: r, profile } = profileOps(() =>
    run(model, ids, { grads: { params: names, loss: (out) => causalLmLoss(out, ids) } }),
  );
  (r.loss as Tensor).item();
  const grads = new Map<string, Float32Array>();
  for (const [name, g] of r.paramGrads) grads.set(name, g.data as Float32Array);
  const t1 = performance.now();
  const norm = globalNorm(grads.values());
  const t2 = performance.now();
  // clipping is AdamW's gradient scale, as in train(): no pass of its own
  opt.step(model.params, grads, STEP.lr, clipCoef(norm, STEP.clip), true); // the gradients given up, as train() does
  const t4 = performance.now();
  const sum = (phase: "forward" | "backward") => profile.rows.filter((x) => x.phase === phase).reduce((a, x) => a + x.ms, 0);
  return {
    total: t4 - t0,
    run: t1 - t0,
    forward: sum("forward"),
    backward: sum("backward"),
    norm: t2 - t1,
    adamw: t4 - t2,
    topForward: top(profile.forward, 4),
    topBackward: top(profile.backwardByRule, 4),
  };
}

/**
 * Our check step against the peer's, parameter by parameter from the files in `dir` (so that no second model is
 * held): see bench/train.ts's header for what is compared.
 */
function compareStep(dir: string, ours: OursCheck, j: PeerCheck): Check {
  const { loss, grad_norm: gradNorm } = ours;
  const initial = readSafetensors(join(dir, "model.safetensors"));
  const og = readSafetensors(join(dir, "ours-grads.safetensors"));
  const op = readSafetensors(join(dir, "ours-params.safetensors"));
  const ourNames = new Set(og.keys());
  const tg = readSafetensors(join(dir, "grads.safetensors"));
  const tp = readSafetensors(join(dir, "params.safetensors"));
  // each side's clipping coefficient, a float32 as clip_grad_norm_ computes it from that side's norm (clipCoef)
  const [cOurs, cTorch] = [clipCoef(gradNorm, STEP.clip), clipCoef(j.grad_norm, STEP.clip)];
  let gradWorst = 0;
  let gradWorstName = "";
  let adamWorst = 0;
  let adamWorstName = "";
  let stepMax = 0;
  let diff2 = 0;
  let upd2 = 0;
  for (const name of initial.keys()) {
    const w0 = initial.load(name);
    const gT = tg.load(name).data as Float32Array;
    const pT = tp.load(name).data as Float32Array;
    const g = ourNames.has(name) ? (og.load(name).data as Float32Array) : undefined;
    const gd = g === undefined ? Number.POSITIVE_INFINITY : scaledRelDiff(g, cOurs, gT, cTorch);
    if (!(gd <= gradWorst)) [gradWorst, gradWorstName] = [gd, name];
    // the update rule alone: our AdamW, fresh, on torch's clipped gradient of this parameter
    const one = new Map([[name, w0]]);
    new AdamW(ADAMW).step(mapParams(one), new Map([[name, gT]]), STEP.lr);
    const ad = maxRelDiff(pT, (one.get(name) as Tensor).data);
    if (!(ad <= adamWorst)) [adamWorst, adamWorstName] = [ad, name];
    const p1 = op.load(name).data;
    const p0 = w0.data;
    const sd = maxAbsDiff(p1, pT) / STEP.lr;
    if (!(sd <= stepMax)) stepMax = sd;
    for (let i = 0; i < pT.length; i++) {
      const d = (p1[i] as number) - (pT[i] as number);
      const u = (pT[i] as number) - (p0[i] as number);
      diff2 += d * d;
      upd2 += u * u;
    }
  }
  const measured = {
    loss: Math.abs(loss - j.loss),
    gradNorm: Math.abs(gradNorm - j.grad_norm_f64) / j.grad_norm_f64,
    torchClipNorm: Math.abs(j.grad_norm - gradNorm) / gradNorm,
    grads: gradWorst,
    adamw: adamWorst,
    stepMax,
    stepNorm: Math.sqrt(diff2 / upd2),
  };
  console.log(
    `train: loss ours ${loss}, torch ${j.loss}; grad norm ours ${gradNorm}, torch ${j.grad_norm_f64} (f64), ${j.grad_norm} (clip_grad_norm_); measured ${JSON.stringify(measured)}`,
  );
  return allOf(
    within("loss vs torch, |Δ| nats", measured.loss, TOL.loss),
    within("grad norm vs torch's in f64, |Δ|/norm", measured.gradNorm, TOL.gradNorm),
    within("vs torch's clip_grad_norm_ (f32 sums)", measured.torchClipNorm, TOL.torchClipNorm),
    within(`grads before clipping vs torch, max|Δ|/max|g| (worst ${gradWorstName})`, gradWorst, TOL.grads),
    within(`our AdamW on torch's clipped grads vs torch's update, max|Δ|/max|w| (worst ${adamWorstName})`, adamWorst, TOL.adamw),
    within("updated params vs torch, max|Δ|/lr", stepMax, TOL.stepMax),
    within("‖Δ‖/‖update‖", measured.stepNorm, TOL.stepNorm),
  );
}

/** max |a/ca − b/cb| / max |b/cb|: two clipped gradients compared as they were before clipping. */
export function scaledRelDiff(a: ArrayLike<number>, ca: number, b: ArrayLike<number>, cb: number): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = (a[i] as number) / ca;
    const y = (b[i] as number) / cb;
    const e = Math.abs(x - y);
    if (!(e <= d)) d = e;
    if (Math.abs(y) > m) m = Math.abs(y);
  }
  return d / Math.max(m, 1e-30);
}

/** config.json of the model: GPT-2 small's, whose shape fields a development run may change. */
export type ModelConfig = Omit<typeof GPT2_SMALL_CONFIG, keyof Gpt2Shape | "n_head"> & Gpt2Shape & { readonly n_head: number };

/** What a child is told (the third argument, JSON). */
export interface ChildOptions {
  /** the model's config.json fields (GPT-2 small's, or a smaller shape) */
  readonly config: ModelConfig;
  /** compare: the peer's check output */
  readonly peer?: PeerCheck;
  /** compare: our check output */
  readonly ours?: OursCheck;
  /** time: untimed steps, then timed ones */
  readonly warmup?: number;
  readonly reps?: number;
  /** time: one more step, profiled phase by phase */
  readonly profile?: boolean;
}

/** What `check` prints. */
export interface OursCheck {
  loss: number;
  /** the step event's gradient norm before clipping */
  grad_norm: number;
  check_ms: number;
  params: number;
}

/** What `time` prints. */
export interface OursTimes {
  /** each timed train() call, ms */
  samples_ms: number[];
  /** the step events' own wallMs of those calls */
  step_ms: number[];
  breakdown: Breakdown | null;
}

const CHILD_MODES = ["check", "compare", "time"] as const;
export type TrainChildMode = (typeof CHILD_MODES)[number];

function modelFrom(dir: string, config: ChildOptions["config"]): HookedModel {
  const file = join(dir, "model.safetensors");
  const st = readSafetensors(file);
  const weights: Record<string, Tensor> = {};
  for (const name of st.keys()) weights[name] = st.load(name);
  return gpt2(normalizeHfConfig(config, "config.json"), memoryWeights(weights), file);
}

function examples(config: ChildOptions["config"]): { train: Example[]; ids: number[][] } {
  const ids = batchIds(STEP.batch, STEP.seq, config.vocab_size);
  return { train: ids.map((x): Example => ({ ids: x })), ids };
}

async function check(dir: string, o: ChildOptions): Promise<OursCheck> {
  // the weights come back from the file, as the peer reads them (the arrays written are dropped)
  writeSafetensors(join(dir, "model.safetensors"), gpt2SmallWeights(1234, o.config));
  const model = modelFrom(dir, o.config);
  const helper = stepHelper(); // the optimizer's second thread, as llmdbg train gives it (bit for bit: helper.test.ts)
  try {
    const rec = recording(new AdamW({ ...ADAMW, helper }));
    let event: Extract<TrainEvent, { kind: "step" }> | null = null;
    const t0 = performance.now();
    const r = await train(model, { train: examples(o.config).train }, oneStepConfig(), {
      optimizer: rec.opt,
      onEvent: (e) => {
        if (e.kind === "step") event = e;
      },
    });
    const ms = performance.now() - t0;
    const ev = event as Extract<TrainEvent, { kind: "step" }> | null;
    if (ev === null) throw new Error(`our step emitted no step event (${r.reason})`);
    const grads: Record<string, Tensor> = {};
    for (const [name, g] of rec.grads()) grads[name] = fromTyped(g, model.params.get(name).shape, "f32"); // [param shape]
    writeSafetensors(join(dir, "ours-grads.safetensors"), grads);
    const params: Record<string, Tensor> = {};
    for (const name of model.params.names()) params[name] = model.params.get(name);
    writeSafetensors(join(dir, "ours-params.safetensors"), params);
    return { loss: r.losses[0] as number, grad_norm: ev.gradNorm, check_ms: ms, params: model.params.count() };
  } finally {
    await helper.close();
  }
}

async function time(dir: string, o: ChildOptions): Promise<OursTimes> {
  const model = modelFrom(dir, o.config);
  const { train: batch, ids } = examples(o.config);
  const helper = stepHelper();
  try {
    const opt = new AdamW({ ...ADAMW, helper });
    let stepMs = Number.NaN;
    const onEvent = (e: TrainEvent) => {
      if (e.kind === "step") stepMs = e.wallMs;
    };
    const samples: number[] = [];
    const steps: number[] = [];
    const warmup = o.warmup ?? 1;
    for (let i = 0; i < warmup + (o.reps ?? 3); i++) {
      const t0 = performance.now();
      await train(model, { train: batch }, oneStepConfig(), { optimizer: opt, onEvent });
      if (i < warmup) continue;
      samples.push(performance.now() - t0);
      steps.push(stepMs);
    }
    const breakdown =
      o.profile === true ? profiledStep(model, fromTyped(Int32Array.from(ids.flat()), [STEP.batch, STEP.seq], "i32"), opt) : null; // [batch, pos]
    return { samples_ms: samples, step_ms: steps, breakdown };
  } finally {
    await helper.close();
  }
}

async function main(): Promise<void> {
  const [mode, dir, opts] = process.argv.slice(2);
  if (!CHILD_MODES.includes(mode as TrainChildMode) || dir === undefined || opts === undefined) {
    throw new Error(`usage: train-child.ts <${CHILD_MODES.join("|")}> <folder> <options JSON>`);
  }
  const o = JSON.parse(opts) as ChildOptions;
  let out: unknown;
  if (mode === "check") out = await check(dir, o);
  else if (mode === "time") out = await time(dir, o);
  else {
    if (o.ours === undefined || o.peer === undefined) throw new Error("compare: options need ours and peer");
    out = compareStep(dir, o.ours, o.peer);
  }
  console.log(JSON.stringify(out));
  process.exit(0); // the onnxruntime worker is unref'd, but do not wait for anything else either
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
