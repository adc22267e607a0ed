// Attribution: which input tokens the target's prediction rests on, by six methods side by side — saliency,
// gradient × input and integrated gradients (`attribution`), occlusion, LIME and KernelSHAP (`perturbation`) — each
// a row of the token heatmap scaled to its own largest |score|, and their pairwise rank agreement (Spearman's ρ
// over the positions up to the one read).
import type { GradientAttributionResult, PerturbationAttributionResult } from "@llmdbg/protocol";
import { useState } from "react";
import { maxAbs, spearman } from "../attribution.js";
import { num, visible } from "../format.js";
import { divergingCss } from "../heat.js";
import { field, useReopened } from "../reopen.js";
import type { RpcClient } from "../rpc.js";
import { readPosition, type Shared } from "../state.js";
import { progressText, StoredNote, useJob } from "../useJob.js";

const METHODS = [
  { id: "saliency", label: "saliency", family: "attribution" },
  { id: "grad_x_input", label: "gradient × input", family: "attribution" },
  { id: "integrated_gradients", label: "integrated gradients", family: "attribution" },
  { id: "occlusion", label: "occlusion", family: "perturbation" },
  { id: "lime", label: "LIME", family: "perturbation" },
  { id: "shap", label: "KernelSHAP", family: "perturbation" },
] as const;
type MethodId = (typeof METHODS)[number]["id"];
type Row = {
  readonly id: MethodId;
  readonly label: string;
  readonly r: GradientAttributionResult | PerturbationAttributionResult;
};

export function AttributionView({ rpc, shared }: { rpc: RpcClient; shared: Shared }) {
  const { model, prompt, target } = shared;
  const [chosen, setChosen] = useState<ReadonlySet<MethodId>>(new Set(METHODS.map((m) => m.id)));
  const [rows, setRows] = useState<{ prompt: string; rows: Row[] } | null>(null);
  /** integrated gradients' steps and LIME/SHAP's samples (the methods' defaults) */
  const [steps, setSteps] = useState(64);
  const [samples, setSamples] = useState(256);
  /** the stored run whose result is shown (one method's row), until the view runs again */
  const [stored, setStored] = useState<number | null>(null);
  const job = useJob();
  useReopened<GradientAttributionResult | PerturbationAttributionResult>(
    shared.reopened,
    ["attribution", "perturbation"],
    (s) => {
      const m = METHODS.find((x) => x.id === field(s.request, "method", ""));
      if (m === undefined) return;
      if (m.id === "integrated_gradients") setSteps(field(s.request, "steps", 64));
      if (m.family === "perturbation" && m.id !== "occlusion") setSamples(field(s.request, "samples", 256));
      setChosen(new Set([m.id]));
      setRows({ prompt: s.prompt ?? prompt, rows: [{ id: m.id, label: m.label, r: s.result }] });
      setStored(s.runId);
    },
  );

  const attribute = () => {
    if (target === null) return;
    setStored(null);
    const text = prompt;
    const position = readPosition(target);
    const common = { input: { text }, target: target.token.id, position, objective: "logprob" as const };
    const methods = METHODS.filter((m) => chosen.has(m.id));
    job.start(
      async (o) => {
        const out: Row[] = [];
        // one after another: the server's heavy lane runs them so anyway, and a stop ends the rest
        for (const m of methods) {
          const request =
            m.family === "attribution"
              ? { kind: "attribution" as const, method: m.id, ...common, ...(m.id === "integrated_gradients" && { steps }) }
              : { kind: "perturbation" as const, method: m.id, ...common, ...(m.id !== "occlusion" && { samples }) };
          const r = await rpc.call("method", { model: model.id, request }, o);
          if (r.kind !== "attribution" && r.kind !== "perturbation") throw new Error(`expected an attribution, got ${r.kind}`);
          out.push({ id: m.id, label: m.label, r });
        }
        return out;
      },
      (out) => setRows({ prompt: text, rows: out }),
    );
  };

  const first = rows?.rows[0]?.r ?? null;
  const upto = first === null ? 0 : first.position + 1;
  const positions = Array.from({ length: upto }, (_, p) => p);
  const stale =
    stored === null && rows !== null && first !== null && (rows.prompt !== prompt || first.target.id !== target?.token.id);

  return (
    <div className="attribution">
      <div className="controls">
        {METHODS.map((m) => (
          <label key={m.id}>
            <input
              type="checkbox"
              checked={chosen.has(m.id)}
              onChange={(e) => {
                const next = new Set(chosen);
                if (e.target.checked) next.add(m.id);
                else next.delete(m.id);
                setChosen(next);
              }}
            />{" "}
            {m.label}
          </label>
        ))}
        <label>
          IG steps{" "}
          <input
            type="number"
            data-testid="attribution-steps"
            min={1}
            max={1024}
            value={steps}
            onChange={(e) => setSteps(Math.max(1, Math.min(1024, Number(e.target.value) || 1)))}
          />
        </label>
        <label>
          LIME/SHAP samples{" "}
          <input
            type="number"
            data-testid="attribution-samples"
            min={8}
            max={4096}
            value={samples}
            onChange={(e) => setSamples(Math.max(8, Math.min(4096, Number(e.target.value) || 8)))}
          />
        </label>
        <button
          type="button"
          data-testid="run-attribution"
          disabled={job.running || target === null || chosen.size === 0}
          onClick={attribute}
        >
          Attribute the target
        </button>
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
      </div>
      {target === null && <p className="muted">Pick a target token in the workbench (click a token or a prediction).</p>}
      {job.error !== null && <p className="error">attribution: {job.error}</p>}
      {rows !== null && first !== null && (
        <div data-testid="attribution">
          <p>
            log P(“{visible(first.target.text, first.target.id)}”) after position {first.position}: which tokens it rests on (red
            raises it, blue lowers it; each row scaled to its largest |score|)
          </p>
          <div className="lens-wrap">
            <table className="lens-grid attribution-grid">
              <thead>
                <tr>
                  <th />
                  {positions.map((p) => (
                    <th key={p}>{visible(first.tokens[p]?.text ?? null, first.tokens[p]?.id)}</th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {rows.rows.map(({ id, label, r }) => {
                  const scores = r.scores.slice(0, upto);
                  const m = maxAbs(scores);
                  return (
                    <tr key={id} data-testid="attribution-row">
                      <th className="axis">{label}</th>
                      {positions.map((p) => (
                        <td key={p} data-testid="attribution-cell" style={divergingCss(scores[p] ?? 0, m)} title={`${scores[p]}`}>
                          {num(scores[p], 2)}
                        </td>
                      ))}
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          {rows.rows.length > 1 && (
            <>
              <h3>Agreement (Spearman's ρ)</h3>
              <table className="dla-grid" data-testid="attribution-agreement">
                <thead>
                  <tr>
                    <th />
                    {rows.rows.map((x) => (
                      <th key={x.id}>{x.label}</th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {rows.rows.map((a) => (
                    <tr key={a.id}>
                      <th className="axis">{a.label}</th>
                      {rows.rows.map((b) => {
                        const rho = spearman(a.r.scores.slice(0, upto), b.r.scores.slice(0, upto));
                        return (
                          <td key={b.id} style={rho === null ? undefined : divergingCss(rho, 1)}>
                            {num(rho, 2)}
                          </td>
                        );
                      })}
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
        </div>
      )}
    </div>
  );
}
