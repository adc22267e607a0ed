// Checkpoints as folders, one per step (`checkpoint-<step>`, as the Hugging Face Trainer names them):
//   model.safetensors      the parameters: by ParamStore name (writeWeights), or — given the model's files — under
//                          the names save_pretrained uses, beside config.json and the tokenizer files, so that the
//                          checkpoint is a Hugging Face model folder that loads anywhere
//   optimizer.safetensors  the optimizer's state tensors; its kind and step count in the metadata
//   trainer_state.json     step, data position, generator state, schedule, early stopping, config
// Every file is written to a temporary name and renamed, so a crash mid-save leaves no half-written file
// under the real name.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readSafetensors, writeSafetensors } from "@llmdbg/formats";
import { checkpointLayout, normalizeHfConfig, saveModel } from "@llmdbg/models";
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

/** What makes a checkpoint a model folder: the model's config.json and the folder its other files come from. */
export interface ModelFiles {
  /** the config.json object of the model trained */
  readonly config: Record<string, unknown>;
  /** a folder whose other files (tokenizer.json, tokenizer_config.json, generation_config.json, …) are copied */
  readonly copyFrom?: string;
}

/** Copies the files of `from` that are not weights (nor a checkpoint's own) into `dir`. */
function copyModelFiles(from: string, dir: string): void {
  for (const f of readdirSync(from)) {
    const p = join(from, f);
    if (f.endsWith(".safetensors") || f === STATE_FILE || f === "config.json" || !statSync(p).isFile()) continue;
    if (!/\.(json|jinja|txt|model)$/.test(f)) continue;
    copyFileSync(p, join(dir, f));
  }
}

/**
 * Writes `snapshot` into the folder `dir` (created if needed); with `model`, as a Hugging Face model folder.
 * @example saveCheckpoint(snapshot, "runs/a/checkpoint-100", { config, copyFrom: "models/base" })
 */
export function saveCheckpoint(snapshot: TrainSnapshot, dir: string, model?: ModelFiles): void {
  mkdirSync(dir, { recursive: true });
  if (model === undefined) writeWeights(snapshot.weights, join(dir, WEIGHTS_FILE));
  else {
    if (model.copyFrom !== undefined) copyModelFiles(model.copyFrom, dir);
    writeFileSync(join(dir, "config.json"), `${JSON.stringify(model.config, null, 2)}\n`);
    const config = normalizeHfConfig(model.config, join(dir, "config.json"));
    const weights = snapshot.weights;
    const get = (k: string): Tensor => {
      const t = weights.get(k);
      if (t === undefined)
        throw new Error(`saveCheckpoint: the snapshot has no parameter ${JSON.stringify(k)} of the model's config`);
      return t;
    };
    saveModel(config, { get }, join(dir, WEIGHTS_FILE));
  }
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
  return { state, weights: checkpointWeights(dir), optimizer };
}

/**
 * The parameters a checkpoint folder holds, by ParamStore name: as written (writeWeights), or mapped back from
 * save_pretrained's names when the folder is a model folder (it has config.json).
 */
function checkpointWeights(dir: string): Map<string, Tensor> {
  const stored = readWeights(join(dir, WEIGHTS_FILE));
  const configFile = join(dir, "config.json");
  if (!existsSync(configFile)) return stored;
  const config = normalizeHfConfig(JSON.parse(readFileSync(configFile, "utf8")), configFile);
  const out = new Map<string, Tensor>();
  for (const e of checkpointLayout(config)) {
    const t = stored.get(e.stored);
    if (t === undefined)
      throw new Error(`${join(dir, WEIGHTS_FILE)}: missing tensor ${JSON.stringify(e.stored)} of ${configFile}`);
    out.set(e.key, t);
  }
  return out;
}

/**
 * A checkpoint store writing `dir/checkpoint-<step>` folders.
 * @example await train(model, data, { checkpointEvery: 100 }, { checkpoints: folderCheckpoints("runs/a") })
 */
export function folderCheckpoints(dir: string, model?: ModelFiles): CheckpointStore {
  return {
    save(snapshot) {
      const folder = join(dir, `checkpoint-${snapshot.state.step}`);
      saveCheckpoint(snapshot, folder, model);
      return folder;
    },
  };
}
