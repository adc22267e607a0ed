// Mutations of the JSON files of a model folder (config.json, generation_config.json, tokenizer.json,
// tokenizer_config.json, the shard index, the safetensors header). Two kinds: structural mutations of the parsed
// value (what a careless exporter or a hostile author writes: wrong types, hostile numbers, missing or extra
// keys, duplicated entries, huge arrays, deep nesting, long strings) and raw text mutations (what a truncated
// download or a flipped bit gives: invalid JSON, invalid UTF-8). The structural ones keep the file valid JSON
// most of the time, so the loaders' own checks are reached rather than only the JSON parser.

import type { Rng } from "./prng.js";

/** An object written with a key repeated (JSON.stringify cannot express one). */
export class DupObject {
  constructor(readonly entries: readonly (readonly [string, unknown])[]) {}
}

/** Text written verbatim where a value goes: NaN, 1e999, a lone surrogate escape. */
export class RawJson {
  constructor(readonly text: string) {}
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof DupObject) && !(v instanceof RawJson);

/** JSON text for a value that may hold DupObject and RawJson nodes. */
export function serializeJson(v: unknown): string {
  if (v instanceof RawJson) return v.text;
  if (v instanceof DupObject) return `{${v.entries.map(([k, x]) => `${JSON.stringify(k)}:${serializeJson(x)}`).join(",")}}`;
  if (Array.isArray(v)) return `[${v.map(serializeJson).join(",")}]`;
  if (isObj(v))
    return `{${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)}:${serializeJson(x)}`)
      .join(",")}}`;
  return JSON.stringify(v) ?? "null";
}

/** The largest single string or array a mutation creates; keeps every case under the 10 MB bound. */
export const MAX_STRING = 1 << 20;
const MAX_ARRAY = 300_000;
const MAX_NESTING = 20_000;

/** Hostile numbers: zero, negative, off by one around powers of two, beyond 2^53, non-integers. */
const NUMBERS = [
  0,
  -1,
  1,
  2,
  -(2 ** 31),
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32,
  2 ** 32 + 1,
  1e9,
  2 ** 53,
  2 ** 53 + 2,
  1e308,
  -1e308,
  0.5,
  1e-30,
];
const RAW_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e999", "-0", "01", "0x10", "1.", ".5", "+1"];

/** A long string, sometimes of characters that stress tokenizers (spaces, multi-byte, combining marks). */
function longString(rng: Rng): string {
  const n = rng.small(MAX_STRING);
  const unit = rng.pick(["a", " ", "▁", "é", "\u0301", "😀", "ab ", "\n", "<s>", "\\"]);
  return unit.repeat(Math.max(1, Math.floor(n / unit.length)));
}

function hugeArray(rng: Rng, like: unknown): unknown[] {
  const n = rng.small(MAX_ARRAY);
  const item = rng.pick<unknown>([0, -1, 1e9, "a", "a b", null, [], like]);
  // an item that is itself large would multiply the size: only small ones are repeated many times
  const size = serializeJson(item).length;
  return new Array(Math.min(n, Math.floor(2_000_000 / Math.max(1, size)))).fill(item);
}

function deepNest(rng: Rng, inner: unknown): unknown {
  const depth = rng.small(MAX_NESTING);
  const open = rng.chance(0.5) ? "[" : '{"a":';
  const close = open === "[" ? "]" : "}";
  return new RawJson(open.repeat(depth) + serializeJson(inner) + close.repeat(depth));
}

/** A replacement of the same role but another type, or a hostile value of any type. */
function replacement(rng: Rng, v: unknown, doc: unknown): unknown {
  switch (rng.int(12)) {
    case 0:
      return rng.pick(NUMBERS);
    case 1:
      return new RawJson(rng.pick(RAW_NUMBERS));
    case 2:
      // a number as a string, a string as a number, and "NaN" as text
      if (typeof v === "number") return rng.chance(0.5) ? String(v) : "NaN";
      if (typeof v === "string") return rng.chance(0.5) ? v.length : Number.parseFloat(v) || 0;
      return rng.pick(["NaN", "1", "true", ""]);
    case 3:
      return rng.pick<unknown>([null, true, false, [], {}, "", "x"]);
    case 4:
      return longString(rng);
    case 5:
      return hugeArray(rng, v);
    case 6:
      return deepNest(rng, rng.chance(0.5) ? 0 : v);
    case 7:
      // the value wrapped: an object where a scalar goes and the other way round
      return rng.chance(0.5) ? [v] : { value: v };
    case 8:
      // a lone surrogate or a NUL inside a string
      return new RawJson(rng.pick(['"\\ud800"', '"a\\udc00b"', '"\\u0000"', '"\\ud83d"']));
    case 9:
      if (typeof v === "number") return rng.pick([v + 1, v - 1, -v, v * 2, v * 1000, v + 0.5, Math.floor(v / 2)]);
      if (typeof v === "string")
        return rng.pick([v.slice(0, rng.int(v.length + 1)), v + v, `${v}\u0000`, v.toUpperCase(), ` ${v}`]);
      return rng.pick(NUMBERS);
    case 10:
      // another value from the same document: a token where a number goes, a sub-object moved elsewhere
      return somewhere(rng, doc);
    default:
      if (Array.isArray(v)) return [];
      if (isObj(v)) return Object.values(v);
      return null;
  }
}

/** A deep copy (RawJson and DupObject are never changed in place, so they are shared). */
function clone(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(clone);
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)]));
  return v;
}

/** A copy of a random value of the document, found by walking down from the root (a copy: an ancestor put
 * below itself would make a cycle). */
function somewhere(rng: Rng, doc: unknown): unknown {
  let v = doc;
  for (let i = 0; i < 16; i++) {
    const kids = Array.isArray(v) ? v : isObj(v) ? Object.values(v) : [];
    if (kids.length === 0 || rng.chance(0.25)) return clone(v);
    v = rng.pick(kids);
  }
  return clone(v);
}

/**
 * Where to mutate: a walk from the root that descends into a random child at each level, stopping with some
 * probability. A uniform pick over all nodes would land almost always in the vocabulary of a tokenizer.json;
 * the walk reaches each level's keys (model.type, normalizer, added_tokens, …) as often as the big tables.
 */
function location(rng: Rng, root: unknown): { parent: Obj | unknown[]; key: string | number } | undefined {
  let parent: Obj | unknown[] | undefined;
  let key: string | number = "";
  let v = root;
  for (let depth = 0; depth < 32; depth++) {
    const keys: (string | number)[] = Array.isArray(v) ? v.map((_, i) => i) : isObj(v) ? Object.keys(v) : [];
    if (keys.length === 0 || (parent !== undefined && rng.chance(0.35))) break;
    const k = rng.pick(keys);
    parent = v as Obj | unknown[];
    key = k;
    v = (parent as Record<string | number, unknown>)[k];
  }
  return parent === undefined ? undefined : { parent, key };
}

const EXTRA_KEYS = [
  "__proto__",
  "constructor",
  "",
  "type",
  "vocab_size",
  "id",
  "x".repeat(300),
  "model",
  "dtype",
  "__metadata__",
  // optional keys of the configs that the seeds leave out, so their checks are reached too
  "num_labels",
  "id2label",
  "head_dim",
  "sliding_window",
  "rope_scaling",
  "n_inner",
  "chat_template",
  "added_tokens_decoder",
];

/** One structural mutation of `root` in place; returns the new root (a mutation may replace it). */
export function mutateStructure(rng: Rng, root: unknown): unknown {
  const at = location(rng, root);
  if (at === undefined || rng.chance(0.03))
    return rng.chance(0.5) ? replacement(rng, root, root) : rng.pick<unknown>([null, [], "x", 0]);
  const { parent, key } = at;
  const get = (): unknown => (parent as Record<string | number, unknown>)[key];
  const set = (x: unknown): void => {
    (parent as Record<string | number, unknown>)[key] = x;
  };
  const op = rng.int(10);
  if (op <= 1) {
    // delete the key / the element
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key as string];
    return root;
  }
  if (op <= 5) {
    set(replacement(rng, get(), root));
    return root;
  }
  if (Array.isArray(parent)) {
    const i = key as number;
    switch (op) {
      case 6: // duplicate the entry
        parent.splice(i, 0, clone(parent[i]));
        break;
      case 7: // swap with another entry
        {
          const j = rng.int(parent.length);
          [parent[i], parent[j]] = [parent[j], parent[i]];
        }
        break;
      case 8:
        parent.reverse();
        break;
      default:
        parent.push(rng.pick<unknown>([null, 0, "x", {}, clone(parent[i])]));
    }
    return root;
  }
  const obj = parent as Obj;
  const k = key as string;
  const keys = Object.keys(obj);
  switch (op) {
    case 6: {
      // the same key twice with different values: readers that keep the first and those that keep the last
      // see different files
      const dup = new DupObject([...Object.entries(obj), [k, replacement(rng, obj[k], root)]]);
      for (const name of keys) delete obj[name];
      // the parent object becomes the duplicate-key object: found through the grandparent
      replaceEverywhere(root, obj, dup);
      return root === obj ? dup : root;
    }
    case 7: {
      // swap the values of two keys (hidden_size ↔ num_attention_heads, begin ↔ end)
      const other = rng.pick(keys);
      [obj[k], obj[other]] = [obj[other], obj[k]];
      return root;
    }
    case 8: {
      // rename the key (a misspelt or renamed field)
      const v = obj[k];
      delete obj[k];
      obj[rng.chance(0.5) ? `${k}_` : k.toUpperCase()] = v;
      return root;
    }
    default:
      obj[rng.pick(EXTRA_KEYS)] = replacement(rng, obj[k], root);
      return root;
  }
}

/** Replaces the node `from` by `to` wherever it is referenced below `root` (one reference in a tree). */
function replaceEverywhere(root: unknown, from: unknown, to: unknown): void {
  const stack = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    const entries: [string | number, unknown][] = Array.isArray(v) ? v.map((x, i) => [i, x]) : isObj(v) ? Object.entries(v) : [];
    for (const [k, x] of entries) {
      if (x === from) {
        (v as Record<string | number, unknown>)[k] = to;
        return;
      }
      stack.push(x);
    }
  }
}

/** Byte-level damage to a text file: truncation, flipped bytes, invalid UTF-8, a BOM, an empty file. */
export function mutateRawBytes(rng: Rng, bytes: Uint8Array): Uint8Array {
  switch (rng.int(7)) {
    case 0:
      return bytes.slice(0, rng.int(bytes.length));
    case 1: {
      const out = bytes.slice();
      const n = 1 + rng.small(16);
      for (let i = 0; i < n && out.length > 0; i++)
        out[rng.int(out.length)] = rng.pick([0x22, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x30, 0x5c, rng.u32() & 0xff]);
      return out;
    }
    case 2: {
      // invalid UTF-8 inside the text: a stray continuation byte, a truncated sequence, an overlong form
      const out = bytes.slice();
      const seq = rng.pick([[0xff], [0xc3], [0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]]);
      const at = rng.int(Math.max(1, out.length - seq.length));
      out.set(seq.slice(0, out.length - at), at);
      return out;
    }
    case 3:
      return concat(new Uint8Array([0xef, 0xbb, 0xbf]), bytes);
    case 4:
      return new TextEncoder().encode(rng.pick(["", "null", "[]", '"x"', "0", "{", "{}", " ", "\u0000"]));
    case 5: {
      const out = bytes.slice();
      out[rng.int(Math.max(1, out.length))] = 0;
      return out;
    }
    default: {
      // the file twice (two documents), or with trailing garbage
      const tail = rng.chance(0.5) ? bytes : rng.bytes(1 + rng.small(64));
      return concat(bytes, tail);
    }
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * A mutated JSON file: structural mutations (1 to 4) most of the time, raw byte damage otherwise.
 *
 * @example
 * mutateJsonFile(new Rng(7), new TextEncoder().encode('{"n_layer": 2}')) // e.g. {"n_layer":-1}
 */
export function mutateJsonFile(rng: Rng, bytes: Uint8Array, rawShare = 0.15): Uint8Array {
  if (rng.chance(rawShare)) return mutateRawBytes(rng, bytes);
  let doc: unknown = JSON.parse(new TextDecoder().decode(bytes));
  const n = 1 + rng.small(3);
  for (let i = 0; i < n; i++) doc = mutateStructure(rng, doc);
  return new TextEncoder().encode(serializeJson(doc));
}
