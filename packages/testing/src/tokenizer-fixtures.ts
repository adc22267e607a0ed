// tokenizer.json pieces shared by tokenizer.test.ts and tokenizer-gguf.test.ts: an added special token, the 256
// byte-fallback pieces, and the Llama 2 (SentencePiece BPE with byte fallback) tokenizer.json around a vocabulary.

/** A special entry of tokenizer.json's added_tokens, as transformers writes one. */
export function specialToken(id: number, content: string) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/** SentencePiece's byte-fallback pieces `<0x00>` … `<0xFF>`, in byte order. */
export function byteFallbackPieces(): string[] {
  return Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
}

/**
 * Llama 2's tokenizer.json around `vocab` and `merges` ("a b" strings or [a, b] pairs): `<unk>` `<s>` `</s>` are
 * ids 0–2 and special, the normalizer prepends "▁" and turns spaces into "▁" (there is no pre-tokenizer), the
 * post-processor prepends `<s>`, and the BPE falls back to byte pieces.
 */
export function llama2TokenizerJson(
  vocab: Record<string, number>,
  merges: readonly (string | readonly [string, string])[],
): Record<string, unknown> {
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [specialToken(0, "<unk>"), specialToken(1, "<s>"), specialToken(2, "</s>")],
    // The real Llama-2 tokenizer.json: the normalizer does what Metaspace does, and there is no pre-tokenizer.
    normalizer: {
      type: "Sequence",
      normalizers: [
        { type: "Prepend", prepend: "▁" },
        { type: "Replace", pattern: { String: " " }, content: "▁" },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [
        { SpecialToken: { id: "<s>", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "<s>", type_id: 1 } },
        { Sequence: { id: "B", type_id: 1 } },
      ],
      special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } },
    },
    decoder: {
      type: "Sequence",
      decoders: [
        { type: "Replace", pattern: { String: "▁" }, content: " " },
        { type: "ByteFallback" },
        { type: "Fuse" },
        { type: "Strip", content: " ", start: 1, stop: 0 },
      ],
    },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: "<unk>",
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      merges,
    },
  };
}
