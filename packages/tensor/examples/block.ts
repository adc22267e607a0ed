// A GPT-2-small-shaped pre-LayerNorm transformer block on @llmdbg/tensor: the benchmark workload of
// bench/run.ts and a worked example of the API. Weights follow the Hugging Face GPT-2 layout (one fused
// c_attn projection to q, k, v; weights stored [d_in, d_out]) with random values, so PyTorch can run the
// identical computation from the files `saveBlockCase` writes.
//
//   npx tsx packages/tensor/examples/block.ts   # prints backend, forward and forward+backward times, loss
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  add,
  attention,
  gelu,
  getBackend,
  layerNorm,
  matmul,
  mul,
  narrow,
  OrtBackend,
  permute,
  randn,
  reshape,
  sum,
  type Tensor,
  valueAndGrad,
} from "@llmdbg/tensor";

/** GPT-2 small: d_model 768, 12 heads of 64, MLP 3072; T = 128 positions for the benchmark. */
export const BLOCK_CONFIG = { T: 128, dModel: 768, nHeads: 12, dHead: 64, dMlp: 3072, eps: 1e-5 } as const;

/** Parameter names in a fixed order (the order of the gradients and of the exported weights). */
export const PARAM_NAMES = [
  "ln1_w",
  "ln1_b",
  "w_qkv",
  "b_qkv",
  "w_o",
  "b_o",
  "ln2_w",
  "ln2_b",
  "w_in",
  "b_in",
  "w_out",
  "b_out",
] as const;
export type ParamName = (typeof PARAM_NAMES)[number];
export type BlockParams = Record<ParamName, Tensor>;

/** Deterministic random weights: every tensor ~ N(0, 0.02²), LayerNorm scales 1 + N(0, 0.02²). */
export function makeBlockParams(seed: number): BlockParams {
  const { dModel: D, dMlp: F } = BLOCK_CONFIG;
  const w = (shape: number[], k: number): Tensor => randn(shape, seed * 1000 + k, "f32", 0.02); // `shape`
  return {
    ln1_w: add(w([D], 1), 1), // [d_model]
    ln1_b: w([D], 2), // [d_model]
    w_qkv: w([D, 3 * D], 3), // [d_model, 3*d_model] (q | k | v, heads contiguous within each)
    b_qkv: w([3 * D], 4), // [3*d_model]
    w_o: w([D, D], 5), // [d_model, d_model] (rows: head-major head*d_head + i)
    b_o: w([D], 6), // [d_model]
    ln2_w: add(w([D], 7), 1), // [d_model]
    ln2_b: w([D], 8), // [d_model]
    w_in: w([D, F], 9), // [d_model, d_mlp]
    b_in: w([F], 10), // [d_mlp]
    w_out: w([F, D], 11), // [d_mlp, d_model]
    b_out: w([D], 12), // [d_model]
  };
}

/** The residual stream input x ~ N(0, 1) and the loss weights R ~ N(0, 1), both [batch, pos, d_model]. */
export function makeBlockInputs(seed: number, batch = 1): { x: Tensor; R: Tensor } {
  const { T, dModel: D } = BLOCK_CONFIG;
  const x = randn([batch, T, D], seed * 1000 + 101); // [batch, pos, d_model]
  const R = randn([batch, T, D], seed * 1000 + 102); // [batch, pos, d_model]
  return { x, R };
}

/** resid_post = resid_mid + MLP(LN2(resid_mid)), resid_mid = x + Attn(LN1(x)); x is [batch, pos, d_model]. */
export function blockForward(p: BlockParams, x: Tensor): Tensor {
  const [B, T, D] = x.shape as [number, number, number];
  const { nHeads: H, eps } = BLOCK_CONFIG;
  const Dh = D / H;
  // attention
  const h1 = layerNorm(x, p.ln1_w, p.ln1_b, eps); // [batch, pos, d_model]
  const qkv = add(matmul(h1, p.w_qkv), p.b_qkv); // [batch, pos, 3*d_model]
  const heads = permute(reshape(qkv, [B, T, 3, H, Dh]), [2, 0, 3, 1, 4]); // [3, batch, head, pos, d_head]
  const q = reshape(narrow(heads, 0, 0, 1), [B, H, T, Dh]); // [batch, head, pos, d_head]
  const k = reshape(narrow(heads, 0, 1, 1), [B, H, T, Dh]); // [batch, head, pos, d_head]
  const v = reshape(narrow(heads, 0, 2, 1), [B, H, T, Dh]); // [batch, head, pos, d_head]
  const z = attention(q, k, v, { causal: true }).out; // [batch, head, pos, d_head]
  const zFlat = reshape(permute(z, [0, 2, 1, 3]), [B, T, D]); // [batch, pos, d_model]
  const attnOut = add(matmul(zFlat, p.w_o), p.b_o); // [batch, pos, d_model]
  const residMid = add(x, attnOut); // [batch, pos, d_model]
  // MLP
  const h2 = layerNorm(residMid, p.ln2_w, p.ln2_b, eps); // [batch, pos, d_model]
  const pre = add(matmul(h2, p.w_in), p.b_in); // [batch, pos, d_mlp]
  const post = gelu(pre, "tanh"); // [batch, pos, d_mlp]
  const mlpOut = add(matmul(post, p.w_out), p.b_out); // [batch, pos, d_model]
  return add(residMid, mlpOut); // [batch, pos, d_model]
}

/** loss = sum(resid_post * R). */
export function blockLoss(p: BlockParams, x: Tensor, R: Tensor): Tensor {
  return sum(mul(blockForward(p, x), R)); // []
}

export interface BlockGrads {
  loss: number;
  /** d loss / d x, [batch, pos, d_model] */
  x: Tensor;
  /** d loss / d each parameter, same shapes as the parameters */
  params: BlockParams;
}

/** Forward and backward: the loss and its gradients for the input and every weight. */
export function blockLossAndGrads(p: BlockParams, x: Tensor, R: Tensor): BlockGrads {
  const f = (xIn: Tensor, ...ws: Tensor[]): Tensor => {
    const wp = Object.fromEntries(PARAM_NAMES.map((n, i) => [n, ws[i] as Tensor])) as BlockParams; // parameter shapes
    return blockLoss(wp, xIn, R); // []
  };
  const { value, grads } = valueAndGrad(f)(x, ...PARAM_NAMES.map((n) => p[n])); // value [], grads: x then params
  const [gx, ...gw] = grads; // [batch, pos, d_model], then the parameter shapes
  const params = Object.fromEntries(PARAM_NAMES.map((n, i) => [n, gw[i] as Tensor])) as BlockParams; // parameter shapes
  return { loss: value.item(), x: gx as Tensor, params };
}

export interface BlockCaseFile {
  format: "llmdbg-block-case/1";
  dtype: "float32";
  endian: "little";
  config: typeof BLOCK_CONFIG;
  /** our loss, when the case includes reference results */
  loss: number | null;
  /** offsets and sizes are in elements (4 bytes each) into the .bin file */
  tensors: { name: string; shape: number[]; offset: number; size: number }[];
}

/**
 * Writes `<dir>/<name>.json` (a manifest) and `<dir>/<name>.bin` (the float32 little-endian elements of every
 * tensor, back to back): the weights as `param.<name>`, the inputs as `input.x` and `input.R`, and, when `ref`
 * is given, our results as `ref.resid_post`, `ref.grad.x` and `ref.grad.<param>`.
 */
export function saveBlockCase(
  dir: string,
  name: string,
  params: BlockParams,
  inputs: { x: Tensor; R: Tensor },
  ref?: { residPost: Tensor; grads: BlockGrads },
): { json: string; bin: string } {
  const entries: [string, Tensor][] = [
    ...PARAM_NAMES.map((n): [string, Tensor] => [`param.${n}`, params[n]]),
    ["input.x", inputs.x],
    ["input.R", inputs.R],
  ];
  if (ref) {
    entries.push(["ref.resid_post", ref.residPost], ["ref.grad.x", ref.grads.x]);
    for (const n of PARAM_NAMES) entries.push([`ref.grad.${n}`, ref.grads.params[n]]);
  }
  const tensors: BlockCaseFile["tensors"] = [];
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const [n, t] of entries) {
    if (t.dtype !== "f32") throw new Error(`saveBlockCase: ${n} is ${t.dtype}, expected f32`);
    const d = Float32Array.from(t.data as Float32Array); // a copy: the ort backend may move t's buffer later
    chunks.push(Buffer.from(d.buffer, 0, d.byteLength));
    tensors.push({ name: n, shape: [...t.shape], offset, size: d.length });
    offset += d.length;
  }
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error("saveBlockCase: big-endian hosts are not supported");
  mkdirSync(dir, { recursive: true });
  const manifest: BlockCaseFile = {
    format: "llmdbg-block-case/1",
    dtype: "float32",
    endian: "little",
    config: BLOCK_CONFIG,
    loss: ref ? ref.grads.loss : null,
    tensors,
  };
  const json = join(dir, `${name}.json`);
  const bin = join(dir, `${name}.bin`);
  writeFileSync(bin, Buffer.concat(chunks));
  writeFileSync(json, `${JSON.stringify(manifest, null, 1)}\n`);
  return { json, bin };
}

/** Median of `reps` timed calls after `warmup` untimed ones, in milliseconds. */
export function timeMedian(fn: () => void, reps: number, warmup = 2): { median: number; samples: number[] } {
  for (let i = 0; i < warmup; i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { median, samples };
}

function main(): void {
  const be = getBackend();
  const threads = be instanceof OrtBackend ? `${be.threads} threads, onnxruntime ${be.version}` : "single-threaded TypeScript";
  const { T, dModel, nHeads, dHead, dMlp } = BLOCK_CONFIG;
  console.log(`backend: ${be.name} (${threads})`);
  console.log(`block: T=${T} d_model=${dModel} heads=${nHeads}x${dHead} d_mlp=${dMlp}, f32`);
  const params = makeBlockParams(1); // see makeBlockParams
  const { x, R } = makeBlockInputs(1); // [1, pos, d_model] each
  const fwd = timeMedian(() => blockForward(params, x), 9, 3); // [1, pos, d_model] per call
  const bwd = timeMedian(() => blockLossAndGrads(params, x, R), 7, 2);
  const g = blockLossAndGrads(params, x, R); // loss, grads shaped like x and params
  const norm = (t: Tensor): number => Math.sqrt(sum(mul(t, t)).item()); // [] then a number
  console.log(`forward:            ${fwd.median.toFixed(2)} ms (median of ${fwd.samples.length})`);
  console.log(`forward + backward: ${bwd.median.toFixed(2)} ms (median of ${bwd.samples.length})`);
  console.log(`loss = sum(resid_post * R) = ${g.loss}`);
  console.log(`|d loss/d x| = ${norm(g.x).toPrecision(6)}, |d loss/d w_qkv| = ${norm(g.params.w_qkv).toPrecision(6)}`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main();
