// Safetensors: an 8-byte little-endian header length N, N bytes of JSON describing each tensor's dtype, shape
// and byte range, then the tensors' bytes. Parsing is strict because a model file is untrusted input: every
// size is checked against the file before anything is allocated, and the tensors must tile the data buffer
// exactly (as the reference Rust crate requires), so no byte is ambiguous or hidden. This file is
// platform-neutral; `safetensors-node.ts` adds files.
import { type DType, DTypeError, dtypes, fromTyped, type Tensor, type TypedArray } from "@llmdbg/tensor";
import { ModelFormatError, show } from "./errors.js";
import { f32BitsToBf16Bits, f32BitsToF16Bits, f32ToBf16Bits, f32ToF16Bits, halfToF32Table } from "./float16.js";
import { type Json, type JsonObject, JsonSyntaxError, parseJsonStrict } from "./json.js";

export type SafetensorsDType = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

interface DTypeSpec {
  readonly bytes: number;
  readonly kind: "float" | "int" | "bool";
  /** what `load` returns without a `dtype` option */
  readonly natural: DType;
}

const specs: { readonly [D in SafetensorsDType]: DTypeSpec } = {
  F64: { bytes: 8, kind: "float", natural: "f64" },
  F32: { bytes: 4, kind: "float", natural: "f32" },
  F16: { bytes: 2, kind: "float", natural: "f32" },
  BF16: { bytes: 2, kind: "float", natural: "f32" },
  I64: { bytes: 8, kind: "int", natural: "i32" },
  I32: { bytes: 4, kind: "int", natural: "i32" },
  I16: { bytes: 2, kind: "int", natural: "i32" },
  I8: { bytes: 1, kind: "int", natural: "i32" },
  U8: { bytes: 1, kind: "int", natural: "i32" },
  BOOL: { bytes: 1, kind: "bool", natural: "bool" },
};

const dtypeNames = Object.keys(specs) as SafetensorsDType[];

/** Bytes per element of a safetensors dtype. */
export function safetensorsDTypeSize(d: SafetensorsDType): number {
  return specs[d].bytes;
}

/** The reference implementation's limit; a real header (one entry per tensor) is far smaller. */
export const MAX_HEADER_SIZE = 100_000_000;

export interface TensorEntry {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  /** Byte range `[begin, end)` relative to the start of the data buffer (file offset 8 + headerSize). */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  /** N, the JSON header's length in bytes. */
  readonly headerSize: number;
  /** File offset of the data buffer: 8 + N. */
  readonly dataStart: number;
  /** Length of the data buffer: file size - 8 - N. */
  readonly dataSize: number;
  readonly metadata: Readonly<Record<string, string>>;
  /** In file order (by data offset). */
  readonly tensors: readonly TensorEntry[];
}

const entryKeys = new Set(["dtype", "shape", "data_offsets"]);
const isObject = (v: Json | undefined): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: Json | undefined): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const q = (name: string): string => show(name, 200);

/** The field name used in messages for a JSON path inside the header. */
function fieldOf(path: readonly string[]): string {
  const [top, key] = path;
  if (top === undefined) return "header";
  if (top === "__metadata__") return key === undefined ? "__metadata__" : `__metadata__ ${q(key)}`;
  return key === undefined ? `tensor ${q(top)}` : `tensor ${q(top)}: ${key}`;
}

/**
 * Parses and validates a safetensors header. `bytes` holds the file's first bytes (at least 8 + N of them,
 * or the whole file); `fileSize` is the whole file's length (default `bytes.length`). Every failure is a
 * {@link ModelFormatError} naming `fileName` and the field.
 *
 * @example
 * const h = parseSafetensorsHeader(bytes, "model.safetensors");
 * h.tensors.map((t) => `${t.name} ${t.dtype} [${t.shape}]`);
 */
export function parseSafetensorsHeader(bytes: Uint8Array, fileName: string, fileSize = bytes.length): SafetensorsHeader {
  const fail = (field: string, detail: string): never => {
    throw new ModelFormatError(fileName, field, detail);
  };
  if (fileSize < 8) fail("header length", `the file is ${fileSize} bytes, shorter than the 8-byte header length`);
  if (bytes.length < 8) fail("header length", `only ${bytes.length} of the first 8 bytes were given`);
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 === 0n) fail("header length", "is 0; expected the length of a JSON object");
  if (n64 > BigInt(fileSize - 8)) {
    fail("header length", `${n64} bytes runs past the end of the file (${fileSize - 8} bytes follow the length)`);
  }
  if (n64 > BigInt(MAX_HEADER_SIZE)) fail("header length", `${n64} bytes exceeds the limit of ${MAX_HEADER_SIZE}`);
  const n = Number(n64);
  if (bytes.length < 8 + n) fail("header", `only ${bytes.length - 8} of its ${n} bytes were given`);
  const dataStart = 8 + n;
  const dataSize = fileSize - dataStart;

  let text: string;
  try {
    // ignoreBOM keeps a byte-order mark in the text, where the JSON parser rejects it (as serde_json does).
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, dataStart));
  } catch {
    return fail("header", "is not valid UTF-8");
  }
  let root: Json;
  try {
    root = parseJsonStrict(text, 8);
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    return fail(fieldOf(e.path), `invalid JSON: ${e.message}`);
  }
  if (!isObject(root)) return fail("header", `expected a JSON object, got ${Array.isArray(root) ? "an array" : show(root)}`);

  const metadata = Object.create(null) as Record<string, string>;
  const tensors: TensorEntry[] = [];
  for (const name of Object.keys(root)) {
    const v = root[name];
    if (name === "__metadata__") {
      if (!isObject(v)) fail("__metadata__", `expected an object of strings, got ${show(v)}`);
      const m = v as JsonObject;
      for (const k of Object.keys(m)) {
        const s = m[k];
        if (typeof s !== "string") fail(fieldOf([name, k]), `expected a string value, got ${show(s)}`);
        metadata[k] = s as string;
      }
      continue;
    }
    tensors.push(parseEntry(name, v, dataSize, fail));
  }
  checkTiling(tensors, dataSize, fail);
  return { headerSize: n, dataStart, dataSize, metadata, tensors };
}

function parseEntry(name: string, v: Json | undefined, dataSize: number, fail: (f: string, d: string) => never): TensorEntry {
  const at = (key?: string): string => fieldOf(key === undefined ? [name] : [name, key]);
  if (name === "") fail(at(), "empty tensor name");
  if (!isObject(v)) return fail(at(), `expected an object with dtype, shape and data_offsets, got ${show(v)}`);
  for (const k of Object.keys(v)) {
    if (!entryKeys.has(k)) fail(at(k), "unknown key; an entry has only dtype, shape and data_offsets");
  }
  const dtype = v.dtype;
  if (dtype === undefined) fail(at("dtype"), "missing");
  if (typeof dtype !== "string" || !(dtypeNames as string[]).includes(dtype)) {
    fail(at("dtype"), `unknown dtype ${show(dtype)}; expected one of ${dtypeNames.join(", ")}`);
  }
  const spec = specs[dtype as SafetensorsDType];

  const shape = v.shape;
  if (shape === undefined) fail(at("shape"), "missing");
  if (!Array.isArray(shape)) return fail(at("shape"), `expected an array of dimensions, got ${show(shape)}`);
  let numel = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (!isCount(d)) fail(at("shape"), `dimension ${i} is ${show(d)}; expected a non-negative integer`);
    numel *= d as number;
  }
  // An overflowing product is at least 2^53 here (it can only grow past the safe range, then become
  // inexact); a zero dimension makes any product 0, as it should.
  if (shape.includes(0)) numel = 0;
  if (!Number.isSafeInteger(numel * spec.bytes)) {
    fail(at("shape"), `${show(shape)} holds more than 2^53 bytes of ${dtype}`);
  }

  const offs = v.data_offsets;
  if (offs === undefined) fail(at("data_offsets"), "missing");
  if (!Array.isArray(offs) || offs.length !== 2 || !isCount(offs[0]) || !isCount(offs[1])) {
    return fail(at("data_offsets"), `expected [begin, end] as two non-negative integers, got ${show(offs)}`);
  }
  const begin = offs[0] as number;
  const end = offs[1] as number;
  if (begin > end) fail(at("data_offsets"), `begin ${begin} is after end ${end}`);
  if (end - begin !== numel * spec.bytes) {
    fail(
      at("data_offsets"),
      `[${begin}, ${end}] spans ${end - begin} bytes; expected ${numel * spec.bytes} (shape ${show(shape)} × ${spec.bytes}-byte ${dtype})`,
    );
  }
  if (end > dataSize) fail(at("data_offsets"), `[${begin}, ${end}] runs past the end of the ${dataSize}-byte data buffer`);
  return { name, dtype: dtype as SafetensorsDType, shape: shape as number[], begin, end };
}

/** Sorts `tensors` into file order and requires them to tile [0, dataSize) with no gap and no overlap. */
function checkTiling(tensors: TensorEntry[], dataSize: number, fail: (f: string, d: string) => never): void {
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: TensorEntry | null = null;
  for (const t of tensors) {
    const field = fieldOf([t.name, "data_offsets"]);
    if (t.begin < pos && prev !== null) {
      fail(field, `[${t.begin}, ${t.end}] overlaps tensor ${q(prev.name)} at [${prev.begin}, ${prev.end}]`);
    }
    if (t.begin > pos) {
      const after = prev === null ? "the data buffer starts at 0" : `tensor ${q(prev.name)} ends at ${pos}`;
      fail(field, `begins at ${t.begin} but ${after}: ${t.begin - pos} unused bytes; tensors must cover the data exactly`);
    }
    pos = t.end;
    prev = t;
  }
  if (pos !== dataSize) {
    fail(
      "data buffer",
      `${dataSize - pos} bytes after the last tensor (which ends at ${pos} of ${dataSize}); tensors must cover the data exactly`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------------
// Loading tensors

/** Reads exactly `dest.length` bytes at file offset `position` into `dest`; throws if it cannot. */
export interface ByteReader {
  readAt(position: number, dest: Uint8Array): void;
  close(): void;
}

export interface LoadOptions {
  /** The element type of the result: f32 or f64 for float dtypes; integers load as i32, BOOL as bool. */
  dtype?: DType;
}

/** A parsed safetensors file (or a sharded set) whose tensors are read one at a time, on demand. */
export interface SafetensorsReader {
  /** The file (or folder) named in errors. */
  readonly file: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly entries: readonly TensorEntry[];
  has(name: string): boolean;
  /** Every tensor's name, in file order. */
  keys(): string[];
  /** The entry for `name`; throws if there is none. */
  entry(name: string): TensorEntry;
  /** Reads one tensor and converts it (F16/BF16 to f32, integers to i32); see {@link LoadOptions}. */
  load(name: string, opts?: LoadOptions): Tensor;
  /** One tensor's stored bytes (little-endian), copied. */
  loadBytes(name: string): Uint8Array;
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverses each `size`-byte group in place: safetensors is little-endian whatever the host is. */
export function swapBytes(b: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i + size <= b.length; i += size) {
    for (let l = i, r = i + size - 1; l < r; l++, r--) {
      const t = b[l] as number;
      b[l] = b[r] as number;
      b[r] = t;
    }
  }
}

const CHUNK = 1 << 20;
const MAX_ELEMENTS = 2 ** 31 - 1;

/**
 * Builds a reader over a parsed header; `open` gives access to the file's bytes for one load at a time.
 * Shared by the in-memory and the Node readers.
 */
export function makeSafetensorsReader(file: string, header: SafetensorsHeader, open: () => ByteReader): SafetensorsReader {
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  const entry = (name: string): TensorEntry => {
    const e = byName.get(name);
    if (e === undefined) throw new Error(`${file}: no tensor named ${q(name)}`);
    return e;
  };
  const withBytes = <T>(fn: (r: ByteReader) => T): T => {
    const r = open();
    try {
      return fn(r);
    } finally {
      r.close();
    }
  };
  return {
    file,
    metadata: header.metadata,
    entries: header.tensors,
    has: (name) => byName.has(name),
    keys: () => header.tensors.map((t) => t.name),
    entry,
    load: (name, opts) => {
      const e = entry(name);
      return withBytes((r) => loadEntry(file, e, header.dataStart, r, opts?.dtype));
    },
    loadBytes: (name) => {
      const e = entry(name);
      const out = new Uint8Array(e.end - e.begin);
      withBytes((r) => r.readAt(header.dataStart + e.begin, out));
      return out;
    },
  };
}

/**
 * A reader over a whole safetensors file held in memory (a browser upload, a test fixture).
 *
 * @example
 * const st = decodeSafetensors(encodeSafetensors({ w: tensor([1, 2], [2]) }), "mem.safetensors");
 * st.load("w").toArray(); // [1, 2]
 */
export function decodeSafetensors(bytes: Uint8Array, fileName: string): SafetensorsReader {
  const header = parseSafetensorsHeader(bytes, fileName);
  return makeSafetensorsReader(fileName, header, () => ({
    readAt: (position, dest) => dest.set(bytes.subarray(position, position + dest.length)),
    close: () => {},
  }));
}

function loadEntry(file: string, e: TensorEntry, dataStart: number, r: ByteReader, want: DType | undefined): Tensor {
  const spec = specs[e.dtype];
  const target = want ?? spec.natural;
  const ok = spec.kind === "float" ? target === "f32" || target === "f64" : target === spec.natural;
  if (!ok) {
    const allowed = spec.kind === "float" ? "f32 or f64" : spec.natural;
    throw new DTypeError(`${file}: tensor ${q(e.name)}: cannot load ${e.dtype} as ${target}; expected ${allowed}`);
  }
  const numel = (e.end - e.begin) / spec.bytes;
  if (numel > MAX_ELEMENTS) {
    throw new ModelFormatError(file, fieldOf([e.name, "shape"]), `${numel} elements; the tensor engine holds at most 2^31-1`);
  }
  const out = dtypes[target].empty(numel);
  const pos = dataStart + e.begin;
  if (dtypes[target].bytes === spec.bytes && spec.natural === target) {
    // Same layout: read straight into the tensor's buffer, no second copy.
    const raw = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    r.readAt(pos, raw);
    if (!littleEndian) swapBytes(raw, spec.bytes);
    if (e.dtype === "BOOL") checkBool(file, e, raw, 0);
    return fromTyped(out, e.shape, target);
  }
  const per = Math.floor(CHUNK / spec.bytes);
  const scratch = new Uint8Array(Math.min(numel, per) * spec.bytes);
  for (let i = 0; i < numel; i += per) {
    const k = Math.min(per, numel - i);
    const chunk = scratch.subarray(0, k * spec.bytes);
    r.readAt(pos + i * spec.bytes, chunk);
    if (!littleEndian) swapBytes(chunk, spec.bytes);
    convert(file, e, chunk.buffer, k, out, i);
  }
  return fromTyped(out, e.shape, target);
}

function checkBool(file: string, e: TensorEntry, raw: Uint8Array, base: number): void {
  const bad = raw.findIndex((b) => b > 1);
  if (bad >= 0) {
    throw new ModelFormatError(
      file,
      fieldOf([e.name, "data"]),
      `element ${base + bad} is ${raw[bad]}; a BOOL is stored as 0 or 1`,
    );
  }
}

/** Converts `k` little-endian source elements at the start of `src` into `out[at..at+k)`. */
function convert(file: string, e: TensorEntry, src: ArrayBufferLike, k: number, out: TypedArray, at: number): void {
  switch (e.dtype) {
    case "F64":
    case "F32": {
      const s = e.dtype === "F64" ? new Float64Array(src, 0, k) : new Float32Array(src, 0, k);
      for (let i = 0; i < k; i++) out[at + i] = s[i] as number;
      return;
    }
    case "F16": {
      const table = halfToF32Table();
      const s = new Uint16Array(src, 0, k);
      if (out instanceof Float32Array) {
        // Copying bit patterns keeps this loop monomorphic (and NaN payloads intact): ~5x faster than
        // storing through the TypedArray union.
        const bits = new Uint32Array(table.buffer);
        const o = new Uint32Array(out.buffer, out.byteOffset + 4 * at, k);
        for (let i = 0; i < k; i++) o[i] = bits[s[i] as number] as number;
      } else {
        for (let i = 0; i < k; i++) out[at + i] = table[s[i] as number] as number;
      }
      return;
    }
    case "BF16": {
      const s = new Uint16Array(src, 0, k);
      if (out instanceof Float32Array) {
        // bf16 is the top half of an f32: place the bits (NaN payloads survive).
        const o = new Uint32Array(out.buffer, out.byteOffset + 4 * at, k);
        for (let i = 0; i < k; i++) o[i] = (s[i] as number) << 16;
      } else {
        const f = new Float32Array(1);
        const u = new Uint32Array(f.buffer);
        for (let i = 0; i < k; i++) {
          u[0] = (s[i] as number) << 16;
          out[at + i] = f[0] as number;
        }
      }
      return;
    }
    case "I64": {
      const s = new Int32Array(src, 0, 2 * k);
      for (let i = 0; i < k; i++) {
        const lo = s[2 * i] as number;
        const hi = s[2 * i + 1] as number;
        if (hi !== lo >> 31) {
          const v = (BigInt(hi) << 32n) | BigInt(lo >>> 0);
          throw new ModelFormatError(file, fieldOf([e.name, "data"]), `I64 element ${at + i} is ${v}, outside the i32 range`);
        }
        out[at + i] = lo;
      }
      return;
    }
    case "I32":
    case "I16":
    case "I8":
    case "U8": {
      const s =
        e.dtype === "I32"
          ? new Int32Array(src, 0, k)
          : e.dtype === "I16"
            ? new Int16Array(src, 0, k)
            : e.dtype === "I8"
              ? new Int8Array(src, 0, k)
              : new Uint8Array(src, 0, k);
      for (let i = 0; i < k; i++) out[at + i] = s[i] as number;
      return;
    }
    case "BOOL": {
      const s = new Uint8Array(src, 0, k);
      checkBool(file, e, s, at);
      (out as Uint8Array).set(s, at);
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Writing

export interface WriteOptions {
  /** Storage type of float tensors (f32 and f64); default F32 for f32 and F64 for f64. i32 → I32, bool → BOOL. */
  dtype?: "F32" | "F16" | "BF16";
  metadata?: Readonly<Record<string, string>>;
}

export interface PlannedTensor {
  readonly name: string;
  readonly tensor: Tensor;
  readonly dtype: SafetensorsDType;
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsPlan {
  /** The 8-byte length followed by the JSON header, padded with spaces to a multiple of 8. */
  readonly head: Uint8Array;
  /** In data order: sorted by name, contiguous. */
  readonly tensors: readonly PlannedTensor[];
  readonly dataSize: number;
}

const hasLoneSurrogate = (s: string): boolean => /\p{Cs}/u.test(s);

/** Lays out a file: header bytes and each tensor's range. Used by both the in-memory and the file writer. */
export function planSafetensors(tensors: Readonly<Record<string, Tensor>>, opts: WriteOptions = {}): SafetensorsPlan {
  const planned: PlannedTensor[] = [];
  const parts: string[] = [];
  const meta = opts.metadata;
  if (meta !== undefined && Object.keys(meta).length > 0) {
    for (const [k, v] of Object.entries(meta)) {
      if (typeof v !== "string") throw new TypeError(`writeSafetensors: metadata ${q(k)} must be a string, got ${show(v)}`);
      if (hasLoneSurrogate(k) || hasLoneSurrogate(v))
        throw new TypeError(`writeSafetensors: metadata ${q(k)} is not valid Unicode`);
    }
    parts.push(`"__metadata__":${JSON.stringify(meta)}`);
  }
  let offset = 0;
  // Default sort compares UTF-16 code units: deterministic, which is all the layout needs.
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name] as Tensor;
    if (name === "" || name === "__metadata__") throw new TypeError(`writeSafetensors: invalid tensor name ${q(name)}`);
    if (hasLoneSurrogate(name)) throw new TypeError(`writeSafetensors: tensor name ${q(name)} is not valid Unicode`);
    const dtype: SafetensorsDType =
      t.dtype === "i32" ? "I32" : t.dtype === "bool" ? "BOOL" : (opts.dtype ?? (t.dtype === "f64" ? "F64" : "F32"));
    const end = offset + t.size * specs[dtype].bytes;
    planned.push({ name, tensor: t, dtype, begin: offset, end });
    parts.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype, shape: t.shape, data_offsets: [offset, end] })}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  // Spaces are JSON whitespace; padding to 8 keeps the data buffer 8-byte aligned for memory-mapping readers.
  const padded = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  head.set(json, 8);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  return { head, tensors: planned, dataSize: offset };
}

/** One tensor's bytes as stored under `dtype` (little-endian). May be a view of the tensor's own buffer. */
export function encodeTensorData(t: Tensor, dtype: SafetensorsDType): Uint8Array {
  const d = t.data;
  const n = d.length;
  let out: Uint8Array;
  if ((dtype === "F32" && t.dtype === "f32") || (dtype === "F64" && t.dtype === "f64") || dtype === "I32" || dtype === "BOOL") {
    if (dtype === "I32" && t.dtype !== "i32") throw new DTypeError(`writeSafetensors: cannot store ${t.dtype} as I32`);
    if (dtype === "BOOL" && t.dtype !== "bool") throw new DTypeError(`writeSafetensors: cannot store ${t.dtype} as BOOL`);
    out = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    if (dtype === "BOOL" && out.some((b) => b > 1)) out = out.map((b) => (b === 0 ? 0 : 1));
    if (littleEndian) return out;
    out = out.slice();
  } else if (dtype === "F32" || dtype === "F64") {
    const typed = dtype === "F32" ? Float32Array.from(d as Float64Array) : Float64Array.from(d as Float32Array);
    out = new Uint8Array(typed.buffer);
  } else if (dtype === "F16" || dtype === "BF16") {
    if (t.dtype !== "f32" && t.dtype !== "f64") throw new DTypeError(`writeSafetensors: cannot store ${t.dtype} as ${dtype}`);
    const h = new Uint16Array(n);
    if (d instanceof Float32Array) {
      const bits = new Uint32Array(d.buffer, d.byteOffset, n);
      const enc = dtype === "F16" ? f32BitsToF16Bits : f32BitsToBf16Bits;
      for (let i = 0; i < n; i++) h[i] = enc(bits[i] as number);
    } else {
      const enc = dtype === "F16" ? f32ToF16Bits : f32ToBf16Bits;
      for (let i = 0; i < n; i++) h[i] = enc(d[i] as number);
    }
    out = new Uint8Array(h.buffer);
  } else {
    throw new DTypeError(`writeSafetensors: cannot store ${t.dtype} as ${dtype}`);
  }
  if (!littleEndian) swapBytes(out, specs[dtype].bytes);
  return out;
}

/**
 * Serializes tensors to safetensors bytes: sorted by name, contiguous, header padded to 8 bytes. Float
 * tensors are stored as `opts.dtype` (rounded to nearest even) or their own precision.
 *
 * @example
 * const bytes = encodeSafetensors({ "wte.weight": randn([10, 4], 0) }, { dtype: "BF16", metadata: { format: "pt" } });
 */
export function encodeSafetensors(tensors: Readonly<Record<string, Tensor>>, opts: WriteOptions = {}): Uint8Array {
  const plan = planSafetensors(tensors, opts);
  const out = new Uint8Array(plan.head.length + plan.dataSize);
  out.set(plan.head);
  for (const p of plan.tensors) out.set(encodeTensorData(p.tensor, p.dtype), plan.head.length + p.begin);
  return out;
}
