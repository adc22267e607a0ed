// Hook points are declared data: each architecture lists its points (TransformerLens names, layer,
// component, axes) and its forward pass calls `ctx.hook(name, x)` exactly there. The axes let
// interventions pick positions and heads without knowing the architecture; the kind (from the name) lets a
// method find every point of one kind. The types themselves are @llmdbg/protocol's.
import type { Axis, HookKind, HookPoint } from "@llmdbg/protocol";

/** The last segment of a hook name: what the point is, whatever the block or component around it. */
type HookSuffix =
  | "hook_embed"
  | "hook_pos_embed"
  | "hook_token_type_embed"
  | "hook_full_embed"
  | "hook_resid_pre"
  | "hook_resid_mid"
  | "hook_resid_post"
  | "hook_normalized_resid_post"
  | "hook_scale"
  | "hook_normalized"
  | "hook_q"
  | "hook_k"
  | "hook_v"
  | "hook_rot_q"
  | "hook_rot_k"
  | "hook_attn_scores"
  | "hook_pattern"
  | "hook_z"
  | "hook_attn_out"
  | "hook_pre"
  | "hook_pre_linear"
  | "hook_post"
  | "hook_mlp_out"
  | "hook_pooler_out"
  | "hook_logits";

/** The kind of each TransformerLens hook name (by its last segment; `hook_pre`/`hook_post` are the MLP's). */
const KIND_OF: { readonly [S in HookSuffix]: HookKind } = {
  hook_embed: "embed",
  hook_pos_embed: "pos_embed",
  hook_token_type_embed: "token_type_embed",
  hook_full_embed: "full_embed",
  hook_resid_pre: "resid_pre",
  hook_resid_mid: "resid_mid",
  hook_resid_post: "resid_post",
  hook_normalized_resid_post: "resid_normalized",
  hook_scale: "norm_scale",
  hook_normalized: "norm_out",
  hook_q: "q",
  hook_k: "k",
  hook_v: "v",
  hook_rot_q: "rot_q",
  hook_rot_k: "rot_k",
  hook_attn_scores: "attn_scores",
  hook_pattern: "attn_pattern",
  hook_z: "z",
  hook_attn_out: "attn_out",
  hook_pre: "mlp_pre",
  hook_pre_linear: "mlp_pre_linear",
  hook_post: "mlp_post",
  hook_mlp_out: "mlp_out",
  hook_pooler_out: "pooler_out",
  hook_logits: "logits",
};

/** The kind of a hook point from its name; a name outside TransformerLens's vocabulary is an error. */
export function hookKind(name: string): HookKind {
  const suffix = name.slice(name.lastIndexOf(".") + 1);
  if (!Object.hasOwn(KIND_OF, suffix)) {
    throw new Error(`declareHooks: "${name}" does not end in a known hook name (${Object.keys(KIND_OF).join(", ")})`);
  }
  return KIND_OF[suffix as HookSuffix];
}

/**
 * Declares the hook points of an architecture in the order its forward pass reaches them: the points `before`
 * the blocks, each of `nLayers` blocks' `perBlock` points, then the points `after` them.
 * @example declareHooks(2, { before: { hook_embed: ["batch", "pos", "d_model"] }, perBlock: { hook_resid_pre: ["batch", "pos", "d_model"] }, after: {} })
 */
export function declareHooks(
  nLayers: number,
  points: {
    readonly before: Readonly<Record<string, readonly Axis[]>>;
    readonly perBlock: Readonly<Record<string, readonly Axis[]>>;
    readonly after: Readonly<Record<string, readonly Axis[]>>;
  },
): HookPoint[] {
  const outside = (group: Readonly<Record<string, readonly Axis[]>>): HookPoint[] =>
    Object.entries(group).map(([name, axes]) => ({ name, layer: null, component: name, kind: hookKind(name), axes }));
  const blocks: HookPoint[] = [];
  for (let l = 0; l < nLayers; l++) {
    for (const [component, axes] of Object.entries(points.perBlock))
      blocks.push({ name: `blocks.${l}.${component}`, layer: l, component, kind: hookKind(component), axes });
  }
  return [...outside(points.before), ...blocks, ...outside(points.after)];
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
