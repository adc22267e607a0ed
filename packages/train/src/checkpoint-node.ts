// Checkpoints as folders, one per step (`checkpoint-<step>`, as the Hugging Face Trainer names them):
//   model.safetensors      the parameters, by ParamStore name (writeWeights)
//   optimizer.safetensors  the optimizer's state tensors; its kind and step count in the metadata
//   trainer_state.json     step, data position, generator state, schedule, early stopping, config
// Every file is written to a temporary name and renamed, so a crash mid-save leaves no half-written file
// under the real name.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readSafetensors, writeSafetensors } from "@llmdbg/formats";
import type { Tensor } from "@llmdbg/tensor";
import { type CheckpointStore, checkTrainerState, type TrainSnapshot } from "./checkpoint.js";
import type { OptimizerState } from "./optim.js";

export const WEIGHTS_FILE = "model.safetensors";
export const OPTIMIZER_FILE = "optimizer.safetensors";
export const STATE_FILE = "trainer_state.json";

/**
 * Writes the parameters to one safetensors file under their ParamStore names. Kept alone so that the layout of
 * the weights (a checkpoint prefix, a config beside them) can change in one place.
 * @example writeWeights(model.params.entries(), "out/model.safetensors")
 */
export function writeWeights(params: Iterable<readonly [string, Tensor]>, file: string): void {
  writeSafetensors(file, Object.fromEntries(params), { metadata: { format: "pt" } });
}

/** Reads every tensor of a weights file written by writeWeights, by name. */
export function readWeights(file: string): Map<string, Tensor> {
  const st = readSafetensors(file);
  return new Map(st.keys().map((k) => [k, st.load(k)]));
}

/**
 * Writes `snapshot` into the folder `dir` (created if needed).
 * @example saveCheckpoint(snapshot, "runs/a/checkpoint-100")
 */
export function saveCheckpoint(snapshot: TrainSnapshot, dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeWeights(snapshot.weights, join(dir, WEIGHTS_FILE));
  const o = snapshot.optimizer;
  writeSafetensors(join(dir, OPTIMIZER_FILE), o.tensors, { metadata: { kind: o.kind, step: String(o.step) } });
  const tmp = join(dir, `${STATE_FILE}.tmp-${process.pid}`);
  writeFileSync(tmp, `${JSON.stringify(snapshot.state, null, 2)}\n`);
  renameSync(tmp, join(dir, STATE_FILE));
}

/**
 * Reads a checkpoint folder written by saveCheckpoint, for `train(…, { resume })`.
 * @example await train(model, data, config, { resume: loadCheckpoint("runs/a/checkpoint-100") })
 */
export function loadCheckpoint(dir: string): TrainSnapshot {
  const stateFile = join(dir, STATE_FILE);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(stateFile, "utf8"));
  } catch (e) {
    throw new Error(`${stateFile}: ${(e as Error).message}`);
  }
  const state = checkTrainerState(json, stateFile);
  const optFile = join(dir, OPTIMIZER_FILE);
  const st = readSafetensors(optFile);
  const kind = st.metadata.kind;
  const step = Number(st.metadata.step);
  if (kind !== "adamw" && kind !== "sgd")
    throw new Error(`${optFile}: metadata "kind" must be adamw or sgd, got ${JSON.stringify(kind)}`);
  if (!Number.isSafeInteger(step) || step < 0)
    throw new Error(`${optFile}: metadata "step" must be a count, got ${JSON.stringify(st.metadata.step)}`);
  const tensors: Record<string, Tensor> = {};
  for (const k of st.keys()) tensors[k] = st.load(k);
  const optimizer: OptimizerState = { kind, step, tensors };
  return { state, weights: readWeights(join(dir, WEIGHTS_FILE)), optimizer };
}

/**
 * A checkpoint store writing `dir/checkpoint-<step>` folders.
 * @example await train(model, data, { checkpointEvery: 100 }, { checkpoints: folderCheckpoints("runs/a") })
 */
export function folderCheckpoints(dir: string): CheckpointStore {
  return {
    save(snapshot) {
      const folder = join(dir, `checkpoint-${snapshot.state.step}`);
      saveCheckpoint(snapshot, folder);
      return folder;
    },
  };
}
