// Ablation: each head (or each layer's attention and MLP output) zeroed in turn, and how much the target's
// log-probability or probability at the last position changes, from the `ablate` method — a layer × head grid on a
// diverging scale (blue, negative: zeroing the component lowers the metric, so it supports the target; red,
// positive: it works against it) and the components that matter most.
import type { AblationResult } from "@llmdbg/protocol";
import { useState } from "react";
import { ablationGrid } from "../ablation.js";
import { num, visible } from "../format.js";
import { divergingCss } from "../heat.js";
import { field, useReopened } from "../reopen.js";
import type { RpcClient } from "../rpc.js";
import { readPosition, type Shared } from "../state.js";
import { DownloadLink, progressText, StoredNote, useJob } from "../useJob.js";

export function AblationView({ rpc, shared }: { rpc: RpcClient; shared: Shared }) {
  const { model, prompt, target } = shared;
  const [components, setComponents] = useState<"heads" | "layers">("heads");
  const [metric, setMetric] = useState<"logprob" | "prob">("logprob");
  const [result, setResult] = useState<{ prompt: string; r: AblationResult } | null>(null);
  /** the stored run whose result is shown, until the ablation runs again */
  const [stored, setStored] = useState<number | null>(null);
  const job = useJob();
  useReopened<AblationResult>(shared.reopened, ["ablate"], (s) => {
    setComponents(field(s.request, "components", "heads") === "layers" ? "layers" : "heads");
    setMetric(field(s.request, "metric", "logprob") === "prob" ? "prob" : "logprob");
    setResult({ prompt: s.prompt ?? prompt, r: s.result });
    setStored(s.runId);
  });

  const ablate = () => {
    if (target === null) return;
    const text = prompt;
    setStored(null);
    job.start(
      (o) =>
        rpc.call(
          "method",
          {
            model: model.id,
            request: { kind: "ablate", input: { text }, components, ablation: "zero", metric, answer: target.token.id },
          },
          o,
        ),
      (r) => {
        if (r.kind !== "ablate") throw new Error(`expected an ablation result, got ${r.kind}`);
        setResult({ prompt: text, r });
      },
    );
  };

  const r = result?.r ?? null;
  const grid = r === null ? null : ablationGrid(r, model.nLayers, model.nHeads);
  const notLast = target !== null && r !== null && readPosition(target) !== r.tokens.length - 1;
  const stale = stored === null && r !== null && (result?.prompt !== prompt || r.answer.id !== target?.token.id);

  return (
    <div className="ablation">
      <div className="controls">
        <button type="button" data-testid="run-ablation" disabled={job.running || target === null} onClick={ablate}>
          Zero-ablate each component
        </button>
        <label>
          <input type="radio" name="abl-components" checked={components === "heads"} onChange={() => setComponents("heads")} />{" "}
          heads
        </label>
        <label>
          <input type="radio" name="abl-components" checked={components === "layers"} onChange={() => setComponents("layers")} />{" "}
          attention and MLP outputs
        </label>
        <label>
          metric{" "}
          <select value={metric} onChange={(e) => setMetric(e.target.value === "prob" ? "prob" : "logprob")}>
            <option value="logprob">log-probability</option>
            <option value="prob">probability</option>
          </select>
        </label>
        {job.running && (
          <>
            <span className="status">{progressText(job.progress)}</span>
            <button type="button" onClick={job.stop}>
              Stop
            </button>
          </>
        )}
        {stale && <span className="muted">(the prompt or target changed: run again)</span>}
        <StoredNote run={stored} />
        <DownloadLink job={job} testId="download-ablation" figure />
      </div>
      {target === null && <p className="muted">Pick a target token in the workbench (click a token or a prediction).</p>}
      {job.error !== null && <p className="error">ablation: {job.error}</p>}
      {r !== null && grid !== null && (
        <div data-testid="ablation">
          <p data-testid="ablation-summary">
            {r.metric === "prob" ? "P" : "log P"}(“{visible(r.answer.text, r.answer.id)}”) at the last position: {num(r.baseline)}{" "}
            unablated; each cell is the change with that component zeroed.
          </p>
          {notLast && <p className="muted">The ablation reads the last position; the target was picked at another one.</p>}
          <div className="dla-layout">
            <table className="dla-grid">
              <thead>
                <tr>
                  <th />
                  {grid.columns.map((c) => (
                    <th key={c}>{c}</th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {grid.effects.map((row, l) => (
                  // biome-ignore lint/suspicious/noArrayIndexKey: the layer index is the row's identity
                  <tr key={l}>
                    <th className="axis">L{l}</th>
                    {row.map((v, i) => (
                      <td
                        key={grid.columns[i]}
                        data-testid="ablation-cell"
                        style={v === null ? undefined : divergingCss(v, grid.max)}
                      >
                        {v === null ? "–" : num(v, 3)}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
            <ol className="ablation-top">
              {r.effects.slice(0, 8).map((e) => (
                <li key={e.name}>
                  {e.name}: {num(e.effect, 3)} <span className="muted">→ {num(e.metric, 3)}</span>
                </li>
              ))}
            </ol>
          </div>
        </div>
      )}
    </div>
  );
}
