// Runs: the run store's runs, newest first, filtered by kind; one opened shows its request, result and notes, takes
// a note, downloads as JSON or as a page, and reopens in its view — the stored prompt goes to the shared prompt,
// the run's model is selected, and that view shows the stored result with the request's settings, not computed
// again (reopen.ts). Two runs of the same kind compare side by side (compare.ts).
import { useCallback, useEffect, useState } from "react";
import { comparable, compareValues, seriesOf } from "../compare.js";
import { num } from "../format.js";
import {
  addNote,
  comparePredictions,
  fetchRun,
  fetchRuns,
  kindsOf,
  type RunRow,
  reopenTab,
  runResultOf,
  runUrl,
  type StoredRun,
  visibleRuns,
} from "../runs.js";

/** the kinds the server draws as a figure (packages/server/src/figures.ts) */
const FIGURES: ReadonlySet<string> = new Set([
  "lens",
  "dla",
  "ablate",
  "patch",
  "attribution",
  "perturbation",
  "attention",
  "attention_overview",
]);

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

export function RunsView({ active, onReopen }: { active: boolean; onReopen: (run: StoredRun, tab: string) => void }) {
  const [runs, setRuns] = useState<RunRow[] | null>(null);
  const [kind, setKind] = useState("");
  const [open, setOpen] = useState<StoredRun | null>(null);
  const [other, setOther] = useState<StoredRun | null>(null);
  const [note, setNote] = useState("");
  const [error, setError] = useState<string | null>(null);

  const refresh = useCallback(() => {
    setError(null);
    fetchRuns().then(setRuns, (e: unknown) => setError(message(e)));
  }, []);
  // listed afresh each time the tab is shown
  useEffect(() => {
    if (active) refresh();
  }, [active, refresh]);

  const show = (id: number) =>
    fetchRun(id).then(
      (r) => {
        setOpen(r);
        setOther((o) => (o?.id === r.id ? null : o));
      },
      (e: unknown) => setError(message(e)),
    );
  const compareWith = (id: number) => fetchRun(id).then(setOther, (e: unknown) => setError(message(e)));

  const a = open === null ? undefined : runResultOf(open);
  const b = other === null ? undefined : runResultOf(other);
  const tab = open === null ? undefined : reopenTab(open.kind);

  return (
    <div className="runs">
      <div className="controls">
        <button type="button" data-testid="runs-refresh" onClick={refresh}>
          Refresh
        </button>
        <label>
          kind{" "}
          <select data-testid="runs-kind" value={kind} onChange={(e) => setKind(e.target.value)}>
            <option value="">all</option>
            {kindsOf(runs ?? []).map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
      </div>
      {error !== null && <p className="error">{error}</p>}
      {runs !== null && runs.length === 0 && <p className="muted">No stored runs yet: every finished job is recorded.</p>}
      <table data-testid="runs-table">
        <tbody>
          {visibleRuns(runs ?? [], kind).map((r) => (
            <tr key={r.id} data-testid="run-row" className={open?.id === r.id ? "active" : undefined}>
              <td>{r.id}</td>
              <td>{r.kind}</td>
              <td>{r.model ?? "?"}</td>
              <td className="prompt-cell">{r.prompt ?? "(token ids)"}</td>
              <td>{r.status}</td>
              <td>{new Date(r.createdAt).toLocaleString()}</td>
              <td>
                <button type="button" data-testid="run-open" onClick={() => show(r.id)}>
                  open
                </button>
                {open !== null && open.id !== r.id && comparable(open.kind, r.kind) && (
                  <button type="button" data-testid="run-compare" onClick={() => compareWith(r.id)}>
                    compare
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {open !== null && (
        <div className="run-detail" data-testid="run-detail">
          <h3>
            run {open.id}: {open.kind} on {open.model?.name ?? "?"} · {open.status}
            {open.timings.wallMs !== undefined && ` · ${open.timings.wallMs} ms`}
          </h3>
          <div className="controls">
            {tab !== undefined && (open.status === "done" || open.kind === "train") && (
              <button type="button" data-testid="run-reopen" onClick={() => onReopen(open, tab)}>
                reopen in {tab}
              </button>
            )}
            <a href={runUrl(open.id)} download={`run-${open.id}.json`} data-testid="run-download">
              download JSON
            </a>
            <a href={`${runUrl(open.id)}/bundle.html`} download={`run-${open.id}.html`} data-testid="run-bundle">
              download as a page (opens without a server)
            </a>
            {FIGURES.has(open.kind) && (
              <>
                <a href={`${runUrl(open.id)}/figure.svg`} download={`run-${open.id}.svg`} data-testid="run-svg">
                  figure as SVG
                </a>
                <a href={`${runUrl(open.id)}/figure.png`} download={`run-${open.id}.png`} data-testid="run-png">
                  PNG
                </a>
              </>
            )}
          </div>
          <h4>notes</h4>
          <ul data-testid="run-notes">
            {open.notes.map((n) => (
              <li key={n.id}>
                {n.text} <span className="muted">{new Date(n.createdAt).toLocaleString()}</span>
              </li>
            ))}
          </ul>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              const id = open.id;
              addNote(id, note).then(
                () => {
                  setNote("");
                  return show(id);
                },
                (err: unknown) => setError(message(err)),
              );
            }}
          >
            <input data-testid="run-note" value={note} onChange={(e) => setNote(e.target.value)} placeholder="a note" />
            <button type="submit" data-testid="run-add-note" disabled={note.trim() === ""}>
              add note
            </button>
          </form>
          {a !== undefined && b !== undefined && other !== null && (
            <table data-testid="run-comparison">
              <thead>
                <tr>
                  <th>pos</th>
                  <th>run {open.id}</th>
                  <th>predictions</th>
                  <th>run {other.id}</th>
                  <th>predictions</th>
                </tr>
              </thead>
              <tbody>
                {comparePredictions(a, b).map((row) => (
                  <tr key={row.position} data-testid="compare-row" className={row.sameTop ? undefined : "differs"}>
                    <td>{row.position}</td>
                    <td>{row.tokenA}</td>
                    <td>{row.topA.join(" · ")}</td>
                    <td>{row.tokenB}</td>
                    <td>{row.topB.join(" · ")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {other !== null && open.kind !== "run" && <Comparison a={open} b={other} />}
          <h4>request</h4>
          <pre data-testid="run-request">{JSON.stringify(open.options, null, 2)}</pre>
          <h4>result</h4>
          <pre data-testid="run-result">{JSON.stringify(open.results, null, 2).slice(0, 20_000)}</pre>
        </div>
      )}
    </div>
  );
}

/** Two runs of one kind (not `run`) read as named values or texts and set side by side (compare.ts). */
function Comparison({ a, b }: { a: StoredRun; b: StoredRun }) {
  const sa = seriesOf(a.kind, a.results.find((x) => x.kind !== "error")?.result);
  const sb = seriesOf(b.kind, b.results.find((x) => x.kind !== "error")?.result);
  if (sa === undefined || sb === undefined) return <p className="muted">These two runs have no results to compare.</p>;
  if (sa.kind === "text" || sb.kind === "text")
    return (
      <table data-testid="run-comparison">
        <tbody>
          <tr data-testid="compare-row">
            <th>run {a.id}</th>
            <td>{sa.kind === "text" ? sa.text : ""}</td>
          </tr>
          <tr data-testid="compare-row">
            <th>run {b.id}</th>
            <td>{sb.kind === "text" ? sb.text : ""}</td>
          </tr>
        </tbody>
      </table>
    );
  const c = compareValues(sa.values, sb.values, sa.what);
  const shown = c.rows.slice(0, 40);
  return (
    <div data-testid="run-comparison">
      <p data-testid="compare-summary">
        {c.what}: {c.shared} shared {c.shared === 1 ? "entry" : "entries"}
        {c.pearson !== null && ` · Pearson r ${num(c.pearson, 3)}`}
        {c.spearman !== null && ` · Spearman ρ ${num(c.spearman, 3)}`}
        {c.rows.length > shown.length && ` · the ${shown.length} largest differences shown`}
      </p>
      <table>
        <thead>
          <tr>
            <th />
            <th>run {a.id}</th>
            <th>run {b.id}</th>
            <th>difference</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((r) => (
            <tr key={r.name} data-testid="compare-row">
              <td>{r.name}</td>
              <td>{num(r.a)}</td>
              <td>{num(r.b)}</td>
              <td>{num(r.diff)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
