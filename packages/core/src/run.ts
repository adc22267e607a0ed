// run(): the only way hooks are installed, and nothing survives the call (no global addHook — the
// TransformerLens footgun). A model's forward pass sees a narrow ForwardContext: it reports each declared
// hook point through `hook` and reads each parameter through `param`, so one run can cache, intervene, call
// per-call hook functions, substitute edited weights and differentiate activations or parameters.
import type { Axis, HookPoint } from "@llmdbg/protocol";
import { fmt, ones, ShapeError, type Tensor, tensor, vjp, watch, zeros } from "@llmdbg/tensor";
import { ActivationCache } from "./cache.js";
import type { ForwardOptions } from "./forward.js";
import { applyIntervention, type InterventionInput } from "./interventions.js";
import { editedValue, type ParamStore, type WeightEditInput } from "./params.js";
import { layerCount, type NameFilter, resolveLayer, selectNames } from "./select.js";
import type { Tokenizer } from "./tokenizer.js";

/** What an architecture's forward pass sees of a run. */
export interface ForwardContext {
  /** Reports the activation at a declared hook point; returns it, possibly intervened on. */
  hook(name: string, x: Tensor): Tensor;
  /** The parameter `name` for this run: the stored one, an edited one, or a leaf being differentiated. */
  param(name: string): Tensor;
  /**
   * Whether anything in this run looks at the hook point `name` (a cache, an intervention, a hook function or a
   * gradient). A point that nothing observes may be skipped inside a fused kernel: it then does not fire.
   */
  observed(name: string): boolean;
}

/** Sizes of the axes that do not depend on the input (d_model, head, d_vocab, …). */
export type AxisSizes = { readonly [A in Axis]?: number };

/** A model whose forward pass reports every declared hook point and reads every parameter through its context. */
export interface HookedModel {
  readonly hookPoints: readonly HookPoint[];
  readonly params: ParamStore;
  /** The fixed axis sizes: with the input's batch and positions they give every hook's full shape. */
  readonly axisSizes: AxisSizes;
  /** Set when the model was loaded with its tokenizer: `run` then accepts text. */
  readonly tokenizer?: Tokenizer | undefined;
  /**
   * ids [batch, pos] (i32) → logits [batch, pos, d_vocab] (or whatever the head produces). `opts` carries
   * padding, positions and the KV cache; `planForward` (forward.ts) resolves their defaults.
   */
  forward(ids: Tensor, ctx: ForwardContext, opts?: ForwardOptions): Tensor;
}

/** A per-call hook: sees the activation at one point (after the interventions) and may return a replacement. */
export type HookFn = (x: Tensor, point: HookPoint) => Tensor | undefined;

export interface RunOptions extends ForwardOptions {
  /** hook points to record in the cache (names, globs, negative layers, a predicate, or true for all) */
  cache?: NameFilter;
  interventions?: readonly InterventionInput[];
  /** functions called at the points their keys select (names or globs), for this call only */
  hooks?: Readonly<Record<string, HookFn>>;
  /** weight edits for this run only: the stored parameters are not touched */
  edits?: readonly WeightEditInput[];
  /**
   * Gradients of `loss(output)` (a one-element tensor) with respect to the selected hook activations (read with
   * `cache.grad(name)`) and parameters (`result.paramGrads`).
   */
  grads?: { hooks?: NameFilter; params?: NameFilter; loss: (output: Tensor) => Tensor };
}

export interface RunResult {
  /** the token ids the model ran on, [batch, pos] */
  ids: Tensor;
  output: Tensor;
  cache: ActivationCache;
  /** the loss when `grads` was given */
  loss?: Tensor;
  /** gradients of the loss by parameter name, for `grads.params` */
  paramGrads: ReadonlyMap<string, Tensor>;
}

/** What `run` accepts as input: text (needs the model's tokenizer), token ids, or an i32 tensor [batch, pos]. */
export type RunInput = string | readonly number[] | Tensor;

/** Token ids [batch, pos] for `input`. */
export function toIds(model: HookedModel, input: RunInput): Tensor {
  if (typeof input === "string") {
    const tok = model.tokenizer;
    if (tok === undefined)
      throw new Error("run: text input needs a model loaded with its tokenizer (load(path)); pass token ids");
    const ids = tok.encode(input);
    if (ids.length === 0) throw new RangeError(`run: ${JSON.stringify(input)} encodes to no tokens`);
    return tensor(ids, [1, ids.length], "i32");
  }
  if (Array.isArray(input)) {
    if (input.length === 0) throw new RangeError("run: no token ids");
    return tensor(input as number[], [1, input.length], "i32");
  }
  return input as Tensor;
}

export class HookContext implements ForwardContext {
  readonly cache: ActivationCache;
  private readonly points: ReadonlyMap<string, HookPoint>;
  private readonly byHook = new Map<string, InterventionInput[]>();
  private readonly fns = new Map<string, HookFn[]>();
  private readonly cached: ReadonlySet<string>;
  private readonly gradHooks: ReadonlySet<string>;
  private readonly gradParams: ReadonlySet<string>;
  private readonly overrides = new Map<string, Tensor>();
  private readonly resolved = new Map<string, Tensor>();
  private readonly sizes: Readonly<Record<string, number>>;
  private readonly logitsLast: boolean;
  private readonly fired = new Map<string, number>();
  /** activations watched for gradients, by name */
  readonly watched = new Map<string, Tensor>();
  /** parameters watched for gradients, by name */
  readonly watchedParams = new Map<string, Tensor>();

  constructor(
    private readonly model: HookedModel,
    opts: RunOptions,
    input: { batch: number; queries: number; past: number },
  ) {
    const points = model.hookPoints;
    const names = points.map((p) => p.name);
    const L = layerCount(names);
    this.points = new Map(points.map((p) => [p.name, p]));
    this.cache = new ActivationCache(points);
    for (const iv of opts.interventions ?? []) {
      const hook = resolveLayer(iv.hook, L);
      if (!this.points.has(hook)) throw new Error(`intervention ${iv.kind}: unknown hook point "${iv.hook}"`);
      const list = this.byHook.get(hook) ?? [];
      list.push(iv);
      this.byHook.set(hook, list);
    }
    for (const [pattern, fn] of Object.entries(opts.hooks ?? {})) {
      for (const name of selectNames(pattern, names, "hooks")) {
        const list = this.fns.get(name) ?? [];
        list.push(fn);
        this.fns.set(name, list);
      }
    }
    this.cached = new Set(selectNames(opts.cache, names, "cache"));
    this.gradHooks = new Set(selectNames(opts.grads?.hooks, names, "grads.hooks"));
    this.gradParams = new Set(selectNames(opts.grads?.params, model.params.names(), "grads.params"));
    for (const e of opts.edits ?? []) {
      const base = this.overrides.get(e.param) ?? model.params.get(e.param);
      this.overrides.set(e.param, editedValue(base, e));
    }
    const { batch, queries, past } = input;
    this.sizes = { ...model.axisSizes, batch, pos: queries, query_pos: queries, key_pos: past + queries, one: 1 };
    this.logitsLast = opts.logits === "last";
  }

  /** Called by the forward pass at each declared point; returns the (possibly intervened) activation. */
  hook(name: string, x: Tensor): Tensor {
    const p = this.points.get(name);
    if (p === undefined) throw new Error(`hook: "${name}" is not a declared hook point of this model`);
    this.checkShape(p, x);
    this.fired.set(name, (this.fired.get(name) ?? 0) + 1);
    let y = x;
    for (const iv of this.byHook.get(name) ?? []) y = applyIntervention(y, p, iv);
    for (const fn of this.fns.get(name) ?? []) {
      const r = fn(y, p);
      if (r !== undefined) {
        if (r.shape.join() !== y.shape.join())
          throw new ShapeError(`hooks["${name}"] returned ${fmt(r.shape)}, the activation is ${fmt(y.shape)}`);
        y = r;
      }
    }
    if (this.gradHooks.has(name)) {
      y = watch(y);
      this.watched.set(name, y);
    }
    if (this.cached.has(name)) this.cache.set(name, y);
    return y;
  }

  /** The parameter `name` for this run; the same tensor every time it is asked for within the run. */
  param(name: string): Tensor {
    let t = this.resolved.get(name);
    if (t === undefined) {
      t = this.overrides.get(name) ?? this.model.params.get(name);
      if (this.gradParams.has(name)) {
        t = watch(t);
        this.watchedParams.set(name, t);
      }
      this.resolved.set(name, t);
    }
    return t;
  }

  observed(name: string): boolean {
    return this.cached.has(name) || this.gradHooks.has(name) || this.byHook.has(name) || this.fns.has(name);
  }

  /** How many times each point fired in this run (a forward with every point observed fires each once). */
  firedCounts(): ReadonlyMap<string, number> {
    return this.fired;
  }

  private checkShape(p: HookPoint, x: Tensor): void {
    if (x.rank !== p.axes.length) {
      throw new ShapeError(`hook ${p.name}: activation has rank ${x.rank}, declared axes are [${p.axes.join(", ")}]`);
    }
    p.axes.forEach((a, i) => {
      const want = a === "pos" && this.logitsLast && p.kind === "logits" ? 1 : this.sizes[a];
      if (want !== undefined && x.shape[i] !== want) {
        throw new ShapeError(
          `hook ${p.name}: activation ${fmt(x.shape)} has ${x.shape[i]} along ${a} (axis ${i}), expected ${want} (axes [${p.axes.join(", ")}])`,
        );
      }
    });
  }
}

/**
 * The full shape of a hook point's activation for an input of `batch` × `pos` tokens after `past` cached ones
 * (null where an axis size is unknown), without running the model.
 * @example hookShape(model, model.hookPoints[0], { batch: 1, pos: 8 }) // [1, 8, 768]
 */
export function hookShape(
  model: Pick<HookedModel, "axisSizes">,
  p: HookPoint,
  input: { batch: number; pos: number; past?: number; logits?: "all" | "last" },
): (number | null)[] {
  const sizes: Readonly<Record<string, number | undefined>> = {
    ...model.axisSizes,
    batch: input.batch,
    pos: input.pos,
    query_pos: input.pos,
    key_pos: (input.past ?? 0) + input.pos,
    one: 1,
  };
  return p.axes.map((a) => (a === "pos" && input.logits === "last" && p.kind === "logits" ? 1 : (sizes[a] ?? null)));
}

/**
 * Runs `model` on `input` with hooks that live for this call only.
 * @example const { output, cache } = run(model, "The capital of France is", { cache: "blocks.*.attn.hook_pattern", interventions: [{ kind: "zero", hook: "blocks.-1.hook_mlp_out" }] })
 */
export function run(model: HookedModel, input: RunInput, opts: RunOptions = {}): RunResult & { ctx: HookContext } {
  const ids = toIds(model, input);
  if (ids.rank !== 2) throw new ShapeError(`run: ids must be [batch, pos], got ${fmt(ids.shape)}`);
  const [batch, queries] = ids.shape as [number, number];
  const ctx = new HookContext(model, opts, { batch, queries, past: opts.kvCache?.length ?? 0 });
  const g = opts.grads;
  if (g === undefined) {
    const output = model.forward(ids, ctx, opts);
    return { ids, output, cache: ctx.cache, paramGrads: new Map(), ctx };
  }
  const { out, backward } = vjp(() => {
    const output = model.forward(ids, ctx, opts);
    return [output, g.loss(output)];
  }, []);
  const [output, loss] = out as [Tensor, Tensor];
  if (loss.size !== 1) throw new ShapeError(`run: grads.loss must return one element, got shape [${loss.shape.join(",")}]`);
  // no cotangent for the output itself: only the loss's gradient flows back
  const b = backward([null, ones(loss.shape, loss.dtype)]);
  for (const [name, t] of ctx.watched) ctx.cache.setGrad(name, b.gradOf(t) ?? zeros(t.shape, t.dtype));
  const paramGrads = new Map<string, Tensor>();
  for (const [name, t] of ctx.watchedParams) paramGrads.set(name, b.gradOf(t) ?? zeros(t.shape, t.dtype));
  return { ids, output, cache: ctx.cache, loss, paramGrads, ctx };
}
