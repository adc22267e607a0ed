// Hugging Face `tokenizer.json` (+ `tokenizer_config.json`) behind one small Tokenizer interface. The heavy lifting is
// @huggingface/tokenizers (a JS port of the Rust crate); this file checks the parts of the file that library takes on
// trust, so a broken file fails here with `file: field: detail` instead of a TypeError deep inside it, or — worse —
// silently tokenizing differently than the Rust reader would.

import { Tokenizer as LibTokenizer } from "@huggingface/tokenizers";
import type { Tokenizer } from "@llmdbg/core";
import { ModelFormatError, show } from "@llmdbg/formats";
import { readChatTemplate } from "./chat-template.js";
import { blameComponent, type Component, checkComponent, checkPostProcessor } from "./components.js";

export type { Tokenizer };

/** A tokenizer loaded from Hugging Face files; `chatTemplate` is the config's default chat template, if it has one. */
export interface HfTokenizer extends Tokenizer {
  readonly chatTemplate: string | undefined;
  /** Ids of all tokens the file marks `special` (added tokens with `"special": true`). */
  readonly specialTokenIds: readonly number[];
}

/** The model types of `tokenizer.json` this adapter reads. */
export const HF_MODEL_TYPES = ["BPE", "WordPiece", "Unigram", "WordLevel"] as const;
export type HfModelType = (typeof HF_MODEL_TYPES)[number];

type Obj = Record<string, unknown>;

// The library's .d.ts files import each other without file extensions, which NodeNext resolution cannot follow, so its
// classes type as `any` here; this is the part of its Tokenizer this file uses (types/core/Tokenizer.d.ts, 0.2.0).
interface LibTokenizerApi {
  encode(text: string, options: { add_special_tokens: boolean }): { ids: (number | undefined)[]; tokens: string[] };
  decode(ids: number[], options: { skip_special_tokens: boolean }): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_vocab(withAddedTokens: boolean): Map<string, number>;
}
/**
 * The ids a tokenizer may use: below the model's embedding rows when the model is known, else below 2^24 (the
 * largest real vocabularies have ~260k entries). The library walks the vocabulary up to its largest id, so an
 * unbounded id (1e9 in a small file) would cost minutes before any error.
 */
export interface TokenIdLimit {
  readonly below: number;
  /** what sets the bound, for the error: "the model's 50257 embedding rows (config.json vocab_size)" */
  readonly what: string;
}

// What the load-time probe runs through the pipeline: letters, digits, spaces, newlines, punctuation, accents, CJK.
const PROBE_TEXT = "Hello, world!  It's 2024.\n\tcafé 東京 ok";

const DEFAULT_ID_LIMIT: TokenIdLimit = { below: 2 ** 24, what: "this reader's limit of 2^24 tokens" };

const isObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/**
 * Builds a tokenizer from a parsed `tokenizer.json` and, optionally, the parsed `tokenizer_config.json` (special token
 * names, chat template). `file` names the source in errors. Throws ModelFormatError for a malformed file.
 *
 * @example
 * const tok = loadHfTokenizer(parseJsonStrict(tokenizerText), parseJsonStrict(configText), "gpt2/tokenizer.json");
 * tok.encode("Hello world") // [15496, 995]
 */
export function loadHfTokenizer(
  tokenizerJson: unknown,
  tokenizerConfig: unknown | undefined,
  file: string,
  idLimit: TokenIdLimit = DEFAULT_ID_LIMIT,
): HfTokenizer {
  const fail = (field: string, detail: string): never => {
    throw new ModelFormatError(file, field, detail);
  };
  if (!isObject(tokenizerJson)) {
    fail("tokenizer", `expected a JSON object, got ${Array.isArray(tokenizerJson) ? "an array" : show(tokenizerJson)}`);
  }
  const root = tokenizerJson as Obj;
  const model = checkModel(root.model, fail, idLimit);
  const added = checkAddedTokens(root.added_tokens, fail, idLimit);
  for (const key of ["normalizer", "pre_tokenizer", "decoder"] as const) checkComponent(key, root[key], key, fail);
  const inserted = checkPostProcessor(root.post_processor, "post_processor", fail);

  // Errors in the config name its file: the sibling of `file` when that is a tokenizer.json path.
  const configFile = /tokenizer\.json$/.test(file)
    ? file.replace(/tokenizer\.json$/, "tokenizer_config.json")
    : "tokenizer_config.json";
  let config: Obj = {};
  if (tokenizerConfig !== undefined) {
    if (!isObject(tokenizerConfig))
      throw new ModelFormatError(configFile, "tokenizer_config", `expected a JSON object, got ${show(tokenizerConfig)}`);
    config = tokenizerConfig;
  }
  const special = (key: string): string | undefined => tokenName(config[key], configFile, key);
  const names = { bos: special("bos_token"), eos: special("eos_token"), pad: special("pad_token"), unk: special("unk_token") };
  const extraSpecial = config.additional_special_tokens;
  const additional: string[] = [];
  if (extraSpecial !== undefined && extraSpecial !== null) {
    if (!Array.isArray(extraSpecial))
      throw new ModelFormatError(configFile, "additional_special_tokens", `expected an array, got ${show(extraSpecial)}`);
    extraSpecial.forEach((t, i) => {
      const name = tokenName(t, configFile, `additional_special_tokens[${i}]`);
      if (name !== undefined) additional.push(name);
    });
  }
  const cleanUp = config.clean_up_tokenization_spaces;
  if (cleanUp !== undefined && cleanUp !== null && typeof cleanUp !== "boolean") {
    throw new ModelFormatError(configFile, "clean_up_tokenization_spaces", `expected a boolean, got ${show(cleanUp)}`);
  }
  const chatTemplate = tokenizerConfig === undefined ? undefined : readChatTemplate(config, configFile);

  // The library reads only these config keys; hand it checked values, not whatever the file holds. Clean-up of
  // tokenization spaces ("a ." → "a.") is a transformers-side default; the Rust tokenizer never does it, so it stays
  // off unless the config asks for it.
  const libConfig: Obj = {
    additional_special_tokens: additional,
    clean_up_tokenization_spaces: cleanUp === true,
    ...(names.eos !== undefined && { eos_token: names.eos }),
    ...(model.type === "WordLevel" && { unk_token: model.unk_token }),
  };
  const libTokenizer: Obj = {
    normalizer: root.normalizer ?? null,
    pre_tokenizer: root.pre_tokenizer ?? null,
    post_processor: root.post_processor ?? null,
    decoder: root.decoder ?? null,
    added_tokens: added,
    model,
  };

  const components = libTokenizer as Record<Component, unknown>;
  const build = (only: Partial<Record<Component, unknown>> = {}): LibTokenizerApi =>
    new LibTokenizer({ ...libTokenizer, ...only }, libConfig) as LibTokenizerApi;
  // A raw error from the library, traced to the component that causes it, as a ModelFormatError naming that field.
  const blamed = (e: unknown, op: (t: LibTokenizerApi) => void, what: string): ModelFormatError => {
    const msg = e instanceof Error ? e.message : String(e);
    const field = blameComponent(components, build, op);
    const unknown = /^Unknown (Normalizer|PreTokenizer|PostProcessor|Decoder|Model) type/.test(msg);
    return new ModelFormatError(file, field, `${unknown ? "not supported by" : what} @huggingface/tokenizers: ${msg}`);
  };

  let impl: LibTokenizerApi;
  try {
    impl = build();
  } catch (e) {
    throw blamed(e, () => {}, "cannot be built by");
  }
  for (const { field, token, id } of inserted) {
    const actual = impl.token_to_id(token);
    if (actual === undefined) fail(field, `inserts ${show(token)}, which is not a token of this tokenizer`);
    if (id !== undefined && id !== actual)
      fail(field, `gives ${show(token)} the id ${id}, but the vocabulary has it as ${actual}`);
  }
  // The library checks little when it is built; run the whole pipeline once on a probe text, so a component that
  // fails on every input fails now, naming its field, rather than on the user's first encode.
  const probe = (t: LibTokenizerApi) => {
    for (const add of [true, false]) {
      const ids = t.encode(PROBE_TEXT, { add_special_tokens: add }).ids.filter((id): id is number => id !== undefined);
      if (ids.length > 0) for (const skip of [true, false]) t.decode(ids, { skip_special_tokens: skip });
    }
  };
  try {
    probe(impl);
  } catch (e) {
    throw blamed(e, probe, "fails on a probe text in");
  }

  // The unknown token a WordPiece or BPE model emits for what its vocabulary does not cover must be a token:
  // the library takes the name on trust and encode would later fail on the first unknown word.
  if (model.type !== "Unigram" && typeof model.unk_token === "string" && impl.token_to_id(model.unk_token) === undefined)
    fail("model.unk_token", `${show(model.unk_token)} is not a token of this tokenizer (not in model.vocab or added_tokens)`);
  let vocabSize = 0;
  const vocab = impl.get_vocab(true);
  for (const id of vocab.values()) vocabSize = Math.max(vocabSize, id + 1);
  const specialTokenIds = added.filter((t) => t.special === true).map((t) => t.id as number);
  const idOf = (name: string | undefined): number | undefined => (name === undefined ? undefined : impl.token_to_id(name));
  // The model's own unknown token is the one encode emits; the config's name is only a fallback.
  const modelUnk = model.type === "Unigram" ? (isId(model.unk_id) ? impl.id_to_token(model.unk_id) : undefined) : model.unk_token;

  const tokenOf = (id: number): string => {
    const t = Number.isSafeInteger(id) && id >= 0 ? impl.id_to_token(id) : undefined;
    if (t === undefined) throw new RangeError(`token id ${id} is not in the vocabulary of ${file} (size ${vocabSize})`);
    return t;
  };

  return {
    vocabSize,
    chatTemplate,
    specialTokenIds,
    bosTokenId: idOf(names.bos),
    eosTokenId: idOf(names.eos),
    padTokenId: idOf(names.pad),
    unkTokenId: idOf(typeof modelUnk === "string" ? modelUnk : names.unk),
    encode(text, opts = {}) {
      const options = { add_special_tokens: opts.addSpecialTokens ?? true };
      let encoded: ReturnType<LibTokenizerApi["encode"]>;
      try {
        encoded = impl.encode(text, options);
      } catch (e) {
        throw blamed(e, (t) => t.encode(text, options), `fails on ${show(text.slice(0, 40))} in`);
      }
      const { ids, tokens } = encoded;
      const out: number[] = [];
      ids.forEach((id, i) => {
        if (id === undefined) {
          throw new RangeError(
            `${file}: cannot encode ${show(tokens[i])}: not in the vocabulary and the model has no unknown token`,
          );
        }
        out.push(id);
      });
      return out;
    },
    decode(ids, opts = {}) {
      for (const id of ids) tokenOf(id);
      if (ids.length === 0) return ""; // the library rejects an empty list
      const options = { skip_special_tokens: opts.skipSpecialTokens ?? false };
      try {
        return impl.decode([...ids], options);
      } catch (e) {
        throw blamed(e, (t) => t.decode([...ids], options), `fails to decode ids ${show(ids.slice(0, 8))} in`);
      }
    },
    tokenStrings: (ids) => ids.map(tokenOf),
    idToToken: (id) => impl.id_to_token(id),
    tokenToId: (token) => impl.token_to_id(token),
  };
}

/** Checks `model` and returns a copy with its type made explicit and the defaults the library does not fill in. */
function checkModel(
  model: unknown,
  fail: (field: string, detail: string) => never,
  limit: TokenIdLimit,
): Obj & { type: HfModelType } {
  if (model === undefined) fail("model", "missing");
  if (!isObject(model)) fail("model", `expected an object, got ${show(model)}`);
  const m = model as Obj;
  let type = m.type;
  // Files written by tokenizers < 0.10 have no model type; the Rust reader then goes by the fields present.
  if (type === undefined) {
    type = Array.isArray(m.vocab)
      ? "Unigram"
      : "merges" in m
        ? "BPE"
        : "continuing_subword_prefix" in m
          ? "WordPiece"
          : "WordLevel";
  }
  if (typeof type !== "string" || !(HF_MODEL_TYPES as readonly string[]).includes(type)) {
    fail("model.type", `unknown model type ${show(type)}, expected one of ${HF_MODEL_TYPES.join(", ")}`);
  }
  const t = type as HfModelType;
  const optString = (key: string): void => {
    const v = m[key];
    if (v !== undefined && v !== null && typeof v !== "string") fail(`model.${key}`, `expected a string or null, got ${show(v)}`);
  };

  if (t === "Unigram") {
    if (!Array.isArray(m.vocab)) fail("model.vocab", `expected an array of [piece, score] pairs, got ${show(m.vocab)}`);
    const v = m.vocab as unknown[];
    if (v.length === 0) fail("model.vocab", "is empty");
    if (v.length > limit.below) fail("model.vocab", `has ${v.length} pieces, more than ${limit.what}`);
    v.forEach((e, i) => {
      if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== "string" || typeof e[1] !== "number" || !Number.isFinite(e[1])) {
        fail(`model.vocab[${i}]`, `expected a [piece, score] pair, got ${show(e)}`);
      }
    });
    if (m.unk_id !== undefined && m.unk_id !== null && !(isId(m.unk_id) && m.unk_id < v.length)) {
      fail("model.unk_id", `expected an index into model.vocab (0..${v.length - 1}), got ${show(m.unk_id)}`);
    }
    return { ...m, type: t };
  }

  const vocab = checkVocabMap(m.vocab, fail, limit);
  optString("unk_token");
  if (t === "WordPiece") {
    optString("continuing_subword_prefix");
    if (typeof m.unk_token !== "string") fail("model.unk_token", `expected a string, got ${show(m.unk_token)}`);
    const max = m.max_input_chars_per_word;
    if (max !== undefined && !isId(max))
      fail("model.max_input_chars_per_word", `expected a non-negative integer, got ${show(max)}`);
    return { ...m, type: t, continuing_subword_prefix: m.continuing_subword_prefix ?? "##" };
  }
  if (t === "WordLevel") return { ...m, type: t };

  // BPE
  optString("continuing_subword_prefix");
  optString("end_of_word_suffix");
  for (const key of ["byte_fallback", "fuse_unk", "ignore_merges"]) {
    if (m[key] !== undefined && m[key] !== null && typeof m[key] !== "boolean")
      fail(`model.${key}`, `expected a boolean, got ${show(m[key])}`);
  }
  if (!Array.isArray(m.merges)) fail("model.merges", `expected an array, got ${show(m.merges)}`);
  const prefix = typeof m.continuing_subword_prefix === "string" ? m.continuing_subword_prefix : "";
  const merges: [string, string][] = [];
  for (const [i, e] of (m.merges as unknown[]).entries()) {
    let pair: unknown[] | undefined;
    if (typeof e === "string") pair = e.split(" ");
    else if (Array.isArray(e)) pair = e;
    if (pair === undefined || pair.length !== 2 || typeof pair[0] !== "string" || typeof pair[1] !== "string") {
      fail(`model.merges[${i}]`, `expected "a b" or ["a", "b"], got ${show(e)}`);
    }
    const [a, b] = pair as [string, string];
    // As the Rust reader does: every merge's parts and result must be in the vocabulary.
    for (const part of [a, b, a + b.slice(prefix.length && b.startsWith(prefix) ? prefix.length : 0)]) {
      if (!vocab.has(part)) fail(`model.merges[${i}]`, `${show([a, b])}: token ${show(part)} is not in model.vocab`);
    }
    merges.push([a, b]);
  }
  return { ...m, type: t, merges };
}

function checkVocabMap(vocab: unknown, fail: (field: string, detail: string) => never, limit: TokenIdLimit): Map<string, number> {
  if (!isObject(vocab)) fail("model.vocab", `expected an object of token → id, got ${show(vocab)}`);
  const seen = new Map<number, string>();
  const out = new Map<string, number>();
  for (const [token, id] of Object.entries(vocab as Obj)) {
    if (!isId(id)) fail(`model.vocab[${show(token)}]`, `expected a non-negative integer id, got ${show(id)}`);
    if ((id as number) >= limit.below) fail(`model.vocab[${show(token)}]`, `id ${id} is beyond ${limit.what}`);
    const other = seen.get(id as number);
    if (other !== undefined) fail(`model.vocab[${show(token)}]`, `id ${id} is also the id of ${show(other)}`);
    seen.set(id as number, token);
    out.set(token, id as number);
  }
  return out;
}

function checkAddedTokens(added: unknown, fail: (field: string, detail: string) => never, limit: TokenIdLimit): Obj[] {
  if (added === undefined || added === null) return [];
  if (!Array.isArray(added)) fail("added_tokens", `expected an array, got ${show(added)}`);
  return (added as unknown[]).map((t, i) => {
    if (!isObject(t)) return fail(`added_tokens[${i}]`, `expected an object, got ${show(t)}`);
    if (!isId(t.id)) fail(`added_tokens[${i}].id`, `expected a non-negative integer, got ${show(t.id)}`);
    if ((t.id as number) >= limit.below) fail(`added_tokens[${i}].id`, `id ${t.id} (${show(t.content)}) is beyond ${limit.what}`);
    if (typeof t.content !== "string" || t.content === "")
      fail(`added_tokens[${i}].content`, `expected a non-empty string, got ${show(t.content)}`);
    for (const key of ["special", "lstrip", "rstrip", "normalized", "single_word"]) {
      if (t[key] !== undefined && typeof t[key] !== "boolean")
        fail(`added_tokens[${i}].${key}`, `expected a boolean, got ${show(t[key])}`);
    }
    return t;
  });
}

/** A special token in tokenizer_config.json: a string, an AddedToken object `{"content": …}`, or null. */
function tokenName(v: unknown, file: string, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (isObject(v) && typeof v.content === "string") return v.content;
  throw new ModelFormatError(file, field, `expected a string or {"content": string}, got ${show(v)}`);
}
