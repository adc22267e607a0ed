// The `ort` backend: matmuls on onnxruntime-node (MLAS) in a worker thread. The calling thread hands the
// operand buffers over by transfer (zero-copy), blocks on an Atomics word until the worker answers, and takes
// the buffers back with receiveMessageOnPort — a synchronous call over ORT's public async API.
import { availableParallelism } from "node:os";
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads";
import { type Backend, refBackend, registerOrtLoader } from "../backend.js";
import { dtypes } from "../dtype.js";
import type { MatmulPlan } from "../kernels/matmul.js";
import { empty, type Storage, type Tensor } from "../tensor.js";
import { encodeModel, type NodeSpec, ONNX_DOUBLE, ONNX_FLOAT } from "./onnx.js";

export interface OrtOptions {
  /** intra-op threads; default: all cores (LLMDBG_THREADS overrides). */
  threads?: number;
  /** below this many multiply-adds the call overhead (~50 µs) outweighs MLAS, so `ref` runs it. */
  minMacs?: number;
  /** milliseconds to wait for one op before giving up (LLMDBG_ORT_TIMEOUT_MS overrides). */
  timeoutMs?: number;
}

interface Reply {
  ok: boolean;
  err?: string;
  bufs?: ArrayBuffer[];
  version?: string;
  runMs?: number;
}

/** Where time goes in the ort backend: `runMs` inside onnxruntime, `waitMs` seen by the calling thread. */
export interface OrtStats {
  calls: number;
  waitMs: number;
  runMs: number;
}

const elemType = { f32: ONNX_FLOAT, f64: ONNX_DOUBLE } as const;
const typeName = { f32: "float32", f64: "float64" } as const;

export class OrtBackend implements Backend {
  readonly name = "ort" as const;
  readonly threads: number;
  minMacs: number;
  readonly version: string;
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly ctl = new Int32Array(new SharedArrayBuffer(4));
  private readonly sent = new Set<string>();
  private readonly timeoutMs: number;
  readonly stats: OrtStats = { calls: 0, waitMs: 0, runMs: 0 };

  constructor(opts: OrtOptions = {}) {
    const env = globalThis.process?.env ?? {};
    this.threads = opts.threads ?? (Number(env.LLMDBG_THREADS) || availableParallelism());
    this.minMacs = opts.minMacs ?? 32 * 1024;
    this.timeoutMs = opts.timeoutMs ?? (Number(env.LLMDBG_ORT_TIMEOUT_MS) || 300_000);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(new URL("./worker.mjs", import.meta.url), {
      workerData: { ctl: this.ctl.buffer, port: port2, threads: this.threads },
      transferList: [port2],
    });
    this.worker.unref();
    this.port.unref();
    const r = this.call({ kind: "init" }, [], 60_000);
    if (!r.ok) {
      void this.worker.terminate();
      throw new Error(`cannot load onnxruntime-node: ${r.err}`);
    }
    this.version = r.version ?? "unknown";
  }

  private call(msg: object, transfer: ArrayBuffer[], timeoutMs = this.timeoutMs): Reply {
    Atomics.store(this.ctl, 0, 0);
    this.port.postMessage(msg, transfer);
    const res = Atomics.wait(this.ctl, 0, 0, timeoutMs);
    if (res === "timed-out") throw new Error(`ort backend: no answer from the onnxruntime worker within ${timeoutMs} ms`);
    const m = receiveMessageOnPort(this.port);
    if (m === undefined) throw new Error("ort backend: the onnxruntime worker signalled without a reply");
    return m.message as Reply;
  }

  /** Runs `nodes` on the given tensors; `out` receives the single output. Buffers travel by transfer. */
  private run(key: string, nodes: NodeSpec[], ins: { name: string; t: Tensor }[], out: Tensor): void {
    const dt = out.dtype as "f32" | "f64";
    const stores: Storage[] = [];
    const slot = (t: Tensor): number => {
      const s = t.store;
      let i = stores.indexOf(s);
      if (i < 0) i = stores.push(s) - 1;
      return i;
    };
    const feeds = ins.map(({ name, t }) => ({ name, type: typeName[dt], buf: slot(t) }));
    const o = { name: "out", type: typeName[dt], buf: slot(out) };
    const dims = [...ins.map(({ t }) => t.shape), out.shape];
    const bufs = stores.map((s) => s.data.buffer as ArrayBuffer);
    // which operands share a buffer is part of the op's identity (matmul(x, x) sends one buffer)
    const fullKey = `${key} @${feeds.map((f) => f.buf).join(",")},${o.buf}`;
    let spec: object | undefined;
    if (!this.sent.has(fullKey)) {
      // symbolic dimensions: one session serves every shape of this rank, so sequence lengths that change
      // from call to call (generation with a KV cache) do not build a session per length
      const vi = (name: string, rank: number) => ({
        name,
        elemType: elemType[dt],
        shape: Array.from({ length: rank }, (_, i) => `${name}${i}`),
      });
      const model = encodeModel(
        nodes,
        ins.map(({ name, t }) => vi(name, t.rank)),
        [vi("out", out.rank)],
      );
      spec = { model, feeds, out: o };
    }
    const t0 = performance.now();
    const r = this.call({ kind: "run", key: fullKey, spec, dims, bufs }, bufs);
    this.stats.calls++;
    this.stats.waitMs += performance.now() - t0;
    this.stats.runMs += r.runMs ?? 0;
    // re-attach every buffer before anything can throw, so no tensor is left detached
    const back = r.bufs ?? [];
    stores.forEach((s, i) => {
      const b = back[i];
      if (b) s.data = dtypes[dt].wrap(b);
    });
    if (!r.ok) throw new Error(`ort backend: ${key} failed: ${r.err}`);
    this.sent.add(fullKey);
  }

  matmul(a: Tensor, b: Tensor, transA: boolean, transB: boolean, plan: MatmulPlan): Tensor {
    const macs = plan.M * plan.N * plan.K * plan.batch.reduce((p, d) => p * d, 1);
    if ((a.dtype !== "f32" && a.dtype !== "f64") || macs < this.minMacs || macs === 0) {
      return refBackend.matmul(a, b, transA, transB, plan);
    }
    const out = empty(plan.outShape, a.dtype); // [...batch, M, N]; onnxruntime writes every element
    const nodes: NodeSpec[] = [];
    if ((transA || transB) && a.dtype === "f32") {
      // FusedMatMul (a documented onnxruntime contrib op) reads transposed operands in place; a Transpose
      // node would copy them first
      const int = { transA: transA ? 1 : 0, transB: transB ? 1 : 0 };
      nodes.push({ op: "FusedMatMul", domain: "com.microsoft", inputs: ["a", "b"], outputs: ["out"], int });
    } else {
      const swap = (r: number) => [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2];
      let an = "a";
      let bn = "b";
      if (transA) nodes.push({ op: "Transpose", inputs: ["a"], outputs: [(an = "at")], ints: { perm: swap(a.rank) } });
      if (transB) nodes.push({ op: "Transpose", inputs: ["b"], outputs: [(bn = "bt")], ints: { perm: swap(b.rank) } });
      nodes.push({ op: "MatMul", inputs: [an, bn], outputs: ["out"] });
    }
    const key = `matmul ${a.dtype} rank ${a.rank}${transA ? "T" : ""} x rank ${b.rank}${transB ? "T" : ""}`;
    this.run(
      key,
      nodes,
      [
        { name: "a", t: a },
        { name: "b", t: b },
      ],
      out,
    );
    return out;
  }

  /** How many distinct op graphs have been sent to the worker (shapes are symbolic, so sizes do not add). */
  get graphCount(): number {
    return this.sent.size;
  }

  /** Stops the worker thread; later calls fail. */
  close(): Promise<number> {
    return this.worker.terminate();
  }
}

let shared: OrtBackend | null = null;

registerOrtLoader(() => {
  shared ??= new OrtBackend();
  return shared;
});
