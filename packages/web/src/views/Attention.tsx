// Attention: every head's pattern on the prompt as a layer × head grid of canvas thumbnails, one head enlarged on
// click (the target's query row outlined, the cell under the pointer read out), and the head table — entropy,
// first-token share and, when asked, the previous-token, induction, duplicate-token and copying scores — from the
// `attention` method.
import type { AttentionResult } from "@llmdbg/protocol";
import { useMemo, useState } from "react";
import { num, pct, visible } from "../format.js";
import type { RpcClient } from "../rpc.js";
import { HEAD_COLUMNS, type HeadColumn, headRows, sortRows } from "../scores.js";
import { readPosition, type Shared } from "../state.js";
import { DownloadLink, progressText, useJob } from "../useJob.js";
import { LineView, RolloutPanel } from "./Flow.js";
import { PatternCanvas } from "./PatternCanvas.js";

const THUMB = 72;
const LARGE = 420;

export function AttentionView({ rpc, shared }: { rpc: RpcClient; shared: Shared }) {
  const { model, prompt, target } = shared;
  const [withScores, setWithScores] = useState(true);
  const [result, setResult] = useState<{ prompt: string; r: AttentionResult } | null>(null);
  const [sel, setSel] = useState<{ li: number; hi: number }>({ li: 0, hi: 0 });
  const [hover, setHover] = useState<{ row: number; col: number } | null>(null);
  const [sort, setSort] = useState<{ key: HeadColumn; desc: boolean }>({ key: "layer", desc: false });
  const job = useJob();

  const analyze = () => {
    const text = prompt;
    job.start(
      (o) =>
        rpc.call(
          "method",
          { model: model.id, request: { kind: "attention", input: { text }, includePatterns: true, scores: withScores } },
          o,
        ),
      (r) => {
        if (r.kind !== "attention") throw new Error(`expected an attention result, got ${r.kind}`);
        setResult({ prompt: text, r });
        setSel({ li: 0, hi: 0 });
      },
    );
  };

  const r = result?.r ?? null;
  const rows = useMemo(() => (r === null ? [] : sortRows(headRows(r), sort.key, sort.desc)), [r, sort]);
  const tokenText = (i: number) => (r === null ? "" : visible(r.tokens[i]?.text ?? null, r.tokens[i]?.id));
  const large = r?.patterns?.[sel.li]?.[sel.hi] ?? null;
  const layerOf = (li: number) => r?.layers[li] ?? li;
  const headOf = (hi: number) => r?.heads[hi] ?? hi;
  const markRow = target !== null && r !== null && readPosition(target) < r.tokens.length ? readPosition(target) : null;

  return (
    <div className="attention">
      <div className="controls">
        <button type="button" data-testid="analyze-attention" disabled={job.running} onClick={analyze}>
          Analyze attention
        </button>
        <label>
          <input type="checkbox" checked={withScores} onChange={(e) => setWithScores(e.target.checked)} /> head scores (induction,
          previous-token, copying)
        </label>
        {job.running && (
          <>
            <span className="status">{progressText(job.progress)}</span>
            <button type="button" onClick={job.stop}>
              Stop
            </button>
          </>
        )}
        {result !== null && result.prompt !== prompt && <span className="muted">(the prompt changed: analyze again)</span>}
        <DownloadLink job={job} testId="download-attention" />
      </div>
      {job.error !== null && <p className="error">attention: {job.error}</p>}
      {result === null && !job.running && <p className="muted">Analyzes the workbench's prompt: “{prompt}”.</p>}
      {r?.patterns != null && (
        <div className="attn-layout">
          <div>
            <div
              className="thumbs"
              data-testid="attention-grid"
              style={{ gridTemplateColumns: `auto repeat(${r.heads.length}, ${THUMB + 6}px)` }}
            >
              <span />
              {r.heads.map((h) => (
                <span key={h} className="axis">
                  H{h}
                </span>
              ))}
              {r.patterns.map((heads, li) => (
                <div key={r.layers[li]} className="thumb-row">
                  <span className="axis">L{layerOf(li)}</span>
                  {heads.map((p, hi) => (
                    <button
                      type="button"
                      key={headOf(hi)}
                      data-testid="thumb"
                      className={sel.li === li && sel.hi === hi ? "thumb selected" : "thumb"}
                      title={`L${layerOf(li)}H${headOf(hi)}: entropy ${num(r.entropy[li]?.[hi], 2)} nats`}
                      onClick={() => setSel({ li, hi })}
                    >
                      <PatternCanvas pattern={p} size={THUMB} label={`L${layerOf(li)}H${headOf(hi)}`} />
                    </button>
                  ))}
                </div>
              ))}
            </div>
          </div>
          {large !== null && (
            <div className="enlarged" data-testid="attention-enlarged">
              <h3>
                L{layerOf(sel.li)}H{headOf(sel.hi)}
              </h3>
              <PatternCanvas pattern={large} size={LARGE} max={1} markRow={markRow} onHover={setHover} />
              <p className="readout" data-testid="attention-readout">
                {hover === null
                  ? "rows: queries, columns: keys — point at a cell"
                  : `query ${hover.row} “${tokenText(hover.row)}” → key ${hover.col} “${tokenText(hover.col)}”: ${pct(
                      large[hover.row]?.[hover.col] ?? Number.NaN,
                    )}`}
              </p>
              <p className="muted">
                entropy {num(r.entropy[sel.li]?.[sel.hi], 2)} nats · first token{" "}
                {pct(r.firstToken[sel.li]?.[sel.hi] ?? Number.NaN)} · sinks{" "}
                {(r.sinks[sel.li]?.[sel.hi] ?? [])
                  .map((s) => `${s.position} “${tokenText(s.position)}” ${pct(s.mass)}`)
                  .join(", ")}
              </p>
              {markRow !== null && (
                <p className="muted">
                  target query {markRow} “{tokenText(markRow)}” attends most to{" "}
                  {topKeys(large[markRow] ?? [], 3)
                    .map((k) => `${k} “${tokenText(k)}” ${pct(large[markRow]?.[k] ?? 0)}`)
                    .join(", ")}
                </p>
              )}
              <LineView pattern={large} labels={r.tokens.map((t) => visible(t.text, t.id))} focus={hover?.row ?? markRow} />
            </div>
          )}
        </div>
      )}
      {r !== null && <RolloutPanel r={r} />}
      {r !== null && (
        <table className="scores" data-testid="head-scores">
          <thead>
            <tr>
              {HEAD_COLUMNS.map((c) => (
                <th key={c.key} title={c.title}>
                  <button
                    type="button"
                    className="sort"
                    onClick={() =>
                      setSort((s) => ({ key: c.key, desc: s.key === c.key ? !s.desc : c.key !== "layer" && c.key !== "head" }))
                    }
                  >
                    {c.label}
                    {sort.key === c.key ? (sort.desc ? " ▼" : " ▲") : ""}
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr
                key={`${row.layer}.${row.head}`}
                className={row.li === sel.li && row.hi === sel.hi ? "selected" : ""}
                onClick={() => setSel({ li: row.li, hi: row.hi })}
              >
                {HEAD_COLUMNS.map((c) => (
                  <td key={c.key}>{c.key === "layer" || c.key === "head" ? row[c.key] : num(row[c.key])}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** The indices of the k largest values, largest first. */
function topKeys(row: readonly number[], k: number): number[] {
  return row
    .map((v, i) => [v, i] as const)
    .sort((a, b) => b[0] - a[0])
    .slice(0, k)
    .map(([, i]) => i);
}
