// Mutations of GGUF files. A walk over the seed file (well-formed, so the walk needs no checks) records where
// each field lies — counts, every string and array length, value types, each tensor's dims, type and offset —
// so a mutation can hit exactly the field a reader trusts; random damage to the header region and the data
// covers what the walk does not name. Metadata mutations re-encode the file through the project's writer, so
// the header stays well-formed and the config and tokenizer rebuild from metadata are reached.

import { encodeGguf, type GgufArray, type GgufValue, type GgufWriteInput } from "@llmdbg/formats";
import { concat } from "./json-mutate.js";
import type { Rng } from "./prng.js";
import { ggufSeedInput } from "./seeds.js";

interface KvAt {
  readonly key: string;
  /** the u32 value type */
  readonly typeAt: number;
  /** the value's first byte */
  readonly valueAt: number;
}

interface TensorAt {
  readonly nDimsAt: number;
  readonly neAt: readonly number[];
  readonly typeAt: number;
  readonly offsetAt: number;
}

/** Where the fields of a well-formed GGUF file lie. */
export interface GgufLayout {
  readonly kvs: readonly KvAt[];
  /** the u64 length of every string: keys, values, array items, tensor names */
  readonly stringLengths: readonly number[];
  /** every array's u32 element type (its u64 length follows) */
  readonly arrays: readonly number[];
  readonly tensors: readonly TensorAt[];
  /** end of the tensor infos (the data section starts at the next alignment boundary) */
  readonly headerEnd: number;
}

const SCALAR_SIZE = [1, 1, 2, 2, 4, 4, 4, 1, -1, -1, 8, 8, 8];

/**
 * Walks a well-formed GGUF file and records where its fields are.
 * @example ggufLayout(encodeGguf(ggufSeedInput("gpt2"))).tensors.length
 */
export function ggufLayout(bytes: Uint8Array): GgufLayout {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 8;
  const u32 = () => {
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = () => {
    const v = Number(view.getBigUint64(pos, true));
    pos += 8;
    return v;
  };
  const stringLengths: number[] = [];
  const arrays: number[] = [];
  const str = () => {
    stringLengths.push(pos);
    const n = u64();
    const s = new TextDecoder().decode(bytes.subarray(pos, pos + n));
    pos += n;
    return s;
  };
  const value = (type: number): void => {
    if (type === 8) str();
    else if (type === 9) {
      arrays.push(pos);
      const elem = u32();
      const n = u64();
      for (let i = 0; i < n; i++) value(elem);
    } else pos += SCALAR_SIZE[type] ?? 0;
  };
  const tensorCount = u64();
  const kvCount = u64();
  const kvs: KvAt[] = [];
  for (let i = 0; i < kvCount; i++) {
    const key = str();
    const typeAt = pos;
    const type = u32();
    kvs.push({ key, typeAt, valueAt: pos });
    value(type);
  }
  const tensors: TensorAt[] = [];
  for (let i = 0; i < tensorCount; i++) {
    str();
    const nDimsAt = pos;
    const nDims = u32();
    const neAt: number[] = [];
    for (let d = 0; d < nDims; d++) {
      neAt.push(pos);
      pos += 8;
    }
    const typeAt = pos;
    pos += 4;
    tensors.push({ nDimsAt, neAt, typeAt, offsetAt: pos });
    pos += 8;
  }
  return { kvs, stringLengths, arrays, tensors, headerEnd: pos };
}

const seeds = new Map<string, { bytes: Uint8Array; layout: GgufLayout }>();

/** The seed GGUF of a model variant, encoded once per process, with its layout. */
export function ggufSeed(name: string): { bytes: Uint8Array; layout: GgufLayout } {
  let s = seeds.get(name);
  if (s === undefined) {
    const bytes = encodeGguf(ggufSeedInput(name));
    s = { bytes, layout: ggufLayout(bytes) };
    seeds.set(name, s);
  }
  return s;
}

const U64_VALUES = [
  0n,
  1n,
  2n,
  3n,
  31n,
  32n,
  255n,
  2n ** 31n,
  2n ** 32n - 1n,
  2n ** 32n,
  2n ** 53n,
  2n ** 53n + 1n,
  2n ** 63n,
  2n ** 64n - 1n,
];

/** A hostile u64 near `current` or at a boundary. */
function hostileU64(rng: Rng, current: bigint): bigint {
  if (rng.chance(0.4)) {
    const v = current + BigInt(rng.pick([-2, -1, 1, 2, 7, 64, 1000, -1000]));
    return v < 0n ? 2n ** 64n + v : v % 2n ** 64n;
  }
  if (rng.chance(0.15)) return current * 2n;
  return rng.pick(U64_VALUES);
}

function setU64(out: Uint8Array, at: number, rng: Rng): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setBigUint64(at, hostileU64(rng, view.getBigUint64(at, true)), true);
}

function setU32(out: Uint8Array, at: number, v: number): void {
  new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(at, v >>> 0, true);
}

/** A metadata value changed: hostile numbers, another type, damaged strings and arrays. */
function mutateValue(rng: Rng, v: GgufValue): GgufValue {
  switch (rng.int(6)) {
    case 0:
      return rng.pick<GgufValue>([
        { type: "u32", value: rng.pick([0, 1, 3, 2 ** 31, 2 ** 32 - 1, 1e9]) },
        { type: "i32", value: rng.pick([-1, -(2 ** 31), 0, 2 ** 31 - 1]) },
        { type: "u64", value: rng.pick(U64_VALUES) },
        { type: "i64", value: rng.pick([-1n, 2n ** 62n, -(2n ** 63n)]) },
        { type: "f32", value: rng.pick([Number.NaN, Number.POSITIVE_INFINITY, -1, 0, 1e30, 0.5]) },
        { type: "f64", value: rng.pick([Number.NaN, 1e300, -0]) },
        { type: "bool", value: rng.chance(0.5) },
        { type: "u8", value: 255 },
      ]);
    case 1:
      return {
        type: "string",
        value: rng.pick(["", "llama", "gpt2", "gptneox", "qwen2", "bert", "x".repeat(rng.small(1 << 20)), "\u0000"]),
      };
    case 2:
      return {
        type: "array",
        value: rng.pick<GgufArray>([
          { elemType: "u32", items: [] },
          { elemType: "string", items: ["a", "b"] },
        ]),
      };
    default:
      if (v.type === "array") return { type: "array", value: mutateArray(rng, v.value) };
      if (v.type === "string")
        return {
          type: "string",
          value: rng.pick([
            v.value.slice(0, rng.int(v.value.length + 1)),
            v.value + v.value,
            v.value.toUpperCase(),
            `${v.value}-x`,
          ]),
        };
      if (v.type === "u64" || v.type === "i64") return { type: v.type, value: v.type === "u64" ? rng.pick(U64_VALUES) : -1n };
      if (v.type === "bool") return { type: "bool", value: !v.value };
      {
        const x = v.value as number;
        return { type: v.type, value: rng.pick([0, 1, x + 1, x - 1, x * 2, 255]) } as GgufValue;
      }
  }
}

function mutateArray(rng: Rng, a: GgufArray): GgufArray {
  const items = [...a.items] as unknown[];
  switch (rng.int(6)) {
    case 0:
      items.length = rng.int(items.length + 1);
      break;
    case 1:
      // duplicated entries (two tokens with one text, a merge listed twice)
      if (items.length > 0) items.splice(rng.int(items.length), 0, items[rng.int(items.length)]);
      break;
    case 2:
      items.reverse();
      break;
    case 3: {
      // a much longer array: a vocabulary bigger than the embedding, a merges list of junk
      const n = rng.small(200_000);
      const fill = items.length > 0 ? items[rng.int(items.length)] : 0;
      for (let i = 0; i < n; i++) items.push(typeof fill === "string" && rng.chance(0.5) ? `${fill}${i}` : fill);
      break;
    }
    case 4:
      if (items.length > 0) {
        const i = rng.int(items.length);
        const x = items[i];
        items[i] =
          typeof x === "string"
            ? rng.pick(["", " ", "a b c", "x".repeat(rng.small(100_000)), "\u0000", "<0xZZ>"])
            : typeof x === "number"
              ? rng.pick([-1, 1e9, Number.NaN, 255, 2 ** 31])
              : x;
      }
      break;
    default:
      return rng.pick<GgufArray>([
        { elemType: "i32", items: items.map((_, i) => i) },
        { elemType: "string", items: items.map(String) },
        { elemType: "f32", items: items.map(() => Number.NaN) },
      ]);
  }
  return { ...a, items } as GgufArray;
}

/** The seed re-encoded with one to three metadata keys changed, deleted or added. */
function mutateMetadata(rng: Rng, input: GgufWriteInput): Uint8Array | undefined {
  const meta = new Map(
    input.metadata instanceof Map ? input.metadata : Object.entries(input.metadata as Record<string, GgufValue>),
  ) as Map<string, GgufValue>;
  const keys = [...meta.keys()];
  const n = 1 + rng.small(2);
  for (let i = 0; i < n; i++) {
    const key = rng.pick(keys);
    const op = rng.int(8);
    if (op === 0) meta.delete(key);
    else if (op === 1) {
      // a key another architecture or a newer converter writes
      const arch = (meta.get("general.architecture")?.value as string) ?? "llama";
      const extra = rng.pick([
        "block_count",
        "head_count_kv",
        "rope.dimension_count",
        "attention.sliding_window",
        "rope.scaling.type",
        "expert_count",
      ]);
      meta.set(`${arch}.${extra}`, mutateValue(rng, { type: "u32", value: 2 }));
    } else {
      const v = meta.get(key);
      if (v !== undefined) meta.set(key, mutateValue(rng, v));
    }
  }
  try {
    return encodeGguf({ ...input, metadata: meta });
  } catch {
    // the writer refuses some values (a bad alignment): the byte-level mutations cover those
    return undefined;
  }
}

/**
 * A mutated GGUF file of seed model `name`.
 * @example mutateGguf(new Rng(1), "llama").length
 */
export function mutateGguf(rng: Rng, name: string): Uint8Array {
  const { bytes, layout } = ggufSeed(name);
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  const tensor = () => rng.pick(layout.tensors);
  const n = 1 + rng.small(2);
  for (let step = 0; step < n; step++) {
    switch (rng.int(15)) {
      case 0:
        out.set(
          rng.pick([
            [0x47, 0x47, 0x55, 0x46],
            [0x47, 0x47, 0x4d, 0x4c],
            [0, 0, 0, 0],
            [0x46, 0x55, 0x47, 0x47],
            [0x47, 0x47, 0x55, 0x47],
          ]),
          0,
        );
        break;
      case 1:
        setU32(out, 4, rng.pick([0, 1, 2, 4, 0x03000000, 0xffffffff]));
        break;
      case 2:
        setU64(out, rng.pick([8, 16]), rng);
        break;
      case 3:
        setU64(out, rng.pick(layout.stringLengths), rng);
        break;
      case 4: {
        const at = rng.pick(layout.arrays);
        if (rng.chance(0.5)) setU32(out, at, rng.pick([0, 4, 6, 8, 9, 10, 12, 13, 0xffffffff]));
        else setU64(out, at + 4, rng);
        break;
      }
      case 5:
        setU32(out, rng.pick(layout.kvs).typeAt, rng.pick([0, 1, 4, 5, 6, 7, 8, 9, 10, 12, 13, 99, 0xffffffff]));
        break;
      case 6: {
        const t = tensor();
        if (rng.chance(0.3) || t.neAt.length === 0) setU32(out, t.nDimsAt, rng.pick([0, 1, 3, 4, 5, 0xffffffff]));
        else setU64(out, rng.pick(t.neAt), rng);
        break;
      }
      case 7:
        // ggml types: supported, quantized without a dequantizer here, removed (4, 5), unknown
        setU32(out, tensor().typeAt, rng.pick([0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 24, 26, 30, 39, 40, 1000, 0xffffffff]));
        break;
      case 8: {
        const t = tensor();
        const other = rng.pick(layout.tensors);
        if (rng.chance(0.3)) view.setBigUint64(t.offsetAt, view.getBigUint64(other.offsetAt, true), true);
        else setU64(out, t.offsetAt, rng);
        break;
      }
      case 9:
        return out.slice(0, rng.chance(0.6) ? rng.int(layout.headerEnd + 64) : rng.int(out.length));
      case 10:
        return concat(out, rng.bytes(1 + rng.small(4096)));
      case 11: {
        // random damage in the header region (the walk does not name every byte)
        const k = 1 + rng.small(8);
        for (let i = 0; i < k; i++)
          out[rng.int(layout.headerEnd)] = rng.chance(0.5) ? rng.u32() & 0xff : rng.pick([0, 0xff, 0x7f, 0x80]);
        break;
      }
      case 12: {
        // damaged weights: single bytes, or whole floats set to NaN / infinity / the largest finite value
        const k = 1 + rng.small(32);
        for (let i = 0; i < k; i++) {
          const at = layout.headerEnd + rng.int(out.length - layout.headerEnd);
          if (rng.chance(0.5)) out[at] = rng.u32() & 0xff;
          else
            out.set(
              rng
                .pick([
                  [0, 0, 0xc0, 0x7f],
                  [0, 0, 0x80, 0x7f],
                  [0xff, 0xff, 0x7f, 0x7f],
                  [0xff, 0xff, 0xff, 0xff],
                ])
                .slice(0, out.length - at),
              at,
            );
        }
        break;
      }
      case 13: {
        const m = mutateMetadata(rng, ggufSeedInput(name));
        if (m !== undefined) return m;
        break;
      }
      default: {
        // general.alignment: written valid (64) by the encoder, then patched to a hostile value
        const input = ggufSeedInput(name);
        const m = encodeGguf({ ...input, alignment: 64 });
        const at = ggufLayout(m).kvs.find((k) => k.key === "general.alignment");
        if (at === undefined) break;
        if (rng.chance(0.3)) setU32(m, at.typeAt, rng.pick([0, 5, 10]));
        else setU32(m, at.valueAt, rng.pick([0, 1, 3, 16, 48, 2 ** 31, 0xffffffff]));
        return m;
      }
    }
  }
  return out;
}
