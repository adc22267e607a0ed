// The page: the model picker, the views as tabs over one shared state (model, prompt, target) and one RPC client.
// Views stay mounted when hidden, so switching tabs keeps their results.
import type { ModelInfo } from "@llmdbg/protocol";
import { useEffect, useState } from "react";
import { exampleTarget, type OpenedExample } from "./datasets.js";
import { visible } from "./format.js";
import { type Reopened, servedModel } from "./reopen.js";
import type { RpcClient } from "./rpc.js";
import type { Shared, Target } from "./state.js";
import { AblationView } from "./views/Ablation.js";
import { AttentionView } from "./views/Attention.js";
import { AttributionView } from "./views/Attribution.js";
import { DatasetExampleCard } from "./views/DatasetExample.js";
import { DatasetsView } from "./views/Datasets.js";
import { LensView } from "./views/Lens.js";
import { LiveView } from "./views/Live.js";
import { PatchingView } from "./views/Patching.js";
import { ProjectorView } from "./views/Projector.js";
import { RunsView } from "./views/Runs.js";
import { SteeringView } from "./views/Steering.js";
import { TrainingView } from "./views/Training.js";
import { Workbench } from "./views/Workbench.js";

const TABS = [
  { id: "workbench", label: "Workbench" },
  { id: "attention", label: "Attention" },
  { id: "lens", label: "Lens & DLA" },
  { id: "ablation", label: "Ablation" },
  { id: "attribution", label: "Attribution" },
  { id: "patching", label: "Patching" },
  { id: "steering", label: "Steering" },
  { id: "live", label: "Live" },
  { id: "projector", label: "Projector" },
  { id: "datasets", label: "Datasets" },
  { id: "training", label: "Training" },
  { id: "runs", label: "Runs" },
] as const;
type Tab = (typeof TABS)[number]["id"];

export const DEFAULT_PROMPT = "The cat sat on the mat. The cat sat on the";

export function App({ rpc }: { rpc: RpcClient }) {
  const [models, setModels] = useState<readonly ModelInfo[] | null>(null);
  const [modelId, setModelId] = useState<string>("");
  const [error, setError] = useState<string | null>(null);
  const [connected, setConnected] = useState(true);
  const [tab, setTab] = useState<Tab>("workbench");
  const [prompt, setPrompt] = useState(DEFAULT_PROMPT);
  const [target, setTarget] = useState<Target | null>(null);
  /** the stored run last reopened (its view shows the stored result); the workbench starts afresh on its prompt */
  const [reopened, setReopened] = useState<Reopened | null>(null);
  /** an example opened from the Datasets table: shown above the workbench with its attribution */
  const [example, setExample] = useState<OpenedExample | null>(null);

  useEffect(() => {
    rpc.onClose = () => setConnected(false);
    rpc.call("models.list", {}).then(
      (r) => {
        setModels(r.models);
        setModelId((cur) => (cur === "" ? (r.models[0]?.id ?? "") : cur));
      },
      (e: unknown) => setError(e instanceof Error ? e.message : String(e)),
    );
  }, [rpc]);

  const model = models?.find((m) => m.id === modelId);
  const shared: Shared | null = model === undefined ? null : { model, prompt, target, setTarget, reopened };

  return (
    <div className="app">
      <header>
        <h1>llmdbg</h1>
        <label>
          model{" "}
          <select
            data-testid="model"
            value={modelId}
            onChange={(e) => {
              setModelId(e.target.value);
              setTarget(null);
              setReopened(null);
              setExample(null);
            }}
            disabled={models === null}
          >
            {(models ?? []).map((m) => (
              <option key={m.id} value={m.id}>
                {m.id} ({m.family}, {m.nLayers} layers × {m.nHeads} heads)
              </option>
            ))}
          </select>
        </label>
        <nav>
          {TABS.map((t) => (
            <button
              type="button"
              key={t.id}
              data-testid={`tab-${t.id}`}
              className={tab === t.id ? "tab active" : "tab"}
              onClick={() => setTab(t.id)}
            >
              {t.label}
            </button>
          ))}
        </nav>
        <span className="target" data-testid="target">
          {target === null
            ? "target: none (click a token)"
            : `target: “${visible(target.token.text, target.token.id)}” (id ${target.token.id}) at position ${target.position}`}
        </span>
        {!connected && <span className="error">disconnected: reload the page</span>}
      </header>
      {error !== null && <p className="error">could not list the models: {error}</p>}
      {models !== null && models.length === 0 && <p className="error">the server holds no models (llmdbg serve --model PATH)</p>}
      {shared !== null && (
        <main key={shared.model.id}>
          <section hidden={tab !== "workbench"}>
            {example !== null && (
              <DatasetExampleCard
                rpc={rpc}
                shared={shared}
                opened={example}
                onAttribution={() => setTab("attribution")}
                onClose={() => setExample(null)}
              />
            )}
            <Workbench key={`${reopened?.n ?? 0}:${example?.n ?? 0}`} rpc={rpc} shared={shared} onPrompt={setPrompt} />
          </section>
          <section hidden={tab !== "attention"}>
            <AttentionView rpc={rpc} shared={shared} />
          </section>
          <section hidden={tab !== "lens"}>
            <LensView rpc={rpc} shared={shared} />
          </section>
          <section hidden={tab !== "ablation"}>
            <AblationView rpc={rpc} shared={shared} />
          </section>
          <section hidden={tab !== "attribution"}>
            <AttributionView rpc={rpc} shared={shared} />
          </section>
          <section hidden={tab !== "patching"}>
            <PatchingView rpc={rpc} shared={shared} />
          </section>
          <section hidden={tab !== "steering"}>
            <SteeringView rpc={rpc} shared={shared} />
          </section>
          <section hidden={tab !== "live"}>
            <LiveView rpc={rpc} shared={shared} />
          </section>
          <section hidden={tab !== "projector"}>
            <ProjectorView rpc={rpc} shared={shared} />
          </section>
          <section hidden={tab !== "datasets"}>
            <DatasetsView
              rpc={rpc}
              shared={shared}
              active={tab === "datasets"}
              onOpen={(row, dataset) => {
                // the example becomes the prompt, its gold (or top prediction) the target, shown in the workbench
                setPrompt(row.example.text);
                setTarget(exampleTarget(row) ?? null);
                setExample((e) => ({ n: (e?.n ?? 0) + 1, dataset, row }));
                setTab("workbench");
              }}
            />
          </section>
          <section hidden={tab !== "training"}>
            <TrainingView active={tab === "training"} reopened={reopened} />
          </section>
          <section hidden={tab !== "runs"}>
            <RunsView
              active={tab === "runs"}
              onReopen={(run, t) => {
                const served = servedModel(run);
                // a run recorded on another of the server's models reopens on that model
                if (served !== undefined && served !== modelId && models?.some((m) => m.id === served)) {
                  setModelId(served);
                  setTarget(null);
                }
                if (run.prompt !== null) setPrompt(run.prompt);
                setReopened((r) => ({ n: (r?.n ?? 0) + 1, run }));
                setTab(t as Tab);
              }}
            />
          </section>
        </main>
      )}
    </div>
  );
}
