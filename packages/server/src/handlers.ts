// What the server computes, as plain functions of a loaded model and a protocol request: `run` (one forward pass
// with the top-k predictions at every position, the JSON of `llmdbg run --json`), `generate` (a continuation,
// token by token) and `method` (any method of @llmdbg/methods by its request's `kind`). The worker threads call
// them; the CLI calls `runPredictions` too, so the two cannot drift apart.
import { basename } from "node:path";
import { type GenerateOptions, generateStream, headAxis, positionAxis, resolveLayer, run, topK } from "@llmdbg/core";
import {
  ablate,
  activationPatching,
  adversarialAttack,
  attentionAnalysis,
  attentionHead,
  attentionOverview,
  counterfactuals,
  directLogitAttribution,
  generationAttribution,
  gradientAttribution,
  inputIds,
  logitLens,
  type MethodOptions,
  MethodRequestError,
  neuronActivations,
  perturbationAttribution,
  probe,
  projection,
  projectionProbe,
  romeEdit,
  steer,
  trainTunedLens,
} from "@llmdbg/methods";
import { generationOptions, type LoadedModel } from "@llmdbg/models";
import type {
  Axis,
  GenerateParams,
  GenerateResult,
  Intervention,
  MethodParams,
  MethodRequest,
  MethodResult,
  ModelInfo,
  RpcErrorCode,
  RpcPartial,
  RunPrediction,
  RunResult,
} from "@llmdbg/protocol";
import * as T from "@llmdbg/tensor";
import { tokenDisplay } from "@llmdbg/tokenizers";
import { type PredictJob, predictHandler } from "./predict.js";
import type { PatternShelves } from "./shelf.js";

/** Progress, cancellation and streamed pieces of one job. */
export interface JobContext extends MethodOptions {
  /** the worker thread's kept attention patterns (shelf.ts), for the attention view's requests */
  readonly patterns?: PatternShelves;
  readonly onPartial?: (p: RpcPartial) => void;
}

/** A request the handlers refuse (not a bug): it becomes an `invalid_params` error reply. */
export class ParamsError extends Error {
  override name = "ParamsError";
}

/** The error message of a job stopped at its time budget. */
export const overBudget = (ms: number) => `the job ran past its time budget (${ms / 1000} s; the server's limits set it)`;

/** The error message of a job stopped at its memory budget. */
export const overMemory = (mib: number) =>
  `the job used more memory than its budget (${mib} MiB beyond the loaded model; the server's limits set it)`;

/** Why a job was stopped: the reason its AbortSignal carries. */
export class JobStop extends Error {
  constructor(
    readonly code: "cancelled" | "timeout" | "memory",
    /** the time budget (ms) of a timeout, the memory budget (MiB) of a memory stop */
    budget = 0,
  ) {
    super(code === "cancelled" ? "cancelled" : code === "timeout" ? overBudget(budget) : overMemory(budget));
  }
}

/** The error code a job's failure is reported with. */
export function failureCode(e: unknown): RpcErrorCode {
  if (e instanceof JobStop) return e.code;
  return e instanceof ParamsError || e instanceof MethodRequestError ? "invalid_params" : "failed";
}

/** The jobs a lane runs. */
export type JobMethod = "run" | "generate" | "method" | "predict";

/** Runs one job on a loaded model (in a worker thread, or in-process for a model handed over loaded). */
export async function executeJob(
  m: LoadedModel,
  id: string,
  method: JobMethod,
  params: unknown,
  ctx: JobContext,
): Promise<unknown> {
  if (method === "run") return runHandler(m, id, params as Parameters<typeof runHandler>[2]);
  if (method === "generate") return generateHandler(m, id, params as Parameters<typeof generateHandler>[2], ctx);
  if (method === "predict") return predictHandler(m, id, params as PredictJob, ctx);
  return methodHandler(m, params as MethodParams, ctx);
}

/** What `models.list` says about a model: no filesystem path (the config's `source.file` is dropped). */
export function modelInfo(id: string, m: LoadedModel): ModelInfo {
  const { source, ...rest } = m.config;
  const { file: _file, ...where } = source;
  return {
    id,
    name: basename(m.path),
    family: m.config.family,
    format: m.format,
    nLayers: m.config.nLayers,
    nHeads: m.config.nHeads,
    dModel: m.config.dModel,
    vocabSize: m.config.vocabSize,
    maxPositions: m.config.maxPositions,
    labels: m.config.classifier?.labels ?? null,
    hasTokenizer: m.tokenizer !== undefined,
    config: { ...rest, source: where },
  };
}

/** Whether the tokenizer names `id` (a padding row of the embedding has no token). */
function named(m: LoadedModel, id: number): boolean {
  return m.tokenizer?.idToToken(id) !== undefined;
}

function strings(m: LoadedModel, id: number): Pick<RunPrediction, "token" | "text" | "display"> {
  const labels = m.config.classifier?.labels;
  if (labels !== undefined) return { token: labels[id] ?? null, text: labels[id] ?? null, display: labels[id] ?? null };
  const tok = m.tokenizer;
  if (tok === undefined || !named(m, id)) return { token: null, text: null, display: null };
  return { token: tok.idToToken(id) ?? null, text: tok.decode([id]), display: tokenDisplay(tok, id) };
}

/**
 * One forward pass over `ids` and the top `k` predictions at every position (one row for a classifier): the
 * `tokens`, `tokenStrings`, `tokenDisplays` and `positions` of `llmdbg run --json`.
 * @example const r = runPredictions(m, [3, 17, 42], 5); r.positions[2].top[0].id
 */
export function runPredictions(
  m: LoadedModel,
  ids: readonly number[],
  k: number,
  interventions: readonly Intervention[] = [],
): Omit<RunResult, "kind" | "model"> {
  const x = T.tensor([...ids], [1, ids.length], "i32"); // [batch, pos]
  const { output } = T.noGrad(() => run(m.model, x, { interventions }));
  return predictionsOf(m, ids, output, k);
}

/**
 * The top `k` predictions at every row of a forward pass's output (`llmdbg run` computes the pass itself, with
 * its cache), and the input tokens' strings.
 */
export function predictionsOf(
  m: LoadedModel,
  ids: readonly number[],
  output: T.Tensor,
  k: number,
): Omit<RunResult, "kind" | "model"> {
  const width = output.shape[output.rank - 1] as number;
  const rows = output.size / width;
  const data = output.data as Float32Array;
  const positions = Array.from({ length: rows }, (_, p) => {
    const row = data.subarray(p * width, (p + 1) * width);
    const top = topK(row, Math.min(k, width)).map((t) => ({ id: t.id, ...strings(m, t.id), logit: t.logit, prob: t.prob }));
    return { position: p, top };
  });
  return {
    tokens: [...ids],
    tokenStrings: ids.map((id) => (named(m, id) ? (m.tokenizer?.idToToken(id) ?? null) : null)),
    tokenDisplays: ids.map((id) => (m.tokenizer !== undefined && named(m, id) ? tokenDisplay(m.tokenizer, id) : null)),
    positions,
  };
}

/** The request's ids, checked against the model's positions too. */
function idsOf(m: LoadedModel, input: unknown): number[] {
  if (typeof input !== "object" || input === null || !("text" in input || "ids" in input))
    throw new ParamsError("input: expected { text } or { ids }");
  const ids = inputIds(m.model, input as { text: string } | { ids: number[] });
  if (ids.length > m.config.maxPositions)
    throw new ParamsError(`input: ${ids.length} tokens; the model supports at most ${m.config.maxPositions} positions`);
  return ids;
}

function intParam(v: unknown, field: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
    throw new ParamsError(`${field}: expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return v;
}

function numParam(v: unknown, field: string, ok: (n: number) => boolean, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || !ok(v)) throw new ParamsError(`${field}: expected ${what}`);
  return v;
}

/** The most predictions per position a `run` returns. */
const MAX_TOP_K = 100;

export function runHandler(
  m: LoadedModel,
  id: string,
  params: { input?: unknown; topK?: unknown; interventions?: unknown },
): RunResult {
  const ids = idsOf(m, params.input);
  const k = intParam(params.topK, "topK", 1, MAX_TOP_K) ?? 5;
  const ivs = interventionsOf(m, params.interventions, ids.length);
  try {
    return { kind: "run", model: id, ...runPredictions(m, ids, k, ivs) };
  } catch (e) {
    // a vector or patch of the wrong shape surfaces while applying: still the request's fault
    if (ivs.length > 0 && e instanceof T.ShapeError) throw new ParamsError(`interventions: ${e.message}`);
    throw e;
  }
}

const INTERVENTION_KINDS: { readonly [K in Intervention["kind"]]: true } = {
  zero: true,
  scale: true,
  add: true,
  patch: true,
  meanAblate: true,
};

function indexList(v: unknown, field: string, n: number, axis: string): void {
  if (v === undefined) return;
  if (!Array.isArray(v)) throw new ParamsError(`${field}: expected an array of ${axis} indices`);
  v.forEach((i, j) => {
    if (typeof i !== "number" || !Number.isInteger(i) || i < -n || i >= n)
      throw new ParamsError(`${field}[${j}]: ${JSON.stringify(i)} is out of range: the ${axis} axis has ${n} entries`);
  });
}

/**
 * A `run`'s interventions, checked against the model before the pass: known kinds, hook points the model declares
 * (negative layers allowed), head, position and neuron indices in range, and each kind's own fields.
 */
function interventionsOf(m: LoadedModel, v: unknown, nPos: number): Intervention[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new ParamsError("interventions: expected an array");
  const points = new Map(m.model.hookPoints.map((p) => [p.name, p]));
  return v.map((iv: unknown, i) => {
    const at = `interventions[${i}]`;
    if (typeof iv !== "object" || iv === null) throw new ParamsError(`${at}: expected an object`);
    const o = iv as Record<string, unknown>;
    if (typeof o.kind !== "string" || !Object.hasOwn(INTERVENTION_KINDS, o.kind))
      throw new ParamsError(`${at}.kind: expected one of ${Object.keys(INTERVENTION_KINDS).join(", ")}`);
    if (typeof o.hook !== "string") throw new ParamsError(`${at}.hook: expected a hook point name`);
    let name: string;
    try {
      name = resolveLayer(o.hook, m.config.nLayers);
    } catch (e) {
      throw new ParamsError(`${at}.hook: ${(e as Error).message}`);
    }
    const p = points.get(name);
    if (p === undefined) throw new ParamsError(`${at}.hook: the model has no hook point "${o.hook}"`);
    if (o.heads !== undefined) {
      const axis = headAxis(p);
      if (axis < 0) throw new ParamsError(`${at}.heads: ${p.name} has no head axis (axes ${p.axes.join(", ")})`);
      const axisName = p.axes[axis] as Axis;
      const size = m.model.axisSizes[axisName];
      if (size !== undefined) indexList(o.heads, `${at}.heads`, size, axisName);
    }
    if (o.positions !== undefined) {
      if (positionAxis(p) < 0) throw new ParamsError(`${at}.positions: ${p.name} has no position axis`);
      indexList(o.positions, `${at}.positions`, nPos, "position");
    }
    if (o.neurons !== undefined) {
      const last = p.axes[p.axes.length - 1] as Axis;
      const size = m.model.axisSizes[last];
      if (size !== undefined) indexList(o.neurons, `${at}.neurons`, size, last);
      else if (!Array.isArray(o.neurons)) throw new ParamsError(`${at}.neurons: expected an array of indices`);
    }
    if (o.kind === "scale" && (typeof o.factor !== "number" || !Number.isFinite(o.factor)))
      throw new ParamsError(`${at}.factor: expected a finite number`);
    if (o.kind === "add") {
      if (!Array.isArray(o.vector) || !o.vector.every((x) => typeof x === "number" && Number.isFinite(x)))
        throw new ParamsError(`${at}.vector: expected an array of finite numbers`);
      if (o.coeff !== undefined && (typeof o.coeff !== "number" || !Number.isFinite(o.coeff)))
        throw new ParamsError(`${at}.coeff: expected a finite number`);
    }
    return iv as Intervention;
  });
}

/** transformers' GenerationConfig default is max_length 20; a count of new tokens reads better (as the CLI). */
const DEFAULT_MAX_NEW = 32;

/** Streams each token through `ctx.onPartial`; stops between tokens when `ctx.signal` is aborted. */
export function generateHandler(m: LoadedModel, id: string, params: Partial<GenerateParams>, ctx: JobContext): GenerateResult {
  const prompt = idsOf(m, params.input);
  const room = m.config.maxPositions - prompt.length;
  const maxNew = intParam(params.maxNewTokens, "maxNewTokens", 0, 1 << 20) ?? m.generation.maxNewTokens ?? DEFAULT_MAX_NEW;
  const temperature = numParam(params.temperature, "temperature", (n) => n >= 0, "a number >= 0");
  const topKs = intParam(params.topK, "topK", 0, 1 << 24);
  const topP = numParam(params.topP, "topP", (n) => n > 0 && n <= 1, "a number in (0, 1]");
  const seed = intParam(params.seed, "seed", 0, 2 ** 32 - 1) ?? 0;
  const opts: GenerateOptions = generationOptions(m.generation, {
    maxNewTokens: Math.max(0, Math.min(maxNew, room)),
    seed,
    ...(temperature !== undefined && { temperature }),
    ...(topKs !== undefined && { topK: topKs }),
    ...(topP !== undefined && { topP }),
  });
  const tok = m.tokenizer;
  const decode = (ids: readonly number[]) => (tok === undefined ? null : tok.decode([...ids], { skipSpecialTokens: true }));
  const it = generateStream(m.model, [prompt], opts);
  const ids: number[] = [];
  let sent = 0;
  let r = it.next();
  for (; !r.done; r = it.next()) {
    if (ctx.signal?.aborted) throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error("cancelled");
    const t = r.value.tokens[0];
    if (t === null || t === undefined) continue;
    ids.push(t);
    // the decoded text so far, released up to a character still split over byte tokens (as `llmdbg generate`)
    const text = decode(ids);
    let delta: string | null = null;
    if (text !== null) {
      delta = text.endsWith("\uFFFD") ? "" : text.slice(sent);
      if (!text.endsWith("\uFFFD")) sent = Math.max(sent, text.length);
    }
    ctx.onPartial?.({ kind: "token", index: ids.length - 1, id: t, text: delta });
    ctx.onProgress?.({ done: ids.length, total: opts.maxNewTokens, what: "tokens" });
  }
  return {
    kind: "generate",
    model: id,
    promptTokens: prompt,
    newTokens: ids,
    text: decode(ids),
    finishReason: r.value.finishReasons[0] ?? "length",
  };
}

type Req<K extends MethodRequest["kind"]> = Extract<MethodRequest, { kind: K }>;
type Runner<K extends MethodRequest["kind"]> = (
  m: LoadedModel,
  req: Req<K>,
  ctx: JobContext,
  params: MethodParams,
) => MethodResult | Promise<MethodResult>;

/** Every method request kind and the function that answers it: a kind without one does not compile. */
const methods: { readonly [K in MethodRequest["kind"]]: Runner<K> } = {
  lens: (m, req, ctx) => logitLens(m.model, req, ctx),
  tuned_lens: (m, req, ctx) => trainTunedLens(m.model, req, ctx).result,
  dla: (m, req, ctx) => directLogitAttribution(m.model, req, ctx),
  attribution: (m, req, ctx) => gradientAttribution(m.model, req, ctx),
  generation_attribution: (m, req, ctx) => generationAttribution(m.model, req, ctx),
  perturbation: (m, req, ctx) => perturbationAttribution(m.model, req, ctx),
  patch: (m, req, ctx) => activationPatching(m.model, req, ctx),
  ablate: (m, req, ctx) => ablate(m.model, req, ctx),
  probe: (m, req, ctx) => probe(m.model, req, ctx),
  projection: (m, req, ctx) => projection(m.model, req, ctx),
  projection_probe: (m, req, ctx) => projectionProbe(m.model, req, ctx),
  steer: (m, req, ctx) => steer(m.model, req, ctx),
  rome: (m, req, ctx) => romeEdit(m.model, req, ctx),
  attention: (m, req, ctx) => attentionAnalysis(m.model, req, ctx),
  attention_overview: (m, req, ctx, params) => attentionOverview(m.model, req, { ...ctx, shelf: ctx.patterns?.of(params.model) }),
  attention_head: (m, req, ctx, params) => attentionHead(m.model, req, { ...ctx, shelf: ctx.patterns?.of(params.model) }),
  counterfactual: (m, req, ctx) => counterfactuals(m.model, req, ctx),
  adversarial: (m, req, ctx) => adversarialAttack(m.model, req, ctx),
  neurons: (m, req, ctx, params) => {
    const corpus = params.corpus;
    if (!Array.isArray(corpus) || corpus.some((t) => typeof t !== "string"))
      throw new ParamsError("corpus: a neurons request needs the texts, an array of strings");
    return neuronActivations(m.model, req, corpus, {
      ...(ctx.signal !== undefined && { signal: ctx.signal }),
      ...(ctx.onProgress !== undefined && { onProgress: ctx.onProgress }),
    });
  },
};

/**
 * The request fields that size a method's work or its allocations (steps, samples, batch, beam width, …). A
 * JavaScript array too large to allocate at once ends the process, not the job, whatever the thread's heap limit,
 * so these are range-checked before anything runs.
 */
const COUNT_FIELDS = new Set([
  "batch",
  "batchTokens",
  "beamWidth",
  "bins",
  "candidates",
  "k",
  "maxFlips",
  "maxLength",
  "maxNewTokens",
  "maxTexts",
  "maxTokens",
  "repeatLength",
  "sample",
  "samples",
  "steps",
  "stride",
  "suffixLength",
  "topK",
  "window",
]);

/** The path of the first count field of `value` above `max` (e.g. `request.steps`), or undefined. */
export function oversizedCount(value: unknown, max: number, at = "request"): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  for (const [key, v] of Object.entries(value)) {
    const here = Array.isArray(value) ? `${at}[${key}]` : `${at}.${key}`;
    if (typeof v === "number" && COUNT_FIELDS.has(key) && !(Math.abs(v) <= max)) return here;
    const inner = oversizedCount(v, max, here);
    if (inner !== undefined) return inner;
  }
  return undefined;
}

/** Whether `kind` names a method request. */
export function isMethodKind(kind: unknown): kind is MethodRequest["kind"] {
  return typeof kind === "string" && Object.hasOwn(methods, kind);
}

/** Runs the method the request's `kind` names. A MethodRequestError (a bad field) is the caller's mistake. */
export async function methodHandler(m: LoadedModel, params: MethodParams, ctx: JobContext): Promise<MethodResult> {
  const req = params.request as MethodRequest | undefined;
  if (typeof req !== "object" || req === null || !isMethodKind(req.kind))
    throw new ParamsError(`request.kind: expected one of ${Object.keys(methods).join(", ")}`);
  const runner = methods[req.kind] as Runner<typeof req.kind>;
  try {
    return await runner(m, req, ctx, params);
  } catch (e) {
    if (e instanceof MethodRequestError) throw new ParamsError(`request.${e.message}`);
    throw e;
  }
}
