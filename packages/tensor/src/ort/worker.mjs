// The onnxruntime thread. The main thread blocks on `ctl` while this worker runs one op, so the tensor API
// stays synchronous while using only onnxruntime-node's public (async) API. Buffers arrive and leave by
// transfer, never by copy; on error they are still sent back so no tensor loses its storage.
import { workerData } from "node:worker_threads";

const { ctl: ctlBuf, port, threads } = workerData;
const ctl = new Int32Array(ctlBuf);
// per op key: the model bytes and the feed layout, sent once; sessions are created lazily and evicted LRU
const specs = new Map();
const sessions = new Map();
// each session owns an intra-op thread pool, so keep few; symbolic shapes make one session serve all sizes
const MAX_SESSIONS = 64;
let ort = null;

function done(msg, transfer) {
  port.postMessage(msg, transfer);
  Atomics.store(ctl, 0, 1);
  Atomics.notify(ctl, 0);
}

const views = { float32: Float32Array, float64: Float64Array };

async function createSession(key, spec) {
  const s = await ort.InferenceSession.create(spec.model, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    // spin-waiting intra-op threads would steal the cores the JavaScript thread needs between ops
    extra: { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } },
  });
  sessions.set(key, s);
  if (sessions.size > MAX_SESSIONS) {
    const [oldKey, old] = sessions.entries().next().value;
    sessions.delete(oldKey);
    await old.release();
  }
  return s;
}

port.on("message", async (msg) => {
  if (msg.kind === "init") {
    try {
      const mod = await import("onnxruntime-node");
      ort = mod.InferenceSession ? mod : mod.default;
      done({ ok: true, version: ort.env?.versions?.common ?? "unknown" });
    } catch (e) {
      done({ ok: false, err: String(e?.message ?? e) });
    }
    return;
  }
  const bufs = msg.bufs;
  try {
    if (msg.spec) specs.set(msg.key, msg.spec);
    const spec = specs.get(msg.key);
    if (!spec) throw new Error(`ort worker: no model for op ${msg.key}`);
    let s = sessions.get(msg.key);
    if (s) {
      sessions.delete(msg.key); // re-insert: Map order is the LRU order
      sessions.set(msg.key, s);
    } else {
      s = await createSession(msg.key, spec);
    }
    const feeds = {};
    spec.feeds.forEach((f, i) => {
      feeds[f.name] = new ort.Tensor(f.type, new views[f.type](bufs[f.buf]), msg.dims[i]);
    });
    const o = spec.out;
    const fetches = { [o.name]: new ort.Tensor(o.type, new views[o.type](bufs[o.buf]), msg.dims[spec.feeds.length]) };
    const t0 = performance.now();
    await s.run(feeds, fetches);
    done({ ok: true, bufs, runMs: performance.now() - t0 }, bufs);
  } catch (e) {
    done({ ok: false, err: String(e?.message ?? e), bufs }, bufs);
  }
});
