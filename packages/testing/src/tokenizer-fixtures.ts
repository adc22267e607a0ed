// tokenizer.json pieces shared by the tokenizer and conversion tests: the 256 byte-fallback pieces, and the Llama 2
// (SentencePiece BPE with byte fallback) tokenizer.json around a vocabulary, through the product's own builder.
import { addedToken, bosEosTemplate, sentencePieceBpeJson } from "@llmdbg/tokenizers";

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
  return sentencePieceBpeJson({
    vocab,
    merges,
    addedTokens: [addedToken(0, "<unk>"), addedToken(1, "<s>"), addedToken(2, "</s>")],
    unkToken: "<unk>",
    addPrefixSpace: true,
    postProcessor: bosEosTemplate([1, "<s>"], undefined),
  });
}
