// Live interventions: toggle a zero-ablation of attention heads (a layer × head grid) or of an MLP layer's neurons,
// and the workbench prompt runs again at once with them (the previous request cancelled). Each position shows the
// ablated run's top-k with every token's probability clean → ablated, and the target's; the round-trip time of
// the last update is shown beside the controls (the issue's target: ≤ 150 ms on `stories`).
import type { RunResult } from "@llmdbg/protocol";
import { useEffect, useRef, useState } from "react";
import { pct, visible } from "../format.js";
import { compareRuns, headKey, liveInterventions, type NeuronPick, parseNeurons, probOf } from "../live.js";
import type { RpcClient } from "../rpc.js";
import { readPosition, type Shared } from "../state.js";
import { useJob } from "../useJob.js";

/** predictions shown per position */
const SHOWN = 5;
/** predictions asked for, so that a token rising into the shown ones has a clean probability too */
const ASKED = 50;

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;

export function LiveView({ rpc, shared }: { rpc: RpcClient; shared: Shared }) {
  const { model, prompt, target } = shared;
  const [active, setActive] = useState(false);
  const [heads, setHeads] = useState<ReadonlySet<string>>(new Set());
  const [neuronLayer, setNeuronLayer] = useState(0);
  const [neuronText, setNeuronText] = useState("");
  const [clean, setClean] = useState<RunResult | null>(null);
  const [live, setLive] = useState<RunResult | null>(null);
  const [latency, setLatency] = useState<number | null>(null);
  const [updates, setUpdates] = useState(0);
  const cleanJob = useJob();
  const liveJob = useJob();

  const parsed = parseNeurons(neuronText);
  const neurons: NeuronPick | null = "error" in parsed ? null : { layer: neuronLayer, indices: parsed.indices };
  const interventions = liveInterventions(heads, neurons);
  const ivKey = JSON.stringify(interventions);

  const runClean = useRef(() => {});
  runClean.current = () =>
    cleanJob.start(
      (o) => rpc.call("run", { model: model.id, input: { text: prompt }, topK: ASKED }, o),
      (r) => setClean(r),
    );
  const runLive = useRef(() => {});
  runLive.current = () => {
    const t0 = performance.now();
    liveJob.start(
      (o) => rpc.call("run", { model: model.id, input: { text: prompt }, topK: ASKED, interventions }, o),
      (r) => {
        setLive(r);
        setLatency(performance.now() - t0);
        setUpdates((n) => n + 1);
      },
    );
  };

  // the clean run once per prompt; the ablated one at every change of the toggles
  useEffect(() => {
    if (active && prompt !== "") runClean.current();
  }, [active, prompt]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: ivKey stands for the interventions
  useEffect(() => {
    if (active && prompt !== "") runLive.current();
  }, [active, prompt, ivKey]);

  const toggle = (l: number, h: number) =>
    setHeads((s) => {
      const next = new Set(s);
      const k = headKey(l, h);
      if (!next.delete(k)) next.add(k);
      return next;
    });

  const rows =
    clean !== null && live !== null && live.tokens.join() === clean.tokens.join() ? compareRuns(clean, live, SHOWN) : null;
  const tp = target === null ? null : readPosition(target);
  const fmt = (p: number | null) => (p === null ? `<top ${ASKED}` : pct(p));

  return (
    <div className="live">
      <div className="controls">
        <button
          type="button"
          data-testid="run-live"
          disabled={prompt === ""}
          onClick={() => (active ? runLive.current() : setActive(true))}
        >
          {active ? "Run again" : "Go live"}
        </button>
        <button
          type="button"
          data-testid="live-clear"
          onClick={() => {
            setHeads(new Set());
            setNeuronText("");
          }}
        >
          clear all
        </button>
        <label>
          MLP neurons of layer{" "}
          <select data-testid="live-neuron-layer" value={neuronLayer} onChange={(e) => setNeuronLayer(Number(e.target.value))}>
            {Array.from({ length: model.nLayers }, (_, l) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: the layer is the option's identity
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>{" "}
          <input
            data-testid="live-neurons"
            placeholder="e.g. 3, 17, -1"
            value={neuronText}
            onChange={(e) => setNeuronText(e.target.value)}
          />
        </label>
        <span className="status" data-testid="live-latency">
          {liveJob.running ? "updating…" : latency === null ? "" : `updated in ${latency.toFixed(0)} ms`}
        </span>
      </div>
      {"error" in parsed && <p className="error">neurons: {parsed.error}</p>}
      <p className="muted">
        Toggle a head to zero its output (attn.hook_z) at every position of the workbench's prompt “{prompt}”; the predictions
        update at once.{" "}
        {interventions.length === 0
          ? "Nothing ablated."
          : `${count(heads.size, "head")} and ${count(neurons?.indices.length ?? 0, "neuron")} ablated.`}
      </p>
      <table className="live-heads" data-testid="live-heads">
        <thead>
          <tr>
            <th />
            {Array.from({ length: model.nHeads }, (_, h) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: the head is the column's identity
              <th key={h}>H{h}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {Array.from({ length: model.nLayers }, (_, l) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: the layer is the row's identity
            <tr key={l}>
              <th>L{l}</th>
              {Array.from({ length: model.nHeads }, (_, h) => {
                const on = heads.has(headKey(l, h));
                return (
                  // biome-ignore lint/suspicious/noArrayIndexKey: the head is the cell's identity
                  <td key={h}>
                    <button
                      type="button"
                      className={on ? "live-head on" : "live-head"}
                      aria-pressed={on}
                      title={`layer ${l} head ${h}: ${on ? "ablated" : "on"}`}
                      data-testid={`live-head-${l}-${h}`}
                      onClick={() => toggle(l, h)}
                    />
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
      {cleanJob.error !== null && cleanJob.error !== "stopped" && <p className="error">clean run: {cleanJob.error}</p>}
      {liveJob.error !== null && liveJob.error !== "stopped" && <p className="error">ablated run: {liveJob.error}</p>}
      {rows !== null && clean !== null && live !== null && (
        <div data-testid="live" data-updates={updates}>
          {target !== null && tp !== null && (
            <p data-testid="live-target">
              target “{visible(target.token.text, target.token.id)}” after position {tp}: clean{" "}
              {fmt(probOf(clean, tp, target.token.id))} → ablated {fmt(probOf(live, tp, target.token.id))}
            </p>
          )}
          <table className="tokens">
            <thead>
              <tr>
                <th>pos</th>
                <th>token</th>
                <th>top {SHOWN} with the ablation (clean → ablated)</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.position} data-testid="live-row" className={r.flipped ? "flipped" : undefined}>
                  <td className="pos">{r.position}</td>
                  <td className="tok">{visible(r.token)}</td>
                  <td className="preds">
                    {r.top.map((c) => (
                      <span key={c.id} className="pred" data-testid="live-pred" title={`id ${c.id}`}>
                        <span className="ptext">{visible(c.text, c.id)}</span>
                        <span className="prob">
                          {fmt(c.clean)} → {pct(c.prob)}
                        </span>
                      </span>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
