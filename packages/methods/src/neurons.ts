// Neurons and directions over a corpus: for each unit (a feature of a hook point's activation, or a direction dotted
// with it), the texts where it peaks highest with the window of tokens around the peak, and the distribution of its
// activation over every token. The corpus streams: it is an iterable or async iterable read once, in right-padded
// batches of `batch` texts, and all that is kept is bounded — per unit a heap of k examples, fixed histogram bins,
// running moments (Welford) and, until the histogram has a range, a buffer of the first `sample` activations.
// Without a given range that first sample sets it (its min and max), and later values outside it count as
// below/above; so the result depends on the order of the texts but never on the batch size, and there is no
// second pass. Quantiles are read off the histogram.
import { hookShape, padBatch, run, selectNames, type TransformerModel } from "@llmdbg/core";
import type {
  NeuronExample,
  NeuronHistogram,
  NeuronQuantile,
  NeuronStats,
  NeuronsRequest,
  NeuronsResult,
  NeuronUnit,
  TokenInput,
  TokenRef,
} from "@llmdbg/protocol";
import { checkAborted, checkToken, MethodRequestError, tokenRef } from "./common.js";

/** One text of a corpus: a string (the model's tokenizer encodes it, with its special tokens) or token ids. */
export type CorpusText = string | TokenInput;

/** A stream of texts, or of chunks of texts (arrays), sync or async; or a function that starts one. */
export type NeuronCorpus =
  | Iterable<CorpusText | readonly CorpusText[]>
  | AsyncIterable<CorpusText | readonly CorpusText[]>
  | (() => Iterable<CorpusText | readonly CorpusText[]> | AsyncIterable<CorpusText | readonly CorpusText[]>);

/** Progress in texts read (`total`: maxTexts, or 0 when the corpus's length is unknown) and tokens read. */
export interface NeuronsProgress {
  readonly done: number;
  readonly total: number;
  readonly what: "texts";
  readonly tokens: number;
}

/** As MethodOptions, with the token count in the progress. */
export interface NeuronsOptions {
  /** called after each batch */
  readonly onProgress?: (p: NeuronsProgress) => void;
  /** checked before each batch (the method yields to the event loop between batches, so a timer can abort it) */
  readonly signal?: AbortSignal;
}

export const DEFAULT_NEURON_QUANTILES: readonly number[] = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99];

/** The settings of a NeuronAccumulator: the request's, resolved. */
export interface NeuronAccumulatorSettings {
  readonly topK: number;
  readonly window: number;
  readonly bins: number;
  readonly range: readonly [number, number] | null;
  readonly sample: number;
}

/** A kept example: the window's token ids (TokenRefs are made once, for the result). */
interface Kept {
  readonly value: number;
  readonly text: number;
  readonly position: number;
  readonly start: number;
  readonly ids: readonly number[];
  readonly activations: readonly number[];
}

/** `a` ranks below `b`: a lower peak, or the same peak in a later text (so the earlier text wins a tie). */
const worse = (a: Kept, b: Kept) => a.value < b.value || (a.value === b.value && a.text > b.text);

/** A min-heap of at most k examples under `worse`: the root is the one a better candidate replaces. */
class TopK {
  readonly items: Kept[] = [];
  constructor(private readonly k: number) {}

  /** Whether an example with this peak in this text would be kept (checked before its window is copied). */
  admits(value: number, text: number): boolean {
    const root = this.items[0];
    return this.items.length < this.k || root === undefined || value > root.value || (value === root.value && text < root.text);
  }

  push(e: Kept): void {
    const h = this.items;
    if (h.length < this.k) {
      h.push(e);
      let i = h.length - 1;
      while (i > 0) {
        const up = (i - 1) >> 1;
        if (!worse(h[i] as Kept, h[up] as Kept)) break;
        [h[i], h[up]] = [h[up] as Kept, h[i] as Kept];
        i = up;
      }
      return;
    }
    h[0] = e;
    let i = 0;
    for (;;) {
      const [l, r] = [2 * i + 1, 2 * i + 2];
      let m = i;
      if (l < h.length && worse(h[l] as Kept, h[m] as Kept)) m = l;
      if (r < h.length && worse(h[r] as Kept, h[m] as Kept)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m] as Kept, h[i] as Kept];
      i = m;
    }
  }

  /** The best first. */
  sorted(): Kept[] {
    return [...this.items].sort((a, b) => (worse(a, b) ? 1 : worse(b, a) ? -1 : 0));
  }
}

/** Bins, moments and the range-setting sample of one unit. */
class Distribution {
  private lo = 0;
  private hi = 0;
  private counts: Float64Array;
  private below = 0;
  private above = 0;
  /** the first activations, until they set the range (null once it is set) */
  private buffer: Float64Array | null;
  private buffered = 0;
  count = 0;
  private mean = 0;
  private m2 = 0;
  private min = Number.POSITIVE_INFINITY;
  private max = Number.NEGATIVE_INFINITY;
  private positive = 0;

  constructor(
    private readonly bins: number,
    private readonly given: readonly [number, number] | null,
    sample: number,
  ) {
    this.counts = new Float64Array(bins);
    if (given !== null) [this.lo, this.hi] = given;
    this.buffer = given === null ? new Float64Array(sample) : null;
  }

  /** Numbers held: the bins and the sample buffer (fixed at construction). */
  get size(): number {
    return this.counts.length + (this.buffer?.length ?? 0);
  }

  add(x: number): void {
    // Welford's running mean and sum of squared deviations: stable over millions of tokens
    this.count++;
    const d = x - this.mean;
    this.mean += d / this.count;
    this.m2 += d * (x - this.mean);
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    if (x > 0) this.positive++;
    const buf = this.buffer;
    if (buf === null) {
      this.bin(x);
      return;
    }
    buf[this.buffered++] = x;
    if (this.buffered === buf.length) {
      [this.lo, this.hi] = sampleRange(buf, this.buffered);
      this.buffer = null;
      for (const v of buf) this.bin(v);
    }
  }

  private bin(x: number): void {
    if (x < this.lo) this.below++;
    else if (x > this.hi) this.above++;
    else {
      const i = Math.min(this.bins - 1, Math.floor(((x - this.lo) / (this.hi - this.lo)) * this.bins));
      this.counts[i] = (this.counts[i] as number) + 1;
    }
  }

  /** The histogram as it stands; a sample still filling sets the range from what it holds (nothing changes here). */
  histogram(): NeuronHistogram {
    if (this.buffer === null)
      return {
        lo: this.lo,
        hi: this.hi,
        range: this.given === null ? "sample" : "given",
        counts: Array.from(this.counts),
        below: this.below,
        above: this.above,
      };
    const [lo, hi] = this.buffered === 0 ? [0, 1] : sampleRange(this.buffer, this.buffered);
    const d = new Distribution(this.bins, [lo, hi], 0);
    for (let i = 0; i < this.buffered; i++) d.bin(this.buffer[i] as number);
    return { ...d.histogram(), range: "sample" };
  }

  stats(): NeuronStats {
    const n = this.count;
    return {
      count: n,
      mean: n === 0 ? 0 : this.mean,
      std: n === 0 ? 0 : Math.sqrt(this.m2 / n),
      min: n === 0 ? 0 : this.min,
      max: n === 0 ? 0 : this.max,
      positive: this.positive,
    };
  }

  /**
   * Quantiles from the histogram: the value where the cumulative count reaches q·n, linear within its bin; the
   * counts below and above the range spread over [min, lo] and [hi, max].
   */
  quantiles(qs: readonly number[]): NeuronQuantile[] {
    const h = this.histogram();
    const s = this.stats();
    const w = (h.hi - h.lo) / h.counts.length;
    const segments: [number, number, number][] = [
      [s.min, h.lo, h.below],
      ...h.counts.map((c, i): [number, number, number] => [
        h.lo + i * w,
        i === h.counts.length - 1 ? h.hi : h.lo + (i + 1) * w,
        c,
      ]),
      [h.hi, s.max, h.above],
    ];
    return qs.map((q) => {
      const target = q * s.count;
      let cum = 0;
      let value = s.max;
      for (const [a, b, c] of segments) {
        if (c > 0 && cum + c >= target) {
          value = a + ((b - a) * (target - cum)) / c;
          break;
        }
        cum += c;
      }
      return { q, value: s.count === 0 ? 0 : Math.min(s.max, Math.max(s.min, value)) };
    });
  }
}

/** The min and max of `buf[0, n)`, widened when they are equal so the bins have a width. */
function sampleRange(buf: Float64Array, n: number): [number, number] {
  let [lo, hi] = [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
  for (let i = 0; i < n; i++) {
    const v = buf[i] as number;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === hi) {
    const pad = Math.max(Math.abs(lo), 1) / 2;
    return [lo - pad, hi + pad];
  }
  return [lo, hi];
}

/**
 * The bounded state of the neurons method, fed one text at a time: per unit, the top-k texts by peak activation
 * (with their windows), the histogram and the moments. Its size does not grow with the corpus (`size`).
 * @example const acc = new NeuronAccumulator(2, settings); acc.add(0, ids, [valuesOfUnit0, valuesOfUnit1])
 */
export class NeuronAccumulator {
  private readonly tops: TopK[];
  private readonly dists: Distribution[];

  constructor(
    units: number,
    private readonly settings: NeuronAccumulatorSettings,
  ) {
    this.tops = Array.from({ length: units }, () => new TopK(settings.topK));
    this.dists = Array.from({ length: units }, () => new Distribution(settings.bins, settings.range, settings.sample));
  }

  /** Tokens added so far. */
  get tokens(): number {
    return this.dists[0]?.count ?? 0;
  }

  /**
   * Numbers held: for each unit, its kept examples' windows (ids and activations) and fields, the bins and the
   * sample buffer. At most units · (k · (2·(2W+1) + 4) + bins + sample), whatever the corpus's length.
   */
  get size(): number {
    let n = 0;
    for (const t of this.tops) for (const e of t.items) n += e.ids.length + e.activations.length + 4;
    for (const d of this.dists) n += d.size;
    return n;
  }

  /** Adds text number `text`: its token ids and, per unit, its activation at each token (values[u][p]). */
  add(text: number, ids: readonly number[], values: readonly ArrayLike<number>[]): void {
    const W = this.settings.window;
    for (const [u, v] of values.entries()) {
      const dist = this.dists[u] as Distribution;
      let peak = 0;
      for (let p = 0; p < ids.length; p++) {
        const x = v[p] as number;
        dist.add(x);
        if (x > (v[peak] as number)) peak = p;
      }
      const top = this.tops[u] as TopK;
      const value = v[peak] as number;
      if (!top.admits(value, text)) continue;
      const start = Math.max(0, peak - W);
      const end = Math.min(ids.length, peak + W + 1);
      top.push({
        value,
        text,
        position: peak,
        start,
        ids: ids.slice(start, end),
        activations: Array.from({ length: end - start }, (_, i) => v[start + i] as number),
      });
    }
  }

  /** Each unit's examples (the best first), histogram, moments and quantiles; `token` names the window's ids. */
  units(
    token: (id: number) => TokenRef,
    quantiles: readonly number[],
  ): { top: NeuronExample[]; histogram: NeuronHistogram; stats: NeuronStats; quantiles: NeuronQuantile[] }[] {
    return this.tops.map((t, u) => {
      const d = this.dists[u] as Distribution;
      return {
        top: t.sorted().map((e) => ({
          text: e.text,
          position: e.position,
          value: e.value,
          start: e.start,
          tokens: e.ids.map(token),
          activations: [...e.activations],
        })),
        histogram: d.histogram(),
        stats: d.stats(),
        quantiles: d.quantiles(quantiles),
      };
    });
  }
}

function positiveInt(v: number | undefined, dflt: number, field: string, min = 1): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < min) throw new MethodRequestError(field, `expected an integer ≥ ${min}, got ${v}`);
  return v;
}

/** The hook's name (one point; a negative layer resolved) and the number of features at a token. */
function hookFeatures(model: TransformerModel, hook: string): { name: string; features: number } {
  let names: string[];
  try {
    names = selectNames(
      hook,
      model.hookPoints.map((p) => p.name),
      "hook",
    );
  } catch (e) {
    throw new MethodRequestError("hook", (e as Error).message.replace(/^hook: /, ""));
  }
  if (names.length !== 1)
    throw new MethodRequestError("hook", `${JSON.stringify(hook)} names ${names.length} hook points; name one`);
  const name = names[0] as string;
  const p = model.hookPoints.find((h) => h.name === name);
  if (p === undefined || p.axes[0] !== "batch" || p.axes[1] !== "pos")
    throw new MethodRequestError("hook", `${name} has axes [${p?.axes.join(", ")}]; neurons are read at [batch, pos, …]`);
  const shape = hookShape(model, p, { batch: 1, pos: 1 }).slice(2);
  if (shape.some((s) => s === null)) throw new MethodRequestError("hook", `${name}'s feature axes have no fixed size`);
  return { name, features: (shape as number[]).reduce((a, b) => a * b, 1) };
}

/** Texts one at a time, from a corpus of texts or chunks of them, sync or async. */
async function* texts(corpus: NeuronCorpus): AsyncGenerator<CorpusText> {
  const src = typeof corpus === "function" ? corpus() : corpus;
  for await (const item of src) {
    if (Array.isArray(item)) yield* item as readonly CorpusText[];
    else yield item as CorpusText;
  }
}

/**
 * Streams `corpus` through the model once and reports, for each neuron and direction at `req.hook`, the
 * top-activating examples with their windows and the activation's histogram, moments and quantiles. Async: the
 * corpus may be an async iterable (a file read line by line); the state kept is bounded whatever its length.
 * @example await neuronActivations(model, { kind: "neurons", hook: "blocks.1.mlp.hook_post", neurons: [37] }, ["the cat sat", "a dog ran"])
 */
export async function neuronActivations(
  model: TransformerModel,
  req: NeuronsRequest,
  corpus: NeuronCorpus,
  opts: NeuronsOptions = {},
): Promise<NeuronsResult> {
  // a string is iterable too, by characters: almost surely one text passed where a corpus was meant
  if (typeof corpus === "string") throw new MethodRequestError("corpus", "expected an iterable of texts, got one string");
  const { name: hook, features } = hookFeatures(model, req.hook);
  const neurons = req.neurons ?? [];
  const directions = req.directions ?? [];
  if (neurons.length === 0 && directions.length === 0)
    throw new MethodRequestError("neurons", "name at least one neuron (or pass directions)");
  for (const [i, n] of neurons.entries())
    if (!Number.isInteger(n) || n < 0 || n >= features)
      throw new MethodRequestError(`neurons[${i}]`, `neuron ${n} is not in [0, ${features}) (${hook}'s features)`);
  for (const [i, d] of directions.entries()) {
    if (d.values.length !== features)
      throw new MethodRequestError(`directions[${i}].values`, `has ${d.values.length} entries; ${hook} has ${features} features`);
    if (!d.values.every(Number.isFinite))
      throw new MethodRequestError(`directions[${i}].values`, "holds a value that is not finite");
  }
  const topK = positiveInt(req.topK, 10, "topK");
  const window = positiveInt(req.window, 8, "window", 0);
  const bins = positiveInt(req.bins, 40, "bins");
  const sample = positiveInt(req.sample, 4096, "sample");
  const batch = positiveInt(req.batch, 16, "batch");
  const maxTexts = req.maxTexts === undefined ? undefined : positiveInt(req.maxTexts, 0, "maxTexts");
  const positions = model.W_pos?.shape[0] ?? 2048; // W_pos [n_ctx, d_model]
  const maxLength = positiveInt(req.maxLength, positions, "maxLength");
  if (model.W_pos !== null && maxLength > positions)
    throw new MethodRequestError("maxLength", `${maxLength} is more than the model's ${positions} learned positions`);
  const range = req.range ?? null;
  if (range !== null && !(Number.isFinite(range[0]) && Number.isFinite(range[1]) && range[0] < range[1]))
    throw new MethodRequestError("range", `expected finite lo < hi, got [${range.join(", ")}]`);
  const quantiles = req.quantiles ?? DEFAULT_NEURON_QUANTILES;
  for (const [i, q] of quantiles.entries())
    if (!(q >= 0 && q <= 1)) throw new MethodRequestError(`quantiles[${i}]`, `expected a share in [0, 1], got ${q}`);

  const units = neurons.length + directions.length;
  const acc = new NeuronAccumulator(units, { topK, window, bins, range, sample });
  const dirs = directions.map((d) => Float64Array.from(d.values));
  const padId = model.tokenizer?.padTokenId ?? model.tokenizer?.eosTokenId ?? 0;
  let read = 0;
  let empty = 0;
  let truncated = 0;
  let pending: { text: number; ids: number[] }[] = [];

  const flush = async () => {
    if (pending.length === 0) return;
    checkAborted(opts.signal);
    const seqs = pending.map((p) => p.ids);
    const { ids, attentionMask } = padBatch(seqs, { padId, side: "right" });
    const a = run(model, ids, { attentionMask, cache: hook, logits: "last" }).cache.get(hook); // [batch, pos, …features]
    const data = a.data;
    const T = ids.shape[1] as number;
    for (const [r, { text, ids: s }] of pending.entries()) {
      const values = Array.from({ length: units }, () => new Float64Array(s.length)); // [unit][pos]
      for (let p = 0; p < s.length; p++) {
        const at = (r * T + p) * features;
        for (const [u, n] of neurons.entries()) (values[u] as Float64Array)[p] = data[at + n] as number;
        for (const [k, d] of dirs.entries()) {
          let dot = 0;
          for (let j = 0; j < features; j++) dot += (d[j] as number) * (data[at + j] as number);
          (values[neurons.length + k] as Float64Array)[p] = dot;
        }
      }
      acc.add(text, s, values);
    }
    pending = [];
    opts.onProgress?.({ done: read, total: maxTexts ?? 0, what: "texts", tokens: acc.tokens });
    // a macrotask turn between batches, so an abort from a timer or an event lands even on a sync corpus
    await new Promise((resolve) => setTimeout(resolve, 0));
  };

  for await (const item of texts(corpus)) {
    const index = read++;
    const ids = encode(model, item, index);
    if (ids.length === 0) empty++;
    else {
      if (ids.length > maxLength) truncated++;
      pending.push({ text: index, ids: ids.length > maxLength ? ids.slice(0, maxLength) : ids });
    }
    if (pending.length >= batch) await flush();
    // stop before pulling another text: a file stream is left unread past maxTexts
    if (maxTexts !== undefined && read >= maxTexts) break;
  }
  await flush();
  if (read === 0) throw new MethodRequestError("corpus", "is empty");
  if (acc.tokens === 0) throw new MethodRequestError("corpus", `none of its ${read} texts encodes to any token`);

  const stats = acc.units((id) => tokenRef(model, id), quantiles);
  const result: NeuronUnit[] = stats.map((s, u) => {
    const d = u < neurons.length ? null : (directions[u - neurons.length] as (typeof directions)[number]);
    return {
      name: d === null ? `neuron ${neurons[u]}` : d.name,
      neuron: d === null ? (neurons[u] as number) : null,
      norm: d === null ? null : Math.sqrt(d.values.reduce((t, x) => t + x * x, 0)),
      ...s,
    };
  });
  return {
    kind: "neurons",
    hook,
    features,
    texts: read,
    empty,
    truncated,
    tokens: acc.tokens,
    topK,
    window,
    units: result,
  };
}

/** A corpus text's token ids; "" (a blank line) is empty without asking the tokenizer, which might add a BOS. */
function encode(model: TransformerModel, item: CorpusText, index: number): number[] {
  if (typeof item === "string" || "text" in item) {
    const text = typeof item === "string" ? item : item.text;
    if (text === "") return [];
    if (model.tokenizer === undefined)
      throw new MethodRequestError(`corpus[${index}]`, "this model was loaded without a tokenizer; pass token ids");
    return model.tokenizer.encode(text);
  }
  for (const [j, id] of item.ids.entries()) checkToken(model, id, `corpus[${index}].ids[${j}]`, "input");
  return [...item.ids];
}
