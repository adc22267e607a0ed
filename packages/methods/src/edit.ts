// Weight edits computed in TransformerLens's terms and written where the checkpoint keeps the weights
// (`model.outputParams`): zeroing one head's output (its rows of W_O) and a rank-one MLP edit in the style of ROME.
// Every edit is a protocol WeightEdit — JSON that replays, applied for one run (`run(..., { edits })`) or made
// permanent and revertible (`model.params.apply`).
import { logProb, run, type StoredWeight, type TransformerModel } from "@llmdbg/core";
import type { EditCheck, RomeRequest, RomeResult, TokenInput, WeightEdit } from "@llmdbg/protocol";
import { add, type Tensor, tensor } from "@llmdbg/tensor";
import {
  checkAborted,
  checkToken,
  inputIds,
  type MethodOptions,
  MethodRequestError,
  resolvePosition,
  tokenRef,
} from "./common.js";

/** The rows (in_out) or columns (out_in) of a stored [in, out] matrix that hold inputs `from` … `from + n − 1`. */
function inputSlice(w: StoredWeight, from: number, n: number): { rows: number[] } | { cols: number[] } {
  const idx = Array.from({ length: n }, (_, i) => from + i);
  return w.layout === "in_out" ? { rows: idx } : { cols: idx };
}

/**
 * The edit that zeroes head `head` of block `layer`'s output: its d_head rows of W_O (the attention output
 * bias, shared by all heads, stays).
 * @example run(model, ids, { edits: zeroHeadEdits(model, 3, 5) })
 */
export function zeroHeadEdits(model: TransformerModel, layer: number, head: number): WeightEdit[] {
  const L = model.nLayers;
  if (!Number.isInteger(layer) || layer < -L || layer >= L)
    throw new MethodRequestError("layer", `expected a layer in [-${L}, ${L}), got ${layer}`);
  const [H, Dh] = model.attn(layer).W_O.shape as [number, number, number]; // [head, d_head, d_model]
  if (!Number.isInteger(head) || head < 0 || head >= H)
    throw new MethodRequestError("head", `expected a head in [0, ${H}), got ${head}`);
  const w = model.outputParams(layer).attn;
  return [{ kind: "scale", param: w.param, factor: 0, ...inputSlice(w, head * Dh, Dh) }];
}

/**
 * A rank-one edit of block `layer`'s MLP so that the prompt's subject maps to a value that makes `target` the next
 * token (see RomeRequest). Returns the edit without applying it, with the target's probability before and after on
 * the prompt and the checks.
 * @example const r = romeEdit(model, { kind: "rome", prompt: { text: "The Eiffel Tower is in" }, subjectPosition: 3, target: rome, layer: 4 }); model.params.apply([r.edit])
 */
export function romeEdit(model: TransformerModel, req: RomeRequest, opts: MethodOptions = {}): RomeResult {
  const ids = inputIds(model, req.prompt);
  const P = ids.length;
  const L = model.nLayers;
  if (!Number.isInteger(req.layer) || req.layer < 0 || req.layer >= L)
    throw new MethodRequestError("layer", `expected a layer in [0, ${L}), got ${req.layer}`);
  const s = resolvePosition(req.subjectPosition, P, "subjectPosition");
  checkToken(model, req.target, "target");
  // an MLP writes to its own position only: from the last layer, only the last position reaches the prediction
  if (req.layer === L - 1 && s !== P - 1)
    throw new MethodRequestError(
      "layer",
      `the last layer's MLP at position ${s} cannot change the prediction at position ${P - 1}; edit an earlier layer`,
    );
  const w = model.outputParams(req.layer).mlp;
  if (w === null) throw new MethodRequestError("layer", `block ${req.layer} has no MLP (an attention-only model)`);
  const steps = req.steps ?? 100;
  const lr = req.lr ?? 0.1;
  const l2 = req.l2 ?? 1e-3;
  if (!Number.isInteger(steps) || steps < 1) throw new MethodRequestError("steps", `expected a positive integer, got ${steps}`);
  const post = `blocks.${req.layer}.mlp.hook_post`;
  const out = `blocks.${req.layer}.hook_mlp_out`;
  const clean = run(model, ids, { cache: [post, out] });
  const M = clean.cache.get(post).shape[2] as number;
  const D = clean.cache.get(out).shape[2] as number;
  const key = Float64Array.from(clean.cache.get(post).data.subarray(s * M, (s + 1) * M)); // [d_mlp]
  const keyNorm2 = key.reduce((a, x) => a + x * x, 0);
  if (keyNorm2 === 0)
    throw new MethodRequestError("subjectPosition", "the MLP's key at the subject is zero; no rank-one edit can move it");

  // the value: the MLP's output at the subject plus δ, δ minimizing −log p(target) + l2‖δ‖² (Adam)
  const delta = new Float64Array(D);
  const m1 = new Float64Array(D);
  const m2 = new Float64Array(D);
  const losses: number[] = [];
  for (let t = 1; t <= steps; t++) {
    checkAborted(opts.signal);
    const shift = new Float32Array(P * D); // [1, pos, d_model]: δ at the subject only
    shift.set(Float32Array.from(delta), s * D);
    const r = run(model, ids, {
      hooks: { [out]: (x) => add(x, tensor(shift, x.shape, x.dtype)) },
      grads: { hooks: out, loss: (o) => logProb(o, req.target) },
    });
    const g = r.cache.grad(out).data; // ∂ log p / ∂ mlp_out: ascend it
    const lp = (r.loss as Tensor).item();
    let reg = 0;
    for (let i = 0; i < D; i++) {
      const gi = -(g[s * D + i] as number) + 2 * l2 * (delta[i] as number); // ∂(−log p + l2‖δ‖²)/∂δ_i
      m1[i] = 0.9 * (m1[i] as number) + 0.1 * gi;
      m2[i] = 0.999 * (m2[i] as number) + 0.001 * gi * gi;
      delta[i] =
        (delta[i] as number) -
        (lr * ((m1[i] as number) / (1 - 0.9 ** t))) / (Math.sqrt((m2[i] as number) / (1 - 0.999 ** t)) + 1e-8);
      reg += (delta[i] as number) ** 2;
    }
    losses.push(-lp + l2 * reg);
    opts.onProgress?.({ done: t, total: steps, what: "optimization steps" });
  }

  // W_out [d_mlp, d_model] += key ⊗ δ / ‖key‖²: the subject's key now adds δ to the MLP's output
  const [u, v] = w.layout === "in_out" ? [key, delta] : [delta, key];
  const edit = { kind: "rankOne" as const, param: w.param, u: Array.from(u), v: Array.from(v), coeff: 1 / keyNorm2 };

  const prob = (input: TokenInput, edits: readonly WeightEdit[], field: string): { ids: number[]; p: number } => {
    let x: number[];
    try {
      x = inputIds(model, input);
    } catch (e) {
      throw e instanceof MethodRequestError ? new MethodRequestError(field, e.message) : e;
    }
    return { ids: x, p: Math.exp(logProb(run(model, x, { edits }).output, req.target).item()) };
  };
  const checks: EditCheck[] = [req.prompt, ...(req.checks ?? [])].map((input, i) => {
    const field = i === 0 ? "prompt" : `checks[${i - 1}]`;
    const before = prob(input, [], field);
    return { tokens: before.ids.map((id) => tokenRef(model, id)), before: before.p, after: prob(input, [edit], field).p };
  });
  return {
    kind: "rome",
    layer: req.layer,
    subjectPosition: s,
    target: tokenRef(model, req.target),
    edit,
    keyNorm: Math.sqrt(keyNorm2),
    deltaNorm: Math.sqrt(delta.reduce((a, x) => a + x * x, 0)),
    losses,
    checks,
  };
}
