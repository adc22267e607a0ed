// Property-based fuzzing: random corruptions of a valid file must either parse (and then every tensor must
// decode) or fail with GgufFormatError — never another exception, never a hang, never a huge allocation.
import { fromTyped } from "@llmdbg/tensor";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeGguf, GgufFormatError, type GgufValue, ggufTensor, parseGguf } from "../src/gguf.js";

function random(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

/** Rewrites one tensor info in place: the encoder only writes F32/F16/Q8_0, the fuzzer should see k-quants too. */
function retype(bytes: Uint8Array, name: string, ne0: number, typeId: number): void {
  const needle = [name.length, 0, 0, 0, 0, 0, 0, 0, ...new TextEncoder().encode(name)];
  const at = bytes.findIndex((_, i) => needle.every((b, j) => bytes[i + j] === b));
  if (at < 0) throw new Error(`tensor ${name} not found`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  const dims = at + needle.length;
  expect(dv.getUint32(dims, true)).toBe(1);
  dv.setBigUint64(dims + 4, BigInt(ne0), true);
  dv.setUint32(dims + 12, typeId, true);
}

function validFile(): Uint8Array {
  const meta: Record<string, GgufValue> = {
    "general.architecture": { type: "string", value: "llama" },
    "llama.block_count": { type: "u32", value: 2 },
    "llama.rope.freq_base": { type: "f32", value: 10000 },
    "general.size": { type: "u64", value: 12345678901234n },
    "general.flag": { type: "bool", value: true },
    "tokenizer.ggml.tokens": { type: "array", value: { elemType: "string", items: ["<s>", "</s>", "▁a", "b"] } },
    "tokenizer.ggml.scores": { type: "array", value: { elemType: "f32", items: [0, -1, -2.5, 3] } },
    "x.nested": { type: "array", value: { elemType: "array", items: [{ elemType: "i16", items: [-1, 2] }] } },
  };
  const bytes = encodeGguf({
    metadata: meta,
    tensors: [
      { name: "f32", tensor: fromTyped(random(6, 1), [2, 3], "f32"), type: "F32" },
      { name: "f16", tensor: fromTyped(random(32, 2), [32], "f32"), type: "F16" },
      { name: "q8", tensor: fromTyped(random(64, 3), [2, 32], "f32"), type: "Q8_0" },
      { name: "q4k", tensor: fromTyped(random(36, 4), [36], "f32"), type: "F32" }, // 144 bytes = one Q4_K block
      { name: "q5k", tensor: fromTyped(random(44, 5), [44], "f32"), type: "F32" }, // 176 bytes = one Q5_K block
      { name: "q6k", tensor: fromTyped(random(105, 6), [105], "f32"), type: "F32" }, // 420 bytes = two Q6_K blocks
    ],
  });
  retype(bytes, "q4k", 256, 12);
  retype(bytes, "q5k", 256, 13);
  retype(bytes, "q6k", 512, 14);
  return bytes;
}

const base = validFile();
const headerEnd = parseGguf(base, "base.gguf").dataOffset;

/** What each fuzz test saw, counted by the test itself (so that any one of them can run alone). */
interface Outcomes {
  parsedOk: number;
  rejected: number;
}

/** Parse and decode everything; only GgufFormatError may escape, and it must name the file. */
function check(bytes: Uint8Array, seen: Outcomes): void {
  try {
    const g = parseGguf(bytes, "fuzz.gguf");
    for (const t of g.tensors) {
      expect(g.dataOffset + t.offset + t.byteSize).toBeLessThanOrEqual(bytes.length);
      const x = ggufTensor(g, bytes, t.name, "fuzz.gguf");
      expect(x.shape).toEqual(t.shape);
    }
    seen.parsedOk++;
  } catch (e) {
    if (!(e instanceof GgufFormatError)) throw e;
    if (!e.message.startsWith("fuzz.gguf: ") || e.field === "") throw new Error(`badly formed error: ${e.message}`);
    seen.rejected++;
  }
}

/** Runs `property` `numRuns` times on fresh outcomes, prints them and requires that every run was checked. */
function fuzz<Ts>(label: string, numRuns: number, property: (seen: Outcomes) => fc.IProperty<Ts>): Outcomes {
  const seen: Outcomes = { parsedOk: 0, rejected: 0 };
  fc.assert(property(seen), { numRuns });
  console.log(
    `fuzz (${label}): ${seen.parsedOk} corrupted files parsed and decoded, ${seen.rejected} rejected with GgufFormatError`,
  );
  expect(seen.parsedOk + seen.rejected).toBe(numRuns);
  return seen;
}

function withFlips(flips: { pos: number; val: number }[], limit: number): Uint8Array {
  const m = base.slice();
  for (const f of flips) m[f.pos % limit] = f.val;
  return m;
}

describe("GGUF fuzzing", () => {
  it("the base file parses and decodes, including its k-quant tensors", () => {
    const g = parseGguf(base, "base.gguf");
    expect(g.tensors.map((t) => t.ggmlType)).toEqual(["F32", "F16", "Q8_0", "Q4_K", "Q5_K", "Q6_K"]);
    for (const t of g.tensors) expect(ggufTensor(g, base, t.name, "base.gguf").size).toBe(t.shape.reduce((a, b) => a * b, 1));
  });

  it("random byte flips anywhere (8000 files): some still parse, some are rejected", () => {
    const flip = fc.record({ pos: fc.nat(), val: fc.integer({ min: 0, max: 255 }) });
    const seen = fuzz("flips anywhere", 8000, (o) =>
      fc.property(fc.array(flip, { minLength: 1, maxLength: 8 }), (flips) => check(withFlips(flips, base.length), o)),
    );
    expect(seen.parsedOk).toBeGreaterThan(0);
    expect(seen.rejected).toBeGreaterThan(0);
  });

  it("random byte flips in the header (6000 files): some still parse, some are rejected", () => {
    const flip = fc.record({ pos: fc.nat(), val: fc.integer({ min: 0, max: 255 }) });
    const seen = fuzz("header flips", 6000, (o) =>
      fc.property(fc.array(flip, { minLength: 1, maxLength: 4 }), (flips) => check(withFlips(flips, headerEnd), o)),
    );
    expect(seen.parsedOk).toBeGreaterThan(0);
    expect(seen.rejected).toBeGreaterThan(0);
  });

  it("extreme u64 values written over header fields (2000 files)", () => {
    const values = [0n, 1n, 31n, 2n ** 31n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n];
    const seen = fuzz("extreme u64", 2000, (o) =>
      fc.property(fc.nat({ max: headerEnd - 8 }), fc.constantFrom(...values), fc.boolean(), (pos, v, also) => {
        const m = base.slice();
        const dv = new DataView(m.buffer);
        dv.setBigUint64(pos, v, true);
        if (also) dv.setBigUint64((pos * 7 + 13) % (headerEnd - 8), v, true);
        check(m, o);
      }),
    );
    expect(seen.rejected).toBeGreaterThan(0);
  });

  it("truncations, with and without a flip (1500 files)", () => {
    const seen = fuzz("truncations", 1500, (o) =>
      fc.property(fc.nat({ max: base.length }), fc.option(fc.record({ pos: fc.nat(), val: fc.nat({ max: 255 }) })), (n, flip) => {
        const m = (flip ? withFlips([flip], base.length) : base).subarray(0, n);
        check(m, o);
      }),
    );
    expect(seen.rejected).toBeGreaterThan(0);
  });
});
