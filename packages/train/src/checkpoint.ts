// What a checkpoint holds, independent of where it is stored: the weights, the optimizer's state and the
// trainer's own state (step, data position, random generator, early-stopping counters, config). Resuming from
// it continues the run exactly: the same batches in the same order, the same learning rates, the same moments.
// checkpoint-node.ts stores it as a folder; anything else implementing CheckpointStore may store it elsewhere.
import type { ResolvedTrainConfig } from "@llmdbg/protocol";
import type { Tensor } from "@llmdbg/tensor";
import type { OptimizerState } from "./optim.js";
import type { RngState } from "./rng.js";

/** trainer_state.json. */
export interface TrainerState {
  readonly format: 1;
  /** optimizer steps done */
  readonly step: number;
  /** epochs completed, and micro-batches read of the current one */
  readonly epoch: number;
  readonly position: number;
  /** the generator now, and where it stood when it drew the current epoch's order (redrawn on resume) */
  readonly rng: RngState;
  readonly epochRng: RngState;
  /** the schedule's position: the multiplier of the next update follows from step and totalSteps; lr is that update's rate */
  readonly schedule: { readonly step: number; readonly totalSteps: number; readonly lr: number };
  readonly optimizer: { readonly kind: "adamw" | "sgd"; readonly step: number };
  /** early stopping: the best value of its metric so far, its step, and evaluations since it improved */
  readonly best: number | null;
  readonly bestStep: number | null;
  readonly patience: number;
  readonly config: ResolvedTrainConfig;
}

/** A checkpoint in memory. */
export interface TrainSnapshot {
  readonly state: TrainerState;
  /** every parameter by its ParamStore name */
  readonly weights: ReadonlyMap<string, Tensor>;
  readonly optimizer: OptimizerState;
}

/** Where the trainer writes checkpoints; `save` returns where the snapshot went (a folder, a key). */
export interface CheckpointStore {
  save(snapshot: TrainSnapshot): string | Promise<string>;
}

const isU32 = (x: unknown): boolean => Number.isInteger(x) && (x as number) >= 0 && (x as number) < 2 ** 32;
const isCount = (x: unknown): boolean => Number.isSafeInteger(x) && (x as number) >= 0;

/**
 * Checks a parsed trainer_state.json: every field the trainer resumes from is present with its type; `file`
 * names it in errors.
 */
export function checkTrainerState(v: unknown, file: string): TrainerState {
  const bad = (field: string, what: string): never => {
    throw new Error(`${file}: ${field} ${what}`);
  };
  if (typeof v !== "object" || v === null) return bad("(root)", "must be an object");
  const s = v as Record<string, unknown>;
  if (s.format !== 1) bad("format", `must be 1, got ${JSON.stringify(s.format)}`);
  for (const k of ["step", "epoch", "position", "patience"]) if (!isCount(s[k])) bad(k, "must be a non-negative integer");
  for (const k of ["rng", "epochRng"]) {
    const r = s[k];
    if (!Array.isArray(r) || r.length !== 4 || !r.every(isU32)) bad(k, "must be four unsigned 32-bit integers");
  }
  const sch = s.schedule as Record<string, unknown> | undefined;
  if (typeof sch !== "object" || sch === null || !isCount(sch.step) || !isCount(sch.totalSteps) || typeof sch.lr !== "number")
    bad("schedule", "must be { step, totalSteps, lr }");
  const opt = s.optimizer as Record<string, unknown> | undefined;
  if (typeof opt !== "object" || opt === null || (opt.kind !== "adamw" && opt.kind !== "sgd") || !isCount(opt.step))
    bad("optimizer", 'must be { kind: "adamw" | "sgd", step }');
  if (s.best !== null && typeof s.best !== "number") bad("best", "must be a number or null");
  if (s.bestStep !== null && !isCount(s.bestStep)) bad("bestStep", "must be a step or null");
  if (typeof s.config !== "object" || s.config === null) bad("config", "must be the run's resolved config");
  return v as TrainerState;
}
