// What the zoo's text classifiers share: a word-level WordPiece tokenizer built from their generated corpus (BERT's
// file layout: [PAD] [UNK] [CLS] [SEP] [MASK], BertNormalizer, BertPreTokenizer, [CLS] … [SEP] added, and every
// letter and digit as a piece so that no text is unknown), a BertForSequenceClassification config, and batched
// class probabilities read from the model as the trainer reads them (right padding with an attention mask; BERT's
// head reads the [CLS] position).
import { run } from "@llmdbg/core";
import * as T from "@llmdbg/tensor";
import { addedToken } from "@llmdbg/tokenizers";
import { classificationLogits, collate } from "@llmdbg/train";
import { tokenizerOf, type ZooModel } from "./recipe.js";

const SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] as const;

/** The words and punctuation marks of `text` as BERT's normalizer and pre-tokenizer split it (ASCII text). */
export function bertWords(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9]+|[^\sa-z0-9]/g) ?? [];
}

/**
 * A BERT-style WordPiece tokenizer.json (uncased) whose vocabulary is the specials, every letter and digit alone
 * and as a continuation ("##a"), and every word and mark of `texts` (sorted, so ids say nothing of frequency). A
 * word of the corpus is one token; any other word is spelled in pieces, never [UNK].
 * @example const json = wordPieceTokenizer(["The sound is great."]) // "the", "sound", "is", "great", "." are tokens
 */
export function wordPieceTokenizer(texts: Iterable<string>): Record<string, unknown> {
  const chars = [..."abcdefghijklmnopqrstuvwxyz0123456789"];
  const words = new Set<string>();
  for (const t of texts) for (const w of bertWords(t)) words.add(w);
  const all = [...SPECIALS, ...chars, ...chars.map((c) => `##${c}`), ...[...words].sort()];
  const tokens = all.filter((t, i) => all.indexOf(t) === i);
  const id = (t: string) => tokens.indexOf(t);
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((t) => addedToken(id(t), t)),
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
        "[CLS]": { id: "[CLS]", ids: [id("[CLS]")], tokens: ["[CLS]"] },
        "[SEP]": { id: "[SEP]", ids: [id("[SEP]")], tokens: ["[SEP]"] },
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

/** tokenizer_config.json of a WordPiece tokenizer from `wordPieceTokenizer`. */
export function bertTokenizerConfig(maxLength: number): Record<string, unknown> {
  return {
    tokenizer_class: "BertTokenizerFast",
    do_lower_case: true,
    unk_token: "[UNK]",
    sep_token: "[SEP]",
    pad_token: "[PAD]",
    cls_token: "[CLS]",
    mask_token: "[MASK]",
    model_max_length: maxLength,
  };
}

/** The shape of a small BERT classifier. */
export interface BertClassifierShape {
  readonly vocabSize: number;
  /** label names, by class index */
  readonly labels: readonly string[];
  readonly dModel: number;
  readonly layers: number;
  readonly heads: number;
  readonly positions: number;
}

/** config.json of a BertForSequenceClassification with `shape`, no dropout. */
export function bertClassifierConfig(shape: BertClassifierShape): Record<string, unknown> {
  return {
    architectures: ["BertForSequenceClassification"],
    model_type: "bert",
    vocab_size: shape.vocabSize,
    hidden_size: shape.dModel,
    num_hidden_layers: shape.layers,
    num_attention_heads: shape.heads,
    intermediate_size: 4 * shape.dModel,
    hidden_act: "gelu",
    hidden_dropout_prob: 0,
    attention_probs_dropout_prob: 0,
    classifier_dropout: null,
    max_position_embeddings: shape.positions,
    type_vocab_size: 2,
    initializer_range: 0.02,
    layer_norm_eps: 1e-12,
    pad_token_id: 0,
    position_embedding_type: "absolute",
    problem_type: "single_label_classification",
    id2label: Object.fromEntries(shape.labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(shape.labels.map((l, i) => [l, i])),
  };
}

/**
 * The class probabilities of each text [n][classes], in the order given. Texts of similar length share a forward
 * pass (`batchSize` at most), right-padded with [PAD] and masked as in training, so little is spent on padding.
 * @example classProbabilities(model, ["The sound is great."])[0] // [0.02, 0.98]
 */
export function classProbabilities(model: ZooModel, texts: readonly string[], batchSize = 256): number[][] {
  const tok = tokenizerOf(model, "classProbabilities");
  const pad = tok.padTokenId ?? 0;
  const ids = texts.map((t) => tok.encode(t));
  const order = ids.map((_, i) => i).sort((a, b) => (ids[a] as number[]).length - (ids[b] as number[]).length || a - b);
  const out: number[][] = new Array(texts.length);
  for (let i = 0; i < order.length; i += batchSize) {
    const rows = order.slice(i, i + batchSize);
    const batch = collate(
      rows.map((r) => ({ ids: ids[r] as number[], label: 0 })),
      { padId: pad },
      "class",
    );
    const probs = T.noGrad(() => {
      const output = run(
        model,
        batch.ids,
        batch.attentionMask === undefined ? {} : { attentionMask: batch.attentionMask },
      ).output;
      return T.softmax(classificationLogits(output, batch), -1); // [batch, classes]
    });
    const C = probs.shape[1] as number;
    rows.forEach((r, b) => {
      out[r] = Array.from(probs.data.subarray(b * C, (b + 1) * C));
    });
  }
  return out;
}

/** The index of the largest value (the predicted class). */
export const argmax = (p: readonly number[]): number => p.reduce((best, v, i) => (v > (p[best] as number) ? i : best), 0);
