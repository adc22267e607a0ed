// Benchmarks llmdbg against peers in the same run, at the same thread count, side by side:
//   kernels  matmuls vs NumPy; a GPT-2-small block forward and forward + backward vs PyTorch (kernels.ts)
//   gpt2     a whole GPT-2-small-shaped model: forward at 1/16/128 tokens, with every hook cached, and greedy
//            generation with the KV cache, vs PyTorch on the same weights (gpt2.ts)
//   load     loading that checkpoint (~500 MB F32) in a fresh process: time vs a plain file read, peak RSS vs
//            the weight bytes (load.ts)
//   methods  integrated gradients, a 12×64 residual-stream activation patching sweep, KernelSHAP and attribution
//            patching over every head on that model at 64 tokens, vs the same methods written with PyTorch
//            hooks on the same weights (methods.ts; about 8 minutes on 2 cores)
//   train    training throughput: one full step (forward, causal-LM loss, backward, clipping, AdamW) on 4 × 128
//            tokens, our train() against a PyTorch training loop on the same weights, each side in fresh
//            processes (train.ts, train-child.ts)
//   projector the web UI's Projector plot panning and zooming 100,000 points in headless Chromium (software
//            rendering): the mean frame interval against a 30 frames/s budget (projector.ts)
//   datasets the web UI's Datasets table: 10,000 rows with predictions scrolled in headless Chromium, the mean frame
//            interval against a 60 frames/s budget (datasets.ts)
//   ui       the web UI's latency in headless Chromium against issue 11's targets: page load to workbench
//            interactive, a live toggle, attention at 12 × 12 × 1,024 tokens (head, zoom, scroll) (ui.ts)
//   training-live what following a training run costs: recording its events live against the JSONL log, and a
//            page of a 100,000-step run's events as the server builds it (training-live.ts)
// Prints one table and writes bench/out/latest.json: an array of rows { section, name, unit, ours, peer,
// peer_value, ratio, target, met, verified, refused, note } where ratio > 1 means ours is worse (ours / peer for
// times and sizes, peer / ours for tokens/s) and target, when set, bounds the ratio.
//
// Verify, then time: before a row is timed, ours and its peer run once on the same inputs and their outputs are
// compared (products, logits, gradients, loss, generated tokens, loaded weights) at bounds set from measured
// differences; `verified` says what agreed and by how much. A row whose check failed or could not run (no
// Python, no torch, a crashed peer) is not timed and carries no figures, only `refused`: why. Any refused row
// makes the run exit 1.
//
//   npm run bench:setup           # once: installs PyTorch (Debian python3-torch)
//   npm run bench                 # every section (about 25 minutes on 2 cores)
//   npm run bench -- gpt2 load    # only these sections
//   npm run bench -- methods:shap,attr   # only these rows of the methods section
//
// Each timing is the median of many repetitions after warm-up, in `rounds` rounds alternating ours and the
// peer (samples pooled), so that a burst of load on a noisy machine hits both sides.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { OrtBackend, useBackend } from "@llmdbg/tensor";
import { type BenchEnv, outDir, printTable, type Row, type SectionResult } from "./common.js";
import { datasetsSection } from "./datasets.js";
import { gpt2Section } from "./gpt2.js";
import { kernelsSection } from "./kernels.js";
import { loadSection } from "./load.js";
import { METHOD_BENCH_KEYS, type MethodBenchKey, type MethodsOptions, methodsSection } from "./methods.js";
import { projectorSection } from "./projector.js";
import { trainSection } from "./train.js";
import { trainingLiveSection } from "./training-live.js";
import { uiSection } from "./ui.js";

// train runs first: both of its sides run in child processes, and what the sections before it would leave in
// this process (models, caches) slows them, torch's memory-bound phases the most
const sections: { readonly [name: string]: (env: BenchEnv) => SectionResult | Promise<SectionResult> } = {
  train: trainSection,
  kernels: kernelsSection,
  gpt2: gpt2Section,
  load: loadSection,
  methods: methodsSection,
  "training-live": trainingLiveSection,
  projector: projectorSection,
  datasets: datasetsSection,
  ui: uiSection,
};

async function main(): Promise<void> {
  // `methods:shap,attr` runs only those rows of the methods section (ig | patch | shap | attr)
  const parts = new Map<string, MethodsOptions>();
  const args = process.argv.slice(2).map((a) => {
    const m = /^methods:(.+)$/.exec(a);
    if (m === null) return a;
    const only = (m[1] as string).split(",") as MethodBenchKey[];
    const bad = only.filter((k) => !METHOD_BENCH_KEYS.includes(k));
    if (bad.length > 0) throw new Error(`unknown methods row(s) ${bad.join(", ")}: one of ${METHOD_BENCH_KEYS.join(", ")}`);
    parts.set("methods", { only });
    return "methods";
  });
  const unknown = args.filter((a) => !Object.hasOwn(sections, a));
  if (unknown.length > 0) {
    console.error(`unknown section(s) ${unknown.join(", ")}; usage: npm run bench [-- ${Object.keys(sections).join(" | ")} ...]`);
    process.exitCode = 2;
    return;
  }
  const chosen = args.length > 0 ? [...new Set(args)] : Object.keys(sections);

  // throws BackendUnavailableError when onnxruntime cannot load: a benchmark of the ref backend means nothing
  const be = useBackend("ort");
  if (!(be instanceof OrtBackend)) throw new Error("bench: the ort backend is not an OrtBackend");
  const threads = be.threads;
  const beDesc = `ort (onnxruntime ${be.version}, ${threads} threads)`;
  console.log(`llmdbg bench — node ${process.version}, ${cpus()[0]?.model ?? "unknown CPU"} × ${cpus().length}`);
  console.log(`ours: backend ${beDesc}; peers run at ${threads} thread(s); sections: ${chosen.join(", ")}`);
  const tuned = ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"].filter((k) => process.env[k]);
  console.log(
    tuned.length > 0
      ? `glibc malloc tuning (inherited by the peers too): ${tuned.map((k) => `${k}=${process.env[k]}`).join(" ")}`
      : "no glibc malloc tuning: run through `npm run bench`, or large allocations pay page faults on every op",
  );
  const env: BenchEnv = { threads, rounds: 2 };
  console.log(`${env.rounds} rounds alternating ours and peer; medians of all timed repetitions after warm-up\n`);

  const rows: Row[] = [];
  for (const name of chosen) {
    const t0 = performance.now();
    console.log(`== ${name} (load average ${loadavg()[0]?.toFixed(2)})`);
    const opts = parts.get(name);
    const r =
      opts !== undefined
        ? methodsSection(env, opts)
        : await (sections[name] as (env: BenchEnv) => SectionResult | Promise<SectionResult>)(env);
    rows.push(...r.rows);
    console.log(
      `== ${name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s (load average ${loadavg()[0]?.toFixed(2)})\n`,
    );
  }

  printTable(rows);
  console.log("\nratio > 1: ours is worse (ours/peer for ms and MiB, peer/ours for tok/s); target bounds the ratio");

  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, "latest.json");
  writeFileSync(file, `${JSON.stringify(rows, null, 2)}\n`);
  console.log(`wrote ${file}`);
  const missed = rows.filter((r) => r.met === false).map((r) => r.name);
  if (missed.length > 0) console.log(`targets missed: ${missed.join("; ")}`);
  const refused = rows.filter((r) => r.refused !== null);
  if (refused.length > 0) {
    console.error(`\nREFUSED — rows with no figures, because what they would time was not verified:`);
    for (const r of refused) console.error(`  ${r.name}: ${r.refused}`);
    process.exitCode = 1;
  }
}

await main();
