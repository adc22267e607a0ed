// Patching: a clean and a corrupted prompt of the same length; each cell of the grid (layer × position for the
// residual stream, attention or MLP outputs; layer × head for head outputs) patches one clean activation into the
// corrupted run, and the metric's recovery (patched − corrupted) / (clean − corrupted) is coloured — real
// (activation) patching beside attribution patching, its gradient approximation, with their rank agreement.
// Clicking a cell shows that patched run's metric. From the `patch` method.
import type { PatchGrid, PatchMetric, PatchResult } from "@llmdbg/protocol";
import { useEffect, useRef, useState } from "react";
import { num, visible } from "../format.js";
import { divergingCss } from "../heat.js";
import { field, useReopened } from "../reopen.js";
import type { RpcClient } from "../rpc.js";
import type { Shared } from "../state.js";
import { DownloadLink, progressText, StoredNote, useJob } from "../useJob.js";

const GRIDS: readonly { readonly id: PatchGrid; readonly label: string }[] = [
  { id: "resid_pre", label: "residual stream (layer × position)" },
  { id: "attn_out", label: "attention output (layer × position)" },
  { id: "mlp_out", label: "MLP output (layer × position)" },
  { id: "z", label: "head outputs (layer × head)" },
];
const METRICS: readonly { readonly id: PatchMetric; readonly label: string }[] = [
  { id: "logit_diff", label: "answer − foil logit" },
  { id: "prob", label: "answer probability" },
  { id: "kl", label: "KL(clean ‖ run)" },
];

function Grid({
  r,
  values,
  title,
  testId,
  onPick,
}: {
  r: PatchResult;
  values: readonly (readonly (number | null)[])[];
  title: string;
  testId: string;
  onPick: (row: number, col: number) => void;
}) {
  return (
    <div>
      <h3>{title}</h3>
      <table className="dla-grid patch-grid" data-testid={testId}>
        <thead>
          <tr>
            <th />
            {r.cols.map((c) => (
              <th key={c}>{c}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {values.map((row, i) => (
            <tr key={r.rows[i] ?? i}>
              <th className="axis">{r.rows[i]}</th>
              {row.map((v, j) => (
                <td key={r.cols[j] ?? j} style={v === null ? undefined : divergingCss(v, 1)}>
                  <button type="button" className="cell" data-testid={`${testId}-cell`} onClick={() => onPick(i, j)}>
                    {v === null ? "–" : num(v, 2)}
                  </button>
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function PatchingView({ rpc, shared }: { rpc: RpcClient; shared: Shared }) {
  const { model, prompt, target } = shared;
  const [clean, setClean] = useState(prompt);
  const [corrupted, setCorrupted] = useState(prompt);
  const [grid, setGrid] = useState<PatchGrid>("resid_pre");
  const [metric, setMetric] = useState<PatchMetric>("logit_diff");
  const [result, setResult] = useState<PatchResult | null>(null);
  const [picked, setPicked] = useState<{ row: number; col: number } | null>(null);
  /** the stored run whose result is shown, until the view patches again */
  const [stored, setStored] = useState<number | null>(null);
  const job = useJob();
  useReopened<PatchResult>(shared.reopened, ["patch"], (s) => {
    const text = (v: unknown) =>
      typeof v === "object" && v !== null && typeof (v as { text?: unknown }).text === "string"
        ? (v as { text: string }).text
        : null;
    const c = text(s.request.clean);
    const k = text(s.request.corrupted);
    if (c !== null) setClean(c);
    if (k !== null) setCorrupted(k);
    const g = field(s.request, "grid", "resid_pre");
    setGrid(GRIDS.find((x) => x.id === g)?.id ?? "resid_pre");
    const m = field(s.request, "metric", "logit_diff");
    setMetric(METRICS.find((x) => x.id === m)?.id ?? "logit_diff");
    setResult(s.result);
    setPicked(null);
    setStored(s.runId);
  });

  // the clean prompt follows the workbench's; so does the corrupted one until it is edited
  const last = useRef(prompt);
  useEffect(() => {
    const before = last.current;
    last.current = prompt;
    setClean(prompt);
    setCorrupted((c) => (c === before ? prompt : c));
  }, [prompt]);

  const patch = () => {
    setStored(null);
    const answer = metric !== "kl" && target !== null ? { answer: target.token.id } : {};
    job.start(
      (o) =>
        rpc.call(
          "method",
          {
            model: model.id,
            request: {
              kind: "patch",
              clean: { text: clean },
              corrupted: { text: corrupted },
              grid,
              metric,
              method: "both",
              ...answer,
            },
          },
          o,
        ),
      (r) => {
        if (r.kind !== "patch") throw new Error(`expected a patching result, got ${r.kind}`);
        setResult(r);
        setPicked(null);
      },
    );
  };

  const r = result;
  const raw = picked === null ? null : (r?.raw?.[picked.row]?.[picked.col] ?? null);
  return (
    <div className="patching">
      <div className="patch-prompts">
        <label>
          clean
          <textarea
            data-testid="patch-clean"
            rows={2}
            spellCheck={false}
            value={clean}
            onChange={(e) => setClean(e.target.value)}
          />
        </label>
        <label>
          corrupted (as many tokens)
          <textarea
            data-testid="patch-corrupted"
            rows={2}
            spellCheck={false}
            value={corrupted}
            onChange={(e) => setCorrupted(e.target.value)}
          />
        </label>
      </div>
      <div className="controls">
        <select value={grid} onChange={(e) => setGrid(GRIDS.find((g) => g.id === e.target.value)?.id ?? "resid_pre")}>
          {GRIDS.map((g) => (
            <option key={g.id} value={g.id}>
              {g.label}
            </option>
          ))}
        </select>
        <select
          data-testid="patch-metric"
          value={metric}
          onChange={(e) => setMetric(METRICS.find((m) => m.id === e.target.value)?.id ?? "logit_diff")}
        >
          {METRICS.map((m) => (
            <option key={m.id} value={m.id}>
              {m.label}
            </option>
          ))}
        </select>
        <button type="button" data-testid="run-patch" disabled={job.running || clean === "" || corrupted === ""} onClick={patch}>
          Patch
        </button>
        <button type="button" onClick={() => setClean(prompt)}>
          clean ← workbench prompt
        </button>
        {job.running && (
          <>
            <span className="status">{progressText(job.progress)}</span>
            <button type="button" onClick={job.stop}>
              Stop
            </button>
          </>
        )}
        <StoredNote run={stored} />
        <DownloadLink job={job} testId="download-patch" figure />
      </div>
      <p className="muted">
        {metric === "kl"
          ? "KL(clean ‖ run) over the next-token distribution at the last position."
          : `answer: ${target !== null ? `the target “${visible(target.token.text, target.token.id)}”` : "the clean run's top prediction"}${metric === "logit_diff" ? "; foil: the corrupted run's top prediction" : ""}.`}
      </p>
      {job.error !== null && <p className="error">patching: {job.error}</p>}
      {r !== null && (
        <div data-testid="patch">
          <p data-testid="patch-summary">
            {r.metric}: clean {num(r.cleanMetric)}, corrupted {num(r.corruptedMetric)}
            {r.answer !== null && ` · answer “${visible(r.answer.text, r.answer.id)}”`}
            {r.foil !== null && ` · foil “${visible(r.foil.text, r.foil.id)}”`}
            {r.attribution?.rankCorrelation != null && ` · rank correlation ${num(r.attribution.rankCorrelation, 2)}`}
            {r.attribution?.topKAgreement != null &&
              ` · top-${r.attribution.topKAgreement.k} agreement ${num(r.attribution.topKAgreement.share, 2)}`}
          </p>
          <div className="dla-layout">
            {r.values !== null && (
              <Grid
                r={r}
                values={r.values}
                title="activation patching"
                testId="patch-activation"
                onPick={(row, col) => setPicked({ row, col })}
              />
            )}
            {r.attribution !== null && (
              <Grid
                r={r}
                values={r.attribution.values}
                title="attribution patching"
                testId="patch-attribution"
                onPick={(row, col) => setPicked({ row, col })}
              />
            )}
          </div>
          {picked !== null && (
            <p data-testid="patch-picked">
              patched {r.rows[picked.row]} at {r.cols[picked.col]}: {r.metric} {num(raw)} (clean {num(r.cleanMetric)}, corrupted{" "}
              {num(r.corruptedMetric)}), recovery {num(r.values?.[picked.row]?.[picked.col] ?? null, 2)}
            </p>
          )}
        </div>
      )}
    </div>
  );
}
