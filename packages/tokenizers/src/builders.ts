// tokenizer.json files built from their parts, in the shapes Hugging Face's converters write: one builder per
// tokenizer family, used wherever llmdbg makes such a file (a tokenizer rebuilt from GGUF metadata, the tiny test
// models, the test fixtures), so they cannot drift apart.

type Obj = Record<string, unknown>;

/** Bytes GPT-2 spells as themselves in a byte-level vocabulary; the others are shifted above U+00FF. */
const printableByte = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);

/** GPT-2's bytes_to_unicode: `BYTE_SYMBOLS[b]` is the character byte `b` is spelled with in a byte-level vocabulary. */
export const BYTE_SYMBOLS: readonly string[] = (() => {
  let n = 0;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(printableByte(b) ? b : 256 + n++));
})();

/** The byte symbols in GPT-2's vocabulary order (its ids 0–255): the printable bytes first, then the others. */
export const BYTE_SYMBOL_ORDER: readonly string[] = [
  ...Array.from({ length: 256 }, (_, b) => b).filter(printableByte),
  ...Array.from({ length: 256 }, (_, b) => b).filter((b) => !printableByte(b)),
].map((b) => BYTE_SYMBOLS[b] as string);

/** One entry of `added_tokens` (special by default, matched on the raw text unless `normalized`). */
export function addedToken(id: number, content: string, special = true, normalized = false): Obj {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized, special };
}

/**
 * A TemplateProcessing post-processor that puts `bos` before and `eos` after each sequence (either may be absent;
 * both absent: null, no post-processor). Tokens are [id, text] pairs.
 */
export function bosEosTemplate(
  bos: readonly [number, string] | undefined,
  eos: readonly [number, string] | undefined,
): Obj | null {
  if (bos === undefined && eos === undefined) return null;
  const special = ([, text]: readonly [number, string], typeId: number) => ({ SpecialToken: { id: text, type_id: typeId } });
  const seq = (id: "A" | "B", typeId: number) => ({ Sequence: { id, type_id: typeId } });
  const wrap = (id: "A" | "B", typeId: number) => [
    ...(bos === undefined ? [] : [special(bos, typeId)]),
    seq(id, typeId),
    ...(eos === undefined ? [] : [special(eos, typeId)]),
  ];
  const specialTokens = Object.create(null) as Obj;
  for (const t of [bos, eos]) if (t !== undefined) specialTokens[t[1]] = { id: t[1], ids: [t[0]], tokens: [t[1]] };
  return {
    type: "TemplateProcessing",
    single: wrap("A", 0),
    pair: [...wrap("A", 0), ...wrap("B", 1)],
    special_tokens: specialTokens,
  };
}

const replace = (from: string, to: string) => ({ type: "Replace", pattern: { String: from }, content: to });

/**
 * Llama 2's tokenizer.json (transformers' "legacy" LlamaConverter): SentencePiece-style BPE with byte fallback, a
 * normalizer that prepends "▁" (when `addPrefixSpace`) and turns spaces into "▁", no pre-tokenizer.
 * @example sentencePieceBpeJson({ vocab, merges, addedTokens: [addedToken(0, "<unk>")], unkToken: "<unk>", addPrefixSpace: true, postProcessor: bosEosTemplate([1, "<s>"], undefined) })
 */
export function sentencePieceBpeJson(o: {
  readonly vocab: Readonly<Record<string, number>>;
  readonly merges: readonly (string | readonly [string, string])[];
  readonly addedTokens: readonly Obj[];
  readonly unkToken: string | null;
  readonly addPrefixSpace: boolean;
  readonly postProcessor: Obj | null;
}): Obj {
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: o.addedTokens,
    normalizer: o.addPrefixSpace
      ? { type: "Sequence", normalizers: [{ type: "Prepend", prepend: "▁" }, replace(" ", "▁")] }
      : replace(" ", "▁"),
    pre_tokenizer: null,
    post_processor: o.postProcessor,
    decoder: {
      type: "Sequence",
      decoders: [
        replace("▁", " "),
        { type: "ByteFallback" },
        { type: "Fuse" },
        ...(o.addPrefixSpace ? [{ type: "Strip", content: " ", start: 1, stop: 0 }] : []),
      ],
    },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: o.unkToken,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      vocab: o.vocab,
      merges: o.merges,
    },
  };
}

/**
 * A GPT-2-style byte-level BPE tokenizer.json. `splitRegex` replaces the ByteLevel pre-tokenizer's own regex by a
 * Split (Llama 3, Qwen2); `nfc` adds an NFC normalizer; a `postProcessor` replaces the plain ByteLevel one.
 * @example byteLevelBpeJson({ vocab, merges: ["Ġ t"], addedTokens: [addedToken(256, "<|endoftext|>")] })
 */
export function byteLevelBpeJson(o: {
  readonly vocab: Readonly<Record<string, number>>;
  readonly merges: readonly (string | readonly [string, string])[];
  readonly addedTokens: readonly Obj[];
  readonly splitRegex?: string | null;
  readonly nfc?: boolean;
  readonly postProcessor?: Obj | null;
  readonly ignoreMerges?: boolean;
}): Obj {
  const byteLevel = (useRegex: boolean) => ({
    type: "ByteLevel",
    add_prefix_space: false,
    trim_offsets: true,
    use_regex: useRegex,
  });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: o.addedTokens,
    normalizer: o.nfc === true ? { type: "NFC" } : null,
    pre_tokenizer:
      o.splitRegex === undefined || o.splitRegex === null
        ? byteLevel(true)
        : {
            type: "Sequence",
            pretokenizers: [
              { type: "Split", pattern: { Regex: o.splitRegex }, behavior: "Isolated", invert: false },
              byteLevel(false),
            ],
          },
    post_processor: o.postProcessor ?? { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      byte_fallback: false,
      ...(o.ignoreMerges !== undefined && { ignore_merges: o.ignoreMerges }),
      vocab: o.vocab,
      merges: o.merges,
    },
  };
}
