// Section "methods": four interpretability methods of @llmdbg/methods on the GPT-2-small-shaped random model of the
// gpt2 section (the same weights builder and safetensors file), 64-token prompt, against the same methods written
// with PyTorch on the same weights (bench/peers/methods.py, TransformerLens-style hook points with torch's forward
// hooks):
//   ig     integrated gradients at the token embeddings, 50 steps of the Riemann trapezoid rule (both sides get
//          the same α_k and weights from `quadrature`), 10 interpolation points per batched forward + backward,
//          zero baseline, objective log p(fixed token | last position)
//   patch  activation patching of the residual stream before each block, 12 layers × 64 positions, logit
//          difference; ours restarts each patched run at the patched layer (`startAt`), torch's forward hooks
//          recompute every layer; both run the 64 positions of one layer 16 at a time as rows of one batch
//   shap   KernelSHAP with 256 coalitions (ours drawn by `kernelShap`'s seeded sampler, the same masks sent to the
//          peer), 32 masked inputs per forward; the peer evaluates the value function and solves the same least
//          squares
//   attr   attribution patching over every head's z: ours `activationPatching(method: "attribution", grid: "z")`,
//          torch one clean forward caching z and one corrupted forward + backward with tensor hooks on z
// Verify, then time: each method runs once on both sides (ours also warms up with it) and the results are compared
// at bounds set from the measured differences; only then is each side timed. A full sweep takes a minute or
// more, so the heavy rows take one timed run per side.
import { join } from "node:path";
import { run } from "@llmdbg/core";
import { writeSafetensors } from "@llmdbg/formats";
import { activationPatching, gradientAttribution, kernelShap, perturbationAttribution, quadrature } from "@llmdbg/methods";
import { gpt2, memoryWeights, normalizeHfConfig } from "@llmdbg/models";
import { noGrad, tensor } from "@llmdbg/tensor";
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
  readF64,
  row,
  runPeer,
  type SectionResult,
  sampleRun,
  spread,
  within,
} from "./common.js";
import { GPT2_SMALL_CONFIG, type Gpt2Shape, gpt2SmallWeights, tempFolder } from "./gpt2-weights.js";

const PROMPT = 64;
/** the token whose log-probability at the last position IG and SHAP attribute (any fixed id) */
const TARGET = 1000;
const IG = { steps: 50, rule: "riemann_trapezoid", batch: 10 } as const;
const PATCH_BATCH = 16;
const SHAP = { samples: 256, seed: 0, batch: 32, replacement: 0 } as const;

/**
 * Bounds, about 5–10× the differences measured on 2026-12-06 (GPT-2-small shape, 64 tokens; float32 through 12
 * layers in other summation orders, then float64 sums). A wrong op, weight, mask or cell moves them by far more.
 */
export const TOL = {
  /** IG scores: max |Δ| / max |score| (measured 2.2e-7) */
  igScores: 2e-6,
  /** f(input) and f(baseline), nats (measured 8.6e-7) */
  igF: 5e-6,
  /** the patching grid normalized by the clean − corrupted span: max |Δ| (measured 2.6e-6) */
  patch: 2e-5,
  /** SHAP scores: max |Δ| / max |score| (measured 2.8e-6; the least squares amplifies the value differences) */
  shap: 2e-5,
  /** attribution patching grid: max |Δ| / max |cell| (measured 9.4e-7) */
  attr: 1e-5,
} as const;

/** Fixed, spread-out token ids (those of the gpt2 section). */
export function tokenIds(n: number, vocab: number): number[] {
  return Array.from({ length: n }, (_, i) => (i * 7919 + 13) % vocab);
}

/** The corrupted prompt: every 8th token (from the 4th) replaced; the last position keeps its token. */
export function corruptIds(ids: readonly number[], vocab: number): number[] {
  return ids.map((v, i) => (i % 8 === 3 ? (v * 31 + 7) % vocab : v));
}

/** A keep-mask as a string of 0s and 1s (what the peer reads). */
export function maskString(m: Uint8Array): string {
  return Array.from(m, (b) => (b === 1 ? "1" : "0")).join("");
}

/**
 * The masks `perturbationAttribution(method: "shap")` evaluates, in its order: all kept, all masked, then the
 * coalitions `kernelShap` draws with this seed (its sampler is deterministic; the value function here records
 * them and returns zeros).
 */
export function shapMasks(n: number, samples: number, seed: number): Uint8Array[] {
  const seen: Uint8Array[] = [];
  kernelShap(
    n,
    (masks) => {
      seen.push(...masks.map((m) => Uint8Array.from(m)));
      return masks.map(() => 0);
    },
    { samples, seed },
  );
  return seen;
}

/**
 * A patching grid normalized as ours reports it, (m − corrupted) / (clean − corrupted), from a flat
 * [rows·cols] raw grid followed by the clean and corrupted metrics (the peer's output).
 */
export function normalizeGrid(flat: ArrayLike<number>): Float64Array {
  const n = flat.length - 2;
  const clean = flat[n] as number;
  const corrupted = flat[n + 1] as number;
  return Float64Array.from({ length: n }, (_, i) => ((flat[i] as number) - corrupted) / (clean - corrupted));
}

/** One method: our result (flat, as the peer writes it), the peer's spec, and how the two are compared. */
interface MethodBench {
  key: MethodBenchKey;
  name: string;
  spec: Record<string, unknown>;
  ours: () => Float64Array;
  compare: (ours: Float64Array, theirs: Float64Array) => Check;
  /** timed runs per side per round, and at most this many rounds */
  reps: number;
  maxRounds: number;
  note: string;
}

/** The methods section's rows, by key. */
export const METHOD_BENCH_KEYS = ["ig", "patch", "shap", "attr"] as const;
export type MethodBenchKey = (typeof METHOD_BENCH_KEYS)[number];

export interface MethodsOptions {
  /** the model's shape (default GPT-2 small); the bench's own development runs use a smaller one */
  shape?: Gpt2Shape & { readonly n_head: number };
  /** only these methods */
  only?: readonly MethodBenchKey[];
}

export function methodsSection(env: BenchEnv, opts: MethodsOptions = {}): SectionResult {
  const { threads } = env;
  const cfg = { ...GPT2_SMALL_CONFIG, ...(opts.shape ?? {}) };
  const V = cfg.vocab_size;
  const tmp = tempFolder("llmdbg-bench-methods-");
  try {
    let t0 = performance.now();
    const weights = gpt2SmallWeights(1234, cfg);
    const weightsFile = join(tmp.dir, "model.safetensors");
    writeSafetensors(weightsFile, weights);
    const model = gpt2(normalizeHfConfig(cfg, "config.json"), memoryWeights(weights), weightsFile);
    console.log(`methods: made and wrote the random model in ${(performance.now() - t0).toFixed(0)} ms`);

    const ids = tokenIds(PROMPT, V);
    const corrupted = corruptIds(ids, V);
    // answer and foil: the tokens whose logit the corruption moves most, up and down (a wide clean − corrupted span)
    const lastRow = (x: readonly number[]) => {
      const out = noGrad(() => run(model, tensor(x, [1, PROMPT], "i32"), { logits: "last" }).output); // [1, 1, d_vocab]
      return Float64Array.from(out.data);
    };
    const [c, k] = [lastRow(ids), lastRow(corrupted)];
    let answer = 0;
    let foil = 0;
    for (let v = 1; v < V; v++) {
      const d = (c[v] as number) - (k[v] as number);
      if (d > (c[answer] as number) - (k[answer] as number)) answer = v;
      if (d < (c[foil] as number) - (k[foil] as number)) foil = v;
    }
    const { alphas, weights: qw } = quadrature(IG.rule, IG.steps);
    const masks = shapMasks(PROMPT, SHAP.samples, SHAP.seed);
    const L = cfg.n_layer;
    const H = cfg.n_head;

    const benches: MethodBench[] = [
      {
        key: "ig",
        name: `integrated gradients, ${IG.steps} steps (trapezoid), batch ${IG.batch}, T=${PROMPT}`,
        spec: { ids, target: TARGET, position: PROMPT - 1, alphas, alpha_weights: qw, batch: IG.batch },
        ours: () => {
          const r = gradientAttribution(model, {
            kind: "attribution",
            method: "integrated_gradients",
            input: { ids },
            target: TARGET,
            objective: "logprob",
            position: -1,
            baseline: { kind: "zero" },
            ...IG,
          });
          return Float64Array.from([...r.scores, r.fInput, r.fBaseline ?? Number.NaN]);
        },
        compare: (o, t) =>
          allOf(
            within(
              "IG scores vs torch, max|Δ|/max|score|",
              maxRelDiff(o.subarray(0, PROMPT), t.subarray(0, PROMPT)),
              TOL.igScores,
            ),
            within("f(input), f(baseline) vs torch, max|Δ| nats", maxAbsDiff(o.subarray(PROMPT), t.subarray(PROMPT)), TOL.igF),
          ),
        reps: 1,
        maxRounds: 1,
        note: "zero baseline at hook_embed; both sides also run f(input) and f(baseline)",
      },
      {
        key: "patch",
        name: `activation patching resid_pre, ${L}×${PROMPT} cells, batch ${PATCH_BATCH}`,
        spec: { clean: ids, corrupted, answer, foil, batch: PATCH_BATCH },
        ours: () => {
          const r = activationPatching(model, {
            kind: "patch",
            clean: { ids },
            corrupted: { ids: corrupted },
            grid: "resid_pre",
            method: "activation",
            metric: "logit_diff",
            answer,
            foil,
            batch: PATCH_BATCH,
          });
          return Float64Array.from([...(r.raw ?? []).flat().map((m) => m ?? Number.NaN), r.cleanMetric, r.corruptedMetric]);
        },
        compare: (o, t) =>
          within(`${L}×${PROMPT} grid (normalized) vs torch, max|Δ|`, maxAbsDiff(normalizeGrid(o), normalizeGrid(t)), TOL.patch),
        reps: 1,
        maxRounds: 1,
        note: "ours restarts at layer l (startAt); torch hooks recompute all layers",
      },
      {
        key: "shap",
        name: `KernelSHAP, ${SHAP.samples} coalitions, batch ${SHAP.batch}, T=${PROMPT}`,
        spec: {
          ids,
          target: TARGET,
          position: PROMPT - 1,
          batch: SHAP.batch,
          replacement: SHAP.replacement,
          masks: masks.map(maskString),
        },
        ours: () => {
          const r = perturbationAttribution(model, {
            kind: "perturbation",
            method: "shap",
            input: { ids },
            target: TARGET,
            objective: "logprob",
            position: -1,
            replacement: SHAP.replacement,
            samples: SHAP.samples,
            seed: SHAP.seed,
            batch: SHAP.batch,
          });
          return Float64Array.from(r.scores);
        },
        compare: (o, t) => within("SHAP scores vs torch, max|Δ|/max|score|", maxRelDiff(o, t), TOL.shap),
        reps: 1,
        maxRounds: 1,
        note: `${masks.length} masked inputs (the same masks on both sides)`,
      },
      {
        key: "attr",
        name: `attribution patching z, ${L}×${H} heads, T=${PROMPT}`,
        spec: { clean: ids, corrupted, answer, foil },
        ours: () => {
          const r = activationPatching(model, {
            kind: "patch",
            clean: { ids },
            corrupted: { ids: corrupted },
            grid: "z",
            method: "attribution",
            metric: "logit_diff",
            answer,
            foil,
          });
          return Float64Array.from((r.attribution?.values ?? []).flat().map((v) => v ?? Number.NaN));
        },
        compare: (o, t) => within(`${L}×${H} grid vs torch, max|Δ|/max|cell|`, maxRelDiff(o, t), TOL.attr),
        reps: 3,
        maxRounds: env.rounds,
        note: "ours: clean + corrupted forward cached, corrupted forward + backward; torch: clean forward, corrupted forward + backward",
      },
    ];

    const th = findPython("torch");
    const rows: Row[] = [];
    for (const b of benches) {
      if (opts.only !== undefined && !opts.only.includes(b.key)) continue;
      const spec = (mode: "check" | "time", extra: Record<string, unknown> = {}) =>
        JSON.stringify({ mode, method: b.key, weights: weightsFile, config: cfg, threads, ...b.spec, ...extra });
      // ---- verify: ours once (also our warm-up), the peer once, compared
      t0 = performance.now();
      const ours = b.ours();
      const oursCheckMs = performance.now() - t0;
      let check: Check;
      let peerName = "torch";
      let peerCheckMs = Number.NaN;
      const out = join(tmp.dir, `${b.key}.f64`);
      const pc =
        "reason" in th ? { reason: th.reason } : runPeer(th.py, "methods.py", [spec("check", { out })], threads, 1_200_000);
      if ("reason" in pc) check = notRun(pc.reason);
      else {
        const j = pc.json as { peer: string; check_ms: number };
        peerName = `${j.peer} [${"py" in th ? th.py : ""}]`;
        peerCheckMs = j.check_ms;
        check = b.compare(ours, readF64(out));
      }
      console.log(
        `methods: ${b.key}: check runs ours ${oursCheckMs.toFixed(0)} ms, torch ${peerCheckMs.toFixed(0)} ms; ${check.ok ? check.detail : check.reason}`,
      );

      // ---- time what was verified
      const oursMs: number[] = [];
      const peerMs: number[] = [];
      const rounds = Math.min(env.rounds, b.maxRounds);
      for (let round = 0; check.ok && "py" in th && round < rounds; round++) {
        oursMs.push(...sampleRun(() => b.ours(), { warmup: 0, min_reps: b.reps, max_reps: b.reps, min_ms: 0 }));
        const r = runPeer(th.py, "methods.py", [spec("time", { reps: b.reps })], threads, 1_200_000);
        if ("reason" in r) {
          check = notRun(`torch timing run: ${r.reason}`);
          break;
        }
        peerMs.push(...(r.json as { samples_ms: number[] }).samples_ms);
      }
      rows.push(
        row({
          section: "methods",
          name: b.name,
          unit: "ms",
          peer: peerName,
          check,
          ours: median(oursMs),
          peer_value: median(peerMs),
          target: 1,
          note: `${b.note}; ours ${spread(oursMs)}, peer ${spread(peerMs)}`,
        }),
      );
    }
    return { rows };
  } finally {
    tmp.dispose();
  }
}
