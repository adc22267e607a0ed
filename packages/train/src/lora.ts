// LoRA adapters (Hu et al. 2021, with PEFT's conventions) on any linear weight, without the architecture knowing.
// An architecture reads each weight through `ctx.param(name)`; a LoRA view of the model answers that call for an
// adapted weight W with W + s·B·A (in W's stored layout, s = alpha / r), computed inside the run, so when the run
// differentiates A and B (the view's only parameters) their gradients flow back through the weight. Nothing in core
// or in an architecture file knows about adapters, and the trainer trains a view like any other model: its
// parameters, and so its optimizer state and checkpoints, are the adapter's tensors alone.
//
// The cost of that generality: the gradient reaches A and B through the full-size gradient of W' = W + s·B·A, which
// the matmul's rule computes anyway for a differentiated weight, where PEFT's separate x·Aᵀ·Bᵀ path never forms it.
//
// Dropout. PEFT drops elements of the adapter's input x (per token and feature) on the adapter's path only:
// y = W·x + s·B·A·dropout(x). A weight cannot express a per-token mask, and finding the layer's input activation
// would need to know the architecture (which hook point feeds which weight). Here the mask is drawn over A's input
// features, once per adapted weight and forward pass, and shared by every token of that pass:
// y = W·x + s·B·(A·diag(m)/(1−p))·x. The adapter's output has the same expectation as PEFT's (E[m/(1−p)] = 1) and
// each feature is dropped with probability p, but the tokens of one micro-batch share their mask, so the noise is
// correlated across them. It applies only in runs that differentiate the adapter (training); evaluation, generation
// and merged weights never drop. The default is 0, PEFT's; a saved adapter records the rate as `lora_dropout`. The
// masks come from the view's own generator, which a checkpoint does not hold: a resumed run with dropout draws
// other masks than the uninterrupted one would have (without dropout it resumes bit for bit).
import { editDistance, type ForwardContext, type HookedModel, ParamStore, selectNames, type WeightEditInput } from "@llmdbg/core";
import { checkpointLayout, type LoadedArchitecture } from "@llmdbg/models";
import type { LoraConfig, ResolvedLoraConfig } from "@llmdbg/protocol";
import * as T from "@llmdbg/tensor";
import { fmt, fromTyped, ShapeError, type Tensor } from "@llmdbg/tensor";
import { Rng } from "./rng.js";

/** What an adapter needs of a model: its config (layout, checkpoint names) and its parameters. */
export type LoraBase = Pick<LoadedArchitecture, "config" | "params">;

/** One adapted weight. */
export interface LoraTarget {
  /** the base model's parameter (a linear weight), e.g. "h.0.attn.c_attn.weight" */
  readonly param: string;
  /** PEFT's module path: the weight's checkpoint name without ".weight", e.g. "transformer.h.0.attn.c_attn" */
  readonly module: string;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** the weight is stored [in, out] (GPT-2's Conv1D), PEFT's fan_in_fan_out; otherwise [out, in] */
  readonly fanInFanOut: boolean;
  /** names of A [r, in] and B [out, r] in the adapter's ParamStore: the parameter's module path + ".lora_A.weight" */
  readonly a: string;
  readonly b: string;
}

/**
 * The config with PEFT's defaults filled in (r 8, alpha 8, dropout 0) and checked.
 * @example resolveLoraConfig({ targetModules: ["c_attn"] }) // { r: 8, alpha: 8, dropout: 0, targetModules: ["c_attn"], seed: 0, useRslora: false }
 */
export function resolveLoraConfig(c: LoraConfig): ResolvedLoraConfig {
  const r: ResolvedLoraConfig = {
    r: c.r ?? 8,
    alpha: c.alpha ?? 8,
    dropout: c.dropout ?? 0,
    targetModules: [...c.targetModules],
    seed: c.seed ?? 0,
    useRslora: c.useRslora ?? false,
  };
  const bad = (field: string, what: string): never => {
    throw new RangeError(`lora config: ${field} ${what}`);
  };
  if (!Number.isSafeInteger(r.r) || r.r <= 0) bad("r", `must be a positive integer, got ${r.r}`);
  if (!Number.isFinite(r.alpha)) bad("alpha", `must be a finite number, got ${r.alpha}`);
  if (!(r.dropout >= 0 && r.dropout < 1)) bad("dropout", `must be in [0, 1), got ${r.dropout}`);
  if (!Number.isSafeInteger(r.seed)) bad("seed", `must be an integer, got ${r.seed}`);
  if (r.targetModules.length === 0) bad("targetModules", "must name at least one module");
  for (const t of r.targetModules) if (typeof t !== "string" || t.trim() === "") bad("targetModules", "has an empty name");
  return r;
}

/** The factor on B·A: alpha / r, or alpha / √r for rank-stabilized LoRA (PEFT's `scaling`). */
export function loraScaling(c: Pick<ResolvedLoraConfig, "r" | "alpha" | "useRslora">): number {
  return c.useRslora ? c.alpha / Math.sqrt(c.r) : c.alpha / c.r;
}

/** A target pattern in our glob syntax (over parameter names) rather than PEFT's module names. */
export function isParamGlob(pattern: string): boolean {
  return pattern.includes("*") || pattern.endsWith(".weight");
}

/** PEFT's rule for a list entry: the module path is the name, or ends in "." + it. */
export function peftNameMatches(module: string, name: string): boolean {
  return module === name || module.endsWith(`.${name}`);
}

/** Every weight a LoRA adapter can target: the model's 2-D linear weights, with their PEFT module paths. */
export function linearTargets(base: LoraBase): Omit<LoraTarget, "a" | "b">[] {
  const fanInFanOut = base.config.weightLayout === "in_out";
  const out: Omit<LoraTarget, "a" | "b">[] = [];
  for (const e of checkpointLayout(base.config)) {
    if (e.kind !== "linear" || e.shape.length !== 2 || !base.params.has(e.key)) continue;
    if (!e.key.endsWith(".weight") || !e.stored.endsWith(".weight")) continue;
    const shape = base.params.get(e.key).shape as [number, number];
    out.push({
      param: e.key,
      module: e.stored.slice(0, -".weight".length),
      inFeatures: fanInFanOut ? shape[0] : shape[1],
      outFeatures: fanInFanOut ? shape[1] : shape[0],
      fanInFanOut,
    });
  }
  return out;
}

/** The adapter tensor names of a target, in parameter-name space (so per-layer telemetry groups them by layer). */
export function withLoraNames(t: Omit<LoraTarget, "a" | "b">): LoraTarget {
  const m = t.param.slice(0, -".weight".length);
  return { ...t, a: `${m}.lora_A.weight`, b: `${m}.lora_B.weight` };
}

/**
 * The weights `targetModules` selects, in the model's parameter order. Each pattern must select at least one
 * linear weight; an error lists how the module names look.
 */
export function selectLoraTargets(base: LoraBase, targetModules: readonly string[]): LoraTarget[] {
  const all = linearTargets(base);
  if (all.length === 0) throw new Error("lora: the model has no linear weights to adapt");
  const picked = new Set<string>();
  const leafNames = [...new Set(all.map((t) => t.module.slice(t.module.lastIndexOf(".") + 1)))];
  for (const pattern of targetModules) {
    if (isParamGlob(pattern)) {
      const names = all.map((t) => t.param);
      for (const n of selectNames([pattern], names, "lora targetModules")) picked.add(n);
      continue;
    }
    const hits = all.filter(
      (t) => peftNameMatches(t.module, pattern) || peftNameMatches(t.param.slice(0, -".weight".length), pattern),
    );
    if (hits.length === 0) {
      const near = leafNames.filter((n) => editDistance(n, pattern) <= 2);
      const hint = near.length > 0 ? `; did you mean ${near.map((n) => `"${n}"`).join(", ")}?` : "";
      throw new Error(
        `lora targetModules: "${pattern}" names no linear weight's module (modules end in ${leafNames.join(", ")}, e.g. "${all[0]?.module}")${hint}`,
      );
    }
    for (const t of hits) picked.add(t.param);
  }
  return all.filter((t) => picked.has(t.param)).map(withLoraNames);
}

/**
 * LoRA adapters for some of a model's linear weights: A [r, in] and B [out, r] per target in `params` (a
 * ParamStore of their own, which a LoRA view of the model presents as its parameters), and the scaling.
 */
export class LoraAdapter {
  readonly config: ResolvedLoraConfig;
  /** s in W + s·B·A */
  readonly scaling: number;
  readonly targets: readonly LoraTarget[];
  readonly params: ParamStore;
  private mergedInto: ParamStore | null = null;

  /** `params` must hold A and B of every target at their shapes (createLora and loadAdapter make them). */
  constructor(config: ResolvedLoraConfig, targets: readonly LoraTarget[], params: ParamStore) {
    this.config = config;
    this.scaling = loraScaling(config);
    this.targets = targets;
    this.params = params;
    const r = config.r;
    for (const t of targets) {
      const want: Record<string, readonly number[]> = { [t.a]: [r, t.inFeatures], [t.b]: [t.outFeatures, r] };
      for (const [name, shape] of Object.entries(want)) {
        const p = params.get(name);
        if (p.shape.join() !== shape.join())
          throw new ShapeError(`lora: ${name} is ${fmt(p.shape)}, expected ${fmt(shape)} (r ${r})`);
        if (p.dtype !== "f32") throw new TypeError(`lora: ${name} is ${p.dtype}; adapters are f32`);
      }
    }
    const expected = targets.length * 2;
    if (params.size !== expected)
      throw new Error(`lora: the adapter's store holds ${params.size} tensors, its ${targets.length} targets need ${expected}`);
  }

  /** Whether merge() has added the adapter into a model's weights (and unmerge() has not taken it out). */
  get merged(): boolean {
    return this.mergedInto !== null;
  }

  /**
   * s·B·A in the target weight's stored layout: [out, in], or [in, out] for fan_in_fan_out. `a` and `b` default to
   * the stored tensors; a LoRA view passes its run's (differentiated, possibly dropped-out) ones.
   */
  delta(target: LoraTarget, a: Tensor = this.params.get(target.a), b: Tensor = this.params.get(target.b)): Tensor {
    const d = target.fanInFanOut
      ? T.matmul(a, b, { transA: true, transB: true }) // [in, r]·[r, out] → [in, out]
      : T.matmul(b, a); // [out, r]·[r, in] → [out, in]
    return T.mul(d, this.scaling); // stored layout
  }

  /**
   * The adapter as weight edits for one run, `run(model, input, { edits: adapter.edits() })`: the forward pass of
   * the adapted model with the stored weights untouched (A and B are not differentiated; use loraModel for that).
   */
  edits(model: LoraBase): WeightEditInput[] {
    this.checkFits(model);
    if (this.merged) throw new Error("lora: the adapter is merged into the model's weights; running it again would add it twice");
    return this.targets.map((t) => ({ kind: "add", param: t.param, delta: T.noGrad(() => this.delta(t)) }));
  }

  /**
   * Adds s·B·A into each target weight of `model` (PEFT's merge): the model then computes the adapted function by
   * itself. `unmerge` takes it out again.
   * @example adapter.merge(model); saveHfFolder(src, model.params, "merged")
   */
  merge(model: LoraBase): void {
    this.checkFits(model);
    if (this.mergedInto !== null) throw new Error("lora: the adapter is already merged");
    T.noGrad(() => {
      for (const t of this.targets) model.params.set(t.param, T.add(model.params.get(t.param), this.delta(t))); // stored layout
    });
    this.mergedInto = model.params;
  }

  /** Subtracts s·B·A from the weights merge() added it to: the weights come back up to float rounding. */
  unmerge(model: LoraBase): void {
    if (this.mergedInto === null) throw new Error("lora: the adapter is not merged");
    if (this.mergedInto !== model.params) throw new Error("lora: the adapter is merged into another model");
    T.noGrad(() => {
      for (const t of this.targets) model.params.set(t.param, T.sub(model.params.get(t.param), this.delta(t))); // stored layout
    });
    this.mergedInto = null;
  }

  /** Checks that every target is a weight of `model` at the adapter's shape and layout. */
  checkFits(model: Pick<LoraBase, "params">): void {
    for (const t of this.targets) {
      if (!model.params.has(t.param))
        throw new Error(`lora: the model has no parameter "${t.param}" (adapter module ${t.module})`);
      const s = model.params.get(t.param).shape;
      const want = t.fanInFanOut ? [t.inFeatures, t.outFeatures] : [t.outFeatures, t.inFeatures];
      if (s.join() !== want.join()) throw new ShapeError(`lora: ${t.param} is ${fmt(s)}, the adapter was made for ${fmt(want)}`);
    }
  }
}

/**
 * A fresh adapter on the weights `config.targetModules` selects, initialized as PEFT does: A by kaiming_uniform_
 * with a = √5 (uniform in ±1/√in), drawn from `config.seed`; B zeros, so the adapted model starts equal to the base.
 * @example const adapter = createLora(model, { r: 4, alpha: 8, targetModules: ["c_attn"] })
 */
export function createLora(model: LoraBase, config: LoraConfig): LoraAdapter {
  const c = resolveLoraConfig(config);
  const targets = selectLoraTargets(model, c.targetModules);
  const rng = Rng.seeded(c.seed);
  const entries: [string, Tensor][] = [];
  for (const t of targets) {
    // torch: bound = gain·√(3 / fan_in) with gain = √(2 / (1 + a²)) = √(1/3), so bound = 1/√fan_in
    const bound = 1 / Math.sqrt(t.inFeatures);
    const a = new Float32Array(c.r * t.inFeatures);
    for (let i = 0; i < a.length; i++) a[i] = (2 * rng.uniform() - 1) * bound;
    entries.push([t.a, fromTyped(a, [c.r, t.inFeatures], "f32")]); // [r, in]
    entries.push([t.b, T.zeros([t.outFeatures, c.r], "f32")]); // [out, r]
  }
  return new LoraAdapter(c, targets, new ParamStore(entries));
}

export interface LoraModelOptions {
  /** seeds the dropout masks; default the adapter's seed */
  readonly dropoutSeed?: number;
}

/** A mask over `n` input features: 0 with probability p, else 1/(1−p) (inverted dropout). */
function dropoutMask(rng: Rng, n: number, p: number): Tensor {
  const m = new Float32Array(n);
  const keep = 1 / (1 - p);
  for (let i = 0; i < n; i++) m[i] = rng.uniform() < p ? 0 : keep;
  return fromTyped(m, [1, n], "f32"); // [1, in]
}

/**
 * `model` with `adapter` applied unmerged: a model whose parameters are the adapter's A and B tensors and whose
 * forward pass is the base model's, each target weight read as W + s·B·A. Run it, differentiate it or train it like
 * any model; the base model's weights are read live and never written. A run's `edits` and `grads.params` name the
 * adapter's tensors ("h.0.attn.c_attn.lora_A.weight"); hooks, caches and interventions are the base model's.
 * @example await train(loraModel(model, adapter), { train: examples }, { lr: 1e-3, maxSteps: 100 })
 */
export function loraModel(model: HookedModel, adapter: LoraAdapter, opts: LoraModelOptions = {}): HookedModel {
  adapter.checkFits(model);
  const byParam = new Map(adapter.targets.map((t) => [t.param, t]));
  const p = adapter.config.dropout;
  const rng = Rng.seeded(opts.dropoutSeed ?? adapter.config.seed);
  return {
    hookPoints: model.hookPoints,
    params: adapter.params,
    axisSizes: model.axisSizes,
    tokenizer: model.tokenizer,
    forward(ids, ctx, fopts) {
      if (adapter.merged)
        throw new Error("lora: the adapter is merged into the model's weights; run the model itself, or unmerge first");
      const resolved = new Map<string, Tensor>();
      const param = (name: string): Tensor => {
        const hit = resolved.get(name);
        if (hit !== undefined) return hit;
        const w = model.params.get(name);
        const target = byParam.get(name);
        let t = w;
        if (target !== undefined) {
          let a = ctx.param(target.a); // [r, in]
          const b = ctx.param(target.b); // [out, r]
          // a run that differentiates the adapter is training it: only then does dropout apply
          if (p > 0 && (a.tape !== null || b.tape !== null)) a = T.mul(a, dropoutMask(rng, target.inFeatures, p)); // [r, in]
          t = T.add(w, adapter.delta(target, a, b)); // stored layout
        }
        resolved.set(name, t);
        return t;
      };
      const inner: ForwardContext = { hook: (n, x) => ctx.hook(n, x), param, observed: (n) => ctx.observed(n) };
      return model.forward(ids, inner, fopts);
    },
  };
}
