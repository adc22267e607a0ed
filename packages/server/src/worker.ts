// One worker thread of a lane: it loads the server's models (all at start: the interactive lane's is how the
// server learns their configs and refuses a bad file before it listens; the heavy lane's load meanwhile) and
// runs one job at a time. The methods are synchronous, so the thread cannot read messages while one runs: the
// main thread asks it to stop through a shared flag, which the job's progress callback polls, turning it into
// the AbortSignal the methods check between layers. The job's deadline is polled the same way, and so is its
// memory budget: what this thread's isolate holds — array buffers (every tensor) and the JavaScript heap — above
// what it held when the job started (the loaded model included there), read from V8's heap statistics, which
// count this isolate alone. Past the budget the thread collects garbage once (freed tensors count until then)
// and measures again before it stops the job. A single allocation larger than the memory left fails the job
// where it is made, before any poll.
import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { parentPort, workerData } from "node:worker_threads";
import { type LoadedModel, loadModel } from "@llmdbg/models";
import * as T from "@llmdbg/tensor";
import { executeJob, failureCode, type JobContext, JobStop, modelInfo, ParamsError } from "./handlers.js";
import type { FromWorker, ToWorker, WorkerSetup } from "./lane.js";
import { PatternShelves } from "./shelf.js";

const setup = workerData as WorkerSetup;
if (setup.backend !== undefined) T.useBackend(setup.backend);
const port = parentPort;
if (port === null) throw new Error("worker.ts runs as a worker thread");
const post = (m: FromWorker) => port.postMessage(m);
const flag = new Int32Array(setup.cancel);

// `gc` for the memory check, from a context made after the flag is set (the flag itself changes nothing else)
setFlagsFromString("--expose-gc");
const collect = runInNewContext("gc") as () => void;
/** bytes this isolate holds: external memory (array buffers) and the used heap */
const held = () => {
  const h = getHeapStatistics();
  return h.external_memory + h.used_heap_size;
};

const loaded = new Map<string, LoadedModel>();
// the attention view's patterns of the last overview per model, for the head requests after it (shelf.ts)
const patterns = new PatternShelves();
function model(id: string): LoadedModel {
  let m = loaded.get(id);
  if (m === undefined) {
    const path = setup.models[id];
    if (path === undefined) throw new ParamsError(`model: no model ${JSON.stringify(id)}`);
    m = loadModel(path, { allowUnread: setup.allowUnread });
    loaded.set(id, m);
  }
  return m;
}

async function runJob(job: Extract<ToWorker, { type: "job" }>): Promise<void> {
  post({ type: "started", seq: job.seq });
  const deadline = Date.now() + job.budgetMs;
  const ctl = new AbortController();
  let lastPost = 0;
  let base = 0;
  const budget = job.memoryMb === null ? Number.POSITIVE_INFINITY : job.memoryMb * 1024 * 1024;
  const overMemory = () => {
    if (held() - base <= budget) return false;
    collect();
    return held() - base > budget;
  };
  const poll = () => {
    if (ctl.signal.aborted) return;
    if (Atomics.load(flag, 0) === job.seq) ctl.abort(new JobStop("cancelled"));
    else if (Date.now() > deadline) ctl.abort(new JobStop("timeout", job.budgetMs));
    else if (overMemory()) ctl.abort(new JobStop("memory", job.memoryMb ?? 0));
  };
  const ctx: JobContext = {
    patterns,
    signal: ctl.signal,
    onProgress: (p) => {
      // the main thread passes on one in 100 ms; posting each of 10,000 steps would only cost here
      const now = Date.now();
      if (now - lastPost >= 25 || p.done >= p.total) {
        lastPost = now;
        post({ type: "progress", seq: job.seq, done: p.done, total: p.total, what: p.what });
      }
      poll();
    },
    onPartial: (data) => {
      post({ type: "partial", seq: job.seq, data });
      poll();
    },
  };
  try {
    const m = model(job.model);
    base = held();
    poll();
    if (ctl.signal.aborted) throw ctl.signal.reason;
    const result = await executeJob(m, job.model, job.method, job.params, ctx);
    post({ type: "done", seq: job.seq, result });
  } catch (e) {
    const reason = ctl.signal.aborted ? ctl.signal.reason : e;
    post({
      type: "fail",
      seq: job.seq,
      code: failureCode(reason),
      message: reason instanceof Error ? reason.message : String(reason),
    });
  }
}

if (setup.preload) {
  try {
    const infos = Object.keys(setup.models).map((id) => modelInfo(id, model(id)));
    // a cold thread's first forward pass costs 0.6–2 s; paid here, before the server listens, when asked
    if (setup.warm === true)
      for (const id of Object.keys(setup.models))
        await executeJob(model(id), id, "run", { model: id, input: { ids: [0] }, topK: 1 }, {}).catch(() => {});
    post({ type: "ready", infos });
  } catch (e) {
    post({ type: "loadError", message: e instanceof Error ? e.message : String(e) });
  }
} else post({ type: "ready", infos: [] });

// jobs arrive one at a time (the lane sends the next after `done`/`fail`), so they never overlap
port.on("message", (m: ToWorker) => {
  if (m.type === "job") void runJob(m);
});
