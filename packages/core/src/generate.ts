// Autoregressive generation with a KV cache: one forward pass over the (left-padded) prompts, then one
// position per step. Sampling follows transformers' logits warpers in their order (temperature, top-k,
// top-p) so that a seed and settings mean the same thing as there, with our own seeded generator.
// Interventions apply at every step, so steering a generation is one option away.

import type { Intervention } from "@llmdbg/protocol";
import * as T from "@llmdbg/tensor";
import { fromTyped, noGrad, rng } from "@llmdbg/tensor";
import { KvCache, padBatch } from "./forward.js";
import { type HookedModel, run } from "./run.js";

export interface SamplingOptions {
  /** Divides the logits; 0 means greedy (argmax). Default 1. */
  readonly temperature?: number;
  /** Keep only the k most likely tokens (ties with the k-th kept); 0 or absent: off. */
  readonly topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p; 1 or absent: off. */
  readonly topP?: number;
  /** false (default true when temperature > 0): greedy regardless of the other settings. */
  readonly doSample?: boolean;
}

export interface GenerateOptions extends SamplingOptions {
  readonly maxNewTokens: number;
  /** Seeds the sampler; the same seed, prompt and settings give the same tokens. Default 0. */
  readonly seed?: number;
  /** A row stops after producing any of these. */
  readonly eosTokenIds?: readonly number[];
  /** Fills the left padding of shorter prompts and the steps after a row stopped. Default: first eos, else 0. */
  readonly padId?: number;
  /** Applied at every step; `positions` in them index the positions of that step's forward pass. */
  readonly interventions?: readonly Intervention[];
}

export interface GenerationStep {
  /** 0 for the first new token */
  readonly step: number;
  /** the token each row produced this step; null for a row that had already stopped */
  readonly tokens: readonly (number | null)[];
}

export interface GenerationResult {
  /** the new tokens of each row (the prompt not included; an eos that stopped the row included) */
  readonly tokens: number[][];
  readonly finishReasons: ("eos" | "length")[];
}

function checkSampling(o: SamplingOptions): void {
  const t = o.temperature ?? 1;
  if (!(t >= 0) || !Number.isFinite(t)) throw new RangeError(`generate: temperature must be a finite number >= 0, got ${t}`);
  if (o.topK !== undefined && (!Number.isInteger(o.topK) || o.topK < 0))
    throw new RangeError(`generate: topK must be an integer >= 0, got ${o.topK}`);
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1))
    throw new RangeError(`generate: topP must be in (0, 1], got ${o.topP}`);
}

/**
 * Picks the next token from one row of logits. `uniform` draws from [0, 1). Greedy takes the first maximum.
 * @example sampleToken(logitsRow, { temperature: 0.7, topP: 0.9 }, rng(0).uniform)
 */
export function sampleToken(logits: ArrayLike<number>, o: SamplingOptions, uniform: () => number): number {
  const V = logits.length;
  const temperature = o.temperature ?? 1;
  if (o.doSample === false || temperature === 0) {
    let best = 0;
    for (let i = 1; i < V; i++) if ((logits[i] as number) > (logits[best] as number)) best = i;
    return best;
  }
  // Candidates sorted by logit, descending (stable, so ties keep vocabulary order).
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => (logits[b] as number) - (logits[a] as number));
  let n = V;
  const k = o.topK ?? 0;
  if (k > 0 && k < V) {
    // transformers' TopKLogitsWarper removes logits strictly below the k-th largest: ties survive.
    const kth = logits[order[k - 1] as number] as number;
    n = k;
    while (n < V && logits[order[n] as number] === kth) n++;
  }
  const mx = logits[order[0] as number] as number;
  const p = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(((logits[order[i] as number] as number) - mx) / temperature);
    p[i] = e;
    total += e;
  }
  const topP = o.topP ?? 1;
  if (topP < 1) {
    // TopPLogitsWarper keeps token i when the probability of the tokens ranked above it is below p.
    let cum = 0;
    let keep = 0;
    while (keep < n && cum < topP * total) cum += p[keep++] as number;
    n = Math.max(1, keep);
    total = 0;
    for (let i = 0; i < n; i++) total += p[i] as number;
  }
  let r = uniform() * total;
  for (let i = 0; i < n; i++) {
    r -= p[i] as number;
    if (r < 0) return order[i] as number;
  }
  return order[n - 1] as number;
}

/**
 * Generates from each prompt, yielding every step's tokens as they are produced (streaming); the
 * generator's return value is the whole result.
 * @example for (const s of generateStream(model, [ids], { maxNewTokens: 20 })) process.stdout.write(tok.decode([s.tokens[0] ?? 0]))
 */
export function* generateStream(
  model: HookedModel,
  prompts: readonly (readonly number[])[],
  o: GenerateOptions,
): Generator<GenerationStep, GenerationResult, void> {
  if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 0)
    throw new RangeError(`generate: maxNewTokens must be an integer >= 0, got ${o.maxNewTokens}`);
  checkSampling(o);
  const eos = new Set(o.eosTokenIds ?? []);
  const padId = o.padId ?? o.eosTokenIds?.[0] ?? 0;
  const { ids, attentionMask } = padBatch(prompts, { padId, side: "left" });
  const B = prompts.length;
  const random = rng(o.seed ?? 0).uniform;
  const tokens: number[][] = prompts.map(() => []);
  const finishReasons: ("eos" | "length")[] = prompts.map(() => "length");
  const done = prompts.map(() => false);
  const kvCache = new KvCache();
  let input = ids; // [batch, pos]
  let mask = attentionMask; // [batch, past + pos]
  try {
    for (let step = 0; step < o.maxNewTokens; step++) {
      const logits = noGrad(() => {
        const opts = { kvCache, attentionMask: mask, logits: "last" as const, interventions: o.interventions ?? [] };
        return run(model, input, opts).output; // [batch, 1, d_vocab]
      });
      const V = logits.shape[logits.rank - 1] as number;
      const rows = logits.data;
      const last = (logits.shape[1] as number) - 1;
      const picked = done.map((d, b) => {
        if (d) return null;
        const off = (b * (logits.shape[1] as number) + last) * V;
        return sampleToken(rows.subarray(off, off + V), o, random);
      });
      logits.dispose();
      picked.forEach((t, b) => {
        if (t === null) return;
        tokens[b]?.push(t);
        if (eos.has(t)) {
          done[b] = true;
          finishReasons[b] = "eos";
        }
      });
      yield { step, tokens: picked };
      if (done.every(Boolean)) break;
      input = fromTyped(
        Int32Array.from(picked, (t) => t ?? padId),
        [B, 1],
        "i32",
      ); // [batch, 1]
      const ones = fromTyped(new Int32Array(B).fill(1), [B, 1], "i32"); // [batch, 1]
      mask = T.concat([mask, ones], 1); // [batch, past + 1]
    }
  } finally {
    kvCache.dispose();
  }
  return { tokens, finishReasons };
}

/**
 * Generates from each prompt; `onStep` sees each step's tokens as they come.
 * @example generate(model, [tok.encode("Hello")], { maxNewTokens: 20, temperature: 0 }).tokens[0]
 */
export function generate(
  model: HookedModel,
  prompts: readonly (readonly number[])[],
  o: GenerateOptions,
  onStep?: (s: GenerationStep) => void,
): GenerationResult {
  const it = generateStream(model, prompts, o);
  for (;;) {
    const r = it.next();
    if (r.done) return r.value;
    onStep?.(r.value);
  }
}
