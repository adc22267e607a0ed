// Section "train": training throughput of the GPT-2-small-shaped random model of the gpt2 section (the same
// weights builder) on a fixed batch of 4 × 128 token ids, one full step = forward, causal-LM loss (mean next-token
// cross-entropy over the 4·127 targets), backward to every parameter, global-norm clipping at 1.0 and AdamW
// (lr 1e-4, betas 0.9/0.999, eps 1e-8, decoupled weight decay 0.01 on the parameters of rank ≥ 2, none on biases
// and norm weights), against PyTorch CPU doing the same step on the same weights (bench/peers/train.py:
// zero_grad, forward, F.cross_entropy, backward, clip_grad_norm_, torch.optim.AdamW with two param groups,
// loss.item()). No dropout on either side.
//
// Ours is the product's trainer itself: each timed step is one `train()` call of one step (maxSteps 1, constant
// schedule, no shuffling) with the AdamW instance passed in, so its state carries over from call to call. That
// step is everything train() does: collate, run() with `grads.params` (all parameters) and causalLmObjective, the
// finite checks, the per-parameter sums of squares (the global norm, and the per-layer gradient norms of the step
// event), the clipping coefficient, AdamW (which scales each gradient by it as it reads it, and sums ‖Δw‖² and
// ‖w‖² for the update ratios) and the step event; one yield to the event loop per call is timed too.
//
// Both sides run in fresh processes, never beside each other (bench/train-child.ts says why: on this VM a process
// holding a few GB slows the other's memory-bound phases). Verify, then time: one step from the same weights on
// fresh optimizer state on both sides (ours writes the model file first), then a third process compares
//   - the loss; the gradient norm before clipping against torch's gradients summed in float64, and against
//     clip_grad_norm_'s own value (float32 sums, ~7e-5 off, which then scales torch's clipped gradients),
//   - the gradients, parameter by parameter (max |Δ| / max |g|, the worst parameter), each side's clipped gradient
//     divided by its own clipping coefficient,
//   - our AdamW applied to torch's clipped gradients against torch's updated parameters (the update rule alone),
//   - the updated parameters of the two full steps (max |Δ| as a fraction of lr: a gradient entry at float noise
//     could take the other sign and move by up to 2·lr; and ‖Δ‖ over ‖the update‖).
// Only then are both timed, in rounds that alternate which side goes first; per round each side is a fresh
// process that loads the weights, takes WARMUP untimed steps (fresh optimizer state; both sides' allocators and
// caches settle over the first few) and then `reps` timed ones. A step takes seconds, so a few per side per round.
// Our last round then profiles one more step phase by phase (forward + loss, backward, gradient norm, AdamW with
// clipping; profileOps for the forward/backward split); the row's note carries it, and torch's step split the same
// way (train.py reads the clock between its phases).
import { join } from "node:path";
import {
  type BenchEnv,
  type Check,
  findPython,
  median,
  notRun,
  type Row,
  row,
  runChild,
  runPeer,
  type SectionResult,
  spread,
} from "./common.js";
import { GPT2_SMALL_CONFIG, type Gpt2Shape, tempFolder } from "./gpt2-weights.js";
import {
  batchIds,
  type ChildOptions,
  type OursCheck,
  type OursTimes,
  type PeerCheck,
  type PeerTimes,
  STEP,
  type TrainChildMode,
} from "./train-child.js";

/** Untimed steps per side per round, before the timed ones (ours settles by the third: page faults fall ~4×). */
const WARMUP = 3;

export interface TrainBenchOptions {
  /** the model's shape (default GPT-2 small); the bench's own development runs use a smaller one */
  shape?: Gpt2Shape & { readonly n_head: number };
  /** timed steps per side per round (default 3) */
  reps?: number;
}

/** One bench/train-child.ts process (its log lines echoed). */
function runOurs(mode: TrainChildMode, dir: string, opts: ChildOptions): { json: unknown } | { reason: string } {
  return runChild("train-child.ts", [mode, dir, JSON.stringify(opts)], 600_000, true);
}

export async function trainSection(env: BenchEnv, opts: TrainBenchOptions = {}): Promise<SectionResult> {
  const { threads } = env;
  const config = { ...GPT2_SMALL_CONFIG, ...(opts.shape ?? {}) };
  const reps = opts.reps ?? 3;
  const tokens = STEP.batch * STEP.seq;
  const tmp = tempFolder("llmdbg-bench-train-");
  try {
    // ---- verify: one step from the weights on fresh optimizer state, both sides, then a comparison
    const oc = runOurs("check", tmp.dir, { config });
    const th = findPython("torch");
    let check: Check;
    let peerName = "torch";
    let params = 0;
    let checkMs = "";
    if ("reason" in oc) check = notRun(oc.reason);
    else if ("reason" in th) check = notRun(th.reason);
    else {
      const ours = oc.json as OursCheck;
      params = ours.params;
      const spec = JSON.stringify({ mode: "check", out_dir: tmp.dir, ...peerSpec(tmp.dir, config, threads) });
      const pc = runPeer(th.py, "train.py", [spec], threads);
      if ("reason" in pc) check = notRun(pc.reason);
      else {
        const peer = pc.json as PeerCheck;
        peerName = `${peer.peer} [${th.py}]`;
        checkMs = `check step ours ${ours.check_ms.toFixed(0)} ms, torch ${peer.check_ms.toFixed(0)} ms; `;
        const cc = runOurs("compare", tmp.dir, { config, ours, peer });
        check = "reason" in cc ? notRun(cc.reason) : (cc.json as Check);
      }
    }
    console.log(`train: ${checkMs}${check.ok ? check.detail : check.reason}`);

    // ---- time what was verified: each side fresh per round, the order alternating
    const oursMs: number[] = [];
    const oursStepMs: number[] = [];
    const peerMs: number[] = [];
    const peerPhases: PeerTimes["phases_ms"][] = [];
    let b: OursTimes["breakdown"] = null;
    for (let round = 0; check.ok && "py" in th && round < env.rounds; round++) {
      const last = round === env.rounds - 1;
      const sides = round % 2 === 0 ? (["ours", "peer"] as const) : (["peer", "ours"] as const);
      const line: string[] = [];
      for (const side of sides) {
        if (side === "ours") {
          const r = runOurs("time", tmp.dir, { config, warmup: WARMUP, reps, profile: last });
          if ("reason" in r) {
            check = notRun(`our timing run: ${r.reason}`);
            break;
          }
          const t = r.json as OursTimes;
          oursMs.push(...t.samples_ms);
          oursStepMs.push(...t.step_ms);
          b = t.breakdown ?? b;
          line.push(`ours ${t.samples_ms.map((x) => x.toFixed(0))} ms`);
        } else {
          const spec = JSON.stringify({ mode: "time", warmup: WARMUP, reps, ...peerSpec(tmp.dir, config, threads) });
          const r = runPeer(th.py, "train.py", [spec], threads, 600_000);
          if ("reason" in r) {
            check = notRun(`torch timing run: ${r.reason}`);
            break;
          }
          peerMs.push(...(r.json as PeerTimes).samples_ms);
          peerPhases.push((r.json as PeerTimes).phases_ms);
          line.push(`torch ${(r.json as PeerTimes).samples_ms.map((x) => x.toFixed(0))} ms`);
        }
      }
      console.log(`train: round ${round + 1}: ${line.join(", ")}`);
    }
    if (b !== null) console.log(`train: profiled step ${JSON.stringify(b)}`);

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
    const how = `each side in a fresh process per round, ${WARMUP} untimed steps then ${reps} timed`;
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
        note: `one train() call of one step per sample (forward, loss, backward to all ${params} weights, clip, AdamW, telemetry); ${how}; ours ${spread(oursMs)} ms, peer ${spread(peerMs)} ms`,
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
    tmp.dispose();
  }
}

/** What bench/peers/train.py reads beside its mode: the same weights, batch and hyperparameters as ours. */
function peerSpec(dir: string, config: ChildOptions["config"], threads: number): Record<string, unknown> {
  return {
    weights: join(dir, "model.safetensors"),
    config,
    threads,
    ids: batchIds(STEP.batch, STEP.seq, config.vocab_size),
    lr: STEP.lr,
    betas: STEP.betas,
    eps: STEP.eps,
    weight_decay: STEP.weightDecay,
    clip: STEP.clip,
  };
}
