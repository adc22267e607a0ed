// Attention for a viewer at long inputs (the protocol's AttentionOverviewRequest and AttentionHeadRequest): the
// attention method's statistics with each head's pattern pooled to a thumbnail, the rollout quantized, and one
// head's full pattern on demand — all in 8-bit square-root bytes (QuantizedMatrix), for display.
//
// The overview consumes each layer's pattern inside a hook as the forward pass produces it, so at most one layer's
// patterns (heads × positions² floats, 48 MB at 12 heads × 1,024 tokens) are alive at once, and the rollout is
// multiplied in layer by layer (on the tensor engine: a matmul per layer). Flow is computed only up to FLOW_MAX_POSITIONS positions: it is one maximum-flow
// run per position over a graph of layers × positions² / 2 edges.
import { run, type TransformerModel } from "@llmdbg/core";
import type {
  AttentionHeadRequest,
  AttentionHeadResult,
  AttentionHeadScores,
  AttentionOverviewRequest,
  AttentionOverviewResult,
  AttentionSink,
  QuantizedMatrix,
} from "@llmdbg/protocol";
import { matmul, noGrad, type Tensor, tensor } from "@llmdbg/tensor";
import { attentionFlow, headScores, headStats, listIndices, syntheticPlan, topSinks } from "./attention.js";
import { checkAborted, inputIds, type MethodOptions, MethodRequestError, tokenRef } from "./common.js";

/**
 * Where the overview can leave every layer's patterns (sqrt8 bytes [head, query, key], all heads) for the head
 * requests that follow on the same input, so that opening a head costs a copy, not a forward pass (3.6 s for the
 * last layer of a 12 × 12 model at 1,024 tokens on 2 cores). The server keeps one per worker thread.
 */
export interface PatternShelf {
  put(ids: readonly number[], layer: number, bytes: Uint8Array): void;
  get(ids: readonly number[], layer: number): Uint8Array | undefined;
}

export interface AttentionViewOptions extends MethodOptions {
  readonly shelf?: PatternShelf | undefined;
}

/** Beyond this many positions the overview leaves flow out (null). */
export const FLOW_MAX_POSITIONS = 256;
const THUMBNAIL_DEFAULT = 64;
const THUMBNAIL_MAX = 256;

/**
 * The attention method's statistics, thumbnails of every reported head's pattern, the rollout and (for short
 * inputs) the flow. Equal to attentionAnalysis's entropy, sinks, scores, rollout and flow (the rollout within
 * its quantization).
 * @example attentionOverview(model, { kind: "attention_overview", input: { ids }, thumbnail: 64 })
 */
export function attentionOverview(
  model: TransformerModel,
  req: AttentionOverviewRequest,
  opts: AttentionViewOptions = {},
): AttentionOverviewResult {
  const ids = inputIds(model, req.input);
  const L = model.nLayers;
  const H = attentionHeads(model);
  const layers = listIndices(req.layers, L, "layers", "layer");
  const heads = listIndices(req.heads, H, "heads", "head");
  const side = req.thumbnail ?? THUMBNAIL_DEFAULT;
  if (!Number.isInteger(side) || side < 1 || side > THUMBNAIL_MAX)
    throw new MethodRequestError("thumbnail", `expected an integer in [1, ${THUMBNAIL_MAX}], got ${side}`);
  const wantScores = req.scores ?? false;
  const seq = wantScores ? syntheticPlan(model, req) : null;
  const P = ids.length;
  const pool = Math.ceil(P / side);
  const withFlow = P <= FLOW_MAX_POSITIONS;
  const total = L + 1 + (wantScores ? 1 : 0);

  const entropy: number[][] = layers.map(() => []);
  const firstToken: number[][] = layers.map(() => []);
  const sinks: AttentionSink[][][] = layers.map(() => []);
  const thumbnails: QuantizedMatrix[][] = layers.map(() => []);
  const perLayer: number[][][] = []; // head-averaged, kept for flow only
  let rolled: Tensor = tensor(identity(P), [P, P]); // [query, input position]
  run(model, [...ids], {
    hooks: {
      "blocks.*.attn.hook_pattern": (x, point) => {
        checkAborted(opts.signal);
        const l = point.layer as number;
        const A = x.data; // [1, head, query_pos, key_pos]
        const avg = headAverage(A, H, P);
        const mixed = tensor(withResidualFlat(avg, P), [P, P]);
        rolled = noGrad(() => matmul(mixed, rolled));
        if (withFlow) perLayer.push(Array.from({ length: P }, (_, q) => Array.from(avg.subarray(q * P, (q + 1) * P))));
        opts.shelf?.put(ids, l, sqrt8Bytes(A));
        const li = layers.indexOf(l);
        if (li >= 0)
          for (const h of heads) {
            const stats = headStats(A, h, P);
            entropy[li]?.push(stats.entropy);
            firstToken[li]?.push(stats.mass[0] as number);
            sinks[li]?.push(topSinks(stats.mass));
            thumbnails[li]?.push(maxPool(A.subarray(h * P * P, (h + 1) * P * P), P, pool));
          }
        opts.onProgress?.({ done: l + 1, total, what: point.name });
        return undefined;
      },
    },
  });
  checkAborted(opts.signal);
  const flow = withFlow ? attentionFlow(perLayer) : null;
  opts.onProgress?.({ done: L + 1, total, what: withFlow ? "rollout and flow" : "rollout" });

  let scores: AttentionHeadScores | null = null;
  if (seq !== null) {
    checkAborted(opts.signal);
    scores = headScores(model, seq, layers, heads);
    opts.onProgress?.({ done: total, total, what: "head scores" });
  }
  return {
    kind: "attention_overview",
    tokens: ids.map((id) => tokenRef(model, id)),
    layers,
    heads,
    entropy,
    firstToken,
    sinks,
    thumbnails,
    pool,
    rollout: quantizeSqrt8(rolled.data, P, P),
    flow,
    flowMaxPositions: FLOW_MAX_POSITIONS,
    scores,
    seed: seq?.seed ?? null,
    repeatLength: seq?.N ?? null,
    batch: seq?.batch ?? null,
  };
}

/** Thrown by the head request's hook once it has its layer: the layers after it need not run. */
class Enough extends Error {}

/**
 * One head's pattern on the input, at full size, quantized. Runs the model up to that layer and stops there.
 * @example attentionHead(model, { kind: "attention_head", input: { text: "a b c" }, layer: 1, head: 2 })
 */
export function attentionHead(
  model: TransformerModel,
  req: AttentionHeadRequest,
  opts: AttentionViewOptions = {},
): AttentionHeadResult {
  const ids = inputIds(model, req.input);
  const H = attentionHeads(model);
  const layer = oneIndex(req.layer, model.nLayers, "layer");
  const head = oneIndex(req.head, H, "head");
  const P = ids.length;
  const tokens = ids.map((id) => tokenRef(model, id));
  const kept = opts.shelf?.get(ids, layer);
  if (kept !== undefined && kept.length === H * P * P) {
    const data = base64(kept.subarray(head * P * P, (head + 1) * P * P));
    return { kind: "attention_head", tokens, layer, head, pattern: { rows: P, cols: P, encoding: "sqrt8", data } };
  }
  let pattern: QuantizedMatrix | null = null;
  checkAborted(opts.signal);
  try {
    run(model, [...ids], {
      hooks: {
        [`blocks.${layer}.attn.hook_pattern`]: (x) => {
          pattern = quantizeSqrt8(x.data.subarray(head * P * P, (head + 1) * P * P), P, P); // [1, head, query, key]
          throw new Enough();
        },
      },
    });
  } catch (e) {
    if (!(e instanceof Enough)) throw e;
  }
  if (pattern === null) throw new Error(`attention_head: blocks.${layer}.attn.hook_pattern was never reached`);
  opts.onProgress?.({ done: 1, total: 1, what: `blocks.${layer}.attn.hook_pattern` });
  return { kind: "attention_head", tokens, layer, head, pattern };
}

/** A layer or head index (negative counts from the end) as a non-negative one. */
function oneIndex(x: number, n: number, field: string): number {
  if (!Number.isInteger(x) || x < -n || x >= n)
    throw new MethodRequestError(field, `${field} ${x} is not an integer in [-${n}, ${n}) (the model has ${n})`);
  return x < 0 ? n + x : x;
}

function attentionHeads(model: TransformerModel): number {
  const H = model.axisSizes.head;
  if (H === undefined || !model.hookPoints.some((p) => p.name === "blocks.0.attn.hook_pattern"))
    throw new MethodRequestError("model", "this model declares no attention patterns (blocks.L.attn.hook_pattern)");
  return H;
}

function identity(n: number): Float64Array {
  const I = new Float64Array(n * n);
  for (let i = 0; i < n; i++) I[i * n + i] = 1;
  return I;
}

/** [query][key] averaged over the heads of one layer's [1, head, query, key] pattern. */
function headAverage(A: ArrayLike<number>, H: number, P: number): Float64Array {
  const avg = new Float64Array(P * P);
  for (let h = 0; h < H; h++) {
    const off = h * P * P;
    for (let i = 0; i < P * P; i++) avg[i] = (avg[i] as number) + (A[off + i] as number);
  }
  for (let i = 0; i < P * P; i++) avg[i] = (avg[i] as number) / H;
  return avg;
}

/**
 * One layer's head-averaged attention mixed with the residual, (1 − residual)·A + residual·I with rows renormalized
 * (as `rollout` does), flat. The overview multiplies these through the layers with the tensor engine's matmul
 * (f32, on the backend's BLAS): the product in JavaScript took 6.4 of the overview's 16 s at 12 × 12 × 1,024; f32 is
 * far finer than the 8 bits the rollout is sent in.
 */
export function withResidualFlat(A: Float64Array, n: number, residual = 0.5): Float32Array {
  const out = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += (1 - residual) * (A[i * n + k] as number) + (i === k ? residual : 0);
    for (let k = 0; k < n; k++) {
      const v = (1 - residual) * (A[i * n + k] as number) + (i === k ? residual : 0);
      out[i * n + k] = s > 0 ? v / s : v;
    }
  }
  return out;
}

/** The max over `pool` × `pool` blocks of an n × n matrix, quantized. */
export function maxPool(A: ArrayLike<number>, n: number, pool: number): QuantizedMatrix {
  const m = Math.ceil(n / pool);
  const out = new Float32Array(m * m);
  for (let i = 0; i < n; i++) {
    const r = Math.floor(i / pool) * m;
    for (let j = 0; j < n; j++) {
      const v = A[i * n + j] as number;
      const c = r + Math.floor(j / pool);
      if (v > (out[c] as number)) out[c] = v;
    }
  }
  return quantizeSqrt8(out, m, m);
}

/** Values in [0, 1] as sqrt8 bytes (q = round(255·√v), clamped as quantizeSqrt8). */
function sqrt8Bytes(values: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    bytes[i] = v > 0 ? Math.round(Math.sqrt(Math.min(v, 1)) * 255) : 0;
  }
  return bytes;
}

/** Values in [0, 1] as sqrt8 bytes (q = round(255·√v)); outside [0, 1] and NaN are clamped (NaN to 0). */
export function quantizeSqrt8(values: ArrayLike<number>, rows: number, cols: number): QuantizedMatrix {
  if (values.length !== rows * cols) throw new RangeError(`quantizeSqrt8: ${values.length} values for ${rows} × ${cols}`);
  return { rows, cols, encoding: "sqrt8", data: base64(sqrt8Bytes(values)) };
}

/** The values a QuantizedMatrix stands for, row-major. */
export function dequantizeSqrt8(m: QuantizedMatrix): Float32Array {
  const bytes = unbase64(m.data);
  if (bytes.length !== m.rows * m.cols) throw new RangeError(`dequantizeSqrt8: ${bytes.length} bytes for ${m.rows} × ${m.cols}`);
  return Float32Array.from(bytes, (q) => (q / 255) ** 2);
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

const B64_CODES = Uint8Array.from(B64, (c) => c.charCodeAt(0));
const PAD = "=".charCodeAt(0);

/**
 * Standard base64 with padding (no Buffer: this package also runs in a browser). Written as ASCII codes into one
 * byte array and decoded once: building the string by concatenation took ~150 ms per 1,024-token head.
 */
export function base64(bytes: Uint8Array): string {
  const n = bytes.length;
  const out = new Uint8Array(4 * Math.ceil(n / 3));
  let o = 0;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    out[o++] = B64_CODES[v >> 18] as number;
    out[o++] = B64_CODES[(v >> 12) & 63] as number;
    out[o++] = B64_CODES[(v >> 6) & 63] as number;
    out[o++] = B64_CODES[v & 63] as number;
  }
  if (i < n) {
    const two = i + 1 < n;
    const v = ((bytes[i] as number) << 16) | (two ? (bytes[i + 1] as number) << 8 : 0);
    out[o++] = B64_CODES[v >> 18] as number;
    out[o++] = B64_CODES[(v >> 12) & 63] as number;
    out[o++] = two ? (B64_CODES[(v >> 6) & 63] as number) : PAD;
    out[o++] = PAD;
  }
  return new TextDecoder("latin1").decode(out);
}

function unbase64(text: string): Uint8Array {
  const clean = text.replace(/=+$/, "");
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (let i = 0; i < clean.length; i++) {
    const v = B64.indexOf(clean.charAt(i));
    if (v < 0) throw new RangeError(`base64: unexpected character at ${i}`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 255;
    }
  }
  return out;
}
