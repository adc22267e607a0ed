import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromTyped, type Tensor, tensor } from "@llmdbg/tensor";
import { afterAll, describe, expect, it } from "vitest";
import {
  encodeGguf,
  f16ToF32,
  f32ToF16,
  GgufFormatError,
  type GgufValue,
  ggufTensor,
  parseGguf,
  parseGgufHeader,
} from "../src/gguf.js";
import { openGguf, writeGguf } from "../src/gguf-node.js";

function random(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

const t = (data: Float32Array, shape: number[]): Tensor => fromTyped(data, shape, "f32");

describe("encode → parse round trips", () => {
  it("F32 tensors of rank 0–4 come back bit-exact, with GGUF dims reversed", () => {
    const inputs = [
      { name: "m", tensor: t(random(15, 1), [3, 5]) },
      { name: "s", tensor: t(new Float32Array([-0.0]), []) },
      { name: "r4", tensor: t(random(120, 2, 1e30), [2, 3, 4, 5]) },
      { name: "empty", tensor: t(new Float32Array(0), [0, 4]) },
      { name: "v", tensor: t(new Float32Array([Number.NaN, Infinity, -Infinity, 1e-45]), [4]) },
    ];
    const bytes = encodeGguf({ tensors: inputs.map((x) => ({ ...x, type: "F32" as const })) });
    const g = parseGguf(bytes, "rt.gguf");
    expect(g.version).toBe(3);
    expect(g.alignment).toBe(32);
    expect(g.dataOffset % 32).toBe(0);
    expect(g.tensors.map((x) => [x.name, x.shape, x.ggmlType])).toEqual(inputs.map((x) => [x.name, x.tensor.shape, "F32"]));
    for (const x of g.tensors) expect(x.offset % 32).toBe(0);
    // ne[0] is the innermost (last row-major) dimension on disk
    expect(g.tensors[0]?.byteSize).toBe(60);
    for (const x of inputs) {
      const back = ggufTensor(g, bytes, x.name, "rt.gguf");
      expect(back.shape).toEqual(x.tensor.shape);
      expect(back.dtype).toBe("f32");
      expect(Array.from(back.data).map((v) => (Object.is(v, -0) ? "-0" : v))).toEqual(
        Array.from(x.tensor.data).map((v) => (Object.is(v, -0) ? "-0" : v)),
      );
    }
  });

  it("writes ne[0] = the last dimension", () => {
    const bytes = encodeGguf({ tensors: [{ name: "w", tensor: t(new Float32Array(6), [2, 3]), type: "F32" }] });
    const dv = new DataView(bytes.buffer);
    // header 24 bytes, name: 8 + 1, n_dims at 33, ne[0] at 37, ne[1] at 45
    expect(dv.getUint32(33, true)).toBe(2);
    expect(dv.getBigUint64(37, true)).toBe(3n);
    expect(dv.getBigUint64(45, true)).toBe(2n);
  });

  it("F16 within f16 rounding", () => {
    const x = random(96, 3, 100);
    const g = parseGguf(encodeGguf({ tensors: [{ name: "h", tensor: t(x, [3, 32]), type: "F16" }] }), "h.gguf");
    expect(g.tensors[0]?.byteSize).toBe(192);
    const bytes = encodeGguf({ tensors: [{ name: "h", tensor: t(x, [3, 32]), type: "F16" }] });
    const y = ggufTensor(parseGguf(bytes, "h.gguf"), bytes, "h", "h.gguf").data;
    let maxErr = 0;
    for (let i = 0; i < x.length; i++) {
      const xi = x[i] as number;
      expect(y[i]).toBe(f16ToF32(f32ToF16(xi)));
      const err = Math.abs((y[i] as number) - xi);
      maxErr = Math.max(maxErr, err / Math.abs(xi));
      expect(err).toBeLessThanOrEqual(Math.abs(xi) * 2 ** -11);
    }
    console.log(`F16 round trip: max relative error ${maxErr.toExponential(2)} (bound 2^-11 = 4.9e-4)`);
  });

  it("Q8_0 within d/2 of the f32 scale, plus the f16 rounding of d", () => {
    // blocks of very different magnitude, and an all-zero block
    const x = random(4 * 64, 4);
    for (let i = 0; i < 64; i++) x[i] = (x[i] as number) * 1000;
    for (let i = 64; i < 96; i++) x[i] = 0;
    const bytes = encodeGguf({ tensors: [{ name: "q", tensor: t(x, [4, 64]), type: "Q8_0" }] });
    const g = parseGguf(bytes, "q.gguf");
    expect(g.tensors[0]?.ggmlType).toBe("Q8_0");
    expect(g.tensors[0]?.byteSize).toBe(8 * 34);
    const y = ggufTensor(g, bytes, "q", "q.gguf").data;
    let worst = 0;
    for (let b = 0; b < 8; b++) {
      const block = x.subarray(b * 32, b * 32 + 32);
      const amax = Math.max(...Array.from(block, Math.abs));
      const d32 = Math.fround(amax / 127);
      const d16 = f16ToF32(f32ToF16(d32));
      for (let j = 0; j < 32; j++) {
        const xi = block[j] as number;
        const yi = y[b * 32 + j] as number;
        if (d16 === 0) {
          expect(yi).toBe(0);
          continue;
        }
        const q = Math.round(yi / d16);
        expect(Math.abs(q)).toBeLessThanOrEqual(127);
        expect(yi).toBe(Math.fround(q * d16)); // y is exactly an integer times the stored scale
        expect(Math.abs(xi - q * d32)).toBeLessThanOrEqual((d32 / 2) * (1 + 1e-6)); // rounding to the nearest step
        const err = Math.abs(xi - yi);
        expect(err).toBeLessThanOrEqual(d32 / 2 + 127 * Math.abs(d32 - d16) + 1e-6 * d32);
        worst = Math.max(worst, err / d32);
      }
    }
    console.log(`Q8_0 round trip: max error ${worst.toFixed(3)}·d (d/2 plus f16 scale rounding ≤ ~0.56·d)`);
  });

  it("Q8_0 needs a last dimension that is a multiple of 32", () => {
    expect(() => encodeGguf({ tensors: [{ name: "q", tensor: t(new Float32Array(40), [2, 20]), type: "Q8_0" }] })).toThrow(
      /multiple of 32/,
    );
  });

  it("metadata of every value type, including nested arrays, round-trips", () => {
    const meta = new Map<string, GgufValue>([
      ["u8", { type: "u8", value: 255 }],
      ["i8", { type: "i8", value: -128 }],
      ["u16", { type: "u16", value: 65535 }],
      ["i16", { type: "i16", value: -32768 }],
      ["u32", { type: "u32", value: 2 ** 32 - 1 }],
      ["i32", { type: "i32", value: -(2 ** 31) }],
      ["f32", { type: "f32", value: Math.fround(0.1) }],
      ["f64", { type: "f64", value: Math.PI }],
      ["bool.t", { type: "bool", value: true }],
      ["bool.f", { type: "bool", value: false }],
      ["str", { type: "string", value: "héllo ✓ 🚀\u0000 \uFEFFbom" }],
      ["str.empty", { type: "string", value: "" }],
      ["u64", { type: "u64", value: 2n ** 64n - 1n }],
      ["i64", { type: "i64", value: -(2n ** 63n) }],
      ["arr.u8", { type: "array", value: { elemType: "u8", items: [0, 1, 255] } }],
      ["arr.i8", { type: "array", value: { elemType: "i8", items: [-1, 127] } }],
      ["arr.u16", { type: "array", value: { elemType: "u16", items: [7] } }],
      ["arr.i16", { type: "array", value: { elemType: "i16", items: [-7] } }],
      ["arr.u32", { type: "array", value: { elemType: "u32", items: [1, 2, 3] } }],
      ["arr.i32", { type: "array", value: { elemType: "i32", items: [-5, 5] } }],
      ["arr.f32", { type: "array", value: { elemType: "f32", items: [1.5, -0.25, Infinity] } }],
      ["arr.f64", { type: "array", value: { elemType: "f64", items: [1e300, -1e-300] } }],
      ["arr.bool", { type: "array", value: { elemType: "bool", items: [true, false] } }],
      ["arr.str", { type: "array", value: { elemType: "string", items: ["<s>", "", "▁the"] } }],
      ["arr.u64", { type: "array", value: { elemType: "u64", items: [0n, 2n ** 64n - 1n] } }],
      ["arr.i64", { type: "array", value: { elemType: "i64", items: [-1n] } }],
      ["arr.empty", { type: "array", value: { elemType: "f32", items: [] } }],
      [
        "arr.nested",
        {
          type: "array",
          value: {
            elemType: "array",
            items: [
              { elemType: "u32", items: [1, 2] },
              { elemType: "string", items: ["a"] },
              { elemType: "array", items: [{ elemType: "bool", items: [true] }] },
            ],
          },
        },
      ],
    ]);
    for (const version of [2, 3] as const) {
      const bytes = encodeGguf({ metadata: meta, tensors: [], version });
      const g = parseGguf(bytes, "meta.gguf");
      expect(g.version).toBe(version);
      expect(g.metadata).toEqual(meta);
      expect([...g.metadata.keys()]).toEqual([...meta.keys()]); // file order kept
      // and writing the parsed metadata gives the same bytes
      expect(encodeGguf({ metadata: g.metadata, tensors: [], version })).toEqual(bytes);
    }
  });

  it("a non-default alignment is recorded and honoured", () => {
    const bytes = encodeGguf({
      tensors: [
        { name: "a", tensor: tensor([1, 2, 3], [3]), type: "F32" },
        { name: "b", tensor: tensor([4, 5], [2]), type: "F32" },
      ],
      alignment: 64,
    });
    const g = parseGguf(bytes, "a.gguf");
    expect(g.alignment).toBe(64);
    expect(g.metadata.get("general.alignment")).toEqual({ type: "u32", value: 64 });
    expect(g.dataOffset % 64).toBe(0);
    expect(g.tensors.map((x) => x.offset)).toEqual([0, 64]);
    expect(ggufTensor(g, bytes, "b", "a.gguf").toArray()).toEqual([4, 5]);
  });

  it("re-encoding a parsed F32 file reproduces it byte for byte", () => {
    const bytes = encodeGguf({
      metadata: { "general.architecture": { type: "string", value: "llama" } },
      tensors: [
        { name: "x", tensor: t(random(64, 9), [2, 32]), type: "F32" },
        { name: "y", tensor: t(random(3, 10), [3]), type: "F32" },
      ],
    });
    const g = parseGguf(bytes, "x.gguf");
    const again = encodeGguf({
      metadata: g.metadata,
      tensors: g.tensors.map((x) => ({ name: x.name, tensor: ggufTensor(g, bytes, x.name, "x.gguf"), type: "F32" as const })),
    });
    expect(again).toEqual(bytes);
  });

  it("the encoder rejects values that do not fit their declared type", () => {
    const bad: GgufValue[] = [
      { type: "u8", value: 256 },
      { type: "i32", value: 1.5 },
      { type: "u64", value: -1n },
      { type: "string", value: 3 as unknown as string },
    ];
    for (const v of bad) expect(() => encodeGguf({ metadata: { k: v }, tensors: [] })).toThrow(TypeError);
    expect(() => encodeGguf({ tensors: [], alignment: 3 })).toThrow(/power of two/);
  });
});

// ---------------------------------------------------------------------------------------------------------
// crafted corruptions, written byte by byte so the encoder's own choices cannot hide a parser gap

class Bytes {
  private readonly out: number[] = [];
  u8(v: number): this {
    this.out.push(v & 0xff);
    return this;
  }
  u32(v: number): this {
    for (let i = 0; i < 4; i++) this.out.push((v >>> (8 * i)) & 0xff);
    return this;
  }
  u64(v: number | bigint): this {
    const b = BigInt(v);
    for (let i = 0n; i < 8n; i++) this.out.push(Number((b >> (8n * i)) & 0xffn));
    return this;
  }
  raw(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.out.push(b[i] as number);
    return this;
  }
  str(s: string | number[]): this {
    const b = typeof s === "string" ? new TextEncoder().encode(s) : s;
    return this.u64(b.length).raw(b);
  }
  get length(): number {
    return this.out.length;
  }
  bytes(): Uint8Array {
    return new Uint8Array(this.out);
  }
}

interface RawTensor {
  name?: string | number[];
  nDims?: number;
  dims: (number | bigint)[];
  type?: number;
  offset?: number | bigint;
}

interface RawFile {
  magic?: number;
  version?: number;
  tensorCount?: bigint;
  kvCount?: bigint;
  kv?: ((b: Bytes) => void)[];
  tensors?: RawTensor[];
  alignment?: number;
  dataBytes?: number;
}

const kvString = (key: string | number[], value: string) => (b: Bytes) => b.str(key).u32(8).str(value);
const kvU32 = (key: string, value: number) => (b: Bytes) => b.str(key).u32(4).u32(value);

function rawFile(f: RawFile = {}): Uint8Array {
  const kv = f.kv ?? [kvString("general.architecture", "llama")];
  const tensors = f.tensors ?? [{ name: "a", dims: [4, 2] }];
  const b = new Bytes()
    .u32(f.magic ?? 0x46554747)
    .u32(f.version ?? 3)
    .u64(f.tensorCount ?? BigInt(tensors.length))
    .u64(f.kvCount ?? BigInt(kv.length));
  for (const write of kv) write(b);
  for (const x of tensors) {
    b.str(x.name ?? "a").u32(x.nDims ?? x.dims.length);
    for (const d of x.dims) b.u64(d);
    b.u32(x.type ?? 0).u64(x.offset ?? 0);
  }
  const alignment = f.alignment ?? 32;
  while (b.length % alignment !== 0) b.u8(0);
  for (let i = 0; i < (f.dataBytes ?? 64); i++) b.u8(i);
  return b.bytes();
}

function expectFormatError(bytes: Uint8Array, field: string | RegExp, detail?: RegExp): GgufFormatError {
  let err: unknown;
  try {
    parseGguf(bytes, "bad.gguf");
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(GgufFormatError);
  const e = err as GgufFormatError;
  expect(e.file).toBe("bad.gguf");
  if (typeof field === "string") expect(e.field).toBe(field);
  else expect(e.field).toMatch(field);
  expect(e.message.startsWith(`bad.gguf: ${e.field}: `)).toBe(true);
  if (detail) expect(e.message).toMatch(detail);
  return e;
}

describe("crafted corruptions", () => {
  it("the baseline crafted file parses", () => {
    const g = parseGguf(rawFile(), "ok.gguf");
    expect(g.tensors).toEqual([{ name: "a", shape: [2, 4], ggmlType: "F32", offset: 0, byteSize: 32 }]);
    expect(g.metadata.get("general.architecture")).toEqual({ type: "string", value: "llama" });
  });

  const huge = 2n ** 63n;
  const cases: [string, () => Uint8Array, string | RegExp, RegExp?][] = [
    ["empty file", () => new Uint8Array(0), "header: magic", /too short/],
    ["truncated in the counts", () => rawFile().subarray(0, 10), "header: tensor_count", /file ends at 10/],
    ["truncated in the metadata", () => rawFile({ tensors: [] }).subarray(0, 40), "metadata key #0 length", /past the end/],
    ["truncated in the tensor infos", () => rawFile().subarray(0, 80), 'tensor "a": n_dims', /file ends at 80/],
    ["wrong magic", () => rawFile({ magic: 0x4c4d4747 }), "header: magic", /expected "GGUF", got "GGML"/],
    ["version 1", () => rawFile({ version: 1 }), "header: version", /unsupported version 1/],
    ["version 4", () => rawFile({ version: 4 }), "header: version", /unsupported version 4/],
    ["big-endian file", () => rawFile({ version: 0x03000000 }), "header: version", /big-endian/],
    ["tensor count 2^63", () => rawFile({ tensorCount: huge }), "header: tensor_count", /cannot fit/],
    ["kv count absurd", () => rawFile({ kvCount: 1_000_000n }), "header: metadata_kv_count", /cannot fit/],
    ["kv + tensor counts together too big", () => rawFile({ kvCount: 9n, tensorCount: 3n }), "header: metadata_kv_count"],
    ["key length beyond the file", () => rawFile({ kv: [(b) => b.u64(2n ** 40n)] }), "metadata key #0 length", /past the end/],
    [
      "string value length beyond the file",
      () => rawFile({ kv: [(b) => b.str("k").u32(8).u64(1000)] }),
      'metadata key "k" length',
      /past the end/,
    ],
    ["invalid UTF-8 key", () => rawFile({ kv: [kvString([0x6b, 0xff, 0xfe], "v")] }), "metadata key #0", /UTF-8/],
    ["invalid UTF-8 value", () => rawFile({ kv: [(b) => b.str("k").u32(8).str([0xc3, 0x28])] }), 'metadata key "k"', /UTF-8/],
    [
      "unknown value type 13",
      () => rawFile({ kv: [(b) => b.str("k").u32(13)] }),
      'metadata key "k": value type',
      /unknown value type 13/,
    ],
    [
      "unknown array element type",
      () => rawFile({ kv: [(b) => b.str("k").u32(9).u32(99).u64(0)] }),
      'metadata key "k" element type',
      /unknown value type 99/,
    ],
    [
      "array of absurd length",
      () =>
        rawFile({
          kv: [
            (b) =>
              b
                .str("k")
                .u32(9)
                .u32(6)
                .u64(2n ** 62n),
          ],
        }),
      'metadata key "k" length',
      /cannot fit/,
    ],
    [
      "arrays nested too deep",
      () =>
        rawFile({
          kv: [
            (b) => {
              b.str("k").u32(9);
              for (let i = 0; i < 9; i++) b.u32(9).u64(1);
              b.u32(0).u64(0);
            },
          ],
        }),
      /^metadata key "k"(\[0\])+$/,
      /nested deeper than 8/,
    ],
    ["bool that is not 0 or 1", () => rawFile({ kv: [(b) => b.str("b").u32(7).u8(2)] }), 'metadata key "b"', /0 or 1/],
    [
      "duplicate key",
      () => rawFile({ kv: [kvString("general.architecture", "a"), kvString("general.architecture", "b")] }),
      'metadata key "general.architecture"',
      /duplicate key/,
    ],
    [
      "alignment 3",
      () => rawFile({ kv: [kvU32("general.alignment", 3)] }),
      'metadata key "general.alignment"',
      /power of two, got 3/,
    ],
    ["alignment 0", () => rawFile({ kv: [kvU32("general.alignment", 0)] }), 'metadata key "general.alignment"', /power of two/],
    [
      "alignment of the wrong type",
      () => rawFile({ kv: [(b) => b.str("general.alignment").u32(10).u64(32)] }),
      'metadata key "general.alignment"',
      /must be a u32, got u64/,
    ],
    ["unknown ggml type 99", () => rawFile({ tensors: [{ dims: [4], type: 99 }] }), 'tensor "a": type', /unknown ggml type 99/],
    ["removed ggml type 4", () => rawFile({ tensors: [{ dims: [32], type: 4 }] }), 'tensor "a": type', /unknown ggml type 4/],
    ["n_dims 5", () => rawFile({ tensors: [{ dims: [1, 1, 1, 1, 1] }] }), 'tensor "a": n_dims', /at most 4/],
    [
      "dim 0 with Q8_0",
      () => rawFile({ tensors: [{ dims: [0, 2], type: 8 }] }),
      'tensor "a": ne[0]',
      /positive multiple of Q8_0's block size 32/,
    ],
    [
      "dim not a multiple of the block",
      () => rawFile({ tensors: [{ dims: [48], type: 12 }] }),
      'tensor "a": ne[0]',
      /block size 256/,
    ],
    ["scalar of a block type", () => rawFile({ tensors: [{ dims: [], type: 2 }] }), 'tensor "a": ne[0]'],
    [
      "dims whose product overflows 64 bits",
      () => rawFile({ tensors: [{ dims: [2n ** 40n, 2n ** 40n, 2n ** 40n, 2n ** 40n] }] }),
      'tensor "a": ne',
      /more than the whole file/,
    ],
    [
      "dim beyond 2^53 beside a zero",
      () => rawFile({ tensors: [{ dims: [0, 2n ** 60n] }] }),
      'tensor "a": ne[1]',
      /beyond 2\^53/,
    ],
    [
      "offset beyond the file",
      () => rawFile({ tensors: [{ dims: [4], offset: 2n ** 50n }] }),
      'tensor "a": offset',
      /past the end/,
    ],
    [
      "misaligned offset",
      () => rawFile({ tensors: [{ dims: [4], offset: 4 }] }),
      'tensor "a": offset',
      /not a multiple of the alignment 32/,
    ],
    [
      "overlapping tensors",
      () =>
        rawFile({
          tensors: [
            { name: "a", dims: [16] },
            { name: "b", dims: [8], offset: 32 },
            { name: "c", dims: [8], offset: 64 },
          ],
          dataBytes: 96,
        }),
      'tensor "b": offset',
      /overlaps tensor "a"/,
    ],
    [
      "duplicate tensor name",
      () => rawFile({ tensors: [{ dims: [4] }, { dims: [4], offset: 32 }] }),
      'tensor "a"',
      /duplicate tensor name/,
    ],
    [
      "invalid UTF-8 tensor name",
      () => rawFile({ tensors: [{ name: [0xed, 0xa0, 0x80], dims: [4] }] }),
      "tensor #0: name",
      /UTF-8/,
    ],
    [
      "data section truncated",
      () => rawFile({ tensors: [{ dims: [4, 4] }], dataBytes: 60 }),
      'tensor "a": data',
      /run past the end/,
    ],
    [
      "tensor larger than the file",
      () => rawFile({ tensors: [{ dims: [1 << 20] }] }),
      'tensor "a": ne',
      /more than the whole file/,
    ],
  ];

  it.each(cases)("%s", (_name, make, field, detail) => {
    expectFormatError(make(), field, detail);
  });

  it(`has at least 20 cases (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  it("zero-sized tensors may share an offset; a zero dim is fine for unblocked types", () => {
    const g = parseGguf(
      rawFile({
        tensors: [
          { name: "z1", dims: [0, 3] },
          { name: "z2", dims: [5, 0] },
        ],
      }),
      "z.gguf",
    );
    expect(g.tensors.map((x) => x.shape)).toEqual([
      [3, 0],
      [0, 5],
    ]);
  });

  it("a header spanning more than the given prefix asks for more bytes instead of failing", () => {
    const full = rawFile();
    expect(() => parseGgufHeader(full.subarray(0, 30), "p.gguf", full.length)).toThrow(/needs at least/);
    expect(parseGgufHeader(full.subarray(0, 110), "p.gguf", full.length).tensors.length).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe("Node files", () => {
  const dir = mkdtempSync(join(tmpdir(), "gguf-test-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writeGguf → openGguf reads tensors on demand", () => {
    const path = join(dir, "w.gguf");
    const x = random(2 * 64, 7);
    writeGguf(path, {
      metadata: { "general.name": { type: "string", value: "tiny" } },
      tensors: [
        { name: "f", tensor: t(x, [2, 64]), type: "F32" },
        { name: "q", tensor: t(x, [2, 64]), type: "Q8_0" },
      ],
    });
    const g = openGguf(path);
    try {
      expect(g.header.metadata.get("general.name")).toEqual({ type: "string", value: "tiny" });
      expect(Array.from(g.tensor("f").data)).toEqual(Array.from(x));
      expect(g.raw("q").length).toBe(4 * 34);
      expect(g.tensor("q").shape).toEqual([2, 64]);
      expect(() => g.tensor("nope")).toThrow(GgufFormatError);
    } finally {
      g.close();
    }
    expect(() => g.tensor("f")).toThrow(/closed/);
  });

  it("a header larger than the first read (a 3 MB vocabulary) is read in growing prefixes", () => {
    const path = join(dir, "vocab.gguf");
    const tokens = Array.from({ length: 200_000 }, (_, i) => `token_${i}`);
    writeGguf(path, {
      metadata: { "tokenizer.ggml.tokens": { type: "array", value: { elemType: "string", items: tokens } } },
      tensors: [{ name: "w", tensor: tensor([1, 2], [2]), type: "F32" }],
    });
    const g = openGguf(path);
    try {
      const v = g.header.metadata.get("tokenizer.ggml.tokens");
      expect(v?.type === "array" && v.value.items.length).toBe(200_000);
      expect(g.tensor("w").toArray()).toEqual([1, 2]);
    } finally {
      g.close();
    }
  });

  it("a corrupt file on disk fails with its path in the error", () => {
    const path = join(dir, "bad.gguf");
    writeFileSync(path, rawFile({ version: 9 }));
    expect(() => openGguf(path)).toThrow(`${path}: header: version`);
    writeFileSync(path, rawFile({ tensors: [{ dims: [4, 4] }], dataBytes: 8 }));
    expect(() => openGguf(path)).toThrow(GgufFormatError);
  });
});
