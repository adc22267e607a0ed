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
   * parameters' sizes); returns each parameter's update norms. `gradScale` (default 1) multiplies every gradient
   * element as it is read, rounded to f32 as clipGradNorm would store it (bit-identical to clipping first).
   */
  step(params: ParamAccess, grads: ReadonlyMap<string, Float32Array>, lr: number, gradScale?: number): Map<string, UpdateNorms>;
  state(): OptimizerState;
  /** Restores a state that `state()` returned (from this kind of optimizer); replaces any state held. */
  loadState(state: OptimizerState): void;
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
 * `m ← m + (1−β₁)(g − m)`, `v ← β₂v + (1−β₂)g²`, then `p ← p − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)`.
 * Intermediates are float64; every value torch stores (p after decay, m, v, the new p) is rounded to f32.
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

  constructor(opts: AdamWOptions = {}) {
    [this.b1, this.b2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.wd = opts.weightDecay ?? 0.01;
    this.noDecay1d = opts.noDecay1d ?? false;
    for (const b of [this.b1, this.b2])
      if (!(b >= 0 && b < 1)) throw new RangeError(`AdamW: betas must be in [0, 1), got ${opts.betas?.join(", ")}`);
  }

  get steps(): number {
    return this.t;
  }

  step(params: ParamAccess, grads: ReadonlyMap<string, Float32Array>, lr: number, gradScale = 1): Map<string, UpdateNorms> {
    const t = ++this.t;
    const { b1, b2, eps } = this;
    const stepSize = lr / (1 - b1 ** t);
    const bc2Sqrt = Math.sqrt(1 - b2 ** t);
    // stepSize·m / (√v / bc2Sqrt + ε) = (stepSize·bc2Sqrt)·m / (√v + ε·bc2Sqrt): one division per element, not two
    // (in float64, rounded to f32 as before: equal to the two-division form to within float64 rounding)
    const num = stepSize * bc2Sqrt;
    const epsHat = eps * bc2Sqrt;
    const c1 = 1 - b1;
    const c2 = 1 - b2;
    const norms = new Map<string, UpdateNorms>();
    for (const [name, g] of grads) {
      const { old, p } = f32Param(params, name, g);
      this.shapes.set(name, old.shape);
      const n = p.length;
      const m = stateArray(this.m, name, n);
      const v = stateArray(this.v, name, n);
      const decay = this.noDecay1d && old.rank <= 1 ? 1 : 1 - lr * this.wd;
      const out = new Float32Array(n);
      let delta2 = 0;
      let norm2 = 0;
      for (let i = 0; i < n; i++) {
        const w0 = p[i] as number;
        const gi = Math.fround((g[i] as number) * gradScale);
        const m0 = m[i] as number;
        const mi = Math.fround(m0 + (gi - m0) * c1);
        const vi = Math.fround((v[i] as number) * b2 + c2 * gi * gi);
        m[i] = mi;
        v[i] = vi;
        const w1 = Math.fround(Math.fround(w0 * decay) - (num * mi) / (Math.sqrt(vi) + epsHat));
        out[i] = w1;
        const d = w1 - w0;
        delta2 += d * d;
        norm2 += w0 * w0;
      }
      params.set(name, fromTyped(out, old.shape, "f32")); // [param shape]
      norms.set(name, { delta2, norm2 });
    }
    return norms;
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
      let delta2 = 0;
      let norm2 = 0;
      for (let i = 0; i < n; i++) {
        const w0 = p[i] as number;
        const gi = Math.fround((g[i] as number) * gradScale);
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
