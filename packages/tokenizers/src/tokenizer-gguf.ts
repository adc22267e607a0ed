// A GGUF file ships no tokenizer.json: llama.cpp's converter stores the vocabulary, its merges or scores, the token
// types and the special ids as `tokenizer.ggml.*` metadata. This file rebuilds the tokenizer.json the checkpoint was
// converted from — as transformers' integrations/ggml.py does — and hands it to loadHfTokenizer, so GGUF and
// Hugging Face checkpoints tokenize through one code path and yield the same ids.
//
// Everything is checked before the library sees it: a broken file fails with `file: tokenizer.ggml.<key>: detail`
// rather than tokenizing differently than llama.cpp or transformers would.

import type { GgufFile, GgufValue } from "@llmdbg/formats";
import { ModelFormatError, show } from "@llmdbg/formats";
import { addedToken, BYTE_SYMBOLS, bosEosTemplate, byteLevelBpeJson, sentencePieceBpeJson } from "./builders.js";
import { type HfTokenizer, loadHfTokenizer } from "./tokenizer.js";

/** The `tokenizer.ggml.model` values this reader rebuilds. */
export const GGUF_TOKENIZER_MODELS = ["gpt2", "llama", "bert"] as const;
export type GgufTokenizerModel = (typeof GGUF_TOKENIZER_MODELS)[number];

/** llama.cpp's llama_token_type (gguf-py TokenType); 0 is "undefined". */
const TokenType = { undefined: 0, normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

type Obj = Record<string, unknown>;
type Meta = GgufFile["metadata"];

// ——— pre-tokenizers of byte-level BPE files ———

/** How a byte-level vocabulary cuts text before BPE: the regex its merges were learned on. */
type PreSplit = "gpt2" | "llama3" | "qwen2";

// The originals from the models' tokenizer.json (Oniguruma syntax; the library rewrites them for JS). llama.cpp keeps
// hand-adapted copies in llama-vocab.cpp because its own regex engine lacks `(?i:…)`.
const LLAMA3_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

interface PreSplitSpec {
  /** a Split in front of ByteLevel; null: ByteLevel's own GPT-2 regex */
  readonly regex: string | null;
  /** Qwen2's tokenizer.json NFC-normalizes; the others have no normalizer */
  readonly nfc: boolean;
  /** llama.cpp sets `ignore_merges` for Llama 3 (a pre-token that is itself in the vocabulary is kept whole) */
  readonly ignoreMerges: boolean;
  /** llama.cpp's add_bos default for the family (the file's tokenizer.ggml.add_bos_token wins) */
  readonly addBos: boolean;
}

const PRE_SPLITS: { readonly [P in PreSplit]: PreSplitSpec } = {
  gpt2: { regex: null, nfc: false, ignoreMerges: false, addBos: false },
  llama3: { regex: LLAMA3_REGEX, nfc: false, ignoreMerges: true, addBos: true },
  qwen2: { regex: QWEN2_REGEX, nfc: true, ignoreMerges: false, addBos: false },
};

/**
 * `tokenizer.ggml.pre` names a known tokenizer, not a model: llama.cpp's converter hashes how a vocabulary splits a
 * probe string and records the name whose output matches, so several names share one split (llama-vocab.cpp).
 * "default" is GPT-2's split here, as in transformers; llama.cpp's own "default" regex is a different, older one.
 */
const PRE_TOKENIZERS: ReadonlyMap<string, PreSplit> = new Map<string, PreSplit>([
  ["default", "gpt2"],
  ["gpt-2", "gpt2"],
  ["gpt2", "gpt2"], // not a llama.cpp name, but what people write
  ["phi-2", "gpt2"],
  ["mpt", "gpt2"],
  ["olmo", "gpt2"],
  ["jina-es", "gpt2"],
  ["jina-de", "gpt2"],
  ["jina-v2-es", "gpt2"],
  ["jina-v2-de", "gpt2"],
  ["llama3", "llama3"],
  ["llama-v3", "llama3"],
  ["llama-bpe", "llama3"],
  ["falcon3", "llama3"],
  ["dbrx", "llama3"],
  ["smaug-bpe", "llama3"],
  ["qwen2", "qwen2"],
  ["deepseek-r1-qwen", "qwen2"],
]);

/** llama.cpp's name for each split, as its converter writes it (the hash table in convert_hf_to_gguf.py). */
const PRE_NAME: { readonly [P in PreSplit]: string } = { gpt2: "gpt-2", llama3: "llama-bpe", qwen2: "qwen2" };

/**
 * The `tokenizer.ggml.pre` a byte-level tokenizer.json needs, read off its pre-tokenizer (ByteLevel with its own
 * regex, or a Split with exactly Llama 3's or Qwen2's regex in front of ByteLevel), with llama.cpp's add_bos
 * default for that name; undefined for a split GGUF has no name for. llama.cpp's converter finds the same name by
 * hashing how the tokenizer splits a probe text.
 *
 * @example ggufPreOf(llama3TokenizerJson) // { name: "llama-bpe", addBos: true }
 */
export function ggufPreOf(tokenizerJson: unknown): { readonly name: string; readonly addBos: boolean } | undefined {
  const pre = (tokenizerJson as Obj | null)?.pre_tokenizer as Obj | null | undefined;
  const byteLevel = (p: unknown, useRegex: boolean) =>
    typeof p === "object" && p !== null && (p as Obj).type === "ByteLevel" && ((p as Obj).use_regex ?? true) === useRegex;
  let split: PreSplit | undefined;
  if (byteLevel(pre, true)) split = "gpt2";
  else if (pre?.type === "Sequence" && Array.isArray(pre.pretokenizers) && pre.pretokenizers.length === 2) {
    const [first, second] = pre.pretokenizers as Obj[];
    const regex =
      first?.type === "Split" && first.behavior === "Isolated" ? (first.pattern as Obj | undefined)?.Regex : undefined;
    if (byteLevel(second, false)) split = (Object.keys(PRE_SPLITS) as PreSplit[]).find((k) => PRE_SPLITS[k].regex === regex);
  }
  return split === undefined ? undefined : { name: PRE_NAME[split], addBos: PRE_SPLITS[split].addBos };
}

/** Whether llama.cpp adds a BOS under `tokenizer.ggml.pre` = `name` when the file has no add_bos_token key. */
export function ggufPreAddsBos(name: string): boolean | undefined {
  const split = PRE_TOKENIZERS.get(name);
  return split === undefined ? undefined : PRE_SPLITS[split].addBos;
}

// ——— metadata access ———

const INT_TYPES: ReadonlySet<string> = new Set(["u8", "i8", "u16", "i16", "u32", "i32", "u64", "i64"]);

function describe(v: GgufValue): string {
  if (v.type === "array") return `an array of ${v.value.items.length} ${v.value.elemType}`;
  return `${v.type} ${typeof v.value === "string" ? show(v.value) : String(v.value)}`;
}

/** Typed reads of `tokenizer.*` keys; every error names the file and the full key. */
class Fields {
  constructor(
    readonly meta: Meta,
    readonly file: string,
  ) {}

  fail(key: string, detail: string): never {
    throw new ModelFormatError(this.file, key, detail);
  }

  private get(key: string, what: string, required: boolean): GgufValue | undefined {
    const v = this.meta.get(key);
    if (v === undefined && required) this.fail(key, `expected ${what}, got nothing`);
    return v;
  }

  str(key: string, required: true): string;
  str(key: string, required?: false): string | undefined;
  str(key: string, required = false): string | undefined {
    const v = this.get(key, "a string", required);
    if (v === undefined) return undefined;
    if (v.type !== "string") this.fail(key, `expected a string, got ${describe(v)}`);
    return v.value as string;
  }

  bool(key: string): boolean | undefined {
    const v = this.get(key, "a bool", false);
    if (v === undefined) return undefined;
    if (v.type !== "bool") this.fail(key, `expected a bool, got ${describe(v)}`);
    return v.value as boolean;
  }

  /** an integer scalar naming a token: in [0, n) */
  tokenId(key: string, n: number): number | undefined {
    const v = this.get(key, "a token id", false);
    if (v === undefined) return undefined;
    const id = INT_TYPES.has(v.type) ? Number(v.value) : Number.NaN;
    if (!Number.isSafeInteger(id)) this.fail(key, `expected an integer token id, got ${describe(v)}`);
    if (id < 0 || id >= n) this.fail(key, `expected a token id in [0, ${n}), got ${id}`);
    return id;
  }

  strings(key: string, required: true): readonly string[];
  strings(key: string, required?: false): readonly string[] | undefined;
  strings(key: string, required = false): readonly string[] | undefined {
    const v = this.get(key, "an array of strings", required);
    if (v === undefined) return undefined;
    if (v.type !== "array" || v.value.elemType !== "string") this.fail(key, `expected an array of strings, got ${describe(v)}`);
    return v.value.items as readonly string[];
  }

  /** a numeric array of one of `elemTypes` with exactly `n` entries (one per token) */
  perToken(key: string, elemTypes: readonly string[], n: number, required: boolean): readonly number[] | undefined {
    const what = `an array of ${n} ${elemTypes.join(" or ")} (one per entry of tokenizer.ggml.tokens)`;
    const v = this.get(key, what, required);
    if (v === undefined) return undefined;
    if (v.type !== "array" || !elemTypes.includes(v.value.elemType)) this.fail(key, `expected ${what}, got ${describe(v)}`);
    const items = v.value.items as readonly number[];
    if (items.length !== n) this.fail(key, `has ${items.length} entries, but tokenizer.ggml.tokens has ${n}`);
    return items;
  }
}

// ——— the parts every model shares ———

interface Common {
  readonly f: Fields;
  readonly tokens: readonly string[];
  /** one per token; all NORMAL when the file has no token_type */
  readonly types: readonly number[];
  readonly hasTypes: boolean;
  readonly ids: { readonly [K in "bos" | "eos" | "unk" | "pad" | "sep" | "cls"]: number | undefined };
  readonly addBos: boolean | undefined;
  readonly addEos: boolean | undefined;
}

type SpecialIds = { readonly [K in "bos" | "eos" | "unk" | "pad"]?: number | undefined };

/** What a model builder returns: the tokenizer.json parts, the special tokens' ids, the decode clean-up flag. */
interface Built {
  readonly json: Obj;
  /** the ids whose tokens go in as tokenizer_config.json's bos_token, eos_token, unk_token and pad_token */
  readonly names: SpecialIds;
  readonly cleanUpSpaces: boolean;
}

const KEY = {
  model: "tokenizer.ggml.model",
  pre: "tokenizer.ggml.pre",
  tokens: "tokenizer.ggml.tokens",
  types: "tokenizer.ggml.token_type",
  scores: "tokenizer.ggml.scores",
  merges: "tokenizer.ggml.merges",
  bos: "tokenizer.ggml.bos_token_id",
  eos: "tokenizer.ggml.eos_token_id",
  unk: "tokenizer.ggml.unknown_token_id",
  pad: "tokenizer.ggml.padding_token_id",
  sep: "tokenizer.ggml.seperator_token_id", // sic: llama.cpp's spelling
  cls: "tokenizer.ggml.cls_token_id",
  addBos: "tokenizer.ggml.add_bos_token",
  addEos: "tokenizer.ggml.add_eos_token",
  addSpacePrefix: "tokenizer.ggml.add_space_prefix",
  lowercase: "tokenizer.ggml.normalizer.lowercase",
  stripAccents: "tokenizer.ggml.normalizer.strip_accents",
  chatTemplate: "tokenizer.chat_template",
} as const;

function readCommon(f: Fields): Common {
  const tokens = f.strings(KEY.tokens, true);
  const n = tokens.length;
  if (n === 0) f.fail(KEY.tokens, "is empty");
  // tokenizer.json keys its vocabulary by string, so a repeated or empty token cannot be represented (llama.cpp
  // rejects duplicates too)
  const seen = new Map<string, number>();
  tokens.forEach((t, i) => {
    if (t === "") f.fail(`${KEY.tokens}[${i}]`, "is an empty string");
    const other = seen.get(t);
    if (other !== undefined) f.fail(`${KEY.tokens}[${i}]`, `${show(t)} is also token ${other}`);
    seen.set(t, i);
  });
  const rawTypes = f.perToken(KEY.types, ["i32"], n, false);
  rawTypes?.forEach((t, i) => {
    if (!Number.isInteger(t) || t < TokenType.undefined || t > TokenType.byte)
      f.fail(`${KEY.types}[${i}]`, `expected a llama.cpp token type 0–6, got ${t}`);
  });
  const id = (key: string) => f.tokenId(key, n);
  return {
    f,
    tokens,
    types: rawTypes ?? tokens.map(() => TokenType.normal),
    hasTypes: rawTypes !== undefined,
    ids: { bos: id(KEY.bos), eos: id(KEY.eos), unk: id(KEY.unk), pad: id(KEY.pad), sep: id(KEY.sep), cls: id(KEY.cls) },
    addBos: f.bool(KEY.addBos),
    addEos: f.bool(KEY.addEos),
  };
}

/**
 * The added tokens, split out of the text before the model sees it: CONTROL and UNKNOWN tokens as special (llama.cpp
 * parses both as special), USER_DEFINED ones as plain added tokens. A file without token types gets its bos, eos and
 * unk tokens, as transformers' GGUFLlamaConverter does.
 */
function addedTokens(c: Common, content: (i: number) => string = (i) => c.tokens[i] as string): Obj[] {
  const out: Obj[] = [];
  const add = (i: number, special: boolean) => out.push(addedToken(i, content(i), special));
  if (!c.hasTypes) {
    const ids = new Set([c.ids.unk, c.ids.bos, c.ids.eos].filter((i): i is number => i !== undefined));
    for (const i of [...ids].sort((a, b) => a - b)) add(i, true);
    return out;
  }
  c.types.forEach((t, i) => {
    if (t === TokenType.control || t === TokenType.unknown) add(i, true);
    else if (t === TokenType.userDefined) add(i, false);
  });
  return out;
}

/** `[bos] $A [eos]` (and `$B` for pairs) as a TemplateProcessing post-processor; null when it adds nothing. */
function template(c: Common, bos: number | undefined, eos: number | undefined): Obj | null {
  const pair = (i: number | undefined) => (i === undefined ? undefined : ([i, c.tokens[i] as string] as const));
  return bosEosTemplate(pair(bos), pair(eos));
}

/**
 * The id `add_bos_token`/`add_eos_token` has added (the file's flag, else llama.cpp's default for `defaultOf`), or
 * undefined when nothing is added; an error when the flag is on and the id is missing.
 */
function addedId(c: Common, which: "bos" | "eos", byDefault: boolean, defaultOf: string): number | undefined {
  const flag = which === "bos" ? c.addBos : c.addEos;
  if (!(flag ?? byDefault)) return undefined;
  const id = c.ids[which];
  const why = flag === undefined ? ` (llama.cpp's default for ${defaultOf})` : "";
  if (id === undefined) c.f.fail(KEY[which], `missing, but ${which === "bos" ? KEY.addBos : KEY.addEos} is true${why}`);
  return id;
}

/** A token → id record safe for any token text ("__proto__" included), as JSON.parse would build it. */
const vocabRecord = (): Record<string, number> => Object.create(null) as Record<string, number>;

// ——— gpt2: byte-level BPE ———

const BYTE_ALPHABET: ReadonlySet<string> = new Set(BYTE_SYMBOLS);

function buildGpt2(c: Common): Built {
  const { f, tokens, types } = c;
  const preName = f.str(KEY.pre) ?? "default"; // llama.cpp falls back to "default" too, with a warning
  const split = PRE_TOKENIZERS.get(preName);
  if (split === undefined) {
    return f.fail(KEY.pre, `unknown pre-tokenizer ${show(preName)}; known: ${[...PRE_TOKENIZERS.keys()].join(", ")}`);
  }
  const spec = PRE_SPLITS[split];

  // A normal token outside GPT-2's alphabet was written decoded by the converter (Phi-4 holds "\ufffd" where its
  // merges say "ï¿½"); respell it the way the merges do. Added tokens keep their raw text: they are matched as is.
  const encoder = new TextEncoder();
  const vocab = vocabRecord();
  tokens.forEach((t, i) => {
    const kind = types[i];
    let key = t;
    if ((kind === TokenType.normal || kind === TokenType.undefined) && ![...t].every((ch) => BYTE_ALPHABET.has(ch))) {
      key = Array.from(encoder.encode(t), (b) => BYTE_SYMBOLS[b]).join("");
    }
    if (Object.hasOwn(vocab, key)) f.fail(`${KEY.tokens}[${i}]`, `${show(t)} spells the same bytes as token ${vocab[key]}`);
    vocab[key] = i;
  });

  const merges = f.strings(KEY.merges, true).map((m, i): [string, string] => {
    // llama.cpp splits at the first space after the first character; byte-level symbols never contain a space
    const at = m.indexOf(" ", 1);
    const a = m.slice(0, Math.max(at, 0));
    const b = m.slice(at + 1);
    if (at < 0 || b === "") f.fail(`${KEY.merges}[${i}]`, `expected "left right", got ${show(m)}`);
    for (const part of [a, b, a + b]) {
      if (!Object.hasOwn(vocab, part)) f.fail(`${KEY.merges}[${i}]`, `${show(m)}: ${show(part)} is not a token`);
    }
    return [a, b];
  });

  const bos = addedId(c, "bos", spec.addBos, `pre-tokenizer ${show(preName)}`);
  const eos = addedId(c, "eos", false, "gpt2");
  const json = byteLevelBpeJson({
    vocab,
    merges,
    addedTokens: addedTokens(c),
    splitRegex: spec.regex,
    nfc: spec.nfc,
    postProcessor: template(c, bos, eos),
    ignoreMerges: spec.ignoreMerges,
  });
  return { json, names: c.ids, cleanUpSpaces: false };
}

// ——— llama: SentencePiece BPE ———

/**
 * The merges of a SentencePiece BPE vocabulary, rebuilt from its scores exactly as transformers'
 * GGUFTokenizerSkeleton does: every split of a piece into two pieces is a merge ranked by the whole piece's score,
 * the splits of one piece ordered by their halves' scores (descending, stable).
 *
 * The merges of a vocabulary can outgrow it: pieces "a", "aa", …, "a"×n (n²/2 characters) give n²/2 merges
 * holding n³/3. `maxChars` bounds the characters the merges may hold (each merge counts its piece's length); past
 * it `tooMany` is called before that work is done. By default the bound is 64 times the vocabulary's characters
 * plus 2^20; a real SentencePiece vocabulary's merges hold about 2 to 3 times its characters.
 *
 * @example
 * mergesFromScores(["a", "b", "c", "ab", "abc"], [-3, -4, -5, -1, -2]) // [["a", "b"], ["ab", "c"]]
 */
export function mergesFromScores(
  tokens: readonly string[],
  scores: readonly number[],
  limit: { maxChars?: number; tooMany?: (maxChars: number) => never } = {},
): [string, string][] {
  const score = new Map<string, number>();
  tokens.forEach((t, i) => {
    score.set(t, scores[i] as number);
  });
  // Trying every split of every piece is quadratic in a piece's length (a hostile file's 30,000-character token
  // took 72 s). Instead a split is tried only where the left half has the length of some token and a rolling
  // hash of it is a token's hash; the slice is built (and looked up) only then. Each piece costs its length
  // plus the number of distinct token lengths below it, so the whole rebuild is linear in the file's size.
  const base = (Math.random() * 0x3fffffff) | 1; // a fresh odd base per call: no file can aim for collisions
  const hashes = new Set<number>();
  const lengths = new Set<number>();
  for (const t of score.keys()) {
    hashes.add(rollingHash(t, base));
    lengths.add(t.length);
  }
  const sortedLengths = [...lengths].sort((a, b) => a - b);
  const maxChars = limit.maxChars ?? 64 * tokens.reduce((a, t) => a + t.length, 0) + 2 ** 20;
  let chars = 0;
  let buf = new Int32Array(64); // buf[i]: the hash of the piece's first i units
  const all: { l: string; r: string; s: number }[] = [];
  for (const [piece, s] of score) {
    const n = piece.length; // in UTF-16 units; splits inside a surrogate pair are skipped below
    if (buf.length < n + 1) buf = new Int32Array(Math.max(n + 1, 2 * buf.length));
    for (let i = 0, h = 0; i < n; i++) buf[i + 1] = h = (Math.imul(h, base) + piece.charCodeAt(i)) | 0;
    const local: { l: string; r: string; s: number }[] = [];
    for (const k of sortedLengths) {
      if (k >= n) break;
      if (!hashes.has(buf[k] as number) || !lengths.has(n - k)) continue;
      const c = piece.charCodeAt(k);
      if (c >= 0xdc00 && c <= 0xdfff) continue; // the low half of a surrogate pair: not a code point boundary
      chars += n; // what looking up (and keeping) both halves costs
      if (chars > maxChars) {
        if (limit.tooMany !== undefined) limit.tooMany(maxChars);
        throw new RangeError(`mergesFromScores: the merges would hold more than ${maxChars} characters`);
      }
      const l = piece.slice(0, k);
      if (!score.has(l)) continue;
      const r = piece.slice(k);
      if (score.has(r)) local.push({ l, r, s });
    }
    local.sort(
      (x, y) =>
        (score.get(y.l) as number) - (score.get(x.l) as number) || (score.get(y.r) as number) - (score.get(x.r) as number),
    );
    for (const m of local) all.push(m);
  }
  all.sort((x, y) => y.s - x.s);
  return all.map(({ l, r }) => [l, r]);
}

/** A polynomial hash of the UTF-16 units of `s`, as the prefix table in mergesFromScores computes it. */
function rollingHash(s: string, base: number): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, base) + s.charCodeAt(i)) | 0;
  return h;
}

function buildLlama(c: Common): Built {
  const { f, tokens } = c;
  const scores = f.perToken(KEY.scores, ["f32", "i32"], tokens.length, true) as readonly number[];
  scores.forEach((s, i) => {
    if (!Number.isFinite(s)) f.fail(`${KEY.scores}[${i}]`, `expected a finite number, got ${s}`);
  });
  // The unknown piece: the file's id, else the one token typed UNKNOWN.
  const unk = c.ids.unk ?? (c.hasTypes ? c.types.indexOf(TokenType.unknown) : -1);
  const prefix = f.bool(KEY.addSpacePrefix) ?? true; // llama.cpp's default for SentencePiece vocabularies
  const bos = addedId(c, "bos", true, "llama");
  const eos = addedId(c, "eos", false, "llama");
  // The shape of Llama 2's tokenizer.json (transformers' "legacy" LlamaConverter): "▁" is prepended to every run of
  // text between added tokens, which is what llama.cpp does (it adds the space after every special token too).
  const json = sentencePieceBpeJson({
    vocab: Object.fromEntries(tokens.map((t, i) => [t, i])),
    merges: mergesFromScores(tokens, scores, {
      tooMany: (max) =>
        f.fail(KEY.tokens, `its pieces split into more merges than a vocabulary of this size can have (over ${max} characters)`),
    }),
    addedTokens: addedTokens(c),
    unkToken: unk >= 0 ? (tokens[unk] as string) : null,
    addPrefixSpace: prefix,
    postProcessor: template(c, bos, eos),
  });
  return { json, names: { ...c.ids, unk: unk >= 0 ? unk : undefined }, cleanUpSpaces: false };
}

// ——— bert: WordPiece ———

function buildBert(c: Common): Built {
  const { f, tokens, types } = c;
  // llama.cpp's converter writes WordPiece in "phantom space" form: "▁word" for word-initial pieces, bare "ing" for
  // "##ing", "[…]" tokens as they are. Undo it; added tokens are never respelled.
  const plain = tokens.map((t, i) => {
    const kind = types[i];
    if (kind === TokenType.control || kind === TokenType.unknown || kind === TokenType.userDefined) return t;
    if (t.startsWith("[") && t.endsWith("]")) return t;
    if (t.startsWith("▁") && t.length > 1) return t.slice(1);
    return `##${t}`;
  });
  const vocab = vocabRecord();
  plain.forEach((t, i) => {
    if (Object.hasOwn(vocab, t))
      f.fail(`${KEY.tokens}[${i}]`, `${show(tokens[i])} is WordPiece ${show(t)}, as is token ${vocab[t]}`);
    vocab[t] = i;
  });
  // llama.cpp's WordPiece defaults are BERT-base's ids (unk 100, [CLS] 101, [SEP] 102); find the tokens by name
  // instead, so another vocabulary is not silently wrapped in the wrong ids.
  const named = (name: string) => (Object.hasOwn(vocab, name) ? vocab[name] : undefined);
  const unk = c.ids.unk ?? named("[UNK]");
  if (unk === undefined) return f.fail(KEY.unk, "missing, and the vocabulary has no [UNK] (WordPiece needs an unknown token)");
  // llama.cpp wraps every WordPiece encoding in bos … sep, whatever add_bos_token/add_eos_token say.
  const cls = c.ids.cls ?? c.ids.bos ?? named("[CLS]");
  const sep = c.ids.sep ?? c.ids.eos ?? named("[SEP]");
  if (cls === undefined) return f.fail(KEY.cls, `missing, as are ${KEY.bos} and a [CLS] token`);
  if (sep === undefined) return f.fail(KEY.sep, `missing, as are ${KEY.eos} and a [SEP] token`);
  const lowercase = f.bool(KEY.lowercase) ?? true; // llama.cpp lowercased every WordPiece vocabulary before the key
  const stripAccents = f.bool(KEY.stripAccents) ?? lowercase;

  const json: Obj = {
    added_tokens: addedTokens(c, (i) => plain[i] as string),
    normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: stripAccents, lowercase },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: template({ ...c, tokens: plain }, cls, sep),
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: { type: "WordPiece", unk_token: plain[unk], continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab },
  };
  // BERT's tokenizer_config.json names no bos/eos ([CLS]/[SEP] are cls_token/sep_token), so neither is named here
  return { json, names: { unk, pad: c.ids.pad }, cleanUpSpaces: true };
}

const BUILDERS: { readonly [M in GgufTokenizerModel]: (c: Common) => Built } = {
  gpt2: buildGpt2,
  llama: buildLlama,
  bert: buildBert,
};

// Names llama.cpp knows but this reader does not rebuild, for a clearer error than "unknown".
const UNSUPPORTED: Readonly<Record<string, string>> = {
  t5: "a Unigram (T5) vocabulary",
  rwkv: "an RWKV vocabulary",
  plamo2: "a PLaMo-2 vocabulary",
  no_vocab: "no vocabulary",
  none: "no vocabulary",
};

/** A Hugging Face tokenizer's two files, as objects ready for JSON.stringify. */
export interface HfTokenizerFiles {
  /** tokenizer.json */
  readonly tokenizer: Record<string, unknown>;
  /** tokenizer_config.json: the special tokens by text, clean-up flag, chat template */
  readonly tokenizerConfig: Record<string, unknown>;
}

/**
 * The tokenizer.json and tokenizer_config.json a GGUF file's `tokenizer.ggml.*` metadata describes: what
 * `loadGgufTokenizer` loads, for writing a Hugging Face folder (see loadGgufTokenizer for what is rebuilt and
 * checked). Throws ModelFormatError naming `file` and the key.
 *
 * @example
 * const g = openGguf("model.gguf");
 * const { tokenizer, tokenizerConfig } = ggufTokenizerFiles(g.header.metadata, "model.gguf");
 * writeFileSync("out/tokenizer.json", JSON.stringify(tokenizer));
 */
export function ggufTokenizerFiles(metadata: GgufFile["metadata"], file: string): HfTokenizerFiles {
  const f = new Fields(metadata, file);
  const model = f.str(KEY.model, true);
  if (!(GGUF_TOKENIZER_MODELS as readonly string[]).includes(model)) {
    const what = Object.hasOwn(UNSUPPORTED, model) ? `${UNSUPPORTED[model]} is not supported` : `unknown model ${show(model)}`;
    f.fail(KEY.model, `${what}; supported: ${GGUF_TOKENIZER_MODELS.join(", ")}`);
  }
  const common = readCommon(f);
  const chatTemplate = f.str(KEY.chatTemplate);
  const built = BUILDERS[model as GgufTokenizerModel](common);

  // loadHfTokenizer learns the special ids from tokenizer_config.json's token strings
  const strings = new Map<number, string>();
  for (const [t, i] of Object.entries((built.json.model as { vocab: Record<string, number> }).vocab)) strings.set(i, t);
  for (const t of built.json.added_tokens as Obj[]) strings.set(t.id as number, t.content as string);
  const config: Obj = {
    clean_up_tokenization_spaces: built.cleanUpSpaces,
    ...(chatTemplate !== undefined && { chat_template: chatTemplate }),
  };
  for (const key of ["bos", "eos", "unk", "pad"] as const) {
    const id = built.names[key];
    if (id !== undefined) config[`${key}_token`] = strings.get(id);
  }
  return { tokenizer: { version: "1.0", truncation: null, padding: null, ...built.json }, tokenizerConfig: config };
}

/**
 * Builds the tokenizer a GGUF file describes from its `tokenizer.ggml.*` metadata: byte-level BPE (model "gpt2",
 * with the pre-tokenizer `tokenizer.ggml.pre` names), SentencePiece BPE with byte fallback (model "llama", merges
 * rebuilt from the scores) or WordPiece (model "bert"), with added tokens from the token types, bos/eos added as
 * `add_bos_token`/`add_eos_token` (or llama.cpp's defaults) say, and `tokenizer.chat_template`. It yields the ids of
 * the Hugging Face tokenizer.json the file was converted from. `file` names the source in errors; a missing or
 * wrongly typed key, an array whose length disagrees with the token list, or an id out of range throws
 * ModelFormatError naming the key.
 *
 * @example
 * const g = openGguf("model.gguf");
 * const tok = loadGgufTokenizer(g.header.metadata, "model.gguf");
 * tok.encode("Hello world") // the ids tokenizer.json gives
 */
export function loadGgufTokenizer(metadata: GgufFile["metadata"], file: string): HfTokenizer {
  const { tokenizer, tokenizerConfig } = ggufTokenizerFiles(metadata, file);
  return loadHfTokenizer(tokenizer, tokenizerConfig, file);
}
