// run(): the only way hooks are installed, and nothing survives the call (no global addHook — the
// TransformerLens footgun). A model's forward pass calls ctx.hook at each declared point.

import type { HookPoint, Intervention } from "@llmdbg/protocol";
import { ones, ShapeError, type Tensor, vjp, watch, zeros } from "@llmdbg/tensor";
import { ActivationCache } from "./cache.js";
import type { ForwardOptions } from "./forward.js";
import { applyIntervention } from "./interventions.js";

/** A model whose forward pass reports every declared hook point through `ctx.hook`. */
export interface HookedModel {
  readonly hookPoints: readonly HookPoint[];
  /**
   * ids [batch, pos] (i32) → logits [batch, pos, d_vocab] (or whatever the head produces). `opts` carries
   * padding, positions and the KV cache; `planForward` (forward.ts) resolves their defaults.
   */
  forward(ids: Tensor, ctx: HookContext, opts?: ForwardOptions): Tensor;
}

/** Which hook points to record: all, a list of names, or a predicate. */
export type HookFilter = boolean | readonly string[] | ((name: string) => boolean);

export interface RunOptions extends ForwardOptions {
  cache?: HookFilter;
  interventions?: readonly Intervention[];
  /** Gradients of `loss(output)` (a one-element tensor) with respect to the selected hook activations. */
  grads?: { hooks: HookFilter; loss: (output: Tensor) => Tensor };
}

export interface RunResult {
  output: Tensor;
  cache: ActivationCache;
  /** the loss when `grads` was given */
  loss?: Tensor;
}

function matcher(f: HookFilter | undefined): (name: string) => boolean {
  if (f === undefined || f === false) return () => false;
  if (f === true) return () => true;
  if (typeof f === "function") return f;
  const set = new Set(f);
  return (n) => set.has(n);
}

export class HookContext {
  readonly cache: ActivationCache;
  private readonly points: ReadonlyMap<string, HookPoint>;
  private readonly byHook = new Map<string, Intervention[]>();
  private readonly wantCache: (name: string) => boolean;
  private readonly wantGrad: (name: string) => boolean;
  private readonly fired = new Map<string, number>();
  /** activations watched for gradients, by name */
  readonly watched = new Map<string, Tensor>();

  constructor(points: readonly HookPoint[], opts: RunOptions) {
    this.points = new Map(points.map((p) => [p.name, p]));
    this.cache = new ActivationCache(points);
    for (const iv of opts.interventions ?? []) {
      if (!this.points.has(iv.hook)) throw new Error(`intervention ${iv.kind}: unknown hook point "${iv.hook}"`);
      const list = this.byHook.get(iv.hook) ?? [];
      list.push(iv);
      this.byHook.set(iv.hook, list);
    }
    this.wantCache = matcher(opts.cache);
    this.wantGrad = matcher(opts.grads?.hooks);
  }

  /** Called by the forward pass at each declared point; returns the (possibly intervened) activation. */
  hook(name: string, x: Tensor): Tensor {
    const p = this.points.get(name);
    if (p === undefined) throw new Error(`hook: "${name}" is not a declared hook point of this model`);
    if (x.rank !== p.axes.length) {
      throw new ShapeError(`hook ${name}: activation has rank ${x.rank}, declared axes are [${p.axes.join(", ")}]`);
    }
    this.fired.set(name, (this.fired.get(name) ?? 0) + 1);
    let y = x;
    for (const iv of this.byHook.get(name) ?? []) y = applyIntervention(y, p, iv);
    if (this.wantGrad(name)) {
      y = watch(y);
      this.watched.set(name, y);
    }
    if (this.wantCache(name)) this.cache.set(name, y);
    return y;
  }

  /** How many times each point fired in this run (a complete forward fires each declared point once). */
  firedCounts(): ReadonlyMap<string, number> {
    return this.fired;
  }
}

/**
 * Runs `model` on `ids` with hooks that live for this call only.
 * @example const { output, cache } = run(model, ids, { cache: ["blocks.0.attn.hook_pattern"], interventions: [{ kind: "zero", hook: "blocks.0.hook_mlp_out" }] })
 */
export function run(model: HookedModel, ids: Tensor, opts: RunOptions = {}): RunResult & { ctx: HookContext } {
  const ctx = new HookContext(model.hookPoints, opts);
  const g = opts.grads;
  if (g === undefined) {
    const output = model.forward(ids, ctx, opts);
    return { output, cache: ctx.cache, ctx };
  }
  const { out, backward } = vjp(() => {
    const output = model.forward(ids, ctx, opts);
    return [output, g.loss(output)];
  }, []);
  const [output, loss] = out as [Tensor, Tensor];
  if (loss.size !== 1) throw new ShapeError(`run: grads.loss must return one element, got shape [${loss.shape.join(",")}]`);
  const b = backward([zeros(output.shape, output.dtype), ones(loss.shape, loss.dtype)]);
  for (const [name, t] of ctx.watched) {
    const gr = b.gradOf(t);
    ctx.cache.setGrad(name, gr ?? zeros(t.shape, t.dtype));
  }
  return { output, cache: ctx.cache, loss, ctx };
}
