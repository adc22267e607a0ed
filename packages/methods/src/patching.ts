// Activation patching (denoising, as TransformerLens's `patching` module does it): run the corrupted prompt, put
// back one piece of the clean run's activations — one position of one layer's residual stream, attention or MLP
// output, or one head's output, query, key, value or pattern — and measure how much of the clean behaviour
// returns: (patched − corrupted) / (clean − corrupted), 1 = fully restored, 0 = no effect.
//
// Layers before a patch cannot change, so each patched run starts at the patched layer from the corrupted run's
// cached residual (ForwardOptions.startAt) instead of recomputing them, and the cells of one layer run as rows of
// one batch. Path patching isolates one sender head's direct path into one receiver head's query, key or value:
// the sender's clean output is put in with every other head and MLP between them frozen at their corrupted
// values, the receiver input this produces is recorded, and only that is patched into a fresh corrupted run
// (Wang et al. 2022). Attribution patching (Nanda 2023) approximates every cell at once from one forward and
// backward pass of the corrupted run: (clean − corrupted activation) · ∂metric/∂activation; the result holds its
// rank correlation and top-k agreement with real patching.
import { logitDiff, logProb, run, type TransformerModel } from "@llmdbg/core";
import type { HookPoint, PatchGrid, PatchReceiver, PatchRequest, PatchResult } from "@llmdbg/protocol";
import { exp, logSoftmax, mul, narrow, reshape, sub, sum, type Tensor, tensor } from "@llmdbg/tensor";
import { checkAborted, checkToken, inputIds, type MethodOptions, MethodRequestError, tokenRef } from "./common.js";
import { argmax, klDivergence, logSoftmaxRow } from "./rows.js";

/** The hook patched per grid, and whether its cells are positions or heads. */
const GRIDS: { readonly [G in Exclude<PatchGrid, "path">]: { readonly hook: string; readonly cells: "pos" | "head" } } = {
  resid_pre: { hook: "hook_resid_pre", cells: "pos" },
  attn_out: { hook: "hook_attn_out", cells: "pos" },
  mlp_out: { hook: "hook_mlp_out", cells: "pos" },
  z: { hook: "attn.hook_z", cells: "head" },
  q: { hook: "attn.hook_q", cells: "head" },
  k: { hook: "attn.hook_k", cells: "head" },
  v: { hook: "attn.hook_v", cells: "head" },
  pattern: { hook: "attn.hook_pattern", cells: "head" },
};

type Cell = { readonly axis: number; readonly index: number };

/** A copy of `x` ([k, …]) whose row r has, along `cell.axis` at `cell.index`, the values of `src` ([1, …]). */
function withCells(x: Tensor, src: Tensor, cells: readonly (Cell | null)[]): Tensor {
  const out = Float32Array.from(x.data as Float32Array);
  const per = src.size; // one row
  const shape = src.shape;
  cells.forEach((cell, r) => {
    if (cell === null) return;
    const stride = shape.slice(cell.axis + 1).reduce((a, b) => a * b, 1);
    const n = shape[cell.axis] as number;
    for (let i = 0; i < per; i++) if (Math.floor(i / stride) % n === cell.index) out[r * per + i] = src.data[i] as number;
  });
  return tensor(out, x.shape, x.dtype);
}

/** Rows [k, …] of `x` ([1, …]) repeated. */
function tile(x: Tensor, k: number): Tensor {
  const out = new Float32Array(k * x.size);
  for (let r = 0; r < k; r++) out.set(x.data as Float32Array, r * x.size);
  return tensor(out, [k, ...x.shape.slice(1)], x.dtype);
}

/** Spearman's rank correlation (average ranks for ties). */
function spearman(a: readonly number[], b: readonly number[]): number {
  const ranks = (v: readonly number[]) => {
    const order = v.map((x, i) => [x, i] as const).sort((p, q) => p[0] - q[0]);
    const r = new Array<number>(v.length);
    for (let i = 0; i < order.length; ) {
      let j = i;
      while (j + 1 < order.length && order[j + 1]?.[0] === order[i]?.[0]) j++;
      for (let t = i; t <= j; t++) r[order[t]?.[1] as number] = (i + j) / 2;
      i = j + 1;
    }
    return r;
  };
  const [ra, rb] = [ranks(a), ranks(b)];
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const [ma, mb] = [mean(ra), mean(rb)];
  let num = 0;
  let da = 0;
  let db = 0;
  ra.forEach((x, i) => {
    const y = rb[i] as number;
    num += (x - ma) * (y - mb);
    da += (x - ma) ** 2;
    db += (y - mb) ** 2;
  });
  return da === 0 || db === 0 ? 0 : num / Math.sqrt(da * db);
}

/** The share of `real`'s k largest cells by |value| that `approx`'s k largest also hold. */
function topKAgreement(real: readonly number[], approx: readonly number[]): { k: number; share: number } {
  const k = Math.min(10, Math.max(1, Math.ceil(0.1 * real.length)));
  const top = (v: readonly number[]) =>
    new Set(
      v
        .map((x, i) => [Math.abs(x), i] as const)
        .sort((p, q) => q[0] - p[0])
        .slice(0, k)
        .map(([, i]) => i),
    );
  const [tr, ta] = [top(real), top(approx)];
  return { k, share: [...tr].filter((i) => ta.has(i)).length / k };
}

/**
 * Activation patching over a grid (and/or attribution patching), or path patching into one receiver head.
 * @example activationPatching(model, { kind: "patch", clean: { text: "… John gave a drink to" }, corrupted: { text: "… Mary gave a drink to" }, grid: "z" })
 */
export function activationPatching(model: TransformerModel, req: PatchRequest, opts: MethodOptions = {}): PatchResult {
  const cleanIds = inputIds(model, req.clean);
  const corruptIds = inputIds(model, req.corrupted);
  if (cleanIds.length !== corruptIds.length)
    throw new MethodRequestError(
      "corrupted",
      `${corruptIds.length} tokens, but the clean prompt has ${cleanIds.length}; patching needs prompts of the same length`,
    );
  const P = cleanIds.length;
  const L = model.nLayers;
  const grid = req.grid ?? "resid_pre";
  const method = req.method ?? "both";
  const metricKind = req.metric ?? "logit_diff";
  const batch = req.batch ?? 16;
  if (!Number.isInteger(batch) || batch < 1) throw new MethodRequestError("batch", `expected a positive integer, got ${batch}`);
  const points = new Map(model.hookPoints.map((p) => [p.name, p] as const));
  if (!points.has("blocks.0.hook_resid_pre"))
    throw new MethodRequestError("model", "patching needs the residual stream's hook points");
  if (grid === "path" && method === "attribution")
    throw new MethodRequestError("method", "path patching has no attribution approximation; use method activation");

  const receiver = grid === "path" ? checkReceiver(model, req.receiver, points) : null;

  // the two runs, with everything any grid reads
  const resid = (l: number) => `blocks.${l}.hook_resid_pre`;
  const gridHook = (l: number) => (grid === "path" ? "" : `blocks.${l}.${GRIDS[grid].hook}`);
  const names = Array.from({ length: L }, (_, l) => [
    resid(l),
    ...(grid === "path" ? [`blocks.${l}.attn.hook_z`, `blocks.${l}.hook_mlp_out`].filter((n) => points.has(n)) : [gridHook(l)]),
  ]).flat();
  const clean = run(model, cleanIds, { cache: names, logits: "last" });
  const corrupt = run(model, corruptIds, { cache: names, logits: "last" });
  const V = clean.output.shape[2] as number;
  if (clean.output.rank !== 3)
    throw new MethodRequestError("model", "patching reads next-token logits; this model is a classifier");
  // every metric reads the last position: patched runs unembed only it (logits "last", [k, 1, d_vocab])
  const lastRow = (out: Tensor, r: number) => {
    const T = out.shape[1] as number;
    return out.data.subarray((r * T + T - 1) * V, (r * T + T) * V);
  };
  const answer = metricKind === "kl" ? null : (req.answer ?? argmax(lastRow(clean.output, 0)));
  const foil = metricKind === "logit_diff" ? (req.foil ?? argmax(lastRow(corrupt.output, 0))) : null;
  if (answer !== null) checkToken(model, answer, "answer");
  if (foil !== null) checkToken(model, foil, "foil");
  if (answer !== null && answer === foil)
    throw new MethodRequestError("foil", `the answer and the foil are both token ${answer}; pass a different foil`);

  // the metric, numerically on a row of logits, and differentiably on a [1, pos, d_vocab] output
  const cleanRow = Float64Array.from(lastRow(clean.output, 0));
  const cleanLogp = logSoftmaxRow(cleanRow);
  const metricOfRow = (row: ArrayLike<number>): number => {
    if (metricKind === "logit_diff") return (row[answer as number] as number) - (row[foil as number] as number);
    const lp = logSoftmaxRow(row);
    if (metricKind === "prob") return Math.exp(lp[answer as number] as number);
    return klDivergence(cleanLogp, lp);
  };
  const metricOf = (out: Tensor): Tensor => {
    if (metricKind === "logit_diff") return logitDiff(out, answer as number, foil as number); // []
    if (metricKind === "prob") return exp(logProb(out, answer as number)); // []
    const row = reshape(narrow(out, 1, (out.shape[1] as number) - 1, 1), [V]); // [d_vocab]
    const p = tensor(
      Float32Array.from(cleanLogp, (v) => Math.exp(v)),
      [V],
    ); // [d_vocab]
    return sum(mul(p, sub(tensor(Float32Array.from(cleanLogp), [V]), logSoftmax(row))), 0); // []
  };
  const cleanMetric = metricOfRow(lastRow(clean.output, 0));
  const corruptedMetric = metricOfRow(lastRow(corrupt.output, 0));
  const span = cleanMetric - corruptedMetric;
  if (span === 0)
    throw new MethodRequestError("corrupted", "the clean and corrupted runs give the same metric: there is nothing to restore");
  const normalize = (m: number) => (m - corruptedMetric) / span;

  // the grid's rows, columns and cells
  const spec = grid === "path" ? { hook: "attn.hook_z", cells: "head" as const } : GRIDS[grid];
  const point = points.get(`blocks.0.${spec.hook}`) as HookPoint;
  const axis =
    spec.cells === "pos"
      ? point.axes.findIndex((a) => a === "pos" || a === "query_pos")
      : point.axes.findIndex((a) => a === "head" || a === "kv_head");
  const width = spec.cells === "pos" ? P : (clean.cache.get(`blocks.0.${spec.hook}`).shape[axis] as number);
  const rows = Array.from({ length: L }, (_, l) => `L${l}`);
  const cols =
    spec.cells === "pos"
      ? cleanIds.map((id, p) => `${p}: ${JSON.stringify(tokenRef(model, id).text ?? `<id ${id}>`)}`)
      : Array.from({ length: width }, (_, h) => (point.axes[axis] === "kv_head" ? `KV${h}` : `H${h}`));

  let raw: (number | null)[][] | null = null;
  if (method !== "attribution") {
    raw = [];
    const total = L;
    for (let l = 0; l < L; l++) {
      checkAborted(opts.signal);
      const line: (number | null)[] = [];
      for (let start = 0; start < width; start += batch) {
        const cells = Array.from({ length: Math.min(batch, width - start) }, (_, i) => start + i);
        const metrics =
          receiver === null ? patchLayer(l, cells) : l >= receiver.layer ? cells.map(() => null) : patchPath(l, cells, receiver);
        line.push(...metrics);
      }
      raw.push(line);
      opts.onProgress?.({ done: l + 1, total, what: `blocks.${l}` });
    }
  }

  // one layer's cells, each a row of one batch started at the layer from the corrupted residual
  function patchLayer(l: number, cells: readonly number[]): number[] {
    const k = cells.length;
    const ids = tensor(
      cells.flatMap(() => corruptIds),
      [k, P],
      "i32",
    );
    let start = tile(corrupt.cache.get(resid(l)), k); // [k, pos, d_model]
    const hooks: Record<string, (x: Tensor) => Tensor> = {};
    const cellOf = (c: number): Cell => ({ axis, index: c });
    if (grid === "resid_pre") start = withCells(start, clean.cache.get(resid(l)), cells.map(cellOf));
    else hooks[gridHook(l)] = (x) => withCells(x, clean.cache.get(gridHook(l)), cells.map(cellOf));
    const out = run(model, ids, { startAt: { layer: l, resid: start }, hooks, logits: "last" }).output;
    return cells.map((_, r) => metricOfRow(lastRow(out, r)));
  }

  // path patching: senders = the heads `cells` of layer l, into the receiver's input
  function patchPath(l: number, cells: readonly number[], rcv: PatchReceiver): number[] {
    const k = cells.length;
    const ids = tensor(
      cells.flatMap(() => corruptIds),
      [k, P],
      "i32",
    );
    const rHook = `blocks.${rcv.layer}.attn.hook_${rcv.input}`;
    // 1. the sender's clean output, every other head and MLP from l on frozen at the corrupted run's values
    const hooks: Record<string, (x: Tensor) => Tensor> = {};
    const z = (m: number) => `blocks.${m}.attn.hook_z`;
    const mlp = (m: number) => `blocks.${m}.hook_mlp_out`;
    hooks[z(l)] = () =>
      withCells(
        tile(corrupt.cache.get(z(l)), k),
        clean.cache.get(z(l)),
        cells.map((c) => ({ axis, index: c })),
      );
    // (an attention-only model has no MLPs to freeze)
    const freezeMlp = (m: number) => {
      if (points.has(mlp(m))) hooks[mlp(m)] = () => tile(corrupt.cache.get(mlp(m)), k);
    };
    freezeMlp(l);
    for (let m = l + 1; m < rcv.layer; m++) {
      hooks[z(m)] = () => tile(corrupt.cache.get(z(m)), k);
      freezeMlp(m);
    }
    const first = run(model, ids, {
      startAt: { layer: l, resid: tile(corrupt.cache.get(resid(l)), k) },
      hooks,
      cache: rHook,
      logits: "last",
    });
    const received = first.cache.get(rHook); // [k, pos, (kv_)head, d_head]
    // 2. only that input of the receiver head patched into a corrupted run
    const rPoint = points.get(rHook) as HookPoint;
    const rAxis = rPoint.axes.findIndex((a) => a === "head" || a === "kv_head");
    const H = (points.get(z(0)) as HookPoint).axes.includes("head") ? (clean.cache.get(z(0)).shape[2] as number) : 1;
    const rHeads = received.shape[rAxis] as number;
    const rIndex = rPoint.axes[rAxis] === "kv_head" ? Math.floor(rcv.head / (H / rHeads)) : rcv.head;
    const second = run(model, ids, {
      logits: "last",
      startAt: { layer: rcv.layer, resid: tile(corrupt.cache.get(resid(rcv.layer)), k) },
      hooks: {
        [rHook]: (x) => {
          const out = Float32Array.from(x.data as Float32Array);
          const per = x.size / k;
          const stride = x.shape.slice(rAxis + 1).reduce((a, b) => a * b, 1);
          for (let r = 0; r < k; r++)
            for (let i = 0; i < per; i++)
              if (Math.floor(i / stride) % rHeads === rIndex) out[r * per + i] = received.data[r * per + i] as number;
          return tensor(out, x.shape, x.dtype);
        },
      },
    });
    return cells.map((_, r) => metricOfRow(lastRow(second.output, r)));
  }

  // attribution patching: one forward and backward pass of the corrupted run
  let attribution: PatchResult["attribution"] = null;
  if (method !== "activation" && grid !== "path") {
    const hooks = Array.from({ length: L }, (_, l) => (grid === "resid_pre" ? resid(l) : gridHook(l)));
    const g = run(model, corruptIds, { grads: { hooks, loss: metricOf }, logits: "last" });
    const approx = hooks.map((name) => {
      const d = g.cache.grad(name).data;
      const c = clean.cache.get(name);
      const x = corrupt.cache.get(name).data;
      const stride = c.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
      const n = c.shape[axis] as number;
      const cellsum = new Float64Array(width);
      for (let i = 0; i < c.size; i++) {
        const cell = Math.floor(i / stride) % n;
        cellsum[cell] = (cellsum[cell] as number) + ((c.data[i] as number) - (x[i] as number)) * (d[i] as number);
      }
      return Array.from(cellsum, (v) => v / span);
    });
    const realFlat = raw === null ? null : raw.flat().map((m) => normalize(m as number));
    const approxFlat = approx.flat();
    attribution = {
      values: approx,
      rankCorrelation: realFlat === null ? null : spearman(realFlat, approxFlat),
      topKAgreement: realFlat === null ? null : topKAgreement(realFlat, approxFlat),
    };
  }

  return {
    kind: "patch",
    grid,
    metric: metricKind,
    clean: cleanIds.map((id) => tokenRef(model, id)),
    corrupted: corruptIds.map((id) => tokenRef(model, id)),
    answer: answer === null ? null : tokenRef(model, answer),
    foil: foil === null ? null : tokenRef(model, foil),
    receiver,
    cleanMetric,
    corruptedMetric,
    rows,
    cols,
    values: raw === null ? null : raw.map((line) => line.map((m) => (m === null ? null : normalize(m)))),
    raw,
    attribution,
  };
}

function checkReceiver(
  model: TransformerModel,
  r: PatchReceiver | undefined,
  points: ReadonlyMap<string, HookPoint>,
): PatchReceiver {
  if (r === undefined) throw new MethodRequestError("receiver", "path patching needs a receiver { layer, head, input }");
  if (!Number.isInteger(r.layer) || r.layer < 1 || r.layer >= model.nLayers)
    throw new MethodRequestError(
      "receiver.layer",
      `expected a layer in [1, ${model.nLayers}) (senders sit in the layers before it), got ${r.layer}`,
    );
  const H = model.attn(0).W_Q.shape[0] as number;
  if (!Number.isInteger(r.head) || r.head < 0 || r.head >= H)
    throw new MethodRequestError("receiver.head", `expected a head in [0, ${H}), got ${r.head}`);
  if (!["q", "k", "v"].includes(r.input))
    throw new MethodRequestError("receiver.input", `expected q, k or v, got ${JSON.stringify(r.input)}`);
  if (!points.has(`blocks.${r.layer}.attn.hook_${r.input}`))
    throw new MethodRequestError("receiver.input", `this model has no hook for ${r.input}`);
  return { layer: r.layer, head: r.head, input: r.input };
}
