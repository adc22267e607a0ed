// Recording a training run while it runs (`llmdbg train`): the run goes into the store with status `running` before
// its first step, its events follow in batches (the store's LiveRun), and its end sets the final status — `done`,
// `failed` with the error, or `aborted` (Ctrl-C) — so `llmdbg serve`'s Training view follows it live. As with
// record.ts, the store is a convenience beside the command: one that cannot be opened or written is a warning on
// stderr, and training goes on.
import { hardwareInfo, LiveRun, openStore, type RunInput, type Store, storeHome } from "@llmdbg/store";
import type { RunModel, StoreValues } from "./record.js";

const warn = (m: string) => process.stderr.write(`${m}\n`);

/**
 * Records a run that starts now (unless `--no-store`) and returns its writer; undefined when not recorded.
 * @example const live = startLiveRun(values, null, { kind: "train", options }); … onEvent: (e) => live?.push(e)
 */
export function startLiveRun(
  values: StoreValues,
  model: RunModel | null,
  run: Omit<RunInput, "model" | "status" | "events">,
): LiveRun | undefined {
  if (values["no-store"]) return undefined;
  let store: Store | undefined;
  try {
    store = openStore(values.store ?? storeHome());
    const id = model === null ? null : store.modelAt(model.path, model.config);
    return LiveRun.start(store, { hardware: hardwareInfo(), ...run, model: id }, { warn });
  } catch (e) {
    store?.close();
    warn(`llmdbg: warning: the run is not recorded: ${(e as Error).message}`);
    return undefined;
  }
}

/** How the run ended; `model` is the folder it wrote, which becomes the run's model. */
export interface LiveRunOutcome {
  readonly status: "done" | "failed" | "aborted";
  readonly error?: string;
  readonly timings?: Readonly<Record<string, number>>;
  readonly model?: RunModel;
}

/** Writes the run's last events and its final status, then closes the store. Never throws. */
export function endLiveRun(live: LiveRun | undefined, end: LiveRunOutcome): void {
  if (live === undefined) return;
  try {
    let model: number | undefined;
    try {
      if (end.model !== undefined) model = live.store.modelAt(end.model.path, end.model.config);
    } catch (e) {
      warn(`llmdbg: warning: the trained model was not recorded with the run: ${(e as Error).message}`);
    }
    live.finish({
      status: end.status,
      ...(end.error !== undefined && { error: end.error }),
      ...(end.timings !== undefined && { timings: end.timings }),
      ...(model !== undefined && { model }),
    });
  } finally {
    try {
      live.store.close();
    } catch {
      // closing a store that failed is not worth a second warning
    }
  }
}
