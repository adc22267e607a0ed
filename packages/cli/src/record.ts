// Recording a command's run in the run store (@llmdbg/store), on by default: `--no-store` skips it, `--store DIR`
// picks the folder (default $LLMDBG_HOME, else the per-user data folder). The result is already printed when this
// runs, so a store that cannot be written is a warning on stderr, never a failed command.
import { hardwareInfo, openStore, type RunInput, storeHome } from "@llmdbg/store";
import { flag } from "./flags.js";

/** The flags of every command that records its run (spread into its flag table). */
export const storeFlags = {
  "no-store": flag.bool("do not record this run in the run store (llmdbg runs)"),
  store: flag.text("DIR", "the run store to record into (default $LLMDBG_HOME, else ~/.local/share/llmdbg)"),
};

export interface StoreValues {
  readonly "no-store": boolean;
  readonly store: string | undefined;
}

/** The model a run used: its folder or file (hashed), and its config. */
export interface RunModel {
  readonly path: string;
  readonly config: unknown;
}

/**
 * Records one run (with its model, identified by path and content hash) unless `--no-store`; returns its id, or
 * undefined when not recorded.
 * @example recordRun(values, { path: m.path, config: m.config }, { kind: "run", prompt: values.text ?? null, tokens: ids })
 */
export function recordRun(values: StoreValues, model: RunModel | null, run: Omit<RunInput, "model">): number | undefined {
  if (values["no-store"]) return undefined;
  try {
    const store = openStore(values.store ?? storeHome());
    try {
      const id = model === null ? null : store.modelAt(model.path, model.config);
      return store.recordRun({ hardware: hardwareInfo(), ...run, model: id });
    } finally {
      store.close();
    }
  } catch (e) {
    process.stderr.write(`llmdbg: warning: the run was not recorded: ${(e as Error).message}\n`);
    return undefined;
  }
}
