// Repair strategies (issue 10): training options that change what a model learns, each usable alone or with the
// others (and with LoRA) in one run. They use the trainer's two extension points — run options for its forward
// passes, and the objective, which sees the run's output, its batch and the parameters being differentiated:
//
//   attention penalties  hook functions keep each selected attention pattern; a hook runs inside the differentiated
//                        forward pass, so what it keeps is on the tape, and a term built from it (weight × mean
//                        entropy, or weight × mean mass on chosen keys) sends its gradient back to the weights
//   adversarial          the objective perturbs the batch's embeddings (FGSM, PGD) from gradient passes of its own at
//                        the stored weights (nested tapes: the perturbation is a constant to training, as in
//                        Goodfellow et al. and Madry et al.), then runs the model again on the perturbed embeddings
//                        with the run's differentiated parameters
//   consistency          the objective runs the batch's counterfactuals (augment.ts pairs them) with the run's
//                        parameters and adds the divergence between the two outputs
//
// The second forward passes read their weights through the run's `param`, so their gradients reach whatever the run
// trains — the model's weights, or a LoRA view's adapters — and the trainer, checkpoints and telemetry see one
// objective. The attention penalties read the clean forward pass; the trainer's own run options (a caller's
// interventions) apply to it only, not to the adversarial and counterfactual passes.
import { type HookedModel, type HookFn, layerCount, run, selectNames } from "@llmdbg/core";
import type {
  AdversarialConfig,
  AttentionMassPenalty,
  AttentionPenalty,
  AttentionSelection,
  ConsistencyConfig,
  RepairConfig,
} from "@llmdbg/protocol";
import * as T from "@llmdbg/tensor";
import { fromTyped, ShapeError, type Tensor } from "@llmdbg/tensor";
import {
  type Batch,
  causalLmObjective,
  classificationLogits,
  classificationObjective,
  collate,
  type Example,
  type Objective,
  type ObjectiveContext,
} from "./loss.js";
import { Rng } from "./rng.js";
import type { ExtraRunOptions } from "./trainer.js";

/** An example with its counterfactual's token ids, which the consistency term compares it with. */
export interface PairedExample extends Example {
  readonly counterfactual?: { readonly ids: readonly number[] };
}

const bad = (field: string, what: string): never => {
  throw new RangeError(`repair: ${field} ${what}`);
};

/**
 * `model` reading its parameters through `param` (an objective's `ctx.param`): a forward pass of this view inside an
 * objective is differentiated with respect to the run's trained parameters, like the run's own pass.
 */
export function paramView(model: HookedModel, param: (name: string) => Tensor): HookedModel {
  return {
    hookPoints: model.hookPoints,
    params: model.params,
    axisSizes: model.axisSizes,
    tokenizer: model.tokenizer,
    forward: (ids, ctx, opts) =>
      model.forward(ids, { hook: (n, x) => ctx.hook(n, x), param, observed: (n) => ctx.observed(n) }, opts),
  };
}

/** 1 for each real token of the batch, [batch × pos] in row order. */
function realTokens(batch: Batch): Int32Array {
  const m = batch.attentionMask?.data;
  return m === undefined ? new Int32Array(batch.ids.size).fill(1) : Int32Array.from(m);
}

/** Each row's real positions (indices into the padded row), in order. */
function realPositions(batch: Batch): number[][] {
  const [B, Tn] = batch.ids.shape as [number, number];
  const real = realTokens(batch);
  return Array.from({ length: B }, (_, b) => Array.from({ length: Tn }, (_, t) => t).filter((t) => real[b * Tn + t] === 1));
}

/** The row's position `p` (negative: from its last real token), or undefined past its ends. */
const at = (positions: readonly number[], p: number): number | undefined => positions[p < 0 ? positions.length + p : p];

// ——— attention penalties ———

const PATTERN_HOOKS = "blocks.*.attn.hook_pattern";
const PATTERN_AXES = ["batch", "head", "query_pos", "key_pos"];
/** keeps log finite where a pattern is exactly 0 (a masked key): 0·log(1e-30) = 0 */
const TINY = 1e-30;

/** The pattern hook points a selection reads, and its heads (null: all). */
export function selectPatterns(
  model: Pick<HookedModel, "hookPoints" | "axisSizes">,
  sel: AttentionSelection,
  field = "attention",
): { hooks: string[]; heads: number[] | null } {
  const names = model.hookPoints.map((p) => p.name);
  let hooks = selectNames(sel.hooks ?? PATTERN_HOOKS, names, `${field}.hooks`);
  for (const h of hooks) {
    const axes = model.hookPoints.find((p) => p.name === h)?.axes ?? [];
    if (axes.join() !== PATTERN_AXES.join())
      bad(
        `${field}.hooks`,
        `selects ${h}, whose axes are [${axes.join(", ")}], not an attention pattern's [${PATTERN_AXES.join(", ")}]`,
      );
  }
  if (sel.layers !== undefined && sel.layers !== null) {
    const L = layerCount(names);
    const layerOf = (h: string) => Number(/^blocks\.(\d+)\./.exec(h)?.[1] ?? Number.NaN);
    const want = new Set(
      sel.layers.map((l, i) => {
        const r = l < 0 ? L + l : l;
        if (!Number.isSafeInteger(l) || r < 0 || r >= L)
          bad(`${field}.layers[${i}]`, `must be a block in [-${L}, ${L}), got ${l}`);
        if (!hooks.some((h) => layerOf(h) === r)) bad(`${field}.layers[${i}]`, `(${l}) has none of the selected hook points`);
        return r;
      }),
    );
    hooks = hooks.filter((h) => want.has(layerOf(h)));
  }
  if (hooks.length === 0) bad(`${field}.hooks`, "selects no attention pattern");
  let heads: number[] | null = null;
  if (sel.heads !== undefined && sel.heads !== null) {
    const H = model.axisSizes.head ?? 0;
    heads = sel.heads.map((h, i) =>
      Number.isSafeInteger(h) && h >= 0 && h < H ? h : bad(`${field}.heads[${i}]`, `must be a head in [0, ${H}), got ${h}`),
    );
    if (heads.length === 0) bad(`${field}.heads`, "is empty (null selects every head)");
  }
  return { hooks, heads };
}

/**
 * The weights of the rows a penalty averages, [batch, head, query_pos]: 1/(rows × patterns) for each selected head's
 * real query positions, else 0, so that summing weight × value over the patterns gives the mean.
 */
function rowWeights(batch: Batch, H: number, heads: readonly number[] | null, patterns: number): Tensor {
  const [B, Tn] = batch.ids.shape as [number, number];
  const real = realTokens(batch);
  const w = new Float32Array(B * H * Tn); // [batch, head, query_pos]
  const hs = heads ?? Array.from({ length: H }, (_, h) => h);
  let rows = 0;
  for (let b = 0; b < B; b++)
    for (const h of hs)
      for (let q = 0; q < Tn; q++)
        if (real[b * Tn + q] === 1) {
          w[(b * H + h) * Tn + q] = 1;
          rows++;
        }
  const scale = 1 / (rows * patterns);
  for (let i = 0; i < w.length; i++) w[i] = (w[i] as number) * scale;
  return fromTyped(w, [B, H, Tn], "f32"); // [batch, head, query_pos]
}

/** The token ids a mass penalty's `strings` name: a vocabulary entry, or text that encodes to one token. */
function tokenIdsOf(model: HookedModel, strings: readonly string[], field: string): number[] {
  if (strings.length === 0) return [];
  const tok = model.tokenizer;
  if (tok === undefined) return bad(field, "names tokens by text, but the model has no tokenizer; give token ids");
  return strings.map((s, i) => {
    const id = tok.tokenToId(s);
    if (id !== undefined) return id;
    const ids = tok.encode(s, { addSpecialTokens: false });
    if (ids.length !== 1)
      bad(`${field}[${i}]`, `${JSON.stringify(s)} encodes to ${ids.length} tokens (${ids.join(", ")}); name one token`);
    return ids[0] as number;
  });
}

/** The keys a mass penalty selects, [batch, 1, 1, key_pos]: 1 on chosen tokens or positions among real tokens. */
function keyMask(batch: Batch, ids: ReadonlySet<number>, positions: readonly number[]): Tensor {
  const [B, Tn] = batch.ids.shape as [number, number];
  const tokens = batch.ids.data;
  const real = realPositions(batch);
  const m = new Float32Array(B * Tn); // [batch, key_pos]
  for (let b = 0; b < B; b++) {
    const rp = real[b] as number[];
    for (const t of rp) if (ids.has(tokens[b * Tn + t] as number)) m[b * Tn + t] = 1;
    for (const p of positions) {
      const t = at(rp, p);
      if (t !== undefined) m[b * Tn + t] = 1;
    }
  }
  return fromTyped(m, [B, 1, 1, Tn], "f32"); // [batch, 1, 1, key_pos]
}

/** One attention penalty, resolved against a model: the patterns it reads and its mean value on a batch. */
export interface AttentionTerm {
  readonly penalty: AttentionPenalty;
  /** the pattern hook points read */
  readonly hooks: readonly string[];
  /** the mean entropy (nats) or mass over the selected rows of `patterns` (by hook name): a one-element tensor */
  value(patterns: ReadonlyMap<string, Tensor>, batch: Batch): Tensor;
}

/**
 * An attention penalty resolved against `model` (hooks, layers, heads, tokens by text). Its `value` is the
 * unweighted quantity; the objective adds `penalty.weight` × it.
 * @example const t = attentionTerm(model, { kind: "entropy", weight: 0.1, layers: [0] }); t.value(patterns, batch) // []
 */
export function attentionTerm(model: HookedModel, penalty: AttentionPenalty, field = "attention"): AttentionTerm {
  if (penalty.kind !== "entropy" && penalty.kind !== "mass")
    bad(`${field}.kind`, `must be "entropy" or "mass", got ${JSON.stringify((penalty as { kind: unknown }).kind)}`);
  if (!Number.isFinite(penalty.weight)) bad(`${field}.weight`, `must be a finite number, got ${penalty.weight}`);
  const { hooks, heads } = selectPatterns(model, penalty, field);
  let ids = new Set<number>();
  let positions: readonly number[] = [];
  if (penalty.kind === "mass") {
    const p = penalty as AttentionMassPenalty;
    for (const [k, v] of [
      ["tokens", p.tokens],
      ["positions", p.positions],
    ] as const)
      if (v !== undefined && !(Array.isArray(v) && v.every((x) => Number.isSafeInteger(x))))
        bad(`${field}.${k}`, "must be a list of integers");
    ids = new Set([...(p.tokens ?? []), ...tokenIdsOf(model, p.strings ?? [], `${field}.strings`)]);
    positions = p.positions ?? [];
    if (ids.size === 0 && positions.length === 0) bad(field, "(mass) names no tokens, strings or positions");
  }
  return {
    penalty,
    hooks,
    value(patterns, batch) {
      let total: Tensor | null = null;
      let w: Tensor | null = null;
      const keys = penalty.kind === "mass" ? keyMask(batch, ids, positions) : null;
      for (const h of hooks) {
        const p = patterns.get(h);
        if (p === undefined)
          throw new Error(`attention penalty: no pattern was recorded at ${h} (pass the repair's runOptions to the run)`);
        const [B, H, Q, K] = p.shape as [number, number, number, number];
        if (B !== batch.size || Q !== batch.ids.shape[1] || K !== Q)
          throw new ShapeError(`attention penalty: ${h} is [${p.shape}], the batch is [${batch.ids.shape}]`);
        w ??= rowWeights(batch, H, heads, hooks.length);
        const rows =
          keys === null
            ? T.neg(T.sum(T.mul(p, T.log(T.add(p, TINY))), -1)) // [batch, head, query_pos]: entropy
            : T.sum(T.mul(p, keys), -1); // [batch, head, query_pos]: mass on the chosen keys
        const v = T.sum(T.mul(rows, w)); // []
        total = total === null ? v : T.add(total, v); // []
      }
      return total as Tensor;
    },
  };
}

// ——— adversarial perturbations ———

/** The embedding hook point perturbed: `name` (a name or glob selecting one), or the one called hook_embed. */
export function embeddingHook(model: Pick<HookedModel, "hookPoints">, name?: string): string {
  const names = model.hookPoints.map((p) => p.name);
  const hits =
    name === undefined
      ? names.filter((n) => n === "hook_embed" || n.endsWith(".hook_embed"))
      : selectNames(name, names, "adversarial.hook");
  if (hits.length !== 1)
    bad(
      "adversarial.hook",
      hits.length === 0
        ? "is needed: the model has no hook point named hook_embed"
        : `must select one hook point, got ${hits.join(", ")}`,
    );
  return hits[0] as string;
}

/** An adversarial config with its defaults filled in and checked. */
export type ResolvedAdversarialConfig = Required<Omit<AdversarialConfig, "hook">> & { readonly hook: string };

/** `c` with its defaults (linf, 3 PGD steps of 2.5·ε/steps, no random start, α 0, the hook_embed point) and checked. */
export function resolveAdversarial(model: Pick<HookedModel, "hookPoints">, c: AdversarialConfig): ResolvedAdversarialConfig {
  if (c.method !== "fgsm" && c.method !== "pgd")
    bad("adversarial.method", `must be "fgsm" or "pgd", got ${JSON.stringify(c.method)}`);
  if (!(c.epsilon > 0 && Number.isFinite(c.epsilon))) bad("adversarial.epsilon", `must be a positive number, got ${c.epsilon}`);
  const norm = c.norm ?? "linf";
  if (norm !== "linf" && norm !== "l2") bad("adversarial.norm", `must be "linf" or "l2", got ${JSON.stringify(norm)}`);
  const steps = c.method === "fgsm" ? 1 : (c.steps ?? 3);
  if (!Number.isSafeInteger(steps) || steps < 1) bad("adversarial.steps", `must be a positive integer, got ${c.steps}`);
  const stepSize = c.method === "fgsm" ? c.epsilon : (c.stepSize ?? (2.5 * c.epsilon) / steps);
  if (!(stepSize > 0 && Number.isFinite(stepSize))) bad("adversarial.stepSize", `must be a positive number, got ${c.stepSize}`);
  const alpha = c.alpha ?? 0;
  if (!(alpha >= 0 && alpha <= 1)) bad("adversarial.alpha", `must be in [0, 1], got ${c.alpha}`);
  const seed = c.seed ?? 0;
  if (!Number.isSafeInteger(seed)) bad("adversarial.seed", `must be an integer, got ${c.seed}`);
  const randomStart = c.method === "pgd" && (c.randomStart ?? false);
  return {
    method: c.method,
    epsilon: c.epsilon,
    norm,
    steps,
    stepSize,
    randomStart,
    alpha,
    seed,
    hook: embeddingHook(model, c.hook),
  };
}

/** A perturbation of one batch's embeddings and the attack's losses. */
export interface Perturbation {
  /** [batch, pos, d_model], zero at padding */
  readonly delta: Tensor;
  readonly hook: string;
  /** the loss before each step (the first: at the clean input, or at the random start) */
  readonly losses: readonly number[];
}

/** A generator for one batch's random start: the config's seed, the step and the batch's tokens. */
function batchRng(seed: number, step: number, batch: Batch): Rng {
  let h = 0x811c9dc5 ^ seed;
  for (const id of batch.ids.data) h = Math.imul(h ^ (id as number), 0x01000193);
  return Rng.seeded(((h >>> 0) ^ Math.imul(step + 1, 0x9e3779b1)) >>> 0);
}

/** Projects each example's perturbation (rows of `n` elements) onto the ε-ball. */
function project(d: Float32Array, rows: number, n: number, c: ResolvedAdversarialConfig): void {
  if (c.norm === "linf") {
    for (let i = 0; i < d.length; i++) d[i] = Math.min(c.epsilon, Math.max(-c.epsilon, d[i] as number));
    return;
  }
  for (let b = 0; b < rows; b++) {
    let s = 0;
    for (let i = b * n; i < (b + 1) * n; i++) s += (d[i] as number) ** 2;
    const norm = Math.sqrt(s);
    if (norm > c.epsilon) for (let i = b * n; i < (b + 1) * n; i++) d[i] = ((d[i] as number) * c.epsilon) / norm;
  }
}

/**
 * The adversarial perturbation of `batch`'s embeddings for `objective` at `model`'s stored weights: FGSM (δ = ε·sign(g),
 * or ε·g/‖g‖ per example) or PGD (`steps` ascent steps of `stepSize`, each projected onto the ε-ball), with g the
 * gradient of the objective at the perturbed embeddings. Padding positions are never perturbed.
 * @example const { delta } = adversarialPerturbation(model, batch, resolveAdversarial(model, { method: "fgsm", epsilon: 0.05 }))
 */
export function adversarialPerturbation(
  model: HookedModel,
  batch: Batch,
  c: ResolvedAdversarialConfig,
  objective: Objective = causalLmObjective,
  step = 0,
): Perturbation {
  const [B, Tn] = batch.ids.shape as [number, number];
  const D = model.axisSizes.d_model;
  if (D === undefined) throw new Error("adversarial: the model does not declare d_model");
  const n = Tn * D;
  const real = realTokens(batch);
  const d = new Float32Array(B * n); // [batch, pos, d_model]
  const ctx: ObjectiveContext = { param: (name) => model.params.get(name), step };
  if (c.randomStart) {
    const rng = batchRng(c.seed, step, batch);
    // linf: uniform in the box; l2: a Gaussian direction, then projected (a point on or in the ball)
    for (let i = 0; i < d.length; i++) {
      if (c.norm === "linf") d[i] = (2 * rng.uniform() - 1) * c.epsilon;
      else d[i] = Math.sqrt(-2 * Math.log(1 - rng.uniform())) * Math.cos(2 * Math.PI * rng.uniform()) * c.epsilon;
    }
    if (c.norm === "l2") {
      for (let i = 0; i < d.length; i++) d[i] = (d[i] as number) / Math.sqrt(n);
    }
  }
  const zeroPadding = () => {
    for (let r = 0; r < B * Tn; r++) if (real[r] !== 1) d.fill(0, r * D, (r + 1) * D);
  };
  zeroPadding();
  project(d, B, n, c);
  const mask = batch.attentionMask === undefined ? {} : { attentionMask: batch.attentionMask };
  const losses: number[] = [];
  for (let k = 0; k < c.steps; k++) {
    const delta = fromTyped(Float32Array.from(d), [B, Tn, D], "f32"); // [batch, pos, d_model]
    const r = run(model, batch.ids, {
      ...mask,
      hooks: { [c.hook]: (x) => T.add(x, delta) },
      grads: { hooks: [c.hook], loss: (out) => objective(out, batch, ctx) },
    });
    losses.push((r.loss as Tensor).item());
    const g = r.cache.grad(c.hook).data; // [batch, pos, d_model]
    if (c.norm === "linf") for (let i = 0; i < d.length; i++) d[i] = (d[i] as number) + c.stepSize * Math.sign(g[i] as number);
    else
      for (let b = 0; b < B; b++) {
        let s = 0;
        for (let i = b * n; i < (b + 1) * n; i++) s += (g[i] as number) ** 2;
        const norm = Math.sqrt(s);
        if (norm > 0) for (let i = b * n; i < (b + 1) * n; i++) d[i] = (d[i] as number) + (c.stepSize * (g[i] as number)) / norm;
      }
    zeroPadding();
    project(d, B, n, c);
  }
  return { delta: fromTyped(d, [B, Tn, D], "f32"), hook: c.hook, losses };
}

/**
 * `objective` on `batch` with `delta` added to the embeddings at `hook`, reading the parameters through `param`
 * (an objective's ctx.param, so that the loss is differentiated with the run; default the stored weights).
 * @example const adv = adversarialLoss(model, batch, p.delta, p.hook) // []
 */
export function adversarialLoss(
  model: HookedModel,
  batch: Batch,
  delta: Tensor,
  hook: string,
  objective: Objective = causalLmObjective,
  ctx: ObjectiveContext = { param: (name) => model.params.get(name), step: 0 },
): Tensor {
  const out = run(paramView(model, ctx.param), batch.ids, {
    ...(batch.attentionMask !== undefined && { attentionMask: batch.attentionMask }),
    hooks: { [hook]: (x) => T.add(x, delta) },
  }).output;
  return objective(out, batch, ctx); // []
}

// ——— consistency ———

/**
 * The divergence between the distributions of two rows of log-probabilities, `lp` and `lq` [n, classes] → [n]:
 * "symmetric_kl", Σ (p − q)(log p − log q), or "js", ½ KL(p‖m) + ½ KL(q‖m) with m = (p + q)/2, written as
 * Σ p·f(log q − log p) with f(d) = −log((1 + eᵈ)/2) so that equal rows give exactly 0.
 * @example divergence(T.logSoftmax(a), T.logSoftmax(b), "js") // [n]
 */
export function divergence(lp: Tensor, lq: Tensor, kind: "js" | "symmetric_kl"): Tensor {
  if (lp.shape.join() !== lq.shape.join()) throw new ShapeError(`divergence: [${lp.shape}] and [${lq.shape}] differ`);
  const p = T.exp(lp);
  const q = T.exp(lq);
  if (kind === "symmetric_kl") return T.sum(T.mul(T.sub(p, q), T.sub(lp, lq)), -1); // [n]
  // d is capped at 60 where e^d would overflow f32 (there f(d) ≈ −d + log 2, weighted by p ≤ e⁻⁶⁰·q)
  const f = (d: Tensor) => T.neg(T.log(T.mul(T.add(T.exp(T.neg(T.maximum(T.neg(d), -60))), 1), 0.5))); // [n, classes]
  const kl = (a: Tensor, la: Tensor, lb: Tensor) => T.sum(T.mul(a, f(T.sub(lb, la))), -1); // [n]
  return T.mul(T.add(kl(p, lp, lq), kl(q, lq, lp)), 0.5); // [n]
}

/** A consistency config with its defaults filled in and checked. */
export type ResolvedConsistencyConfig = Required<ConsistencyConfig>;

export function resolveConsistency(c: ConsistencyConfig): ResolvedConsistencyConfig {
  if (!Number.isFinite(c.weight)) bad("consistency.weight", `must be a finite number, got ${c.weight}`);
  const div = c.divergence ?? "js";
  if (div !== "js" && div !== "symmetric_kl")
    bad("consistency.divergence", `must be "js" or "symmetric_kl", got ${JSON.stringify(div)}`);
  const positions = c.positions ?? "last";
  if (
    positions !== "last" &&
    !(Array.isArray(positions) && positions.length > 0 && positions.every((p) => Number.isSafeInteger(p)))
  )
    bad("consistency.positions", `must be "last" or a non-empty list of integers, got ${JSON.stringify(c.positions)}`);
  return { weight: c.weight, divergence: div, positions };
}

/**
 * The mean divergence between `output` (the model's on `batch`) and its output on the batch's counterfactuals
 * (the examples' `counterfactual` ids), run through `param`: class distributions for "classification", next-token
 * distributions at `positions` of each sequence otherwise. A batch without counterfactuals gives 0.
 * @example const c = consistencyValue(model, out, batch, resolveConsistency({ weight: 1 }), "causal_lm", ctx.param) // []
 */
export function consistencyValue(
  model: HookedModel,
  output: Tensor,
  batch: Batch,
  c: ResolvedConsistencyConfig,
  kind: "causal_lm" | "classification",
  param: (name: string) => Tensor = (name) => model.params.get(name),
): Tensor {
  const rows: number[] = [];
  const cfs: Example[] = [];
  batch.examples.forEach((e, b) => {
    const cf = (e as PairedExample).counterfactual;
    if (cf === undefined) return;
    rows.push(b);
    cfs.push({ ids: cf.ids });
  });
  if (rows.length === 0) return T.zeros([], output.dtype); // []
  const cfBatch = collate(cfs, { side: "right" });
  const cfOut = run(paramView(model, param), cfBatch.ids, {
    ...(cfBatch.attentionMask !== undefined && { attentionMask: cfBatch.attentionMask }),
  }).output;
  let a: Tensor;
  let b: Tensor;
  if (kind === "classification") {
    a = T.gather(classificationLogits(output, batch), fromTyped(Int32Array.from(rows), [rows.length], "i32"), 0); // [pairs, classes]
    b = classificationLogits(cfOut, cfBatch); // [pairs, classes]
  } else {
    if (output.rank !== 3)
      throw new ShapeError(`consistency: causal LM output must be [batch, pos, d_vocab], got [${output.shape}]`);
    const [, Tn, V] = output.shape as [number, number, number];
    const Tc = cfBatch.ids.shape[1] as number;
    const pa = realPositions(batch);
    const pb = realPositions(cfBatch);
    const ia: number[] = [];
    const ib: number[] = [];
    const wanted = c.positions === "last" ? [-1] : c.positions;
    rows.forEach((row, j) => {
      for (const p of wanted) {
        const ta = at(pa[row] as number[], p);
        const tb = at(pb[j] as number[], p);
        if (ta === undefined || tb === undefined)
          throw new RangeError(
            `consistency: position ${p} is outside example ${row} (${(pa[row] as number[]).length} tokens) or its counterfactual (${(pb[j] as number[]).length})`,
          );
        ia.push(row * Tn + ta);
        ib.push(j * Tc + tb);
      }
    });
    a = T.gather(T.reshape(output, [batch.size * Tn, V]), fromTyped(Int32Array.from(ia), [ia.length], "i32"), 0); // [pairs × positions, d_vocab]
    b = T.gather(T.reshape(cfOut, [cfBatch.size * Tc, V]), fromTyped(Int32Array.from(ib), [ib.length], "i32"), 0); // [pairs × positions, d_vocab]
  }
  return T.mean(divergence(T.logSoftmax(a), T.logSoftmax(b), c.divergence)); // []
}

// ——— composition ———

export interface RepairOptions {
  /** what the repairs build on: "causal_lm" (default), "classification" (the trainer's objectives), or your own */
  readonly objective?: "causal_lm" | "classification" | Objective;
  /** what consistency compares when `objective` is your own: next-token or class distributions; default "causal_lm" */
  readonly outputs?: "causal_lm" | "classification";
}

/** What `train` needs to apply a RepairConfig: pass `objective` and `runOptions` in its options. */
export interface Repair {
  readonly objective: Objective;
  readonly runOptions: (step: number) => ExtraRunOptions;
  /**
   * Each term's mean over the training micro-batches of the latest step: "loss" (the base objective on the clean
   * input), "adversarial" (on the perturbed one), each attention penalty's unweighted value ("entropy", "mass", with
   * its index when several share a kind), "consistency" (the unweighted divergence).
   */
  terms(): Readonly<Record<string, number>>;
}

/**
 * The objective and run options that train `model` with the repairs of `config` — any combination of attention
 * penalties, adversarial training and consistency — on top of the causal-LM or classification objective.
 * @example const r = repairTraining(model, { adversarial: { method: "pgd", epsilon: 0.05 }, attention: [{ kind: "entropy", weight: -0.01 }] });
 * await train(model, data, { lr: 1e-3, maxSteps: 100 }, { objective: r.objective, runOptions: r.runOptions })
 */
export function repairTraining(model: HookedModel, config: RepairConfig, opts: RepairOptions = {}): Repair {
  const base: Objective =
    typeof opts.objective === "function"
      ? opts.objective
      : opts.objective === "classification"
        ? classificationObjective
        : causalLmObjective;
  const outputs = typeof opts.objective === "string" ? opts.objective : (opts.outputs ?? "causal_lm");
  const penalties = config.attention ?? [];
  if (!Array.isArray(penalties)) bad("attention", "must be a list of penalties");
  const terms = penalties.map((p, i) => attentionTerm(model, p, `attention[${i}]`));
  const names = terms.map((t, i) =>
    terms.filter((u) => u.penalty.kind === t.penalty.kind).length > 1 ? `${t.penalty.kind}${i}` : t.penalty.kind,
  );
  const adv =
    config.adversarial === undefined || config.adversarial === null ? null : resolveAdversarial(model, config.adversarial);
  const cons = config.consistency === undefined || config.consistency === null ? null : resolveConsistency(config.consistency);

  const patterns = new Map<string, Tensor>();
  const record: HookFn = (x, p) => {
    patterns.set(p.name, x);
    return undefined;
  };
  const hooks: Record<string, HookFn> = {};
  for (const t of terms) for (const h of t.hooks) hooks[h] = record;
  const runOptions = (): ExtraRunOptions => (terms.length === 0 ? {} : { hooks });

  let termStep = -1;
  let sums: Record<string, number> = {};
  let calls = 0;
  const objective: Objective = (output, batch, ctx) => {
    const parts: Record<string, Tensor> = {};
    const clean = base(output, batch, ctx); // []
    parts.loss = clean;
    let total = clean;
    if (adv !== null) {
      const { delta } = T.noGrad(() => adversarialPerturbation(model, batch, adv, base, ctx.step));
      const a = adversarialLoss(model, batch, delta, adv.hook, base, ctx); // []
      parts.adversarial = a;
      total = adv.alpha === 0 ? a : T.add(T.mul(clean, adv.alpha), T.mul(a, 1 - adv.alpha)); // []
    }
    terms.forEach((t, i) => {
      const v = t.value(patterns, batch); // []
      parts[names[i] as string] = v;
      total = T.add(total, T.mul(v, t.penalty.weight)); // []
    });
    patterns.clear();
    if (cons !== null) {
      const v = consistencyValue(model, output, batch, cons, outputs, ctx.param); // []
      parts.consistency = v;
      total = T.add(total, T.mul(v, cons.weight)); // []
    }
    // only the differentiated (training) passes count: evaluation runs the objective too, without a tape
    if (output.tape !== null) {
      if (ctx.step !== termStep) {
        termStep = ctx.step;
        sums = {};
        calls = 0;
      }
      calls++;
      for (const [k, v] of Object.entries(parts)) sums[k] = (sums[k] ?? 0) + v.item();
    }
    return total;
  };
  return {
    objective,
    runOptions,
    terms: () => Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / Math.max(1, calls)])),
  };
}
