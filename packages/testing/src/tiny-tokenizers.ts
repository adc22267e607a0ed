// Tiny tokenizer.json fixtures for the tiny models (tiny.ts): a GPT-2-style byte-level BPE whose merges are
// learned from a fixed corpus, and a BERT-style WordPiece. Built as plain objects, loaded by tokenizer.ts.
import { addedToken, BYTE_SYMBOL_ORDER, byteLevelBpeJson, trainByteLevelBpe } from "@llmdbg/tokenizers";

/** The corpus the byte-level merges are learned from. */
export const TINY_CORPUS =
  "the quick brown fox jumps over the lazy dog. the dog sleeps in the sun, and the fox runs through the " +
  "forest. hello world! the model reads the text and then it writes the next token. there is the end of the " +
  "story, and then there is another one.";

/**
 * The first `nMerges` byte-level BPE merges learned from `corpus`: GPT-2's split, GPT-2's byte symbols, the most
 * frequent adjacent pair first (ties: the smaller "a b" string) — tokenizers' trainByteLevelBpe, whose tests hold it
 * to the textbook recount-every-pair loop. A vocabulary of 256 + nMerges holds at least nMerges merges (two merges
 * may spell one token), and training is greedy, so the first nMerges are those of any longer training.
 */
export function learnByteLevelMerges(corpus: string, nMerges: number): [string, string][] {
  const json = trainByteLevelBpe([corpus], { vocabSize: 256 + nMerges, specialTokens: [], minFrequency: 1 });
  const merges = (json.model as { merges: string[] }).merges;
  return merges.slice(0, nMerges).map((m) => m.split(" ") as [string, string]);
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
