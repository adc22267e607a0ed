// What the architecture tests (gpt2, llama, gpt-neox, bert) check alike: the hook contract, identity interventions,
// the embedding gradient against finite differences, a PyTorch golden from tools/reference, and the KV-cache and
// padding equivalences. Every tolerance stays in the test: these return the measured differences (or take the bound
// as a parameter) so that each file states, prints and asserts its own.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type ForwardOptions, type HookedModel, KvCache, padBatch, type RunResult, run } from "@llmdbg/core";
import type { SafetensorsReader } from "@llmdbg/formats";
import { parseJsonStrict, readSafetensors } from "@llmdbg/formats";
import { type ModelConfig, normalizeHfConfig } from "@llmdbg/models";
import type { Tensor } from "@llmdbg/tensor";
import * as T from "@llmdbg/tensor";
import { expect } from "vitest";
import type { TinyModelType } from "../tiny.js";
import { type WriteTinyModelOptions, writeTinyModel } from "../tiny-node.js";

/** Writes a tiny checkpoint folder and reads it back the way a user's folder is read: config.json, model.safetensors. */
export function writeAndReadTiny(
  dir: string,
  type: TinyModelType,
  opts: WriteTinyModelOptions,
): { config: ModelConfig; weights: SafetensorsReader } {
  writeTinyModel(dir, type, opts);
  const config = normalizeHfConfig(parseJsonStrict(readFileSync(join(dir, "config.json"), "utf8")), "config.json");
  return { config, weights: readSafetensors(join(dir, "model.safetensors")) };
}

/** `<dir>/<name>.safetensors`, a golden written by a tools/reference/*.py script (packages/models/test/golden/). */
export function readGolden(dir: URL, name: string): SafetensorsReader {
  return readSafetensors(new URL(`${name}.safetensors`, dir).pathname);
}

/** max |a − b| over entries that differ (equal entries include the −inf of masked scores); the shapes must match. */
export function maxDiff(ours: Tensor, ref: Tensor, name: string): number {
  expect(ours.shape, name).toEqual(ref.shape);
  let m = 0;
  for (let i = 0; i < ours.size; i++) {
    const a = ours.data[i] as number;
    const b = ref.data[i] as number;
    if (a !== b) m = Math.max(m, Math.abs(a - b));
  }
  return m;
}

/** max |a − b| / max |b| (infinite where the shapes differ). */
export function relDiff(a: Tensor, b: Tensor): number {
  if (a.shape.join() !== b.shape.join()) return Number.POSITIVE_INFINITY;
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.size; i++) {
    d = Math.max(d, Math.abs((a.data[i] as number) - (b.data[i] as number)));
    m = Math.max(m, Math.abs(b.data[i] as number));
  }
  return d / Math.max(m, 1e-30);
}

/** ‖ours − ref‖₂ / ‖ref‖₂. */
export function relativeError(ours: Tensor, ref: Tensor): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ours.size; i++) {
    num += ((ours.data[i] as number) - (ref.data[i] as number)) ** 2;
    den += (ref.data[i] as number) ** 2;
  }
  return Math.sqrt(num / den);
}

/**
 * Σ log_softmax(out) at `targets`, one target per row of the last axis in order: a token per position (batch 0
 * first) for logits [batch, pos, d_vocab], a class per batch row for [batch, n_labels]. The goldens' loss.
 */
export function targetLogProb(out: Tensor, targets: readonly number[]): Tensor {
  const n = out.shape[out.rank - 1] as number;
  const flat = T.reshape(T.logSoftmax(out), [out.size]); // [batch * (pos *) n]
  return T.sum(
    T.gather(
      flat,
      T.tensor(
        targets.map((t, r) => r * n + t),
        [targets.length],
        "i32",
      ),
    ),
  );
}

/** Runs with every hook cached, requiring each declared hook to fire exactly once with its declared rank. */
export function runFiringEveryHook(model: HookedModel, ids: Tensor): ReturnType<typeof run> {
  const result = run(model, ids, { cache: true });
  for (const p of model.hookPoints) {
    expect(result.ctx.firedCounts().get(p.name), p.name).toBe(1);
    expect(result.cache.get(p.name).rank, p.name).toBe(p.axes.length);
  }
  return result;
}

/** Requires a scale-by-1 intervention at each of `hooks` to leave the output bit-identical to a plain run. */
export function expectIdentityInterventionsExact(model: HookedModel, ids: Tensor, hooks: readonly string[]): void {
  const plain = run(model, ids).output.toArray();
  for (const hook of hooks) {
    const scaled = run(model, ids, { interventions: [{ kind: "scale", hook, factor: 1 }] }).output;
    expect(scaled.toArray(), hook).toEqual(plain);
  }
}

export interface FiniteDifferenceCheck {
  /** the embedding hook whose activation is perturbed */
  readonly hook: string;
  readonly loss: (out: Tensor) => Tensor;
  /** the central-difference step */
  readonly step: number;
  /** each error is relative to max(|numeric derivative|, floor) */
  readonly floor: number;
  /** flat indices into the activation to probe; default 0, 5, 77, 130 and the last */
  readonly indices?: readonly number[];
}

/**
 * The worst relative error of the gradient of `loss` w.r.t. the activation at `hook` (from `run`'s grads) against
 * central differences, patching one element of that activation at a time.
 */
export function embeddingGradFdError(model: HookedModel, ids: Tensor, check: FiniteDifferenceCheck): number {
  const { hook, loss, step, floor } = check;
  const g = run(model, ids, { grads: { hooks: [hook], loss } }).cache.grad(hook);
  const emb = run(model, ids, { cache: [hook] }).cache.get(hook);
  let worst = 0;
  for (const i of check.indices ?? [0, 5, 77, 130, emb.size - 1]) {
    const at = (delta: number) => {
      const values = emb.toArray();
      values[i] = (values[i] as number) + delta;
      const patch = { kind: "patch" as const, hook, values: { shape: [...emb.shape], data: values } };
      return loss(run(model, ids, { interventions: [patch] }).output).item();
    };
    const num = (at(step) - at(-step)) / (2 * step);
    worst = Math.max(worst, Math.abs(num - (g.data[i] as number)) / Math.max(Math.abs(num), floor));
  }
  return worst;
}

/**
 * Bounds on the differences from a golden, each stated by the test from what it measured (with a margin of
 * about 5–10×, so that a real bug — a norm epsilon, a constant, a shifted mask — fails while float32 rounding
 * against the float64 reference passes).
 */
export interface GoldenTolerances {
  /** max |Δ| / max |golden| of each declared hook and of the logits, each judged against its own scale */
  readonly activation: number;
  /** ‖Δgrad‖₂ / ‖golden grad‖₂ at `gradHook` */
  readonly grad: number;
  /** |Δloss| / |golden loss| */
  readonly loss: number;
}

export interface GoldenDiffs {
  /** max |Δ| / max |golden| of the logits and of each hook, by name */
  readonly byName: ReadonlyMap<string, number>;
  /** the largest of those, and whose it is */
  readonly worst: number;
  readonly worstName: string;
  /** relative L2 error of the gradient at `gradHook` */
  readonly gradRelErr: number;
  /** |Δloss| / |golden loss| */
  readonly lossRelErr: number;
}

/** max |x| over a tensor's finite entries (masked scores hold −inf). */
function maxAbsFinite(t: Tensor): number {
  let m = 0;
  for (let i = 0; i < t.size; i++) {
    const v = Math.abs(t.data[i] as number);
    if (Number.isFinite(v) && v > m) m = v;
  }
  return m;
}

/**
 * Compares a run made with `cache: true` and `grads` on `gradHook` against a golden written by tools/reference:
 * every declared hook and the logits (the golden's `<prefix><name>`), the gradient (`<prefix>grad.<gradHook>`)
 * and the loss (`<prefix>loss`), each asserted against `tol` and printed with its measured value (the way llm.c's
 * check_tensor prints), under `label`.
 */
export function compareWithGolden(
  model: HookedModel,
  result: RunResult,
  golden: SafetensorsReader,
  opts: { readonly label: string; readonly gradHook: string; readonly tol: GoldenTolerances; readonly prefix?: string },
): GoldenDiffs {
  const { label, tol } = opts;
  const prefix = opts.prefix ?? "";
  const byName = new Map<string, number>();
  let worstName = "";
  let worst = 0;
  for (const name of [...model.hookPoints.map((p) => p.name), "logits"]) {
    // hook_logits is the model's output, which the goldens store as `logits`
    const stored = name === "hook_logits" ? "logits" : name;
    const ref = golden.load(prefix + stored);
    const d = maxDiff(name === "logits" ? result.output : result.cache.get(name), ref, name) / Math.max(maxAbsFinite(ref), 1e-30);
    byName.set(name, d);
    if (d > worst) [worst, worstName] = [d, name];
  }
  const gradRelErr = relativeError(result.cache.grad(opts.gradHook), golden.load(`${prefix}grad.${opts.gradHook}`));
  if (result.loss === undefined) throw new Error("compareWithGolden: the run had no grads, so no loss");
  const goldenLoss = golden.load(`${prefix}loss`).data[0] as number;
  const lossRelErr = Math.abs(result.loss.item() - goldenLoss) / Math.abs(goldenLoss);
  console.log(
    `${label} vs PyTorch (float64): activations max|Δ|/max|ref| ${worst.toExponential(2)} (${worstName}; tol ${tol.activation}), ` +
      `logits ${(byName.get("logits") as number).toExponential(2)}, grad ${opts.gradHook} rel L2 ${gradRelErr.toExponential(2)} ` +
      `(tol ${tol.grad}), loss rel ${lossRelErr.toExponential(2)} (tol ${tol.loss})`,
  );
  for (const [name, d] of byName) expect(d, `${label}: ${name}`).toBeLessThanOrEqual(tol.activation);
  expect(gradRelErr, `${label}: gradient at ${opts.gradHook}`).toBeLessThanOrEqual(tol.grad);
  expect(lossRelErr, `${label}: loss`).toBeLessThanOrEqual(tol.loss);
  return { byName, worst, worstName, gradRelErr, lossRelErr };
}

/**
 * The golden check on the fused path: a run that observes only `gradHook` (so every norm and attention takes
 * its fused kernel, which the absence of `hook_scale` and `hook_pattern` firings confirms) against the golden's
 * logits, gradient and loss at `tol`, and against the primitive path (every hook cached) at `pathTol`, relative
 * to the logits' scale.
 */
export function compareFusedWithGolden(
  model: HookedModel,
  ids: Tensor,
  golden: SafetensorsReader,
  opts: {
    readonly label: string;
    readonly gradHook: string;
    readonly loss: (out: Tensor) => Tensor;
    readonly tol: GoldenTolerances;
    readonly pathTol: number;
    readonly prefix?: string;
    /** padding, token types, … for both runs */
    readonly forward?: ForwardOptions;
  },
): void {
  const { label, tol, gradHook } = opts;
  const prefix = opts.prefix ?? "";
  const fused = run(model, ids, { ...opts.forward, grads: { hooks: gradHook, loss: opts.loss } });
  const fired = [...fused.ctx.firedCounts().keys()];
  expect(fired.filter((n) => n.endsWith("hook_scale") || n.endsWith("hook_pattern") || n.endsWith("hook_attn_scores"))).toEqual(
    [],
  );
  const ref = golden.load(`${prefix}logits`);
  const logits = maxDiff(fused.output, ref, "logits") / Math.max(maxAbsFinite(ref), 1e-30);
  const grad = relativeError(fused.cache.grad(gradHook), golden.load(`${prefix}grad.${gradHook}`));
  const goldenLoss = golden.load(`${prefix}loss`).data[0] as number;
  const loss = Math.abs((fused.loss as Tensor).item() - goldenLoss) / Math.abs(goldenLoss);
  const primitive = run(model, ids, { ...opts.forward, cache: true }).output;
  const path = maxDiff(fused.output, primitive, "logits") / Math.max(maxAbsFinite(primitive), 1e-30);
  console.log(
    `${label}, fused path: logits vs golden ${logits.toExponential(2)} (tol ${tol.activation}), grad ${grad.toExponential(2)} ` +
      `(tol ${tol.grad}), loss ${loss.toExponential(2)} (tol ${tol.loss}); vs the primitive path ${path.toExponential(2)} (tol ${opts.pathTol})`,
  );
  expect(logits, `${label}: fused logits`).toBeLessThanOrEqual(tol.activation);
  expect(grad, `${label}: fused gradient`).toBeLessThanOrEqual(tol.grad);
  expect(loss, `${label}: fused loss`).toBeLessThanOrEqual(tol.loss);
  expect(path, `${label}: fused vs primitive`).toBeLessThanOrEqual(opts.pathTol);
}

/**
 * Feeds ids[:, 0:split] and then ids[:, split:] through one KvCache (checking its length after each) and returns
 * max |Δlogits| of each call against one full pass; a prefill with `logits: "last"` is judged on its one position.
 */
export function kvCacheDiffs(
  model: HookedModel,
  ids: Tensor,
  split: number,
  prefillLogits: "all" | "last" = "all",
): { prefill: number; step: number } {
  const n = ids.shape[1] as number;
  const full = run(model, ids).output; // [1, pos, d_vocab]
  const kvCache = new KvCache();
  const first = run(model, T.narrow(ids, 1, 0, split), { kvCache, logits: prefillLogits }).output; // [1, split or 1, d_vocab]
  expect(kvCache.length).toBe(split);
  const second = run(model, T.narrow(ids, 1, split, n - split), { kvCache }).output; // [1, n − split, d_vocab]
  expect(kvCache.length).toBe(n);
  const firstRef = prefillLogits === "last" ? T.narrow(full, 1, split - 1, 1) : T.narrow(full, 1, 0, split);
  const diffs = {
    prefill: maxDiff(first, firstRef, "prefill"),
    step: maxDiff(second, T.narrow(full, 1, split, n - split), "step"),
  };
  kvCache.dispose();
  return diffs;
}

/**
 * Runs `prompts` as one batch padded on `side` (with its attention mask) and each prompt alone; returns the worst
 * max |Δ| between a prompt alone and its batch row: the real positions of a [batch, pos, …] output, or the whole
 * row of a pooled [batch, n_labels] one.
 */
export function paddedBatchDiff(
  model: HookedModel,
  prompts: readonly (readonly number[])[],
  side: "left" | "right",
  padId: number,
): number {
  const { ids, attentionMask } = padBatch(prompts, { padId, side });
  const out = run(model, ids, { attentionMask }).output; // [batch, len, …] or [batch, n_labels]
  const len = ids.shape[1] as number;
  let worst = 0;
  prompts.forEach((p, b) => {
    const alone = run(model, T.tensor(p, [1, p.length], "i32")).output; // [1, n, …] or [1, n_labels]
    const row = T.narrow(out, 0, b, 1);
    const real = out.rank === 2 ? row : T.narrow(row, 1, side === "left" ? len - p.length : 0, p.length);
    worst = Math.max(worst, maxDiff(real, alone, `prompt ${b}`));
  });
  return worst;
}

/** Prints `label: measured (tol)` and asserts measured ≤ tol: every parity bound in these tests shows its margin. */
export function expectWithin(label: string, measured: number, tol: number): void {
  console.log(`${label}: ${measured.toExponential(2)} (tol ${tol.toExponential(0)})`);
  expect(measured, label).toBeLessThanOrEqual(tol);
}
