// Section "kernels": @llmdbg/tensor against NumPy (matmuls) and PyTorch CPU (a GPT-2-small-shaped block,
// forward and forward + backward, with the loss and gradients checked against the peer's).
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
  type BenchEnv,
  findPython,
  median,
  outDir,
  type Row,
  row,
  runPeer,
  type SectionResult,
  sampleRun,
  type Timing,
} from "./common.js";

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

/** Per round and per measurement; the section takes about a minute on 2 cores. */
const MATMUL_TIMING: Timing = { warmup: 10, min_reps: 30, max_reps: 2000, min_ms: 1200 };
const BLOCK_TIMING: Timing = { warmup: 3, min_reps: 10, max_reps: 500, min_ms: 3500 };

const gflops = (flops: number, ms: number | null): string => (ms === null ? "—" : (flops / ms / 1e6).toFixed(1));
const flopNote = (flops: number, ours: number, peer: number | null): string =>
  `GFLOP/s ours ${gflops(flops, ours)}, peer ${gflops(flops, peer)}`;

export function kernelsSection(env: BenchEnv): SectionResult {
  const { threads, rounds } = env;
  const rows: Row[] = [];
  const failures: string[] = [];

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
    return { a, b };
  });
  const oursMm = cases.map((): number[] => []);
  const peerMm = cases.map((): number[] => []);
  let npPeer = "numpy";
  let npSkip: string | null = null;
  const np = findPython("numpy");
  if ("reason" in np) npSkip = np.reason;
  for (let round = 0; round < rounds; round++) {
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
    const flops = 2 * c.batch * c.M * c.K * c.N;
    rows.push(
      row({
        section: "kernels",
        name: c.name,
        unit: "ms",
        ours,
        peer: npSkip === null ? npPeer : `numpy (skipped: ${npSkip})`,
        peer_value: peer,
        note: `${flopNote(flops, ours, peer)}; samples ${oursMm[i]?.length}/${peerMm[i]?.length}`,
      }),
    );
  });

  // ---- transformer block vs PyTorch
  const { T, dModel: D, nHeads: H, dHead: Dh, dMlp: F } = BLOCK_CONFIG;
  const fwdFlops = 2 * T * (D * 3 * D + D * D + 2 * D * F) + 2 * 2 * H * T * T * Dh;
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
  for (let round = 0; round < rounds; round++) {
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
  for (const [name, flops, ours, peer] of [
    [`block fwd (T=${T}, GPT-2 small)`, fwdFlops, oursFwd, peerFwd],
    [`block fwd+bwd (T=${T}, GPT-2 small)`, 3 * fwdFlops, oursBwd, peerBwd],
  ] as const) {
    const o = median(ours);
    const p = thSkip === null ? median(peer) : null;
    rows.push(
      row({
        section: "kernels",
        name,
        unit: "ms",
        ours: o,
        peer: thSkip === null ? thPeer : `torch (skipped: ${thSkip})`,
        peer_value: p,
        note: `${flopNote(flops, o, p)}; samples ${ours.length}/${peer.length}`,
      }),
    );
  }
  console.log("kernels: GFLOP/s count matmul FLOPs only (block: causal attention counted in full; fwd+bwd = 3× fwd)");

  // ---- the same computation? (loss and gradients against the torch peer)
  if (check !== null) {
    const { loss, loss_scale: scale, grad_rel_err_max: gradErr, resid_post_rel_err: outErr } = check;
    const dLoss = Math.abs(loss - ref.loss);
    // float32 sums of 98k terms in different orders: allow 1e-5 of the sum of |terms|
    const mismatch = !(dLoss <= 1e-5 * scale && gradErr <= 1e-3 && outErr <= 1e-4);
    const rel = `${(dLoss / Math.abs(ref.loss)).toExponential(2)} relative, ${(dLoss / scale).toExponential(2)} of Σ|terms|`;
    console.log(`kernels: block loss ours ${ref.loss}, torch ${loss}: |Δ| = ${dLoss.toExponential(2)} (${rel})`);
    console.log(
      `kernels: block resid_post max rel err ${outErr.toExponential(2)}; gradients max rel err ${gradErr.toExponential(2)} (${check.grad_rel_err_worst})` +
        ` — ${mismatch ? "MISMATCH: the peer does not compute the same block" : "same computation"}`,
    );
    if (mismatch) failures.push("kernels: the torch block peer does not compute the same block as ours");
  }
  return { rows, failures };
}
