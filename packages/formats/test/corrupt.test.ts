// Crafted broken files. Each must fail with a ModelFormatError whose message names the file and the field.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { craft, craftBytes, entry, expectFormatError } from "@llmdbg/testing/vitest";
import { afterAll, describe, expect, it } from "vitest";
import { decodeSafetensors, MAX_HEADER_SIZE, parseSafetensorsHeader } from "../src/safetensors.js";
import { readSafetensors } from "../src/safetensors-node.js";

const F = "bad.safetensors";
const W = "h.0.attn.c_attn.weight";
const B = "h.0.attn.c_attn.bias";
const parse = (bytes: Uint8Array) => () => parseSafetensorsHeader(bytes, F);
const good = () => ({ __metadata__: { format: "pt" }, [W]: entry("F32", [2, 3], 0, 24), [B]: entry("F32", [3], 24, 36) });
const goodFile = () => craft(good(), 36);
const withTensor = (name: string, e: unknown, data = 36) => craft({ ...good(), [name]: e }, data);
const tf = (name: string, key?: string) => (key === undefined ? `tensor "${name}"` : `tensor "${name}": ${key}`);

describe("the sound file these corruptions start from", () => {
  it("parses", () => {
    const h = parseSafetensorsHeader(goodFile(), F);
    expect(h.tensors.map((t) => t.name)).toEqual([W, B]);
    expect(h.metadata).toEqual({ format: "pt" });
  });
  it("the reference implementation's documented example parses", () => {
    // from the safetensors crate docs: a 60-byte header, one I32 [2,2] tensor, 16 data bytes
    const text = '{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}';
    const bytes = craft(text, 16);
    expect(bytes[0]).toBe(0x3c);
    const st = decodeSafetensors(bytes, F);
    expect(st.load("test").toArray()).toEqual([0, 0, 0, 0]);
  });
});

describe("header length", () => {
  it("1. file shorter than 8 bytes", () => {
    expectFormatError(parse(new Uint8Array(5)), F, "header length", /5 bytes, shorter than the 8-byte/);
  });
  it("2. header length beyond the file", () => {
    expectFormatError(parse(goodFile().subarray(0, 40)), F, "header length", /runs past the end of the file/);
  });
  it("3. header length 2^64-1", () => {
    expectFormatError(parse(craft(good(), 36, 2n ** 64n - 1n)), F, "header length", /18446744073709551615 bytes/);
  });
  it("4. header length 0", () => {
    expectFormatError(parse(craft("", 0, 0n)), F, "header length", /is 0/);
  });
  it("5. header length over the 100 MB limit (file size claimed large enough)", () => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(MAX_HEADER_SIZE + 1), true);
    expectFormatError(() => parseSafetensorsHeader(b, F, 2 * MAX_HEADER_SIZE), F, "header length", /exceeds the limit/);
  });
  it("6. header length shorter than the JSON (cuts it)", () => {
    const text = JSON.stringify(good());
    expectFormatError(parse(craft(text, 36, BigInt(text.length - 3))), F, /^(header|tensor ".*)$/, /invalid JSON/);
  });
});

describe("header text", () => {
  it("7. invalid UTF-8", () => {
    const bad = new TextEncoder().encode('{"a\xff":1}');
    bad[3] = 0xff;
    expectFormatError(parse(craftBytes(bad)), F, "header", /not valid UTF-8/);
    expectFormatError(parse(craftBytes(new Uint8Array([0x7b, 0xc0, 0x80, 0x7d]))), F, "header", /UTF-8/); // overlong NUL
  });
  it("8. invalid JSON", () => {
    expectFormatError(parse(craft('{"a": }')), F, tf("a"), /invalid JSON: expected a value at character 6/);
    expectFormatError(parse(craft('{"t": {"dtype": F32}}')), F, tf("t", "dtype"), /invalid JSON/);
  });
  it("9. header is an array, or not an object at all", () => {
    expectFormatError(parse(craft("[]")), F, "header", /expected a JSON object, got an array/);
    expectFormatError(parse(craft('"x"')), F, "header", /expected a JSON object, got "x"/);
    expectFormatError(parse(craft("\ufeff{}")), F, "header", /invalid JSON: expected a value at character 0/);
    // leading JSON whitespace is accepted, as by the reference implementation
    expect(parseSafetensorsHeader(craft(" \n{}"), F).tensors).toEqual([]);
  });
  it("10. nesting deeper than a header can be", () => {
    expectFormatError(parse(craft(`{"a":${"[".repeat(20)}${"]".repeat(20)}}`)), F, /^tensor "a"/, /nesting deeper/);
  });
  it("11. duplicate tensor names (JSON.parse would silently keep the last)", () => {
    const text = `{"${W}":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"${W}":{"dtype":"F32","shape":[3],"data_offsets":[12,24]}}`;
    expectFormatError(parse(craft(text, 24)), F, tf(W), /duplicate key/);
  });
  it("12. duplicate key inside an entry", () => {
    const text = '{"a":{"dtype":"F32","dtype":"F16","shape":[],"data_offsets":[0,4]}}';
    expectFormatError(parse(craft(text, 4)), F, tf("a", "dtype"), /duplicate key "dtype"/);
  });
});

describe("metadata", () => {
  it("13. a metadata value that is not a string", () => {
    expectFormatError(
      parse(craft({ ...good(), __metadata__: { format: "pt", total: 5 } }, 36)),
      F,
      '__metadata__ "total"',
      /expected a string value, got 5/,
    );
  });
  it("14. metadata that is not an object", () => {
    expectFormatError(parse(craft({ ...good(), __metadata__: ["pt"] }, 36)), F, "__metadata__", /expected an object of strings/);
  });
});

describe("entries", () => {
  it("15. an entry that is not an object", () => {
    expectFormatError(parse(withTensor("x", [1, 2])), F, tf("x"), /expected an object with dtype, shape and data_offsets/);
  });
  it("16. an empty tensor name", () => {
    expectFormatError(parse(withTensor("", entry("F32", [0], 36, 36))), F, tf(""), /empty tensor name/);
  });
  it("17. an unknown key in an entry", () => {
    expectFormatError(
      parse(craft({ [W]: { ...entry("F32", [2, 3], 0, 24), offsets: [0, 24] } }, 24)),
      F,
      tf(W, "offsets"),
      /unknown key/,
    );
  });
  it("18. a missing key", () => {
    expectFormatError(parse(craft({ x: { dtype: "F32", shape: [1] } }, 4)), F, tf("x", "data_offsets"), /missing/);
  });
  it("19. an unknown dtype, named in the message", () => {
    const e = expectFormatError(
      parse(withTensor("x", entry("F8_E4M3", [1], 36, 37), 37)),
      F,
      tf("x", "dtype"),
      /unknown dtype "F8_E4M3"/,
    );
    expect(e.message).toMatch(/expected one of F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL/);
    expectFormatError(parse(withTensor("x", entry("f32", [1], 36, 40), 40)), F, tf("x", "dtype"), /unknown dtype "f32"/);
    expectFormatError(
      parse(withTensor("x", entry(4 as unknown as string, [1], 36, 40), 40)),
      F,
      tf("x", "dtype"),
      /unknown dtype 4/,
    );
  });
  it("20. a negative dimension", () => {
    expectFormatError(parse(craft({ [W]: entry("F32", [2, -3], 0, 24) }, 24)), F, tf(W, "shape"), /dimension 1 is -3/);
  });
  it("21. a non-integer dimension", () => {
    expectFormatError(parse(craft({ [W]: entry("F32", [2.5, 2], 0, 20) }, 20)), F, tf(W, "shape"), /dimension 0 is 2.5/);
    expectFormatError(parse(craft({ [W]: entry("F32", ["2", 3], 0, 24) }, 24)), F, tf(W, "shape"), /dimension 0 is "2"/);
    expectFormatError(parse(craft({ [W]: entry("F32", 6, 0, 24) }, 24)), F, tf(W, "shape"), /expected an array/);
  });
  it("22. dimensions beyond 2^53, or whose product overflows", () => {
    const absurd = `{"x":{"dtype":"F32","shape":[67108864,67108864,67108864],"data_offsets":[0,4]}}`;
    expectFormatError(parse(craft(absurd, 4)), F, tf("x", "shape"), /more than 2\^53 bytes/);
    const huge = `{"x":{"dtype":"U8","shape":[18446744073709551615],"data_offsets":[0,4]}}`;
    expectFormatError(parse(craft(huge, 4)), F, tf("x", "shape"), /dimension 0 is 18446744073709552000/);
    // the byte count can overflow even when the element count does not
    const bytes = `{"x":{"dtype":"F64","shape":[4503599627370496,2],"data_offsets":[0,4]}}`;
    expectFormatError(parse(craft(bytes, 4)), F, tf("x", "shape"), /more than 2\^53 bytes/);
  });
  it("23. data_offsets out of range of the data buffer", () => {
    expectFormatError(
      parse(craft(good(), 30)),
      F,
      tf(B, "data_offsets"),
      /\[24, 36\] runs past the end of the 30-byte data buffer/,
    );
  });
  it("24. begin after end", () => {
    expectFormatError(parse(craft({ x: entry("F32", [1], 8, 4) }, 8)), F, tf("x", "data_offsets"), /begin 8 is after end 4/);
  });
  it("25. data_offsets that are not two non-negative integers", () => {
    for (const offs of [[0], [0, 4, 8], [-4, 0], ["0", 4], [0, 4.5], null]) {
      const e = { dtype: "F32", shape: [1], data_offsets: offs };
      expectFormatError(
        parse(craft({ x: e }, 4)),
        F,
        tf("x", "data_offsets"),
        /expected \[begin, end\] as two non-negative integers/,
      );
    }
  });
  it("26. a byte span that is not numel × dtype size", () => {
    expectFormatError(
      parse(craft({ [W]: entry("F16", [2, 3], 0, 24) }, 24)),
      F,
      tf(W, "data_offsets"),
      /\[0, 24\] spans 24 bytes; expected 12 \(shape \[2,3\] × 2-byte F16\)/,
    );
  });
});

describe("tiling of the data buffer", () => {
  it("27. overlapping tensors", () => {
    const h = { a: entry("F32", [2], 0, 8), b: entry("F32", [2], 4, 12) };
    expectFormatError(parse(craft(h, 12)), F, tf("b", "data_offsets"), /overlaps tensor "a" at \[0, 8\]/);
    // an empty tensor inside another one overlaps too (the reference crate rejects it as well)
    const e = { a: entry("F32", [2], 0, 8), z: entry("F32", [0], 4, 4) };
    expectFormatError(parse(craft(e, 8)), F, tf("z", "data_offsets"), /\[4, 4\] overlaps tensor "a" at \[0, 8\]/);
  });
  it("28. a gap between tensors", () => {
    const h = { a: entry("F32", [2], 0, 8), b: entry("F32", [2], 12, 20) };
    expectFormatError(parse(craft(h, 20)), F, tf("b", "data_offsets"), /begins at 12 but tensor "a" ends at 8: 4 unused bytes/);
  });
  it("29. a gap before the first tensor", () => {
    expectFormatError(parse(craft({ a: entry("F32", [2], 4, 12) }, 12)), F, tf("a", "data_offsets"), /data buffer starts at 0/);
  });
  it("30. trailing bytes after the last tensor", () => {
    expectFormatError(parse(craft(good(), 40)), F, "data buffer", /4 bytes after the last tensor \(which ends at 36 of 40\)/);
    expectFormatError(parse(craft({}, 1)), F, "data buffer", /1 bytes after the last tensor/);
  });
  it("31. the same range claimed by two tensors", () => {
    const h = { a: entry("F32", [2], 0, 8), b: entry("F32", [2], 0, 8) };
    expectFormatError(parse(craft(h, 8)), F, tf("b", "data_offsets"), /overlaps tensor "a"/);
  });
});

describe("tensor data checked on load", () => {
  it("32. an I64 value outside the i32 range", () => {
    const data = new BigInt64Array([5n, -(2n ** 31n), 2n ** 31n]);
    const st = decodeSafetensors(craft({ ids: entry("I64", [3], 0, 24) }, new Uint8Array(data.buffer)), F);
    const e = expectFormatError(() => st.load("ids"), F, tf("ids", "data"), /I64 element 2 is 2147483648, outside the i32 range/);
    expect(e.name).toBe("ModelFormatError");
  });
  it("33. a BOOL byte other than 0 or 1", () => {
    const st = decodeSafetensors(craft({ m: entry("BOOL", [3], 0, 3) }, new Uint8Array([1, 0, 2])), F);
    expectFormatError(() => st.load("m"), F, tf("m", "data"), /element 2 is 2/);
  });
});

describe("files on disk", () => {
  const dir = mkdtempSync(join(tmpdir(), "llmdbg-corrupt-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it("34. a truncated file names its path", () => {
    const p = join(dir, "cut.safetensors");
    writeFileSync(p, goodFile().subarray(0, goodFile().length - 4));
    expectFormatError(() => readSafetensors(p), p, tf(B, "data_offsets"), /runs past the end/);
  });
  it("35. a huge header length is refused before any allocation", () => {
    const p = join(dir, "huge.safetensors");
    writeFileSync(p, craft(good(), 36, 2n ** 62n));
    expectFormatError(() => readSafetensors(p), p, "header length", /runs past the end of the file/);
    writeFileSync(p, new Uint8Array(3));
    expectFormatError(() => readSafetensors(p, { label: "short" }), "short", "header length", /3 bytes/);
  });
  it("36. a file that changes length after its header was read", () => {
    const p = join(dir, "grow.safetensors");
    writeFileSync(p, goodFile());
    const st = readSafetensors(p);
    writeFileSync(p, craft(good(), 40));
    expectFormatError(() => st.load(W), p, "file", /changed size since its header was read/);
  });
  it("37. a folder is not a file", () => {
    expectFormatError(() => readSafetensors(dir), dir, "file", /not a regular file/);
  });
});
