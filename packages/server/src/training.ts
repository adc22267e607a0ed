// Training runs followed live: `GET /api/training` lists the store's training runs (running first) and
// `GET /api/runs/<id>/events?after=<seq>&limit=<n>` gives a run's events after a sequence number, which the
// Training view polls about once a second.
//
// Why polling REST and not a WebSocket subscription: the writer is another process (`llmdbg train`), and SQLite
// tells a reader nothing when another process commits, so a subscription would poll the store on the server
// instead of in the browser — a timer per subscription on the main thread, state to clean up when a socket goes,
// and a stream to resume after a reconnect. A request that names its last sequence number holds no state on the
// server, resumes by itself, is one short read (WAL: it never waits for the writer nor holds its lock), and goes
// through the same token, Host and Origin checks as every other route. The pages are capped in count and bytes,
// so a long run's history comes in a few requests and a live one's news in one small one.
import { basename } from "node:path";
import type { TrainingEvent, TrainingEventsPage, TrainingRunsPage, TrainingStatus } from "@llmdbg/protocol";
import { checkpointsOf, eventsAfter, runState, type Store, trainingRuns } from "@llmdbg/store";
import type { RunsAnswer } from "./runs.js";

/** The most events one page holds, and about the most bytes of event JSON. */
export const EVENTS_PAGE = 5000;
export const EVENTS_PAGE_BYTES = 2 << 20;

const fail = (e: unknown): RunsAnswer => ({ status: 500, text: `the run store failed: ${e instanceof Error ? e.message : e}` });

/** `GET /api/training`: the training runs, running first, then newest first. */
export function trainingList(store: Store | undefined): RunsAnswer {
  if (store === undefined) return { status: 404, text: "no run store: this server records nothing (--no-store)" };
  try {
    const page: TrainingRunsPage = {
      runs: trainingRuns(store).map((r) => ({
        id: r.id,
        uid: r.uid,
        model: r.model,
        createdAt: r.createdAt,
        updatedAt: r.updatedAt,
        status: r.status,
        step: r.step,
        totalSteps: r.totalSteps,
        loss: r.loss,
        evalLoss: r.evalLoss,
        tokensPerSecond: r.tokensPerSecond,
        events: r.events,
        checkpoints: r.checkpoints,
        error: r.error,
      })),
      now: new Date().toISOString(),
    };
    return { status: 200, json: page };
  } catch (e) {
    return fail(e);
  }
}

/** A query number: absent → the default; else a decimal integer in [min, max], or the field's error. */
function intParam(query: URLSearchParams, name: string, dflt: number, min: number, max: number): number | string {
  const v = query.get(name);
  if (v === null) return dflt;
  if (!/^-?[0-9]{1,15}$/.test(v) || Number(v) < min || Number(v) > max)
    return `${name}: expected an integer from ${min} to ${max}, got ${JSON.stringify(v.slice(0, 40))}`;
  return Number(v);
}

/**
 * `GET /api/runs/<id>/events`: the events of training run `run` numbered after `after` (default -1: from the first),
 * at most `limit` (default and cap EVENTS_PAGE) and about EVENTS_PAGE_BYTES, with the run's status. Checkpoints are
 * shown by step, id and folder name; the start event's checkpointDir is null: no path leaves the server.
 */
export function trainingEvents(store: Store, run: number, query: URLSearchParams): RunsAnswer {
  const after = intParam(query, "after", -1, -1, Number.MAX_SAFE_INTEGER);
  if (typeof after === "string") return { status: 400, text: after };
  const limit = intParam(query, "limit", EVENTS_PAGE, 1, EVENTS_PAGE);
  if (typeof limit === "string") return { status: 400, text: limit };
  try {
    // one read transaction: the status and the events are of the same moment
    const read = () => {
      const state = runState(store, run);
      if (state.kind !== "train") return undefined;
      const page = eventsAfter(store, run, after, limit, EVENTS_PAGE_BYTES);
      const checkpoints = checkpointsOf(store, run).sort((a, b) => a.id - b.id);
      // the n-th checkpoint event of a run is its n-th checkpoint row (both are written in order, together)
      let nth = (
        store.db
          .prepare("SELECT count(*) AS n FROM events WHERE run_id = ? AND kind = 'checkpoint' AND seq <= ?")
          .get(run, after) as { n: number }
      ).n;
      const events = page.events.map(({ event: e }): TrainingEvent => {
        if (e.kind === "checkpoint") {
          const row = checkpoints[nth++];
          return { kind: "checkpoint", step: e.step, id: row?.id ?? null, name: basename(e.path) };
        }
        if (e.kind === "start") return { ...e, config: { ...e.config, checkpointDir: null } };
        return e;
      });
      const last = page.events.at(-1)?.seq ?? after;
      const body: TrainingEventsPage = {
        run,
        status: state.status as TrainingStatus,
        updatedAt: state.updatedAt,
        error: state.error,
        after,
        events,
        last,
        more: page.more,
        now: new Date().toISOString(),
      };
      return body;
    };
    const body = store.db.transaction(read).deferred();
    if (body === undefined) {
      const kind = runState(store, run).kind;
      return { status: 400, text: `run ${run} is a ${kind} run, not a training run: it has no training events` };
    }
    return { status: 200, json: body };
  } catch (e) {
    return fail(e);
  }
}
