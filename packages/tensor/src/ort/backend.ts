// The `ort` backend: matmuls on onnxruntime-node (MLAS) in a worker thread. The calling thread hands the
// operand buffers over by transfer (zero-copy), blocks on an Atomics word until the worker answers, and takes
// the buffers back with receiveMessageOnPort — a synchronous call over ORT's public async API.
// Pinned buffers (weights) are transferred once and stay in the worker under an id: moving a 7–150 MB
// weight across isolates on every call cost more than the matmul itself (hand-off and external-memory GCs
// on both threads), so only activations travel then. This class is also their StorageHome: reading `data`
// of such a storage fetches it back, gathers from a resident table run in the worker, and dispose or GC
// frees it there.
import { availableParallelism } from "node:os";
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads";
import { type Backend, refBackend } from "../backend.js";
import { type DType, dtypes, type TypedArray } from "../dtype.js";
import type { MatmulPlan } from "../kernels/matmul.js";
import type { Program } from "../program.js";
import { type Shape, sizeOf } from "../shape.js";
import { empty, fromTyped, type Storage, type StorageHome, type Tensor } from "../tensor.js";
import { lowerProgram } from "./lower.js";
import { encodeModel, fusedMatMul, type NodeSpec, ONNX_DOUBLE, ONNX_FLOAT } from "./onnx.js";

export interface OrtOptions {
  /** intra-op threads; default: all cores (LLMDBG_THREADS overrides). */
  threads?: number;
  /**
   * below this many multiply-adds the call overhead (~50 µs) outweighs MLAS, so `ref` runs it; pinned
   * buffers with fewer elements are not kept in the worker either.
   */
  minMacs?: number;
  /** milliseconds to wait for one op before giving up (LLMDBG_ORT_TIMEOUT_MS overrides). */
  timeoutMs?: number;
  /**
   * the fewest elements an elementwise op (GELU) runs here with: below it the TypeScript kernel is quicker than
   * the round trip (~50 µs against ~25 ns an element)
   */
  minElements?: number;
}

interface Reply {
  ok: boolean;
  err?: string;
  /** per operand slot: its buffer coming back, or null (resident in the worker) */
  bufs?: (ArrayBuffer | null)[];
  version?: string;
  runMs?: number;
  resident?: Resident;
}

/** What the worker holds for pinned tensors: buffer count, bytes, and the ids (`tensor.store.remote.id`). */
export interface Resident {
  buffers: number;
  bytes: number;
  ids: number[];
}

/** One operand buffer of a call: transferred (and kept resident under `keep`), or resident under `id`. */
type Arg = { buf: ArrayBuffer; keep?: number } | { id: number };

/**
 * Where time goes in the ort backend: `runMs` inside onnxruntime, `waitMs` seen by the calling thread.
 * `fetches` counts pinned buffers brought back because this thread read them; `gathers` row lookups from a
 * resident table.
 */
export interface OrtStats {
  calls: number;
  waitMs: number;
  runMs: number;
  fetches: number;
  gathers: number;
}

const elemType = { f32: ONNX_FLOAT, f64: ONNX_DOUBLE } as const;
const typeName = { f32: "float32", f64: "float64" } as const;

export class OrtBackend implements Backend, StorageHome {
  readonly name = "ort" as const;
  readonly threads: number;
  minMacs: number;
  minElements: number;
  readonly version: string;
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly ctl = new Int32Array(new SharedArrayBuffer(4));
  private readonly sent = new Set<string>();
  private readonly timeoutMs: number;
  readonly stats: OrtStats = { calls: 0, waitMs: 0, runMs: 0, fetches: 0, gathers: 0 };
  private nextId = 1;
  /** the storages whose bytes are resident in the worker, by id (weakly: a model may be dropped) */
  private readonly held = new Map<number, WeakRef<Storage>>();
  // weights dropped with their model without dispose: free their worker buffers too; the unregister token is
  // the storage, registered while (and only while) its bytes are resident
  private readonly finalizer = new FinalizationRegistry<number>((id) => {
    this.held.delete(id);
    this.post({ kind: "free", ids: [id] });
  });
  private closed = false;

  constructor(opts: OrtOptions = {}) {
    const env = globalThis.process?.env ?? {};
    this.threads = opts.threads ?? (Number(env.LLMDBG_THREADS) || availableParallelism());
    this.minMacs = opts.minMacs ?? 32 * 1024;
    this.minElements = opts.minElements ?? 16 * 1024;
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

  /** A message that has no answer (frees); the worker handles messages in order, so later calls see it done. */
  private post(msg: object): void {
    this.port.postMessage(msg);
  }

  private call(msg: object, transfer: ArrayBuffer[], timeoutMs = this.timeoutMs): Reply {
    if (this.closed) throw new Error("ort backend: closed");
    Atomics.store(this.ctl, 0, 0);
    this.port.postMessage(msg, transfer);
    // the worker stores 1 and then notifies: a notify of the previous reply, delayed by preemption between
    // the two, can wake this wait early, so only the word itself says that the reply is there
    const deadline = performance.now() + timeoutMs;
    while (Atomics.load(this.ctl, 0) === 0) {
      const left = deadline - performance.now();
      if (left <= 0 || Atomics.wait(this.ctl, 0, 0, left) === "timed-out") {
        throw new Error(`ort backend: no answer from the onnxruntime worker within ${timeoutMs} ms`);
      }
    }
    const m = receiveMessageOnPort(this.port);
    if (m === undefined) throw new Error("ort backend: the onnxruntime worker signalled without a reply");
    return m.message as Reply;
  }

  /**
   * Runs `nodes` on the given tensors; `outs` receive the outputs. Buffers travel by transfer, except those
   * already resident in the worker (sent as ids); a pinned operand stays there from now on.
   */
  private run(key: string, nodes: NodeSpec[], ins: Named[], outs: Named[]): void {
    const dt = (outs[0] as Named).t.dtype as "f32" | "f64";
    const stores: Storage[] = [];
    const slot = (t: Tensor): number => {
      const s = t.store;
      let i = stores.indexOf(s);
      if (i < 0) i = stores.push(s) - 1;
      return i;
    };
    const feeds = ins.map(({ name, t }) => ({ name, type: typeName[dt], buf: slot(t) }));
    const os = outs.map(({ name, t }) => ({ name, type: typeName[dt], buf: slot(t) }));
    const outStores = new Set(outs.map(({ t }) => t.store));
    const dims = [...ins.map(({ t }) => t.shape), ...outs.map(({ t }) => t.shape)];
    const transfer: ArrayBuffer[] = [];
    // only buffers of at least minMacs elements stay: every product with one has that many multiply-adds, so
    // it runs here again, and which kernel (hence which rounding) serves a product depends on shapes alone,
    // never on where a buffer happens to be; smaller ones are cheap to send anyway
    const keepFrom = Math.max(1, this.minMacs) * dtypes[dt].bytes;
    const args = stores.map((s): Arg => {
      const r = s.remote;
      if (r !== null && r.home === this) return { id: r.id };
      const buf = s.data.buffer as ArrayBuffer; // (reading data brings back one that another OrtBackend holds)
      transfer.push(buf);
      return s.pinned && !outStores.has(s) && buf.byteLength >= keepFrom ? { buf, keep: this.nextId++ } : { buf };
    });
    // which operands share a buffer is part of the op's identity (matmul(x, x) sends one buffer)
    const fullKey = `${key} @${feeds.map((f) => f.buf).join(",")},${os.map((o) => o.buf).join(",")}`;
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
        outs.map(({ name, t }) => vi(name, t.rank)),
      );
      spec = { model, feeds, outs: os };
    }
    const t0 = performance.now();
    const r = this.call({ kind: "run", key: fullKey, spec, dims, args }, transfer);
    this.stats.calls++;
    this.stats.waitMs += performance.now() - t0;
    this.stats.runMs += r.runMs ?? 0;
    // re-attach every buffer before anything can throw, so no tensor is left detached; kept buffers are
    // resident even when the op failed (the worker stores them first)
    const back = r.bufs ?? [];
    stores.forEach((s, i) => {
      const a = args[i] as Arg;
      if ("id" in a) return;
      if (a.keep !== undefined) this.resides(s, a.keep, dt);
      else {
        const b = back[i];
        if (b) s.data = dtypes[dt].wrap(b);
      }
    });
    if (!r.ok) throw new Error(`ort backend: ${key} failed: ${r.err}`);
    this.sent.add(fullKey);
  }

  private resides(s: Storage, id: number, dtype: DType): void {
    s.moveTo({ home: this, id, dtype });
    this.held.set(id, new WeakRef(s));
    this.finalizer.register(s, id, s);
  }

  /** StorageHome: brings a resident buffer back to the calling thread (it stays pinned: the next matmul moves it again). */
  fetch(s: Storage): TypedArray {
    const rem = s.remote;
    if (rem === null || rem.home !== this) throw new Error("ort backend: fetch of a buffer this backend does not hold");
    const r = this.call({ kind: "fetch", id: rem.id }, []);
    const b = r.bufs?.[0];
    if (!r.ok || !b) throw new Error(`ort backend: cannot fetch buffer ${rem.id} from the worker: ${r.err}`);
    this.finalizer.unregister(s);
    this.held.delete(rem.id);
    this.stats.fetches++;
    const d = dtypes[rem.dtype].wrap(b);
    s.data = d;
    return d;
  }

  /** StorageHome: the last tensor viewing `s` was disposed. */
  free(s: Storage): void {
    const rem = s.remote;
    if (rem === null || rem.home !== this) return;
    this.finalizer.unregister(s);
    this.held.delete(rem.id);
    s.moveTo(null);
    this.post({ kind: "free", ids: [rem.id] });
  }

  /** StorageHome: rows of a resident table, copied in the worker (a plain copy: too small a job for a session). */
  gather(s: Storage, shape: Shape, axis: number, idx: Int32Array): TypedArray {
    const rem = s.remote;
    if (rem === null || rem.home !== this) throw new Error("ort backend: gather from a buffer this backend does not hold");
    const outer = sizeOf(shape.slice(0, axis));
    const inner = sizeOf(shape.slice(axis + 1));
    const eb = dtypes[rem.dtype].bytes;
    // the indices are a few ints: copied by the message rather than transferred away from their tensor
    const msg = { kind: "gather", id: rem.id, outer, rowBytes: (shape[axis] as number) * inner * eb, itemBytes: inner * eb, idx };
    const r = this.call(msg, []);
    const b = r.bufs?.[0];
    if (!r.ok || !b) throw new Error(`ort backend: gather failed: ${r.err}`);
    this.stats.gathers++;
    return dtypes[rem.dtype].wrap(b);
  }

  /** What the worker holds for pinned tensors now (asks it, so frees posted before are counted). */
  resident(): Resident {
    const r = this.call({ kind: "stat" }, []);
    return r.resident ?? { buffers: 0, bytes: 0, ids: [] };
  }

  matmul(a: Tensor, b: Tensor, transA: boolean, transB: boolean, plan: MatmulPlan): Tensor {
    if (!this.worthIt(a, plan)) return refBackend.matmul(a, b, transA, transB, plan);
    const out = empty(plan.outShape, a.dtype); // [...batch, M, N]; onnxruntime writes every element
    const nodes = matmulNodes("a", "b", "out", a, b, transA, transB);
    const key = `matmul ${a.dtype} rank ${a.rank}${transA ? "T" : ""} x rank ${b.rank}${transB ? "T" : ""}`;
    this.run(
      key,
      nodes,
      [
        { name: "a", t: a },
        { name: "b", t: b },
      ],
      [{ name: "out", t: out }],
    );
    return out;
  }

  /** The product and the bias in one session: MatMul (or FusedMatMul) then Add, the same two roundings as apart. */
  linear(x: Tensor, w: Tensor, bias: Tensor, transB: boolean, plan: MatmulPlan): Tensor | null {
    if (!this.worthIt(x, plan)) return null;
    const out = empty(plan.outShape, x.dtype); // [..., N]; onnxruntime writes every element
    const nodes = [...matmulNodes("a", "b", "mm", x, w, false, transB), { op: "Add", inputs: ["mm", "bias"], outputs: ["out"] }];
    this.run(
      `linear ${x.dtype} rank ${x.rank} x rank 2${transB ? "T" : ""} + bias`,
      nodes,
      [
        { name: "a", t: x },
        { name: "b", t: w },
        { name: "bias", t: bias },
      ],
      [{ name: "out", t: out }],
    );
    return out;
  }

  /** One session with a MatMul node per weight: one round trip, and per product the kernel `matmul` would use. */
  matmuls(a: Tensor, bs: readonly Tensor[], transA: boolean, transB: boolean, plans: readonly MatmulPlan[]): Tensor[] {
    if (bs.length < 2 || !plans.every((p) => this.worthIt(a, p))) {
      return bs.map((b, i) => this.matmul(a, b, transA, transB, plans[i] as MatmulPlan));
    }
    const outs = plans.map((p) => empty(p.outShape, a.dtype)); // each [...batch, M, N_i]
    const nodes = bs.flatMap((b, i) => matmulNodes("a", `b${i}`, `out${i}`, a, b, transA, transB));
    const ranks = bs.map((b) => `${b.rank}${transB ? "T" : ""}`).join(",");
    this.run(
      `matmuls ${a.dtype} rank ${a.rank}${transA ? "T" : ""} x ranks ${ranks}`,
      nodes,
      [{ name: "a", t: a }, ...bs.map((t, i) => ({ name: `b${i}`, t }))],
      outs.map((t, i) => ({ name: `out${i}`, t })),
    );
    return outs;
  }

  /**
   * GELU on onnxruntime (f32 only): the contrib kernels when only the output is wanted (FastGelu is gelu_new's
   * tanh form, Gelu the erf form; within ~4 float32 ulps of the TypeScript kernel, which computes in float64 and
   * rounds once); with `withGate`, a graph of vectorized elementwise nodes that also returns the gate g (the
   * sigmoid σ(2u) of the tanh form, Φ(x) of the erf form; out = x·g), so that the backward pass needs no exp or
   * erf per element.
   */
  gelu(x: Tensor, approximate: "tanh" | "none", withGate: boolean): { out: Tensor; gate: Tensor | null } | null {
    if (x.dtype !== "f32" || x.size < this.minElements) return null;
    const out = empty(x.shape, x.dtype); // same as x; onnxruntime writes every element
    if (!withGate) {
      const op = approximate === "tanh" ? "FastGelu" : "Gelu";
      this.run(
        `gelu ${approximate} ${x.dtype} rank ${x.rank}`,
        [{ op, domain: "com.microsoft", inputs: ["x"], outputs: ["out"] }],
        [{ name: "x", t: x }],
        [{ name: "out", t: out }],
      );
      return { out, gate: null };
    }
    const gate = empty(x.shape, x.dtype); // same as x
    const c = (v: number) => fromTyped(Float32Array.of(v), [], "f32"); // [] a constant of the graph
    const nodes: NodeSpec[] =
      approximate === "tanh"
        ? [
            { op: "Mul", inputs: ["x", "x"], outputs: ["x2"] },
            { op: "Mul", inputs: ["x2", "k"], outputs: ["kx2"] },
            { op: "Add", inputs: ["kx2", "one"], outputs: ["f"] },
            { op: "Mul", inputs: ["x", "f"], outputs: ["u"] }, // x + 0.044715·x³
            { op: "Mul", inputs: ["u", "a"], outputs: ["u2"] }, // 2u = 2·√(2/π)·(x + 0.044715·x³)
            { op: "Sigmoid", inputs: ["u2"], outputs: ["gate"] }, // ½(1 + tanh(u)) = σ(2u)
            { op: "Mul", inputs: ["x", "gate"], outputs: ["out"] },
          ]
        : [
            { op: "Mul", inputs: ["x", "a"], outputs: ["h"] }, // x/√2
            { op: "Erf", inputs: ["h"], outputs: ["e"] },
            { op: "Add", inputs: ["e", "one"], outputs: ["f"] },
            { op: "Mul", inputs: ["f", "k"], outputs: ["gate"] }, // Φ(x) = ½(1 + erf(x/√2))
            { op: "Mul", inputs: ["x", "gate"], outputs: ["out"] },
          ];
    const [a, k] = approximate === "tanh" ? [2 * Math.sqrt(2 / Math.PI), 0.044715] : [Math.SQRT1_2, 0.5];
    this.run(
      `gelu ${approximate} with gate ${x.dtype} rank ${x.rank}`,
      nodes,
      [
        { name: "x", t: x },
        { name: "a", t: c(a) },
        { name: "k", t: c(k) },
        { name: "one", t: c(1) },
      ],
      [
        { name: "out", t: out },
        { name: "gate", t: gate },
      ],
    );
    return { out, gate };
  }

  /**
   * Softmax over the last axis of a large f32 tensor (MLAS's vectorized kernel on every thread), or null. A row
   * whose every entry is −∞ comes back NaN here (the TypeScript kernel gives zeros): callers that can meet such
   * rows check for them.
   */
  softmax(x: Tensor): Tensor | null {
    if (x.dtype !== "f32" || x.size < this.minElements || x.rank < 1) return null;
    const out = empty(x.shape, x.dtype); // same as x; onnxruntime writes every element
    this.run(
      `softmax ${x.dtype} rank ${x.rank}`,
      [{ op: "Softmax", inputs: ["x"], outputs: ["out"], int: { axis: x.rank - 1 } }], // (the encoder takes no negative ints)
      [{ name: "x", t: x }],
      [{ name: "out", t: out }],
    );
    return out;
  }

  /**
   * Masked scaled-dot-product attention in one session: q·kᵀ scaled inside the product (FusedMatMul's alpha),
   * plus the additive mask, softmax over keys, times v; the pattern comes back too (the backward pass reads it).
   * q [batch, head, T, d], k [batch, head, S, d], v [batch, head, S, dv], mask broadcasting to [batch, head, T, S];
   * f32 only, and null below `minElements` scores. The caller makes sure no row is masked whole (NaN here).
   */
  attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor,
    scale: number,
    tokenMajor: boolean,
  ): { out: Tensor; pattern: Tensor } | null {
    if (q.dtype !== "f32") return null;
    const [hAx, pAx] = tokenMajor ? [2, 1] : [1, 2];
    const [B, H, T] = [q.shape[0], q.shape[hAx], q.shape[pAx]] as [number, number, number];
    const S = k.shape[pAx] as number;
    const Dv = v.shape[3] as number;
    if (B * H * T * S < this.minElements) return null;
    const pattern = empty([B, H, T, S], q.dtype); // [batch, head, T, S]; onnxruntime writes every element
    const out = empty(tokenMajor ? [B, T, H, Dv] : [B, H, T, Dv], q.dtype); // [batch, head, T, dv] or [batch, T, head, dv]
    // token-major: the head split's copies are Transpose nodes, on every thread
    const [qi, ki, vi, oo] = tokenMajor ? ["qh", "kh", "vh", "oh"] : ["q", "k", "v", "out"];
    const nodes: NodeSpec[] = [
      ...(tokenMajor ? ["q", "k", "v"].map((x) => swapHeads(x, `${x}h`)) : []),
      fusedMatMul(qi, ki, "s", 0, 1, scale),
      { op: "Add", inputs: ["s", "mask"], outputs: ["sm"] },
      { op: "Softmax", inputs: ["sm"], outputs: ["pattern"], int: { axis: 3 } },
      { op: "MatMul", inputs: ["pattern", vi], outputs: [oo] },
      ...(tokenMajor ? [swapHeads("oh", "out")] : []),
    ];
    this.run(
      // the scale is an attribute of the graph, so part of its key (one per head size in practice)
      `attention ${q.dtype}${tokenMajor ? " token-major" : ""} mask rank ${mask.rank} scale ${scale}`,
      nodes,
      [
        { name: "q", t: q },
        { name: "k", t: k },
        { name: "v", t: v },
        { name: "mask", t: mask },
      ],
      [
        { name: "pattern", t: pattern },
        { name: "out", t: out },
      ],
    );
    return { out, pattern };
  }

  /**
   * The gradients of `attention` (q, k, v) in one session from the output's cotangent g and the saved pattern P:
   * dv = Pᵀ·g, dP = g·vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dq = scale·dS·k, dk = scale·dSᵀ·q (the row sums as a
   * product with a column of ones, which needs no axes input). Token-major operands are transposed inside. f32
   * only; null below `minElements` scores.
   */
  attentionBackward(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    pattern: Tensor,
    g: Tensor,
    scale: number,
    tokenMajor: boolean,
  ): [Tensor, Tensor, Tensor] | null {
    if (q.dtype !== "f32" || pattern.size < this.minElements) return null;
    const S = pattern.shape[3] as number;
    const [dq, dk, dv] = [q, k, v].map((t) => empty(t.shape, t.dtype)) as [Tensor, Tensor, Tensor]; // as q, k, v
    const hm = (x: string): NodeSpec[] => (tokenMajor ? [swapHeads(x, `${x}h`)] : []);
    const [qi, ki, vi, gi] = tokenMajor ? ["qh", "kh", "vh", "gh"] : ["q", "k", "v", "g"];
    const out = (x: string): NodeSpec[] => (tokenMajor ? [swapHeads(`${x}_h`, x)] : []);
    const [dqo, dko, dvo] = tokenMajor ? ["dq_h", "dk_h", "dv_h"] : ["dq", "dk", "dv"];
    const mm = fusedMatMul;
    const nodes: NodeSpec[] = [
      ...hm("q"),
      ...hm("k"),
      ...hm("v"),
      ...hm("g"),
      mm("p", gi, dvo, 1, 0), // [batch, head, S, dv]
      mm(gi, vi, "dp", 0, 1), // [batch, head, T, S]
      { op: "Mul", inputs: ["dp", "p"], outputs: ["dpp"] },
      { op: "MatMul", inputs: ["dpp", "ones"], outputs: ["rs"] }, // [batch, head, T, 1]
      { op: "Sub", inputs: ["dp", "rs"], outputs: ["c"] },
      { op: "Mul", inputs: ["p", "c"], outputs: ["ds"] }, // unscaled: the scale rides on the next products
      mm("ds", ki, dqo, 0, 0, scale), // [batch, head, T, d]
      mm("ds", qi, dko, 1, 0, scale), // [batch, head, S, d]
      ...out("dq"),
      ...out("dk"),
      ...out("dv"),
    ];
    this.run(
      `attention backward ${q.dtype}${tokenMajor ? " token-major" : ""} scale ${scale}`,
      nodes,
      [
        { name: "q", t: q },
        { name: "k", t: k },
        { name: "v", t: v },
        { name: "p", t: pattern },
        { name: "g", t: g },
        { name: "ones", t: fromTyped(new Float32Array(S).fill(1), [S, 1], "f32") }, // [S, 1]
      ],
      [
        { name: "dq", t: dq },
        { name: "dk", t: dk },
        { name: "dv", t: dv },
      ],
    );
    return [dq, dk, dv];
  }

  /**
   * A program (program.ts) as one session (lowered by lower.ts). f32 only, and outputs of `minElements` or more.
   */
  program(program: Program, inputs: Readonly<Record<string, Tensor>>): Tensor | null {
    const named = Object.entries(inputs).map(([name, t]) => ({ name, t }));
    // below minElements outputs the op-by-op kernels serve, as for every other op here: which kernels (hence
    // which roundings) compute a block depends on its shapes alone
    if (named.some(({ t }) => t.dtype !== "f32") || sizeOf(program.outShape) < this.minElements) return null;
    const { nodes, consts } = lowerProgram(
      program,
      named.map(({ name, t }) => ({ name, rank: t.rank })),
    );
    const out = empty(program.outShape, "f32"); // onnxruntime writes every element
    const ranks = named.map(({ name, t }) => `${name}:${t.rank}`).join(",");
    this.run(
      `program ${JSON.stringify(program.steps)} -> ${program.output} (${ranks})`,
      nodes,
      [...named, ...consts.map(({ name, value }) => ({ name, t: fromTyped(Float32Array.of(value), [], "f32") }))], // [] each
      [{ name: program.output, t: out }],
    );
    return out;
  }

  /** Whether onnxruntime should run this product: a float type and enough work to pay for the round trip. */
  private worthIt(a: Tensor, plan: MatmulPlan): boolean {
    const macs = plan.M * plan.N * plan.K * plan.batch.reduce((p, d) => p * d, 1);
    return (a.dtype === "f32" || a.dtype === "f64") && macs >= this.minMacs && macs > 0;
  }

  /** How many distinct op graphs have been sent to the worker (shapes are symbolic, so sizes do not add). */
  get graphCount(): number {
    return this.sent.size;
  }

  /** Brings every resident buffer back (their bytes would go with the worker), then stops the worker; later calls fail. */
  close(): Promise<number> {
    for (const ref of [...this.held.values()]) {
      const s = ref.deref();
      if (s?.remote?.home === this) this.fetch(s);
    }
    this.closed = true;
    return this.worker.terminate();
  }
}

/** A graph input or output and the tensor that feeds or receives it. */
interface Named {
  name: string;
  t: Tensor;
}

/** [batch, pos, head, d] ↔ [batch, head, pos, d]: the layout change between token- and head-major heads. */
function swapHeads(input: string, output: string): NodeSpec {
  return { op: "Transpose", inputs: [input], outputs: [output], ints: { perm: [0, 2, 1, 3] } };
}

/** The ONNX nodes computing `out` = op(a) · op(b) from the graph values named `an` and `bn`. */
function matmulNodes(an: string, bn: string, out: string, a: Tensor, b: Tensor, transA: boolean, transB: boolean): NodeSpec[] {
  if ((transA || transB) && a.dtype === "f32") {
    // FusedMatMul (a documented onnxruntime contrib op) reads transposed operands in place; a Transpose
    // node would copy them first
    return [fusedMatMul(an, bn, out, transA ? 1 : 0, transB ? 1 : 0)];
  }
  const nodes: NodeSpec[] = [];
  const swap = (r: number) => [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2];
  let x = an;
  let y = bn;
  if (transA) nodes.push({ op: "Transpose", inputs: [an], outputs: [(x = `${out}_at`)], ints: { perm: swap(a.rank) } });
  if (transB) nodes.push({ op: "Transpose", inputs: [bn], outputs: [(y = `${out}_bt`)], ints: { perm: swap(b.rank) } });
  nodes.push({ op: "MatMul", inputs: [x, y], outputs: [out] });
  return nodes;
}
