// The pipeline components of a tokenizer.json (normalizer, pre_tokenizer, post_processor, decoder), checked before
// @huggingface/tokenizers sees them. The library takes them on trust: a malformed post_processor loads and then
// fails at encode time with a raw TypeError ("Cannot use 'in' operator…"), a Prepend normalizer without `prepend`
// prepends the text "undefined", a Split without a pattern silently encodes nothing. Each component type the
// library implements is checked against the fields the Rust reader requires; what still fails inside the library
// (a regular expression it cannot compile) is traced to the one component that causes it (`blameComponent`), so
// every error names its field.

import { show } from "@llmdbg/formats";

type Obj = Record<string, unknown>;
type Fail = (field: string, detail: string) => never;

const isObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

// Real files nest a Sequence one or two deep; a hostile one nested 100,000 deep would overflow the stack (and the
// library's recursion after ours).
const MAX_NESTING = 16;

/** The components of a tokenizer.json around its model, in the order text passes through them. */
export const COMPONENTS = ["normalizer", "pre_tokenizer", "post_processor", "decoder"] as const;
export type Component = (typeof COMPONENTS)[number];

// ——— normalizers, pre-tokenizers, decoders: one schema per type ———

// What a field of a component holds. "?" marks a field the Rust reader defaults when absent; the rest it requires
// (the JS library would read a missing one as undefined and, e.g., prepend the text "undefined").
type Spec = "bool" | "string" | "char" | "count" | "pattern" | "bool|null" | readonly string[] | { list: Kind };
type Kind = "normalizer" | "pre_tokenizer" | "decoder";
type Schema = Readonly<Record<string, readonly [Spec, "?" | "!"]>>;

const SPLIT_BEHAVIORS = ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"] as const;
const PREPEND_SCHEMES = ["always", "never", "first"] as const;
const METASPACE: Schema = {
  replacement: ["char", "!"],
  prepend_scheme: [PREPEND_SCHEMES, "?"],
  add_prefix_space: ["bool", "?"],
  split: ["bool", "?"],
};
const REPLACE: Schema = { pattern: ["pattern", "!"], content: ["string", "!"] };
const BYTE_LEVEL: Schema = { add_prefix_space: ["bool", "?"], trim_offsets: ["bool", "?"], use_regex: ["bool", "?"] };

/** The component types @huggingface/tokenizers implements, with the fields each reads (tokenizers' serde names). */
const SCHEMAS: { readonly [K in Kind]: Readonly<Record<string, Schema>> } = {
  normalizer: {
    BertNormalizer: {
      clean_text: ["bool", "?"],
      handle_chinese_chars: ["bool", "?"],
      strip_accents: ["bool|null", "?"],
      lowercase: ["bool", "?"],
    },
    Precompiled: { precompiled_charsmap: ["string", "!"] },
    Sequence: { normalizers: [{ list: "normalizer" }, "!"] },
    Replace: REPLACE,
    NFC: {},
    NFD: {},
    NFKC: {},
    NFKD: {},
    Strip: { strip_left: ["bool", "!"], strip_right: ["bool", "!"] },
    StripAccents: {},
    Lowercase: {},
    Prepend: { prepend: ["string", "!"] },
  },
  pre_tokenizer: {
    BertPreTokenizer: {},
    Sequence: { pretokenizers: [{ list: "pre_tokenizer" }, "!"] },
    Whitespace: {},
    WhitespaceSplit: {},
    Metaspace: METASPACE,
    ByteLevel: BYTE_LEVEL,
    Split: { pattern: ["pattern", "!"], behavior: [SPLIT_BEHAVIORS, "!"], invert: ["bool", "?"] },
    Punctuation: { behavior: [SPLIT_BEHAVIORS, "?"] },
    Digits: { individual_digits: ["bool", "?"] },
    Replace: REPLACE,
    FixedLength: { length: ["count", "?"] },
  },
  decoder: {
    ByteLevel: BYTE_LEVEL,
    WordPiece: { prefix: ["string", "?"], cleanup: ["bool", "?"] },
    Metaspace: METASPACE,
    BPEDecoder: { suffix: ["string", "?"] },
    CTC: { pad_token: ["string", "?"], word_delimiter_token: ["string", "?"], cleanup: ["bool", "?"] },
    Sequence: { decoders: [{ list: "decoder" }, "!"] },
    Replace: REPLACE,
    Fuse: {},
    Strip: { content: ["string", "!"], start: ["count", "!"], stop: ["count", "!"] },
    ByteFallback: {},
  },
};

/**
 * Checks a normalizer, pre-tokenizer or decoder (recursively through `Sequence`) against the fields its type
 * reads. An unknown type is left to the library, whose error names it; fields the reader ignores are ignored.
 */
export function checkComponent(kind: Kind, v: unknown, field: string, fail: Fail, depth = 0): void {
  if (v === null || v === undefined) return;
  if (depth > MAX_NESTING) fail(field, `Sequences nested more than ${MAX_NESTING} deep`);
  if (!isObject(v) || typeof v.type !== "string") {
    fail(field, `expected null or an object with a string "type", got ${show(v)}`);
    return;
  }
  const schema = SCHEMAS[kind][v.type];
  if (schema === undefined) return;
  for (const [key, [spec, presence]] of Object.entries(schema)) {
    const value = v[key];
    const f = `${field}.${key}`;
    if (value === undefined) {
      if (presence === "!") fail(f, `missing (${v.type} needs it)`);
      continue;
    }
    checkValue(spec, value, f, fail, depth);
  }
}

function checkValue(spec: Spec, value: unknown, field: string, fail: Fail, depth: number): void {
  if (typeof spec === "object" && !Array.isArray(spec)) {
    const { list } = spec as { list: Kind };
    if (!Array.isArray(value)) fail(field, `expected an array of ${list.replace("_", "-")}s, got ${show(value)}`);
    (value as unknown[]).forEach((item, i) => {
      checkComponent(list, item, `${field}[${i}]`, fail, depth + 1);
    });
    return;
  }
  const wanted = expected(spec as Exclude<Spec, { list: Kind }>, value);
  if (wanted !== undefined) fail(field, `expected ${wanted}, got ${show(value)}`);
}

/** What `value` should have been, or undefined when it fits `spec`. */
function expected(spec: Exclude<Spec, { list: Kind }>, value: unknown): string | undefined {
  if (typeof spec !== "string")
    return typeof value === "string" && spec.includes(value) ? undefined : `one of ${spec.join(", ")}`;
  const ok: Record<typeof spec, [boolean, string]> = {
    bool: [typeof value === "boolean", "a boolean"],
    "bool|null": [value === null || typeof value === "boolean", "a boolean or null"],
    string: [typeof value === "string", "a string"],
    char: [typeof value === "string" && Array.from(value).length === 1, "one character"],
    count: [isCount(value), "a non-negative integer"],
    pattern: [
      isObject(value) && Object.keys(value).length === 1 && (typeof value.String === "string" || typeof value.Regex === "string"),
      `{"String": text} or {"Regex": pattern}`,
    ],
  };
  return ok[spec][0] ? undefined : ok[spec][1];
}

// ——— post-processors ———

/** A token a post-processor inserts, and the field that names it (checked against the vocabulary once built). */
export interface InsertedToken {
  readonly field: string;
  readonly token: string;
  /** the id the file gives it, if it gives one (BertProcessing's ["[CLS]", 101]) */
  readonly id?: number;
}

/**
 * Checks a `post_processor` (recursively through `Sequence`) as the Rust reader would deserialize it, and returns the
 * tokens it inserts. The post-processor types are those @huggingface/tokenizers implements.
 */
export function checkPostProcessor(v: unknown, field: string, fail: Fail, depth = 0): InsertedToken[] {
  if (v === null || v === undefined) return [];
  if (depth > MAX_NESTING) fail(field, `Sequences nested more than ${MAX_NESTING} deep`);
  if (!isObject(v) || typeof v.type !== "string")
    return fail(field, `expected null or an object with a string "type", got ${show(v)}`);
  const bool = (key: string) => {
    if (v[key] !== undefined && typeof v[key] !== "boolean") fail(`${field}.${key}`, `expected a boolean, got ${show(v[key])}`);
  };
  switch (v.type) {
    case "TemplateProcessing": {
      const out: InsertedToken[] = [];
      for (const key of ["single", "pair"]) {
        // the Rust reader requires both; only `single` is used for one text, but a broken `pair` is a broken file
        const items = v[key];
        if (!Array.isArray(items))
          return fail(`${field}.${key}`, `expected an array of {"SpecialToken"} / {"Sequence"} items, got ${show(items)}`);
        for (const [i, item] of items.entries()) out.push(...templateItem(item, `${field}.${key}[${i}]`, key === "pair", fail));
      }
      if (v.special_tokens !== undefined && !isObject(v.special_tokens))
        fail(`${field}.special_tokens`, `expected an object of token → {id, ids, tokens}, got ${show(v.special_tokens)}`);
      return out;
    }
    case "BertProcessing":
    case "RobertaProcessing": {
      const out = ["cls", "sep"].map((key) => tokenPair(v[key], `${field}.${key}`, fail));
      if (v.type === "RobertaProcessing") for (const key of ["trim_offsets", "add_prefix_space"]) bool(key);
      return out;
    }
    case "ByteLevel":
      for (const key of ["add_prefix_space", "trim_offsets", "use_regex"]) bool(key);
      return [];
    case "Sequence": {
      const list = v.processors;
      if (!Array.isArray(list)) return fail(`${field}.processors`, `expected an array of post-processors, got ${show(list)}`);
      return list.flatMap((p, i) => checkPostProcessor(p, `${field}.processors[${i}]`, fail, depth + 1));
    }
    default:
      return fail(
        `${field}.type`,
        `unknown post-processor ${show(v.type)}; expected TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel or Sequence`,
      );
  }
}

/** One item of a template: {"SpecialToken": {"id": "<s>", "type_id": 0}} or {"Sequence": {"id": "A", "type_id": 0}}. */
function templateItem(item: unknown, field: string, pair: boolean, fail: Fail): InsertedToken[] {
  const keys = isObject(item) ? Object.keys(item) : [];
  if (!isObject(item) || keys.length !== 1 || (keys[0] !== "SpecialToken" && keys[0] !== "Sequence"))
    return fail(field, `expected {"SpecialToken": {…}} or {"Sequence": {…}}, got ${show(item)}`);
  const kind = keys[0] as "SpecialToken" | "Sequence";
  const body = item[kind];
  if (!isObject(body)) return fail(`${field}.${kind}`, `expected an object with "id" and "type_id", got ${show(body)}`);
  if (body.type_id !== undefined && !isCount(body.type_id))
    fail(`${field}.${kind}.type_id`, `expected a non-negative integer, got ${show(body.type_id)}`);
  if (kind === "Sequence") {
    const ok = pair ? ["A", "B"] : ["A"];
    if (typeof body.id !== "string" || !ok.includes(body.id))
      fail(`${field}.Sequence.id`, `expected ${ok.map((s) => show(s)).join(" or ")}, got ${show(body.id)}`);
    return [];
  }
  if (typeof body.id !== "string" || body.id === "")
    return fail(`${field}.SpecialToken.id`, `expected the token's text (a non-empty string), got ${show(body.id)}`);
  return [{ field: `${field}.SpecialToken.id`, token: body.id }];
}

/** BertProcessing's and RobertaProcessing's cls/sep: ["[CLS]", 101]. */
function tokenPair(v: unknown, field: string, fail: Fail): InsertedToken {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== "string" || v[0] === "" || !isCount(v[1]))
    return fail(field, `expected [token, id] (e.g. ["[CLS]", 101]), got ${show(v)}`);
  return { field, token: v[0], id: v[1] };
}

/**
 * The component that makes `op` throw: `build` is given the components with all but one set to null, one at a
 * time in pipeline order; the first whose tokenizer fails `op` is blamed. "model" when none fails alone.
 */
export function blameComponent<T>(
  components: Readonly<Record<Component, unknown>>,
  build: (only: Record<Component, unknown>) => T,
  op: (t: T) => void,
): Component | "model" {
  const none = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null };
  for (const key of COMPONENTS) {
    if (components[key] === null || components[key] === undefined) continue;
    try {
      op(build({ ...none, [key]: components[key] }));
    } catch {
      return key;
    }
  }
  return "model";
}
