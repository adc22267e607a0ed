// Lens: the logit lens's layer × position heatmap of the target token — every residual stream read through the
// model's final norm and unembedding, coloured by the target's probability (or by its rank), the top prediction
// of each cell in its tooltip. The target comes from the workbench.
import type { LensResult } from "@llmdbg/protocol";
import { useState } from "react";
import { pct, visible } from "../format.js";
import { heatCss } from "../heat.js";
import { rankShade, streamLabel } from "../lens.js";
import { useReopened } from "../reopen.js";
import type { RpcClient } from "../rpc.js";
import { readPosition, type Shared } from "../state.js";
import { DownloadLink, progressText, StoredNote, useJob } from "../useJob.js";
import { DlaPanel } from "./Dla.js";

export function LensView({ rpc, shared }: { rpc: RpcClient; shared: Shared }) {
  const { model, prompt, target } = shared;
  const [mode, setMode] = useState<"prob" | "rank">("prob");
  const [result, setResult] = useState<{ prompt: string; r: LensResult } | null>(null);
  /** the stored run whose result is shown, until the lens runs again */
  const [stored, setStored] = useState<number | null>(null);
  const job = useJob();
  useReopened<LensResult>(shared.reopened, ["lens"], (s) => {
    setResult({ prompt: s.prompt ?? prompt, r: s.result });
    setStored(s.runId);
  });

  const read = () => {
    if (target === null) return;
    const text = prompt;
    setStored(null);
    job.start(
      (o) =>
        rpc.call("method", { model: model.id, request: { kind: "lens", input: { text }, target: target.token.id, topK: 1 } }, o),
      (r) => {
        if (r.kind !== "lens") throw new Error(`expected a lens result, got ${r.kind}`);
        setResult({ prompt: text, r });
      },
    );
  };

  const r = result?.r ?? null;
  const marked = target === null ? null : readPosition(target);
  const stale = stored === null && result !== null && (result.prompt !== prompt || result.r.target?.id !== target?.token.id);

  return (
    <div className="lens">
      <div className="controls">
        <button type="button" data-testid="run-lens" disabled={job.running || target === null} onClick={read}>
          Run the logit lens
        </button>
        <label>
          <input type="radio" name="lens-mode" checked={mode === "prob"} onChange={() => setMode("prob")} /> probability
        </label>
        <label>
          <input type="radio" name="lens-mode" checked={mode === "rank"} onChange={() => setMode("rank")} /> rank
        </label>
        {job.running && <span className="status">{progressText(job.progress)}</span>}
        {stale && <span className="muted">(the prompt or target changed: run again)</span>}
        <StoredNote run={stored} />
        <DownloadLink job={job} testId="download-lens" figure />
      </div>
      {target === null && <p className="muted">Pick a target token in the workbench (click a token or a prediction).</p>}
      {model.labels !== null && <p className="muted">This model is a classifier; the lens reads a language model's head.</p>}
      {job.error !== null && <p className="error">lens: {job.error}</p>}
      {r !== null && (
        <div className="lens-wrap">
          <p>
            {mode === "prob" ? "probability" : "rank"} of “{visible(r.target?.text ?? null, r.target?.id)}” (id {r.target?.id}) by
            layer and position
          </p>
          <table className="lens-grid" data-testid="lens-grid">
            <thead>
              <tr>
                <th />
                {r.positions.map((p) => (
                  <th key={p} className={marked === p ? "marked" : ""} title={`position ${p}`}>
                    {visible(r.tokens[p]?.text ?? null, r.tokens[p]?.id)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {r.cells.map((row, li) => (
                <tr key={r.layers[li] ?? li}>
                  <th className="axis">{streamLabel(r.layers[li] ?? "")}</th>
                  {row.map((cell, pi) => {
                    const t = cell.target;
                    const v = t === null ? 0 : mode === "prob" ? t.prob : rankShade(t.rank);
                    const top = cell.top[0];
                    return (
                      <td
                        key={r.positions[pi] ?? pi}
                        data-testid="lens-cell"
                        style={heatCss(v)}
                        title={`top: “${visible(top?.text ?? null, top?.id)}” ${pct(top?.prob ?? Number.NaN)}`}
                      >
                        {t === null ? "–" : mode === "prob" ? pct(t.prob) : t.rank}
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <DlaPanel rpc={rpc} shared={shared} />
    </div>
  );
}
