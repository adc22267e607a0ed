// A byte-level BPE trainer that writes GPT-2's tokenizer.json layout, for the models llmdbg trains itself.
//
// The textbook loop recounts every pair after every merge, which is quadratic in practice. Here words are counted
// once (word → frequency), pair counts are kept incrementally, and an index pair → words says which words a merge
// touches, so a merge costs only the words that contain its pair. The most frequent pair comes from a lazy
// max-heap: an entry may be stale (its pair's count changed since it was pushed); popping one whose recorded count
// disagrees with the live count pushes it back with the live count. Every pair whose count grows is pushed anew,
// so the heap always holds, for each live pair, an entry at least as large as its count — which is what makes a
// popped entry whose count is current the true maximum.

import { addedToken, BYTE_SYMBOL_ORDER, BYTE_SYMBOLS, byteLevelBpeJson } from "./builders.js";

/** Options of {@link trainByteLevelBpe}. */
export interface TrainBpeOptions {
  /** Entries in the vocabulary: the 256 byte symbols, the merged tokens, the special tokens. */
  readonly vocabSize: number;
  /** Added tokens, given the last ids; never split by the pre-tokenizer nor learned from. */
  readonly specialTokens?: readonly string[];
  /** A pair seen fewer times than this is never merged (training may then end below `vocabSize`). */
  readonly minFrequency?: number;
}

/** GPT-2's pre-tokenizer split: the ByteLevel pre-tokenizer's regex (`use_regex: true`). */
export const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

// Pairs of token ids as one number. 2^21 ids is far beyond any vocabulary trained here (checked below), and
// a · 2^21 + b stays a safe integer.
const PAIR_SHIFT = 2 ** 21;
const pairKey = (a: number, b: number) => a * PAIR_SHIFT + b;

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Learns a GPT-2-style byte-level BPE from `texts` and returns its tokenizer.json object: the ByteLevel
 * pre-tokenizer with GPT-2's split, the 256 byte symbols first (GPT-2's ids 0–255), then one token per merge in the
 * order learned — most frequent pair first, ties broken by the smaller `"a b"` string — then the special tokens
 * as added tokens, and the ByteLevel decoder. Deterministic: the same texts and options give the same file.
 * Special tokens inside a text are cut out before counting, as the tokenizer does when encoding.
 *
 * @example
 * const json = trainByteLevelBpe(["the cat sat on the mat"], { vocabSize: 300 });
 * const tok = loadHfTokenizer(json, undefined, "trained/tokenizer.json");
 */
export function trainByteLevelBpe(texts: Iterable<string>, opts: TrainBpeOptions): Record<string, unknown> {
  const specials = opts.specialTokens ?? ["<|endoftext|>"];
  const minFrequency = opts.minFrequency ?? 2;
  const { vocabSize } = opts;
  if (!Number.isSafeInteger(vocabSize) || vocabSize < 256 + specials.length || vocabSize >= PAIR_SHIFT) {
    throw new RangeError(
      `trainByteLevelBpe: vocabSize must be an integer from ${256 + specials.length} (the byte symbols and special tokens) to ${PAIR_SHIFT - 1}, got ${vocabSize}`,
    );
  }
  if (new Set(specials).size !== specials.length || specials.some((s) => s === "")) {
    throw new RangeError(`trainByteLevelBpe: special tokens must be distinct and non-empty, got ${JSON.stringify(specials)}`);
  }
  const maxTokens = vocabSize - specials.length;

  // id → token string, and back; ids 0–255 are the bytes in GPT-2's order
  const tokens: string[] = [...BYTE_SYMBOL_ORDER];
  const ids = new Map<string, number>(tokens.map((t, i) => [t, i]));
  const byteId = BYTE_SYMBOLS.map((s) => ids.get(s) as number);

  const words = countWords(texts, specials, byteId);
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  // `before` records each pair's count before its first change in this merge, to push only the pairs that grew
  const addPairs = (w: number, sign: 1 | -1, before: Map<number, number> | undefined) => {
    const { syms, count } = words[w] as Word;
    for (let i = 0; i + 1 < syms.length; i++) {
      const key = pairKey(syms[i] as number, syms[i + 1] as number);
      const old = pairCount.get(key) ?? 0;
      if (before !== undefined && !before.has(key)) before.set(key, old);
      const c = old + sign * count;
      if (c === 0) pairCount.delete(key);
      else pairCount.set(key, c);
      if (sign === 1) {
        let set = pairWords.get(key);
        if (set === undefined) pairWords.set(key, (set = new Set()));
        set.add(w);
      }
    }
  };
  for (let w = 0; w < words.length; w++) addPairs(w, 1, undefined);

  const heap = new PairHeap(tokens);
  for (const [key, c] of pairCount) if (c >= minFrequency) heap.push(key, c);

  const merges: string[] = [];
  const merged = new Set<number>();
  while (tokens.length < maxTokens) {
    const top = heap.pop();
    if (top === undefined) break;
    const live = pairCount.get(top.key) ?? 0;
    if (live !== top.count) {
      if (live >= minFrequency) heap.push(top.key, live);
      continue;
    }
    if (live < minFrequency) break;
    const a = Math.floor(top.key / PAIR_SHIFT);
    const b = top.key % PAIR_SHIFT;
    const text = (tokens[a] as string) + (tokens[b] as string);
    // two different merges may spell the same token ("a bc", "ab c"); it keeps its first id, as in HF's trainer
    let id = ids.get(text);
    if (id === undefined) {
      id = tokens.length;
      tokens.push(text);
      ids.set(text, id);
    }
    if (!merged.has(top.key)) merges.push(`${tokens[a]} ${tokens[b]}`);
    merged.add(top.key);

    const before = new Map<number, number>();
    for (const w of pairWords.get(top.key) ?? []) {
      const word = words[w] as Word;
      const next = mergeWord(word.syms, a, b, id);
      if (next === word.syms) continue; // the index is lazy: this word lost the pair in an earlier merge
      addPairs(w, -1, before);
      word.syms = next;
      addPairs(w, 1, before);
    }
    pairWords.delete(top.key);
    for (const [key, old] of before) {
      const c = pairCount.get(key) ?? 0;
      if (c > old && c >= minFrequency) heap.push(key, c);
    }
  }

  const vocab: Record<string, number> = {};
  tokens.forEach((t, i) => {
    vocab[t] = i;
  });
  const added = specials.map((s, i) => {
    vocab[s] = tokens.length + i;
    return addedToken(tokens.length + i, s);
  });
  return byteLevelBpeJson({ vocab, merges, addedTokens: added });
}

interface Word {
  syms: readonly number[];
  readonly count: number;
}

/** Distinct pre-tokenized words of `texts` as byte ids, with their frequencies, in first-seen order. */
function countWords(texts: Iterable<string>, specials: readonly string[], byteId: readonly number[]): Word[] {
  const counts = new Map<string, number>();
  const cut =
    specials.length === 0
      ? undefined
      : new RegExp(
          [...specials]
            .sort((x, y) => y.length - x.length)
            .map(escapeRegex)
            .join("|"),
          "u",
        );
  for (const text of texts) {
    for (const part of cut === undefined ? [text] : text.split(cut)) {
      for (const m of part.matchAll(GPT2_SPLIT)) counts.set(m[0], (counts.get(m[0]) ?? 0) + 1);
    }
  }
  const encoder = new TextEncoder();
  return Array.from(counts, ([w, count]) => ({ syms: Array.from(encoder.encode(w), (b) => byteId[b] as number), count }));
}

/** `syms` with each non-overlapping (a, b), left to right, replaced by `id`; `syms` itself when there is none. */
function mergeWord(syms: readonly number[], a: number, b: number, id: number): readonly number[] {
  let out: number[] | undefined;
  for (let i = 0; i < syms.length; i++) {
    if (syms[i] === a && syms[i + 1] === b) {
      out ??= syms.slice(0, i);
      out.push(id);
      i++;
    } else out?.push(syms[i] as number);
  }
  return out ?? syms;
}

/**
 * A binary max-heap of (pair, count) ordered by count, then by the smaller `"a b"` string. Byte symbols never
 * contain a space and all sort above it, so comparing "a b" strings is comparing (a, b) lexicographically.
 */
class PairHeap {
  private readonly keys: number[] = [];
  private readonly counts: number[] = [];
  constructor(private readonly tokens: readonly string[]) {}

  push(key: number, count: number): void {
    this.keys.push(key);
    this.counts.push(count);
    let i = this.keys.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  pop(): { key: number; count: number } | undefined {
    const n = this.keys.length;
    if (n === 0) return undefined;
    const top = { key: this.keys[0] as number, count: this.counts[0] as number };
    this.swap(0, n - 1);
    this.keys.pop();
    this.counts.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < this.keys.length && this.above(l, best)) best = l;
      if (r < this.keys.length && this.above(r, best)) best = r;
      if (best === i) break;
      this.swap(i, best);
      i = best;
    }
    return top;
  }

  /** Whether entry i comes out before entry j. */
  private above(i: number, j: number): boolean {
    const ci = this.counts[i] as number;
    const cj = this.counts[j] as number;
    if (ci !== cj) return ci > cj;
    const ki = this.keys[i] as number;
    const kj = this.keys[j] as number;
    const ai = this.tokens[Math.floor(ki / PAIR_SHIFT)] as string;
    const aj = this.tokens[Math.floor(kj / PAIR_SHIFT)] as string;
    if (ai !== aj) return ai < aj;
    return (this.tokens[ki % PAIR_SHIFT] as string) < (this.tokens[kj % PAIR_SHIFT] as string);
  }

  private swap(i: number, j: number): void {
    const k = this.keys[i] as number;
    this.keys[i] = this.keys[j] as number;
    this.keys[j] = k;
    const c = this.counts[i] as number;
    this.counts[i] = this.counts[j] as number;
    this.counts[j] = c;
  }
}
