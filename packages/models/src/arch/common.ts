// The pieces every architecture file shares, each with TransformerLens's hook semantics: checkpoint access
// with shape checks, hooked LayerNorm/RMSNorm, rotary angles (with every scaling ModelConfig knows), and
// hooked attention over the KV cache with grouped-query heads and the padding/causal/sliding-window bias.
// They branch on ModelConfig fields only, never on a model's name.
import {
  type AttentionWeights,
  type AxisSizes,
  attentionBias,
  type ForwardContext,
  type ForwardOptions,
  type ForwardPlan,
  type MlpWeights,
  ParamStore,
  type TransformerModel,
} from "@llmdbg/core";
import { ModelFormatError } from "@llmdbg/formats";
import type { HookPoint } from "@llmdbg/protocol";
import type { Tensor } from "@llmdbg/tensor";
import * as T from "@llmdbg/tensor";
import { type Activation, configKey, type ModelConfig, type PositionalEncoding } from "../config.js";

/** Where weights come from: a safetensors or GGUF reader, or tensors in memory (`memoryWeights`). */
export interface WeightSource {
  has(key: string): boolean;
  load(key: string): Tensor;
  /** Every tensor the checkpoint stores, by its stored name: `buildModel` refuses a checkpoint it does not read whole. */
  keys(): readonly string[];
  /** The stored name `load(key)` reads, where the source renames (GGUF); the key itself when absent. */
  storedName?(key: string): string;
}

/**
 * Tensors in memory as a weight source, named as a checkpoint would name them.
 * @example const model = buildModel(config, memoryWeights({ "wte.weight": wte, ... }), "in memory")
 */
export function memoryWeights(tensors: Readonly<Record<string, Tensor>>): WeightSource {
  return {
    has: (k) => Object.hasOwn(tensors, k),
    load(k) {
      if (!Object.hasOwn(tensors, k)) throw new Error(`no tensor named ${JSON.stringify(k)}`);
      return tensors[k] as Tensor;
    },
    keys: () => Object.keys(tensors),
  };
}

export interface Checkpoint {
  /** The tensor `key` as f32, checked against `shape` (given as [in, out] for 2-D linear weights). */
  get(key: string, shape: readonly number[]): Tensor;
  /** Like get, or undefined when the checkpoint has no such tensor. */
  maybe(key: string, shape: readonly number[]): Tensor | undefined;
  /** A lookup table (embeddings) [rows, cols]: stored that way in every layout, never transposed. */
  table(key: string, rows: number, cols: number): Tensor;
  /** A 2-D weight stored [out, in]: matmul with transB. */
  readonly transB: boolean;
}

/**
 * Checkpoint access by Hugging Face state-dict name. `prefixes` are tried in order (`save_pretrained`
 * writes `transformer.` / `model.` / `gpt_neox.`; bare names come from other exporters). 2-D shapes are
 * given [in, out] and checked in the checkpoint's `weightLayout`.
 */
export function checkpoint(config: ModelConfig, weights: WeightSource, file: string, prefixes: readonly string[]): Checkpoint {
  const transB = config.weightLayout === "out_in";
  const resolve = (key: string): string | undefined => prefixes.map((p) => p + key).find((k) => weights.has(k));
  const read = (key: string, shape: readonly number[], asStored = false): Tensor | undefined => {
    const k = resolve(key);
    if (k === undefined) return undefined;
    const t = weights.load(k);
    const want = transB && shape.length === 2 && !asStored ? [shape[1] as number, shape[0] as number] : shape;
    if (t.shape.join() !== want.join()) {
      throw new ModelFormatError(file, k, `expected shape [${want.join(",")}], got [${t.shape.join(",")}]`);
    }
    // a parameter is a float: an integer or boolean tensor of the right shape is a mislabelled or foreign
    // file, and casting its values would run a model that is not the one stored
    if (t.dtype !== "f32" && t.dtype !== "f64") {
      throw new ModelFormatError(file, k, `expected a floating-point tensor (F32, F16, BF16 or F64), got ${t.dtype}`);
    }
    const w = t.dtype === "f32" ? t : T.cast(t, "f32");
    // matrices (linear weights, embedding tables) stay inside the ort worker once a matmul has used them, so
    // decoding sends only activations; vectors (biases, norms) feed main-thread kernels and stay here
    return w.rank === 2 ? T.pin(w) : w;
  };
  const must = (key: string, shape: readonly number[], asStored = false): Tensor => {
    const t = read(key, shape, asStored);
    if (t === undefined) {
      const tried = prefixes.map((p) => p + key).join(", ");
      throw new ModelFormatError(file, key, `missing tensor (looked for ${tried})`);
    }
    return t;
  };
  return {
    transB,
    maybe: (key, shape) => read(key, shape),
    get: (key, shape) => must(key, shape),
    table: (key, rows, cols) => must(key, [rows, cols], true),
  };
}

/** The axes of the hook points every architecture declares alike. */
export const AXES = {
  resid: ["batch", "pos", "d_model"],
  /** a norm's sqrt(var + eps) per position */
  scale: ["batch", "pos", "one"],
  perHead: ["batch", "pos", "head", "d_head"],
  /** TransformerLens keeps grouped keys and values unrepeated: one entry per key/value head */
  perKvHead: ["batch", "pos", "kv_head", "d_head"],
  scores: ["batch", "head", "query_pos", "key_pos"],
  mlp: ["batch", "pos", "d_mlp"],
  logits: ["batch", "pos", "d_vocab"],
} as const;

/** A model built by one of the architecture files: the core accessors, and the config it was built from. */
export interface LoadedArchitecture extends TransformerModel {
  readonly config: ModelConfig;
}

/** The axis sizes a config fixes (the input fixes batch and positions). */
export function axisSizesOf(config: ModelConfig): AxisSizes {
  const { dModel, nHeads, nKvHeads, dHead, dMlp, vocabSize, classifier } = config;
  return {
    d_model: dModel,
    head: nHeads,
    kv_head: nKvHeads,
    d_head: dHead,
    d_mlp: dMlp,
    d_vocab: vocabSize,
    ...(classifier !== null && { label: classifier.labels.length }),
  };
}

/**
 * A model object from an architecture's parts. The TransformerLens accessors become getters that compute from
 * the parameters each time they are read (so they follow every edit); `attn` and `mlp` take negative layers.
 */
export function assembleModel<Extra extends object = object>(parts: {
  readonly config: ModelConfig;
  readonly hookPoints: readonly HookPoint[];
  readonly params: ParamStore;
  readonly forward: (ids: Tensor, ctx: ForwardContext, opts?: ForwardOptions) => Tensor;
  readonly unembed: (resid: Tensor) => Tensor;
  readonly weights: {
    readonly W_E: () => Tensor;
    readonly W_pos: () => Tensor | null;
    readonly W_U: () => Tensor;
    readonly b_U: () => Tensor;
    readonly attn: (layer: number) => AttentionWeights;
    /** null for a block without an MLP (attention-only) */
    readonly mlp: (layer: number) => MlpWeights | null;
    /** the parameter keys of block `layer`'s attention and MLP output weights (null: no MLP) */
    readonly outputKeys: (layer: number) => { readonly attn: string; readonly mlp: string | null };
  };
  readonly extra?: Extra;
}): LoadedArchitecture & Extra {
  const { config, weights: w } = parts;
  const n = config.nLayers;
  return {
    ...(parts.extra as Extra),
    config,
    nLayers: n,
    hookPoints: parts.hookPoints,
    params: parts.params,
    axisSizes: axisSizesOf(config),
    forward: parts.forward,
    unembed: parts.unembed,
    get W_E() {
      return w.W_E();
    },
    get W_pos() {
      return w.W_pos();
    },
    get W_U() {
      return w.W_U();
    },
    get b_U() {
      return w.b_U();
    },
    attn: (layer) => w.attn(blockIndex(layer, n)),
    outputParams: (layer) => {
      const keys = w.outputKeys(blockIndex(layer, n));
      const layout = config.weightLayout;
      return { attn: { param: keys.attn, layout }, mlp: keys.mlp === null ? null : { param: keys.mlp, layout } };
    },
    mlp: (layer) => w.mlp(blockIndex(layer, n)),
  };
}

/**
 * The rotary inverse frequencies [rotaryDim/2] of a rotary config; where llama.cpp stores the scaling as a tensor
 * (`rope_freqs.weight`, a buffer of the checkpoint, not a parameter) it is read here.
 */
export function rotaryFrequencies(
  config: ModelConfig,
  weights: WeightSource,
  file: string,
  prefixes: readonly string[],
): Float64Array {
  const pos = rotaryOf(config);
  const factors =
    pos.scaling.kind === "freqFactors"
      ? checkpoint(config, weights, file, prefixes).get(pos.scaling.tensor, [pos.rotaryDim / 2])
      : undefined;
  return inverseFrequencies(pos, factors); // [rotaryDim/2]
}

/** How a parameter is stored: a linear weight (given [in, out], stored per `weightLayout`), a table, or a vector. */
export type ParamKind = "linear" | "table" | "vector";

/**
 * Makes one leaf of an architecture's parameter tree from its checkpoint key (without prefix), shape and kind.
 * Each architecture writes its tree once, generic in the leaf, and uses it three ways: with a loading leaf to
 * fill the ParamStore, with `ctx.param` to get this run's tensors, and with the store to compute the
 * TransformerLens accessors.
 */
export type Leaf<L> = (key: string, shape: readonly number[], kind: ParamKind) => L;

/**
 * Loads every parameter a tree names from the checkpoint (converted to f32, shapes checked, 2-D weights pinned)
 * into a ParamStore keyed by checkpoint keys without prefix. `alias(key)` may name a key the checkpoint uses
 * instead (BERT's TensorFlow gamma/beta); the parameter keeps the canonical name. A key the tree names twice
 * (a tied embedding) is loaded once.
 */
export function loadParams(
  config: ModelConfig,
  weights: WeightSource,
  file: string,
  prefixes: readonly string[],
  tree: (leaf: Leaf<string>) => unknown,
  alias?: (key: string) => string | undefined,
): ParamStore {
  // every layer stores its own weights: a layer count beyond the stored tensors is refused before `tree` walks
  // that many layers (2^32 of them is an invalid array length, 10^9 a hang)
  const stored = weights.keys().length;
  if (config.nLayers > stored) {
    throw new ModelFormatError(
      config.source.file,
      configKey(config, "nLayers"),
      `${config.nLayers} layers, but the checkpoint stores only ${stored} tensors (each layer has its own weights)`,
    );
  }
  const ck = checkpoint(config, weights, file, prefixes);
  const loaded = new Map<string, Tensor>();
  tree((key, shape, kind) => {
    if (loaded.has(key)) return key;
    const other = alias?.(key);
    const fromAlias = other === undefined ? undefined : kind === "table" ? undefined : ck.maybe(other, shape);
    const t = fromAlias ?? (kind === "table" ? ck.table(key, shape[0] as number, shape[1] as number) : ck.get(key, shape));
    loaded.set(key, t);
    return key;
  });
  return new ParamStore(loaded);
}

/** A context that reads the stored parameters and hooks nothing: for `unembed` and the weight accessors. */
export function directContext(params: ParamStore): ForwardContext {
  return { hook: (_name, x) => x, param: (name) => params.get(name), observed: () => false };
}

/** A linear weight as [in, out] whatever the checkpoint's layout. */
export function inOut(w: Tensor, transB: boolean): Tensor {
  return transB ? T.permute(w, [1, 0]) : w; // [in, out]
}

/** [d_model, heads·d_head] → [heads, d_model, d_head] (W_Q, W_K, W_V). */
export function headsIn(w: Tensor, heads: number, dHead: number): Tensor {
  const D = w.shape[0] as number;
  return T.permute(T.reshape(w, [D, heads, dHead]), [1, 0, 2]); // [head, d_model, d_head]
}

/** [heads·d_head, d_model] → [heads, d_head, d_model] (W_O). */
export function headsOut(w: Tensor, heads: number, dHead: number): Tensor {
  return T.reshape(w, [heads, dHead, w.shape[1] as number]); // [head, d_head, d_model]
}

/** A bias, or zeros of `shape` where the model has none (TransformerLens's convention). */
export function biasOr(b: Tensor | undefined, shape: readonly number[]): Tensor {
  return b === undefined ? T.zeros(shape) : T.reshape(b, shape);
}

/** `layer` with negative values counted from the end; out of range is an error. */
export function blockIndex(layer: number, nLayers: number): number {
  if (!Number.isInteger(layer) || layer < -nLayers || layer >= nLayers)
    throw new RangeError(`layer ${layer} out of range [-${nLayers}, ${nLayers})`);
  return layer < 0 ? nLayers + layer : layer;
}

/**
 * What an architecture does with each ModelConfig field: `"read"` (it honours every valid value) or a check that
 * returns why a value is refused (null when it is fine). The type is exhaustive over ModelConfig, so a new
 * config field fails to compile until every architecture says whether it honours or refuses it — an
 * architecture can never run a config it silently ignores.
 */
export type ConfigSupport = {
  readonly [K in keyof ModelConfig]-?: "read" | ((value: ModelConfig[K], config: ModelConfig) => string | null);
};

/** `value === want`, else the refusal `why`. */
export const must =
  (want: string | number | boolean | null, why: string) =>
  (value: unknown): string | null =>
    value === want ? null : `${why} (got ${JSON.stringify(value)})`;

/**
 * Refuses, before any weight is read, a config this architecture does not compute: a ModelFormatError naming the
 * config file and the field.
 */
export function checkConfig(arch: string, config: ModelConfig, support: ConfigSupport): void {
  for (const key of Object.keys(support) as (keyof ModelConfig)[]) {
    const rule = support[key];
    if (rule === "read") continue;
    const why = (rule as (v: unknown, c: ModelConfig) => string | null)(config[key], config);
    if (why !== null) throw new ModelFormatError(config.source.file, configKey(config, key), `${arch} (${key}): ${why}`);
  }
}

/** The rotary settings of a config that checkConfig already required to be rotary. */
export function rotaryOf(config: ModelConfig): Extract<PositionalEncoding, { kind: "rotary" }> {
  const p = config.positional;
  if (p.kind !== "rotary") throw new Error(`unreachable: ${config.family} needs rotary positions, which checkConfig requires`);
  return p;
}

/** The MLP nonlinearity of each `config.activation`; a new Activation without an entry fails to compile. */
export const activations: { readonly [A in Activation]: (x: Tensor) => Tensor } = {
  gelu_tanh: (x) => T.gelu(x, "tanh"),
  gelu_erf: (x) => T.gelu(x, "none"),
  silu: (x) => T.silu(x),
  relu: (x) => T.maximum(x, 0),
};

/** x [..., in] @ w (+ b) [..., out], with w in the checkpoint's layout. */
export function linear(x: Tensor, w: Tensor, b: Tensor | undefined, transB: boolean): Tensor {
  return b === undefined ? T.matmul(x, w, { transB }) : T.linear(x, w, b, { transB }); // [..., out]
}

/** A linear layer's parameters, named as in checkpoints; `L` is a tensor, or a name (see Leaf). */
export interface Linear<L = Tensor> {
  readonly weight: L;
  readonly bias: L | undefined;
}

/** A LayerNorm's (weight and bias) or an RMSNorm's (weight only) parameters. */
export interface Norm<L = Tensor> {
  readonly weight: L;
  readonly bias: L | undefined;
}

/** x [..., in] through a linear layer whose weight is in the checkpoint's layout (`transB`: stored [out, in]). */
export function affine(x: Tensor, l: Linear, transB: boolean): Tensor {
  return linear(x, l.weight, l.bias, transB); // [..., out]
}

/**
 * x [..., in] through several linear layers at once (q/k/v, gate/up): the numbers of one `affine` each, in one
 * backend call, so the `ort` worker's round trip is paid once. Checkpoints that store the projections apart
 * keep them apart: concatenating them for one matmul would hold a second copy of those weights.
 */
export function affines(x: Tensor, ls: readonly Linear[], transB: boolean): Tensor[] {
  const ys = T.matmuls(
    x,
    ls.map((l) => l.weight),
    { transB },
  ); // each [..., out_i]
  return ys.map((y, i) => {
    const b = (ls[i] as Linear).bias;
    return b === undefined ? y : T.add(y, b); // [..., out_i]
  });
}

/**
 * LayerNorm or RMSNorm as TransformerLens hooks it: `hook_scale` is sqrt(var + eps) (centred for
 * LayerNorm, mean square for RMSNorm), `hook_normalized` the output after weight and bias. When nothing observes
 * `hook_scale`, the fused kernel of @llmdbg/tensor computes the output in one pass (float64 sums, its own
 * backward rule) and `hook_scale` does not fire; otherwise the primitives below build every hooked tensor.
 * @example norm(x, blk.ln_1, config.norm, "blocks.0.ln1", ctx) // [batch, pos, d_model]
 */
export function norm(x: Tensor, p: Norm, kind: ModelConfig["norm"], name: string, ctx: ForwardContext): Tensor {
  if (!ctx.observed(`${name}.hook_scale`)) {
    const y = kind.kind === "layernorm" ? T.layerNorm(x, p.weight, p.bias, kind.eps) : T.rmsNorm(x, p.weight, kind.eps); // [batch, pos, d_model]
    const biased = kind.kind === "rmsnorm" && p.bias !== undefined ? T.add(y, p.bias) : y; // [batch, pos, d_model]
    return ctx.hook(`${name}.hook_normalized`, biased); // [batch, pos, d_model]
  }
  const xc = kind.kind === "layernorm" ? T.sub(x, T.mean(x, -1, true)) : x; // [batch, pos, d_model]
  const s = ctx.hook(`${name}.hook_scale`, T.sqrt(T.add(T.mean(T.mul(xc, xc), -1, true), kind.eps))); // [batch, pos, 1]
  const y = T.mul(T.div(xc, s), p.weight); // [batch, pos, d_model]
  return ctx.hook(`${name}.hook_normalized`, p.bias === undefined ? y : T.add(y, p.bias)); // [batch, pos, d_model]
}

/**
 * Rotary inverse frequencies [rotaryDim/2] after the config's scaling, as transformers computes them
 * (`_compute_default_rope_parameters`, `_compute_llama3_parameters`); `factors` is the checkpoint's
 * rope_freqs tensor for the `freqFactors` kind.
 */
export function inverseFrequencies(pos: Extract<PositionalEncoding, { kind: "rotary" }>, factors?: Tensor): Float64Array {
  const half = pos.rotaryDim / 2;
  const inv = Float64Array.from({ length: half }, (_, i) => 1 / pos.theta ** ((2 * i) / pos.rotaryDim));
  const s = pos.scaling;
  switch (s.kind) {
    case "none":
      return inv;
    case "linear":
      return inv.map((f) => f / s.factor);
    case "freqFactors": {
      if (factors === undefined || factors.size !== half)
        throw new ModelFormatError("checkpoint", s.tensor, `expected ${half} rotary frequency factors`);
      const d = factors.data;
      return inv.map((f, i) => f / (d[i] as number));
    }
    case "llama3": {
      const d = llama3Divisors(pos.theta, pos.rotaryDim, s);
      return inv.map((f, i) => f / (d[i] as number));
    }
  }
}

/**
 * Llama 3.1's rope scaling as one divisor per inverse frequency (transformers' `_compute_llama3_parameters`):
 * high frequencies unchanged (1), low ones stretched fully (`factor`), the band between interpolated. The one
 * formula: the architectures divide by it, the GGUF converter writes it as `rope_freqs.weight`.
 * @example llama3Divisors(500000, 128, { kind: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 })
 */
export function llama3Divisors(
  theta: number,
  rotaryDim: number,
  s: Extract<PositionalEncoding, { kind: "rotary" }>["scaling"] & { kind: "llama3" },
): Float64Array {
  const lowWavelen = s.originalMaxPositions / s.lowFreqFactor;
  const highWavelen = s.originalMaxPositions / s.highFreqFactor;
  return Float64Array.from({ length: rotaryDim / 2 }, (_, i) => {
    const wavelen = (2 * Math.PI) / (1 / theta ** ((2 * i) / rotaryDim));
    if (wavelen < highWavelen) return 1; // high frequencies: unchanged
    if (wavelen > lowWavelen) return s.factor; // low frequencies: stretched fully
    const smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    return 1 / ((1 - smooth) / s.factor + smooth);
  });
}

/**
 * cos and sin [batch, 1, pos, rotaryDim/2] of each token's position, broadcast over heads by `rotate`.
 * Angles are computed in f64 and rounded once (transformers computes them in f32: differences ~1e-7·pos).
 */
export function rotaryAngles(inv: Float64Array, positions: Tensor): { cos: Tensor; sin: Tensor } {
  const [B, P] = positions.shape as [number, number];
  const h = inv.length;
  const cos = new Float32Array(B * P * h); // [batch, 1, pos, rotaryDim/2]
  const sin = new Float32Array(B * P * h); // [batch, 1, pos, rotaryDim/2]
  const pd = positions.data;
  for (let r = 0; r < B * P; r++) {
    const p = pd[r] as number;
    for (let i = 0; i < h; i++) {
      const a = p * (inv[i] as number);
      cos[r * h + i] = Math.cos(a);
      sin[r * h + i] = Math.sin(a);
    }
  }
  return { cos: T.fromTyped(cos, [B, 1, P, h], "f32"), sin: T.fromTyped(sin, [B, 1, P, h], "f32") };
}

/** Rotates x [batch, pos, head, d_head] by the angles [batch, 1, pos, rotaryDim/2]; the rest of each head passes through. */
export function rotate(
  x: Tensor,
  angles: { cos: Tensor; sin: Tensor },
  pos: Extract<PositionalEncoding, { kind: "rotary" }>,
): Tensor {
  const [B, P, H] = x.shape as [number, number, number, number];
  const h = pos.rotaryDim / 2;
  const xh = T.permute(x, [0, 2, 1, 3]); // [batch, head, pos, d_head]
  const cos = T.broadcastTo(angles.cos, [B, H, P, h]); // [batch, head, pos, rotaryDim/2]
  const sin = T.broadcastTo(angles.sin, [B, H, P, h]); // [batch, head, pos, rotaryDim/2]
  const y = T.rope(xh, cos, sin, { rotaryDim: pos.rotaryDim, interleaved: pos.interleaved }); // [batch, head, pos, d_head]
  return T.permute(y, [0, 2, 1, 3]); // [batch, pos, head, d_head]
}

/**
 * The additive attention bias of one layer [batch or 1, 1, query_pos, key_pos] (sliding window from the
 * config's `slidingWindow.fromLayer` on). Layers with the same window share one bias.
 */
export function layerBias(config: ModelConfig, plan: ForwardPlan): (layer: number) => Tensor {
  const byWindow = new Map<number, Tensor>();
  return (layer) => {
    const sw = config.slidingWindow;
    const window = sw !== null && layer >= sw.fromLayer ? sw.size : Number.POSITIVE_INFINITY;
    let b = byWindow.get(window);
    if (b === undefined) {
      const o = { batch: plan.batch, queries: plan.queries, past: plan.past, causal: config.causal, mask: plan.mask, window };
      b = attentionBias(o);
      byWindow.set(window, b);
    }
    return b;
  };
}

/** Hook and observation functions for the points inside block `layer` (`attn.hook_z` → `blocks.3.attn.hook_z`). */
export function blockScope(
  ctx: ForwardContext,
  layer: number,
): { h: (name: string, t: Tensor) => Tensor; seen: (name: string) => boolean } {
  return { h: (name, t) => ctx.hook(`blocks.${layer}.${name}`, t), seen: (name) => ctx.observed(`blocks.${layer}.${name}`) };
}

/**
 * Attention with TransformerLens's hooks: q [batch, pos, head, d_head], k and v [batch, pos, kv_head,
 * d_head] (already hooked and rotated). Appends k and v to the KV cache, repeats each key/value head for
 * its group of query heads, and hooks `attn.hook_attn_scores` (scaled, masked: −inf where hidden),
 * `attn.hook_pattern` and `attn.hook_z`. `h` hooks a name inside the block and `seen` says whether anything
 * observes it: when neither the scores nor the pattern is observed, the fused attention kernel runs instead of
 * the primitives (one scores product, a masked softmax in place, one weighted sum, one backward rule).
 * @example const z = attend(h, seen, q, k, v, plan, l, bias(l), 1 / Math.sqrt(Dh)) // [batch, pos, head, d_head]
 */
export function attend(
  h: (name: string, t: Tensor) => Tensor,
  seen: (name: string) => boolean,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  plan: ForwardPlan,
  layer: number,
  bias: Tensor,
  scale: number,
): Tensor {
  const [B, , H, Dh] = q.shape as [number, number, number, number];
  const Hkv = k.shape[2] as number;
  const fused = !seen("attn.hook_attn_scores") && !seen("attn.hook_pattern");
  if (fused && plan.kvCache === undefined && Hkv === H) {
    // nothing looks inside, no cache, a key per head: the fused kernel straight on the token-major heads
    const z = T.attention(q, k, v, { scale, mask: bias, tokenMajor: true }).out; // [batch, pos, head, d_head]
    return h("attn.hook_z", z);
  }
  let kh = T.permute(k, [0, 2, 1, 3]); // [batch, kv_head, pos, d_head]
  let vh = T.permute(v, [0, 2, 1, 3]); // [batch, kv_head, pos, d_head]
  if (plan.kvCache !== undefined) ({ k: kh, v: vh } = plan.kvCache.extend(layer, kh, vh)); // [batch, kv_head, key_pos, d_head]
  const S = kh.shape[2] as number;
  if (Hkv !== H) {
    const g = H / Hkv;
    const repeat = (t: Tensor) => T.reshape(T.broadcastTo(T.reshape(t, [B, Hkv, 1, S, Dh]), [B, Hkv, g, S, Dh]), [B, H, S, Dh]);
    kh = repeat(kh); // [batch, head, key_pos, d_head]
    vh = repeat(vh); // [batch, head, key_pos, d_head]
  }
  const qh = T.permute(q, [0, 2, 1, 3]); // [batch, head, pos, d_head]
  if (fused) {
    // nothing looks inside: the fused kernel (scores, masked softmax and the weighted sum, one backward rule)
    const out = T.attention(qh, kh, vh, { scale, mask: bias }).out; // [batch, head, pos, d_head]
    return h("attn.hook_z", T.permute(out, [0, 2, 1, 3])); // [batch, pos, head, d_head]
  }
  const scores = h("attn.hook_attn_scores", T.add(T.mul(T.matmul(qh, kh, { transB: true }), scale), bias)); // [batch, head, query_pos, key_pos]
  const pattern = h("attn.hook_pattern", T.softmax(scores)); // [batch, head, query_pos, key_pos]
  return h("attn.hook_z", T.permute(T.matmul(pattern, vh), [0, 2, 1, 3])); // [batch, pos, head, d_head]
}

/** The rows of `x` [batch, pos, d] that the logits need: all, or the last position only. */
export function logitRows(x: Tensor, plan: ForwardPlan): Tensor {
  return plan.logits === "last" ? T.narrow(x, 1, plan.queries - 1, 1) : x; // [batch, pos or 1, d]
}

/**
 * The residual stream a forward pass starts from when `opts.startAt` is given (checked: a block of the model,
 * [batch, pos, d_model] for this input, no KV cache), else null: the architecture then embeds the tokens.
 */
export function startResidual(
  opts: ForwardOptions,
  config: ModelConfig,
  plan: { readonly batch: number; readonly queries: number; readonly kvCache?: unknown },
): { readonly layer: number; readonly resid: Tensor } | null {
  const s = opts.startAt;
  if (s === undefined) return null;
  if (!Number.isInteger(s.layer) || s.layer < 0 || s.layer >= config.nLayers)
    throw new RangeError(`startAt.layer ${s.layer} is not a block of this model [0, ${config.nLayers})`);
  const want = [plan.batch, plan.queries, config.dModel];
  if (s.resid.shape.join() !== want.join())
    throw new T.ShapeError(
      `startAt.resid: expected [${want.join(", ")}] (batch, pos, d_model), got [${s.resid.shape.join(", ")}]`,
    );
  if (plan.kvCache !== undefined) throw new Error("startAt: a run that starts at a block takes no KV cache");
  return s;
}

/** One tensor of a fresh checkpoint: its parameter name, the name `save_pretrained` stores, stored shape, kind. */
export interface LayoutEntry {
  readonly key: string;
  readonly stored: string;
  readonly shape: readonly number[];
  readonly kind: ParamKind;
}

/**
 * The tensors a checkpoint of `config` stores, walked from the architecture's parameter tree (a tied key once):
 * what `initModel` creates and `saveModel` writes. `storedName` adds the base model's prefix where
 * `save_pretrained` writes one; linear weights take the checkpoint's layout ([out, in] when transposed).
 */
export function layoutOf(
  config: ModelConfig,
  tree: (leaf: Leaf<string>) => unknown,
  storedName: (key: string) => string,
): LayoutEntry[] {
  const out = new Map<string, LayoutEntry>();
  tree((key, shape, kind) => {
    const transposed = kind === "linear" && config.weightLayout === "out_in" && shape.length === 2;
    const stored = transposed ? [shape[1] as number, shape[0] as number] : shape;
    if (!out.has(key)) out.set(key, { key, stored: storedName(key), shape: stored, kind });
    return key;
  });
  return [...out.values()];
}
