// Linear probes: does a hook point encode a label linearly? Activations are collected over a labelled dataset
// (batched, right-padded; each example's last token or the mean over its tokens), standardized with the training
// split's statistics, and a multinomial logistic regression with an L2 penalty is fit by full-batch gradient
// descent (Adam) in float64. A control task — the same probe on shuffled labels (Hewitt & Liang 2019) — says how
// much a probe of that capacity learns from nothing; selectivity is the difference. The best hook's weights,
// mapped back to activation space, are directions that `steer` can add.
import { padBatch, run, selectNames, type TransformerModel } from "@llmdbg/core";
import type { ProbeAtHook, ProbeRequest, ProbeResult } from "@llmdbg/protocol";
import { checkAborted, inputIds, type MethodOptions, MethodRequestError } from "./common.js";
import { rng } from "./perturbation.js";

/** A fitted probe: weights [class][feature] and biases on standardized features. */
interface Fit {
  readonly w: Float64Array[];
  readonly b: Float64Array;
}

/** Softmax logistic regression on rows `x` (standardized) with labels `y` in [0, C). */
export function fitLogistic(
  x: readonly Float64Array[],
  y: readonly number[],
  C: number,
  opts: { l2: number; steps: number },
): Fit {
  const d = x[0]?.length ?? 0;
  const n = x.length;
  const w = Array.from({ length: C }, () => new Float64Array(d));
  const b = new Float64Array(C);
  // Adam state
  const mw = w.map(() => new Float64Array(d));
  const vw = w.map(() => new Float64Array(d));
  const mb = new Float64Array(C);
  const vb = new Float64Array(C);
  const [lr, b1, b2, eps] = [0.05, 0.9, 0.999, 1e-8];
  const p = new Float64Array(C);
  for (let t = 1; t <= opts.steps; t++) {
    const gw = w.map(() => new Float64Array(d));
    const gb = new Float64Array(C);
    for (let i = 0; i < n; i++) {
      const xi = x[i] as Float64Array;
      let max = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < C; c++) {
        let z = b[c] as number;
        const wc = w[c] as Float64Array;
        for (let j = 0; j < d; j++) z += (wc[j] as number) * (xi[j] as number);
        p[c] = z;
        max = Math.max(max, z);
      }
      let s = 0;
      for (let c = 0; c < C; c++) s += p[c] = Math.exp((p[c] as number) - max);
      for (let c = 0; c < C; c++) {
        const g = (p[c] as number) / s - (y[i] === c ? 1 : 0); // ∂CE/∂z_c
        gb[c] = (gb[c] as number) + g / n;
        const gwc = gw[c] as Float64Array;
        for (let j = 0; j < d; j++) gwc[j] = (gwc[j] as number) + (g * (xi[j] as number)) / n;
      }
    }
    const step = (param: Float64Array, grad: Float64Array, m: Float64Array, v: Float64Array, decay: number) => {
      for (let j = 0; j < param.length; j++) {
        const g = (grad[j] as number) + decay * (param[j] as number);
        m[j] = b1 * (m[j] as number) + (1 - b1) * g;
        v[j] = b2 * (v[j] as number) + (1 - b2) * g * g;
        const mh = (m[j] as number) / (1 - b1 ** t);
        const vh = (v[j] as number) / (1 - b2 ** t);
        param[j] = (param[j] as number) - (lr * mh) / (Math.sqrt(vh) + eps);
      }
    };
    for (let c = 0; c < C; c++)
      step(w[c] as Float64Array, gw[c] as Float64Array, mw[c] as Float64Array, vw[c] as Float64Array, opts.l2);
    step(b, gb, mb, vb, 0);
  }
  return { w, b };
}

function accuracy(fit: Fit, x: readonly Float64Array[], y: readonly number[]): number {
  if (x.length === 0) return Number.NaN;
  let right = 0;
  x.forEach((xi, i) => {
    let best = 0;
    let bestZ = Number.NEGATIVE_INFINITY;
    fit.w.forEach((wc, c) => {
      let z = fit.b[c] as number;
      for (let j = 0; j < xi.length; j++) z += (wc[j] as number) * (xi[j] as number);
      if (z > bestZ) [best, bestZ] = [c, z];
    });
    if (best === y[i]) right++;
  });
  return right / x.length;
}

/**
 * Fits a probe at each hook (and a control probe on shuffled labels) and returns the accuracies and the best
 * hook's directions.
 * @example probe(model, { kind: "probe", hooks: "blocks.*.hook_resid_post", dataset: [{ input: { text: "I loved it" }, label: "pos" }, …] })
 */
export function probe(model: TransformerModel, req: ProbeRequest, opts: MethodOptions = {}): ProbeResult {
  if (req.dataset.length < 4) throw new MethodRequestError("dataset", `needs at least 4 examples, got ${req.dataset.length}`);
  const labels = [...new Set(req.dataset.map((e) => e.label))].sort();
  if (labels.length < 2)
    throw new MethodRequestError("dataset", "every example has the same label; a probe needs two classes or more");
  const names = model.hookPoints.map((p) => p.name);
  let hooks: string[];
  try {
    hooks = selectNames(req.hooks, names, "hooks");
  } catch (e) {
    throw new MethodRequestError("hooks", (e as Error).message);
  }
  for (const h of hooks) {
    const axes = model.hookPoints.find((p) => p.name === h)?.axes ?? [];
    if (axes[0] !== "batch" || axes[1] !== "pos")
      throw new MethodRequestError("hooks", `${h} has axes [${axes.join(", ")}]; a probe reads [batch, pos, …]`);
  }
  const reduce = req.reduce ?? "last";
  const validation = req.validation ?? 0.2;
  if (!(validation > 0 && validation < 1))
    throw new MethodRequestError("validation", `expected a share in (0, 1), got ${validation}`);
  const seed = req.seed ?? 0;
  const batch = req.batch ?? 16;
  const l2 = req.l2 ?? 1e-3;
  const steps = req.steps ?? 300;
  const seqs = req.dataset.map((e, i) => {
    try {
      return inputIds(model, e.input);
    } catch (err) {
      throw err instanceof MethodRequestError
        ? new MethodRequestError(`dataset[${i}].${err.field}`, err.message.slice(err.field.length + 2))
        : err;
    }
  });
  const y = req.dataset.map((e) => labels.indexOf(e.label));

  // activations: per hook, one row per example
  const feats = new Map<string, Float64Array[]>(hooks.map((h) => [h, []]));
  const padId = model.tokenizer?.padTokenId ?? model.tokenizer?.eosTokenId ?? 0;
  for (let start = 0; start < seqs.length; start += batch) {
    checkAborted(opts.signal);
    const chunk = seqs.slice(start, start + batch);
    const { ids, attentionMask } = padBatch(chunk, { padId, side: "right" });
    const { cache } = run(model, ids, { attentionMask, cache: hooks });
    const T = ids.shape[1] as number;
    for (const h of hooks) {
      const a = cache.get(h); // [batch, pos, …]
      const per = a.size / (chunk.length * T);
      chunk.forEach((s, r) => {
        const row = new Float64Array(per);
        const from = reduce === "last" ? s.length - 1 : 0;
        for (let p = from; p < s.length; p++)
          for (let j = 0; j < per; j++) row[j] = (row[j] as number) + (a.data[(r * T + p) * per + j] as number);
        if (reduce === "mean") for (let j = 0; j < per; j++) row[j] = (row[j] as number) / s.length;
        feats.get(h)?.push(row);
      });
    }
    opts.onProgress?.({ done: Math.min(start + batch, seqs.length), total: seqs.length, what: "examples" });
  }

  // a seeded split, and the control task's labels: the same labels shuffled
  const rand = rng(seed);
  const order = seqs.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  const nVal = Math.min(order.length - 2, Math.max(1, Math.round(validation * order.length)));
  const val = order.slice(0, nVal);
  const train = order.slice(nVal);
  const control = [...y];
  for (let i = control.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [control[i], control[j]] = [control[j] as number, control[i] as number];
  }

  const probes: ProbeAtHook[] = [];
  let best: { hook: string; acc: number; directions: number[][] } | null = null;
  for (const h of hooks) {
    checkAborted(opts.signal);
    const rows = feats.get(h) as Float64Array[];
    const d = rows[0]?.length ?? 0;
    // standardize with the training split's mean and standard deviation
    const mean = new Float64Array(d);
    const std = new Float64Array(d);
    for (const i of train) for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) + (rows[i]?.[j] as number) / train.length;
    for (const i of train)
      for (let j = 0; j < d; j++)
        std[j] = (std[j] as number) + ((rows[i]?.[j] as number) - (mean[j] as number)) ** 2 / train.length;
    for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j] as number) || 1;
    const z = rows.map((r) => Float64Array.from(r, (v, j) => (v - (mean[j] as number)) / (std[j] as number)));
    const pick = (idx: readonly number[], lab: readonly number[]) => ({
      x: idx.map((i) => z[i] as Float64Array),
      y: idx.map((i) => lab[i] as number),
    });
    const [tr, va, ctr, cva] = [pick(train, y), pick(val, y), pick(train, control), pick(val, control)];
    const fit = fitLogistic(tr.x, tr.y, labels.length, { l2, steps });
    const cfit = fitLogistic(ctr.x, ctr.y, labels.length, { l2, steps });
    const acc = accuracy(fit, va.x, va.y);
    const controlAcc = accuracy(cfit, cva.x, cva.y);
    probes.push({
      hook: h,
      trainAccuracy: accuracy(fit, tr.x, tr.y),
      validationAccuracy: acc,
      controlAccuracy: controlAcc,
      selectivity: acc - controlAcc,
    });
    if (best === null || acc > best.acc) {
      // each label's weights less the labels' mean, back in activation space (÷ std), unit length
      const directions = fit.w.map((wc) => {
        const v = Array.from(
          wc,
          (x, j) => (x - fit.w.reduce((s, o) => s + (o[j] as number), 0) / fit.w.length) / (std[j] as number),
        );
        const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
        return v.map((x) => x / norm);
      });
      best = { hook: h, acc, directions };
    }
    opts.onProgress?.({ done: probes.length, total: hooks.length, what: "probes" });
  }
  const b = best as { hook: string; directions: number[][] };
  return {
    kind: "probe",
    labels,
    reduce,
    trainSize: train.length,
    validationSize: val.length,
    seed,
    probes,
    best: { hook: b.hook, directions: b.directions },
  };
}
