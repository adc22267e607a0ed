// The activations (and gradients) one run recorded, by hook point name.
import type { ActivationSummary, HookPoint } from "@llmdbg/protocol";
import { fmt, type Tensor } from "@llmdbg/tensor";
import { layerCount, resolveLayer } from "./select.js";
import { tensorStats } from "./slices.js";

export class ActivationCache {
  private readonly acts = new Map<string, Tensor>();
  private readonly grads = new Map<string, Tensor>();
  private readonly points: ReadonlyMap<string, HookPoint>;

  private readonly nLayers: number;

  constructor(points: readonly HookPoint[]) {
    this.points = new Map(points.map((p) => [p.name, p]));
    this.nLayers = layerCount(points.map((p) => p.name));
  }

  /** @internal used by run() */
  set(name: string, t: Tensor): void {
    this.acts.set(name, t);
  }

  /** @internal used by run() */
  setGrad(name: string, t: Tensor): void {
    this.grads.set(name, t);
  }

  /** The activation at `name` (`blocks.-1.…` is the last block); throws naming the cached points if it was not cached. */
  get(name: string): Tensor {
    const t = this.acts.get(resolveLayer(name, this.nLayers));
    if (t === undefined) throw new Error(`cache: no activation "${name}" (cached: ${this.names().join(", ") || "none"})`);
    return t;
  }

  /** The activation of `component` in block `layer` (negative counts from the last block), e.g. at("attn.hook_pattern", -1). */
  at(component: string, layer: number): Tensor {
    return this.get(resolveLayer(`blocks.${layer}.${component}`, this.nLayers));
  }

  /** The gradient of the run's loss with respect to the activation at `name`. */
  grad(name: string): Tensor {
    const t = this.grads.get(resolveLayer(name, this.nLayers));
    if (t === undefined)
      throw new Error(`cache: no gradient for "${name}" (with gradients: ${[...this.grads.keys()].join(", ") || "none"})`);
    return t;
  }

  has(name: string): boolean {
    return this.acts.has(name);
  }

  names(): string[] {
    return [...this.acts.keys()];
  }

  point(name: string): HookPoint | undefined {
    return this.points.get(name);
  }

  /** Shape and value statistics per cached activation (for listings and the UI). */
  summary(): ActivationSummary[] {
    return [...this.acts].map(([name, t]) => ({ name, shape: [...t.shape], ...tensorStats(t) }));
  }

  /** Releases every cached tensor. */
  dispose(): void {
    for (const t of this.acts.values()) t.dispose();
    for (const t of this.grads.values()) t.dispose();
    this.acts.clear();
    this.grads.clear();
  }

  toString(): string {
    return `ActivationCache(${[...this.acts].map(([n, t]) => `${n} ${fmt(t.shape)}`).join(", ")})`;
  }
}
