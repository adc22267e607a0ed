// Tiny tokenizer.json fixtures for the tiny models (tiny.ts): a GPT-2-style byte-level BPE whose merges are
// learned from a fixed corpus, and a BERT-style WordPiece. Built as plain objects, loaded by tokenizer.ts.
import { addedToken, BYTE_SYMBOL_ORDER, BYTE_SYMBOLS, byteLevelBpeJson } from "@llmdbg/tokenizers";

/** The corpus the byte-level merges are learned from. */
export const TINY_CORPUS =
  "the quick brown fox jumps over the lazy dog. the dog sleeps in the sun, and the fox runs through the " +
  "forest. hello world! the model reads the text and then it writes the next token. there is the end of the " +
  "story, and then there is another one.";

// GPT-2's pre-tokenizer split (the ByteLevel pre-tokenizer with use_regex: true)
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * Learns `nMerges` byte-level BPE merges from `corpus` the textbook way: split as GPT-2 does, map bytes to
 * GPT-2's symbols, then repeatedly merge the most frequent adjacent pair (ties: the smaller "a b" string).
 */
export function learnByteLevelMerges(corpus: string, nMerges: number): [string, string][] {
  const counts = new Map<string, number>();
  for (const m of corpus.matchAll(GPT2_SPLIT)) {
    const word = Array.from(new TextEncoder().encode(m[0]), (b) => BYTE_SYMBOLS[b] as string).join("\u0000");
    counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  let words = [...counts].map(([w, c]) => ({ syms: w.split("\u0000"), count: c }));
  const merges: [string, string][] = [];
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
    for (const [k, c] of pairs) {
      if (c > bestCount || (c === bestCount && best !== undefined && k < best)) {
        best = k;
        bestCount = c;
      }
    }
    if (best === undefined) break;
    const [a, b] = best.split(" ") as [string, string];
    merges.push([a, b]);
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

export const ENDOFTEXT = "<|endoftext|>";

/**
 * A GPT-2-style byte-level BPE tokenizer.json: the 256 byte symbols (GPT-2's ids), `nMerges` merges learned
 * from TINY_CORPUS, then `<|endoftext|>` (the last id).
 */
export function tinyByteLevelTokenizer(nMerges = 40): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  BYTE_SYMBOL_ORDER.forEach((s, i) => {
    vocab[s] = i;
  });
  const merges = learnByteLevelMerges(TINY_CORPUS, nMerges);
  let next = 256;
  for (const [a, b] of merges) if (!Object.hasOwn(vocab, a + b)) vocab[a + b] = next++;
  vocab[ENDOFTEXT] = next;
  // GPT-2's own file marks <|endoftext|> normalized
  return byteLevelBpeJson({
    vocab,
    merges: merges.map(([a, b]) => `${a} ${b}`),
    addedTokens: [addedToken(next, ENDOFTEXT, true, true)],
  });
}

const BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] as const;
const BERT_WORDS = [
  "the",
  "quick",
  "brown",
  "fox",
  "jump",
  "over",
  "lazy",
  "dog",
  "sleep",
  "in",
  "sun",
  "and",
  "run",
  "through",
  "forest",
  "hello",
  "world",
  "model",
  "read",
  "text",
  "then",
  "it",
  "write",
  "next",
  "token",
  "there",
  "is",
  "end",
  "of",
  "story",
  "good",
  "bad",
  "movie",
  "very",
  "not",
];
const BERT_SUFFIXES = ["##ed", "##ing", "##ly", "##er", "##es"];

/** A BERT-style WordPiece tokenizer.json (uncased): specials, a–z, ##a–##z, digits, punctuation, words, suffixes. */
export function tinyWordPieceTokenizer(): Record<string, unknown> {
  const letters = Array.from({ length: 26 }, (_, i) => String.fromCharCode(97 + i));
  const all = [
    ...BERT_SPECIALS,
    ...letters,
    ...letters.map((l) => `##${l}`),
    ..."0123456789",
    ...".,!?'-",
    ...BERT_WORDS,
    ...BERT_SUFFIXES,
  ];
  const tokens = all.filter((t, i) => all.indexOf(t) === i);
  const cls = tokens.indexOf("[CLS]");
  const sep = tokens.indexOf("[SEP]");
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: BERT_SPECIALS.map((t) => addedToken(tokens.indexOf(t), t)),
    normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } },
        { Sequence: { id: "B", type_id: 1 } },
        { SpecialToken: { id: "[SEP]", type_id: 1 } },
      ],
      special_tokens: {
        "[CLS]": { id: "[CLS]", ids: [cls], tokens: ["[CLS]"] },
        "[SEP]": { id: "[SEP]", ids: [sep], tokens: ["[SEP]"] },
      },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: "[UNK]",
      continuing_subword_prefix: "##",
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(tokens.map((t, i) => [t, i])),
    },
  };
}

/** The tokenizer's id → token list (model vocabulary and added tokens), in id order; throws on a gap. */
export function tinyTokenList(tokenizerJson: Record<string, unknown>): string[] {
  const model = tokenizerJson.model as { vocab: Record<string, number> };
  const out: string[] = [];
  for (const [t, id] of Object.entries(model.vocab)) out[id] = t;
  for (const a of (tokenizerJson.added_tokens ?? []) as { id: number; content: string }[]) out[a.id] = a.content;
  for (let i = 0; i < out.length; i++) if (out[i] === undefined) throw new Error(`tiny tokenizer: no token with id ${i}`);
  return out;
}
