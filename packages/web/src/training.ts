// The Training view's logic, apart from React and the charts so that Node tests can hold it: the training runs and
// their events over REST (`GET /api/training`, `GET /api/runs/<id>/events?after=<seq>`, polled), the events of a
// run folded into series by step (`foldEvents`, which merges each new page onto what is known), TensorBoard's
// smoothing (a debiased exponential moving average), min/max downsampling for long runs, the series of several
// runs aligned on one step axis for an overlay, and the words for a run's state ("no events for 40 s").
import type { TrainingEvent, TrainingEventsPage, TrainingRunSummary, TrainingRunsPage, TrainingStatus } from "@llmdbg/protocol";

/** One quantity over steps: x ascending (optimizer steps), y with null where the run has no value. */
export interface Series {
  readonly x: readonly number[];
  readonly y: readonly (number | null)[];
}

/** Activation statistics of one hook point over the steps they were taken. */
export interface ActivationSeries {
  readonly steps: number[];
  readonly mean: number[];
  readonly std: number[];
  readonly maxAbs: number[];
}

/** Everything the view draws of one run, folded from its events. */
export interface RunSeries {
  readonly run: number;
  /** the sequence number of the last event folded (-1: none) */
  readonly last: number;
  readonly status: TrainingStatus;
  readonly updatedAt: string;
  readonly error: string | null;
  readonly totalSteps: number | null;
  readonly steps: number[];
  readonly loss: number[];
  readonly lr: number[];
  readonly gradNorm: number[];
  readonly tokensPerSecond: number[];
  /** per layer ("0", "1", …, "wte"), aligned with `steps` (null: that step did not report the layer) */
  readonly layerGradNorms: Record<string, (number | null)[]>;
  readonly updateRatio: Record<string, (number | null)[]>;
  /** evaluation metrics by name ("loss", "perplexity", "accuracy", …) */
  readonly evals: Record<string, { steps: number[]; values: number[] }>;
  /** by hook point */
  readonly activations: Record<string, ActivationSeries>;
  readonly checkpoints: { readonly step: number; readonly id: number | null; readonly name: string }[];
  /** anomalies, early stops, dead neurons and exploding activations, as one line each */
  readonly notices: { readonly step: number; readonly text: string }[];
  readonly endReason: string | null;
}

export function emptySeries(run: number): RunSeries {
  return {
    run,
    last: -1,
    status: "running",
    updatedAt: "",
    error: null,
    totalSteps: null,
    steps: [],
    loss: [],
    lr: [],
    gradNorm: [],
    tokensPerSecond: [],
    layerGradNorms: {},
    updateRatio: {},
    evals: {},
    activations: {},
    checkpoints: [],
    notices: [],
    endReason: null,
  };
}

/** Appends one per-layer record to columns aligned with `n` earlier steps (a layer first seen late is back-filled). */
function pushLayers(cols: Record<string, (number | null)[]>, n: number, values: Readonly<Record<string, number>>): void {
  for (const k of Object.keys(values)) if (!Object.hasOwn(cols, k)) cols[k] = new Array<number | null>(n).fill(null);
  for (const [k, col] of Object.entries(cols)) col.push(Object.hasOwn(values, k) ? (values[k] as number) : null);
}

const copyCols = <T>(o: Record<string, T[]>): Record<string, T[]> =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, [...v]]));

/**
 * `prev` with a page of its events folded in, as a new object that shares nothing mutable with `prev` (React may
 * call a state updater twice; folding the same page onto the same `prev` twice must give the same result). Events
 * already folded (a page asked twice) are skipped by sequence number.
 */
export function foldEvents(prev: RunSeries, page: TrainingEventsPage): RunSeries {
  const s: RunSeries = {
    ...prev,
    status: page.status,
    updatedAt: page.updatedAt,
    error: page.error,
    steps: [...prev.steps],
    loss: [...prev.loss],
    lr: [...prev.lr],
    gradNorm: [...prev.gradNorm],
    tokensPerSecond: [...prev.tokensPerSecond],
    layerGradNorms: copyCols(prev.layerGradNorms),
    updateRatio: copyCols(prev.updateRatio),
    evals: Object.fromEntries(Object.entries(prev.evals).map(([k, v]) => [k, { steps: [...v.steps], values: [...v.values] }])),
    activations: Object.fromEntries(
      Object.entries(prev.activations).map(([k, a]) => [
        k,
        { steps: [...a.steps], mean: [...a.mean], std: [...a.std], maxAbs: [...a.maxAbs] },
      ]),
    ),
    checkpoints: [...prev.checkpoints],
    notices: [...prev.notices],
  };
  let { totalSteps, endReason } = prev;
  let seq = page.after;
  for (const e of page.events) {
    seq++;
    if (seq <= prev.last) continue;
    switch (e.kind) {
      case "start":
        totalSteps = e.totalSteps;
        break;
      case "step":
        pushLayers(s.layerGradNorms, s.steps.length, e.layerGradNorms);
        pushLayers(s.updateRatio, s.steps.length, e.updateRatio);
        s.steps.push(e.step);
        s.loss.push(e.loss);
        s.lr.push(e.lr);
        s.gradNorm.push(e.gradNorm);
        s.tokensPerSecond.push(e.tokensPerSecond);
        break;
      case "eval":
        for (const [k, v] of Object.entries(e.metrics)) {
          const m = (s.evals[k] ??= { steps: [], values: [] });
          m.steps.push(e.step);
          m.values.push(v);
        }
        break;
      case "activations":
        for (const l of e.layers) {
          const a = (s.activations[l.hook] ??= { steps: [], mean: [], std: [], maxAbs: [] });
          a.steps.push(e.step);
          a.mean.push(l.mean);
          a.std.push(l.std);
          a.maxAbs.push(l.maxAbs);
        }
        break;
      case "checkpoint":
        s.checkpoints.push({ step: e.step, id: e.id, name: e.name });
        break;
      case "end":
        endReason = e.reason;
        break;
      default:
        s.notices.push({ step: e.step, text: noticeText(e) });
    }
  }
  return { ...s, last: Math.max(prev.last, page.last), totalSteps, endReason };
}

function noticeText(
  e: Exclude<TrainingEvent, { kind: "start" | "step" | "eval" | "activations" | "checkpoint" | "end" }>,
): string {
  switch (e.kind) {
    case "anomaly":
      return `${e.what} (${e.action}): ${e.message}`;
    case "early_stop":
      return `early stop: ${e.metric} best ${e.best.toPrecision(4)} at step ${e.bestStep}`;
    case "dead_neurons":
      return `${e.count} of ${e.total} neurons dead at ${e.hook}`;
    case "exploding_activations":
      return `|x| ${e.maxAbs.toPrecision(3)} over ${e.threshold} at ${e.hook}`;
  }
}

/** The quantities a chart can show of a run. */
export type Metric =
  | { readonly kind: "loss" | "lr" | "gradNorm" | "tokensPerSecond" }
  | { readonly kind: "eval"; readonly name: string }
  | { readonly kind: "layerGradNorm" | "updateRatio"; readonly layer: string }
  | { readonly kind: "activation"; readonly hook: string; readonly stat: "mean" | "std" | "maxAbs" };

/** One metric of a run as a series over steps. */
export function seriesOf(r: RunSeries, m: Metric): Series {
  switch (m.kind) {
    case "loss":
    case "lr":
    case "gradNorm":
    case "tokensPerSecond":
      return { x: r.steps, y: r[m.kind] };
    case "eval": {
      const e = r.evals[m.name];
      return e === undefined ? { x: [], y: [] } : { x: e.steps, y: e.values };
    }
    case "layerGradNorm":
    case "updateRatio": {
      const col = (m.kind === "layerGradNorm" ? r.layerGradNorms : r.updateRatio)[m.layer];
      return col === undefined ? { x: [], y: [] } : { x: r.steps, y: col };
    }
    case "activation": {
      const a = r.activations[m.hook];
      return a === undefined ? { x: [], y: [] } : { x: a.steps, y: a[m.stat] };
    }
  }
}

/**
 * TensorBoard's smoothing: an exponential moving average with weight `w` in [0, 1), debiased (divided by 1 − wⁿ
 * after n values) so the curve starts at the data instead of at zero. Nulls and non-finite values pass through
 * and do not move the average.
 */
export function ema(y: readonly (number | null)[], w: number): (number | null)[] {
  if (!(w > 0)) return [...y];
  const weight = Math.min(w, 0.999);
  let last = 0;
  let n = 0;
  return y.map((v) => {
    if (v === null || !Number.isFinite(v)) return v;
    last = last * weight + (1 - weight) * v;
    n++;
    return last / (1 - weight ** n);
  });
}

/**
 * At most about `max` points: the x range cut into max / 2 buckets, each keeping its lowest and highest point in
 * step order, so a spike in a 100,000-step loss survives what an every-n-th sample would drop. Nulls are kept
 * only where a whole bucket has no value (a gap stays a gap).
 */
export function downsample(s: Series, max: number): Series {
  const n = s.x.length;
  if (n <= max || max < 4) return s;
  const buckets = Math.floor(max / 2);
  const x: number[] = [];
  const y: (number | null)[] = [];
  for (let b = 0; b < buckets; b++) {
    const from = Math.floor((b * n) / buckets);
    const to = Math.floor(((b + 1) * n) / buckets);
    let lo = -1;
    let hi = -1;
    for (let i = from; i < to; i++) {
      const v = s.y[i];
      if (v === null || v === undefined || !Number.isFinite(v)) continue;
      if (lo < 0 || v < (s.y[lo] as number)) lo = i;
      if (hi < 0 || v > (s.y[hi] as number)) hi = i;
    }
    if (lo < 0) {
      x.push(s.x[from] as number);
      y.push(null);
      continue;
    }
    for (const i of lo === hi ? [lo] : lo < hi ? [lo, hi] : [hi, lo]) {
      x.push(s.x[i] as number);
      y.push(s.y[i] as number);
    }
  }
  return { x, y };
}

/**
 * Several series on one x axis (the union of their steps, ascending): uPlot's aligned data, [x, y₀, y₁, …] with
 * null where a series has no point at that step. With `log`, values ≤ 0 become null (a log axis cannot place them).
 */
export function align(series: readonly Series[], log = false): [number[], ...(number | null)[][]] {
  const xs = [...new Set(series.flatMap((s) => s.x))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const ys = series.map((s) => {
    const col = new Array<number | null>(xs.length).fill(null);
    s.x.forEach((x, i) => {
      const v = s.y[i] ?? null;
      col[at.get(x) as number] = v === null || !Number.isFinite(v) || (log && v <= 0) ? null : v;
    });
    return col;
  });
  return [xs, ...ys];
}

/** How long, in whole seconds, since the writer last recorded anything (by the server's clock). */
export const quietSeconds = (updatedAt: string, now: string): number =>
  Math.max(0, Math.floor((Date.parse(now) - Date.parse(updatedAt)) / 1000));

/** A running run whose writer has been quiet this long is shown as possibly dead. */
export const QUIET_AFTER_S = 30;

/** A run's state in words: "running", "no events for 95 s" (its process may have died), "done", "stopped", "failed". */
export function statusText(r: Pick<TrainingRunSummary, "status" | "updatedAt">, now: string): string {
  if (r.status === "running") {
    const q = quietSeconds(r.updatedAt, now);
    return q >= QUIET_AFTER_S ? `running? no events for ${q} s` : "running";
  }
  return r.status === "aborted" ? "stopped" : r.status;
}

/** "120 / 500" or "120". */
export const progressText = (r: Pick<TrainingRunSummary, "step" | "totalSteps">): string =>
  r.step === null ? "–" : r.totalSteps === null ? String(r.step) : `${r.step} / ${r.totalSteps}`;

/** The layer keys of runs, numeric ones in order first ("0", "1", …, "10"), then the others ("lm_head", "wte"). */
export function layersOf(runs: readonly RunSeries[], which: "layerGradNorms" | "updateRatio"): string[] {
  const keys = new Set(runs.flatMap((r) => Object.keys(r[which])));
  const numeric = (k: string) => /^[0-9]+$/.test(k);
  return [...keys].sort((a, b) =>
    numeric(a) && numeric(b) ? Number(a) - Number(b) : numeric(a) ? -1 : numeric(b) ? 1 : a.localeCompare(b),
  );
}

export const hooksOf = (runs: readonly RunSeries[]): string[] =>
  [...new Set(runs.flatMap((r) => Object.keys(r.activations)))].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));

export const evalNamesOf = (runs: readonly RunSeries[]): string[] =>
  [...new Set(runs.flatMap((r) => Object.keys(r.evals)))].sort();

/** Distinct colours for runs (and layers), cycling. */
export const PALETTE = [
  "#0969da",
  "#cf222e",
  "#1a7f37",
  "#8250df",
  "#bc4c00",
  "#1b7c83",
  "#bf3989",
  "#4d2d00",
  "#9a6700",
  "#6e7781",
];
export const colorOf = (i: number): string => PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length] as string;

// ---- REST ----

async function answer<T>(res: Response): Promise<T> {
  if (!res.ok) throw new Error(`${res.status}: ${(await res.text()).trim()}`);
  return (await res.json()) as T;
}

/** The training runs (running first). */
export const fetchTrainingRuns = async (): Promise<TrainingRunsPage> =>
  answer<TrainingRunsPage>(await fetch("/api/training", { credentials: "same-origin", cache: "no-store" }));

/** One page of a run's events after `after`. */
export const fetchEvents = async (run: number, after: number): Promise<TrainingEventsPage> =>
  answer<TrainingEventsPage>(
    await fetch(`/api/runs/${run}/events?after=${after}`, { credentials: "same-origin", cache: "no-store" }),
  );

/** Every event of `s.run` after what it holds (following `more` pages), folded in. */
export async function catchUp(s: RunSeries, fetchPage = fetchEvents): Promise<RunSeries> {
  let cur = s;
  for (let i = 0; i < 1000; i++) {
    const page = await fetchPage(cur.run, cur.last);
    cur = foldEvents(cur, page);
    if (!page.more) break;
  }
  return cur;
}
