// Hook points are declared data: each architecture lists its points (TransformerLens names, layer,
// component, axes) and its forward pass calls `ctx.hook(name, x)` exactly there. The axes let
// interventions pick positions and heads without knowing the architecture.

/** Axis names used in hook declarations and shape comments; `label` indexes a classifier's outputs; `one` is a size-1 axis kept for broadcasting (a norm's scale). */
export type Axis =
  | "batch"
  | "pos"
  | "query_pos"
  | "key_pos"
  | "head"
  | "kv_head"
  | "d_model"
  | "d_head"
  | "d_mlp"
  | "d_vocab"
  | "label"
  | "one";

export interface HookPoint {
  /** TransformerLens name, e.g. `blocks.3.attn.hook_pattern`. */
  readonly name: string;
  /** Block index, or null for points outside the blocks (`hook_embed`, `ln_final.hook_normalized`). */
  readonly layer: number | null;
  /** The name without its block prefix, e.g. `attn.hook_pattern`: the same component across layers. */
  readonly component: string;
  readonly axes: readonly Axis[];
}

/**
 * Declares the hook points of an architecture: the points outside the blocks and, for each of `nLayers`
 * blocks, the per-block components.
 * @example declareHooks(2, { hook_embed: ["batch", "pos", "d_model"] }, { hook_resid_pre: ["batch", "pos", "d_model"] })
 */
export function declareHooks(
  nLayers: number,
  outside: Readonly<Record<string, readonly Axis[]>>,
  perBlock: Readonly<Record<string, readonly Axis[]>>,
): HookPoint[] {
  const points: HookPoint[] = Object.entries(outside).map(([name, axes]) => ({ name, layer: null, component: name, axes }));
  for (let l = 0; l < nLayers; l++) {
    for (const [component, axes] of Object.entries(perBlock))
      points.push({ name: `blocks.${l}.${component}`, layer: l, component, axes });
  }
  return points;
}

/** The axis interventions index with `positions`: the query position for attention patterns and scores. */
export function positionAxis(p: HookPoint): number {
  const i = p.axes.indexOf("pos");
  return i >= 0 ? i : p.axes.indexOf("query_pos");
}

export function headAxis(p: HookPoint): number {
  const i = p.axes.indexOf("head");
  return i >= 0 ? i : p.axes.indexOf("kv_head");
}
