// Training: the run store's training runs (running first) with their status, step and latest loss; pick one or
// several and their curves are drawn and kept up to date while they run — the list and the selected runs' new
// events are polled once a second (REST, see the server's training.ts for why) — overlaid run against run with a
// legend: training and evaluation loss with the checkpoints marked, learning rate, global gradient norm, tokens/s,
// per-layer gradient norms and update ratios, and activation mean/std/max per hook point, each with a layer or hook
// picker. A smoothing slider (TensorBoard's debiased EMA, the raw curve faded behind) and a log scale apply to all.
// Checkpoints are listed by step, name and id; a failed run shows its error, a silent running one how long it has
// been silent.
import type { TrainingRunSummary } from "@llmdbg/protocol";
import { useEffect, useRef, useState } from "react";
import { num } from "../format.js";
import type { Reopened } from "../reopen.js";
import {
  align,
  catchUp,
  colorOf,
  downsample,
  ema,
  emptySeries,
  evalNamesOf,
  fetchTrainingRuns,
  hooksOf,
  layersOf,
  type Metric,
  progressText,
  type RunSeries,
  type Series,
  seriesOf,
  statusText,
} from "../training.js";
import { Chart, type ChartLine, type ChartProps } from "./Chart.js";

/** points per drawn series: a chart is a few hundred pixels wide */
const MAX_POINTS = 2000;
const POLL_MS = 1000;

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** One curve: which run and metric, its label and colour. */
interface Curve {
  readonly run: RunSeries;
  readonly metric: Metric;
  readonly label: string;
  readonly color: string;
  readonly dashed?: boolean;
  readonly points?: boolean;
  /** smoothed, with the raw values faded behind */
  readonly smooth?: boolean;
}

/** Curves as a chart's aligned data and lines: smoothing, then downsampling, then one step axis. */
function chartOf(curves: readonly Curve[], smoothing: number, log: boolean): Pick<ChartProps, "data" | "lines"> {
  const series: Series[] = [];
  const lines: ChartLine[] = [];
  for (const c of curves) {
    const raw = seriesOf(c.run, c.metric);
    if (c.smooth === true && smoothing > 0) {
      series.push(downsample(raw, MAX_POINTS));
      lines.push({ label: `${c.label} (raw)`, color: c.color, faded: true });
      series.push(downsample({ x: raw.x, y: ema(raw.y, smoothing) }, MAX_POINTS));
    } else series.push(downsample(raw, MAX_POINTS));
    lines.push({ label: c.label, color: c.color, ...(c.dashed && { dashed: true }), ...(c.points && { points: true }) });
  }
  return { data: align(series, log), lines };
}

export function TrainingView({ active, reopened = null }: { active: boolean; reopened?: Reopened | null }) {
  const [runs, setRuns] = useState<readonly TrainingRunSummary[] | null>(null);
  const [now, setNow] = useState(new Date().toISOString());
  const [selected, setSelected] = useState<readonly number[]>([]);
  const [series, setSeries] = useState<Readonly<Record<number, RunSeries>>>({});
  const [smoothing, setSmoothing] = useState(0.6);
  const [log, setLog] = useState(false);
  const [layer, setLayer] = useState("");
  const [hook, setHook] = useState("");
  const [error, setError] = useState<string | null>(null);
  const polling = useRef(false);
  // a training run reopened from the Runs view is selected (alone), and its curves load with the next poll
  const reopenedN = reopened?.n;
  // biome-ignore lint/correctness/useExhaustiveDependencies: once per reopening
  useEffect(() => {
    if (reopened !== null && reopened.run.kind === "train") setSelected([reopened.run.id]);
  }, [reopenedN]);
  const state = useRef({ selected, series });
  state.current = { selected, series };

  // one poll: the list, then every selected run that may have news (running, or never read, or behind)
  useEffect(() => {
    if (!active) return;
    let stop = false;
    const poll = async () => {
      if (polling.current) return;
      polling.current = true;
      try {
        const page = await fetchTrainingRuns();
        if (stop) return;
        setRuns(page.runs);
        setNow(page.now);
        setError(null);
        const { selected: sel, series: have } = state.current;
        // the first look selects the newest run, running ones first
        if (sel.length === 0 && Object.keys(have).length === 0 && page.runs[0] !== undefined) setSelected([page.runs[0].id]);
        for (const id of sel) {
          const s = have[id];
          const listed = page.runs.find((r) => r.id === id);
          const behind = s === undefined || s.status === "running" || (listed !== undefined && s.last + 1 < listed.events);
          if (!behind) continue;
          const next = await catchUp(s ?? emptySeries(id));
          if (stop) return;
          setSeries((cur) => ({ ...cur, [id]: next }));
        }
      } catch (e) {
        if (!stop) setError(message(e));
      } finally {
        polling.current = false;
      }
    };
    void poll();
    const timer = setInterval(() => void poll(), POLL_MS);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [active]);

  // a run just selected is read at once, not at the next tick
  useEffect(() => {
    for (const id of selected) {
      if (series[id] !== undefined) continue;
      catchUp(emptySeries(id)).then(
        (s) => setSeries((cur) => (cur[id] === undefined ? { ...cur, [id]: s } : cur)),
        (e: unknown) => setError(message(e)),
      );
    }
  }, [selected, series]);

  const toggle = (id: number) => setSelected((cur) => (cur.includes(id) ? cur.filter((x) => x !== id) : [...cur, id]));

  const shown = selected.map((id) => series[id]).filter((s): s is RunSeries => s !== undefined);
  const colorOfRun = (r: RunSeries) => colorOf(selected.indexOf(r.run));
  const single = shown.length === 1;
  const runLabel = (r: RunSeries) => `run ${r.run}`;
  const layers = layersOf(shown, "layerGradNorms");
  const hooks = hooksOf(shown);
  const evalNames = evalNamesOf(shown);

  // recomputed on each render: a render follows a poll (once a second) or a control, and smoothing and aligning a
  // few series of at most MAX_POINTS each is far below a frame
  const charts = (() => {
    const scalar = (kind: "loss" | "lr" | "gradNorm" | "tokensPerSecond", smooth: boolean): Curve[] =>
      shown.map((r) => ({ run: r, metric: { kind }, label: runLabel(r), color: colorOfRun(r), smooth }));
    const loss: Curve[] = shown.flatMap((r) => [
      { run: r, metric: { kind: "loss" }, label: `${runLabel(r)} train`, color: colorOfRun(r), smooth: true },
      ...(r.evals.loss === undefined
        ? []
        : [
            {
              run: r,
              metric: { kind: "eval", name: "loss" },
              label: `${runLabel(r)} eval`,
              color: colorOfRun(r),
              dashed: true,
              points: true,
            } as Curve,
          ]),
    ]);
    // per layer: one layer, run against run; all layers: one line per layer (and run), coloured by layer when one run
    const perLayer = (kind: "layerGradNorm" | "updateRatio"): Curve[] =>
      shown.flatMap((r) =>
        // a run's own layers only: runs of different models need not share them
        (layer === "" ? layers : [layer])
          .filter((l) => Object.hasOwn(kind === "layerGradNorm" ? r.layerGradNorms : r.updateRatio, l))
          .map((l, i) => ({
            run: r,
            metric: { kind, layer: l },
            label: single ? `layer ${l}` : `${runLabel(r)} · ${l}`,
            color: single || layer !== "" ? colorOf(single ? i : selected.indexOf(r.run)) : colorOfRun(r),
            // several runs' layers share a run's colour: every other layer dashed
            ...(!single && layer === "" && i % 2 === 1 && { dashed: true }),
            smooth: true,
          })),
      );
    const perHook = (stat: "mean" | "std" | "maxAbs"): Curve[] =>
      shown.flatMap((r) =>
        (hook === "" ? hooks : [hook])
          .filter((h) => Object.hasOwn(r.activations, h))
          .map((h, i) => ({
            run: r,
            metric: { kind: "activation", hook: h, stat },
            label: single ? h : `${runLabel(r)} · ${h}`,
            color: single ? colorOf(i) : colorOfRun(r),
            ...(!single && hook === "" && i % 2 === 1 && { dashed: true }),
            points: true,
          })),
      );
    const otherEvals = evalNames.filter((n) => n !== "loss");
    return {
      loss: chartOf(loss, smoothing, log),
      lr: chartOf(scalar("lr", false), 0, log),
      gradNorm: chartOf(scalar("gradNorm", true), smoothing, log),
      tokensPerSecond: chartOf(scalar("tokensPerSecond", true), smoothing, log),
      layerGradNorm: chartOf(perLayer("layerGradNorm"), smoothing, log),
      updateRatio: chartOf(perLayer("updateRatio"), smoothing, log),
      evals: otherEvals.map((name) => ({
        name,
        chart: chartOf(
          shown.map((r) => ({ run: r, metric: { kind: "eval", name }, label: runLabel(r), color: colorOfRun(r), points: true })),
          0,
          log,
        ),
      })),
      mean: chartOf(perHook("mean"), 0, false),
      std: chartOf(perHook("std"), 0, log),
      maxAbs: chartOf(perHook("maxAbs"), 0, log),
    };
  })();

  const markers = [...new Set(shown.flatMap((r) => r.checkpoints.map((c) => c.step)))];

  return (
    <div className="training">
      <p className="muted">
        Runs of <code>llmdbg train</code> recorded in this server's run store, followed live (polled every second).
      </p>
      {error !== null && <p className="error">{error}</p>}
      {runs !== null && runs.length === 0 && (
        <p className="muted" data-testid="training-empty">
          No training runs yet: <code>llmdbg train run.json</code> records one here as it trains.
        </p>
      )}
      <table className="training-runs" data-testid="training-runs">
        <thead>
          <tr>
            <th />
            <th>run</th>
            <th>status</th>
            <th>step</th>
            <th>loss</th>
            <th>eval loss</th>
            <th>tokens/s</th>
            <th>checkpoints</th>
            <th>model</th>
            <th>started</th>
          </tr>
        </thead>
        <tbody>
          {(runs ?? []).map((r) => (
            <tr key={r.id} data-testid="training-row" data-run={r.id} className={selected.includes(r.id) ? "active" : undefined}>
              <td>
                <input
                  type="checkbox"
                  data-testid="training-select"
                  aria-label={`show run ${r.id}`}
                  checked={selected.includes(r.id)}
                  onChange={() => toggle(r.id)}
                />
                {selected.includes(r.id) && <span className="swatch" style={{ borderColor: colorOf(selected.indexOf(r.id)) }} />}
              </td>
              <td>{r.id}</td>
              <td data-testid="training-status" className={`status-${r.status}`} title={r.error ?? undefined}>
                {statusText(r, now)}
              </td>
              <td data-testid="training-step">{progressText(r)}</td>
              <td>{num(r.loss, 4)}</td>
              <td>{num(r.evalLoss, 4)}</td>
              <td>{r.tokensPerSecond === null ? "–" : Math.round(r.tokensPerSecond)}</td>
              <td>{r.checkpoints}</td>
              <td>{r.model ?? "(new)"}</td>
              <td>{new Date(r.createdAt).toLocaleString()}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {shown.length > 0 && (
        <>
          <div className="controls">
            <label>
              smoothing{" "}
              <input
                type="range"
                min={0}
                max={0.99}
                step={0.01}
                value={smoothing}
                data-testid="training-smoothing"
                onChange={(e) => setSmoothing(Number(e.target.value))}
              />{" "}
              {smoothing.toFixed(2)}
            </label>
            <label>
              <input type="checkbox" checked={log} data-testid="training-log" onChange={(e) => setLog(e.target.checked)} /> log
              scale
            </label>
            <label>
              layer{" "}
              <select value={layer} data-testid="training-layer" onChange={(e) => setLayer(e.target.value)}>
                <option value="">all</option>
                {layers.map((l) => (
                  <option key={l} value={l}>
                    {l}
                  </option>
                ))}
              </select>
            </label>
            <label>
              hook point{" "}
              <select value={hook} data-testid="training-hook" onChange={(e) => setHook(e.target.value)}>
                <option value="">all</option>
                {hooks.map((h) => (
                  <option key={h} value={h}>
                    {h}
                  </option>
                ))}
              </select>
            </label>
          </div>
          {shown
            .filter((r) => r.error !== null || r.notices.length > 0)
            .map((r) => (
              <div key={r.run} className="training-notices" data-testid="training-notices">
                {r.error !== null && (
                  <p className="error">
                    run {r.run} failed: {r.error}
                  </p>
                )}
                {r.notices.slice(-5).map((n) => (
                  <p key={`${n.step}-${n.text}`} className="muted">
                    run {r.run}, step {n.step}: {n.text}
                  </p>
                ))}
              </div>
            ))}
          <div className="charts">
            <Chart
              title="loss (train, eval dashed; checkpoints marked)"
              {...charts.loss}
              log={log}
              markers={markers}
              testId="chart-loss"
            />
            <Chart title="learning rate" {...charts.lr} log={log} testId="chart-lr" />
            <Chart title="gradient norm (global, before clipping)" {...charts.gradNorm} log={log} testId="chart-grad" />
            <Chart title="tokens / s" {...charts.tokensPerSecond} log={log} testId="chart-tps" />
            <Chart
              title={`gradient norm per layer${layer === "" ? "" : ` (${layer})`}`}
              {...charts.layerGradNorm}
              log={log}
              testId="chart-layer-grad"
            />
            <Chart
              title={`update ratio ‖Δw‖/‖w‖${layer === "" ? "" : ` (${layer})`}`}
              {...charts.updateRatio}
              log={log}
              testId="chart-update"
            />
            {charts.evals.map((e) => (
              <Chart key={e.name} title={`eval ${e.name}`} {...e.chart} log={log} testId={`chart-eval-${e.name}`} />
            ))}
            {hooks.length > 0 && (
              <>
                <Chart title="activation mean" {...charts.mean} testId="chart-act-mean" />
                <Chart title="activation std" {...charts.std} log={log} testId="chart-act-std" />
                <Chart title="activation max |x|" {...charts.maxAbs} log={log} testId="chart-act-max" />
              </>
            )}
          </div>
          {hooks.length === 0 && (
            <p className="muted">
              No activation statistics: set "activationsEvery" in the run's training options to record them.
            </p>
          )}
          <h4>checkpoints</h4>
          <table className="training-checkpoints" data-testid="training-checkpoints">
            <thead>
              <tr>
                <th>run</th>
                <th>step</th>
                <th>name</th>
                <th>id</th>
              </tr>
            </thead>
            <tbody>
              {shown.flatMap((r) =>
                r.checkpoints.map((c) => (
                  <tr key={`${r.run}-${c.step}-${c.id}`} data-testid="checkpoint-row">
                    <td>{r.run}</td>
                    <td>{c.step}</td>
                    <td>{c.name}</td>
                    <td>{c.id ?? "–"}</td>
                  </tr>
                )),
              )}
            </tbody>
          </table>
          {shown.every((r) => r.checkpoints.length === 0) && (
            <p className="muted">No checkpoints ("checkpointEvery" writes them).</p>
          )}
        </>
      )}
    </div>
  );
}
