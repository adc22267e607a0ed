// Optimizers with torch.optim's update rules, over Float32Array gradients: one loop per parameter, no tensor op
// per element. The moments live in Float32Arrays owned by the optimizer and are exported as named tensors
// (`exp_avg.<param>`, `exp_avg_sq.<param>`, `momentum_buffer.<param>`) plus the step count, so a checkpoint
// stores them as safetensors and a resumed run continues from exactly the same numbers.
//
// Each update writes the new values into a fresh buffer that becomes the parameter through `params.set`. Reading
// the old values brings a pinned weight back from the onnxruntime worker by transfer (no copy), and the new
// buffer travels there by transfer at the next matmul, so a step costs one write of each parameter and no copy
// in either direction. Updating the old buffer in place would save that write but would change a tensor that a
// caller may still hold (the value `params.set` returned, a cached run), which the rest of llmdbg treats as
// immutable.
import { fmt, fromTyped, ShapeError, type Tensor } from "@llmdbg/tensor";
import { WASM_BASE64 } from "./adamw-wasm.js";

/** What an optimizer needs of a model's parameters (a core ParamStore has it). */
export interface ParamAccess {
  get(name: string): Tensor;
  set(name: string, value: Tensor): Tensor;
}

/** Sums of squares of one parameter's change and of its value before the step, for ‖Δw‖/‖w‖. */
export interface UpdateNorms {
  readonly delta2: number;
  readonly norm2: number;
}

/** An optimizer's state as named tensors (views of the live state: save them before the next step). */
export interface OptimizerState {
  readonly kind: "adamw" | "sgd";
  /** updates done */
  readonly step: number;
  readonly tensors: Readonly<Record<string, Tensor>>;
}

export interface Optimizer {
  readonly kind: "adamw" | "sgd";
  /** updates done */
  readonly steps: number;
  /**
   * Whether `step` applies its `gradScale`. The trainer then passes the clipping coefficient there instead of
   * rewriting every gradient in a pass of its own; an optimizer without it (one written before the scale existed)
   * is handed gradients clipped in place, so that it cannot skip clipping by ignoring an argument.
   */
  readonly scalesGradients?: boolean;
  /**
   * Applies one update at learning rate `lr` to every parameter named in `grads` (gradients as f32 arrays of the
   * parameters' sizes); returns each parameter's update norms. `gradScale` (default 1), taken as a float32 as
   * clipCoef gives it, multiplies every gradient element as it is read, the product rounded to f32 as
   * clipGradNorm would store it (bit-identical to clipping first).
   * `consume` says the gradient arrays are the caller's to give up (the trainer's, discarded after the step): an
   * optimizer may then write the new values into them rather than into fresh buffers, which on a large model is
   * hundreds of megabytes of new pages a step, or hand them to a helper thread (they are left detached). The
   * numbers are the same either way.
   */
  step(
    params: ParamAccess,
    grads: ReadonlyMap<string, Float32Array>,
    lr: number,
    gradScale?: number,
    consume?: boolean,
  ): Map<string, UpdateNorms>;
  state(): OptimizerState;
  /** Restores a state that `state()` returned (from this kind of optimizer); replaces any state held. */
  loadState(state: OptimizerState): void;
}

/** One parameter's AdamW update, handed to a helper thread: its values and gradient (copies), its moments. */
export interface AdamWJob {
  readonly name: string;
  readonly p: Float32Array;
  readonly g: Float32Array;
  readonly m: Float32Array;
  readonly v: Float32Array;
  readonly decay: number;
  /** write the new values into `g` (given up by the caller) instead of a fresh array */
  readonly intoG: boolean;
}

/**
 * A job's answer: the new values, the moments (the same numbers the job's arrays now hold), the update norms, and
 * the job's copy of the values, handed back for the next step's copy.
 */
export interface AdamWDone {
  readonly name: string;
  readonly out: Float32Array;
  readonly p: Float32Array;
  readonly m: Float32Array;
  readonly v: Float32Array;
  readonly delta2: number;
  readonly norm2: number;
}

/**
 * The step's constants, the same for every parameter; the kernel takes each as a float32, as torch's CPU kernels
 * take the Python numbers of its update.
 */
export interface AdamWScalars {
  /** the clipping coefficient (1 without clipping) */
  readonly gradScale: number;
  readonly b1: number;
  /** 1 − β₁ */
  readonly c1: number;
  readonly b2: number;
  /** 1 − β₂ */
  readonly c2: number;
  /** √(1 − β₂ᵗ) */
  readonly bc2Sqrt: number;
  readonly eps: number;
  /** −lr / (1 − β₁ᵗ) */
  readonly negStep: number;
}

/**
 * A second thread for the update (Node: `stepHelper()` of the package's Node entry). `start` hands it jobs that
 * it runs while this thread runs the others; `finish` waits for them. The arrays of a started job belong to the
 * helper until `finish` returns them (moments included, as the answer's arrays). An error `finish` throws after
 * a failed update carries the moments back (`moments`), so the optimizer's state survives it.
 */
export interface StepHelper {
  start(jobs: readonly AdamWJob[], scalars: AdamWScalars): void;
  finish(): AdamWDone[];
}

export interface AdamWOptions {
  /** default [0.9, 0.999] */
  readonly betas?: readonly [number, number];
  /** default 1e-8 */
  readonly eps?: number;
  /** default 0.01 (torch's default) */
  readonly weightDecay?: number;
  /** leave 1-D parameters (biases, norm weights) undecayed, as the Hugging Face Trainer does; default false (torch) */
  readonly noDecay1d?: boolean;
  /**
   * a second thread that updates about half of the parameters (by size) while this one updates the rest — the
   * same numbers, bit for bit, since each parameter is updated whole by one thread with the same code; used
   * when the parameters hold at least `parallelFrom` elements (default 4 Mi: below it copying the helper's
   * share and the hand-off cost more than they save)
   */
  readonly helper?: StepHelper;
  readonly parallelFrom?: number;
}

/** A compiled WebAssembly module (a `WebAssembly.Module`; opaque here). */
export type WasmModule = object;

/**
 * The slice of the WebAssembly API the kernel uses, typed here because the project's TypeScript libraries are
 * the ECMAScript ones alone (no DOM), which do not declare it.
 */
interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: unknown };
}

/** The compiled update kernel (adamw.wat); a module can be handed to a worker, which instantiates its own. */
export function adamwModule(): WasmModule {
  const { WebAssembly } = globalThis as unknown as { WebAssembly: WasmApi };
  return new WebAssembly.Module(Uint8Array.from(atob(WASM_BASE64), (c) => c.charCodeAt(0)));
}

/**
 * AdamW's update of one parameter: writes the new values into `out` (which may be `g`: each chunk of the
 * gradient is read before the same chunk of `out` is written), updates the moments in place and returns
 * [‖Δw‖², ‖w‖²].
 */
export type AdamWUpdate = (
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  out: Float32Array,
  decay: number,
  sc: AdamWScalars,
) => [number, number];

/**
 * An instance of the kernel with its own memory, and the loop that feeds it: chunks of 8192 elements of the
 * parameter, gradient and moments are copied into the module's memory (they stay in cache), updated there, and
 * the new values and moments copied back. Self-contained (no outside names) because the helper thread runs
 * this function from its source text: both threads run the same kernel, so a parameter's update is the same
 * bits whichever thread makes it.
 */
export function adamwUpdater(module: WasmModule): AdamWUpdate {
  const chunk = 8192;
  const { WebAssembly } = globalThis as unknown as { WebAssembly: WasmApi };
  const ex = new WebAssembly.Instance(module, {}).exports as {
    memory: { buffer: ArrayBuffer };
    d2: { value: number };
    n2: { value: number };
    adamw: (...args: number[]) => void;
  };
  const buf = ex.memory.buffer;
  const P = new Float32Array(buf, 0, chunk);
  const G = new Float32Array(buf, 4 * chunk, chunk);
  const M = new Float32Array(buf, 8 * chunk, chunk);
  const V = new Float32Array(buf, 12 * chunk, chunk);
  return (p, g, m, v, out, decay, sc) => {
    ex.d2.value = 0;
    ex.n2.value = 0;
    const n = p.length;
    for (let i = 0; i < n; i += chunk) {
      const e = Math.min(n, i + chunk);
      const len = e - i;
      const len4 = (len + 3) & ~3;
      P.set(p.subarray(i, e));
      G.set(g.subarray(i, e));
      M.set(m.subarray(i, e));
      V.set(v.subarray(i, e));
      if (len4 > len) {
        // the last group of four lanes: zeros update to zeros and add nothing to the sums
        P.fill(0, len, len4);
        G.fill(0, len, len4);
        M.fill(0, len, len4);
        V.fill(0, len, len4);
      }
      ex.adamw(
        4 * len4,
        4 * chunk,
        8 * chunk,
        12 * chunk,
        decay,
        sc.gradScale,
        sc.b1,
        sc.c1,
        sc.b2,
        sc.c2,
        sc.bc2Sqrt,
        sc.eps,
        sc.negStep,
      );
      out.set(P.subarray(0, len), i);
      m.set(M.subarray(0, len), i);
      v.set(V.subarray(0, len), i);
    }
    return [ex.d2.value, ex.n2.value];
  };
}

/** Splits sizes into two bins of about equal total (largest first, each to the lighter bin): the second bin's indices. */
export function helperShare(sizes: readonly number[]): Set<number> {
  const order = sizes.map((n, i) => [n, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  let mine = 0;
  let theirs = 0;
  const out = new Set<number>();
  for (const [n, i] of order) {
    if (theirs < mine) {
      out.add(i);
      theirs += n;
    } else mine += n;
  }
  return out;
}

export interface SgdOptions {
  readonly momentum?: number;
  readonly dampening?: number;
  readonly nesterov?: boolean;
  /** L2 decay added to the gradient (torch's SGD), not decoupled; default 0 */
  readonly weightDecay?: number;
  readonly noDecay1d?: boolean;
}

function f32Param(params: ParamAccess, name: string, g: Float32Array): { old: Tensor; p: Float32Array } {
  const old = params.get(name);
  if (old.dtype !== "f32") throw new TypeError(`optimizer: parameter ${name} is ${old.dtype}; only f32 parameters train`);
  if (old.size !== g.length)
    throw new ShapeError(`optimizer: gradient of ${name} has ${g.length} elements, the parameter is ${fmt(old.shape)}`);
  return { old, p: old.data as Float32Array };
}

function stateArray(map: Map<string, Float32Array>, name: string, n: number): Float32Array {
  let a = map.get(name);
  if (a === undefined) map.set(name, (a = new Float32Array(n)));
  return a;
}

function exportState(
  into: Record<string, Tensor>,
  prefix: string,
  map: Map<string, Float32Array>,
  params: Map<string, readonly number[]>,
) {
  for (const [name, a] of map) into[`${prefix}.${name}`] = fromTyped(a, params.get(name) ?? [a.length], "f32"); // [param shape]
}

function importState(state: OptimizerState, kind: string, prefixes: readonly string[]): Map<string, Map<string, Float32Array>> {
  if (state.kind !== kind) throw new Error(`optimizer: cannot load ${state.kind} state into ${kind}`);
  if (!Number.isSafeInteger(state.step) || state.step < 0) throw new RangeError(`optimizer: bad step count ${state.step}`);
  const out = new Map(prefixes.map((p) => [p, new Map<string, Float32Array>()]));
  for (const [key, t] of Object.entries(state.tensors)) {
    const dot = key.indexOf(".");
    const m = out.get(key.slice(0, dot));
    if (dot < 0 || m === undefined) throw new Error(`optimizer: unexpected ${kind} state tensor "${key}"`);
    if (t.dtype !== "f32") throw new TypeError(`optimizer: state tensor "${key}" is ${t.dtype}, expected f32`);
    m.set(key.slice(dot + 1), Float32Array.from(t.data as Float32Array));
  }
  return out;
}

/**
 * AdamW with torch.optim.AdamW's single-tensor update, in this order: decoupled decay `p ← p·(1 − lr·wd)`, then
 * `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, then `p ← p − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)`, each
 * operation in float32 as torch's CPU kernels compute it (adamw.wat, run four lanes at a time).
 * @example const opt = new AdamW({ weightDecay: 0.01 }); opt.step(model.params, grads, 1e-3)
 */
export class AdamW implements Optimizer {
  readonly kind = "adamw";
  readonly scalesGradients = true;
  private t = 0;
  private m = new Map<string, Float32Array>();
  private v = new Map<string, Float32Array>();
  private readonly shapes = new Map<string, readonly number[]>();
  private readonly b1: number;
  private readonly b2: number;
  private readonly eps: number;
  private readonly wd: number;
  private readonly noDecay1d: boolean;
  private readonly helper: StepHelper | null;
  private readonly parallelFrom: number;
  private readonly update = adamwUpdater(adamwModule());
  /** the arrays the helper's copies of parameter values came back in, reused by the next step's copies */
  private readonly spares = new Map<string, Float32Array>();

  constructor(opts: AdamWOptions = {}) {
    [this.b1, this.b2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.wd = opts.weightDecay ?? 0.01;
    this.noDecay1d = opts.noDecay1d ?? false;
    this.helper = opts.helper ?? null;
    this.parallelFrom = opts.parallelFrom ?? 4 * 1024 * 1024;
    for (const b of [this.b1, this.b2])
      if (!(b >= 0 && b < 1)) throw new RangeError(`AdamW: betas must be in [0, 1), got ${opts.betas?.join(", ")}`);
  }

  get steps(): number {
    return this.t;
  }

  step(
    params: ParamAccess,
    grads: ReadonlyMap<string, Float32Array>,
    lr: number,
    gradScale = 1,
    consume = false,
  ): Map<string, UpdateNorms> {
    const t = ++this.t;
    const { b1, b2, eps } = this;
    // torch's Python numbers, computed in float64 as torch does before its kernels take them as float32
    const sc: AdamWScalars = {
      gradScale,
      b1,
      c1: 1 - b1,
      b2,
      c2: 1 - b2,
      bc2Sqrt: Math.sqrt(1 - b2 ** t),
      eps,
      negStep: -(lr / (1 - b1 ** t)),
    };
    // every parameter checked (and its moments made) before any is updated or handed over
    const work = [...grads].map(([name, g]) => {
      const { old, p } = f32Param(params, name, g);
      this.shapes.set(name, old.shape);
      const n = p.length;
      const decay = this.noDecay1d && old.rank <= 1 ? 1 : 1 - lr * this.wd;
      return { name, g, old, p, m: stateArray(this.m, name, n), v: stateArray(this.v, name, n), decay };
    });
    const total = work.reduce((s, w) => s + w.p.length, 0);
    const theirs =
      this.helper !== null && total >= this.parallelFrom ? helperShare(work.map((w) => w.p.length)) : new Set<number>();
    if (theirs.size > 0) {
      // copies of the values (the old parameter tensors stay intact) and of gradients the caller keeps; the
      // moments themselves travel
      const jobs = [...theirs].map((i) => {
        const w = work[i] as (typeof work)[number];
        // a consumed gradient that is a whole buffer travels itself and comes back as the new values
        const whole = w.g.byteOffset === 0 && w.g.byteLength === w.g.buffer.byteLength;
        const intoG = consume && whole;
        // the values' copy goes into the array the helper handed back last step: fresh pages cost more than the copy
        const spare = this.spares.get(w.name);
        this.spares.delete(w.name);
        const p = spare?.length === w.p.length ? spare : new Float32Array(w.p.length);
        p.set(w.p);
        return { name: w.name, p, g: intoG ? w.g : w.g.slice(), m: w.m, v: w.v, decay: w.decay, intoG };
      });
      this.helper?.start(jobs, sc);
    }
    const norms = new Map<string, UpdateNorms>();
    // this thread's share; an error here still collects the helper's answer below, so the moments come back
    let mine: { error: unknown } | null = null;
    try {
      work.forEach((w, i) => {
        if (theirs.has(i)) return;
        // the update reads a chunk of g before it writes that chunk of out: the gradient can be its own output
        const out = consume ? w.g : new Float32Array(w.p.length);
        const [delta2, norm2] = this.update(w.p, w.g, w.m, w.v, out, w.decay, sc);
        params.set(w.name, fromTyped(out, w.old.shape, "f32")); // [param shape]
        norms.set(w.name, { delta2, norm2 });
      });
    } catch (e) {
      mine = { error: e };
    }
    if (theirs.size > 0) {
      let done: AdamWDone[];
      try {
        done = this.helper?.finish() ?? [];
      } catch (e) {
        const back = (e as { moments?: readonly { name: string; m: Float32Array; v: Float32Array }[] }).moments;
        for (const k of back ?? []) {
          this.m.set(k.name, k.m);
          this.v.set(k.name, k.v);
        }
        throw e;
      }
      for (const d of done) {
        const w = work.find((x) => x.name === d.name);
        if (w === undefined) throw new Error(`AdamW: the helper answered for an unknown parameter ${d.name}`);
        // the moments come back in the arrays the helper returned (those handed over are detached now)
        this.m.set(d.name, d.m);
        this.v.set(d.name, d.v);
        this.spares.set(d.name, d.p);
        params.set(d.name, fromTyped(d.out, w.old.shape, "f32")); // [param shape]
        norms.set(d.name, { delta2: d.delta2, norm2: d.norm2 });
      }
    }
    if (mine !== null) throw mine.error;
    // in the gradients' order, as the single-threaded loop gives them
    return new Map(work.map((w) => [w.name, norms.get(w.name) as UpdateNorms]));
  }

  state(): OptimizerState {
    const tensors: Record<string, Tensor> = {};
    exportState(tensors, "exp_avg", this.m, this.shapes);
    exportState(tensors, "exp_avg_sq", this.v, this.shapes);
    return { kind: "adamw", step: this.t, tensors };
  }

  loadState(state: OptimizerState): void {
    const s = importState(state, "adamw", ["exp_avg", "exp_avg_sq"]);
    this.m = s.get("exp_avg") as Map<string, Float32Array>;
    this.v = s.get("exp_avg_sq") as Map<string, Float32Array>;
    for (const [key, t] of Object.entries(state.tensors)) this.shapes.set(key.slice(key.indexOf(".") + 1), t.shape);
    this.t = state.step;
  }
}

/**
 * SGD with torch.optim.SGD's update: `d ← g + wd·p`; with momentum μ, `b ← d` on the first step and
 * `b ← μb + (1 − dampening)d` after; `d ← d + μb` (Nesterov) or `d ← b`; then `p ← p − lr·d`.
 * @example const opt = new Sgd({ momentum: 0.9, nesterov: true }); opt.step(model.params, grads, 0.1)
 */
export class Sgd implements Optimizer {
  readonly kind = "sgd";
  readonly scalesGradients = true;
  private t = 0;
  private buf = new Map<string, Float32Array>();
  private readonly shapes = new Map<string, readonly number[]>();
  private readonly mu: number;
  private readonly damp: number;
  private readonly nesterov: boolean;
  private readonly wd: number;
  private readonly noDecay1d: boolean;

  constructor(opts: SgdOptions = {}) {
    this.mu = opts.momentum ?? 0;
    this.damp = opts.dampening ?? 0;
    this.nesterov = opts.nesterov ?? false;
    this.wd = opts.weightDecay ?? 0;
    this.noDecay1d = opts.noDecay1d ?? false;
    // torch refuses the same combination: Nesterov needs momentum and no dampening
    if (this.nesterov && (this.mu <= 0 || this.damp !== 0))
      throw new RangeError("Sgd: Nesterov momentum requires a momentum and zero dampening");
  }

  get steps(): number {
    return this.t;
  }

  step(params: ParamAccess, grads: ReadonlyMap<string, Float32Array>, lr: number, gradScale = 1): Map<string, UpdateNorms> {
    this.t++;
    const { mu, damp, nesterov } = this;
    const norms = new Map<string, UpdateNorms>();
    for (const [name, g] of grads) {
      const { old, p } = f32Param(params, name, g);
      this.shapes.set(name, old.shape);
      const n = p.length;
      const wd = this.noDecay1d && old.rank <= 1 ? 0 : this.wd;
      const first = !this.buf.has(name);
      const b = mu !== 0 ? stateArray(this.buf, name, n) : null;
      const out = new Float32Array(n);
      const scale = Math.fround(gradScale);
      let delta2 = 0;
      let norm2 = 0;
      for (let i = 0; i < n; i++) {
        const w0 = p[i] as number;
        const gi = Math.fround((g[i] as number) * scale);
        let d = wd === 0 ? gi : Math.fround(gi + wd * w0);
        if (b !== null) {
          const bi = first ? d : Math.fround(Math.fround((b[i] as number) * mu) + (1 - damp) * d);
          b[i] = bi;
          d = nesterov ? Math.fround(d + mu * bi) : bi;
        }
        const w1 = Math.fround(w0 - lr * d);
        out[i] = w1;
        delta2 += (w1 - w0) * (w1 - w0);
        norm2 += w0 * w0;
      }
      params.set(name, fromTyped(out, old.shape, "f32")); // [param shape]
      norms.set(name, { delta2, norm2 });
    }
    return norms;
  }

  state(): OptimizerState {
    const tensors: Record<string, Tensor> = {};
    exportState(tensors, "momentum_buffer", this.buf, this.shapes);
    return { kind: "sgd", step: this.t, tensors };
  }

  loadState(state: OptimizerState): void {
    this.buf = importState(state, "sgd", ["momentum_buffer"]).get("momentum_buffer") as Map<string, Float32Array>;
    for (const [key, t] of Object.entries(state.tensors)) this.shapes.set(key.slice(key.indexOf(".") + 1), t.shape);
    this.t = state.step;
  }
}
