// Steering, live: a vector added to the residual stream after one layer — given as the difference between the
// mean activations of positive and negative prompts (contrastive activation addition) — times a coefficient on a
// slider. Every change of the slider asks again (the previous request is cancelled), with the vector the first
// answer computed, so the next-token predictions with and without it and a greedy continuation update as the
// coefficient moves. From the `steer` method.
import type { SteeringVector, SteerResult } from "@llmdbg/protocol";
import { useEffect, useRef, useState } from "react";
import { num, pct, visible } from "../format.js";
import { field, useReopened } from "../reopen.js";
import type { RpcClient } from "../rpc.js";
import type { Shared } from "../state.js";
import { progressText, StoredNote, useJob } from "../useJob.js";

const lines = (s: string) =>
  s
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .map((text) => ({ text }));

function Predictions({ title, top, testId }: { title: string; top: SteerResult["before"]; testId: string }) {
  return (
    <div>
      <h3>{title}</h3>
      <ol className="steer-preds" data-testid={testId}>
        {top.map((p) => (
          <li key={p.id}>
            <span className="ptext">{visible(p.text, p.id)}</span> <span className="prob">{pct(p.prob)}</span>
          </li>
        ))}
      </ol>
    </div>
  );
}

export function SteeringView({ rpc, shared }: { rpc: RpcClient; shared: Shared }) {
  const { model, prompt } = shared;
  const [layer, setLayer] = useState(Math.floor(model.nLayers / 2));
  const [positive, setPositive] = useState("She was very happy.\nShe smiled and laughed.");
  const [negative, setNegative] = useState("She was very sad.\nShe cried and frowned.");
  const [coeff, setCoeff] = useState(4);
  const [result, setResult] = useState<SteerResult | null>(null);
  /** the vector the server computed for these contrast prompts at this layer, reused while only the coefficient moves */
  const cached = useRef<{ key: string; values: readonly number[] } | null>(null);
  const job = useJob();
  const hook = `blocks.${layer}.hook_resid_post`;
  const key = JSON.stringify([model.id, hook, positive, negative]);

  /** the stored run whose result is shown, until the view steers again */
  const [stored, setStored] = useState<number | null>(null);
  /** a coefficient set from a stored run: the live update skips it once (the result for it is the stored one) */
  const skipCoeff = useRef<number | null>(null);
  useReopened<SteerResult>(shared.reopened, ["steer"], (s) => {
    const l = /^blocks\.(\d+)\.hook_resid_post$/.exec(field(s.request, "hook", ""));
    const at = l === null ? layer : Number(l[1]);
    const contrast = (s.request.vector as { contrast?: { positive?: unknown; negative?: unknown } } | undefined)?.contrast;
    const texts = (v: unknown) =>
      Array.isArray(v) ? v.map((x: { text?: unknown }) => (typeof x?.text === "string" ? x.text : "")).join("\n") : null;
    const pos = texts(contrast?.positive) ?? positive;
    const neg = texts(contrast?.negative) ?? negative;
    setLayer(at);
    setPositive(pos);
    setNegative(neg);
    // the stored vector serves the next moves of the slider, as a computed one would
    cached.current = { key: JSON.stringify([model.id, `blocks.${at}.hook_resid_post`, pos, neg]), values: s.result.vector };
    skipCoeff.current = s.result.coeff;
    setCoeff(s.result.coeff);
    setResult(s.result);
    setStored(s.runId);
  });

  const steer = (c: number) => {
    setStored(null);
    const vector: SteeringVector =
      cached.current?.key === key
        ? { values: cached.current.values }
        : { contrast: { positive: lines(positive), negative: lines(negative) } };
    const k = key;
    job.start(
      (o) =>
        rpc.call(
          "method",
          {
            model: model.id,
            request: { kind: "steer", input: { text: prompt }, hook, vector, coeff: c, topK: 5, generate: { maxNewTokens: 16 } },
          },
          o,
        ),
      (r) => {
        if (r.kind !== "steer") throw new Error(`expected a steering result, got ${r.kind}`);
        cached.current = { key: k, values: r.vector };
        setResult(r);
      },
    );
  };

  // live: once there is a result, moving the slider asks again after a short pause
  const live = result !== null;
  const steerRef = useRef(steer);
  steerRef.current = steer;
  useEffect(() => {
    if (!live) return;
    if (skipCoeff.current === coeff) {
      skipCoeff.current = null;
      return;
    }
    const t = setTimeout(() => steerRef.current(coeff), 150);
    return () => clearTimeout(t);
  }, [coeff, live]);

  return (
    <div className="steering">
      <div className="patch-prompts">
        <label>
          positive prompts (one a line)
          <textarea data-testid="steer-positive" rows={3} value={positive} onChange={(e) => setPositive(e.target.value)} />
        </label>
        <label>
          negative prompts (one a line)
          <textarea data-testid="steer-negative" rows={3} value={negative} onChange={(e) => setNegative(e.target.value)} />
        </label>
      </div>
      <div className="controls">
        <label>
          after layer{" "}
          <select value={layer} onChange={(e) => setLayer(Number(e.target.value))}>
            {Array.from({ length: model.nLayers }, (_, l) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: the layer is the option's identity
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <label>
          coefficient{" "}
          <input
            type="range"
            data-testid="steer-coeff"
            min={-16}
            max={16}
            step={0.5}
            value={coeff}
            onChange={(e) => setCoeff(Number(e.target.value))}
          />{" "}
          <span className="coeff">{coeff.toFixed(1)}</span>
        </label>
        <button type="button" data-testid="run-steer" disabled={job.running} onClick={() => steer(coeff)}>
          Steer
        </button>
        {job.running && <span className="status">{progressText(job.progress)}</span>}
        <StoredNote run={stored} />
      </div>
      <p className="muted">
        The vector: mean {hook} of the positive prompts minus that of the negative ones, added at every position of the
        workbench's prompt “{prompt}” and of the tokens generated after it. The slider updates the predictions live.
      </p>
      {job.error !== null && job.error !== "stopped" && <p className="error">steering: {job.error}</p>}
      {result !== null && (
        <div data-testid="steer">
          <p data-testid="steer-summary">
            coefficient {num(result.coeff, 1)} · ‖vector‖ {num(result.norm, 2)} · KL(without ‖ with) {num(result.kl, 3)}
          </p>
          <div className="dla-layout">
            <Predictions title="without" top={result.before} testId="steer-before" />
            <Predictions title="with the vector" top={result.after} testId="steer-after" />
          </div>
          {result.generated !== null && (
            <div className="generation">
              <div>
                <span className="muted">without: </span>
                {result.generated.beforeText}
              </div>
              <div data-testid="steer-generated">
                <span className="muted">with: </span>
                {result.generated.afterText}
              </div>
            </div>
          )}
        </div>
      )}
    </div>
  );
}
