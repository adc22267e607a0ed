// Random repeated sequences, the data of the `induction-2l` model: tokens drawn at random (distinct within a
// sequence) in which one random segment occurs twice, with random filler before, between and after. The only
// predictable tokens are the second occurrence's (after its first token): a model predicts them by looking back
// for the current token's earlier occurrence and copying what followed it — an induction head. The segment's
// length and place vary, so position alone does not find the earlier occurrence.
import { itemSeed, Rng } from "./random.js";

/** The beginning-of-sequence token, first in every sequence. */
export const REPEATS_BOS = "<|bos|>";
/** For words outside the vocabulary typed by a user; never in the data. */
export const REPEATS_UNK = "<|unk|>";

/** The ordinary tokens: two-letter syllables, consonant then vowel (21 × 6 = 126: "ba", "be", … "zy"). */
export const REPEAT_WORDS: readonly string[] = [..."bcdfghjklmnpqrstvwxz"]
  .concat("y")
  .flatMap((c) => [..."aeiouy"].map((v) => c + v));

/** One sequence: its words (without the BOS token) and where the two occurrences of the segment start. */
export interface RepeatSequence {
  readonly words: readonly string[];
  /** index in `words` of the segment's first and second occurrence */
  readonly first: number;
  readonly second: number;
  readonly length: number;
}

export interface RepeatOptions {
  /** words per sequence (the BOS token comes on top); default 63 */
  readonly words?: number;
  /** the segment's length range; default [4, 31] (clamped to half the words) */
  readonly minSegment?: number;
  readonly maxSegment?: number;
}

/** `n` distinct words, a partial Fisher–Yates shuffle of the vocabulary. */
function distinct(rng: Rng, n: number): string[] {
  const a = [...REPEAT_WORDS];
  if (n > a.length) throw new RangeError(`repeats: ${n} distinct words asked of a ${a.length}-word vocabulary`);
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(a.length - i);
    [a[i], a[j]] = [a[j] as string, a[i] as string];
  }
  return a.slice(0, n);
}

/**
 * Sequence `index` of the stream seeded with `seed`: filler, the segment, filler, the segment again, filler —
 * every word but the segment's second occurrence distinct. Regenerable alone.
 * @example repeatSequence(1, 0).words.join(" ") // "qo vi … ka de mu … ka de mu …"
 */
export function repeatSequence(seed: number, index: number, opts: RepeatOptions = {}): RepeatSequence {
  const total = opts.words ?? 63;
  const rng = new Rng(itemSeed(seed, index));
  const maxSeg = Math.min(opts.maxSegment ?? 31, Math.floor(total / 2));
  const length = rng.range(Math.min(opts.minSegment ?? 4, maxSeg), maxSeg);
  const rest = total - 2 * length;
  // the filler split in three; often nothing before the segment or between its occurrences, as in the standard
  // induction test (a random segment right after BOS, repeated at once)
  const before = rng.chance(0.25) ? 0 : rng.range(0, rest);
  const between = rng.chance(0.5) ? 0 : rng.range(0, rest - before);
  const after = rest - before - between;
  const pool = distinct(rng, total - length);
  const segment = pool.slice(0, length);
  const filler = pool.slice(length);
  const words = [
    ...filler.slice(0, before),
    ...segment,
    ...filler.slice(before, before + between),
    ...segment,
    ...filler.slice(before + between, before + between + after),
  ];
  return { words, first: before, second: before + length + between, length };
}

/** `count` sequences of the stream seeded with `seed`. */
export function repeatSequences(seed: number, count: number, opts: RepeatOptions = {}): RepeatSequence[] {
  return Array.from({ length: count }, (_, i) => repeatSequence(seed, i, opts));
}
