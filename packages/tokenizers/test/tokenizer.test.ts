// Hugging Face tokenizer.json adapter and chat templates, on tiny tokenizers built here (nothing is downloaded).
// The expected ids are worked out by hand from each fixture's merges (see the comments at each case).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ModelFormatError } from "@llmdbg/formats";
import { byteFallbackPieces, llama2TokenizerJson } from "@llmdbg/testing";
import { afterAll, describe, expect, it } from "vitest";
import { addedToken, BYTE_SYMBOL_ORDER, BYTE_SYMBOLS } from "../src/builders.js";
import { ChatTemplateError, parseChatTemplate, readChatTemplate, renderChatTemplate } from "../src/chat-template.js";
import { type HfTokenizer, loadHfTokenizer } from "../src/tokenizer.js";
import { loadTokenizerFromFolder } from "../src/tokenizer-node.js";

// ---- GPT-2-style byte-level BPE ----------------------------------------------------------------------------------

describe("GPT-2's byte symbols (bytes_to_unicode)", () => {
  it("spell printable bytes as themselves and shift the rest above U+00FF, in GPT-2's order", () => {
    // values from GPT-2's vocab.json: "!" is id 0, "Ā" (byte 0) id 188, "Ġ" (space) id 220, "Ċ" (newline) id 198
    expect(BYTE_SYMBOLS[0x21]).toBe("!");
    expect(BYTE_SYMBOLS[0x61]).toBe("a");
    expect(BYTE_SYMBOLS[0x00]).toBe("\u0100");
    expect(BYTE_SYMBOLS[0x20]).toBe("\u0120");
    expect(BYTE_SYMBOLS[0x0a]).toBe("\u010a");
    expect(BYTE_SYMBOLS[0xad]).toBe("\u0143"); // the soft hyphen, the one gap among 161–255
    expect(new Set(BYTE_SYMBOLS).size).toBe(256);
    expect(BYTE_SYMBOL_ORDER.indexOf("!")).toBe(0);
    expect(BYTE_SYMBOL_ORDER.indexOf("\u0100")).toBe(188);
    expect(BYTE_SYMBOL_ORDER.indexOf("\u0120")).toBe(220);
    expect(BYTE_SYMBOL_ORDER.indexOf("\u010a")).toBe(198);
    expect([...BYTE_SYMBOL_ORDER].sort()).toEqual([...BYTE_SYMBOLS].sort());
  });
});

function gpt2Json(): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  BYTE_SYMBOL_ORDER.forEach((s, i) => {
    vocab[s] = i;
  });
  const merged = ["Ġt", "he", "Ġthe", "ll", "llo", "hello"];
  merged.forEach((s, i) => {
    vocab[s] = 256 + i;
  });
  vocab["<|endoftext|>"] = 262;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [
      { id: 262, content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false, normalized: true, special: true },
    ],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: ["Ġ t", "h e", "Ġt he", "l l", "ll o", "he llo"],
    },
  };
}
const gpt2Config = { bos_token: "<|endoftext|>", eos_token: "<|endoftext|>", unk_token: "<|endoftext|>", model_max_length: 1024 };

// ---- BERT-style WordPiece ----------------------------------------------------------------------------------------

function bertJson(): Record<string, unknown> {
  const tokens = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "hello",
    "world",
    "un",
    "##aff",
    "##able",
    ",",
    "!",
    "the",
    "cafe",
  ];
  const specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
  return {
    version: "1.0",
    added_tokens: specials.map((content, id) => addedToken(id, content)),
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
        "[CLS]": { id: "[CLS]", ids: [2], tokens: ["[CLS]"] },
        "[SEP]": { id: "[SEP]", ids: [3], tokens: ["[SEP]"] },
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
const bertConfig = {
  cls_token: "[CLS]",
  sep_token: "[SEP]",
  pad_token: "[PAD]",
  unk_token: "[UNK]",
  mask_token: "[MASK]",
  do_lower_case: true,
};

// ---- Llama-2-style SentencePiece BPE with byte fallback ----------------------------------------------------------

function llamaJson(): Record<string, unknown> {
  const vocab: Record<string, number> = { "<unk>": 0, "<s>": 1, "</s>": 2 };
  byteFallbackPieces().forEach((piece, b) => {
    vocab[piece] = 3 + b;
  });
  ["▁", "t", "h", "e", "l", "o", "▁t", "he", "▁the", "ll", "▁he", "▁hell", "▁hello"].forEach((s, i) => {
    vocab[s] = 259 + i;
  });
  return llama2TokenizerJson(vocab, ["▁ t", "h e", "▁t he", "l l", "▁ he", "▁he ll", "▁hell o"]);
}
const llamaConfig = {
  add_bos_token: true,
  add_eos_token: false,
  bos_token: { __type: "AddedToken", content: "<s>", lstrip: false, normalized: false, rstrip: false, single_word: false },
  eos_token: { __type: "AddedToken", content: "</s>", lstrip: false, normalized: false, rstrip: false, single_word: false },
  unk_token: { __type: "AddedToken", content: "<unk>", lstrip: false, normalized: false, rstrip: false, single_word: false },
  pad_token: null,
  legacy: false,
};

/** The same model with the newer Metaspace pre-tokenizer and decoder instead of the normalizer sequence. */
function llamaMetaspaceJson(): Record<string, unknown> {
  return {
    ...llamaJson(),
    normalizer: null,
    pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: "first", split: false },
    decoder: {
      type: "Sequence",
      decoders: [
        { type: "Metaspace", replacement: "▁", prepend_scheme: "first", split: false },
        { type: "ByteFallback" },
        { type: "Fuse" },
      ],
    },
  };
}

const texts = [
  "hello the world",
  "Hello, World! It's 2024 — ok?",
  "naïve café, Straße, Ελληνικά, 日本語のテキスト",
  "emoji 😀🎉👩‍👩‍👧 and flags 🇫🇷",
  "tabs\tand\nnewlines  double  spaces",
];

const expectFormatError = (f: () => unknown, file: string, field: string, detail?: RegExp): void => {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ModelFormatError);
  const e = err as ModelFormatError;
  expect(e.file).toBe(file);
  expect(e.field).toBe(field);
  expect(e.message.startsWith(`${file}: ${field}: `)).toBe(true);
  if (detail) expect(e.message).toMatch(detail);
};

describe("byte-level BPE (GPT-2 style)", () => {
  const tok = loadHfTokenizer(gpt2Json(), gpt2Config, "gpt2/tokenizer.json");

  it("encodes by the merges: hello → he,l,l,o → he,ll,o → he,llo → hello; ' the' → Ġt,h,e → Ġt,he → Ġthe", () => {
    expect(tok.encode("hello the")).toEqual([261, 258]);
    expect(tok.tokenStrings([261, 258])).toEqual(["hello", "Ġthe"]);
  });

  it("falls back to GPT-2's byte ids for unmerged text", () => {
    // ' cat' → Ġ c a t: GPT-2 ids 220, 66, 64, 83 ('c' = 99 - 33, and so on)
    expect(tok.encode(" cat")).toEqual([220, 66, 64, 83]);
    // 😀 = F0 9F 98 80: 0xF0 → 172 (printable Latin-1), 0x9F, 0x98, 0x80 → 188 + their rank among unprintable bytes
    expect(tok.encode("😀")).toEqual([172, 253, 246, 222]);
    expect(tok.tokenStrings([172, 253, 246, 222])).toEqual(["ð", "Ł", "ĺ", "Ģ"]);
  });

  it("round-trips ASCII, unicode and emoji text", () => {
    for (const t of texts) expect(tok.decode(tok.encode(t))).toBe(t);
  });

  it("matches added special tokens in the text and can skip them when decoding", () => {
    const ids = tok.encode("hello<|endoftext|> the");
    expect(ids).toEqual([261, 262, 258]);
    expect(tok.decode(ids)).toBe("hello<|endoftext|> the");
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe("hello the");
    expect(tok.specialTokenIds).toEqual([262]);
  });

  it("knows its vocabulary and special ids", () => {
    expect(tok.vocabSize).toBe(263);
    expect(tok.tokenToId("Ġthe")).toBe(258);
    expect(tok.idToToken(220)).toBe("Ġ");
    expect(tok.idToToken(263)).toBeUndefined();
    expect(tok.tokenToId("nope")).toBeUndefined();
    expect([tok.bosTokenId, tok.eosTokenId, tok.padTokenId, tok.unkTokenId]).toEqual([262, 262, undefined, 262]);
    expect(tok.chatTemplate).toBeUndefined();
  });

  it("decodes an empty list to the empty string and rejects ids outside the vocabulary", () => {
    expect(tok.encode("")).toEqual([]);
    expect(tok.decode([])).toBe("");
    expect(() => tok.decode([263])).toThrow(RangeError);
    expect(() => tok.decode([-1])).toThrow(RangeError);
    expect(() => tok.tokenStrings([1.5])).toThrow(/not in the vocabulary of gpt2\/tokenizer.json/);
  });

  it("works without a tokenizer_config.json (no special ids known)", () => {
    const bare = loadHfTokenizer(gpt2Json(), undefined, "t.json");
    expect(bare.encode("hello the")).toEqual([261, 258]);
    expect([bare.bosTokenId, bare.eosTokenId, bare.unkTokenId]).toEqual([undefined, undefined, undefined]);
  });

  it("accepts merges in the newer [a, b] pair form", () => {
    const json = gpt2Json();
    const model = json.model as Record<string, unknown>;
    model.merges = (model.merges as string[]).map((m) => m.split(" "));
    expect(loadHfTokenizer(json, undefined, "t.json").encode("hello the")).toEqual([261, 258]);
  });
});

describe("WordPiece (BERT style)", () => {
  const tok = loadHfTokenizer(bertJson(), bertConfig, "bert/tokenizer.json");

  it("lowercases, splits punctuation, finds the longest pieces and adds [CLS] … [SEP]", () => {
    // [CLS] hello , world ! un ##aff ##able [SEP]
    expect(tok.encode("Hello, World! unaffable")).toEqual([2, 5, 10, 6, 11, 7, 8, 9, 3]);
    expect(tok.encode("Hello, World! unaffable", { addSpecialTokens: false })).toEqual([5, 10, 6, 11, 7, 8, 9]);
    expect(tok.tokenStrings([7, 8, 9])).toEqual(["un", "##aff", "##able"]);
  });

  it("strips accents when lowercasing and maps unknown words to [UNK]", () => {
    expect(tok.encode("CAFÉ xyz", { addSpecialTokens: false })).toEqual([13, 1]);
    expect(tok.unkTokenId).toBe(1);
    expect(tok.padTokenId).toBe(0);
  });

  it("decodes with WordPiece joining, and without special tokens on request", () => {
    const ids = tok.encode("hello, the world! unaffable");
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe("hello, the world! unaffable");
    expect(tok.decode(ids)).toBe("[CLS] hello, the world! unaffable [SEP]");
  });

  it("matches special tokens written in the text", () => {
    expect(tok.encode("hello [SEP] world", { addSpecialTokens: false })).toEqual([5, 3, 6]);
  });

  it("defaults continuing_subword_prefix to ## as the Rust reader does", () => {
    const json = bertJson();
    delete (json.model as Record<string, unknown>).continuing_subword_prefix;
    expect(loadHfTokenizer(json, undefined, "t.json").encode("unaffable", { addSpecialTokens: false })).toEqual([7, 8, 9]);
  });
});

describe("SentencePiece-style BPE with byte fallback (Llama style)", () => {
  const tok = loadHfTokenizer(llamaJson(), llamaConfig, "llama/tokenizer.json");
  const meta = loadHfTokenizer(llamaMetaspaceJson(), llamaConfig, "llama/tokenizer.json");

  it("prepends ▁, merges ▁hello ▁the and adds <s>", () => {
    // ▁ h e l l o ▁ t h e → ▁ h e l l o ▁t h e → ▁ he l l o ▁t he → ▁ he l l o ▁the → ▁ he ll o ▁the → ▁he ll o ▁the
    //   → ▁hell o ▁the → ▁hello ▁the
    expect(tok.encode("hello the")).toEqual([1, 271, 267]);
    expect(tok.encode("hello the", { addSpecialTokens: false })).toEqual([271, 267]);
    expect(tok.tokenStrings([1, 271, 267])).toEqual(["<s>", "▁hello", "▁the"]);
    expect(meta.encode("hello the")).toEqual([1, 271, 267]);
  });

  it("falls back to <0xNN> byte tokens for characters outside the vocabulary", () => {
    // é = C3 A9 → <0xC3> = 3 + 0xC3, <0xA9> = 3 + 0xA9; 😀 = F0 9F 98 80
    expect(tok.encode("hé", { addSpecialTokens: false })).toEqual([259, 261, 198, 172]);
    expect(tok.encode("😀", { addSpecialTokens: false })).toEqual([259, 243, 162, 155, 131]);
    expect(tok.tokenStrings([198, 172])).toEqual(["<0xC3>", "<0xA9>"]);
    expect(meta.encode("😀", { addSpecialTokens: false })).toEqual([259, 243, 162, 155, 131]);
  });

  it("round-trips ASCII, unicode and emoji text (byte fallback reassembles UTF-8)", () => {
    for (const t of texts) {
      expect(tok.decode(tok.encode(t), { skipSpecialTokens: true })).toBe(t);
      expect(meta.decode(meta.encode(t), { skipSpecialTokens: true })).toBe(t);
    }
  });

  it("reads special tokens given as AddedToken objects in tokenizer_config.json", () => {
    expect([tok.bosTokenId, tok.eosTokenId, tok.unkTokenId, tok.padTokenId]).toEqual([1, 2, 0, undefined]);
    expect(tok.decode([1, 271, 2])).toBe("<s> hello</s>");
    expect(tok.decode([1, 271, 2], { skipSpecialTokens: true })).toBe("hello");
  });
});

describe("other model types", () => {
  it("reads a WordLevel model (whole words, unknown → unk_token)", () => {
    const json = {
      model: { type: "WordLevel", vocab: { "<unk>": 0, hello: 1, world: 2 }, unk_token: "<unk>" },
      pre_tokenizer: { type: "WhitespaceSplit" },
    };
    const tok = loadHfTokenizer(json, undefined, "wl.json");
    expect(tok.encode("hello there world")).toEqual([1, 0, 2]);
    expect(tok.unkTokenId).toBe(0);
  });

  it("refuses to encode a word outside a WordLevel vocabulary that has no unk_token", () => {
    const tok = loadHfTokenizer(
      { model: { type: "WordLevel", vocab: { hello: 0 } }, pre_tokenizer: { type: "WhitespaceSplit" } },
      undefined,
      "wl.json",
    );
    expect(tok.encode("hello hello")).toEqual([0, 0]);
    expect(() => tok.encode("hello there")).toThrow(/wl.json: cannot encode "there"/);
  });

  it("reads a Unigram model (best segmentation by score)", () => {
    const json = {
      normalizer: null,
      pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true },
      decoder: { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true },
      model: {
        type: "Unigram",
        unk_id: 0,
        vocab: [
          ["<unk>", 0],
          ["▁", -2],
          ["▁hello", -3],
          ["▁hel", -4],
          ["lo", -4],
          ["h", -5],
          ["e", -5],
          ["l", -5],
          ["o", -5],
        ],
      },
    };
    const tok = loadHfTokenizer(json, undefined, "uni.json");
    // ▁hello (-3) beats ▁hel + lo (-8)
    expect(tok.encode("hello")).toEqual([2]);
    expect(tok.encode("hellohe")).toEqual([2, 5, 6]);
    expect(tok.decode(tok.encode("hello hello"))).toBe("hello hello");
    expect(tok.unkTokenId).toBe(0);
  });
});

describe("malformed tokenizer.json", () => {
  const F = "bad/tokenizer.json";
  const withModel = (patch: Record<string, unknown>): Record<string, unknown> => {
    const json = gpt2Json();
    json.model = { ...(json.model as Record<string, unknown>), ...patch };
    return json;
  };

  it("is not a JSON object", () => {
    expectFormatError(() => loadHfTokenizer([1, 2], undefined, F), F, "tokenizer", /an array/);
    expectFormatError(() => loadHfTokenizer("text", undefined, F), F, "tokenizer");
    expectFormatError(() => loadHfTokenizer(null, undefined, F), F, "tokenizer");
  });

  it("has no model, or a model that is not an object", () => {
    const json = gpt2Json();
    delete json.model;
    expectFormatError(() => loadHfTokenizer(json, undefined, F), F, "model", /missing/);
    expectFormatError(() => loadHfTokenizer({ ...gpt2Json(), model: 3 }, undefined, F), F, "model");
  });

  it("has an unknown model type", () => {
    expectFormatError(
      () => loadHfTokenizer(withModel({ type: "Foo" }), undefined, F),
      F,
      "model.type",
      /"Foo".*BPE, WordPiece, Unigram, WordLevel/,
    );
    expectFormatError(() => loadHfTokenizer(withModel({ type: 7 }), undefined, F), F, "model.type");
  });

  it("has merges that reference tokens not in the vocabulary (the Rust reader rejects these too)", () => {
    expectFormatError(() => loadHfTokenizer(withModel({ merges: ["Ġ t", "x q"] }), undefined, F), F, "model.merges[1]", /"x"/);
    // parts known, result unknown: "t"+"h" → "th" is not in the vocabulary
    expectFormatError(() => loadHfTokenizer(withModel({ merges: ["t h"] }), undefined, F), F, "model.merges[0]", /"th"/);
    expectFormatError(() => loadHfTokenizer(withModel({ merges: ["a b c"] }), undefined, F), F, "model.merges[0]");
    expectFormatError(() => loadHfTokenizer(withModel({ merges: [["h"]] }), undefined, F), F, "model.merges[0]");
  });

  it("has fields of the wrong type", () => {
    expectFormatError(() => loadHfTokenizer(withModel({ vocab: [] }), undefined, F), F, "model.vocab");
    expectFormatError(() => loadHfTokenizer(withModel({ vocab: { a: "0" } }), undefined, F), F, 'model.vocab["a"]');
    expectFormatError(
      () => loadHfTokenizer(withModel({ vocab: { a: 0, b: 0 } }), undefined, F),
      F,
      'model.vocab["b"]',
      /also the id of "a"/,
    );
    expectFormatError(() => loadHfTokenizer(withModel({ merges: "h e" }), undefined, F), F, "model.merges");
    expectFormatError(() => loadHfTokenizer(withModel({ byte_fallback: "yes" }), undefined, F), F, "model.byte_fallback");
    expectFormatError(() => loadHfTokenizer(withModel({ unk_token: 5 }), undefined, F), F, "model.unk_token");
    expectFormatError(() => loadHfTokenizer({ ...gpt2Json(), added_tokens: {} }, undefined, F), F, "added_tokens");
    expectFormatError(
      () => loadHfTokenizer({ ...gpt2Json(), added_tokens: [{ id: "1", content: "x" }] }, undefined, F),
      F,
      "added_tokens[0].id",
    );
    expectFormatError(() => loadHfTokenizer({ ...gpt2Json(), decoder: "ByteLevel" }, undefined, F), F, "decoder");
    const wp = bertJson();
    delete (wp.model as Record<string, unknown>).unk_token;
    expectFormatError(() => loadHfTokenizer(wp, undefined, F), F, "model.unk_token");
    const uni = { model: { type: "Unigram", vocab: [["a", "x"]] } };
    expectFormatError(() => loadHfTokenizer(uni, undefined, F), F, "model.vocab[0]");
    const uniUnk = { model: { type: "Unigram", vocab: [["a", -1]], unk_id: 3 } };
    expectFormatError(() => loadHfTokenizer(uniUnk, undefined, F), F, "model.unk_id");
  });

  it("has an id far beyond its entries: refused at once (the library would walk up to it for minutes)", () => {
    const vocab = { ...((gpt2Json().model as Record<string, unknown>).vocab as Record<string, number>), far: 1e9 };
    expectFormatError(
      () => loadHfTokenizer(withModel({ vocab }), undefined, F),
      F,
      'model.vocab["far"]',
      /id 1000000000 is beyond this reader's limit of 2\^24 tokens/,
    );
    const added = { ...gpt2Json(), added_tokens: [{ id: 2 ** 31, content: "<big>", special: true }] };
    expectFormatError(() => loadHfTokenizer(added, undefined, F), F, "added_tokens[0].id", /id 2147483648 \("<big>"\) is beyond/);
    // with the model known, the bound is its embedding rows
    const limit = { below: 200, what: "the model's 200 embedding rows (config.json vocab_size)" };
    expectFormatError(
      () => loadHfTokenizer(gpt2Json(), undefined, F, limit),
      F,
      'model.vocab["Č"]',
      /beyond the model's 200 embedding rows/,
    );
    const unigram = { model: { type: "Unigram", vocab: Array.from({ length: 300 }, (_, i) => [`p${i}`, -i]) } };
    expectFormatError(
      () => loadHfTokenizer(unigram, undefined, F, limit),
      F,
      "model.vocab",
      /300 pieces, more than the model's 200/,
    );
  });

  it("names a component the library does not implement, in the field it sits in", () => {
    expectFormatError(
      () => loadHfTokenizer({ ...gpt2Json(), normalizer: { type: "Foo" } }, undefined, F),
      F,
      "normalizer",
      /Unknown Normalizer type: Foo/,
    );
    expectFormatError(() => loadHfTokenizer({ ...gpt2Json(), pre_tokenizer: { type: "Foo" } }, undefined, F), F, "pre_tokenizer");
    expectFormatError(
      () => loadHfTokenizer({ ...gpt2Json(), post_processor: { type: "Foo" } }, undefined, F),
      F,
      "post_processor.type",
      /unknown post-processor "Foo"; expected TemplateProcessing, BertProcessing/,
    );
    expectFormatError(() => loadHfTokenizer({ ...gpt2Json(), decoder: { type: "Foo" } }, undefined, F), F, "decoder");
  });

  // each of these loaded, then failed at encode time with a raw TypeError, or silently tokenized differently
  it.each([
    ["post_processor", { type: "TemplateProcessing", single: "x", pair: [] }, "post_processor.single", /expected an array/],
    [
      "post_processor",
      { type: "TemplateProcessing", single: [{ SpecialToken: { id: "<zz>", type_id: 0 } }], pair: [] },
      "post_processor.single[0].SpecialToken.id",
      /inserts "<zz>", which is not a token/,
    ],
    [
      "post_processor",
      { type: "TemplateProcessing", single: [{ Sequence: { id: "B", type_id: 0 } }], pair: [] },
      "post_processor.single[0].Sequence.id",
      /expected "A", got "B"/,
    ],
    [
      "post_processor",
      { type: "TemplateProcessing", single: [{ Foo: 1 }], pair: [] },
      "post_processor.single[0]",
      /expected \{"SpecialToken"/,
    ],
    ["post_processor", { type: "RobertaProcessing", cls: null, sep: ["a", 0] }, "post_processor.cls", /expected \[token, id\]/],
    ["post_processor", { type: "BertProcessing" }, "post_processor.cls", /expected \[token, id\]/],
    [
      "post_processor",
      { type: "BertProcessing", cls: ["a", BYTE_SYMBOL_ORDER.indexOf("a")], sep: ["b", 0] },
      "post_processor.sep",
      /gives "b" the id 0, but the vocabulary has it as \d+/,
    ],
    [
      "post_processor",
      { type: "Sequence", processors: [{ type: "ByteLevel", trim_offsets: "yes" }] },
      "post_processor.processors[0].trim_offsets",
      /expected a boolean/,
    ],
    ["normalizer", { type: "Sequence", normalizers: 5 }, "normalizer.normalizers", /expected an array of normalizers/],
    [
      "normalizer",
      { type: "Sequence", normalizers: [{ type: "Prepend" }] },
      "normalizer.normalizers[0].prepend",
      /missing \(Prepend needs it\)/,
    ],
    [
      "normalizer",
      { type: "Replace", pattern: 5, content: "x" },
      "normalizer.pattern",
      /expected \{"String": text\} or \{"Regex": pattern\}/,
    ],
    ["normalizer", { type: "Strip" }, "normalizer.strip_left", /missing/],
    [
      "pre_tokenizer",
      { type: "Split", pattern: { Regex: " " }, behavior: "Sideways" },
      "pre_tokenizer.behavior",
      /one of Removed, Isolated/,
    ],
    [
      "pre_tokenizer",
      { type: "Sequence", pretokenizers: [{ type: "Digits", individual_digits: "x" }] },
      "pre_tokenizer.pretokenizers[0].individual_digits",
      /a boolean/,
    ],
    ["pre_tokenizer", { type: "Metaspace", replacement: "ab" }, "pre_tokenizer.replacement", /one character/],
    ["decoder", { type: "Replace", pattern: null, content: 3 }, "decoder.pattern", /expected \{"String"/],
    ["decoder", { type: "Strip", content: " ", start: -1, stop: 0 }, "decoder.start", /non-negative integer/],
  ])("a malformed %s (%j) is refused at load naming %s", (key, value, field, detail) => {
    expectFormatError(() => loadHfTokenizer({ ...gpt2Json(), [key]: value }, undefined, F), F, field, detail);
  });

  it("an unknown token that is not a token is refused at load (encode once failed on the first unknown word)", () => {
    const wp = { model: { type: "WordPiece", unk_token: "[NOPE]", continuing_subword_prefix: "##", vocab: { a: 0, "##b": 1 } } };
    expectFormatError(
      () => loadHfTokenizer(wp, undefined, F),
      F,
      "model.unk_token",
      /"\[NOPE\]" is not a token of this tokenizer/,
    );
    const bpe = withModel({ unk_token: "" });
    expectFormatError(() => loadHfTokenizer(bpe, undefined, F), F, "model.unk_token", /"" is not a token/);
  });

  it("Sequences nested past 16 deep are refused, not recursed into until the stack overflows", () => {
    let normalizer: unknown = { type: "Lowercase" };
    let post: unknown = { type: "ByteLevel" };
    for (let i = 0; i < 100_000; i++) {
      normalizer = { type: "Sequence", normalizers: [normalizer] };
      post = { type: "Sequence", processors: [post] };
    }
    const deep = `normalizer${".normalizers[0]".repeat(17)}`;
    expectFormatError(() => loadHfTokenizer({ ...gpt2Json(), normalizer }, undefined, F), F, deep, /nested more than 16 deep/);
    const deepPost = `post_processor${".processors[0]".repeat(17)}`;
    expectFormatError(
      () => loadHfTokenizer({ ...gpt2Json(), post_processor: post }, undefined, F),
      F,
      deepPost,
      /nested more than 16 deep/,
    );
  });

  it("what only the library can check (a regular expression it cannot compile) is named by its component", () => {
    expectFormatError(
      () =>
        loadHfTokenizer(
          { ...gpt2Json(), pre_tokenizer: { type: "Split", pattern: { Regex: "(" }, behavior: "Isolated" } },
          undefined,
          F,
        ),
      F,
      "pre_tokenizer",
      /cannot be built by @huggingface\/tokenizers: Invalid regular expression/,
    );
    expectFormatError(
      () =>
        loadHfTokenizer(
          {
            ...gpt2Json(),
            normalizer: { type: "Sequence", normalizers: [{ type: "Replace", pattern: { Regex: "[" }, content: "" }] },
          },
          undefined,
          F,
        ),
      F,
      "normalizer",
      /cannot be built by @huggingface\/tokenizers: Unterminated character class/,
    );
    // built fine, fails on any text: found by the probe encode at load time, not on the user's first encode
    expectFormatError(
      () => loadHfTokenizer({ ...gpt2Json(), pre_tokenizer: { type: "FixedLength", length: 0 } }, undefined, F),
      F,
      "pre_tokenizer",
      /fails on a probe text in @huggingface\/tokenizers: Invalid array length/,
    );
  });

  it("has a malformed tokenizer_config.json, named as that file", () => {
    const C = "bad/tokenizer_config.json";
    expectFormatError(() => loadHfTokenizer(gpt2Json(), [], F), C, "tokenizer_config");
    expectFormatError(() => loadHfTokenizer(gpt2Json(), { bos_token: 1 }, F), C, "bos_token");
    expectFormatError(() => loadHfTokenizer(gpt2Json(), { additional_special_tokens: "x" }, F), C, "additional_special_tokens");
    expectFormatError(
      () => loadHfTokenizer(gpt2Json(), { clean_up_tokenization_spaces: "no" }, F),
      C,
      "clean_up_tokenization_spaces",
    );
    expectFormatError(() => loadHfTokenizer(gpt2Json(), { chat_template: 5 }, F), C, "chat_template");
  });
});

// ---- chat templates ----------------------------------------------------------------------------------------------

// Qwen2.5-Instruct's template, without its tool-calling branches.
const chatmlTemplate = `{%- if messages[0]['role'] == 'system' %}
    {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
{%- else %}
    {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant") %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
`;

// Meta-Llama-3-8B-Instruct's template, verbatim.
const llama3Template =
  "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

const conversation = [
  { role: "system", content: "You are a terse assistant." },
  { role: "user", content: " What is 2+2? \n" },
];

describe("chat templates", () => {
  it("renders a ChatML (Qwen) conversation with a generation prompt", () => {
    expect(renderChatTemplate(chatmlTemplate, conversation, { addGenerationPrompt: true })).toBe(
      "<|im_start|>system\nYou are a terse assistant.<|im_end|>\n<|im_start|>user\n What is 2+2? \n<|im_end|>\n<|im_start|>assistant\n",
    );
    expect(renderChatTemplate(chatmlTemplate, [{ role: "user", content: "Hi" }])).toBe(
      "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n",
    );
  });

  it("renders a Llama-3 conversation with bos_token and trimmed content", () => {
    expect(renderChatTemplate(llama3Template, conversation, { addGenerationPrompt: true, bosToken: "<|begin_of_text|>" })).toBe(
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a terse assistant.<|eot_id|>" +
        "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
    );
  });

  it("passes extra variables and eos_token", () => {
    const t = parseChatTemplate("{{ greeting }}{% for m in messages %}[{{ m.content }}]{% endfor %}{{ eos_token }}");
    expect(t.render([{ role: "user", content: "a" }], { eosToken: "</s>", extra: { greeting: "hi" } })).toBe("hi[a]</s>");
  });

  it("reports syntax errors and raise_exception clearly", () => {
    for (const bad of ["{% for m in messages %}{{ m.content }}", "{{ messages[0].content ", "{% if %}x{% endif %}"]) {
      let err: unknown;
      try {
        parseChatTemplate(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ChatTemplateError);
      expect((err as ChatTemplateError).phase).toBe("syntax");
      expect((err as Error).message).toMatch(/^chat template syntax error: /);
    }
    const raising = "{% if messages[0].role != 'user' %}{{ raise_exception('first message must be from the user') }}{% endif %}";
    expect(() => renderChatTemplate(raising, conversation)).toThrow(
      /chat template rendering failed: .*first message must be from the user/,
    );
  });

  it("reads chat_template from tokenizer_config.json in both forms", () => {
    const C = "tokenizer_config.json";
    expect(readChatTemplate({ chat_template: "x" }, C)).toBe("x");
    expect(readChatTemplate({}, C)).toBeUndefined();
    const list = {
      chat_template: [
        { name: "tool_use", template: "T" },
        { name: "default", template: "D" },
      ],
    };
    expect(readChatTemplate(list, C)).toBe("D");
    expect(readChatTemplate(list, C, "tool_use")).toBe("T");
    expect(readChatTemplate(list, C, "rag")).toBeUndefined();
    expectFormatError(() => readChatTemplate({ chat_template: [{ name: "default" }] }, C), C, "chat_template[0]");
    const dup = { chat_template: [list.chat_template[1], list.chat_template[1]] };
    expectFormatError(() => readChatTemplate(dup, C), C, "chat_template[1].name");
    expect(loadHfTokenizer(gpt2Json(), { ...gpt2Config, chat_template: list.chat_template }, "t.json").chatTemplate).toBe("D");
  });
});

// ---- files on disk -----------------------------------------------------------------------------------------------

describe("loadTokenizerFromFolder", () => {
  const dir = mkdtempSync(join(tmpdir(), "llmdbg-tok-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const folder = (name: string, files: Record<string, string>): string => {
    const real = mkdtempSync(join(dir, `${name}-`));
    for (const [f, text] of Object.entries(files)) writeFileSync(join(real, f), text);
    return real;
  };

  it("reads tokenizer.json, tokenizer_config.json and its chat template", () => {
    const d = folder("qwen", {
      "tokenizer.json": JSON.stringify(gpt2Json()),
      "tokenizer_config.json": JSON.stringify({ ...gpt2Config, chat_template: chatmlTemplate }),
    });
    const tok: HfTokenizer = loadTokenizerFromFolder(d);
    expect(tok.encode("hello the")).toEqual([261, 258]);
    expect(tok.eosTokenId).toBe(262);
    expect(tok.chatTemplate).toBe(chatmlTemplate);
  });

  it("falls back to chat_template.jinja and works without tokenizer_config.json", () => {
    const d = folder("jinja", { "tokenizer.json": JSON.stringify(bertJson()), "chat_template.jinja": llama3Template });
    const tok = loadTokenizerFromFolder(d);
    expect(tok.encode("hello")).toEqual([2, 5, 3]);
    expect(tok.chatTemplate).toBe(llama3Template);
  });

  it("rejects duplicate keys and bad JSON with the file and field", () => {
    const text = JSON.stringify(gpt2Json()).replace('"model":{', '"model":{"type":"BPE",');
    const d = folder("dup", { "tokenizer.json": text });
    expectFormatError(() => loadTokenizerFromFolder(d), join(d, "tokenizer.json"), "model.type", /duplicate key "type"/);
    const e = folder("cut", { "tokenizer.json": "{}", "tokenizer_config.json": '{"bos_token": ' });
    expectFormatError(() => loadTokenizerFromFolder(e), join(e, "tokenizer_config.json"), "bos_token", /invalid JSON/);
    expectFormatError(
      () => loadTokenizerFromFolder(join(dir, "missing")),
      join(dir, "missing", "tokenizer.json"),
      "file",
      /not found/,
    );
  });
});
