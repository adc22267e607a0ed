// The activations (and gradients) one run recorded, by hook point name.
import type { ActivationSummary, HookPoint } from "@llmdbg/protocol";
import { fmt, type Tensor } from "@llmdbg/tensor";
import { tensorStats } from "./slices.js";

export class ActivationCache {
  private readonly acts = new Map<string, Tensor>();
  private readonly grads = new Map<string, Tensor>();
  private readonly points: ReadonlyMap<string, HookPoint>;

  constructor(points: readonly HookPoint[]) {
    this.points = new Map(points.map((p) => [p.name, p]));
  }

  /** @internal used by run() */
  set(name: string, t: Tensor): void {
    this.acts.set(name, t);
  }

  /** @internal used by run() */
  setGrad(name: string, t: Tensor): void {
    this.grads.set(name, t);
  }

  /** The activation at `name`; throws naming the cached points if it was not cached. */
  get(name: string): Tensor {
    const t = this.acts.get(name);
    if (t === undefined) throw new Error(`cache: no activation "${name}" (cached: ${this.names().join(", ") || "none"})`);
    return t;
  }

  /** The activation of `component` in block `layer`, e.g. at("attn.hook_pattern", 3). */
  at(component: string, layer: number): Tensor {
    return this.get(`blocks.${layer}.${component}`);
  }

  /** The gradient of the run's loss with respect to the activation at `name`. */
  grad(name: string): Tensor {
    const t = this.grads.get(name);
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
