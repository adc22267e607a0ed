// GGUF (llama.cpp's model format, versions 2 and 3, little-endian): a strict header parser, tensor access
// with dequantization to f32, and an encoder. Platform-neutral: everything works on Uint8Array; gguf-node.ts
// adds files. Layout: magic "GGUF", u32 version, u64 tensor_count, u64 metadata_kv_count, the key/value
// pairs, the tensor infos, padding to `general.alignment`, then the data section that tensor offsets index.
//
// Every count, length, dimension and offset in the header is checked against the file size before it is used
// (counts against the bytes each entry needs at least), so a hostile header can neither make us allocate
// more than the file nor loop longer than the file is long.

import { fromTyped, type Tensor } from "@llmdbg/tensor";
import { ModelFormatError } from "./errors.js";
import {
  DEQUANTIZABLE,
  dequantize,
  encodeF16,
  GGML_TYPES,
  type GgmlTypeName,
  ggmlTypeById,
  quantizeQ8_0,
} from "./gguf-quants.js";

export {
  bf16ToF32,
  DEQUANTIZABLE,
  dequantize,
  f16ToF32,
  f32ToF16,
  GGML_TYPES,
  type GgmlTypeName,
  quantizeQ8_0,
} from "./gguf-quants.js";

/**
 * A GGUF file that does not follow the format: a ModelFormatError, so callers catch one type for every format.
 *
 * @example
 * try { parseGguf(bytes, "model.gguf"); } catch (e) { if (e instanceof GgufFormatError) console.log(e.field); }
 */
export class GgufFormatError extends ModelFormatError {
  override name = "GgufFormatError";
}

/**
 * Thrown by `parseGgufHeader` when the header runs past the bytes it was given but not past `fileSize`:
 * the caller should read at least `needed` bytes and try again. Never escapes `parseGguf`.
 */
export class GgufNeedMoreBytes extends Error {
  override name = "GgufNeedMoreBytes";

  constructor(readonly needed: number) {
    super(`GGUF header needs at least ${needed} bytes`);
  }
}

export type GgufNumberType = "u8" | "i8" | "u16" | "i16" | "u32" | "i32" | "f32" | "f64";
export type GgufBigIntType = "u64" | "i64";
export type GgufValueType = GgufNumberType | GgufBigIntType | "bool" | "string" | "array";

/** An array value: the element type is stored once, so a 150k-token vocabulary is one plain array. */
export type GgufArray =
  | { readonly elemType: GgufNumberType; readonly items: readonly number[] }
  | { readonly elemType: GgufBigIntType; readonly items: readonly bigint[] }
  | { readonly elemType: "bool"; readonly items: readonly boolean[] }
  | { readonly elemType: "string"; readonly items: readonly string[] }
  | { readonly elemType: "array"; readonly items: readonly GgufArray[] };

/** A metadata value with its GGUF type, so writing it back gives the same bytes. 64-bit integers are bigints. */
export type GgufValue =
  | { readonly type: GgufNumberType; readonly value: number }
  | { readonly type: GgufBigIntType; readonly value: bigint }
  | { readonly type: "bool"; readonly value: boolean }
  | { readonly type: "string"; readonly value: string }
  | { readonly type: "array"; readonly value: GgufArray };

export interface GgufTensorInfo {
  readonly name: string;
  /** row-major, outermost first: GGUF's ne[] reversed (ne[0] is the innermost dimension) */
  readonly shape: readonly number[];
  readonly ggmlType: GgmlTypeName;
  /** bytes from the start of the data section */
  readonly offset: number;
  readonly byteSize: number;
}

export interface GgufFile {
  readonly version: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  /** in file order */
  readonly tensors: readonly GgufTensorInfo[];
  /** absolute byte offset of the data section */
  readonly dataOffset: number;
  readonly alignment: number;
}

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const DEFAULT_ALIGNMENT = 32;
const GGML_MAX_DIMS = 4;
// The spec allows arrays of arrays; nothing real nests deeper than 2, and a limit keeps recursion shallow.
const MAX_ARRAY_DEPTH = 8;
const MAX_TENSOR_ELEMENTS = 2 ** 31 - 1; // what @llmdbg/tensor's checkShape allows

// index = the type number in the file
const VALUE_TYPES: readonly GgufValueType[] = [
  "u8",
  "i8",
  "u16",
  "i16",
  "u32",
  "i32",
  "f32",
  "bool",
  "string",
  "array",
  "u64",
  "i64",
  "f64",
];
const VALUE_TYPE_IDS = new Map(VALUE_TYPES.map((t, i) => [t, i]));

/** The fewest bytes a value of each type takes: a string is at least its u64 length, an array its header. */
const MIN_VALUE_BYTES: { readonly [T in GgufValueType]: number } = {
  u8: 1,
  i8: 1,
  u16: 2,
  i16: 2,
  u32: 4,
  i32: 4,
  f32: 4,
  bool: 1,
  string: 8,
  array: 12,
  u64: 8,
  i64: 8,
  f64: 8,
};

const MIN_KV_BYTES = 8 + 4 + 1; // key length, value type, smallest value
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8; // name length, n_dims, type, offset

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

class Reader {
  pos = 0;
  private readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly file: string,
    readonly fileSize: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(field: string, detail: string): never {
    throw new GgufFormatError(this.file, field, detail);
  }

  need(n: number, field: string): void {
    const end = this.pos + n;
    if (end <= this.bytes.length) return;
    if (end <= this.fileSize) throw new GgufNeedMoreBytes(end);
    this.fail(field, `needs ${n} bytes at offset ${this.pos}, but the file ends at ${this.fileSize}`);
  }

  get remaining(): number {
    return this.fileSize - this.pos;
  }

  u8(field: string): number {
    this.need(1, field);
    return this.view.getUint8(this.pos++);
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(field: string): bigint {
    this.need(8, field);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A u64 count of entries that each take at least `minBytes`: rejected when they cannot fit in the rest of the file. */
  count(field: string, minBytes: number): number {
    const n = this.u64(field);
    const fit = Math.floor(this.remaining / minBytes);
    if (n > BigInt(fit))
      this.fail(field, `${n} entries of at least ${minBytes} bytes cannot fit in the ${this.remaining} bytes left`);
    return Number(n);
  }

  string(field: string): string {
    const len = this.u64(`${field} length`);
    if (len > BigInt(this.remaining))
      this.fail(`${field} length`, `${len} bytes run past the end of the file (${this.remaining} left)`);
    const n = Number(len);
    this.need(n, field);
    const raw = this.bytes.subarray(this.pos, this.pos + n);
    let s: string;
    try {
      s = utf8.decode(raw);
    } catch {
      this.fail(field, `is not valid UTF-8 (${n} bytes at offset ${this.pos})`);
    }
    this.pos += n;
    return s;
  }

  scalar(type: GgufValueType, field: string): number | bigint | boolean | string {
    const v = this.view;
    const at = this.pos;
    switch (type) {
      case "string":
        return this.string(field);
      case "bool": {
        const b = this.u8(field);
        if (b > 1) this.fail(field, `bool must be 0 or 1, got ${b}`);
        return b === 1;
      }
      case "array":
        throw new Error("unreachable: arrays are read by value()");
    }
    this.need(MIN_VALUE_BYTES[type], field);
    this.pos += MIN_VALUE_BYTES[type];
    switch (type) {
      case "u8":
        return v.getUint8(at);
      case "i8":
        return v.getInt8(at);
      case "u16":
        return v.getUint16(at, true);
      case "i16":
        return v.getInt16(at, true);
      case "u32":
        return v.getUint32(at, true);
      case "i32":
        return v.getInt32(at, true);
      case "f32":
        return v.getFloat32(at, true);
      case "f64":
        return v.getFloat64(at, true);
      case "u64":
        return v.getBigUint64(at, true);
      case "i64":
        return v.getBigInt64(at, true);
    }
  }

  valueType(field: string): GgufValueType {
    const id = this.u32(field);
    const t = VALUE_TYPES[id];
    if (t === undefined) this.fail(field, `unknown value type ${id} (expected 0–12)`);
    return t;
  }

  array(field: string, depth: number): GgufArray {
    if (depth > MAX_ARRAY_DEPTH) this.fail(field, `arrays nested deeper than ${MAX_ARRAY_DEPTH}`);
    const elemType = this.valueType(`${field} element type`);
    const n = this.count(`${field} length`, MIN_VALUE_BYTES[elemType]);
    const items: unknown[] = [];
    for (let i = 0; i < n; i++) {
      items.push(elemType === "array" ? this.array(`${field}[${i}]`, depth + 1) : this.scalar(elemType, `${field}[${i}]`));
    }
    return { elemType, items } as GgufArray;
  }

  value(type: GgufValueType, field: string): GgufValue {
    if (type === "array") return { type, value: this.array(field, 1) };
    return { type, value: this.scalar(type, field) } as GgufValue;
  }
}

const keyField = (key: string) => `metadata key ${JSON.stringify(key)}`;
const tensorField = (name: string) => `tensor ${JSON.stringify(name)}`;

/**
 * Parses a whole GGUF file held in memory. Throws GgufFormatError, naming `fileName` and the field, for
 * anything that does not follow the format or does not fit in the file.
 *
 * @example
 * const gguf = parseGguf(bytes, "tiny.gguf");
 * gguf.metadata.get("general.architecture") // { type: "string", value: "llama" }
 * const wq = ggufTensor(gguf, bytes, "blk.0.attn_q.weight", "tiny.gguf"); // f32 Tensor
 */
export function parseGguf(bytes: Uint8Array, fileName: string): GgufFile {
  return parseGgufHeader(bytes, fileName, bytes.length);
}

/**
 * Parses the header from `bytes`, a prefix of a file of `fileSize` bytes; tensor ranges are checked against
 * `fileSize`. Throws GgufNeedMoreBytes when the header runs past the prefix (read more and call again).
 *
 * @example
 * parseGgufHeader(first1MiB, "big.gguf", statSync("big.gguf").size)
 */
export function parseGgufHeader(bytes: Uint8Array, fileName: string, fileSize: number): GgufFile {
  if (!Number.isSafeInteger(fileSize) || fileSize < bytes.length) {
    throw new RangeError(`parseGgufHeader: fileSize ${fileSize} is smaller than the ${bytes.length} bytes given`);
  }
  // annotated so that r.fail(): never narrows types after it
  const r: Reader = new Reader(bytes, fileName, fileSize);
  if (fileSize < 4) r.fail("header: magic", `file is ${fileSize} bytes, too short for a GGUF header`);
  const magic = r.u32("header: magic");
  if (magic !== MAGIC) {
    const text = Array.from(bytes.subarray(0, 4), (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : "."));
    r.fail("header: magic", `expected "GGUF", got "${text.join("")}" (0x${magic.toString(16).padStart(8, "0")})`);
  }
  const version = r.u32("header: version");
  if (version !== 2 && version !== 3) {
    // a big-endian file reads as a byte-swapped small number
    const hint = version === 0x02000000 || version === 0x03000000 ? " (this looks like a big-endian GGUF)" : "";
    r.fail("header: version", `unsupported version ${version}, expected 2 or 3${hint}`);
  }
  const tensorCount = r.count("header: tensor_count", MIN_TENSOR_INFO_BYTES);
  const kvCount = r.count("header: metadata_kv_count", MIN_KV_BYTES);
  // both lists come after these counts, so together they must fit too
  if (tensorCount * MIN_TENSOR_INFO_BYTES + kvCount * MIN_KV_BYTES > r.remaining) {
    r.fail("header: metadata_kv_count", `${kvCount} keys and ${tensorCount} tensors cannot fit in the ${r.remaining} bytes left`);
  }

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = r.string(`metadata key #${i}`);
    if (metadata.has(key)) r.fail(keyField(key), `duplicate key (key #${i})`);
    const type = r.valueType(`${keyField(key)}: value type`);
    metadata.set(key, r.value(type, keyField(key)));
  }

  let alignment = DEFAULT_ALIGNMENT;
  const align = metadata.get("general.alignment");
  if (align !== undefined) {
    const f = keyField("general.alignment");
    if (align.type !== "u32") r.fail(f, `must be a u32, got ${align.type}`);
    if (align.value === 0 || (align.value & (align.value - 1)) !== 0) r.fail(f, `must be a power of two, got ${align.value}`);
    alignment = align.value;
  }

  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) tensors.push(readTensorInfo(r, i, names, alignment));

  const dataOffset = Math.ceil(r.pos / alignment) * alignment;
  for (const t of tensors) {
    const end = dataOffset + t.offset + t.byteSize;
    if (end > fileSize) {
      r.fail(
        `${tensorField(t.name)}: data`,
        `bytes ${dataOffset + t.offset}–${end} run past the end of the file (${fileSize} bytes): ` +
          "the file is truncated or the offset is wrong",
      );
    }
  }
  const sorted = tensors.filter((t) => t.byteSize > 0).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1] as GgufTensorInfo;
    const b = sorted[i] as GgufTensorInfo;
    if (a.offset + a.byteSize > b.offset) {
      r.fail(
        `${tensorField(b.name)}: offset`,
        `data at ${b.offset} overlaps tensor ${JSON.stringify(a.name)} (${a.offset}–${a.offset + a.byteSize})`,
      );
    }
  }
  return { version, metadata, tensors, dataOffset, alignment };
}

function readTensorInfo(r: Reader, i: number, names: Set<string>, alignment: number): GgufTensorInfo {
  const name = r.string(`tensor #${i}: name`);
  const f = tensorField(name);
  if (names.has(name)) r.fail(f, `duplicate tensor name (tensor #${i})`);
  names.add(name);
  const nDims = r.u32(`${f}: n_dims`);
  if (nDims > GGML_MAX_DIMS) r.fail(`${f}: n_dims`, `${nDims} dimensions, ggml allows at most ${GGML_MAX_DIMS}`);
  const ne: bigint[] = [];
  for (let d = 0; d < nDims; d++) {
    const n = r.u64(`${f}: ne[${d}]`);
    // a zero elsewhere would let any size pass the byte-size check below
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) r.fail(`${f}: ne[${d}]`, `dimension ${n} is beyond 2^53`);
    ne.push(n);
  }
  const typeId = r.u32(`${f}: type`);
  const type = ggmlTypeById(typeId);
  if (type === undefined) r.fail(`${f}: type`, `unknown ggml type ${typeId}`);
  const offset = r.u64(`${f}: offset`);

  const { blockSize, typeSize } = GGML_TYPES[type];
  const ne0 = ne[0] ?? 1n;
  if (blockSize > 1 && (ne0 === 0n || ne0 % BigInt(blockSize) !== 0n)) {
    r.fail(`${f}: ne[0]`, `innermost dimension ${ne0} must be a positive multiple of ${type}'s block size ${blockSize}`);
  }
  // BigInt: four u64 dimensions can multiply far past 2^53 before the size check rejects them
  const elements = ne.reduce((a, b) => a * b, 1n);
  const byteSize = (elements / BigInt(blockSize)) * BigInt(typeSize);
  if (byteSize > BigInt(r.fileSize)) {
    r.fail(`${f}: ne`, `[${ne.join(", ")}] of ${type} is ${byteSize} bytes, more than the whole file (${r.fileSize})`);
  }
  if (offset > BigInt(r.fileSize)) r.fail(`${f}: offset`, `${offset} is past the end of the file (${r.fileSize} bytes)`);
  if (offset % BigInt(alignment) !== 0n) r.fail(`${f}: offset`, `${offset} is not a multiple of the alignment ${alignment}`);
  return {
    name,
    shape: ne.map(Number).reverse(),
    ggmlType: type,
    offset: Number(offset),
    byteSize: Number(byteSize),
  };
}

/**
 * Reads tensor `name` from the whole-file `bytes` that `gguf` was parsed from, dequantized to an f32 Tensor
 * of `info.shape`. Throws GgufFormatError for an unknown name or a type without a dequantizer.
 *
 * @example
 * const emb = ggufTensor(gguf, bytes, "token_embd.weight", "tiny.gguf"); // Tensor(f32, [vocab, d_model])
 */
export function ggufTensor(gguf: GgufFile, bytes: Uint8Array, name: string, fileName: string): Tensor {
  const info = gguf.tensors.find((t) => t.name === name);
  if (info === undefined) throw new GgufFormatError(fileName, tensorField(name), "no tensor of that name in the file");
  const start = gguf.dataOffset + info.offset;
  if (start + info.byteSize > bytes.length) {
    throw new GgufFormatError(
      fileName,
      `${tensorField(name)}: data`,
      `bytes ${start}–${start + info.byteSize} are past the ${bytes.length} given`,
    );
  }
  return decodeGgufTensor(info, bytes.subarray(start, start + info.byteSize), fileName);
}

/**
 * Dequantizes one tensor's data bytes (exactly `info.byteSize` of them) to an f32 Tensor.
 * @example decodeGgufTensor(info, dataBytes, "tiny.gguf")
 */
export function decodeGgufTensor(info: GgufTensorInfo, data: Uint8Array, fileName: string): Tensor {
  if (!DEQUANTIZABLE.includes(info.ggmlType)) {
    throw new GgufFormatError(
      fileName,
      `${tensorField(info.name)}: type`,
      `reading ${info.ggmlType} tensors is not supported (supported: ${DEQUANTIZABLE.join(", ")})`,
    );
  }
  if (data.length !== info.byteSize) {
    throw new GgufFormatError(fileName, `${tensorField(info.name)}: data`, `expected ${info.byteSize} bytes, got ${data.length}`);
  }
  const n = info.shape.reduce((a, b) => a * b, 1);
  if (n > MAX_TENSOR_ELEMENTS) {
    throw new GgufFormatError(
      fileName,
      `${tensorField(info.name)}: ne`,
      `${n} elements; a Tensor holds at most ${MAX_TENSOR_ELEMENTS}`,
    );
  }
  return fromTyped(dequantize(info.ggmlType, data, n), info.shape, "f32");
}

// ---------------------------------------------------------------------------------------------------------
// encoder

/** Tensor types the encoder writes. */
export type GgufWriteType = "F32" | "F16" | "Q8_0";

export interface GgufWriteInput {
  readonly metadata?: ReadonlyMap<string, GgufValue> | Readonly<Record<string, GgufValue>>;
  readonly tensors: readonly { readonly name: string; readonly tensor: Tensor; readonly type: GgufWriteType }[];
  /** power of two; anything but 32 is recorded as `general.alignment` */
  readonly alignment?: number;
  /** 3 unless told */
  readonly version?: 2 | 3;
}

class Writer {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }

  u64(v: number | bigint): void {
    this.ensure(8);
    this.view.setBigUint64(this.pos, BigInt(v), true);
    this.pos += 8;
  }

  string(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.bytes(b);
  }

  pad(alignment: number): void {
    const n = (alignment - (this.pos % alignment)) % alignment;
    this.ensure(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
  }

  scalar(type: GgufValueType, v: unknown, where: string): void {
    const bad = () => new TypeError(`encodeGguf: ${where}: ${String(v)} is not a valid ${type}`);
    if (type === "string") {
      if (typeof v !== "string") throw bad();
      this.string(v);
      return;
    }
    if (type === "bool") {
      if (typeof v !== "boolean") throw bad();
      this.bytes(new Uint8Array([v ? 1 : 0]));
      return;
    }
    const size = MIN_VALUE_BYTES[type];
    this.ensure(size);
    const at = this.pos;
    const dv = this.view;
    const int = (lo: number, hi: number) => {
      if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) throw bad();
      return v;
    };
    const big = (lo: bigint, hi: bigint) => {
      if (typeof v !== "bigint" || v < lo || v > hi) throw bad();
      return v;
    };
    switch (type) {
      case "u8":
        dv.setUint8(at, int(0, 0xff));
        break;
      case "i8":
        dv.setInt8(at, int(-0x80, 0x7f));
        break;
      case "u16":
        dv.setUint16(at, int(0, 0xffff), true);
        break;
      case "i16":
        dv.setInt16(at, int(-0x8000, 0x7fff), true);
        break;
      case "u32":
        dv.setUint32(at, int(0, 0xffffffff), true);
        break;
      case "i32":
        dv.setInt32(at, int(-0x80000000, 0x7fffffff), true);
        break;
      case "f32":
        if (typeof v !== "number") throw bad();
        dv.setFloat32(at, v, true);
        break;
      case "f64":
        if (typeof v !== "number") throw bad();
        dv.setFloat64(at, v, true);
        break;
      case "u64":
        dv.setBigUint64(at, big(0n, 2n ** 64n - 1n), true);
        break;
      case "i64":
        dv.setBigInt64(at, big(-(2n ** 63n), 2n ** 63n - 1n), true);
        break;
      case "array":
        throw new Error("unreachable: arrays are written by array()");
    }
    this.pos += size;
  }

  array(a: GgufArray, where: string): void {
    const id = VALUE_TYPE_IDS.get(a.elemType);
    if (id === undefined) throw new TypeError(`encodeGguf: ${where}: unknown element type ${String(a.elemType)}`);
    this.u32(id);
    this.u64(a.items.length);
    a.items.forEach((item, i) => {
      if (a.elemType === "array") this.array(item as GgufArray, `${where}[${i}]`);
      else this.scalar(a.elemType, item, `${where}[${i}]`);
    });
  }

  value(v: GgufValue, where: string): void {
    const id = VALUE_TYPE_IDS.get(v.type);
    if (id === undefined) throw new TypeError(`encodeGguf: ${where}: unknown value type ${String(v.type)}`);
    this.u32(id);
    if (v.type === "array") this.array(v.value, where);
    else this.scalar(v.type, v.value, where);
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

function tensorBytes(name: string, t: Tensor, type: GgufWriteType): Uint8Array {
  const data = t.data;
  const values = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
  switch (type) {
    case "F32":
      return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
    case "F16":
      return encodeF16(values);
    case "Q8_0": {
      const inner = t.shape[t.shape.length - 1] ?? 1;
      if (inner % 32 !== 0)
        throw new RangeError(
          `encodeGguf: tensor ${JSON.stringify(name)}: Q8_0 needs a last dimension that is a multiple of 32, got ${inner}`,
        );
      return quantizeQ8_0(values);
    }
  }
}

/**
 * Encodes metadata and tensors as a GGUF file (version 3 unless told). Metadata keeps its value types;
 * tensors are written F32, F16 or Q8_0 (ggml's quantize_row_q8_0_ref), each padded to the alignment.
 *
 * @example
 * const bytes = encodeGguf({
 *   metadata: { "general.architecture": { type: "string", value: "llama" } },
 *   tensors: [{ name: "w", tensor: tensor([1, 2, 3, 4], [2, 2]), type: "F32" }],
 * });
 */
export function encodeGguf(input: GgufWriteInput): Uint8Array {
  const alignment = input.alignment ?? DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment <= 0 || alignment > 0xffffffff || (alignment & (alignment - 1)) !== 0) {
    throw new RangeError(`encodeGguf: alignment ${alignment} is not a power of two`);
  }
  const meta = new Map(input.metadata instanceof Map ? input.metadata : Object.entries(input.metadata ?? {}));
  const given = meta.get("general.alignment");
  if (given !== undefined && (given.type !== "u32" || given.value !== alignment)) {
    throw new RangeError(`encodeGguf: metadata general.alignment ${String(given.value)} disagrees with alignment ${alignment}`);
  }
  if (given === undefined && alignment !== DEFAULT_ALIGNMENT) meta.set("general.alignment", { type: "u32", value: alignment });

  const names = new Set<string>();
  const blobs = input.tensors.map(({ name, tensor, type }) => {
    if (names.has(name)) throw new RangeError(`encodeGguf: duplicate tensor name ${JSON.stringify(name)}`);
    names.add(name);
    if (tensor.rank > GGML_MAX_DIMS)
      throw new RangeError(`encodeGguf: tensor ${JSON.stringify(name)} has rank ${tensor.rank} > ${GGML_MAX_DIMS}`);
    return tensorBytes(name, tensor, type);
  });

  const w = new Writer();
  w.u32(MAGIC);
  w.u32(input.version ?? 3);
  w.u64(input.tensors.length);
  w.u64(meta.size);
  for (const [key, v] of meta) {
    w.string(key);
    w.value(v, `metadata ${JSON.stringify(key)}`);
  }
  let offset = 0;
  input.tensors.forEach(({ name, tensor, type }, i) => {
    w.string(name);
    w.u32(tensor.rank);
    for (let d = tensor.rank - 1; d >= 0; d--) w.u64(tensor.shape[d] as number);
    w.u32(GGML_TYPES[type].id);
    w.u64(offset);
    const size = (blobs[i] as Uint8Array).length;
    offset += Math.ceil(size / alignment) * alignment;
  });
  w.pad(alignment);
  for (const blob of blobs) {
    w.bytes(blob);
    w.pad(alignment);
  }
  return w.result();
}
