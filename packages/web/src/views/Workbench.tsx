// The workbench: a prompt, its tokens with the model's top-k next-token predictions at every position (`run`), and
// a streamed continuation (`generate`, each token appended as its partial reply arrives). Clicking a token or a
// prediction makes it the target the other views read.
import type { GenerateResult, RunResult } from "@llmdbg/protocol";
import { useState } from "react";
import { pct, visible } from "../format.js";
import { field, useReopened } from "../reopen.js";
import type { RpcClient } from "../rpc.js";
import type { Shared, Target } from "../state.js";
import { progressText, useJob } from "../useJob.js";

const sameTarget = (a: Target | null, b: Target) =>
  a !== null && a.position === b.position && a.token.id === b.token.id && a.from === b.from;

export function Workbench({ rpc, shared, onPrompt }: { rpc: RpcClient; shared: Shared; onPrompt: (p: string) => void }) {
  const { model, target, setTarget } = shared;
  const [draft, setDraft] = useState(shared.prompt);
  const [topK, setTopK] = useState(5);
  const [result, setResult] = useState<RunResult | null>(null);
  const runJob = useJob();

  const [maxNew, setMaxNew] = useState(20);
  const [temperature, setTemperature] = useState(0);
  const [generated, setGenerated] = useState<{ prompt: string; text: string; finish: string | null } | null>(null);
  const genJob = useJob();

  const show = (r: RunResult) => {
    setResult(r);
    // a default target: the top prediction after the last token
    const last = r.positions[r.positions.length - 1];
    const top = last?.top[0];
    setTarget(
      last === undefined || top === undefined
        ? null
        : { position: last.position, token: { id: top.id, text: top.display ?? top.text }, from: "prediction" },
    );
  };
  const run = () => {
    onPrompt(draft);
    runJob.start((o) => rpc.call("run", { model: model.id, input: { text: draft }, topK }, o), show);
  };
  // a reopened `run` or `generate` run shows what was stored
  useReopened<RunResult>(shared.reopened, ["run"], (s) => {
    setTopK(field(s.request, "topK", 5));
    show(s.result);
  });
  useReopened<GenerateResult>(shared.reopened, ["generate"], (s) => {
    setMaxNew(field(s.request, "maxNewTokens", 20));
    setTemperature(field(s.request, "temperature", 0));
    setGenerated({ prompt: s.prompt ?? "", text: s.result.text ?? "", finish: s.result.finishReason });
  });

  const generate = () => {
    const prompt = draft;
    setGenerated({ prompt, text: "", finish: null });
    genJob.start(
      (o) => rpc.call("generate", { model: model.id, input: { text: prompt }, maxNewTokens: maxNew, temperature }, o),
      (r) => setGenerated((g) => (g === null ? g : { ...g, finish: r.finishReason })),
      { onPartial: (p) => setGenerated((g) => (g === null ? g : { ...g, text: g.text + (p.text ?? "") })) },
    );
  };

  return (
    <div className="workbench">
      <form
        className="prompt"
        onSubmit={(e) => {
          e.preventDefault();
          run();
        }}
      >
        <textarea
          data-testid="prompt"
          value={draft}
          rows={3}
          spellCheck={false}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
              e.preventDefault();
              run();
            }
          }}
        />
        <div className="controls">
          <label>
            top-k{" "}
            <input
              type="number"
              min={1}
              max={50}
              value={topK}
              onChange={(e) => setTopK(Math.max(1, Math.min(50, Number(e.target.value) || 1)))}
            />
          </label>
          <button type="submit" data-testid="run" disabled={runJob.running || draft === ""}>
            Run
          </button>
          <span className="sep" />
          <label>
            new tokens{" "}
            <input
              type="number"
              min={1}
              max={512}
              value={maxNew}
              onChange={(e) => setMaxNew(Math.max(1, Math.min(512, Number(e.target.value) || 1)))}
            />
          </label>
          <label>
            temperature{" "}
            <input
              type="number"
              min={0}
              max={5}
              step={0.1}
              value={temperature}
              onChange={(e) => setTemperature(Math.max(0, Number(e.target.value) || 0))}
            />
          </label>
          <button type="button" data-testid="generate" disabled={genJob.running || draft === ""} onClick={generate}>
            Generate
          </button>
          {genJob.running && (
            <button type="button" data-testid="stop" onClick={genJob.stop}>
              Stop
            </button>
          )}
        </div>
      </form>
      {runJob.running && <p className="status">{progressText(runJob.progress)}</p>}
      {runJob.error !== null && <p className="error">run: {runJob.error}</p>}

      {generated !== null && (
        <div className="generation" data-testid="generation">
          <span className="muted">{generated.prompt}</span>
          <span data-testid="generated">{generated.text}</span>
          {genJob.running && <span className="cursor">▍</span>}
          <div className="status">
            {genJob.error !== null
              ? `generation: ${genJob.error}`
              : generated.finish !== null
                ? `finished: ${generated.finish}`
                : ""}
            {!genJob.running && generated.text !== "" && (
              <button
                type="button"
                className="continue"
                data-testid="use-generation"
                onClick={() => setDraft(generated.prompt + generated.text)}
              >
                use as prompt
              </button>
            )}
          </div>
        </div>
      )}

      {result !== null && (
        <table className="tokens" data-testid="tokens">
          <thead>
            <tr>
              <th>pos</th>
              <th>token</th>
              <th>{model.labels === null ? `top ${topK} next tokens` : "labels"}</th>
            </tr>
          </thead>
          <tbody>
            {result.positions.map(({ position, top }) => {
              const id = result.tokens[position] ?? -1;
              const text = result.tokenDisplays[position] ?? result.tokenStrings[position] ?? null;
              const input: Target = { position, token: { id, text }, from: "input" };
              return (
                <tr key={position} data-testid="token-row">
                  <td className="pos">{position}</td>
                  <td>
                    <button
                      type="button"
                      className={sameTarget(target, input) ? "tok selected" : "tok"}
                      title={`id ${id}`}
                      data-testid="token"
                      onClick={() => setTarget(input)}
                    >
                      {visible(text, id)}
                    </button>
                  </td>
                  <td className="preds">
                    {top.map((p) => {
                      const t: Target = { position, token: { id: p.id, text: p.display ?? p.text }, from: "prediction" };
                      return (
                        <button
                          type="button"
                          key={p.id}
                          className={sameTarget(target, t) ? "pred selected" : "pred"}
                          title={`id ${p.id}, logit ${p.logit.toFixed(3)}`}
                          data-testid="prediction"
                          onClick={() => setTarget(t)}
                        >
                          <span className="bar" style={{ width: `${Math.max(1, 100 * p.prob)}%` }} />
                          <span className="ptext">{visible(p.display ?? p.text, p.id)}</span>
                          <span className="prob">{pct(p.prob)}</span>
                        </button>
                      );
                    })}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}
