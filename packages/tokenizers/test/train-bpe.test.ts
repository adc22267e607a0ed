// The byte-level BPE trainer: its merges equal the textbook recount-every-pair loop, and what it writes loads
// through loadHfTokenizer and round-trips any text.
import { describe, expect, it } from "vitest";
import { BYTE_SYMBOL_ORDER, BYTE_SYMBOLS } from "../src/builders.js";
import { loadHfTokenizer } from "../src/tokenizer.js";
import { GPT2_SPLIT, trainByteLevelBpe } from "../src/train-bpe.js";

/** The textbook trainer: recount every pair after every merge, pick the most frequent (ties: the smaller "a b"). */
function textbookMerges(corpus: string, nMerges: number): string[] {
  const counts = new Map<string, number>();
  for (const m of corpus.matchAll(GPT2_SPLIT)) {
    const word = Array.from(new TextEncoder().encode(m[0]), (b) => BYTE_SYMBOLS[b] as string).join("\u0000");
    counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  let words = [...counts].map(([w, c]) => ({ syms: w.split("\u0000"), count: c }));
  const merges: string[] = [];
  while (merges.length < nMerges) {
    const pairs = new Map<string, number>();
    for (const { syms, count } of words) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const key = `${syms[i]} ${syms[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + count);
      }
    }
    let best: string | undefined;
    let bestCount = 0;
    for (const [k, c] of pairs)
      if (c > bestCount || (c === bestCount && best !== undefined && k < best)) [best, bestCount] = [k, c];
    if (best === undefined) break;
    const [a, b] = best.split(" ") as [string, string];
    merges.push(best);
    words = words.map(({ syms, count }) => {
      const out: string[] = [];
      for (let i = 0; i < syms.length; i++) {
        if (syms[i] === a && syms[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(syms[i] as string);
      }
      return { syms: out, count };
    });
  }
  return merges;
}

/** A seeded corpus of `n` pieces drawn with a skewed distribution, so counts differ and ties also occur. */
function randomCorpus(seed: number, n: number, pieces: readonly string[]): string {
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  let text = "";
  for (let i = 0; i < n; i++) text += pieces[Math.floor(rnd() * rnd() * pieces.length)];
  return text;
}

const SENTENCES = [
  "The cat sat on the mat. The dog sat on the log.",
  "Once upon a time, there was a little fox who liked the sun.",
  '"Can you help me?" asked Tom. Lily said, "Yes!"',
  "The bird and the cat were friends, and they played in the park every day.",
];
const trainingTexts = (copies: number) => Array.from({ length: copies }, (_, i) => SENTENCES[i % SENTENCES.length] as string);

const model = (json: Record<string, unknown>) => json.model as { vocab: Record<string, number>; merges: string[] };

describe("trainByteLevelBpe", () => {
  it("learns the textbook loop's merges, in order, on a corpus with Unicode, runs and ties", () => {
    const pieces = ["a", "b", "c", "aa", "ab", "é", "東", "😀", " ", "  ", "1", ".", "'s", "\n", "ba"];
    for (const seed of [1, 2, 3]) {
      const corpus = randomCorpus(seed, 8000, pieces);
      const json = trainByteLevelBpe([corpus], { vocabSize: 256 + 300, specialTokens: [], minFrequency: 1 });
      const expected = textbookMerges(corpus, 300);
      expect(model(json).merges.slice(0, expected.length)).toEqual(expected);
    }
  });

  it("writes GPT-2's layout: bytes in GPT-2's order, one id per merged token, special tokens last", () => {
    const json = trainByteLevelBpe(trainingTexts(40), { vocabSize: 300, specialTokens: ["<|endoftext|>", "<|pad|>"] });
    const { vocab, merges } = model(json);
    BYTE_SYMBOL_ORDER.forEach((s, i) => {
      expect(vocab[s]).toBe(i);
    });
    expect(Object.keys(vocab)).toHaveLength(300);
    expect(new Set(Object.values(vocab)).size).toBe(300);
    for (const m of merges) expect(vocab[m.replace(" ", "")]).toBeGreaterThanOrEqual(256);
    expect(vocab["<|endoftext|>"]).toBe(298);
    expect(vocab["<|pad|>"]).toBe(299);
    const added = json.added_tokens as { id: number; content: string; special: boolean }[];
    expect(added.map((a) => [a.id, a.content, a.special])).toEqual([
      [298, "<|endoftext|>", true],
      [299, "<|pad|>", true],
    ]);
    expect(json.pre_tokenizer).toEqual({ type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true });
    expect((json.decoder as { type: string }).type).toBe("ByteLevel");
  });

  it("loads through loadHfTokenizer with the asked vocabulary size and round-trips varied text", () => {
    const tok = loadHfTokenizer(trainByteLevelBpe(trainingTexts(200), { vocabSize: 320 }), undefined, "trained/tokenizer.json");
    expect(tok.vocabSize).toBe(320);
    expect(tok.tokenToId("<|endoftext|>")).toBe(319);
    expect(tok.specialTokenIds).toEqual([319]);
    const texts = [
      "The cat sat on the mat.",
      "  leading spaces, trailing spaces   ",
      "tabs\tand\nnewlines\r\n\n  and runs      of spaces",
      "café, naïve, Ærøskøbing, Straße",
      "東京は日本の首都です。中文也可以。",
      "emoji 😀👍🏽 and 👨‍👩‍👧 families",
      "digits 0123456789 3.14159 1,000,000",
      "it's they're we've I'm you'll he'd",
      "control \u0000\u0007 bytes and \u00ad soft hyphen",
      "",
    ];
    for (const t of texts) expect(tok.decode(tok.encode(t))).toBe(t);
    const eos = tok.encode("Once upon a time.<|endoftext|>The end.");
    expect(eos).toContain(319);
    expect(tok.decode(eos)).toBe("Once upon a time.<|endoftext|>The end.");
  });

  it("makes frequent words single tokens", () => {
    const tok = loadHfTokenizer(trainByteLevelBpe(trainingTexts(200), { vocabSize: 400 }), undefined, "trained/tokenizer.json");
    for (const w of [" the", " cat", " sat", " on", " mat", "The", " little"]) expect(tok.encode(w), w).toHaveLength(1);
  });

  it("is deterministic and reads any iterable", () => {
    const texts = trainingTexts(50);
    const a = trainByteLevelBpe(texts, { vocabSize: 350 });
    const b = trainByteLevelBpe(
      (function* () {
        yield* texts;
      })(),
      { vocabSize: 350 },
    );
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
  });

  it("never learns from special tokens, and stops below vocabSize when no pair is frequent enough", () => {
    const json = trainByteLevelBpe(["ab<|endoftext|>ab<|endoftext|>cd"], { vocabSize: 1000 });
    const { vocab, merges } = model(json);
    expect(merges).toEqual(["a b"]); // "cd" once, below minFrequency 2; nothing inside <|endoftext|>
    expect(Object.keys(vocab)).toHaveLength(258);
    expect(vocab["<|endoftext|>"]).toBe(257);
    const all = model(trainByteLevelBpe(["ab ab cd"], { vocabSize: 1000, minFrequency: 1 })).merges;
    // "a b" twice, then the ties at once in string order ("c" sorts before "Ġ"), until every word is one token
    expect(all).toEqual(["a b", "c d", "Ġ ab", "Ġ cd"]);
  });

  it("refuses a vocabulary too small for the bytes and special tokens", () => {
    expect(() => trainByteLevelBpe(["x"], { vocabSize: 256 })).toThrow(RangeError);
    expect(() => trainByteLevelBpe(["x"], { vocabSize: 256, specialTokens: [] })).not.toThrow();
    expect(() => trainByteLevelBpe(["x"], { vocabSize: 300, specialTokens: ["a", "a"] })).toThrow(RangeError);
  });
});
