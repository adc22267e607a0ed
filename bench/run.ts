// Benchmarks @llmdbg/tensor against NumPy (matmuls) and PyTorch CPU (a GPT-2-small-shaped block, forward and
// forward + backward) in the same run, at the same thread count. Prints a table and writes bench/out/latest.json:
// [{ name, ours_ms, peer, peer_ms, ratio }] with ratio = ours / peer (lower is better); a missing peer gives
// peer_ms = ratio = null and a printed reason.
//
//   npm run bench:setup   # once: installs PyTorch (Debian python3-torch)
//   npm run bench
//
// Each measurement takes the median of many timed repetitions after warm-up runs, and runs in ROUNDS rounds
// alternating ours and the peer (samples pooled), so that a burst of load on a noisy machine hits both sides.
import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { matmul, OrtBackend, randn, type Tensor, useBackend } from "@llmdbg/tensor";
import {
  BLOCK_CONFIG,
  blockForward,
  blockLossAndGrads,
  makeBlockInputs,
  makeBlockParams,
  saveBlockCase,
} from "../packages/tensor/examples/block.js";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, "out");
const ROUNDS = 2;

interface Row {
  name: string;
  ours_ms: number;
  peer: string;
  peer_ms: number | null;
  ratio: number | null;
}

/** What bench/peers/block.py prints. */
interface TorchResult {
  peer: string;
  forward_samples_ms: number[];
  fwd_bwd_samples_ms: number[];
  loss: number;
  ours_loss: number | null;
  /** sum(|resid_post * R|), the scale of the rounding error in the loss */
  loss_scale: number;
  resid_post_rel_err: number;
  grad_rel_err_max: number;
  grad_rel_err_worst: string;
}

interface Timing {
  warmup: number;
  min_reps: number;
  max_reps: number;
  min_ms: number;
}

/** Per round and per measurement; with ROUNDS = 2 the whole bench takes about a minute on 2 cores. */
const MATMUL_TIMING: Timing = { warmup: 10, min_reps: 30, max_reps: 2000, min_ms: 1200 };
const BLOCK_TIMING: Timing = { warmup: 3, min_reps: 10, max_reps: 500, min_ms: 3500 };

function sampleRun(fn: () => void, t: Timing): number[] {
  for (let i = 0; i < t.warmup; i++) fn();
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < t.max_reps && (samples.length < t.min_reps || performance.now() - start < t.min_ms)) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  return samples;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

// ---------------------------------------------------------------- python peers

function tryPython(py: string, module: string): boolean {
  const r = spawnSync(py, ["-c", `import ${module}`], { stdio: "ignore" });
  return r.status === 0;
}

/** The first interpreter that can import `module`: $PYTHON, the python3 on PATH, then Debian's /usr/bin/python3. */
function findPython(module: string): { py: string } | { reason: string } {
  const candidates = [...new Set([process.env.PYTHON, "python3", "/usr/bin/python3"].filter((p): p is string => !!p))];
  for (const py of candidates) if (tryPython(py, module)) return { py };
  const hint = module === "torch" ? "; run `npm run bench:setup`" : "";
  return { reason: `none of ${candidates.join(", ")} can import ${module}${hint}` };
}

/** Runs a peer script; returns its last stdout line parsed as JSON, or a reason. */
function runPeer(py: string, script: string, args: string[], threads: number): { json: unknown } | { reason: string } {
  const t = String(threads);
  const env = { ...process.env, OPENBLAS_NUM_THREADS: t, OMP_NUM_THREADS: t, MKL_NUM_THREADS: t };
  const r: SpawnSyncReturns<string> = spawnSync(py, [join(here, "peers", script), ...args], {
    env,
    encoding: "utf8",
    maxBuffer: 64 << 20,
    timeout: 300_000,
  });
  if (r.error) return { reason: `${py} ${script}: ${r.error.message}` };
  if (r.status !== 0) {
    const err = (r.stderr || r.stdout).trim().split("\n").slice(-3).join(" | ");
    return { reason: `${py} ${script} exited with ${r.status ?? r.signal}: ${err}` };
  }
  const last = r.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return { json: JSON.parse(last) };
  } catch {
    return { reason: `${py} ${script}: unparsable output: ${last.slice(0, 200)}` };
  }
}

// ---------------------------------------------------------------- table

const fmtMs = (ms: number | null): string => (ms === null ? "—" : ms < 10 ? ms.toFixed(3) : ms.toFixed(2));
const gflops = (flops: number, ms: number | null): string => (ms === null ? "—" : (flops / ms / 1e6).toFixed(1));

function printTable(rows: Row[], flops: Map<string, number>): void {
  const head = ["benchmark", "ours ms", "peer ms", "ratio", "ours GFLOP/s", "peer GFLOP/s", "peer"];
  const body = rows.map((r) => {
    const f = flops.get(r.name) ?? 0;
    return [
      r.name,
      fmtMs(r.ours_ms),
      fmtMs(r.peer_ms),
      r.ratio === null ? "—" : r.ratio.toFixed(2),
      gflops(f, r.ours_ms),
      gflops(f, r.peer_ms),
      r.peer,
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join("  ");
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const b of body) console.log(line(b));
}

// ---------------------------------------------------------------- main

function main(): void {
  const be = useBackend("ort");
  const threads = be instanceof OrtBackend ? be.threads : 1;
  const beDesc =
    be instanceof OrtBackend ? `ort (onnxruntime ${be.version}, ${threads} threads)` : "ref (onnxruntime unavailable)";
  console.log(`llmdbg bench — node ${process.version}, ${cpus()[0]?.model ?? "unknown CPU"} × ${cpus().length}`);
  console.log(`ours: backend ${beDesc}; peers run at ${threads} thread(s); load average ${loadavg()[0]?.toFixed(2)}`);
  const tuned = ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"].filter((k) => process.env[k]);
  console.log(
    tuned.length > 0
      ? `glibc malloc tuning (inherited by the peers too): ${tuned.map((k) => `${k}=${process.env[k]}`).join(" ")}`
      : "no glibc malloc tuning: run through `npm run bench`, or large allocations pay page faults on every op",
  );
  console.log(`${ROUNDS} rounds alternating ours and peer; medians of all timed repetitions after warm-up\n`);

  const rows: Row[] = [];
  const flops = new Map<string, number>();

  // ---- matmuls vs NumPy
  const cases = [
    { name: "matmul 128x768 · 768x3072", batch: 1, M: 128, K: 768, N: 3072 },
    { name: "matmul 128x768 · 768x768", batch: 1, M: 128, K: 768, N: 768 },
    { name: "matmul 12x[128x64 · 64x128]", batch: 12, M: 128, K: 64, N: 128 },
  ];
  const operands = cases.map((c, i) => {
    const lead = c.batch > 1 ? [c.batch] : [];
    const a = randn([...lead, c.M, c.K], 10 + i); // [batch?, M, K]
    const b = randn([...lead, c.K, c.N], 20 + i); // [batch?, K, N]
    flops.set(c.name, 2 * c.batch * c.M * c.K * c.N);
    return { a, b };
  });
  const oursMm = cases.map((): number[] => []);
  const peerMm = cases.map((): number[] => []);
  let npPeer = "numpy";
  let npSkip: string | null = null;
  const np = findPython("numpy");
  if ("reason" in np) npSkip = np.reason;
  for (let round = 0; round < ROUNDS; round++) {
    cases.forEach((_, i) => {
      const { a, b } = operands[i] as { a: Tensor; b: Tensor };
      oursMm[i]?.push(...sampleRun(() => matmul(a, b), MATMUL_TIMING)); // [batch?, M, N] per call
    });
    if (npSkip === null && "py" in np) {
      const r = runPeer(np.py, "matmul.py", [JSON.stringify({ cases, ...MATMUL_TIMING })], threads);
      if ("reason" in r) npSkip = r.reason;
      else {
        const j = r.json as { peer: string; results: { name: string; samples_ms: number[] }[] };
        npPeer = `${j.peer} [${np.py}]`;
        j.results.forEach((res, i) => {
          peerMm[i]?.push(...res.samples_ms);
        });
      }
    }
  }
  if (npSkip !== null) console.log(`numpy peer skipped: ${npSkip}`);
  cases.forEach((c, i) => {
    const ours = median(oursMm[i] ?? []);
    const peer = npSkip === null ? median(peerMm[i] ?? []) : null;
    rows.push({
      name: c.name,
      ours_ms: ours,
      peer: npSkip === null ? npPeer : `numpy (skipped: ${npSkip})`,
      peer_ms: peer,
      ratio: peer === null ? null : ours / peer,
    });
  });

  // ---- transformer block vs PyTorch
  const { T, dModel: D, nHeads: H, dHead: Dh, dMlp: F } = BLOCK_CONFIG;
  const fwdFlops = 2 * T * (D * 3 * D + D * D + 2 * D * F) + 2 * 2 * H * T * T * Dh;
  const fwdName = `block fwd (T=${T}, GPT-2 small)`;
  const bwdName = `block fwd+bwd (T=${T}, GPT-2 small)`;
  flops.set(fwdName, fwdFlops);
  flops.set(bwdName, 3 * fwdFlops);
  const params = makeBlockParams(1); // GPT-2 small block weights, see makeBlockParams
  const inputs = makeBlockInputs(1); // x, R: [1, pos, d_model]
  const ref = blockLossAndGrads(params, inputs.x, inputs.R); // loss, grads shaped like x and the weights
  const residPost = blockForward(params, inputs.x); // [batch, pos, d_model]
  const caseFile = saveBlockCase(outDir, "block", params, inputs, { residPost, grads: ref });
  const oursFwd: number[] = [];
  const oursBwd: number[] = [];
  const peerFwd: number[] = [];
  const peerBwd: number[] = [];
  let thPeer = "torch";
  let thSkip: string | null = null;
  let check: TorchResult | null = null;
  const th = findPython("torch");
  if ("reason" in th) thSkip = th.reason;
  for (let round = 0; round < ROUNDS; round++) {
    oursFwd.push(...sampleRun(() => blockForward(params, inputs.x), BLOCK_TIMING)); // [1, pos, d_model] per call
    oursBwd.push(...sampleRun(() => blockLossAndGrads(params, inputs.x, inputs.R), BLOCK_TIMING));
    if (thSkip === null && "py" in th) {
      const r = runPeer(th.py, "block.py", [caseFile.json, JSON.stringify({ threads, ...BLOCK_TIMING })], threads);
      if ("reason" in r) thSkip = r.reason;
      else {
        const j = r.json as TorchResult;
        thPeer = `${j.peer} [${th.py}]`;
        peerFwd.push(...j.forward_samples_ms);
        peerBwd.push(...j.fwd_bwd_samples_ms);
        check = j;
      }
    }
  }
  if (thSkip !== null) console.log(`torch peer skipped: ${thSkip}`);
  for (const [name, ours, peer] of [
    [fwdName, oursFwd, peerFwd],
    [bwdName, oursBwd, peerBwd],
  ] as const) {
    const o = median(ours);
    const p = thSkip === null ? median(peer) : null;
    rows.push({
      name,
      ours_ms: o,
      peer: thSkip === null ? thPeer : `torch (skipped: ${thSkip})`,
      peer_ms: p,
      ratio: p === null ? null : o / p,
    });
  }

  console.log("");
  printTable(rows, flops);
  console.log(
    "\nGFLOP/s count matmul FLOPs only (block: 2·M·N·K per product, causal attention counted in full; fwd+bwd = 3× fwd)",
  );
  console.log(
    `samples: matmuls ${oursMm.map((s) => s.length).join("/")} ours, ${peerMm.map((s) => s.length).join("/")} numpy; ` +
      `block fwd ${oursFwd.length} ours, ${peerFwd.length} torch; fwd+bwd ${oursBwd.length} ours, ${peerBwd.length} torch`,
  );

  // ---- the same computation? (loss and gradients against the torch peer)
  let mismatch = false;
  if (check !== null) {
    const { loss, loss_scale: scale, grad_rel_err_max: gradErr, resid_post_rel_err: outErr } = check;
    const dLoss = Math.abs(loss - ref.loss);
    // float32 sums of 98k terms in different orders: allow 1e-5 of the sum of |terms|
    mismatch = !(dLoss <= 1e-5 * scale && gradErr <= 1e-3 && outErr <= 1e-4);
    const rel = `${(dLoss / Math.abs(ref.loss)).toExponential(2)} relative, ${(dLoss / scale).toExponential(2)} of Σ|terms|`;
    console.log(`\nloss ours ${ref.loss}, torch ${loss}: |Δ| = ${dLoss.toExponential(2)} (${rel})`);
    console.log(
      `resid_post max rel err ${outErr.toExponential(2)}; gradients max rel err ${gradErr.toExponential(2)} (${check.grad_rel_err_worst})` +
        ` — ${mismatch ? "MISMATCH: the peer does not compute the same block" : "same computation"}`,
    );
  }

  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, "latest.json");
  writeFileSync(file, `${JSON.stringify(rows, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
  if (mismatch) process.exitCode = 1;
}

main();
