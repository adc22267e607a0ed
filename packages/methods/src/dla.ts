// Direct logit attribution: the final residual stream is a sum of what each component wrote to it — the token
// and position embeddings, every attention head (its z times its rows of W_O), every attention output bias and
// every MLP. With the final norm's scale frozen at the clean run's value at the position read, the model's head
// is affine in the residual, so the logit splits exactly into one term per component plus a constant:
//
//   logit_t = Σ_c  g · c  +  f(0),   g = ∂logit_t/∂resid (scale frozen),   f(0) = the head at a zero residual
//
// g comes from autodiff through the model's own head with `ln_final.hook_scale` patched to its clean value (so
// no architecture's norm is re-implemented here), f(0) from `unembed` of zeros (a zero stream centres and scales
// to zero whatever the scale: what is left is the norm's bias through W_U, plus b_U). The sum is checked
// against the model's own logit. TransformerLens's `decompose_resid` + `apply_ln_to_stack` (cached scale) +
// `logit_attrs` compute the same decomposition.
import { logitOf, run, type TransformerModel } from "@llmdbg/core";
import type { DlaComponent, DlaRequest, DlaResult } from "@llmdbg/protocol";
import { sub, type Tensor, zeros } from "@llmdbg/tensor";
import {
  checkAborted,
  checkToken,
  inputIds,
  type MethodOptions,
  MethodRequestError,
  resolvePosition,
  tokenRef,
} from "./common.js";

const CONVENTION =
  "final norm's scale frozen at the clean run's value at this position (the head is then affine in the residual); " +
  "'bias' is the head at a zero residual: the norm's bias through the unembedding plus its bias";

/** Relative size of the gap between the summed components and the cached final residual that still counts as a sum. */
const SUM_TOLERANCE = 1e-4;

/**
 * Splits the logit of `target` (or target − foil) at one position into the direct contributions of every
 * component; they sum to the model's own logit.
 * @example directLogitAttribution(model, { kind: "dla", input: { text: "When Mary and John went to the store, John gave a drink to" }, target: mary, foil: john })
 */
export function directLogitAttribution(model: TransformerModel, req: DlaRequest, opts: MethodOptions = {}): DlaResult {
  const names = new Set(model.hookPoints.map((p) => p.name));
  if (!names.has("ln_final.hook_scale"))
    throw new MethodRequestError(
      "model",
      "direct logit attribution needs a final norm before the unembedding (ln_final); this model has none (a post-norm model such as BERT?)",
    );
  const ids = inputIds(model, req.input);
  checkToken(model, req.target, "target");
  if (req.foil !== undefined) checkToken(model, req.foil, "foil");
  const position = resolvePosition(req.position ?? -1, ids.length, "position");
  const L = model.nLayers;
  const finalResid = `blocks.${L - 1}.hook_resid_post`;
  const embeds = ["hook_embed", "hook_pos_embed"].filter((n) => names.has(n));
  // an attention-only model has no MLP outputs: its residual is the embeddings and the heads
  const perLayer = (l: number) => [`blocks.${l}.attn.hook_z`, `blocks.${l}.hook_mlp_out`].filter((n) => names.has(n));
  const cached = [...embeds, ...Array.from({ length: L }, (_, l) => perLayer(l)).flat(), finalResid, "ln_final.hook_scale"];

  const metricAt =
    (at: number) =>
    (out: Tensor): Tensor => {
      const t = logitOf(out, req.target, { position: at });
      return req.foil === undefined ? t : sub(t, logitOf(out, req.foil, { position: at })); // []
    };
  const metric = metricAt(position);
  const clean = run(model, ids, { cache: cached });
  const logit = metric(clean.output).item();
  checkAborted(opts.signal);
  // the gradient of the metric at the final residual, the norm's scale held at its clean value
  const frozen = run(model, ids, {
    interventions: [{ kind: "patch", hook: "ln_final.hook_scale", from: clean.cache }],
    grads: { hooks: finalResid, loss: metric },
  });
  const D = model.W_U.shape[0] as number; // W_U [d_model, d_vocab]
  const g = frozen.cache.grad(finalResid).data.subarray(position * D, (position + 1) * D); // [d_model]
  const dot = (v: ArrayLike<number>, offset = 0) => {
    let s = 0;
    for (let i = 0; i < D; i++) s += (v[offset + i] as number) * (g[i] as number);
    return s;
  };
  const rowOf = (name: string) => clean.cache.get(name).data; // [1, pos, d_model], row-major
  const components: DlaComponent[] = [];
  const sum = new Float64Array(D); // the components' vectors, summed, to check they make up the final residual
  const addVec = (v: ArrayLike<number>, offset: number) => {
    for (let i = 0; i < D; i++) sum[i] = (sum[i] as number) + (v[offset + i] as number);
  };

  for (const name of embeds) {
    const v = rowOf(name);
    addVec(v, position * D);
    components.push({
      name: name === "hook_embed" ? "embed" : "pos_embed",
      kind: name === "hook_embed" ? "embed" : "pos_embed",
      layer: null,
      head: null,
      value: dot(v, position * D),
    });
  }
  for (let l = 0; l < L; l++) {
    checkAborted(opts.signal);
    const { W_O, b_O } = model.attn(l); // [head, d_head, d_model], [d_model]
    const [H, Dh] = W_O.shape as [number, number, number];
    const z = clean.cache.get(`blocks.${l}.attn.hook_z`).data; // [1, pos, head, d_head]
    const wo = W_O.data;
    for (let h = 0; h < H; h++) {
      // this head's write at the position: z[p, h] · W_O[h]  ([d_head] · [d_head, d_model])
      const zOff = (position * H + h) * Dh;
      let value = 0;
      for (let j = 0; j < Dh; j++) {
        const zj = z[zOff + j] as number;
        const rowOff = (h * Dh + j) * D;
        for (let i = 0; i < D; i++) sum[i] = (sum[i] as number) + zj * (wo[rowOff + i] as number);
        value += zj * dot(wo, rowOff);
      }
      components.push({ name: `L${l}H${h}`, kind: "head", layer: l, head: h, value });
    }
    const bias = b_O.data;
    addVec(bias, 0);
    components.push({ name: `L${l} attn bias`, kind: "attn_bias", layer: l, head: null, value: dot(bias, 0) });
    if (names.has(`blocks.${l}.hook_mlp_out`)) {
      const mlp = rowOf(`blocks.${l}.hook_mlp_out`);
      addVec(mlp, position * D);
      components.push({ name: `L${l} mlp`, kind: "mlp", layer: l, head: null, value: dot(mlp, position * D) });
    }
    opts.onProgress?.({ done: l + 1, total: L, what: `blocks.${l}` });
  }
  // the residual stream must be the sum of these writes (a post-norm block, or a component this method does not
  // know, would break the decomposition: refuse rather than report terms that do not add up)
  const resid = rowOf(finalResid);
  let gap = 0;
  let scale = 0;
  for (let i = 0; i < D; i++) {
    const r = resid[position * D + i] as number;
    gap = Math.max(gap, Math.abs((sum[i] as number) - r));
    scale = Math.max(scale, Math.abs(r));
  }
  if (gap > SUM_TOLERANCE * scale)
    throw new MethodRequestError(
      "model",
      `the final residual is not the sum of its embeddings, heads and MLPs (off by ${gap.toExponential(2)} of ${scale.toExponential(2)})`,
    );

  const atZero = metricAt(0)(model.unembed(zeros([1, 1, D], "f32"))).item(); // the head at a zero residual
  components.push({ name: "bias", kind: "bias", layer: null, head: null, value: atZero });
  const total = components.reduce((a, c) => a + c.value, 0);
  return {
    kind: "dla",
    tokens: ids.map((id) => tokenRef(model, id)),
    position,
    target: tokenRef(model, req.target),
    foil: req.foil === undefined ? null : tokenRef(model, req.foil),
    logit,
    components,
    sum: total,
    error: Math.abs(total - logit),
    convention: CONVENTION,
  };
}
