// Section "train": training throughput of the GPT-2-small-shaped random model of the gpt2 section (the same
// weights builder and safetensors file) on a fixed batch of 4 × 128 token ids, one full step = forward, causal-LM
// loss (mean next-token cross-entropy over the 4·127 targets), backward to every parameter, global-norm clipping at
// 1.0 and AdamW (lr 1e-4, betas 0.9/0.999, eps 1e-8, decoupled weight decay 0.01 on the parameters of rank ≥ 2,
// none on biases and norm weights), against PyTorch CPU doing the same step on the same weights
// (bench/peers/train.py: zero_grad, forward, F.cross_entropy, backward, clip_grad_norm_, torch.optim.AdamW with
// two param groups, loss.item()). No dropout on either side.
//
// Ours is the product's trainer itself: each timed step is one `train()` call of one step (maxSteps 1, constant
// schedule, no shuffling) with the AdamW instance passed in, so its state carries over from call to call. That
// step is everything train() does: collate, run() with `grads.params` (all parameters) and causalLmObjective, the
// finite checks, the per-parameter sums of squares (the global norm, and the per-layer gradient norms of the step
// event), the clipping coefficient, AdamW (which scales each gradient by it as it reads it, and sums ‖Δw‖² and
// ‖w‖² for the update ratios) and the step event; one yield to the event loop per call is timed too.
//
// Verify, then time: one step from the same weights on fresh optimizer state on both sides, then
//   - the loss; the gradient norm before clipping against torch's gradients summed in float64, and against
//     clip_grad_norm_'s own value (float32 sums, ~7e-5 off, which then scales torch's clipped gradients),
//   - the gradients, parameter by parameter (max |Δ| / max |g|, the worst parameter), each side's clipped gradient
//     divided by its own clipping coefficient,
//   - our AdamW applied to torch's clipped gradients against torch's updated parameters (the update rule alone),
//   - the updated parameters of the two full steps (max |Δ| as a fraction of lr: a gradient entry at float noise
//     could take the other sign and move by up to 2·lr; and ‖Δ‖ over ‖the update‖).
// Only then are both timed, in alternating rounds (ours in this process, warm; the peer in a fresh process per
// round, after one untimed step that creates AdamW's state). A step takes seconds, so a few per side per round.
// After timing, one more step of ours, written out as train() runs it, is profiled phase by phase (forward + loss,
// backward, gradient norm, AdamW with clipping) with profileOps for the forward/backward split; the row's note
// carries the breakdown, and torch's step split the same way (train.py reads the clock between its phases).
import { join } from "node:path";
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
  type WorkerStepHelper,
} from "@llmdbg/train";
import {
  allOf,
  type BenchEnv,
  type Check,
  findPython,
  maxAbsDiff,
  maxRelDiff,
  median,
  notRun,
  type Row,
  row,
  runPeer,
  type SectionResult,
  spread,
  within,
} from "./common.js";
import { GPT2_SMALL_CONFIG, type Gpt2Shape, gpt2SmallWeights, tempFolder } from "./gpt2-weights.js";

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
interface PeerCheck {
  peer: string;
  loss: number;
  /** clip_grad_norm_'s (float32 sums) */
  grad_norm: number;
  grad_norm_f64: number;
  check_ms: number;
}

interface PeerTimes {
  peer: string;
  samples_ms: number[];
  losses: number[];
  /** medians over the round's timed steps: forward + loss, backward, clipping, AdamW */
  phases_ms: [number, number, number, number];
}

/** One step of ours as train() takes it, phase by phase (ms). */
interface Breakdown {
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
 * Our check step against the peer's (its clipped gradients and updated parameters in `dir`), parameter by
 * parameter so that no second model is held: see the header for what is compared.
 */
function compareStep(
  dir: string,
  initial: ReturnType<typeof readSafetensors>,
  ours: ReadonlyMap<string, Float32Array>,
  model: HookedModel,
  loss: number,
  gradNorm: number,
  j: PeerCheck,
): Check {
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
    const g = ours.get(name);
    const gd = g === undefined ? Number.POSITIVE_INFINITY : scaledRelDiff(g, cOurs, gT, cTorch);
    if (!(gd <= gradWorst)) [gradWorst, gradWorstName] = [gd, name];
    // the update rule alone: our AdamW, fresh, on torch's clipped gradient of this parameter
    const one = new Map([[name, w0]]);
    new AdamW(ADAMW).step(mapParams(one), new Map([[name, gT]]), STEP.lr);
    const ad = maxRelDiff(pT, (one.get(name) as Tensor).data);
    if (!(ad <= adamWorst)) [adamWorst, adamWorstName] = [ad, name];
    const p1 = model.params.get(name).data;
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

export interface TrainBenchOptions {
  /** the model's shape (default GPT-2 small); the bench's own development runs use a smaller one */
  shape?: Gpt2Shape & { readonly n_head: number };
  /** timed steps per side per round (default 3) */
  reps?: number;
}

export async function trainSection(env: BenchEnv, opts: TrainBenchOptions = {}): Promise<SectionResult> {
  const { threads } = env;
  const cfg = { ...GPT2_SMALL_CONFIG, ...(opts.shape ?? {}) };
  const reps = opts.reps ?? 3;
  const tokens = STEP.batch * STEP.seq;
  const tmp = tempFolder("llmdbg-bench-train-");
  let helper: WorkerStepHelper | undefined;
  try {
    let t0 = performance.now();
    const weightsFile = join(tmp.dir, "model.safetensors");
    writeSafetensors(weightsFile, gpt2SmallWeights(1234, cfg));
    // the model's weights come from the file (the record written is dropped: the check re-reads the file)
    const initial = readSafetensors(weightsFile);
    const weights: Record<string, Tensor> = {};
    for (const name of initial.keys()) weights[name] = initial.load(name);
    const model = gpt2(normalizeHfConfig(cfg, "config.json"), memoryWeights(weights), weightsFile);
    console.log(`train: made and wrote the random model in ${(performance.now() - t0).toFixed(0)} ms`);

    const rowsIds = batchIds(STEP.batch, STEP.seq, cfg.vocab_size);
    const data = { train: rowsIds.map((ids): Example => ({ ids })) };
    const config = oneStepConfig();
    // the optimizer's second thread, as llmdbg train gives it (the same update, bit for bit: helper.test.ts)
    helper = stepHelper();
    const opt = new AdamW({ ...ADAMW, helper });
    let stepMs = Number.NaN;
    const onEvent = (e: TrainEvent) => {
      if (e.kind === "step") stepMs = e.wallMs;
    };
    let stepEvent: Extract<TrainEvent, { kind: "step" }> | null = null;

    // ---- verify: one step from the weights on fresh optimizer state, both sides
    const rec = recording(opt);
    t0 = performance.now();
    const first = await train(model, data, config, {
      optimizer: rec.opt,
      onEvent: (e) => {
        if (e.kind === "step") stepEvent = e;
      },
    });
    const oursCheckMs = performance.now() - t0;
    const th = findPython("torch");
    let check: Check;
    let peerName = "torch";
    let peerCheckMs = Number.NaN;
    const spec = (mode: "check" | "time", extra: Record<string, unknown> = {}) =>
      JSON.stringify({
        mode,
        weights: weightsFile,
        config: cfg,
        threads,
        ids: rowsIds,
        lr: STEP.lr,
        betas: STEP.betas,
        eps: STEP.eps,
        weight_decay: STEP.weightDecay,
        clip: STEP.clip,
        ...extra,
      });
    const pc =
      "reason" in th ? { reason: th.reason } : runPeer(th.py, "train.py", [spec("check", { out_dir: tmp.dir })], threads);
    const ev = stepEvent as Extract<TrainEvent, { kind: "step" }> | null;
    if ("reason" in pc) check = notRun(pc.reason);
    else if (ev === null) check = notRun(`our step emitted no step event (${first.reason})`);
    else {
      const j = pc.json as PeerCheck;
      peerName = `${j.peer} [${"py" in th ? th.py : ""}]`;
      peerCheckMs = j.check_ms;
      check = compareStep(tmp.dir, initial, rec.grads(), model, first.losses[0] as number, ev.gradNorm, j);
      rec.forget();
    }
    console.log(
      `train: check step ours ${oursCheckMs.toFixed(0)} ms, torch ${peerCheckMs.toFixed(0)} ms; ${check.ok ? check.detail : check.reason}`,
    );

    // ---- time what was verified: ours warm in this process, the peer fresh per round after one untimed step
    const oursMs: number[] = [];
    const oursStepMs: number[] = [];
    const peerMs: number[] = [];
    const peerPhases: PeerTimes["phases_ms"][] = [];
    const oursStep = async () => {
      const ts = performance.now();
      await train(model, data, config, { optimizer: opt, onEvent });
      return performance.now() - ts;
    };
    for (let round = 0; check.ok && "py" in th && round < env.rounds; round++) {
      if (round === 0) await oursStep(); // a second warm step (the check step was the first)
      for (let i = 0; i < reps; i++) {
        oursMs.push(await oursStep());
        oursStepMs.push(stepMs);
      }
      const r = runPeer(th.py, "train.py", [spec("time", { warmup: 1, reps })], threads, 600_000);
      if ("reason" in r) {
        check = notRun(`torch timing run: ${r.reason}`);
        break;
      }
      peerMs.push(...(r.json as PeerTimes).samples_ms);
      peerPhases.push((r.json as PeerTimes).phases_ms);
      console.log(
        `train: round ${round + 1}: ours ${oursMs.slice(-reps).map((x) => x.toFixed(0))} ms, torch ${(r.json as PeerTimes).samples_ms.map((x) => x.toFixed(0))} ms`,
      );
    }

    let b: Breakdown | null = null;
    if (check.ok && oursMs.length > 0) {
      const ids = fromTyped(Int32Array.from(rowsIds.flat()), [STEP.batch, STEP.seq], "i32"); // [batch, pos]
      b = profiledStep(model, ids, opt);
      console.log(`train: profiled step ${JSON.stringify(b)}`);
    }
    const oursMed = median(oursMs);
    const peerMed = median(peerMs);
    const breakdown =
      b === null
        ? ""
        : `; one step of ours profiled: ${b.total.toFixed(0)} ms = forward + loss ${b.forward.toFixed(0)}, backward ${b.backward.toFixed(0)}, ` +
          `run glue ${(b.run - b.forward - b.backward).toFixed(0)}, grad norm ${b.norm.toFixed(0)}, ` +
          `AdamW ${b.adamw.toFixed(0)} (forward by op: ${b.topForward}; backward by rule: ${b.topBackward})`;
    const phase = (i: number) => median(peerPhases.map((p) => p[i] as number)).toFixed(0);
    const peerBreakdown =
      peerPhases.length === 0
        ? ""
        : `; torch's step by phase (medians): forward + loss ${phase(0)}, backward ${phase(1)}, clip ${phase(2)}, AdamW ${phase(3)}`;
    const rows: Row[] = [
      row({
        section: "train",
        name: `train step GPT-2-small ${STEP.batch}×${STEP.seq} tokens, AdamW + clip (tokens/s)`,
        unit: "tok/s",
        peer: peerName,
        check,
        ours: tokens / (oursMed / 1000),
        peer_value: tokens / (peerMed / 1000),
        target: 1,
        higherIsBetter: true,
        note: `one train() call of one step per sample (forward, loss, backward to all ${model.params.count()} weights, clip, AdamW, telemetry); ours ${spread(oursMs)} ms, peer ${spread(peerMs)} ms`,
      }),
      row({
        section: "train",
        name: "— step time",
        unit: "ms",
        peer: peerName,
        check,
        ours: oursMed,
        peer_value: peerMed,
        note: `train()'s own step wallMs median ${median(oursStepMs).toFixed(0)} ms${breakdown}${peerBreakdown}`,
      }),
    ];
    return { rows };
  } finally {
    await helper?.close();
    tmp.dispose();
  }
}
