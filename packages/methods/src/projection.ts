// The projector's two methods. `projection`: a hook point's activations over a dataset (every token, each example's
// last token, or its mean), projected to two dimensions by PCA or UMAP, with each point's example, position, token,
// label and the model's top prediction there, packed for the wire (pack.ts). `projectionProbe`: a logistic probe on
// a region of that plot — the points inside a lasso against the rest, named by example and position, their
// activations recomputed from the same dataset — whose direction in activation space is a steering vector.
//
// UMAP runs here, in the server's heavy lane, not in the browser: the activations never leave the server (100,000 ×
// d_model floats would be tens of megabytes on the wire), the job is cancellable and budgeted like every method, and
// the web package stays free of numeric libraries (it imports only the protocol). umap-js's nearest-neighbour
// descent and epochs are O(n log n)-ish but slow in JavaScript, so UMAP is capped at 5,000 points (a seeded uniform
// sample of the rest; `total` says how many there were); PCA handles 100,000.
import { padBatch, run, selectNames, type TransformerModel } from "@llmdbg/core";
import type {
  ProjectionExample,
  ProjectionPoints,
  ProjectionProbeRequest,
  ProjectionProbeResult,
  ProjectionRequest,
  ProjectionResult,
} from "@llmdbg/protocol";
import { UMAP } from "umap-js";
import { checkAborted, inputIds, type MethodOptions, MethodRequestError, tokenRef } from "./common.js";
import { packFloat32, packInt32 } from "./pack.js";
import { pca } from "./pca.js";
import { rng } from "./perturbation.js";
import { fitLogistic } from "./probe.js";

/** The most points a projection plots: PCA (covariance in O(n·d²)), and UMAP (see above). */
export const MAX_PCA_POINTS = 100_000;
export const MAX_UMAP_POINTS = 5_000;
/** The most examples a dataset may hold, and points per side of a probe. */
export const MAX_EXAMPLES = 100_000;
export const MAX_PROBE_POINTS = 20_000;

/** The hook's name, checked: one hook point with axes [batch, pos, …]. */
function checkHook(model: TransformerModel, hook: unknown): string {
  if (typeof hook !== "string") throw new MethodRequestError("hook", "expected a hook point name");
  let names: string[];
  try {
    names = selectNames(
      hook,
      model.hookPoints.map((p) => p.name),
      "hook",
    );
  } catch (e) {
    throw new MethodRequestError("hook", (e as Error).message);
  }
  if (names.length !== 1) throw new MethodRequestError("hook", `${hook} names ${names.length} hook points; expected one`);
  const name = names[0] as string;
  const axes = model.hookPoints.find((p) => p.name === name)?.axes ?? [];
  if (axes[0] !== "batch" || axes[1] !== "pos")
    throw new MethodRequestError("hook", `${name} has axes [${axes.join(", ")}]; the projector reads [batch, pos, …]`);
  return name;
}

function checkPoints(points: unknown): ProjectionPoints {
  if (points === undefined) return "tokens";
  if (points === "tokens" || points === "last" || points === "mean") return points;
  throw new MethodRequestError("points", `expected "tokens", "last" or "mean", got ${JSON.stringify(points)}`);
}

function intIn(v: unknown, field: string, lo: number, hi: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi)
    throw new MethodRequestError(field, `expected an integer in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
  return v;
}

/** Each example's token ids (truncated to the model's positions), checked. */
function encodeDataset(model: TransformerModel, dataset: unknown): { seqs: number[][]; examples: ProjectionExample[] } {
  if (!Array.isArray(dataset) || dataset.length === 0)
    throw new MethodRequestError("dataset", "expected a non-empty array of { text, label? }");
  if (dataset.length > MAX_EXAMPLES)
    throw new MethodRequestError("dataset", `${dataset.length} examples; at most ${MAX_EXAMPLES}`);
  const maxLen = model.W_pos?.shape[0] ?? 2048;
  const seqs = dataset.map((e: unknown, i) => {
    const o = e as { text?: unknown; label?: unknown } | null;
    if (typeof o !== "object" || o === null || typeof o.text !== "string")
      throw new MethodRequestError(`dataset[${i}].text`, "expected a string");
    if (o.label !== undefined && typeof o.label !== "string")
      throw new MethodRequestError(`dataset[${i}].label`, `expected a string, got ${JSON.stringify(o.label)}`);
    try {
      return inputIds(model, { text: o.text }).slice(0, maxLen);
    } catch (err) {
      if (err instanceof MethodRequestError)
        throw new MethodRequestError(`dataset[${i}].text`, err.message.slice(err.field.length + 2));
      throw err;
    }
  });
  return { seqs, examples: dataset as ProjectionExample[] };
}

/** Activations and top predictions at the points `pairs` names ([example, position] flat; position −1: the mean). */
interface Collected {
  readonly d: number;
  /** n × d, row i for pair i */
  readonly x: Float32Array;
  readonly prediction: Int32Array;
}

function collect(
  model: TransformerModel,
  hook: string,
  seqs: readonly number[][],
  pairs: Int32Array,
  batch: number,
  opts: MethodOptions,
): Collected {
  const n = pairs.length / 2;
  // the pairs of each example, so that one pass over the examples that have any fills every row
  const byExample = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const ex = pairs[2 * i] as number;
    const list = byExample.get(ex);
    if (list === undefined) byExample.set(ex, [i]);
    else list.push(i);
  }
  const needed = [...byExample.keys()].sort((a, b) => a - b);
  const padId = model.tokenizer?.padTokenId ?? model.tokenizer?.eosTokenId ?? 0;
  let d = 0;
  let x = new Float32Array(0);
  const prediction = new Int32Array(n);
  for (let start = 0; start < needed.length; start += batch) {
    checkAborted(opts.signal);
    const chunk = needed.slice(start, start + batch);
    const chunkSeqs = chunk.map((ex) => seqs[ex] as number[]);
    const { ids, attentionMask } = padBatch(chunkSeqs, { padId, side: "right" });
    const { cache, output } = run(model, ids, { attentionMask, cache: hook, logits: "all" });
    const a = cache.get(hook); // [batch, pos, …]
    const T = ids.shape[1] as number;
    const per = a.size / (chunk.length * T);
    if (d === 0) {
      d = per;
      x = new Float32Array(n * d);
    }
    const V = output.shape[output.rank - 1] as number;
    const argmax = (offset: number) => {
      let best = 0;
      let bestV = Number.NEGATIVE_INFINITY;
      for (let v = 0; v < V; v++) {
        const z = output.data[offset + v] as number;
        if (z > bestV) [best, bestV] = [v, z];
      }
      return best;
    };
    chunk.forEach((ex, r) => {
      const len = (seqs[ex] as number[]).length;
      for (const i of byExample.get(ex) as number[]) {
        const pos = pairs[2 * i + 1] as number;
        const row = i * d;
        if (pos < 0) {
          for (let p = 0; p < len; p++)
            for (let j = 0; j < d; j++) x[row + j] = (x[row + j] as number) + (a.data[(r * T + p) * d + j] as number) / len;
        } else for (let j = 0; j < d; j++) x[row + j] = a.data[(r * T + pos) * d + j] as number;
        // a classifier's output is one row per example; a language model's, one per position
        const at = output.rank === 2 ? r * V : (r * T + (pos < 0 ? len - 1 : pos)) * V;
        prediction[i] = argmax(at);
      }
    });
    opts.onProgress?.({ done: Math.min(start + batch, needed.length), total: needed.length, what: "examples" });
  }
  return { d, x, prediction };
}

/** A seeded uniform sample of k indices of [0, n), ascending (all of them when k ≥ n). */
function sample(n: number, k: number, seed: number): Int32Array {
  if (k >= n) return Int32Array.from({ length: n }, (_, i) => i);
  const rand = rng(seed);
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rand() * (n - i));
    [idx[i], idx[j]] = [idx[j] as number, idx[i] as number];
  }
  return idx.slice(0, k).sort();
}

/**
 * Projects a hook point's activations over a dataset to two dimensions.
 * @example projection(model, { kind: "projection", hook: "blocks.1.hook_resid_post", dataset: [{ text: "I loved it", label: "pos" }, …] })
 */
export function projection(model: TransformerModel, req: ProjectionRequest, opts: MethodOptions = {}): ProjectionResult {
  const hook = checkHook(model, req.hook);
  const points = checkPoints(req.points);
  const method = req.method ?? "pca";
  if (method !== "pca" && method !== "umap")
    throw new MethodRequestError("method", `expected "pca" or "umap", got ${JSON.stringify(method)}`);
  const ceiling = method === "pca" ? MAX_PCA_POINTS : MAX_UMAP_POINTS;
  const maxPoints = intIn(req.maxPoints, "maxPoints", 2, ceiling, ceiling);
  const seed = intIn(req.seed, "seed", 0, 2 ** 31 - 1, 0);
  const batch = intIn(req.batch, "batch", 1, 256, 16);
  const { seqs, examples } = encodeDataset(model, req.dataset);

  // every point there is, then a sample of them
  const total = points === "tokens" ? seqs.reduce((s, q) => s + q.length, 0) : seqs.length;
  const chosen = sample(total, maxPoints, seed);
  const count = chosen.length;
  if (count < 2) throw new MethodRequestError("dataset", `gives ${count} point; a projection needs two or more`);
  const pairs = new Int32Array(2 * count);
  {
    // walk the examples' points in order alongside the ascending sample
    let ex = 0;
    let base = 0; // the index of example ex's first point
    for (let c = 0; c < count; c++) {
      const k = chosen[c] as number;
      if (points === "tokens") {
        while (k >= base + (seqs[ex] as number[]).length) base += (seqs[ex++] as number[]).length;
        pairs[2 * c] = ex;
        pairs[2 * c + 1] = k - base;
      } else {
        pairs[2 * c] = k;
        pairs[2 * c + 1] = points === "last" ? (seqs[k] as number[]).length - 1 : -1;
      }
    }
  }
  const { d, x, prediction } = collect(model, hook, seqs, pairs, batch, opts);

  const xy = new Float32Array(2 * count);
  let explainedVariance: number[] | null = null;
  let umapUsed: ProjectionResult["umap"] = null;
  if (method === "pca") {
    const p = pca(x, count, d, 2, opts);
    const totalVar = p.variances.reduce((s, v) => s + Math.max(0, v), 0);
    explainedVariance = Array.from(p.variances.slice(0, 10), (v) => (totalVar > 0 ? Math.max(0, v) / totalVar : 0));
    const k = Math.min(2, d);
    for (let i = 0; i < count; i++) {
      xy[2 * i] = p.coords[i * k] as number;
      xy[2 * i + 1] = k > 1 ? (p.coords[i * k + 1] as number) : 0;
    }
  } else {
    if (count < 4) throw new MethodRequestError("dataset", `gives ${count} points; UMAP needs four or more`);
    const u = req.umap ?? {};
    const uSeed = intIn(u.seed, "umap.seed", 0, 2 ** 31 - 1, 0);
    // umap-js needs fewer neighbours than points; a small dataset gets all of them
    const nNeighbors = Math.min(intIn(u.nNeighbors, "umap.nNeighbors", 2, 200, 15), count - 1);
    const minDist = u.minDist ?? 0.1;
    if (typeof minDist !== "number" || !(minDist >= 0 && minDist <= 1))
      throw new MethodRequestError("umap.minDist", `expected a number in [0, 1], got ${JSON.stringify(minDist)}`);
    const epochsAsked = u.epochs === undefined ? undefined : intIn(u.epochs, "umap.epochs", 1, 2000, 0);
    const umap = new UMAP({
      nComponents: 2,
      nNeighbors,
      minDist,
      random: rng(uSeed),
      ...(epochsAsked !== undefined && { nEpochs: epochsAsked }),
    });
    const rows = Array.from({ length: count }, (_, i) => Array.from(x.subarray(i * d, (i + 1) * d)));
    checkAborted(opts.signal);
    const epochs = umap.initializeFit(rows);
    for (let e = 0; e < epochs; e++) {
      umap.step();
      if (e % 10 === 9 || e === epochs - 1) {
        checkAborted(opts.signal);
        opts.onProgress?.({ done: e + 1, total: epochs, what: "umap epochs" });
      }
    }
    umap.getEmbedding().forEach((pt, i) => {
      xy[2 * i] = pt[0] as number;
      xy[2 * i + 1] = pt[1] as number;
    });
    umapUsed = { nNeighbors, minDist, seed: uSeed, epochs };
  }

  const token = new Int32Array(count);
  const position = new Int32Array(count);
  const example = new Int32Array(count);
  const labels = [...new Set(examples.flatMap((e) => (e.label === undefined ? [] : [e.label])))].sort();
  const label = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const ex = pairs[2 * i] as number;
    const pos = pairs[2 * i + 1] as number;
    example[i] = ex;
    position[i] = pos;
    token[i] = pos < 0 ? -1 : ((seqs[ex] as number[])[pos] as number);
    const l = (examples[ex] as ProjectionExample).label;
    label[i] = l === undefined ? -1 : labels.indexOf(l);
  }
  const ids = [...new Set([...token, ...prediction])].filter((t) => t >= 0).sort((a, b) => a - b);
  return {
    kind: "projection",
    hook,
    method,
    points,
    count,
    total,
    dim: d,
    xy: packFloat32(xy),
    example: packInt32(example),
    position: packInt32(position),
    token: packInt32(token),
    prediction: packInt32(prediction),
    vocab: ids.map((id) => tokenRef(model, id)),
    labels,
    label: packInt32(label),
    explainedVariance,
    umap: umapUsed,
  };
}

/** The pairs [example, position, …] of a probe's side, checked against the dataset. */
function checkPairs(v: unknown, field: string, seqs: readonly number[][], points: ProjectionPoints): Int32Array {
  if (!Array.isArray(v) || v.length % 2 !== 0)
    throw new MethodRequestError(field, "expected a flat array of [example, position] pairs");
  if (v.length < 4) throw new MethodRequestError(field, `holds ${v.length / 2} points; a probe needs two or more per side`);
  if (v.length / 2 > MAX_PROBE_POINTS)
    throw new MethodRequestError(field, `holds ${v.length / 2} points; at most ${MAX_PROBE_POINTS} (sample them)`);
  const out = new Int32Array(v.length);
  for (let i = 0; i < v.length; i += 2) {
    const ex = v[i];
    const pos = v[i + 1];
    if (!Number.isInteger(ex) || ex < 0 || ex >= seqs.length)
      throw new MethodRequestError(`${field}[${i}]`, `example ${JSON.stringify(ex)} is not in [0, ${seqs.length})`);
    const len = (seqs[ex] as number[]).length;
    const ok = points === "mean" ? pos === -1 : Number.isInteger(pos) && pos >= 0 && pos < len;
    if (!ok)
      throw new MethodRequestError(
        `${field}[${i + 1}]`,
        points === "mean"
          ? `expected −1 (a mean), got ${JSON.stringify(pos)}`
          : `position ${JSON.stringify(pos)} is not in [0, ${len})`,
      );
    out[i] = ex;
    out[i + 1] = pos;
  }
  return out;
}

/**
 * A logistic probe of inside (1) against outside (0) at the hook, and its direction in activation space.
 * @example projectionProbe(model, { kind: "projection_probe", hook, dataset, inside: [0, 3, 0, 4], outside: [1, 2, 2, 0] })
 */
export function projectionProbe(
  model: TransformerModel,
  req: ProjectionProbeRequest,
  opts: MethodOptions = {},
): ProjectionProbeResult {
  const hook = checkHook(model, req.hook);
  const points = checkPoints(req.points);
  const validation = req.validation ?? 0.2;
  if (typeof validation !== "number" || !(validation > 0 && validation < 1))
    throw new MethodRequestError("validation", `expected a share in (0, 1), got ${JSON.stringify(validation)}`);
  const l2 = req.l2 ?? 1e-3;
  if (typeof l2 !== "number" || !(l2 >= 0))
    throw new MethodRequestError("l2", `expected a number ≥ 0, got ${JSON.stringify(l2)}`);
  const steps = intIn(req.steps, "steps", 1, 5000, 300);
  const seed = intIn(req.seed, "seed", 0, 2 ** 31 - 1, 0);
  const batch = intIn(req.batch, "batch", 1, 256, 16);
  const { seqs } = encodeDataset(model, req.dataset);
  const inside = checkPairs(req.inside, "inside", seqs, points);
  const outside = checkPairs(req.outside, "outside", seqs, points);
  const nIn = inside.length / 2;
  const pairs = new Int32Array(inside.length + outside.length);
  pairs.set(inside);
  pairs.set(outside, inside.length);
  const { d, x } = collect(model, hook, seqs, pairs, batch, opts);
  const n = pairs.length / 2;
  const y = Array.from({ length: n }, (_, i) => (i < nIn ? 1 : 0));

  // a seeded split. The rows are centred on the training split's mean and divided by one scale for every feature
  // (their RMS), not standardized per feature as the dataset probe does: per-feature scaling would make the
  // direction (÷ each feature's std) dominated by near-constant features, a poor steering vector; one scale keeps
  // the L2-penalized weights' direction meaningful in activation space.
  const rand = rng(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  const nVal = Math.min(n - 2, Math.max(1, Math.round(validation * n)));
  const val = order.slice(0, nVal);
  const train = order.slice(nVal);
  const mean = new Float64Array(d);
  for (const i of train) for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) + (x[i * d + j] as number) / train.length;
  let ms = 0;
  for (const i of train) for (let j = 0; j < d; j++) ms += ((x[i * d + j] as number) - (mean[j] as number)) ** 2;
  const scale = Math.sqrt(ms / (train.length * d)) || 1;
  const z = (i: number) => Float64Array.from({ length: d }, (_, j) => ((x[i * d + j] as number) - (mean[j] as number)) / scale);
  checkAborted(opts.signal);
  const fit = fitLogistic(
    train.map(z),
    train.map((i) => y[i] as number),
    2,
    { l2, steps },
  );
  const accuracy = (idx: readonly number[]) => {
    if (idx.length === 0) return Number.NaN;
    let right = 0;
    for (const i of idx) {
      const zi = z(i);
      let s = (fit.b[1] as number) - (fit.b[0] as number);
      for (let j = 0; j < d; j++) s += ((fit.w[1]?.[j] as number) - (fit.w[0]?.[j] as number)) * (zi[j] as number);
      if ((s > 0 ? 1 : 0) === y[i]) right++;
    }
    return right / idx.length;
  };
  // the logit of "inside" is (w1 − w0)·(a − μ)/scale: in activation space it grows along w1 − w0
  const dir = Array.from({ length: d }, (_, j) => (fit.w[1]?.[j] as number) - (fit.w[0]?.[j] as number));
  const norm = Math.sqrt(dir.reduce((s, v) => s + v * v, 0)) || 1;
  const direction = dir.map((v) => v / norm);
  let sumIn = 0;
  let sumOut = 0;
  for (let i = 0; i < n; i++) {
    let dot = 0;
    for (let j = 0; j < d; j++) dot += (x[i * d + j] as number) * (direction[j] as number);
    if (i < nIn) sumIn += dot;
    else sumOut += dot;
  }
  opts.onProgress?.({ done: 1, total: 1, what: "probe" });
  return {
    kind: "projection_probe",
    hook,
    points,
    insideCount: nIn,
    outsideCount: n - nIn,
    trainSize: train.length,
    validationSize: val.length,
    trainAccuracy: accuracy(train),
    validationAccuracy: accuracy(val),
    direction,
    gap: sumIn / nIn - sumOut / (n - nIn),
  };
}
