// Tokenizers rebuilt from GGUF metadata must give the ids of the Hugging Face tokenizer.json they were converted from.
// Each case builds both sides from one fixture — the tokenizer.json through loadHfTokenizer, the GGUF metadata the way
// llama.cpp's converter writes it, encoded and parsed back — and compares them on the same texts; no expected ids are
// written down here.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeGguf, type GgufFile, type GgufValue, type GgufWriteInput, openGguf, parseGguf } from "@llmdbg/formats";
import {
  byteFallbackPieces,
  ggufArchitectureOf,
  ggufFromTiny,
  llama2TokenizerJson,
  TINY_CORPUS,
  TINY_MODEL_TYPES,
  type TinyModelType,
  tinyGgufTokenizerMetadata,
  tinyModel,
  writeTinyGguf,
} from "@llmdbg/testing";
import { expectFormatError } from "@llmdbg/testing/vitest";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { type HfTokenizer, loadHfTokenizer } from "../src/tokenizer.js";
import { loadGgufTokenizer, mergesFromScores } from "../src/tokenizer-gguf.js";

type Meta = GgufFile["metadata"];

/** The metadata as a reader sees it: written with encodeGguf, parsed back. */
function roundTrip(input: GgufWriteInput, file: string): Meta {
  return parseGguf(encodeGguf(input), file).metadata;
}
const metaOnly = (metadata: Record<string, GgufValue>, file: string): Meta => roundTrip({ metadata, tensors: [] }, file);

const TEXTS = [
  "the quick brown fox jumps over the lazy dog.",
  "Hello world! The model reads the text.",
  "  two leading spaces,   three inside,\ttab\nnewline\n\nand blank line  ",
  "numbers 0 12 345 6789 and 3.14159, 1,000,000",
  "it's they're we've I'm you'll he'd DON'T",
  "café naïve résumé über e\u0301",
  "emoji 🙂👍🏽 and CJK 中文字 日本語 한국어",
  "symbols: <>{}[]()#$%^&*_+=|\\/~`@ — “quotes” …",
  "",
  " ",
  "\n",
];

/** Same ids, with and without special tokens, and the same text back for every id sequence. */
function expectSameTokenizer(hf: HfTokenizer, gguf: HfTokenizer, texts: readonly string[]): void {
  for (const text of texts) {
    for (const addSpecialTokens of [true, false]) {
      const ids = hf.encode(text, { addSpecialTokens });
      expect(gguf.encode(text, { addSpecialTokens }), `${JSON.stringify(text)} addSpecialTokens=${addSpecialTokens}`).toEqual(
        ids,
      );
      expect(gguf.tokenStrings(ids)).toEqual(hf.tokenStrings(ids));
      if (ids.length === 0) continue;
      for (const skipSpecialTokens of [false, true]) {
        expect(gguf.decode(ids, { skipSpecialTokens }), JSON.stringify(text)).toBe(hf.decode(ids, { skipSpecialTokens }));
      }
    }
  }
  for (const key of ["bosTokenId", "eosTokenId", "unkTokenId", "padTokenId", "chatTemplate"] as const) {
    expect(gguf[key], key).toEqual(hf[key]);
  }
  expect([...gguf.specialTokenIds].sort((a, b) => a - b)).toEqual([...hf.specialTokenIds].sort((a, b) => a - b));
}

/** Texts with the fixture's own special tokens spliced in, so they are split out as llama.cpp and HF do. */
function withSpecials(tok: HfTokenizer): string[] {
  const specials = tok.specialTokenIds.map((id) => tok.idToToken(id) as string);
  return specials.flatMap((s) => [`${s}`, `hello${s}world`, `${s} the fox ${s}${s}\n`, `a${s}中`]);
}

const GGUF_TYPES = TINY_MODEL_TYPES.filter((t) => {
  try {
    ggufArchitectureOf(t);
    return true;
  } catch {
    return false;
  }
});

describe("loadGgufTokenizer matches the tokenizer.json of each tiny model with a GGUF layout", () => {
  it("covers at least gpt2, llama, qwen2 and gpt_neox", () => {
    expect(GGUF_TYPES).toEqual(expect.arrayContaining<TinyModelType>(["gpt2", "llama", "qwen2", "gpt_neox"]));
  });

  for (const type of GGUF_TYPES) {
    it(`${type}: same ids, tokens, decoded text and special ids`, () => {
      const tiny = tinyModel(type, { seed: 1 });
      const hf = loadHfTokenizer(tiny.tokenizer, tiny.tokenizerConfig, `${type}/tokenizer.json`);
      const gguf = loadGgufTokenizer(roundTrip(ggufFromTiny(tiny), `${type}.gguf`), `${type}.gguf`);
      expect(gguf.vocabSize).toBe(hf.vocabSize);
      expectSameTokenizer(hf, gguf, [...TEXTS, ...withSpecials(hf)]);
    });
  }

  it("keeps the ids when llama.cpp pads the vocabulary with [PAD{i}] tokens; vocabSize is vocab_size", () => {
    const tiny = tinyModel("llama", { padVocabTo: 64 });
    const hf = loadHfTokenizer(tiny.tokenizer, tiny.tokenizerConfig, "llama/tokenizer.json");
    const gguf = loadGgufTokenizer(roundTrip(ggufFromTiny(tiny), "padded.gguf"), "padded.gguf");
    expect(gguf.vocabSize).toBe(tiny.config.vocab_size);
    expect(gguf.vocabSize).toBeGreaterThan(hf.vocabSize);
    for (const text of [...TEXTS, ...withSpecials(hf)]) expect(gguf.encode(text)).toEqual(hf.encode(text));
  });
});

describe("loadGgufTokenizer: files on disk", () => {
  const dir = mkdtempSync(join(tmpdir(), "llmdbg-tokenizer-gguf-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads the header openGguf returns", () => {
    const path = join(dir, "qwen2.gguf");
    const tiny = writeTinyGguf(path, "qwen2", { seed: 2 });
    const g = openGguf(path);
    try {
      const gguf = loadGgufTokenizer(g.header.metadata, path);
      const hf = loadHfTokenizer(tiny.tokenizer, tiny.tokenizerConfig, "qwen2/tokenizer.json");
      expectSameTokenizer(hf, gguf, TEXTS);
    } finally {
      g.close();
    }
  });
});

// ---- byte-level BPE with the other pre-tokenizers ----------------------------------------------------------------

// The pre-tokenizers of Meta-Llama-3's and Qwen2's tokenizer.json, as those files spell them.
const LLAMA3_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** The tiny byte-level vocabulary dressed as a Llama 3 or Qwen2 tokenizer.json, and its GGUF metadata. */
function bytePreFixture(kind: "llama3" | "qwen2") {
  const tiny = tinyModel("llama");
  const base = tiny.tokenizer as Record<string, unknown>;
  const split = {
    type: "Sequence",
    pretokenizers: [
      { type: "Split", pattern: { Regex: kind === "llama3" ? LLAMA3_SPLIT : QWEN2_SPLIT }, behavior: "Isolated", invert: false },
      { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
    ],
  };
  const eot = "<|endoftext|>";
  const tokenizer = {
    ...base,
    added_tokens: (base.added_tokens as object[]).map((a) => ({ ...a, normalized: false })),
    normalizer: kind === "qwen2" ? { type: "NFC" } : null,
    pre_tokenizer: split,
    post_processor:
      kind === "llama3"
        ? {
            type: "Sequence",
            processors: [
              { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
              {
                type: "TemplateProcessing",
                single: [{ SpecialToken: { id: eot, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
                pair: [
                  { SpecialToken: { id: eot, type_id: 0 } },
                  { Sequence: { id: "A", type_id: 0 } },
                  { SpecialToken: { id: eot, type_id: 1 } },
                  { Sequence: { id: "B", type_id: 1 } },
                ],
                special_tokens: { [eot]: { id: eot, ids: [tiny.config.bos_token_id], tokens: [eot] } },
              },
            ],
          }
        : base.post_processor,
    model: { ...(base.model as object), ignore_merges: kind === "llama3" },
  };
  const chatTemplate = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}";
  const tokenizerConfig = { ...tiny.tokenizerConfig, chat_template: chatTemplate };
  const meta = {
    ...tinyGgufTokenizerMetadata({ ...tiny, tokenizer, tokenizerConfig }),
    "tokenizer.ggml.pre": { type: "string", value: kind === "llama3" ? "llama-bpe" : "qwen2" } as GgufValue,
  };
  return { tokenizer, tokenizerConfig, meta };
}

describe("loadGgufTokenizer honours tokenizer.ggml.pre", () => {
  for (const kind of ["llama3", "qwen2"] as const) {
    it(`${kind}: the Split regex, ${kind === "llama3" ? "ignore_merges and the bos template" : "NFC"} and the chat template`, () => {
      const fx = bytePreFixture(kind);
      const hf = loadHfTokenizer(fx.tokenizer, fx.tokenizerConfig, `${kind}/tokenizer.json`);
      const gguf = loadGgufTokenizer(metaOnly(fx.meta, `${kind}.gguf`), `${kind}.gguf`);
      expect(gguf.chatTemplate).toContain("messages");
      expectSameTokenizer(hf, gguf, [...TEXTS, ...withSpecials(hf), "12345678 x1234", "  hello\n\n  world", "e\u0301e\u0301"]);
    });
  }

  it("splits differently under gpt-2, llama-bpe and qwen2 (the key is not ignored)", () => {
    // Two digit merges make the splits visible: GPT-2 keeps " 12345678" whole, Llama 3 cuts it into 1–3 digit runs,
    // Qwen2 into single digits.
    const base = tinyGgufTokenizerMetadata(tinyModel("llama"));
    const arr = (key: string) => (base[key] as Extract<GgufValue, { type: "array" }>).value.items as (string | number)[];
    const meta: Record<string, GgufValue> = {
      ...base,
      "tokenizer.ggml.tokens": {
        type: "array",
        value: { elemType: "string", items: [...(arr("tokenizer.ggml.tokens") as string[]), "34", "78"] },
      },
      "tokenizer.ggml.token_type": {
        type: "array",
        value: { elemType: "i32", items: [...(arr("tokenizer.ggml.token_type") as number[]), 1, 1] },
      },
      "tokenizer.ggml.merges": {
        type: "array",
        value: { elemType: "string", items: ["3 4", "7 8", ...(arr("tokenizer.ggml.merges") as string[])] },
      },
    };
    const under = (pre: string) =>
      loadGgufTokenizer(
        metaOnly({ ...meta, "tokenizer.ggml.pre": { type: "string", value: pre } }, `${pre}.gguf`),
        `${pre}.gguf`,
      );
    const pieces = (pre: string) => under(pre).tokenStrings(under(pre).encode(" 12345678", { addSpecialTokens: false }));
    expect(pieces("gpt-2")).toEqual(["Ġ", "1", "2", "34", "5", "6", "78"]);
    expect(pieces("llama-bpe")).toEqual(["Ġ", "1", "2", "3", "4", "5", "6", "78"]);
    expect(pieces("qwen2")).toEqual(["Ġ", "1", "2", "3", "4", "5", "6", "7", "8"]);
    // "default" and a missing key are GPT-2's split, as in transformers
    expect(pieces("default")).toEqual(pieces("gpt-2"));
    const { "tokenizer.ggml.pre": _, ...noPre } = meta;
    const bare = loadGgufTokenizer(metaOnly(noPre, "nopre.gguf"), "nopre.gguf");
    expect(bare.encode(" 12345678")).toEqual(under("gpt-2").encode(" 12345678"));
  });
});

// ---- WordPiece ----------------------------------------------------------------------------------------------------

describe("loadGgufTokenizer: bert (WordPiece in llama.cpp's phantom-space spelling)", () => {
  it("undoes the phantom spelling and wraps in [CLS] … [SEP] like the tokenizer.json", () => {
    const tiny = tinyModel("bert");
    const meta = tinyGgufTokenizerMetadata(tiny);
    const tokens = (meta["tokenizer.ggml.tokens"] as Extract<GgufValue, { type: "array" }>).value.items as string[];
    expect(tokens).toContain("▁the"); // the fixture really is in llama.cpp's spelling
    expect(tokens).toContain("ing");
    const hf = loadHfTokenizer(tiny.tokenizer, tiny.tokenizerConfig, "bert/tokenizer.json");
    const gguf = loadGgufTokenizer(metaOnly(meta, "bert.gguf"), "bert.gguf");
    expect(gguf.vocabSize).toBe(hf.vocabSize);
    const texts = [...TEXTS, ...withSpecials(hf), "The Quick, BROWN fox's jumping!", "hello [MASK] world [SEP]"];
    expectSameTokenizer(hf, gguf, texts);
    expect(gguf.encode("the dog")[0]).toBe(gguf.tokenToId("[CLS]"));
  });
});

// ---- SentencePiece BPE with byte fallback (Llama 2 style) ---------------------------------------------------------

/**
 * A SentencePiece BPE model trained the textbook way on TINY_CORPUS ("▁" for spaces, most frequent pair first, ties
 * to the smaller pair): <unk> <s> </s>, the 256 byte pieces, merged pieces in merge order, then single characters.
 * Scores as sentencepiece keeps them: 0 for control and byte pieces, falling by one per piece after.
 */
function spmVocab(nMerges = 60): { pieces: string[]; scores: number[]; types: number[] } {
  const counts = new Map<string, number>();
  for (const w of TINY_CORPUS.split(" ")) counts.set(`▁${w}`, (counts.get(`▁${w}`) ?? 0) + 1);
  let words = [...counts].map(([w, count]) => ({ syms: Array.from(w), count }));
  const charFreq = new Map<string, number>();
  for (const { syms, count } of words) for (const s of syms) charFreq.set(s, (charFreq.get(s) ?? 0) + count);
  const merged: string[] = [];
  while (merged.length < nMerges) {
    const pairs = new Map<string, number>();
    for (const { syms, count } of words) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const k = `${syms[i]}\u0000${syms[i + 1]}`;
        pairs.set(k, (pairs.get(k) ?? 0) + count);
      }
    }
    let best: string | undefined;
    for (const [k, c] of pairs)
      if (best === undefined || c > (pairs.get(best) as number) || (c === pairs.get(best) && k < best)) best = k;
    if (best === undefined) break;
    const [a, b] = best.split("\u0000") as [string, string];
    merged.push(a + b);
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
  const chars = [...charFreq].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).map(([c]) => c);
  const bytes = byteFallbackPieces();
  const normal = [...new Set([...merged, ...chars])];
  const pieces = ["<unk>", "<s>", "</s>", ...bytes, ...normal];
  const scores = [0, 0, 0, ...bytes.map(() => 0), ...normal.map((_, i) => -i)];
  const types = [2, 3, 3, ...bytes.map(() => 6), ...normal.map(() => 1)];
  return { pieces, scores, types };
}

/** Llama 2's tokenizer.json shape, merges as transformers' SentencePieceExtractor derives them (ids ascending). */
function spmTokenizerJson(pieces: string[], scores: number[]): Record<string, unknown> {
  const vocab = Object.fromEntries(pieces.map((p, i) => [p, i]));
  const merges: { l: string; r: string; s: number }[] = [];
  pieces.forEach((piece, i) => {
    const chars = Array.from(piece);
    const local: { l: string; r: string; s: number }[] = [];
    for (let k = 1; k < chars.length; k++) {
      const l = chars.slice(0, k).join("");
      const r = chars.slice(k).join("");
      if (l in vocab && r in vocab) local.push({ l, r, s: scores[i] as number });
    }
    local.sort((x, y) => (vocab[x.l] as number) - (vocab[y.l] as number) || (vocab[x.r] as number) - (vocab[y.r] as number));
    merges.push(...local);
  });
  merges.sort((x, y) => y.s - x.s);
  return llama2TokenizerJson(
    vocab,
    merges.map(({ l, r }) => [l, r] as const),
  );
}

const SPM_TEMPLATE = "{{ bos_token }}{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}";

/** The metadata llama.cpp's `_set_vocab_sentencepiece` writes for that model. */
function spmMetadata(pieces: string[], scores: number[], types: number[]): Record<string, GgufValue> {
  const u32 = (value: number): GgufValue => ({ type: "u32", value });
  const bool = (value: boolean): GgufValue => ({ type: "bool", value });
  return {
    "tokenizer.ggml.model": { type: "string", value: "llama" },
    "tokenizer.ggml.pre": { type: "string", value: "default" },
    "tokenizer.ggml.tokens": { type: "array", value: { elemType: "string", items: pieces } },
    "tokenizer.ggml.scores": { type: "array", value: { elemType: "f32", items: scores } },
    "tokenizer.ggml.token_type": { type: "array", value: { elemType: "i32", items: types } },
    "tokenizer.ggml.add_space_prefix": bool(true),
    "tokenizer.ggml.bos_token_id": u32(1),
    "tokenizer.ggml.eos_token_id": u32(2),
    "tokenizer.ggml.unknown_token_id": u32(0),
    "tokenizer.ggml.add_bos_token": bool(true),
    "tokenizer.ggml.add_eos_token": bool(false),
    "tokenizer.chat_template": { type: "string", value: SPM_TEMPLATE },
  };
}

describe("loadGgufTokenizer: llama (SentencePiece BPE, merges rebuilt from scores, byte fallback)", () => {
  const { pieces, scores, types } = spmVocab();
  const hfJson = spmTokenizerJson(pieces, scores);
  const hfConfig = { bos_token: "<s>", eos_token: "</s>", unk_token: "<unk>", pad_token: null, chat_template: SPM_TEMPLATE };

  it("gives the ids of the Llama-2-style tokenizer.json, bytes for what the pieces do not cover", () => {
    const hf = loadHfTokenizer(hfJson, hfConfig, "spm/tokenizer.json");
    const gguf = loadGgufTokenizer(metaOnly(spmMetadata(pieces, scores, types), "spm.gguf"), "spm.gguf");
    expect(gguf.vocabSize).toBe(hf.vocabSize);
    expectSameTokenizer(hf, gguf, [...TEXTS, ...withSpecials(hf), "<s>the dog</s>", "the</s> fox"]);
    // byte fallback really is exercised: CJK comes out as <0x..> pieces
    const cjk = gguf.tokenStrings(gguf.encode("中", { addSpecialTokens: false }));
    expect(cjk.filter((t) => /^<0x[0-9A-F]{2}>$/.test(t)).length).toBe(3);
  });

  it("rebuilds merges that tokenize like the extractor's (a merge set of the same size)", () => {
    const fromScores = mergesFromScores(pieces, scores);
    expect(fromScores.length).toBe((hfJson.model as { merges: unknown[] }).merges.length);
    expect(fromScores.length).toBeGreaterThan(60);
  });

  it("rebuilds exactly the merges of the definition (every split into two pieces), surrogate pairs included", () => {
    // the definition, written the slow way: every code-point split of every piece
    const reference = (toks: readonly string[], sc: readonly number[]): [string, string][] => {
      const score = new Map(toks.map((t, i) => [t, sc[i] as number]));
      const all: { l: string; r: string; s: number }[] = [];
      for (const [piece, s] of score) {
        const chars = Array.from(piece);
        const local: { l: string; r: string; s: number }[] = [];
        for (let k = 1; k < chars.length; k++) {
          const l = chars.slice(0, k).join("");
          const r = chars.slice(k).join("");
          if (score.has(l) && score.has(r)) local.push({ l, r, s });
        }
        local.sort((x, y) => (score.get(y.l) ?? 0) - (score.get(x.l) ?? 0) || (score.get(y.r) ?? 0) - (score.get(x.r) ?? 0));
        all.push(...local);
      }
      return all.sort((x, y) => y.s - x.s).map(({ l, r }) => [l, r]);
    };
    const alphabet = ["a", "b", "▁", "😀", "\uD83D"];
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.array(fc.constantFrom(...alphabet), { minLength: 1, maxLength: 6 }), fc.integer({ min: -20, max: 0 })),
          {
            maxLength: 60,
          },
        ),
        (entries) => {
          const toks = entries.map(([cs]) => cs.join(""));
          const sc = entries.map(([, v]) => v);
          expect(mergesFromScores(toks, sc)).toEqual(reference(toks, sc));
        },
      ),
      { numRuns: 300, seed: 13 },
    );
    expect(mergesFromScores(pieces, scores)).toEqual(reference(pieces, scores));
  });

  it("a 30,000-character piece costs its length, not its square (a fuzzed file took 72 s)", () => {
    const long = "▁".repeat(15000) + "ab".repeat(7500);
    const gguf = loadGgufTokenizer(
      metaOnly(spmMetadata([...pieces, long], [...scores, -1e4], [...types, 1]), "spm.gguf"),
      "spm.gguf",
    );
    expect(gguf.vocabSize).toBe(pieces.length + 1);
  });

  it("pieces whose merges would outgrow the file are refused naming tokenizer.ggml.tokens", () => {
    // "ж", "жж", …, "ж"×600: 180,000 characters whose splits are 180,000 merges holding 72 million
    const xs = Array.from({ length: 600 }, (_, i) => "ж".repeat(i + 1));
    const meta = spmMetadata([...pieces, ...xs], [...scores, ...xs.map((_, i) => -100 - i)], [...types, ...xs.map(() => 1)]);
    expectFormatError(
      () => loadGgufTokenizer(metaOnly(meta, "spm.gguf"), "spm.gguf"),
      "spm.gguf",
      "tokenizer.ggml.tokens",
      /split into more merges than a vocabulary of this size can have/,
    );
    expect(() =>
      mergesFromScores(
        xs,
        xs.map((_, i) => -i),
      ),
    ).toThrow(RangeError);
    expect(
      mergesFromScores(
        xs.slice(0, 40),
        xs.slice(0, 40).map((_, i) => -i),
      ),
    ).toHaveLength((40 * 39) / 2);
  });

  it("add_bos_token false and add_space_prefix false change the encoding as llama.cpp does", () => {
    const meta = {
      ...spmMetadata(pieces, scores, types),
      "tokenizer.ggml.add_bos_token": { type: "bool", value: false } as GgufValue,
      "tokenizer.ggml.add_space_prefix": { type: "bool", value: false } as GgufValue,
    };
    const gguf = loadGgufTokenizer(metaOnly(meta, "spm.gguf"), "spm.gguf");
    const hf = loadHfTokenizer(hfJson, hfConfig, "spm/tokenizer.json");
    const ids = gguf.encode("the dog");
    expect(gguf.tokenStrings(ids).join("")).toBe("the▁dog"); // no <s>, no "▁" in front of "the"
    expect(hf.tokenStrings(hf.encode("the dog")).join("")).toBe("<s>▁the▁dog");
    expect(gguf.decode(ids)).toBe("the dog");
  });
});

// ---- details of the token list ------------------------------------------------------------------------------------

/** The tiny gpt2 metadata with tokens (and their types) appended and merges put first. */
function extended(extra: [string, number][], merges: string[] = []): Record<string, GgufValue> {
  const base = tinyGgufTokenizerMetadata(tinyModel("gpt2"));
  const arr = <T>(key: string) => (base[key] as Extract<GgufValue, { type: "array" }>).value.items as T[];
  return {
    ...base,
    "tokenizer.ggml.tokens": {
      type: "array",
      value: { elemType: "string", items: [...arr<string>("tokenizer.ggml.tokens"), ...extra.map(([t]) => t)] },
    },
    "tokenizer.ggml.token_type": {
      type: "array",
      value: { elemType: "i32", items: [...arr<number>("tokenizer.ggml.token_type"), ...extra.map(([, k]) => k)] },
    },
    "tokenizer.ggml.merges": {
      type: "array",
      value: { elemType: "string", items: [...merges, ...arr<string>("tokenizer.ggml.merges")] },
    },
  };
}

describe("loadGgufTokenizer: token types and spellings", () => {
  it("splits out USER_DEFINED tokens as plain (non-special) added tokens", () => {
    const tok = loadGgufTokenizer(metaOnly(extended([["<tool>", 4]]), "user.gguf"), "user.gguf");
    const id = tok.tokenToId("<tool>") as number;
    const ids = tok.encode("a<tool>b");
    expect(ids).toContain(id);
    expect(tok.specialTokenIds).not.toContain(id);
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe("a<tool>b");
  });

  it("respells a normal token the converter wrote decoded, so its merge still applies (Phi-4's U+FFFD)", () => {
    // U+FFFD is bytes EF BF BD, "ï¿½" in the byte-level spelling the merges use
    const meta = extended(
      [
        ["ï¿", 1],
        ["\ufffd", 1],
      ],
      ["ï ¿", "ï¿ ½"],
    );
    const tok = loadGgufTokenizer(metaOnly(meta, "respelled.gguf"), "respelled.gguf");
    const ids = tok.encode("\ufffd", { addSpecialTokens: false });
    expect(ids).toEqual([tok.vocabSize - 1]);
    expect(tok.tokenStrings(ids)).toEqual(["ï¿½"]);
    expect(tok.decode(ids)).toBe("\ufffd");
  });

  it("takes any token text, __proto__ included", () => {
    const tok = loadGgufTokenizer(metaOnly(extended([["__proto__", 1]]), "proto.gguf"), "proto.gguf");
    expect(tok.tokenToId("__proto__")).toBe(tok.vocabSize - 1);
  });

  it("without token_type, treats the bos, eos and unk tokens as special (as transformers does)", () => {
    const { pieces, scores, types } = spmVocab();
    const { "tokenizer.ggml.token_type": _, ...meta } = spmMetadata(pieces, scores, types);
    const hfConfig = { bos_token: "<s>", eos_token: "</s>", unk_token: "<unk>", chat_template: SPM_TEMPLATE };
    const hf = loadHfTokenizer(spmTokenizerJson(pieces, scores), hfConfig, "spm/tokenizer.json");
    const gguf = loadGgufTokenizer(metaOnly(meta, "notypes.gguf"), "notypes.gguf");
    expectSameTokenizer(hf, gguf, [...TEXTS, ...withSpecials(hf)]);
  });
});

// ---- malformed metadata ---------------------------------------------------------------------------------------------

describe("loadGgufTokenizer rejects malformed metadata, naming the file and the key", () => {
  const file = "bad.gguf";
  const good = tinyGgufTokenizerMetadata(tinyModel("gpt2"));
  const n = (good["tokenizer.ggml.tokens"] as Extract<GgufValue, { type: "array" }>).value.items.length;
  const spm = spmVocab(20);
  const goodSpm = spmMetadata(spm.pieces, spm.scores, spm.types);
  const load = (meta: Record<string, GgufValue>) => () => loadGgufTokenizer(new Map(Object.entries(meta)), file);
  const without = (meta: Record<string, GgufValue>, key: string) =>
    Object.fromEntries(Object.entries(meta).filter(([k]) => k !== key));
  const str = (value: string): GgufValue => ({ type: "string", value });
  const u32 = (value: number): GgufValue => ({ type: "u32", value });
  const strings = (items: string[]): GgufValue => ({ type: "array", value: { elemType: "string", items } });
  const i32s = (items: number[]): GgufValue => ({ type: "array", value: { elemType: "i32", items } });
  const tokens = (good["tokenizer.ggml.tokens"] as Extract<GgufValue, { type: "array" }>).value.items as string[];
  const types = (good["tokenizer.ggml.token_type"] as Extract<GgufValue, { type: "array" }>).value.items as number[];

  it("the fixture itself loads (so each case below fails for its one change)", () => {
    expect(load(good)().vocabSize).toBe(n);
    expect(load(goodSpm)().vocabSize).toBe(spm.pieces.length);
  });

  const cases: [string, () => Record<string, GgufValue>, string | RegExp, RegExp][] = [
    ["a missing tokenizer.ggml.model", () => without(good, "tokenizer.ggml.model"), "tokenizer.ggml.model", /got nothing/],
    [
      "a tokenizer.ggml.model that is not a string",
      () => ({ ...good, "tokenizer.ggml.model": u32(2) }),
      "tokenizer.ggml.model",
      /expected a string, got u32 2/,
    ],
    [
      "an unsupported model",
      () => ({ ...good, "tokenizer.ggml.model": str("t5") }),
      "tokenizer.ggml.model",
      /Unigram.*supported: gpt2, llama, bert/,
    ],
    [
      "an unknown model",
      () => ({ ...good, "tokenizer.ggml.model": str("sentencepiece") }),
      "tokenizer.ggml.model",
      /unknown model/,
    ],
    ["missing tokens", () => without(good, "tokenizer.ggml.tokens"), "tokenizer.ggml.tokens", /array of strings, got nothing/],
    [
      "tokens of the wrong type",
      () => ({ ...good, "tokenizer.ggml.tokens": i32s([1, 2, 3]) }),
      "tokenizer.ggml.tokens",
      /array of 3 i32/,
    ],
    [
      "an empty token",
      () => ({ ...good, "tokenizer.ggml.tokens": strings(tokens.map((t, i) => (i === 5 ? "" : t))) }),
      "tokenizer.ggml.tokens[5]",
      /empty/,
    ],
    [
      "a repeated token",
      () => ({ ...good, "tokenizer.ggml.tokens": strings(tokens.map((t, i) => (i === 7 ? (tokens[3] as string) : t))) }),
      "tokenizer.ggml.tokens[7]",
      /also token 3/,
    ],
    [
      "a token_type array one short",
      () => ({ ...good, "tokenizer.ggml.token_type": i32s(types.slice(1)) }),
      "tokenizer.ggml.token_type",
      new RegExp(`${n - 1} entries.*has ${n}`),
    ],
    [
      "a token_type of the wrong element type",
      () => ({ ...good, "tokenizer.ggml.token_type": strings(tokens) }),
      "tokenizer.ggml.token_type",
      /i32/,
    ],
    [
      "an unknown token type",
      () => ({ ...good, "tokenizer.ggml.token_type": i32s(types.map((t, i) => (i === 4 ? 9 : t))) }),
      "tokenizer.ggml.token_type[4]",
      /0–6, got 9/,
    ],
    [
      "a bos id past the vocabulary",
      () => ({ ...good, "tokenizer.ggml.bos_token_id": u32(n) }),
      "tokenizer.ggml.bos_token_id",
      new RegExp(`\\[0, ${n}\\), got ${n}`),
    ],
    [
      "an eos id that is a string",
      () => ({ ...good, "tokenizer.ggml.eos_token_id": str("<|endoftext|>") }),
      "tokenizer.ggml.eos_token_id",
      /integer token id/,
    ],
    [
      "a padding id that is negative",
      () => ({ ...good, "tokenizer.ggml.padding_token_id": { type: "i32", value: -1 } }),
      "tokenizer.ggml.padding_token_id",
      /got -1/,
    ],
    ["missing merges for gpt2", () => without(good, "tokenizer.ggml.merges"), "tokenizer.ggml.merges", /got nothing/],
    [
      "a merge of tokens not in the vocabulary",
      () => ({ ...good, "tokenizer.ggml.merges": strings(["zq qz"]) }),
      "tokenizer.ggml.merges[0]",
      /"zq" is not a token/,
    ],
    [
      "a merge without a space",
      () => ({ ...good, "tokenizer.ggml.merges": strings(["th", "the"]) }),
      "tokenizer.ggml.merges[0]",
      /"left right"/,
    ],
    [
      "an unknown pre-tokenizer",
      () => ({ ...good, "tokenizer.ggml.pre": str("made-up") }),
      "tokenizer.ggml.pre",
      /"made-up".*known: .*gpt-2.*llama-bpe.*qwen2/,
    ],
    [
      "add_bos_token that is not a bool",
      () => ({ ...good, "tokenizer.ggml.add_bos_token": u32(1) }),
      "tokenizer.ggml.add_bos_token",
      /expected a bool/,
    ],
    [
      "add_bos_token without a bos id",
      () => ({ ...without(good, "tokenizer.ggml.bos_token_id"), "tokenizer.ggml.add_bos_token": { type: "bool", value: true } }),
      "tokenizer.ggml.bos_token_id",
      /add_bos_token is true/,
    ],
    [
      "a chat template that is not a string",
      () => ({ ...good, "tokenizer.chat_template": u32(0) }),
      "tokenizer.chat_template",
      /expected a string/,
    ],
    ["llama without scores", () => without(goodSpm, "tokenizer.ggml.scores"), "tokenizer.ggml.scores", /got nothing/],
    [
      "llama scores one short",
      () => ({ ...goodSpm, "tokenizer.ggml.scores": { type: "array", value: { elemType: "f32", items: spm.scores.slice(1) } } }),
      "tokenizer.ggml.scores",
      /entries, but tokenizer.ggml.tokens has/,
    ],
    [
      "llama scores as f64",
      () => ({ ...goodSpm, "tokenizer.ggml.scores": { type: "array", value: { elemType: "f64", items: spm.scores } } }),
      "tokenizer.ggml.scores",
      /f32 or i32/,
    ],
    [
      "llama scores with a NaN",
      () => ({
        ...goodSpm,
        "tokenizer.ggml.scores": {
          type: "array",
          value: { elemType: "f32", items: spm.scores.map((s, i) => (i === 9 ? Number.NaN : s)) },
        },
      }),
      "tokenizer.ggml.scores[9]",
      /finite/,
    ],
    [
      "llama with add_bos (its default) and no bos id",
      () => without(without(goodSpm, "tokenizer.ggml.add_bos_token"), "tokenizer.ggml.bos_token_id"),
      "tokenizer.ggml.bos_token_id",
      /default for llama/,
    ],
  ];

  for (const [what, meta, field, detail] of cases) {
    it(`rejects ${what}`, () => {
      expectFormatError(load(meta()), file, field, detail);
    });
  }

  it("rejects bert without an unknown token", () => {
    const bert = tinyGgufTokenizerMetadata(tinyModel("bert"));
    const items = (bert["tokenizer.ggml.tokens"] as Extract<GgufValue, { type: "array" }>).value.items as string[];
    const meta = {
      ...without(bert, "tokenizer.ggml.unknown_token_id"),
      "tokenizer.ggml.tokens": strings(items.map((t) => (t === "[UNK]" ? "[OOV]" : t))),
    };
    expectFormatError(load(meta), file, "tokenizer.ggml.unknown_token_id", /WordPiece needs an unknown token/);
  });
});
