// Mutations of safetensors checkpoints and of the sharded index. The header is JSON behind an 8-byte length:
// a mutation damages the length, the JSON's bytes, or the JSON's structure — the fields a reader trusts to
// allocate and slice (dtype, shape, data_offsets) get targeted values (swapped, overlapping, negative, huge,
// missing, extra) — and then the header is re-laid out with a correct length, so the checks behind the
// length are reached. Truncation, appended bytes and flipped data bytes cover the rest of the file.

import { concat, DupObject, mutateJsonFile, mutateStructure, RawJson, serializeJson } from "./json-mutate.js";
import type { Rng } from "./prng.js";

type Obj = Record<string, unknown>;

interface Parsed {
  readonly header: Obj;
  readonly data: Uint8Array;
}

function parse(bytes: Uint8Array): Parsed {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Obj;
  return { header, data: bytes.subarray(8 + n) };
}

/** A header laid out again: padded with spaces to 8 bytes (as the writer does) unless `pad` is false. */
function layout(header: unknown, data: Uint8Array, pad = true): Uint8Array {
  let text = serializeJson(header);
  if (pad) text += " ".repeat((8 - (text.length % 8)) % 8);
  const json = new TextEncoder().encode(text);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(json.length), true);
  return concat(len, json, data);
}

const DTYPES: readonly unknown[] = [
  "F32",
  "F16",
  "BF16",
  "F64",
  "I64",
  "I32",
  "I16",
  "I8",
  "U8",
  "BOOL",
  "F8_E4M3",
  "Q4_0",
  "f32",
  "",
  4,
  null,
  ["F32"],
];

function hostileShape(rng: Rng, shape: number[]): unknown {
  return rng.pick<unknown>([
    [],
    [0],
    [-1, ...shape.slice(1)],
    [...shape].reverse(),
    shape.map((d, i) => (i === 0 ? d * 2 : d)),
    [2 ** 31, 2 ** 31],
    [2 ** 53, 2],
    [1e20],
    [1.5, ...shape.slice(1)],
    shape.map(String),
    [...shape, 1],
    shape.slice(1),
    [shape.reduce((a, b) => a * b, 1)],
    null,
    new Array(100).fill(1),
    new RawJson(`[${shape.map(() => "1e999").join(",")}]`),
  ]);
}

function hostileOffsets(rng: Rng, [b, e]: [number, number], other: [number, number], dataSize: number): unknown {
  return rng.pick<unknown>([
    [e, b],
    [b, e + 1],
    [b - 1, e],
    [b, e - 1],
    other,
    [other[0], e],
    [0, dataSize],
    [-1, e],
    [b, 2 ** 53],
    [b, 2 ** 64],
    [b],
    [b, e, 0],
    [String(b), String(e)],
    [b + 0.5, e],
    null,
    { begin: b, end: e },
    [b, b],
  ]);
}

function isEntry(v: unknown): boolean {
  if (typeof v !== "object" || v === null) return false;
  const e = v as Obj;
  const offsets = e.data_offsets;
  return (
    Array.isArray(e.shape) &&
    e.shape.every((d) => typeof d === "number") &&
    Array.isArray(offsets) &&
    offsets.length === 2 &&
    offsets.every((d) => typeof d === "number")
  );
}

/** A targeted change to one tensor entry or to __metadata__. */
function mutateHeader(rng: Rng, header: Obj, dataSize: number): unknown {
  // entries an earlier mutation left intact (a second mutation may find a string where an entry was)
  const names = Object.keys(header).filter((k) => k !== "__metadata__" && isEntry(header[k]));
  if (names.length === 0) return mutateStructure(rng, header);
  const name = rng.pick(names);
  const entry = header[name] as { dtype: string; shape: number[]; data_offsets: [number, number] };
  const other = header[rng.pick(names)] as { data_offsets: [number, number] };
  switch (rng.int(10)) {
    case 0:
      entry.dtype = rng.pick(DTYPES) as string;
      return header;
    case 1:
      header[name] = { ...entry, shape: hostileShape(rng, entry.shape) };
      return header;
    case 2:
      header[name] = { ...entry, data_offsets: hostileOffsets(rng, entry.data_offsets, other.data_offsets, dataSize) };
      return header;
    case 3: {
      const copy: Obj = { ...entry };
      delete copy[rng.pick(["dtype", "shape", "data_offsets"])];
      if (rng.chance(0.5)) copy[rng.pick(["offsets", "name", "__proto__", "dtype_"])] = 0;
      header[name] = copy;
      return header;
    }
    case 4:
      header.__metadata__ = rng.pick<unknown>([
        null,
        [],
        "pt",
        { format: 1 },
        { format: { a: "b" } },
        { x: "y".repeat(rng.small(1 << 20)) },
        {},
      ]);
      if (rng.chance(0.2)) delete header.__metadata__;
      return header;
    case 5:
      // a tensor missing: its bytes are then an untiled gap
      delete header[name];
      return header;
    case 6:
      // another name for the same bytes: an overlap
      header[rng.pick([`${name}.copy`, "", "x".repeat(300), "lm_head.weight", "h.0.attn.bias"])] = { ...entry };
      return header;
    case 7:
      // the same tensor name twice
      return new DupObject([...Object.entries(header), [name, { ...other }]]);
    case 8: {
      // renamed: a checkpoint key the architecture does not know, or another one's
      const v = header[name];
      delete header[name];
      header[rng.chance(0.5) ? `${name}x` : rng.pick(names)] = v;
      return header;
    }
    default:
      return mutateStructure(rng, header);
  }
}

/** Damaged tensor bytes: any byte, or a whole float made NaN, infinite or huge. */
function flipData(rng: Rng, out: Uint8Array, from: number): void {
  if (out.length <= from) return;
  const k = 1 + rng.small(32);
  for (let i = 0; i < k; i++) {
    const at = from + rng.int(out.length - from);
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
}

const LENGTHS = [0n, 1n, 2n, 7n, 2n ** 31n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n, 100_000_001n];

/**
 * A mutated safetensors file.
 * @example mutateSafetensors(new Rng(3), seedBytes)
 */
export function mutateSafetensors(rng: Rng, bytes: Uint8Array): Uint8Array {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  switch (rng.int(9)) {
    case 0: {
      // bytes of the JSON header
      const out = bytes.slice();
      const k = 1 + rng.small(8);
      for (let i = 0; i < k; i++)
        out[8 + rng.int(n)] = rng.pick([
          0x22,
          0x2c,
          0x3a,
          0x5b,
          0x5d,
          0x7b,
          0x7d,
          0x2d,
          0x30,
          0x39,
          0x20,
          0,
          0xff,
          rng.u32() & 0xff,
        ]);
      return out;
    }
    case 1: {
      const out = bytes.slice();
      const view = new DataView(out.buffer);
      const v = rng.chance(0.5)
        ? rng.pick(LENGTHS)
        : BigInt(n + rng.pick([-8, -1, 1, 8, bytes.length - 8 - n, bytes.length - 8 - n + 1, bytes.length]));
      view.setBigUint64(0, v < 0n ? 0n : v, true);
      return out;
    }
    case 2:
    case 3:
    case 4: {
      const { header, data } = parse(bytes);
      let h: unknown = header;
      const k = 1 + rng.small(2);
      for (let i = 0; i < k; i++)
        h = h instanceof DupObject || typeof h !== "object" || h === null ? h : mutateHeader(rng, h as Obj, data.length);
      return layout(h, data, rng.chance(0.9));
    }
    case 5:
      return bytes.slice(0, rng.chance(0.5) ? rng.int(8 + n + 1) : rng.int(bytes.length));
    case 6:
      return concat(bytes, rng.chance(0.2) ? new Uint8Array(rng.small(1 << 16)) : rng.bytes(1 + rng.small(4096)));
    case 7: {
      // the data section shortened or lengthened under an unchanged header
      const { header, data } = parse(bytes);
      const cut = rng.chance(0.5)
        ? data.subarray(0, Math.max(0, data.length - 1 - rng.small(64)))
        : concat(data, rng.bytes(rng.pick([1, 4, 8])));
      return layout(header, cut);
    }
    default: {
      const out = bytes.slice();
      flipData(rng, out, 8 + n);
      return out;
    }
  }
}

const SHARD_VALUES: readonly unknown[] = [
  "missing.safetensors",
  "../model-00001-of-00002.safetensors",
  "/etc/passwd",
  "",
  ".",
  "config.json",
  "model.safetensors.index.json",
  "model-00001-of-00002.safetensors/",
  "model-00003-of-00002.safetensors",
  1,
  null,
  ["model-00001-of-00002.safetensors"],
  { file: "model-00001-of-00002.safetensors" },
];

/**
 * A mutated sharded folder: the index's weight_map pointing at missing, foreign or escaping files, at the
 * other shard, non-string values, entries missing or extra; or a shard itself missing, empty or damaged.
 * @example mutateIndex(new Rng(5), hfSeed("llama", 2))
 */
export function mutateIndex(rng: Rng, files: ReadonlyMap<string, Uint8Array>, indexName: string): Map<string, Uint8Array> {
  const out = new Map(files);
  const indexBytes = files.get(indexName) as Uint8Array;
  const shards = [...files.keys()].filter((f) => f.endsWith(".safetensors")).sort();
  const op = rng.int(10);
  if (op <= 4) {
    const index = JSON.parse(new TextDecoder().decode(indexBytes)) as { metadata: Obj; weight_map: Record<string, unknown> };
    const map = index.weight_map;
    const names = Object.keys(map);
    const name = rng.pick(names);
    switch (op) {
      case 0:
        map[name] = rng.pick(SHARD_VALUES);
        break;
      case 1:
        // the other shard: the tensor is not in the file named
        map[name] = shards.find((s) => s !== map[name]) ?? map[name];
        break;
      case 2:
        if (rng.chance(0.5)) delete map[name];
        else map[rng.pick([`${name}.extra`, "lm_head.weight", "", "__proto__"])] = rng.pick(shards);
        break;
      case 3:
        (index as Obj)[rng.pick(["weight_map", "metadata"])] = rng.pick<unknown>([null, [], "x", {}, { total_size: -1 }, 0]);
        if (rng.chance(0.3)) delete (index as Obj).weight_map;
        break;
      default:
        // every entry moved to one shard, or all names pointing to one tensor's file
        for (const n of names) map[n] = rng.chance(0.5) ? shards[0] : rng.pick(SHARD_VALUES);
    }
    out.set(indexName, new TextEncoder().encode(serializeJson(index)));
    return out;
  }
  switch (op) {
    case 5:
      out.set(indexName, mutateJsonFile(rng, indexBytes, 0.3));
      return out;
    case 6:
      out.delete(rng.pick(shards));
      return out;
    case 7:
      out.set(rng.pick(shards), rng.chance(0.5) ? new Uint8Array(0) : (files.get(shards[0] as string) as Uint8Array));
      return out;
    case 8: {
      // the two shards swapped
      const [a, b] = shards as [string, string];
      out.set(a, files.get(b) as Uint8Array);
      out.set(b, files.get(a) as Uint8Array);
      return out;
    }
    default: {
      const s = rng.pick(shards);
      out.set(s, mutateSafetensors(rng, files.get(s) as Uint8Array));
      return out;
    }
  }
}
