// Half and bfloat16 conversions against hand-computed bit patterns, exhaustively over all halves, and
// against an independent round-to-nearest-even oracle written in plain double arithmetic.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from "../src/float16.js";

const isNaNBits16 = (h: number, expMask: number) => (h & expMask) === expMask && (h & ~expMask & 0x7fff) !== 0;

describe("f16 bit patterns", () => {
  it("decodes hand-computed values", () => {
    const cases: [number, number][] = [
      [0x3c00, 1],
      [0xc000, -2],
      [0x7bff, 65504],
      [0x0001, 2 ** -24],
      [0x03ff, 1023 * 2 ** -24],
      [0x0400, 2 ** -14],
      [0x3555, 0.333251953125],
      [0x3bff, 1 - 2 ** -11],
      [0x3c01, 1 + 2 ** -10],
      [0x7c00, Number.POSITIVE_INFINITY],
      [0xfc00, Number.NEGATIVE_INFINITY],
      [0x0000, 0],
    ];
    for (const [h, v] of cases) expect(f16BitsToF32(h), h.toString(16)).toBe(v);
    expect(Object.is(f16BitsToF32(0x8000), -0)).toBe(true);
    for (const h of [0x7e00, 0x7c01, 0xfe00, 0x7fff]) expect(f16BitsToF32(h)).toBeNaN();
  });

  it("encodes hand-computed values", () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [2 ** -24, 0x0001],
      [2 ** -14, 0x0400],
      [Number.POSITIVE_INFINITY, 0x7c00],
      [Number.NEGATIVE_INFINITY, 0xfc00],
      [0, 0x0000],
      [-0, 0x8000],
      [1e-10, 0x0000],
      [-1e-10, 0x8000],
      [1e6, 0x7c00],
      [65519, 0x7bff], // below the midpoint to the next (virtual) value 65536
    ];
    for (const [x, h] of cases) expect(f32ToF16Bits(x).toString(16), String(x)).toBe(h.toString(16));
    const nan = f32ToF16Bits(Number.NaN);
    expect(isNaNBits16(nan, 0x7c00)).toBe(true);
  });

  it("rounds ties to even", () => {
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // halfway 1 .. 1+2^-10: keep the even 1
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway 0x3c01 .. 0x3c02: up to even
    expect(f32ToF16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // just above the tie
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // halfway 65504 .. 65536: the even side overflows
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // halfway 0 .. smallest subnormal
    expect(f32ToF16Bits(1.5 * 2 ** -25)).toBe(0x0001);
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(0x0002); // 1.5 ulps: up to even 2
    expect(f32ToF16Bits(5 * 2 ** -25)).toBe(0x0002); // 2.5 ulps: down to even 2
    expect(f32ToF16Bits(2 ** -14 - 2 ** -25)).toBe(0x0400); // subnormal tie carries into the first normal
    expect(f32ToF16Bits(-(1 + 3 * 2 ** -11))).toBe(0xbc02);
  });

  it("every half survives f16 -> f32 -> f16", () => {
    for (let h = 0; h < 65536; h++) {
      const back = f32ToF16Bits(f16BitsToF32(h));
      if (isNaNBits16(h, 0x7c00)) expect(isNaNBits16(back, 0x7c00)).toBe(true);
      else if (back !== h) expect(back.toString(16)).toBe(h.toString(16));
    }
  });
});

describe("bf16 bit patterns", () => {
  it("decodes and encodes hand-computed values", () => {
    const cases: [number, number][] = [
      [0x3f80, 1],
      [0xc000, -2],
      [0x4049, 3.140625],
      [0x0001, 2 ** -133],
      [0x0080, 2 ** -126],
      [0x7f7f, (2 - 2 ** -7) * 2 ** 127],
      [0x7f80, Number.POSITIVE_INFINITY],
      [0xff80, Number.NEGATIVE_INFINITY],
    ];
    for (const [h, v] of cases) {
      expect(bf16BitsToF32(h), h.toString(16)).toBe(v);
      expect(f32ToBf16Bits(v).toString(16)).toBe(h.toString(16));
    }
    expect(bf16BitsToF32(0x7fc0)).toBeNaN();
    expect(isNaNBits16(f32ToBf16Bits(Number.NaN), 0x7f80)).toBe(true);
  });

  it("rounds ties to even, and keeps a signalling NaN a NaN", () => {
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(f32ToBf16Bits(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81);
    expect(f32ToBf16Bits(3.4028234663852886e38)).toBe(0x7f80); // f32 max is past the last bf16 midpoint
    const snan = new Float32Array(new Uint32Array([0x7f800001]).buffer)[0] as number;
    expect(isNaNBits16(f32ToBf16Bits(snan), 0x7f80)).toBe(true);
  });

  it("every bf16 survives bf16 -> f32 -> bf16", () => {
    for (let h = 0; h < 65536; h++) {
      const back = f32ToBf16Bits(bf16BitsToF32(h));
      if (isNaNBits16(h, 0x7f80)) expect(isNaNBits16(back, 0x7f80)).toBe(true);
      else if (back !== h) expect(back.toString(16)).toBe(h.toString(16));
    }
  });
});

/**
 * The value nearest to x (ties to even) in a binary format with `p` explicit mantissa bits and exponent range
 * [emin, emax], computed on the real line: an oracle independent of the bit-level encoder.
 */
function roundOracle(x: number, p: number, emin: number, emax: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  const ulp = 2 ** (Math.max(e, emin) - p);
  const q = a / ulp;
  const f = Math.floor(q);
  const d = q - f;
  const r = d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f;
  const v = r * ulp;
  const out = v >= 2 ** (emax + 1) ? Number.POSITIVE_INFINITY : v;
  return x < 0 ? -out : out;
}

describe("rounding matches a real-line oracle (fast-check)", () => {
  const f32 = fc.float({ noNaN: true });
  it("f16: 3000 random f32 values", () => {
    fc.assert(
      fc.property(f32, (x) => {
        expect(f16BitsToF32(f32ToF16Bits(x))).toBe(roundOracle(x, 10, -14, 15));
      }),
      { numRuns: 3000 },
    );
  });
  it("f16: 2000 values near the f16 range, where rounding does the most", () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true, min: -70000, max: 70000 }), (x) => {
        expect(f16BitsToF32(f32ToF16Bits(x))).toBe(roundOracle(x, 10, -14, 15));
      }),
      { numRuns: 2000 },
    );
  });
  // Random floats almost never land on a tie; midpoints of adjacent values (exact in f32) and their f32
  // neighbours do, so these exercise the tie-breaking and carry paths.
  const around = (mid: number, step: number) => [mid, Math.fround(mid * (1 + step)), Math.fround(mid * (1 - step))];
  it("f16: 1000 midpoints between adjacent halves and their f32 neighbours", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x7bfe }), fc.boolean(), (h, neg) => {
        const mid = (f16BitsToF32(h) + f16BitsToF32(h + 1)) / 2;
        for (const x of around(neg ? -mid : mid, 2 ** -23))
          expect(f16BitsToF32(f32ToF16Bits(x))).toBe(roundOracle(x, 10, -14, 15));
      }),
      { numRuns: 1000 },
    );
  });
  it("bf16: 1000 midpoints between adjacent bfloat16s and their f32 neighbours", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x7f7e }), fc.boolean(), (h, neg) => {
        const mid = (bf16BitsToF32(h) + bf16BitsToF32(h + 1)) / 2;
        for (const x of around(neg ? -mid : mid, 2 ** -23))
          expect(bf16BitsToF32(f32ToBf16Bits(x))).toBe(roundOracle(x, 7, -126, 127));
      }),
      { numRuns: 1000 },
    );
  });
  it("bf16: 3000 random f32 values", () => {
    fc.assert(
      fc.property(f32, (x) => {
        expect(bf16BitsToF32(f32ToBf16Bits(x))).toBe(roundOracle(x, 7, -126, 127));
      }),
      { numRuns: 3000 },
    );
  });
});
