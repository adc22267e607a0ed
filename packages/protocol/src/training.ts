// Training runs as the server hands them to the browser while they run: the list (`GET /api/training`) and each
// run's events after a sequence number (`GET /api/runs/<id>/events?after=<seq>`), which the Training view polls.
// A run's events are its TrainEvents as `llmdbg train` recorded them, but for what names a folder on the machine
// that trained: a checkpoint is shown by its step, store id and folder name, and the start event's checkpointDir
// is null. The browser never sees a filesystem path.
import type { TrainCheckpointEvent, TrainEvent } from "./train.js";

/** A checkpoint as the browser sees it. */
export interface TrainingCheckpointEvent {
  readonly kind: "checkpoint";
  readonly step: number;
  /** the run store's id of the checkpoint (null in a run recorded before the store kept checkpoints) */
  readonly id: number | null;
  /** the checkpoint folder's own name ("checkpoint-200"), never its path */
  readonly name: string;
}

/** A recorded TrainEvent as served. */
export type TrainingEvent = Exclude<TrainEvent, TrainCheckpointEvent> | TrainingCheckpointEvent;

/** A stored run's status: `aborted` is a run stopped on purpose (Ctrl-C), shown as "stopped". */
export type TrainingStatus = "running" | "done" | "failed" | "aborted";

/** One training run in the list. */
export interface TrainingRunSummary {
  readonly id: number;
  readonly uid: string;
  /** the model's folder name (the base model while it trains, the trained one after), or null */
  readonly model: string | null;
  readonly createdAt: string;
  /** when the writer last recorded events or a status (ISO); a `running` run whose time stands still has died */
  readonly updatedAt: string;
  readonly status: TrainingStatus;
  /** the last step recorded, or null before the first */
  readonly step: number | null;
  /** the steps the run plans (its start event), or null before it */
  readonly totalSteps: number | null;
  readonly loss: number | null;
  /** the last evaluation's loss, when it has one */
  readonly evalLoss: number | null;
  readonly tokensPerSecond: number | null;
  readonly events: number;
  readonly checkpoints: number;
  /** why a failed run failed */
  readonly error: string | null;
}

/** `GET /api/training`: the training runs, running ones first, then newest first. */
export interface TrainingRunsPage {
  readonly runs: readonly TrainingRunSummary[];
  /** the server's clock (ISO), to tell how long ago `updatedAt` was without trusting the browser's */
  readonly now: string;
}

/** `GET /api/runs/<id>/events?after=<seq>&limit=<n>`: the run's events after `after`, in order. */
export interface TrainingEventsPage {
  readonly run: number;
  readonly status: TrainingStatus;
  readonly updatedAt: string;
  readonly error: string | null;
  /** events[i] has sequence number after + 1 + i (a run's events are numbered 0, 1, 2, … without gaps) */
  readonly after: number;
  readonly events: readonly TrainingEvent[];
  /** the sequence number of the last event given (`after` when none): the next request's `after` */
  readonly last: number;
  /** more events are ready than this page held (its count or byte cap): ask again at once */
  readonly more: boolean;
  readonly now: string;
}
