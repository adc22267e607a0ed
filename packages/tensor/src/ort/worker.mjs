// The onnxruntime thread. The main thread blocks on `ctl` while this worker runs one op, so the tensor API
// stays synchronous while using only onnxruntime-node's public (async) API. Buffers arrive and leave by
// transfer, never by copy; on error they are still sent back so no tensor loses its storage. Pinned buffers
// (weights) stay here in `resident` under the main thread's ids until fetched back or freed.
// Every message but "free" gets exactly one reply; messages are handled in order, and the main thread blocks
// until each reply, so a reply also says that every "free" posted before it has been done.
import { workerData } from "node:worker_threads";

const { ctl: ctlBuf, port, threads } = workerData;
const ctl = new Int32Array(ctlBuf);
// per op key: the model bytes and the feed layout, sent once; sessions are created lazily and evicted LRU
const specs = new Map();
const sessions = new Map();
// each session owns an intra-op thread pool, so keep few; symbolic shapes make one session serve all sizes
const MAX_SESSIONS = 64;
let ort = null;
/** id -> ArrayBuffer of a pinned tensor, used in place by every op that names the id */
const resident = new Map();
let residentBytes = 0;

function keep(id, buf) {
  resident.set(id, buf);
  residentBytes += buf.byteLength;
}

function release(id) {
  const buf = resident.get(id);
  if (buf === undefined) return undefined;
  resident.delete(id);
  residentBytes -= buf.byteLength;
  return buf;
}

function residentBuf(id) {
  const buf = resident.get(id);
  if (buf === undefined) throw new Error(`ort worker: no resident buffer ${id}`);
  return buf;
}

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
  if (msg.kind === "free") {
    for (const id of msg.ids) release(id);
    return;
  }
  if (msg.kind === "stat") {
    done({ ok: true, resident: { buffers: resident.size, bytes: residentBytes, ids: [...resident.keys()] } });
    return;
  }
  if (msg.kind === "fetch") {
    const buf = release(msg.id);
    if (buf === undefined) done({ ok: false, err: `no resident buffer ${msg.id}` });
    else done({ ok: true, bufs: [buf] }, [buf]);
    return;
  }
  if (msg.kind === "gather") {
    // rows of a resident table: outer blocks of rowBytes, itemBytes per index (validated by the caller)
    try {
      const src = new Uint8Array(residentBuf(msg.id));
      const { outer, rowBytes, itemBytes, idx } = msg;
      const out = new Uint8Array(outer * idx.length * itemBytes);
      let p = 0;
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < idx.length; i++) {
          const at = o * rowBytes + idx[i] * itemBytes;
          out.set(src.subarray(at, at + itemBytes), p);
          p += itemBytes;
        }
      }
      done({ ok: true, bufs: [out.buffer] }, [out.buffer]);
    } catch (e) {
      done({ ok: false, err: String(e?.message ?? e) });
    }
    return;
  }
  // run: each operand slot is a transferred buffer (kept resident when `keep` names an id) or a resident id;
  // kept buffers are stored before anything can fail, as the main thread counts them resident from now on
  const args = msg.args;
  for (const a of args) if (a.keep !== undefined) keep(a.keep, a.buf);
  const back = args.map((a) => (a.buf !== undefined && a.keep === undefined ? a.buf : null));
  const transfer = back.filter((b) => b !== null);
  try {
    const bufs = args.map((a) => (a.buf !== undefined ? a.buf : residentBuf(a.id)));
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
    const fetches = {};
    spec.outs.forEach((o, j) => {
      fetches[o.name] = new ort.Tensor(o.type, new views[o.type](bufs[o.buf]), msg.dims[spec.feeds.length + j]);
    });
    const t0 = performance.now();
    await s.run(feeds, fetches);
    done({ ok: true, bufs: back, runMs: performance.now() - t0 }, transfer);
  } catch (e) {
    done({ ok: false, err: String(e?.message ?? e), bufs: back }, transfer);
  }
});
