// The optimizer's second thread (Node): a worker that runs `adamwUpdater` — its source text, with the same
// compiled kernel, so a parameter's update is the same bits whichever thread makes it — on the parameters
// AdamW hands it, while the calling thread updates the rest. The arrays travel by transfer (no copy): the
// caller's copies of values and gradients, and the moments, which come back with the new values. The caller
// blocks on an Atomics word until the answer is there (the update is synchronous, like the rest of a step),
// then reads it with receiveMessageOnPort, as the onnxruntime backend's worker calls do.
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads";
import { type AdamWDone, type AdamWJob, type AdamWScalars, adamwModule, adamwUpdater, type StepHelper } from "./optim.js";

const WORKER = `
const { workerData } = require("node:worker_threads");
const adamwUpdater = ${adamwUpdater.toString()};
const { port, ctl, module } = workerData;
const update = adamwUpdater(module);
const flag = new Int32Array(ctl);
port.on("message", ({ jobs, sc }) => {
  let reply;
  const transfer = [];
  try {
    const done = jobs.map((j) => {
      const out = j.intoG ? j.g : new Float32Array(j.p.length);
      const [delta2, norm2] = update(j.p, j.g, j.m, j.v, out, j.decay, sc);
      transfer.push(out.buffer, j.m.buffer, j.v.buffer, j.p.buffer);
      return { name: j.name, out, p: j.p, m: j.m, v: j.v, delta2, norm2 };
    });
    reply = { ok: true, done };
  } catch (e) {
    // the moments go back whatever happened: they are the optimizer's state
    for (const j of jobs) transfer.push(j.m.buffer, j.v.buffer);
    reply = { ok: false, err: String(e && e.stack || e), moments: jobs.map((j) => ({ name: j.name, m: j.m, v: j.v })) };
  }
  port.postMessage(reply, transfer);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
`;

/** A StepHelper on a worker thread of its own; `close` ends it (an unreferenced worker never keeps Node alive). */
export class WorkerStepHelper implements StepHelper {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly ctl = new Int32Array(new SharedArrayBuffer(4));
  private pending: readonly AdamWJob[] | null = null;
  private closed = false;

  constructor(private readonly timeoutMs = 600_000) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(WORKER, {
      eval: true,
      workerData: { port: port2, ctl: this.ctl.buffer, module: adamwModule() },
      transferList: [port2],
    });
    this.worker.unref();
    this.port.unref();
  }

  start(jobs: readonly AdamWJob[], sc: AdamWScalars): void {
    if (this.closed) throw new Error("step helper: closed");
    if (this.pending !== null) throw new Error("step helper: start called twice without finish");
    Atomics.store(this.ctl, 0, 0);
    const transfer = jobs.flatMap((j) => [j.p.buffer, j.g.buffer, j.m.buffer, j.v.buffer]) as ArrayBuffer[];
    this.port.postMessage({ jobs, sc }, transfer);
    this.pending = jobs;
  }

  finish(): AdamWDone[] {
    if (this.pending === null) throw new Error("step helper: finish without start");
    this.pending = null;
    const deadline = performance.now() + this.timeoutMs;
    while (Atomics.load(this.ctl, 0) === 0) {
      const left = deadline - performance.now();
      if (left <= 0 || Atomics.wait(this.ctl, 0, 0, left) === "timed-out")
        throw new Error(`step helper: no answer from the optimizer's worker within ${this.timeoutMs} ms`);
    }
    const m = receiveMessageOnPort(this.port);
    if (m === undefined) throw new Error("step helper: the worker signalled without an answer");
    const r = m.message as
      | { ok: true; done: AdamWDone[] }
      | { ok: false; err: string; moments: { name: string; m: Float32Array; v: Float32Array }[] };
    if (!r.ok) throw new HelperError(r.err, r.moments);
    return r.done;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.worker.terminate();
  }
}

/** The helper's update failed; the moments it held come back with the error (the optimizer's state is kept). */
export class HelperError extends Error {
  override name = "HelperError";
  constructor(
    message: string,
    readonly moments: readonly { name: string; m: Float32Array; v: Float32Array }[],
  ) {
    super(`the optimizer's helper thread failed: ${message}`);
  }
}

/** A second thread for AdamW's update (`new AdamW({ helper: stepHelper() })`); close it when training ends. */
export const stepHelper = (): WorkerStepHelper => new WorkerStepHelper();
