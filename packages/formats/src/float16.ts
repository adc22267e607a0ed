// IEEE binary16 and bfloat16 <-> binary32 conversions on bit patterns. Checkpoints store most weights in these
// formats and the engine computes in f32, so every value passes through here: decoding is exact (both formats
// are subsets of f32) and encoding rounds to nearest, ties to even, like PyTorch and numpy.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The bits of `x` rounded to f32. */
export function f32Bits(x: number): number {
  f32[0] = x;
  return u32[0] as number;
}

/** The f32 value with bits `b`. */
export function f32FromBits(b: number): number {
  u32[0] = b;
  return f32[0] as number;
}

/** f32 bit pattern of the half with bits `h`; NaN payloads and signs carry over. */
function halfToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let man = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (man << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (man << 13)) >>> 0;
  if (man === 0) return sign >>> 0;
  // Subnormal half: shift the leading 1 up to the implicit-bit position; each shift lowers the exponent.
  let e = 113;
  while ((man & 0x400) === 0) {
    man <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((man & 0x3ff) << 13)) >>> 0;
}

let halfTable: Float32Array | null = null;

/** All 65536 halves as f32, built once: a table lookup beats bit twiddling per element by a wide margin. */
export function halfToF32Table(): Float32Array {
  if (halfTable === null) {
    const bits = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) bits[h] = halfToF32Bits(h);
    halfTable = new Float32Array(bits.buffer);
  }
  return halfTable;
}

/**
 * The value of the IEEE half-precision number with bit pattern `h` (0..0xFFFF).
 *
 * @example
 * f16BitsToF32(0x3c00) // 1
 * f16BitsToF32(0x0001) // 2 ** -24, the smallest subnormal
 */
export function f16BitsToF32(h: number): number {
  return halfToF32Table()[h & 0xffff] as number;
}

/**
 * The half-precision bit pattern nearest to `x` (ties to even); `x` is first rounded to f32, as the writer
 * only sees f32 data. Values beyond 65504 by half an ulp or more become ±Infinity; NaN stays a (quiet) NaN.
 *
 * @example
 * f32ToF16Bits(1) // 0x3c00
 * f32ToF16Bits(65520) // 0x7c00 (Infinity: the tie rounds to the even side, which overflows)
 */
export function f32ToF16Bits(x: number): number {
  return f32BitsToF16Bits(f32Bits(x));
}

/** {@link f32ToF16Bits} on an f32 bit pattern. */
export function f32BitsToF16Bits(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const man = b & 0x7fffff;
  if (exp === 0xff) return man === 0 ? sign | 0x7c00 : sign | 0x7e00 | (man >>> 13);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Below 2^-25 (half the smallest subnormal) everything rounds to zero, the exact half included (to even).
    if (e < -10) return sign;
    // f32 = M·2^(exp-150) with the implicit bit in M; a half subnormal is q·2^-24, so q = M / 2^(14-e).
    const m = man | 0x800000;
    const shift = 14 - e;
    let q = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (q & 1) === 1)) q++;
    return sign | q;
  }
  let h = (e << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  // A carry out of the mantissa moves into the exponent, which is the correct next value (up to Infinity).
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++;
  return sign | h;
}

/**
 * The value of the bfloat16 with bit pattern `h`: the top half of an f32.
 *
 * @example
 * bf16BitsToF32(0x3f80) // 1
 */
export function bf16BitsToF32(h: number): number {
  return f32FromBits((h & 0xffff) << 16);
}

/**
 * The bfloat16 bit pattern nearest to `x` (ties to even), `x` first rounded to f32. NaN stays a quiet NaN
 * (truncating a signalling NaN's low payload bits could otherwise turn it into Infinity).
 *
 * @example
 * f32ToBf16Bits(1) // 0x3f80
 */
export function f32ToBf16Bits(x: number): number {
  return f32BitsToBf16Bits(f32Bits(x));
}

/** {@link f32ToBf16Bits} on an f32 bit pattern. */
export function f32BitsToBf16Bits(b: number): number {
  if ((b & 0x7fffffff) > 0x7f800000) return (b >>> 16) | 0x40;
  return ((b >>> 0) + 0x7fff + ((b >>> 16) & 1)) >>> 16;
}
