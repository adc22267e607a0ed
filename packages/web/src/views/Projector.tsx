// The projector (after TensorBoard's Embedding Projector and LIT's embeddings module): a dataset the user pastes or
// picks (read here, sent inline: never a path), a hook point's activations over it projected by PCA or UMAP
// (`projection`), a scatter plot coloured by label, prediction or example, a lasso whose points against the rest
// train a probe (`projection_probe`), and that probe's direction exported (JSON, safetensors) or added at once to
// the workbench's prompt with a coefficient slider (`run` with an `add` intervention).
import type {
  DatasetInfo,
  ModelInfo,
  ProjectionExample,
  ProjectionProbeResult,
  ProjectionResult,
  RunResult,
} from "@llmdbg/protocol";
import { useEffect, useMemo, useRef, useState } from "react";
import { fetchExamples } from "../datasets.js";
import { num, pct, visible } from "../format.js";
import {
  type ColorBy,
  colorPoints,
  cssColor,
  decodeProjection,
  describePoint,
  type Points,
  parseDataset,
  probeSides,
  safetensorsOf,
} from "../projector.js";
import type { RpcClient } from "../rpc.js";
import { selectInPolygon } from "../scatter.js";
import type { Shared } from "../state.js";
import { progressText, useJob } from "../useJob.js";
import { type PlotStats, type ScatterHandle, ScatterPlot } from "./ScatterPlot.js";

/** points per side of a probe (a seeded sample beyond it) */
const PROBE_SIDE = 2000;
const W = 760;
/** what one WebSocket message may hold (the server's default cap is 4 MiB; room left for the envelope) */
const MAX_REQUEST_BYTES = 3.5 * 2 ** 20;
const H = 480;

/** The hook points offered: the embedding and each block's residual stream, in and out. */
function hookOptions(m: ModelInfo): string[] {
  const out = ["hook_embed"];
  for (let l = 0; l < m.nLayers; l++) out.push(`blocks.${l}.hook_resid_pre`, `blocks.${l}.hook_resid_post`);
  return out;
}

/** 100,000 points in a few Gaussian blobs, for the benchmark (seeded, so every run draws the same picture). */
function syntheticPoints(n: number): Points {
  let a = 12345;
  const rand = () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 4294967296;
  };
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const xy = new Float32Array(2 * n);
  const label = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 5;
    label[i] = c;
    xy[2 * i] = 4 * Math.cos(c) + gauss();
    xy[2 * i + 1] = 4 * Math.sin(c) + gauss();
  }
  const zeros = new Int32Array(n);
  return {
    count: n,
    xy,
    example: label,
    position: zeros,
    token: zeros,
    prediction: zeros,
    label,
    labels: ["a", "b", "c", "d", "e"],
    vocab: new Map(),
  };
}

declare global {
  interface Window {
    /** the benchmark's hook (bench/projector.ts): n synthetic points, then pan and zoom for ms */
    __llmdbgProjectorBench?: (n: number, ms: number) => Promise<PlotStats>;
  }
}

export function ProjectorView({ rpc, shared }: { rpc: RpcClient; shared: Shared }) {
  const { model, prompt } = shared;
  const [source, setSource] = useState("");
  const [hook, setHook] = useState(`blocks.${Math.max(0, model.nLayers - 1)}.hook_resid_post`);
  const [pointsMode, setPointsMode] = useState<"tokens" | "last" | "mean">("tokens");
  const [method, setMethod] = useState<"pca" | "umap">("pca");
  const [nNeighbors, setNNeighbors] = useState(15);
  const [minDist, setMinDist] = useState(0.1);
  const [seed, setSeed] = useState(0);
  const [maxPoints, setMaxPoints] = useState(100_000);
  const [colorBy, setColorBy] = useState<ColorBy>("label");
  const [tool, setTool] = useState<"pan" | "lasso">("pan");
  const [result, setResult] = useState<{ r: ProjectionResult; points: Points; dataset: ProjectionExample[] } | null>(null);
  const [selected, setSelected] = useState<Uint8Array | null>(null);
  const [probe, setProbe] = useState<ProjectionProbeResult | null>(null);
  const [coeff, setCoeff] = useState(1);
  const [steered, setSteered] = useState<{ clean: RunResult; steered: RunResult; coeff: number; slider: number } | null>(null);
  const [inputError, setInputError] = useState<string | null>(null);
  const [served, setServed] = useState<readonly DatasetInfo[]>([]);
  const [servedId, setServedId] = useState("");
  const [loading, setLoading] = useState(false);
  const projJob = useJob();
  const probeJob = useJob();
  const steerJob = useJob();
  const plot = useRef<ScatterHandle | null>(null);

  const parsed = useMemo(() => parseDataset(source), [source]);
  const points = result?.points ?? null;
  const colored = useMemo(() => (points === null ? null : colorPoints(points, colorBy)), [points, colorBy]);
  const nSelected = useMemo(() => (selected === null ? 0 : selected.reduce((s, v) => s + v, 0)), [selected]);

  // the benchmark's hook: synthetic points in this very plot, then its own pan/zoom loop
  useEffect(() => {
    window.__llmdbgProjectorBench = async (n, ms) => {
      setResult({ r: { kind: "projection" } as ProjectionResult, points: syntheticPoints(n), dataset: [] });
      setSelected(null);
      await new Promise((r) => setTimeout(r, 100));
      const handle = plot.current;
      if (handle === null) throw new Error("the projector's plot is not mounted");
      return handle.animate(ms);
    };
    return () => {
      delete window.__llmdbgProjectorBench;
    };
  }, []);

  // the datasets the server holds (the demo's held-out sets, --dataset files, uploads), listed at mount and again
  // whenever the picker gets focus (an upload in the Datasets view shows up); one loads into the box, so the
  // request still carries its examples inline like a pasted one
  const listServed = () => {
    rpc.call("datasets.list", {}).then(
      (r) => setServed(r.datasets),
      () => setServed([]),
    );
  };
  const listRef = useRef(listServed);
  listRef.current = listServed;
  useEffect(() => listRef.current(), []);
  const loadServed = () => {
    if (servedId === "") return;
    setLoading(true);
    setInputError(null);
    fetchExamples(servedId, () => {}).then(
      (rows) => {
        setLoading(false);
        setSource(
          rows.map((r) => JSON.stringify(r.label === null ? { text: r.text } : { text: r.text, label: r.label })).join("\n"),
        );
      },
      (e: unknown) => {
        setLoading(false);
        setInputError(e instanceof Error ? e.message : String(e));
      },
    );
  };

  const project = () => {
    if ("error" in parsed) return setInputError(parsed.error);
    setInputError(null);
    const dataset = parsed.examples;
    const request = {
      kind: "projection",
      hook,
      dataset,
      points: pointsMode,
      method,
      maxPoints: method === "umap" ? Math.min(maxPoints, 5000) : maxPoints,
      ...(method === "umap" && { umap: { nNeighbors, minDist, seed } }),
    } as const;
    // the server closes a socket whose message passes its cap (4 MiB by default): refuse here, with the reason
    const bytes = new TextEncoder().encode(JSON.stringify(request)).length;
    if (bytes > MAX_REQUEST_BYTES)
      return setInputError(
        `the request would be ${(bytes / 2 ** 20).toFixed(1)} MiB, over the ${MAX_REQUEST_BYTES / 2 ** 20} MiB a message may hold: use fewer or shorter lines`,
      );
    projJob.start(
      (o) => rpc.call("method", { model: model.id, request }, o),
      (r) => {
        if (r.kind !== "projection") throw new Error(`expected a projection, got ${r.kind}`);
        setResult({ r, points: decodeProjection(r), dataset });
        setSelected(null);
        setProbe(null);
        setSteered(null);
      },
    );
  };

  const trainProbe = () => {
    if (result === null || selected === null) return;
    const { inside, outside } = probeSides(result.points, selected, PROBE_SIDE, seed);
    const request = {
      kind: "projection_probe",
      hook: result.r.hook,
      dataset: result.dataset,
      points: result.r.points,
      inside,
      outside,
    } as const;
    probeJob.start(
      (o) => rpc.call("method", { model: model.id, request }, o),
      (r) => {
        if (r.kind !== "projection_probe") throw new Error(`expected a probe, got ${r.kind}`);
        setProbe(r);
        setSteered(null);
      },
    );
  };

  // the direction added to the workbench's prompt: a clean and a steered run, the slider's coefficient × the gap
  const applyRef = useRef<(c: number) => void>(() => {});
  applyRef.current = (c: number) => {
    if (probe === null || prompt === "") return;
    const coefficient = c * probe.gap;
    const intervention = { kind: "add", hook: probe.hook, vector: probe.direction, coeff: coefficient } as const;
    steerJob.start(
      async (o) => {
        const clean = await rpc.call("run", { model: model.id, input: { text: prompt }, topK: 5 }, o);
        const steered = await rpc.call(
          "run",
          { model: model.id, input: { text: prompt }, topK: 5, interventions: [intervention] },
          o,
        );
        return { clean, steered, coeff: coefficient, slider: c };
      },
      (r) => setSteered(r),
    );
  };
  // once applied, every move of the slider applies again after a short pause (not the move that applied it)
  const live = steered !== null;
  const appliedAt = steered?.slider ?? null;
  useEffect(() => {
    if (!live || appliedAt === coeff) return;
    const t = setTimeout(() => applyRef.current(coeff), 150);
    return () => clearTimeout(t);
  }, [coeff, live, appliedAt]);

  const download = (bytes: Uint8Array | string, name: string, type: string) => {
    const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type }));
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  const exportName = probe === null ? "" : `${model.id}-${probe.hook}-direction`.replace(/[^\w.-]+/g, "_");

  return (
    <div className="projector">
      <div className="projector-input">
        <label>
          dataset: JSONL of {"{"}"text", "label"{"}"} or one text a line (read here, sent with the request)
          <textarea
            data-testid="projector-data"
            rows={5}
            value={source}
            placeholder={
              '{"text": "I loved this film", "label": "positive"}\n{"text": "Dull and far too long", "label": "negative"}'
            }
            onChange={(e) => setSource(e.target.value)}
          />
        </label>
        <input
          type="file"
          accept=".jsonl,.json,.txt,text/plain"
          data-testid="projector-file"
          onChange={(e) => {
            const f = e.target.files?.[0];
            if (f !== undefined) void f.text().then(setSource);
          }}
        />
        <span>
          <select
            data-testid="projector-served"
            value={servedId}
            onFocus={listServed}
            onChange={(e) => setServedId(e.target.value)}
          >
            <option value="">{served.length === 0 ? "no dataset on the server" : "a dataset the server holds…"}</option>
            {served.map((d) => (
              <option key={d.id} value={d.id}>
                {d.id} ({d.count.toLocaleString()} examples)
              </option>
            ))}
          </select>{" "}
          <button type="button" data-testid="projector-load" disabled={servedId === "" || loading} onClick={loadServed}>
            {loading ? "loading…" : "load"}
          </button>
        </span>
        <span className="muted">
          {"error" in parsed ? (source === "" ? "" : parsed.error) : `${parsed.examples.length} examples`}
        </span>
      </div>
      <div className="controls">
        <label>
          hook{" "}
          <select data-testid="projector-hook" value={hook} onChange={(e) => setHook(e.target.value)}>
            {hookOptions(model).map((h) => (
              <option key={h} value={h}>
                {h}
              </option>
            ))}
          </select>
        </label>
        <label>
          points{" "}
          <select value={pointsMode} onChange={(e) => setPointsMode(e.target.value as typeof pointsMode)}>
            <option value="tokens">every token</option>
            <option value="last">last token</option>
            <option value="mean">mean over tokens</option>
          </select>
        </label>
        <label>
          method{" "}
          <select data-testid="projector-method" value={method} onChange={(e) => setMethod(e.target.value as "pca" | "umap")}>
            <option value="pca">PCA</option>
            <option value="umap">UMAP (≤ 5,000 points)</option>
          </select>
        </label>
        {method === "umap" && (
          <>
            <label>
              neighbours{" "}
              <input type="number" min={2} max={200} value={nNeighbors} onChange={(e) => setNNeighbors(Number(e.target.value))} />
            </label>
            <label>
              min dist{" "}
              <input
                type="number"
                min={0}
                max={1}
                step={0.05}
                value={minDist}
                onChange={(e) => setMinDist(Number(e.target.value))}
              />
            </label>
          </>
        )}
        <label>
          seed <input type="number" min={0} value={seed} onChange={(e) => setSeed(Number(e.target.value))} />
        </label>
        <label>
          max points{" "}
          <input type="number" min={2} max={100000} value={maxPoints} onChange={(e) => setMaxPoints(Number(e.target.value))} />
        </label>
        <button type="button" data-testid="run-projector" disabled={projJob.running} onClick={project}>
          Project
        </button>
        {projJob.running && <span className="status">{progressText(projJob.progress)}</span>}
      </div>
      {inputError !== null && <p className="error">dataset: {inputError}</p>}
      {projJob.error !== null && projJob.error !== "stopped" && <p className="error">projection: {projJob.error}</p>}
      {result !== null && points !== null && colored !== null && (
        <div className="projector-main">
          <div>
            <div className="controls">
              <label>
                colour by{" "}
                <select data-testid="projector-color" value={colorBy} onChange={(e) => setColorBy(e.target.value as ColorBy)}>
                  <option value="label">label</option>
                  <option value="prediction">prediction</option>
                  <option value="example">example (slice)</option>
                </select>
              </label>
              <button
                type="button"
                data-testid="projector-tool"
                className={tool === "lasso" ? "active" : ""}
                onClick={() => setTool(tool === "lasso" ? "pan" : "lasso")}
              >
                {tool === "lasso" ? "lasso (drag to select)" : "pan (drag; shift-drag: lasso)"}
              </button>
              {selected !== null && (
                <button type="button" onClick={() => setSelected(null)}>
                  clear selection
                </button>
              )}
            </div>
            <ScatterPlot
              ref={plot}
              testId="projector-canvas"
              xy={points.xy}
              colors={colored.colors}
              selected={selected}
              tool={tool}
              width={W}
              height={H}
              onLasso={(poly) => {
                setSelected(selectInPolygon(points.xy, poly));
                setProbe(null);
                setSteered(null);
              }}
              describe={(i) => {
                const d = describePoint(points, i, result.dataset);
                return (
                  <>
                    <b>{visible(d.token)}</b> <span className="muted">{d.where}</span>
                    <div>
                      label {d.label} · predicts {visible(d.prediction)}
                    </div>
                    <div className="muted">{d.context}</div>
                  </>
                );
              }}
            />
            <p className="muted" data-testid="projector-summary">
              {result.r.method === undefined
                ? `${points.count.toLocaleString()} synthetic points`
                : `${result.r.count.toLocaleString()} points${result.r.count < result.r.total ? ` (a sample of ${result.r.total.toLocaleString()})` : ""} · ${result.r.hook} (d = ${result.r.dim}) · ${result.r.method.toUpperCase()}`}
              {result.r.explainedVariance !== null &&
                result.r.explainedVariance !== undefined &&
                ` · explained variance PC1 ${pct(result.r.explainedVariance[0] ?? 0)}, PC2 ${pct(result.r.explainedVariance[1] ?? 0)}`}
              {result.r.umap !== null &&
                result.r.umap !== undefined &&
                ` · ${result.r.umap.nNeighbors} neighbours, min dist ${result.r.umap.minDist}, seed ${result.r.umap.seed}, ${result.r.umap.epochs} epochs`}
            </p>
          </div>
          <div className="projector-side">
            <ul className="legend" data-testid="projector-legend">
              {colored.legend.map((e) => (
                <li key={e.name}>
                  <span className="swatch" style={{ background: cssColor(e.rgb) }} /> {visible(e.name)}{" "}
                  <span className="muted">{e.count.toLocaleString()}</span>
                </li>
              ))}
            </ul>
            <h4>Probe a region</h4>
            <p data-testid="projector-selected">
              {nSelected === 0
                ? "Lasso a region of the plot to select points."
                : `${nSelected.toLocaleString()} of ${points.count.toLocaleString()} points selected`}
            </p>
            <button
              type="button"
              data-testid="projector-probe"
              disabled={nSelected < 2 || points.count - nSelected < 2 || probeJob.running || result.r.method === undefined}
              onClick={trainProbe}
            >
              Train probe: inside vs outside
            </button>
            {probeJob.running && <span className="status">{progressText(probeJob.progress)}</span>}
            {probeJob.error !== null && probeJob.error !== "stopped" && <p className="error">probe: {probeJob.error}</p>}
            {probe !== null && (
              <div data-testid="projector-probe-result">
                <p data-testid="projector-accuracy">
                  accuracy: train {pct(probe.trainAccuracy)}, validation {pct(probe.validationAccuracy)} ({probe.insideCount}{" "}
                  inside, {probe.outsideCount} outside) · gap along the direction {num(probe.gap, 2)}
                </p>
                <div className="controls">
                  <button
                    type="button"
                    onClick={() =>
                      download(
                        JSON.stringify({ hook: probe.hook, model: model.id, direction: probe.direction, gap: probe.gap }),
                        `${exportName}.json`,
                        "application/json",
                      )
                    }
                  >
                    download JSON
                  </button>
                  <button
                    type="button"
                    onClick={() =>
                      download(
                        safetensorsOf("direction", probe.direction, {
                          hook: probe.hook,
                          model: model.id,
                          gap: String(probe.gap),
                        }),
                        `${exportName}.safetensors`,
                        "application/octet-stream",
                      )
                    }
                  >
                    download safetensors
                  </button>
                </div>
                <h4>Steer with it</h4>
                <label>
                  coefficient × gap{" "}
                  <input
                    type="range"
                    data-testid="projector-coeff"
                    min={-3}
                    max={3}
                    step={0.25}
                    value={coeff}
                    onChange={(e) => setCoeff(Number(e.target.value))}
                  />{" "}
                  <span className="coeff">{coeff.toFixed(2)}</span>
                </label>{" "}
                <button
                  type="button"
                  data-testid="projector-apply"
                  disabled={prompt === ""}
                  onClick={() => applyRef.current(coeff)}
                >
                  Apply to the workbench prompt
                </button>
                {steerJob.running && <span className="status">{progressText(steerJob.progress)}</span>}
                {steerJob.error !== null && steerJob.error !== "stopped" && <p className="error">steering: {steerJob.error}</p>}
                {steered !== null && (
                  <SteeredPredictions clean={steered.clean} steered={steered.steered} coeff={steered.coeff} hook={probe.hook} />
                )}
              </div>
            )}
          </div>
        </div>
      )}
    </div>
  );
}

/** The last position's top predictions without and with the direction added at every position. */
function SteeredPredictions({
  clean,
  steered,
  coeff,
  hook,
}: {
  clean: RunResult;
  steered: RunResult;
  coeff: number;
  hook: string;
}) {
  const last = <T,>(xs: readonly T[]) => xs[xs.length - 1];
  const a = last(clean.positions)?.top ?? [];
  const b = last(steered.positions)?.top ?? [];
  return (
    <div data-testid="projector-steered">
      <p className="muted">
        {hook} + {num(coeff, 2)} × direction, at every position of the workbench prompt; next-token predictions:
      </p>
      <table className="preds">
        <thead>
          <tr>
            <th>without</th>
            <th />
            <th>with</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {a.map((p, k) => (
            <tr key={p.id}>
              <td>{visible(p.display ?? p.text, p.id)}</td>
              <td>{pct(p.prob)}</td>
              <td>{b[k] === undefined ? "" : visible(b[k].display ?? b[k].text, b[k].id)}</td>
              <td>{b[k] === undefined ? "" : pct(b[k].prob)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
