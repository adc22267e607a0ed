// Datasets: pick one the server holds (or upload a JSONL file), see its examples in a virtualized table with the
// model's predictions — filled in batch by batch as `datasets.predict` streams them, or at once when the run store
// kept them — sort by any column, filter by text and by slice (gold label, correct or wrong) with the counts of
// each, and click a row to open that example in the workbench with its attribution. Only the rows in view are in
// the DOM (datasets.ts' visibleWindow over a fixed row height), so 10,000 rows scroll like 10.
import type { DatasetExample, DatasetInfo, PredictionsResult, RowPrediction } from "@llmdbg/protocol";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import {
  type CorrectSlice,
  checkJsonl,
  fetchExamples,
  filterRows,
  mergePredictions,
  NO_FILTER,
  ROW_HEIGHT,
  type RowFilter,
  type SortDir,
  type SortKey,
  sliceCounts,
  sortRows,
  type TableRow,
  tableRows,
  uploadDataset,
  visibleWindow,
} from "../datasets.js";
import { pct, visible } from "../format.js";
import type { RpcClient } from "../rpc.js";
import type { Shared } from "../state.js";
import { progressText, useJob } from "../useJob.js";

/** The table's scrolled area, px (the CSS gives `.ds-scroller` the same height). */
const VIEWPORT = 560;

const COLUMNS: readonly { key: SortKey; label: string }[] = [
  { key: "index", label: "#" },
  { key: "text", label: "text" },
  { key: "gold", label: "label / target" },
  { key: "prediction", label: "prediction" },
  { key: "prob", label: "probability" },
  { key: "goldProb", label: "P(gold)" },
  { key: "correct", label: "correct" },
];

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

export function DatasetsView({
  rpc,
  shared,
  active,
  onOpen,
}: {
  rpc: RpcClient;
  shared: Shared;
  active: boolean;
  onOpen: (row: TableRow, dataset: DatasetInfo) => void;
}) {
  const classifier = shared.model.labels !== null;
  const [datasets, setDatasets] = useState<readonly DatasetInfo[] | null>(null);
  const [selected, setSelected] = useState("");
  const [examples, setExamples] = useState<{ id: string; rows: DatasetExample[]; total: number } | null>(null);
  const [preds, setPreds] = useState<(RowPrediction | undefined)[]>([]);
  const [summary, setSummary] = useState<PredictionsResult | null>(null);
  const [sort, setSort] = useState<{ key: SortKey; dir: SortDir }>({ key: "index", dir: "asc" });
  const [filter, setFilter] = useState<RowFilter>(NO_FILTER);
  const [scrollTop, setScrollTop] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [file, setFile] = useState<{ name: string; text: string; check: ReturnType<typeof checkJsonl> } | null>(null);
  const [uploadName, setUploadName] = useState("");
  const job = useJob();
  const stopJob = job.stop;
  const scroller = useRef<HTMLDivElement>(null);
  /** the dataset whose predictions are streaming in: batches still in flight for another are dropped */
  const predicting = useRef("");

  const refresh = useCallback(
    (pick?: string) => {
      rpc.call("datasets.list", {}).then(
        (r) => {
          setDatasets(r.datasets);
          setSelected((cur) => pick ?? (cur !== "" ? cur : (r.datasets[0]?.id ?? "")));
        },
        (e: unknown) => setError(message(e)),
      );
    },
    [rpc],
  );
  useEffect(() => {
    if (active && datasets === null) refresh();
  }, [active, datasets, refresh]);

  // the examples of the selected dataset, a page at a time; predictions start afresh
  useEffect(() => {
    if (selected === "") return;
    stopJob();
    predicting.current = "";
    const ctl = new AbortController();
    setExamples({ id: selected, rows: [], total: 0 });
    setPreds([]);
    setSummary(null);
    setError(null);
    const got: DatasetExample[] = [];
    fetchExamples(
      selected,
      (rows, total) => {
        got.push(...rows);
        setExamples({ id: selected, rows: got.slice(), total });
      },
      ctl.signal,
    ).catch((e: unknown) => {
      if (!ctl.signal.aborted) setError(message(e));
    });
    return () => ctl.abort();
  }, [selected, stopJob]);

  const info = datasets?.find((d) => d.id === selected);
  const all = useMemo(() => tableRows(examples?.rows ?? [], preds, classifier), [examples, preds, classifier]);
  const shown = useMemo(() => sortRows(filterRows(all, filter), sort.key, sort.dir), [all, filter, sort]);
  const counts = useMemo(() => sliceCounts(filterRows(all, { ...filter, gold: null, correct: "all" })), [all, filter]);
  const w = visibleWindow(scrollTop, VIEWPORT, ROW_HEIGHT, shown.length);

  // a new filter or sort starts at the top
  // biome-ignore lint/correctness/useExhaustiveDependencies: the filter and sort are what reset the scroll
  useEffect(() => {
    if (scroller.current !== null) scroller.current.scrollTop = 0;
    setScrollTop(0);
  }, [filter, sort]);

  const predict = (recompute: boolean) => {
    if (info === undefined) return;
    const dataset = info.id;
    predicting.current = dataset;
    setPreds([]);
    setSummary(null);
    job.start(
      (o) => rpc.call("datasets.predict", { model: shared.model.id, dataset, ...(recompute && { recompute }) }, o),
      (r) => {
        setPreds(r.rows.slice());
        setSummary(r);
      },
      {
        onPredictions: (p) => {
          if (predicting.current === dataset) setPreds((cur) => mergePredictions(cur, p.rows));
        },
      },
    );
  };

  const chooseFile = (f: File | undefined) => {
    if (f === undefined) return setFile(null);
    f.text().then(
      (text) => {
        setFile({ name: f.name, text, check: checkJsonl(text, f.size) });
        setUploadName(f.name.replace(/\.(jsonl|ndjson|json)$/i, ""));
      },
      (e: unknown) => setError(message(e)),
    );
  };
  const upload = () => {
    if (file === null || "error" in file.check) return;
    setError(null);
    uploadDataset(uploadName.trim() || file.name, file.text).then(
      (d) => {
        setFile(null);
        refresh(d.id);
      },
      (e: unknown) => setError(`upload: ${message(e)}`),
    );
  };

  const setSlice = (correct: CorrectSlice) => setFilter((f) => ({ ...f, correct }));
  const sortBy = (key: SortKey) =>
    setSort((s) =>
      s.key === key ? { key, dir: s.dir === "asc" ? "desc" : "asc" } : { key, dir: key === "index" ? "asc" : "desc" },
    );
  const predicted = preds.reduce((n, p) => (p === undefined ? n : n + 1), 0);

  return (
    <div className="datasets">
      <div className="controls">
        <label>
          dataset{" "}
          <select data-testid="ds-select" value={selected} onChange={(e) => setSelected(e.target.value)}>
            {(datasets ?? []).map((d) => (
              <option key={d.id} value={d.id}>
                {d.name} ({d.count.toLocaleString("en")} examples, {d.source})
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          data-testid="ds-predict"
          disabled={info === undefined || job.running}
          onClick={() => predict(false)}
        >
          Predictions
        </button>
        {summary?.cached === true && (
          <button type="button" data-testid="ds-recompute" disabled={job.running} onClick={() => predict(true)}>
            compute again
          </button>
        )}
        {job.running && (
          <>
            <span className="status">{progressText(job.progress)}</span>
            <button type="button" onClick={job.stop}>
              Stop
            </button>
          </>
        )}
        <span className="sep" />
        <label>
          upload JSONL{" "}
          <input
            type="file"
            data-testid="ds-file"
            accept=".jsonl,.ndjson,.json,application/x-ndjson"
            onChange={(e) => chooseFile(e.target.files?.[0])}
          />
        </label>
        {file !== null && (
          <>
            <input
              data-testid="ds-upload-name"
              value={uploadName}
              onChange={(e) => setUploadName(e.target.value)}
              placeholder="name"
            />
            <button type="button" data-testid="ds-upload" disabled={"error" in file.check} onClick={upload}>
              Upload {"count" in file.check ? `${file.check.count.toLocaleString("en")} examples` : ""}
            </button>
            {"error" in file.check && <span className="error">{file.check.error}</span>}
          </>
        )}
      </div>
      {error !== null && <p className="error">{error}</p>}
      {job.error !== null && <p className="error">predictions: {job.error}</p>}
      {datasets !== null && datasets.length === 0 && (
        <p className="muted">
          The server holds no datasets: upload a JSONL file (one {'{"text": …, "label": …}'} per line), or start it with --dataset
          PATH.
        </p>
      )}
      {info !== undefined && examples !== null && (
        <>
          <div className="controls">
            <input
              data-testid="ds-search"
              value={filter.text}
              onChange={(e) => setFilter((f) => ({ ...f, text: e.target.value }))}
              placeholder="filter by text"
            />
            <select
              data-testid="ds-gold"
              value={filter.gold ?? ""}
              onChange={(e) => setFilter((f) => ({ ...f, gold: e.target.value === "" ? null : e.target.value }))}
            >
              <option value="">every {classifier ? "label" : "label / target"}</option>
              {counts.golds.map(([g, n]) => (
                <option key={g} value={g}>
                  {visible(g)} ({n})
                </option>
              ))}
            </select>
            <span className="slices" data-testid="ds-slices">
              {(
                [
                  ["all", counts.rows],
                  ["correct", counts.correct],
                  ["wrong", counts.wrong],
                  ["no gold", counts.noGold],
                  ["pending", counts.pending],
                ] as const
              ).map(([s, n]) => (
                <button
                  type="button"
                  key={s}
                  data-testid={`ds-slice-${s.replace(" ", "-")}`}
                  className={filter.correct === s ? "slice active" : "slice"}
                  onClick={() => setSlice(s)}
                >
                  {s} {n.toLocaleString("en")}
                </button>
              ))}
            </span>
          </div>
          <p className="muted" data-testid="ds-summary">
            {shown.length.toLocaleString("en")} of {examples.total.toLocaleString("en")} examples shown
            {examples.rows.length < examples.total && ` (loading: ${examples.rows.length.toLocaleString("en")} so far)`} ·
            predictions {predicted.toLocaleString("en")}/{examples.total.toLocaleString("en")}
            {summary?.cached === true && " (read back from the run store)"}
            {counts.accuracy !== null && ` · accuracy ${pct(counts.accuracy)}`}
            {counts.meanProb !== null && ` · mean top probability ${pct(counts.meanProb)}`}
          </p>
          <div className="ds-head ds-grid">
            {COLUMNS.map((c) => (
              <button type="button" key={c.key} data-testid={`ds-sort-${c.key}`} onClick={() => sortBy(c.key)}>
                {c.label}
                {sort.key === c.key ? (sort.dir === "asc" ? " ▲" : " ▼") : ""}
              </button>
            ))}
          </div>
          <div
            className="ds-scroller"
            data-testid="ds-scroller"
            ref={scroller}
            onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
          >
            <div className="ds-content" style={{ height: w.height }}>
              <div className="ds-rows" style={{ transform: `translateY(${w.offset}px)` }}>
                {shown.slice(w.first, w.last).map((r) => (
                  <Row key={r.example.index} row={r} onOpen={() => onOpen(r, info)} />
                ))}
              </div>
            </div>
          </div>
        </>
      )}
    </div>
  );
}

function Row({ row, onOpen }: { row: TableRow; onOpen: () => void }) {
  const { example: e, pred: p } = row;
  const correct = p?.correct;
  return (
    <button
      type="button"
      className={`ds-row ds-grid${correct === false ? " wrong" : ""}`}
      data-testid="ds-row"
      title={`${e.text}\n\nclick: open in the workbench with its attribution`}
      onClick={onOpen}
    >
      <span className="pos" data-testid="ds-index">
        {e.index}
      </span>
      <span className="ds-text">{e.text}</span>
      <span>{row.gold === null ? "" : visible(row.gold)}</span>
      <span>{p === undefined ? "…" : visible(p.top.text, p.top.id)}</span>
      <span className="ds-prob">
        {p !== undefined && (
          <>
            <span className="bar" style={{ width: `${Math.max(1, 100 * p.top.prob)}%` }} />
            <span className="ptext">{pct(p.top.prob)}</span>
          </>
        )}
      </span>
      <span>{p?.gold == null ? "" : pct(p.gold.prob)}</span>
      <span>{correct === true ? "✓" : correct === false ? "✗" : ""}</span>
    </button>
  );
}
