// Write -> read round trips, in memory and through files, and the exact bytes the writer produces.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DTypeError, fromTyped, randn, type Tensor, tensor } from "@llmdbg/tensor";
import { craft, entry } from "@llmdbg/testing/vitest";
import { afterAll, describe, expect, it } from "vitest";
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from "../src/float16.js";
import { decodeSafetensors, encodeSafetensors, parseSafetensorsHeader } from "../src/safetensors.js";
import { readSafetensors, writeSafetensors } from "../src/safetensors-node.js";

const dir = mkdtempSync(join(tmpdir(), "llmdbg-st-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const headerText = (bytes: Uint8Array): string => {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return new TextDecoder().decode(bytes.subarray(8, 8 + n));
};

describe("writer layout", () => {
  it("writes the reference layout: sorted names, contiguous data, header padded with spaces to 8 bytes", () => {
    const bytes = encodeSafetensors({ b: tensor([1, 2], [2]), a: tensor([3], [1, 1]) }, { metadata: { format: "pt" } });
    const text = headerText(bytes);
    const json =
      '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},' +
      '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}';
    expect(text.trimEnd()).toBe(json);
    expect(text.length % 8).toBe(0);
    expect(text.slice(json.length)).toMatch(/^ *$/);
    expect([...bytes.subarray(8 + text.length)]).toEqual([0, 0, 0x40, 0x40, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]); // 3, 1, 2 LE
  });

  it("stores f16 and bf16 bit patterns little-endian", () => {
    const t = tensor([1, -2, 65504], [3]);
    const f16 = encodeSafetensors({ t }, { dtype: "F16" });
    expect([...f16.subarray(f16.length - 6)]).toEqual([0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b]);
    const bf16 = encodeSafetensors({ t: tensor([1, -2], [2]) }, { dtype: "BF16" });
    expect([...bf16.subarray(bf16.length - 4)]).toEqual([0x80, 0x3f, 0x00, 0xc0]);
  });

  it("refuses names and metadata that cannot be stored", () => {
    expect(() => encodeSafetensors({ "": tensor([1]) })).toThrow(/invalid tensor name ""/);
    expect(() => encodeSafetensors({ __metadata__: tensor([1]) })).toThrow(/invalid tensor name "__metadata__"/);
    expect(() => encodeSafetensors({ "a\ud800": tensor([1]) })).toThrow(/not valid Unicode/);
    expect(() => encodeSafetensors({ a: tensor([1]) }, { metadata: { n: 5 as unknown as string } })).toThrow(
      /metadata "n" must be a string/,
    );
  });
});

describe("round trips in memory", () => {
  const values = [
    0,
    -0,
    1,
    -2,
    0.5,
    0.25,
    3,
    1024,
    -65504,
    2 ** -14,
    2 ** -24,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
  ];

  it("F32 is exact, including NaN, ±0 and ±Infinity", () => {
    const r = randn([4, 5], 1);
    const special = tensor([...values, Number.NaN], [values.length + 1]);
    const st = decodeSafetensors(encodeSafetensors({ r, special }), "mem");
    expect(st.load("r").toArray()).toEqual(r.toArray());
    expect(st.load("r").shape).toEqual([4, 5]);
    const back = st.load("special").toArray();
    expect(back.slice(0, -1)).toEqual(values);
    expect(Object.is(back[1], -0)).toBe(true);
    expect(back.at(-1)).toBeNaN();
  });

  it("F16 and BF16 keep exactly representable values and round the rest to nearest", () => {
    const exact = tensor(values, [values.length]);
    const r = randn([64], 7, "f32", 100);
    const st16 = decodeSafetensors(encodeSafetensors({ exact, r }, { dtype: "F16" }), "mem");
    expect(st16.entry("r").dtype).toBe("F16");
    expect(st16.load("exact").toArray()).toEqual(values);
    expect(st16.load("r").toArray()).toEqual(r.toArray().map((x) => f16BitsToF32(f32ToF16Bits(x))));
    for (const [x, y] of r.toArray().map((x, i) => [x, st16.load("r").toArray()[i] as number])) {
      expect(Math.abs((y as number) - (x as number))).toBeLessThanOrEqual(Math.abs(x as number) * 2 ** -11 + 2 ** -25);
    }
    const bfValues = values.filter((v) => Math.abs(v) !== 65504);
    const stbf = decodeSafetensors(
      encodeSafetensors({ exact: tensor(bfValues, [bfValues.length]), r }, { dtype: "BF16" }),
      "mem",
    );
    expect(stbf.load("exact").toArray()).toEqual(bfValues);
    expect(stbf.load("r").toArray()).toEqual(r.toArray().map((x) => bf16BitsToF32(f32ToBf16Bits(x))));
    for (const [i, y] of stbf.load("r").toArray().entries()) {
      const x = r.toArray()[i] as number;
      expect(Math.abs(y - x)).toBeLessThanOrEqual(Math.abs(x) * 2 ** -8);
    }
  });

  it("f64, i32 and bool tensors keep their types; f64 can be stored as F32", () => {
    const d = tensor([Math.PI, -1e300, 5e-324], [3], "f64");
    const i = tensor([0, -1, 2 ** 31 - 1, -(2 ** 31)], [2, 2], "i32");
    const b = tensor([1, 0, 1], [3], "bool");
    const st = decodeSafetensors(encodeSafetensors({ d, i, b }), "mem");
    expect(st.entries.map((e) => [e.name, e.dtype])).toEqual([
      ["b", "BOOL"],
      ["d", "F64"],
      ["i", "I32"],
    ]);
    expect(st.load("d").dtype).toBe("f64");
    expect(st.load("d").toArray()).toEqual(d.toArray());
    expect(st.load("i").toArray()).toEqual(i.toArray());
    expect(st.load("b").dtype).toBe("bool");
    expect(st.load("b").toArray()).toEqual([1, 0, 1]);
    const as32 = decodeSafetensors(encodeSafetensors({ d }, { dtype: "F32" }), "mem");
    expect(as32.entry("d").dtype).toBe("F32");
    expect(as32.load("d").toArray()).toEqual([Math.fround(Math.PI), Number.NEGATIVE_INFINITY, 0]);
  });

  it("loads as another float type on request, and refuses conversions it does not do", () => {
    const st = decodeSafetensors(
      encodeSafetensors({ h: tensor([1.5, -3], [2]), i: tensor([1], [1], "i32") }, { dtype: "F16" }),
      "mem.st",
    );
    const h64 = st.load("h", { dtype: "f64" });
    expect(h64.dtype).toBe("f64");
    expect(h64.toArray()).toEqual([1.5, -3]);
    expect(() => st.load("i", { dtype: "f32" })).toThrow(DTypeError);
    expect(() => st.load("i", { dtype: "f32" })).toThrow(/mem.st: tensor "i": cannot load I32 as f32; expected i32/);
    expect(() => st.load("h", { dtype: "i32" })).toThrow(/cannot load F16 as i32; expected f32 or f64/);
    expect(() => st.load("nope")).toThrow(/mem.st: no tensor named "nope"/);
  });

  it("metadata, scalars and empty tensors", () => {
    const tensors = {
      s: tensor([42], []),
      e: fromTyped(new Float32Array(0), [3, 0, 2], "f32"),
      z: fromTyped(new Float32Array(0), [0], "f32"),
    };
    const meta = { format: "pt", note: "é ✓ \u{1F600}", "": "empty key" };
    for (const dtype of ["F32", "F16", "BF16"] as const) {
      const st = decodeSafetensors(encodeSafetensors(tensors, { dtype, metadata: meta }), "mem");
      expect({ ...st.metadata }).toEqual(meta);
      expect(st.load("s").shape).toEqual([]);
      expect(st.load("s").item()).toBe(42);
      expect(st.load("e").shape).toEqual([3, 0, 2]);
      expect(st.load("e").size).toBe(0);
      expect(st.entry("e").begin).toBe(st.entry("e").end);
      expect(st.load("z").shape).toEqual([0]);
    }
    const none = decodeSafetensors(encodeSafetensors({}), "mem");
    expect(none.entries).toEqual([]);
    expect({ ...none.metadata }).toEqual({});
  });

  it("reads I64, I16, I8 and U8 as i32", () => {
    const parts = [
      new Uint8Array(new BigInt64Array([-(2n ** 31n), 2n ** 31n - 1n, -1n]).buffer),
      new Uint8Array(new Int16Array([-32768, 32767, -1]).buffer),
      new Uint8Array(new Int8Array([-128, 127, -1]).buffer),
      new Uint8Array([0, 255, 128]),
    ];
    const data = new Uint8Array(24 + 6 + 3 + 3);
    let at = 0;
    for (const p of parts) {
      data.set(p, at);
      at += p.length;
    }
    const header = {
      a: entry("I64", [3], 0, 24),
      b: entry("I16", [3], 24, 30),
      c: entry("I8", [3], 30, 33),
      d: entry("U8", [3], 33, 36),
    };
    const st = decodeSafetensors(craft(header, data), "mem");
    expect(st.load("a").toArray()).toEqual([-(2 ** 31), 2 ** 31 - 1, -1]);
    expect(st.load("b").toArray()).toEqual([-32768, 32767, -1]);
    expect(st.load("c").toArray()).toEqual([-128, 127, -1]);
    expect(st.load("d").toArray()).toEqual([0, 255, 128]);
    expect(st.load("d").dtype).toBe("i32");
    expect([...st.loadBytes("b")]).toEqual([...(parts[1] as Uint8Array)]);
  });

  it("tensors listed in any header order come back in file order", () => {
    const text = '{"z":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"0":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
    const h = parseSafetensorsHeader(craft(text, 8), "mem");
    expect(h.tensors.map((t) => t.name)).toEqual(["z", "0"]);
    expect(h.headerSize).toBe(text.length);
    expect(h.dataStart).toBe(8 + text.length);
    expect(h.dataSize).toBe(8);
  });
});

describe("round trips through files", () => {
  it("writes atomically and reads tensors one at a time", () => {
    const p = join(dir, "model.safetensors");
    const tensors: Record<string, Tensor> = {};
    for (let i = 0; i < 12; i++) tensors[`h.${i}.mlp.c_fc.weight`] = randn([8, 3 + i], i);
    tensors["wte.weight"] = randn([300, 700], 99); // > 1 MiB: the F16 path converts in several chunks
    for (const dtype of ["F32", "F16", "BF16"] as const) {
      writeSafetensors(p, tensors, { dtype, metadata: { format: "pt", dtype } });
      expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
      const st = readSafetensors(p);
      expect(st.metadata.dtype).toBe(dtype);
      expect(st.entries.map((e) => e.name)).toEqual(Object.keys(tensors).sort());
      const round =
        dtype === "F32"
          ? (x: number) => x
          : dtype === "F16"
            ? (x: number) => f16BitsToF32(f32ToF16Bits(x))
            : (x: number) => bf16BitsToF32(f32ToBf16Bits(x));
      for (const [name, t] of Object.entries(tensors)) {
        const back = st.load(name);
        expect(back.shape).toEqual(t.shape);
        expect(back.toArray()).toEqual(t.toArray().map(round));
      }
      // the file is byte-identical to the in-memory encoding
      expect(Buffer.compare(readFileSync(p), encodeSafetensors(tensors, { dtype, metadata: { format: "pt", dtype } }))).toBe(0);
    }
  });

  it("leaves no temporary file behind when a write fails", () => {
    const p = join(dir, "fail.safetensors");
    expect(() => writeSafetensors(p, { "": tensor([1]) })).toThrow();
    const disposed = tensor([1, 2]);
    disposed.dispose();
    expect(() => writeSafetensors(p, { a: tensor([1]), b: disposed })).toThrow(/disposed/);
    expect(existsSync(p)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.startsWith("fail"))).toEqual([]);
  });
});
