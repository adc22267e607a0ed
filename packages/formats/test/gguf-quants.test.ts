// Dequantizers against expectations written per element from the block layouts in ggml-common.h, not by
// reusing the library's loops: each test builds a block from chosen fields (scales, quants) and computes every
// output from those fields directly.
import { describe, expect, it } from "vitest";
import { bf16ToF32, dequantize, f16ToF32, f32ToF16, GGML_TYPES, quantizeQ8_0 } from "../src/gguf-quants.js";

const fr = Math.fround;

/** binary16 → number straight from the IEEE definition. */
function refHalf(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 31;
  const f = h & 1023;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f === 0 ? s * Infinity : Number.NaN;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s >>> 24; // a byte
  };
}

/** A random f16 scale between about 2^-10 and 2, either sign. */
function randomScale(next: () => number): number {
  const exp = 5 + (next() % 11);
  return ((next() & 1) << 15) | (exp << 10) | (((next() << 8) | next()) & 0x3ff);
}

function putHalf(b: Uint8Array, at: number, h: number): void {
  b[at] = h & 0xff;
  b[at + 1] = h >> 8;
}

const i8 = (x: number) => (x << 24) >> 24;

function same(actual: Float32Array, expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  const bad = expected.findIndex((v, i) => !Object.is(actual[i], fr(v)));
  expect(bad, `first mismatch at ${bad}: ${actual[bad]} vs ${fr(expected[bad] ?? 0)}`).toBe(-1);
}

describe("f16 / bf16", () => {
  it("decodes known bit patterns exactly", () => {
    expect(f16ToF32(0x3c00)).toBe(1);
    expect(f16ToF32(0xc000)).toBe(-2);
    expect(f16ToF32(0x3555)).toBe(fr(0.333251953125));
    expect(f16ToF32(0x7bff)).toBe(65504);
    expect(f16ToF32(0x0001)).toBe(2 ** -24);
    expect(f16ToF32(0x0400)).toBe(2 ** -14);
    expect(f16ToF32(0x7c00)).toBe(Infinity);
    expect(f16ToF32(0xfc00)).toBe(-Infinity);
    expect(Object.is(f16ToF32(0x8000), -0)).toBe(true);
    expect(f16ToF32(0x7e00)).toBeNaN();
    expect(bf16ToF32(0x3f80)).toBe(1);
    expect(bf16ToF32(0xc0a0)).toBe(-5);
  });

  it("agrees with the IEEE definition for all 65536 patterns and round-trips through f32ToF16", () => {
    for (let h = 0; h < 65536; h++) {
      const v = f16ToF32(h);
      const ref = refHalf(h);
      if (Number.isNaN(ref)) {
        expect(v).toBeNaN();
        continue;
      }
      if (!Object.is(v, ref)) expect.fail(`0x${h.toString(16)}: ${v} vs ${ref}`);
      if (f32ToF16(v) !== h) expect.fail(`0x${h.toString(16)} → ${v} → 0x${f32ToF16(v).toString(16)}`);
    }
  });

  it("f32ToF16 rounds to nearest even and saturates to inf", () => {
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // tie, even stays
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, odd rounds up
    expect(f32ToF16(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    expect(f32ToF16(65520)).toBe(0x7c00); // half-way to the next binade rounds to inf
    expect(f32ToF16(65519)).toBe(0x7bff);
    expect(f32ToF16(2 ** -25)).toBe(0); // tie with zero, even
    expect(f32ToF16(3 * 2 ** -25)).toBe(0x0002);
    expect(f32ToF16(-1e-10)).toBe(0x8000);
    expect(f32ToF16(Number.NaN) & 0x7e00).toBe(0x7e00);
  });
});

describe("dequantize: hand-checked values", () => {
  it("F16, BF16, F32, I8/I16/I32", () => {
    same(dequantize("F16", new Uint8Array([0x00, 0x3c, 0x00, 0xc0]), 2), [1, -2]);
    same(dequantize("BF16", new Uint8Array([0x80, 0x3f, 0xa0, 0xc0]), 2), [1, -5]);
    same(dequantize("F32", new Uint8Array(new Float32Array([1.5, -2.25]).buffer), 2), [1.5, -2.25]);
    // an unaligned view takes the DataView path
    const unaligned = new Uint8Array(9);
    unaligned.set(new Uint8Array(new Float32Array([3.5, -7]).buffer), 1);
    same(dequantize("F32", unaligned.subarray(1), 2), [3.5, -7]);
    same(dequantize("I8", new Uint8Array([0xff, 0x7f]), 2), [-1, 127]);
    same(dequantize("I16", new Uint8Array([0xfe, 0xff, 0x00, 0x01]), 2), [-2, 256]);
    same(dequantize("I32", new Uint8Array([0xfd, 0xff, 0xff, 0xff]), 1), [-3]);
  });

  it("Q4_0: d = 1, qs[0] = 0x9F gives y[0] = 15 − 8, y[16] = 9 − 8", () => {
    const b = new Uint8Array(18);
    putHalf(b, 0, 0x3c00);
    b[2] = 0x9f;
    const y = dequantize("Q4_0", b, 32);
    expect([y[0], y[16], y[1], y[17]]).toEqual([7, 1, -8, -8]);
  });

  it("Q8_0: d = 0.5, qs = [−3, 127]", () => {
    const b = new Uint8Array(34);
    putHalf(b, 0, 0x3800);
    b[2] = 0xfd;
    b[3] = 127;
    const y = dequantize("Q8_0", b, 32);
    expect([y[0], y[1], y[2]]).toEqual([-1.5, 63.5, 0]);
  });

  it("Q4_K: d = 1, dmin = 1, scale 2, min 3, q = 5 gives 2·5 − 3", () => {
    const b = new Uint8Array(144);
    putHalf(b, 0, 0x3c00);
    putHalf(b, 2, 0x3c00);
    b[4] = 2; // scale of sub-block 0
    b[8] = 3; // min of sub-block 0
    b[16] = 0x05;
    const y = dequantize("Q4_K", b, 256);
    expect(y[0]).toBe(7);
    expect(y[32]).toBe(0); // sub-block 1: scale 0, min 0
  });

  it("Q6_K: d = 1, scale 3, ql = 0xA, qh bits 01 gives 3·((10 | 16) − 32)", () => {
    const b = new Uint8Array(210);
    b[0] = 0x0a;
    b[128] = 0b01;
    b[192] = 3;
    putHalf(b, 208, 0x3c00);
    const y = dequantize("Q6_K", b, 256);
    expect(y[0]).toBe(-18);
  });
});

// Each `expected` below is written from the block layout, one output element at a time.
describe("dequantize: random blocks against per-element formulas", () => {
  const blocks = 3;

  it("Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0", () => {
    const next = rng(1);
    for (const type of ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"] as const) {
      const size = GGML_TYPES[type].typeSize;
      const src = new Uint8Array(size * blocks);
      for (let i = 0; i < src.length; i++) src[i] = next();
      for (let k = 0; k < blocks; k++) {
        putHalf(src, k * size, randomScale(next));
        if (type === "Q4_1" || type === "Q5_1") putHalf(src, k * size + 2, randomScale(next));
      }
      const expected: number[] = [];
      for (let e = 0; e < 32 * blocks; e++) {
        const blk = src.subarray(Math.floor(e / 32) * size);
        const j = e % 32;
        const d = refHalf((blk[0] as number) | ((blk[1] as number) << 8));
        const m = refHalf((blk[2] as number) | ((blk[3] as number) << 8));
        if (type === "Q8_0") {
          expected.push(i8(blk[2 + j] as number) * d);
          continue;
        }
        const qsAt = { Q4_0: 2, Q4_1: 4, Q5_0: 6, Q5_1: 8 }[type];
        const byte = blk[qsAt + (j % 16)] as number;
        let q = j < 16 ? byte & 15 : byte >> 4;
        if (type === "Q5_0" || type === "Q5_1") {
          const qhAt = type === "Q5_0" ? 2 : 4;
          const bit = ((blk[qhAt + (j >> 3)] as number) >> (j & 7)) & 1; // bit j of the 32-bit qh
          q += 16 * bit;
        }
        if (type === "Q4_0") expected.push((q - 8) * d);
        else if (type === "Q5_0") expected.push((q - 16) * d);
        else expected.push(fr(q * d) + m);
      }
      same(dequantize(type, src, 32 * blocks), expected);
    }
  });

  /** Packs eight 6-bit scales and mins the way ggml's 12-byte k-quant scale field holds them. */
  function packScales(sc: number[], mn: number[]): number[] {
    const out = new Array<number>(12).fill(0);
    for (let s = 0; s < 4; s++) {
      const hiSc = sc[s + 4] as number;
      const hiMn = mn[s + 4] as number;
      out[s] = (sc[s] as number) | ((hiSc >> 4) << 6);
      out[s + 4] = (mn[s] as number) | ((hiMn >> 4) << 6);
      out[s + 8] = (hiSc & 15) | ((hiMn & 15) << 4);
    }
    return out;
  }

  for (const type of ["Q4_K", "Q5_K"] as const) {
    it(type, () => {
      const next = rng(type === "Q4_K" ? 2 : 3);
      const size = GGML_TYPES[type].typeSize;
      const src = new Uint8Array(size * blocks);
      const fields: { d: number; dmin: number; sc: number[]; mn: number[] }[] = [];
      for (let k = 0; k < blocks; k++) {
        const b = src.subarray(k * size, (k + 1) * size);
        for (let i = 0; i < size; i++) b[i] = next();
        const f = {
          d: randomScale(next),
          dmin: randomScale(next),
          sc: Array.from({ length: 8 }, () => next() & 63),
          mn: Array.from({ length: 8 }, () => next() & 63),
        };
        putHalf(b, 0, f.d);
        putHalf(b, 2, f.dmin);
        b.set(packScales(f.sc, f.mn), 4);
        fields.push(f);
      }
      const expected: number[] = [];
      for (let e = 0; e < 256 * blocks; e++) {
        const k = Math.floor(e / 256);
        const f = fields[k] as (typeof fields)[number];
        const b = src.subarray(k * size);
        const w = e % 256;
        const group = w >> 6; // 64 elements share 32 quant bytes
        const high = (w & 63) >= 32; // the second 32 take the high nibbles
        const l = w & 31;
        const sub = 2 * group + (high ? 1 : 0);
        const qs = type === "Q4_K" ? 16 : 48;
        const byte = b[qs + 32 * group + l] as number;
        let q = high ? byte >> 4 : byte & 15;
        if (type === "Q5_K") q += 16 * (((b[16 + l] as number) >> sub) & 1);
        const scale = fr(refHalf(f.d) * (f.sc[sub] as number));
        const min = fr(refHalf(f.dmin) * (f.mn[sub] as number));
        expected.push(fr(scale * q) - min);
      }
      same(dequantize(type, src, 256 * blocks), expected);
    });
  }

  it("Q6_K", () => {
    const next = rng(4);
    const src = new Uint8Array(210 * blocks);
    for (let i = 0; i < src.length; i++) src[i] = next();
    for (let k = 0; k < blocks; k++) putHalf(src, k * 210 + 208, randomScale(next));
    const expected: number[] = [];
    for (let e = 0; e < 256 * blocks; e++) {
      const b = src.subarray(Math.floor(e / 256) * 210);
      const w = e % 256;
      const h = w >> 7; // which 128-element half
      const c = (w & 127) >> 5; // which run of 32 within it
      const l = w & 31;
      const lowByte = b[64 * h + (c & 1 ? 32 : 0) + l] as number;
      const low = c < 2 ? lowByte & 15 : lowByte >> 4;
      const high = ((b[128 + 32 * h + l] as number) >> (2 * c)) & 3;
      const q = (low | (high << 4)) - 32;
      const scale = i8(b[192 + 8 * h + 2 * c + (l >> 4)] as number);
      const d = refHalf((b[208] as number) | ((b[209] as number) << 8));
      expected.push(fr(d * scale) * q);
    }
    same(dequantize("Q6_K", src, 256 * blocks), expected);
  });

  it("rejects element counts that are not whole blocks, short input and unsupported types", () => {
    expect(() => dequantize("Q4_0", new Uint8Array(18), 16)).toThrow(RangeError);
    expect(() => dequantize("Q4_0", new Uint8Array(17), 32)).toThrow(RangeError);
    expect(() => dequantize("IQ2_XXS", new Uint8Array(66), 256)).toThrow(/not implemented/);
  });
});

describe("quantizeQ8_0", () => {
  it("follows quantize_row_q8_0_ref: d = amax/127, q = roundf(x/d), ties away from zero", () => {
    const x = new Float32Array(32);
    x[0] = 127;
    x[1] = -0.5; // tie: roundf gives −1, Math.round would give −0
    x[2] = 2.5;
    x[3] = -127;
    const b = quantizeQ8_0(x);
    expect(b.length).toBe(34);
    expect((b[0] as number) | ((b[1] as number) << 8)).toBe(0x3c00); // d = 1
    expect([i8(b[2] as number), i8(b[3] as number), i8(b[4] as number), i8(b[5] as number)]).toEqual([127, -1, 3, -127]);
  });

  it("an all-zero block has d = 0 and q = 0", () => {
    expect(Array.from(quantizeQ8_0(new Float32Array(32)))).toEqual(new Array(34).fill(0));
  });

  it("rejects lengths that are not whole blocks and non-finite values", () => {
    expect(() => quantizeQ8_0(new Float32Array(31))).toThrow(RangeError);
    const x = new Float32Array(32);
    x[5] = Infinity;
    expect(() => quantizeQ8_0(x)).toThrow(/index 5/);
  });
});
