// Section "kernels": @llmdbg/tensor against NumPy (matmuls) and PyTorch CPU (a GPT-2-small-shaped block,
// forward and forward + backward). Verify first, then time: the peers first run once on the very inputs ours
// ran on (the matmul operands written to files, the block's weights and inputs from saveBlockCase), ours and
// theirs are compared, and only a row whose comparison passed is timed; any other row is refused with why.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { matmul, randn, type Tensor } from "@llmdbg/tensor";
import {
  BLOCK_CONFIG,
  blockForward,
  blockLossAndGrads,
  makeBlockInputs,
  makeBlockParams,
  saveBlockCase,
} from "../packages/tensor/examples/block.js";
import {
  allOf,
  type BenchEnv,
  type Check,
  findPython,
  maxRelDiff,
  median,
  notRun,
  type Row,
  readF32,
  row,
  runPeer,
  type SectionResult,
  sampleRun,
  type Timing,
  within,
} from "./common.js";
import { tempFolder } from "./gpt2-weights.js";

/** What bench/peers/block.py prints in "check" mode. */
interface TorchCheck {
  peer: string;
  loss: number;
  /** sum(|resid_post * R|), the scale of the rounding error in the loss */
  loss_scale: number;
  resid_post_rel_err?: number;
  grad_rel_err_max?: number;
  grad_rel_err_worst?: string;
}

/** What bench/peers/block.py prints in "time" mode. */
interface TorchTimes {
  peer: string;
  forward_samples_ms: number[];
  fwd_bwd_samples_ms: number[];
}

/** Per round and per measurement; the section takes about a minute on 2 cores. */
const MATMUL_TIMING: Timing = { warmup: 10, min_reps: 30, max_reps: 2000, min_ms: 1200 };
const BLOCK_TIMING: Timing = { warmup: 3, min_reps: 10, max_reps: 500, min_ms: 3500 };

/**
 * Agreement bounds, each from the measured difference with a margin of ~5–10× (2026-12-06, 2 cores): matmul
 * products max|Δ|/max|x| ≤ 3e-6 (measured 3.5–5.3e-7: float32 sums over K in other orders); the block's output
 * 2e-6 (measured 2.7e-7), gradients 5e-6 of each gradient's max (measured 6.4e-7, w_qkv), loss 1e-9 of
 * Σ|terms| (measured 1.1e-10). A wrong kernel or gradient rule is off by orders of magnitude more.
 */
const TOL = { product: 3e-6, output: 2e-6, grads: 5e-6, loss: 1e-9 };

const gflops = (flops: number, ms: number | null): string => (ms === null ? "—" : (flops / ms / 1e6).toFixed(1));
const flopNote = (flops: number, ours: number, peer: number | null): string =>
  `GFLOP/s ours ${gflops(flops, ours)}, peer ${gflops(flops, peer)}`;

const f32Bytes = (t: Tensor): Uint8Array => {
  const d = Float32Array.from(t.data as Float32Array); // a copy: the ort backend may move t's buffer later
  return new Uint8Array(d.buffer);
};

export function kernelsSection(env: BenchEnv): SectionResult {
  return { rows: [...matmulRows(env), ...blockRows(env)] };
}

function matmulRows(env: BenchEnv): Row[] {
  const { threads, rounds } = env;
  const cases = [
    { name: "matmul 128x768 · 768x3072", batch: 1, M: 128, K: 768, N: 3072 },
    { name: "matmul 128x768 · 768x768", batch: 1, M: 128, K: 768, N: 768 },
    { name: "matmul 12x[128x64 · 64x128]", batch: 12, M: 128, K: 64, N: 128 },
  ];
  const tmp = tempFolder("llmdbg-bench-mm-");
  try {
    const operands = cases.map((c, i) => {
      const lead = c.batch > 1 ? [c.batch] : [];
      const a = randn([...lead, c.M, c.K], 10 + i); // [batch?, M, K]
      const b = randn([...lead, c.K, c.N], 20 + i); // [batch?, K, N]
      writeFileSync(join(tmp.dir, `mm${i}.a.f32`), f32Bytes(a));
      writeFileSync(join(tmp.dir, `mm${i}.b.f32`), f32Bytes(b));
      return { a, b, product: Float32Array.from(matmul(a, b).data as Float32Array) }; // product [batch?, M, N]
    });

    // ---- verify: numpy multiplies the same operands; each product must match ours
    let peerName = "numpy";
    let checks: Check[];
    const np = findPython("numpy");
    const spec = (mode: "check" | "time") => JSON.stringify({ mode, dir: tmp.dir, cases, ...MATMUL_TIMING });
    if ("reason" in np) checks = cases.map(() => notRun(np.reason));
    else {
      const r = runPeer(np.py, "matmul.py", [spec("check")], threads);
      if ("reason" in r) checks = cases.map(() => notRun(r.reason));
      else {
        peerName = `${(r.json as { peer: string }).peer} [${np.py}]`;
        checks = operands.map((o, i) =>
          within("product vs numpy, max|Δ|/max|x|", maxRelDiff(o.product, readF32(join(tmp.dir, `mm${i}.out.f32`))), TOL.product),
        );
      }
    }
    checks.forEach((c, i) => {
      console.log(`kernels: ${cases[i]?.name}: ${c.ok ? c.detail : c.reason}`);
    });

    // ---- time what was verified
    const oursMm = cases.map((): number[] => []);
    const peerMm = cases.map((): number[] => []);
    const verified = checks.some((c) => c.ok);
    for (let round = 0; verified && round < rounds; round++) {
      cases.forEach((_, i) => {
        if (!checks[i]?.ok) return;
        const { a, b } = operands[i] as { a: Tensor; b: Tensor };
        oursMm[i]?.push(...sampleRun(() => matmul(a, b), MATMUL_TIMING)); // [batch?, M, N] per call
      });
      if ("py" in np) {
        const r = runPeer(np.py, "matmul.py", [spec("time")], threads);
        if ("reason" in r) checks = checks.map((c) => (c.ok ? notRun(`numpy timing run: ${r.reason}`) : c));
        else
          (r.json as { results: { samples_ms: number[] }[] }).results.forEach((res, i) => {
            peerMm[i]?.push(...res.samples_ms);
          });
      }
    }
    return cases.map((c, i) => {
      const ours = median(oursMm[i] ?? []);
      const peer = median(peerMm[i] ?? []);
      const flops = 2 * c.batch * c.M * c.K * c.N;
      return row({
        section: "kernels",
        name: c.name,
        unit: "ms",
        peer: peerName,
        check: checks[i] as Check,
        // the small batched product, where the worker round trip weighs most
        target: c.batch > 1 ? 1.33 : null,
        ours,
        peer_value: peer,
        note: `${flopNote(flops, ours, peer)}; samples ${oursMm[i]?.length}/${peerMm[i]?.length}`,
      });
    });
  } finally {
    tmp.dispose();
  }
}

function blockRows(env: BenchEnv): Row[] {
  const { threads, rounds } = env;
  const { T, dModel: D, nHeads: H, dHead: Dh, dMlp: F } = BLOCK_CONFIG;
  const fwdFlops = 2 * T * (D * 3 * D + D * D + 2 * D * F) + 2 * 2 * H * T * T * Dh;
  const params = makeBlockParams(1); // GPT-2 small block weights, see makeBlockParams
  const inputs = makeBlockInputs(1); // x, R: [1, pos, d_model]
  const ref = blockLossAndGrads(params, inputs.x, inputs.R); // loss, grads shaped like x and the weights
  const residPost = blockForward(params, inputs.x); // [batch, pos, d_model]
  const tmp = tempFolder("llmdbg-bench-block-");
  try {
    const caseFile = saveBlockCase(tmp.dir, "block", params, inputs, { residPost, grads: ref });

    // ---- verify: torch runs the same block on the same weights and inputs; output, loss and gradients must match
    let peerName = "torch";
    let check: Check;
    const th = findPython("torch");
    const spec = (mode: "check" | "time") => JSON.stringify({ mode, threads, ...BLOCK_TIMING });
    if ("reason" in th) check = notRun(th.reason);
    else {
      const r = runPeer(th.py, "block.py", [caseFile.json, spec("check")], threads);
      if ("reason" in r) check = notRun(r.reason);
      else {
        const j = r.json as TorchCheck;
        peerName = `${j.peer} [${th.py}]`;
        check = allOf(
          within("resid_post vs torch, max|Δ|/max|x|", j.resid_post_rel_err ?? Number.NaN, TOL.output),
          within(
            `gradients vs torch, worst max|Δ|/max|g| (${j.grad_rel_err_worst})`,
            j.grad_rel_err_max ?? Number.NaN,
            TOL.grads,
          ),
          within("loss vs torch, |Δ|/Σ|terms|", Math.abs(j.loss - ref.loss) / j.loss_scale, TOL.loss),
        );
      }
    }
    console.log(`kernels: block: ${check.ok ? check.detail : check.reason}`);

    // ---- time, if verified
    const oursFwd: number[] = [];
    const oursBwd: number[] = [];
    const peerFwd: number[] = [];
    const peerBwd: number[] = [];
    for (let round = 0; check.ok && "py" in th && round < rounds; round++) {
      oursFwd.push(...sampleRun(() => blockForward(params, inputs.x), BLOCK_TIMING)); // [1, pos, d_model] per call
      oursBwd.push(...sampleRun(() => blockLossAndGrads(params, inputs.x, inputs.R), BLOCK_TIMING));
      const r = runPeer(th.py, "block.py", [caseFile.json, spec("time")], threads);
      if ("reason" in r) check = notRun(`torch timing run: ${r.reason}`);
      else {
        const j = r.json as TorchTimes;
        peerFwd.push(...j.forward_samples_ms);
        peerBwd.push(...j.fwd_bwd_samples_ms);
      }
    }
    console.log("kernels: GFLOP/s count matmul FLOPs only (block: causal attention counted in full; fwd+bwd = 3× fwd)");
    return (
      [
        [`block fwd (T=${T}, GPT-2 small)`, fwdFlops, oursFwd, peerFwd],
        [`block fwd+bwd (T=${T}, GPT-2 small)`, 3 * fwdFlops, oursBwd, peerBwd],
      ] as const
    ).map(([name, flops, ours, peer], i) => {
      const o = median(ours);
      const p = median(peer);
      return row({
        section: "kernels",
        name,
        unit: "ms",
        peer: peerName,
        check,
        target: i === 0 ? 1 : null,
        ours: o,
        peer_value: p,
        note: `${flopNote(flops, o, p)}; samples ${ours.length}/${peer.length}`,
      });
    });
  } finally {
    tmp.dispose();
  }
}
