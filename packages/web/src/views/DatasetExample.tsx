// An example opened from the Datasets table, shown above the workbench (whose prompt it now is): the dataset, its
// gold, the model's prediction, and at once its attribution — integrated gradients of the log-probability of the
// gold's first token (else of the top prediction) over the text's tokens, as a heatmap. The Attribution tab runs
// all six methods on the same prompt and target.
import type { GradientAttributionResult } from "@llmdbg/protocol";
import { useEffect, useState } from "react";
import { maxAbs } from "../attribution.js";
import { exampleTarget, type OpenedExample } from "../datasets.js";
import { pct, visible } from "../format.js";
import { divergingCss } from "../heat.js";
import type { RpcClient } from "../rpc.js";
import type { Shared } from "../state.js";
import { progressText, useJob } from "../useJob.js";

/** Integrated gradients' steps here: enough for a readable map, quick on the zoo models. */
const STEPS = 32;

export function DatasetExampleCard({
  rpc,
  shared,
  opened,
  onAttribution,
  onClose,
}: {
  rpc: RpcClient;
  shared: Shared;
  opened: OpenedExample;
  onAttribution: () => void;
  onClose: () => void;
}) {
  const { row, dataset } = opened;
  const p = row.pred;
  const target = exampleTarget(row);
  const [result, setResult] = useState<GradientAttributionResult | null>(null);
  const job = useJob();
  const classifier = shared.model.labels !== null;

  // biome-ignore lint/correctness/useExhaustiveDependencies: each opening (n) runs it once
  useEffect(() => {
    setResult(null);
    if (target === undefined) return;
    const request = {
      kind: "attribution" as const,
      method: "integrated_gradients" as const,
      input: { text: row.example.text },
      target: target.token.id,
      objective: "logprob" as const,
      steps: STEPS,
      ...(!classifier && { position: target.position }),
    };
    job.start(
      (o) => rpc.call("method", { model: shared.model.id, request }, o),
      (r) => {
        if (r.kind === "attribution") setResult(r);
      },
    );
  }, [opened.n]);

  const upto = result === null ? 0 : result.position + 1;
  const scores = result?.scores.slice(0, upto) ?? [];
  const m = maxAbs(scores);
  return (
    <div className="ds-example" data-testid="ds-example">
      <div className="controls">
        <strong>
          {dataset.name} · example #{row.example.index}
        </strong>
        {row.gold !== null && <span>gold “{visible(row.gold)}”</span>}
        {p !== undefined && (
          <span data-testid="ds-example-prediction">
            prediction “{visible(p.top.text, p.top.id)}” {pct(p.top.prob)}
            {p.gold !== null && ` · P(gold) ${pct(p.gold.prob)}`}
            {p.correct === true ? " ✓" : p.correct === false ? " ✗" : ""}
          </span>
        )}
        <button type="button" data-testid="ds-example-attribution" onClick={onAttribution} disabled={target === undefined}>
          all six attribution methods →
        </button>
        <button type="button" onClick={onClose}>
          close
        </button>
      </div>
      {target === undefined && <p className="muted">Compute the dataset's predictions to see this example's attribution.</p>}
      {job.running && <p className="status">attribution: {progressText(job.progress)}</p>}
      {job.error !== null && <p className="error">attribution: {job.error}</p>}
      {result !== null && (
        <div className="ds-attribution" data-testid="ds-example-heatmap">
          <span className="muted">
            integrated gradients of log P(“{visible(result.target.text, result.target.id)}”) after position {result.position}:
          </span>{" "}
          {scores.map((s, i) => (
            <span
              // biome-ignore lint/suspicious/noArrayIndexKey: positions are the identity here
              key={i}
              className="ds-token"
              data-testid="ds-example-token"
              style={divergingCss(s, m)}
              title={`position ${i}: ${s.toFixed(4)}`}
            >
              {visible(result.tokens[i]?.text ?? null, result.tokens[i]?.id)}
            </span>
          ))}
        </div>
      )}
    </div>
  );
}
