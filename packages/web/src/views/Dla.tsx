// Direct logit attribution of the target: what each component (embeddings, every head, attention biases, MLPs,
// the head's bias) writes to the residual stream, read through the unembedding at the target's position — a
// layer × head grid in a diverging scale and the largest components as bars. The components sum to the logit.
import type { DlaResult } from "@llmdbg/protocol";
import { useState } from "react";
import { dlaGrid, topComponents } from "../dla.js";
import { num, visible } from "../format.js";
import { divergingCss } from "../heat.js";
import { useReopened } from "../reopen.js";
import type { RpcClient } from "../rpc.js";
import { readPosition, type Shared } from "../state.js";
import { DownloadLink, progressText, StoredNote, useJob } from "../useJob.js";

export function DlaPanel({ rpc, shared }: { rpc: RpcClient; shared: Shared }) {
  const { model, prompt, target } = shared;
  const [result, setResult] = useState<{ prompt: string; r: DlaResult } | null>(null);
  /** the stored run whose result is shown, until DLA runs again */
  const [stored, setStored] = useState<number | null>(null);
  const job = useJob();
  useReopened<DlaResult>(shared.reopened, ["dla"], (s) => {
    setResult({ prompt: s.prompt ?? prompt, r: s.result });
    setStored(s.runId);
  });

  const read = () => {
    if (target === null) return;
    const text = prompt;
    setStored(null);
    const position = readPosition(target);
    job.start(
      (o) =>
        rpc.call("method", { model: model.id, request: { kind: "dla", input: { text }, target: target.token.id, position } }, o),
      (r) => {
        if (r.kind !== "dla") throw new Error(`expected a dla result, got ${r.kind}`);
        setResult({ prompt: text, r });
      },
    );
  };

  const r = result?.r ?? null;
  const grid = r === null ? null : dlaGrid(r, model.nLayers, model.nHeads);
  const top = r === null ? [] : topComponents(r, 12);
  const topMax = Math.max(1e-12, ...top.map((c) => Math.abs(c.value)));
  const stale =
    stored === null &&
    r !== null &&
    (result?.prompt !== prompt || target === null || r.target.id !== target.token.id || r.position !== readPosition(target));

  return (
    <div className="dla">
      <h2>Direct logit attribution</h2>
      <div className="controls">
        <button type="button" data-testid="run-dla" disabled={job.running || target === null} onClick={read}>
          Attribute the target's logit
        </button>
        {job.running && <span className="status">{progressText(job.progress)}</span>}
        {stale && <span className="muted">(the prompt or target changed: run again)</span>}
        <StoredNote run={stored} />
        <DownloadLink job={job} testId="download-dla" figure />
      </div>
      {job.error !== null && <p className="error">dla: {job.error}</p>}
      {r !== null && grid !== null && (
        <div className="dla-wrap" data-testid="dla">
          <p data-testid="dla-summary">
            logit of “{visible(r.target.text, r.target.id)}” after position {r.position} “
            {visible(r.tokens[r.position]?.text ?? null, r.tokens[r.position]?.id)}”: {num(r.logit)} = Σ components {num(r.sum)}{" "}
            <span className="muted">(|error| {r.error.toExponential(1)})</span>
          </p>
          <div className="dla-layout">
            <table className="dla-grid">
              <thead>
                <tr>
                  <th />
                  {grid.heads[0]?.map((_, h) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: the head index is the column's identity
                    <th key={h}>H{h}</th>
                  ))}
                  <th>attn bias</th>
                  <th>mlp</th>
                </tr>
              </thead>
              <tbody>
                {grid.heads.map((row, l) => (
                  // biome-ignore lint/suspicious/noArrayIndexKey: the layer index is the row's identity
                  <tr key={l}>
                    <th className="axis">L{l}</th>
                    {[...row, grid.attnBias[l] ?? null, grid.mlp[l] ?? null].map((v, i) => (
                      <td
                        // biome-ignore lint/suspicious/noArrayIndexKey: the column index is the cell's identity
                        key={i}
                        data-testid="dla-cell"
                        style={v === null ? undefined : divergingCss(v, grid.max)}
                      >
                        {v === null ? "–" : num(v, 2)}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
            <div className="dla-bars">
              {top.map((c) => (
                <div key={c.name} className="dla-bar" data-testid="dla-component">
                  <span className="name">{c.name}</span>
                  <span className="track">
                    <span
                      className={c.value >= 0 ? "fill pos" : "fill neg"}
                      style={{
                        width: `${(50 * Math.abs(c.value)) / topMax}%`,
                        ...(c.value >= 0 ? { left: "50%" } : { right: "50%" }),
                      }}
                    />
                  </span>
                  <span className="value">{num(c.value, 3)}</span>
                </div>
              ))}
            </div>
          </div>
          <p className="muted">{r.convention}</p>
        </div>
      )}
    </div>
  );
}
