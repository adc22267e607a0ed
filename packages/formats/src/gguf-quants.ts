// GGML tensor types: block geometry, dequantization to f32 and the Q8_0/F16 encoders. Every dequantizer
// follows the scalar reference in ggml/src/ggml-quants.c (dequantize_row_*) operation by operation, rounding
// to f32 after each arithmetic step the way C `float` arithmetic does, so results are bit-identical to
// ggml's reference path (not to its SIMD kernels, which may fuse multiply-adds).

import { bf16BitsToF32 as bf16ToF32, f16BitsToF32 as f16ToF32, f32ToF16Bits as f32ToF16, halfToF32Table } from "./float16.js";
/** GGML tensor element types by name, as in gguf-py's GGMLQuantizationType. */
export type GgmlTypeName =
  | "F32"
  | "F16"
  | "Q4_0"
  | "Q4_1"
  | "Q5_0"
  | "Q5_1"
  | "Q8_0"
  | "Q8_1"
  | "Q2_K"
  | "Q3_K"
  | "Q4_K"
  | "Q5_K"
  | "Q6_K"
  | "Q8_K"
  | "IQ2_XXS"
  | "IQ2_XS"
  | "IQ3_XXS"
  | "IQ1_S"
  | "IQ4_NL"
  | "IQ3_S"
  | "IQ2_S"
  | "IQ4_XS"
  | "I8"
  | "I16"
  | "I32"
  | "I64"
  | "F64"
  | "IQ1_M"
  | "BF16"
  | "TQ1_0"
  | "TQ2_0"
  | "MXFP4";

export interface GgmlTypeInfo {
  /** the number stored in the file */
  readonly id: number;
  /** elements per block; the innermost dimension must be a multiple of it */
  readonly blockSize: number;
  /** bytes per block */
  readonly typeSize: number;
}

const QK_K = 256;

// Sizes from ggml-common.h (the static_asserts there are the authority). Q8_1 is 36 bytes in ggml
// (two f16 + 32 int8); gguf-py's table still says 40 from the era of f32 scales, but ggml is what reads files.
// Ids 4, 5 and 31–33, 36–38 were removed types; newer ids (40+) are left out until they settle.
export const GGML_TYPES: { readonly [T in GgmlTypeName]: GgmlTypeInfo } = {
  F32: { id: 0, blockSize: 1, typeSize: 4 },
  F16: { id: 1, blockSize: 1, typeSize: 2 },
  Q4_0: { id: 2, blockSize: 32, typeSize: 2 + 16 },
  Q4_1: { id: 3, blockSize: 32, typeSize: 2 + 2 + 16 },
  Q5_0: { id: 6, blockSize: 32, typeSize: 2 + 4 + 16 },
  Q5_1: { id: 7, blockSize: 32, typeSize: 2 + 2 + 4 + 16 },
  Q8_0: { id: 8, blockSize: 32, typeSize: 2 + 32 },
  Q8_1: { id: 9, blockSize: 32, typeSize: 2 + 2 + 32 },
  Q2_K: { id: 10, blockSize: QK_K, typeSize: 2 + 2 + QK_K / 16 + QK_K / 4 },
  Q3_K: { id: 11, blockSize: QK_K, typeSize: 2 + QK_K / 4 + QK_K / 8 + 12 },
  Q4_K: { id: 12, blockSize: QK_K, typeSize: 2 + 2 + QK_K / 2 + 12 },
  Q5_K: { id: 13, blockSize: QK_K, typeSize: 2 + 2 + QK_K / 2 + QK_K / 8 + 12 },
  Q6_K: { id: 14, blockSize: QK_K, typeSize: 2 + QK_K / 2 + QK_K / 4 + QK_K / 16 },
  Q8_K: { id: 15, blockSize: QK_K, typeSize: 4 + QK_K + QK_K / 8 },
  IQ2_XXS: { id: 16, blockSize: QK_K, typeSize: 2 + QK_K / 4 },
  IQ2_XS: { id: 17, blockSize: QK_K, typeSize: 2 + QK_K / 4 + QK_K / 32 },
  IQ3_XXS: { id: 18, blockSize: QK_K, typeSize: 2 + QK_K / 4 + QK_K / 8 },
  IQ1_S: { id: 19, blockSize: QK_K, typeSize: 2 + QK_K / 8 + QK_K / 16 },
  IQ4_NL: { id: 20, blockSize: 32, typeSize: 2 + 16 },
  IQ3_S: { id: 21, blockSize: QK_K, typeSize: 2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4 },
  IQ2_S: { id: 22, blockSize: QK_K, typeSize: 2 + QK_K / 4 + QK_K / 16 },
  IQ4_XS: { id: 23, blockSize: QK_K, typeSize: 2 + 2 + QK_K / 2 + QK_K / 64 },
  I8: { id: 24, blockSize: 1, typeSize: 1 },
  I16: { id: 25, blockSize: 1, typeSize: 2 },
  I32: { id: 26, blockSize: 1, typeSize: 4 },
  I64: { id: 27, blockSize: 1, typeSize: 8 },
  F64: { id: 28, blockSize: 1, typeSize: 8 },
  IQ1_M: { id: 29, blockSize: QK_K, typeSize: QK_K / 8 + QK_K / 16 + QK_K / 32 },
  BF16: { id: 30, blockSize: 1, typeSize: 2 },
  TQ1_0: { id: 34, blockSize: QK_K, typeSize: 2 + 4 * 13 },
  TQ2_0: { id: 35, blockSize: QK_K, typeSize: 2 + 64 },
  MXFP4: { id: 39, blockSize: 32, typeSize: 1 + 16 },
};

const byId = new Map<number, GgmlTypeName>(Object.entries(GGML_TYPES).map(([name, t]) => [t.id, name as GgmlTypeName]));

/**
 * The type name for a file's type number, or undefined for an unknown number.
 * @example ggmlTypeById(12) // "Q4_K"
 */
export function ggmlTypeById(id: number): GgmlTypeName | undefined {
  return byId.get(id);
}

// ---------------------------------------------------------------------------------------------------------
// f16 / bf16

// One implementation of the half formats serves safetensors and GGUF (float16.ts); ggml's names here.
export { bf16ToF32, f16ToF32, f32ToF16 };

// A 65536-entry table, as ggml keeps one: decoding is then one load per element.
let f16Table: Float32Array | null = null;

// ---------------------------------------------------------------------------------------------------------
// dequantization

type Dequant = (src: Uint8Array, out: Float32Array, nBlocks: number) => void;

const fr = Math.fround;

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function half(src: Uint8Array, at: number): number {
  f16Table ??= halfToF32Table();
  return f16Table[(src[at] as number) | ((src[at + 1] as number) << 8)] as number;
}

function int8(src: Uint8Array, at: number): number {
  return ((src[at] as number) << 24) >> 24;
}

function view(src: Uint8Array): DataView {
  return new DataView(src.buffer, src.byteOffset, src.byteLength);
}

// get_scale_min_k4: eight 6-bit scales and eight 6-bit mins packed into 12 bytes
function scaleMinK4(src: Uint8Array, scales: number, j: number): [number, number] {
  const q = (k: number) => src[scales + k] as number;
  if (j < 4) return [q(j) & 63, q(j + 4) & 63];
  return [(q(j + 4) & 0xf) | ((q(j - 4) >> 6) << 4), (q(j + 4) >> 4) | ((q(j) >> 6) << 4)];
}

const dequantizers: { readonly [T in GgmlTypeName]?: Dequant } = {
  F32(src, out, n) {
    if (LITTLE_ENDIAN_HOST && src.byteOffset % 4 === 0) out.set(new Float32Array(src.buffer, src.byteOffset, n));
    else {
      const v = view(src);
      for (let i = 0; i < n; i++) out[i] = v.getFloat32(4 * i, true);
    }
  },
  F16(src, out, n) {
    for (let i = 0; i < n; i++) out[i] = half(src, 2 * i);
  },
  BF16(src, out, n) {
    for (let i = 0; i < n; i++) out[i] = bf16ToF32((src[2 * i] as number) | ((src[2 * i + 1] as number) << 8));
  },
  F64(src, out, n) {
    const v = view(src);
    for (let i = 0; i < n; i++) out[i] = v.getFloat64(8 * i, true);
  },
  I8(src, out, n) {
    for (let i = 0; i < n; i++) out[i] = int8(src, i);
  },
  I16(src, out, n) {
    const v = view(src);
    for (let i = 0; i < n; i++) out[i] = v.getInt16(2 * i, true);
  },
  I32(src, out, n) {
    const v = view(src);
    for (let i = 0; i < n; i++) out[i] = v.getInt32(4 * i, true);
  },
  I64(src, out, n) {
    const v = view(src);
    for (let i = 0; i < n; i++) out[i] = Number(v.getBigInt64(8 * i, true));
  },
  // block_q4_0 { f16 d; u8 qs[16] }: y[j] = (lo(qs[j]) - 8)·d, y[j+16] = (hi(qs[j]) - 8)·d
  Q4_0(src, out, nb) {
    for (let i = 0; i < nb; i++) {
      const b = i * 18;
      const d = half(src, b);
      for (let j = 0; j < 16; j++) {
        const q = src[b + 2 + j] as number;
        out[i * 32 + j] = ((q & 0x0f) - 8) * d;
        out[i * 32 + j + 16] = ((q >> 4) - 8) * d;
      }
    }
  },
  // block_q4_1 { f16 d; f16 m; u8 qs[16] }: y = q·d + m
  Q4_1(src, out, nb) {
    for (let i = 0; i < nb; i++) {
      const b = i * 20;
      const d = half(src, b);
      const m = half(src, b + 2);
      for (let j = 0; j < 16; j++) {
        const q = src[b + 4 + j] as number;
        out[i * 32 + j] = fr((q & 0x0f) * d) + m;
        out[i * 32 + j + 16] = fr((q >> 4) * d) + m;
      }
    }
  },
  // block_q5_0 { f16 d; u8 qh[4]; u8 qs[16] }: the fifth bit of element j is bit j of qh (u32 LE)
  Q5_0(src, out, nb) {
    for (let i = 0; i < nb; i++) {
      const b = i * 22;
      const d = half(src, b);
      const qh = view(src).getUint32(b + 2, true);
      for (let j = 0; j < 16; j++) {
        const q = src[b + 6 + j] as number;
        const xh0 = ((qh >>> j) << 4) & 0x10;
        const xh1 = (qh >>> (j + 12)) & 0x10;
        out[i * 32 + j] = (((q & 0x0f) | xh0) - 16) * d;
        out[i * 32 + j + 16] = (((q >> 4) | xh1) - 16) * d;
      }
    }
  },
  // block_q5_1 { f16 d; f16 m; u8 qh[4]; u8 qs[16] }
  Q5_1(src, out, nb) {
    for (let i = 0; i < nb; i++) {
      const b = i * 24;
      const d = half(src, b);
      const m = half(src, b + 2);
      const qh = view(src).getUint32(b + 4, true);
      for (let j = 0; j < 16; j++) {
        const q = src[b + 8 + j] as number;
        const xh0 = ((qh >>> j) << 4) & 0x10;
        const xh1 = (qh >>> (j + 12)) & 0x10;
        out[i * 32 + j] = fr(((q & 0x0f) | xh0) * d) + m;
        out[i * 32 + j + 16] = fr(((q >> 4) | xh1) * d) + m;
      }
    }
  },
  // block_q8_0 { f16 d; i8 qs[32] }
  Q8_0(src, out, nb) {
    for (let i = 0; i < nb; i++) {
      const b = i * 34;
      const d = half(src, b);
      for (let j = 0; j < 32; j++) out[i * 32 + j] = int8(src, b + 2 + j) * d;
    }
  },
  // block_q8_K { f32 d; i8 qs[256]; i16 bsums[16] }
  Q8_K(src, out, nb) {
    const v = view(src);
    for (let i = 0; i < nb; i++) {
      const b = i * 292;
      const d = v.getFloat32(b, true);
      for (let j = 0; j < QK_K; j++) out[i * QK_K + j] = d * int8(src, b + 4 + j);
    }
  },
  // block_q4_K { f16 d; f16 dmin; u8 scales[12]; u8 qs[128] }: per 64 elements, 32 low nibbles with
  // (scale, min) number 2k and 32 high nibbles with number 2k+1; y = (d·sc)·q − dmin·m
  Q4_K(src, out, nb) {
    for (let i = 0; i < nb; i++) {
      const b = i * 144;
      const d = half(src, b);
      const min = half(src, b + 2);
      let q = b + 16;
      let y = i * QK_K;
      for (let j = 0, is = 0; j < QK_K; j += 64, is += 2, q += 32) {
        const [sc1, m1q] = scaleMinK4(src, b + 4, is);
        const d1 = fr(d * sc1);
        const m1 = fr(min * m1q);
        const [sc2, m2q] = scaleMinK4(src, b + 4, is + 1);
        const d2 = fr(d * sc2);
        const m2 = fr(min * m2q);
        for (let l = 0; l < 32; l++) out[y++] = fr(d1 * ((src[q + l] as number) & 0xf)) - m1;
        for (let l = 0; l < 32; l++) out[y++] = fr(d2 * ((src[q + l] as number) >> 4)) - m2;
      }
    }
  },
  // block_q5_K { f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] }: like Q4_K plus a fifth bit from
  // qh, bit pair (2k, 2k+1) for the k-th group of 64
  Q5_K(src, out, nb) {
    for (let i = 0; i < nb; i++) {
      const b = i * 176;
      const d = half(src, b);
      const min = half(src, b + 2);
      const qh = b + 16;
      let ql = b + 48;
      let y = i * QK_K;
      let u1 = 1;
      let u2 = 2;
      for (let j = 0, is = 0; j < QK_K; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
        const [sc1, m1q] = scaleMinK4(src, b + 4, is);
        const d1 = fr(d * sc1);
        const m1 = fr(min * m1q);
        const [sc2, m2q] = scaleMinK4(src, b + 4, is + 1);
        const d2 = fr(d * sc2);
        const m2 = fr(min * m2q);
        for (let l = 0; l < 32; l++) {
          const q = ((src[ql + l] as number) & 0xf) + ((src[qh + l] as number) & u1 ? 16 : 0);
          out[y++] = fr(d1 * q) - m1;
        }
        for (let l = 0; l < 32; l++) {
          const q = ((src[ql + l] as number) >> 4) + ((src[qh + l] as number) & u2 ? 16 : 0);
          out[y++] = fr(d2 * q) - m2;
        }
      }
    }
  },
  // block_q6_K { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }: per 128 elements, four 32-runs built from
  // low/high nibbles of ql and 2-bit fields of qh, each 16 elements with their own int8 scale
  Q6_K(src, out, nb) {
    for (let i = 0; i < nb; i++) {
      const b = i * 210;
      const d = half(src, b + 208);
      let ql = b;
      let qh = b + 128;
      let sc = b + 192;
      let y = i * QK_K;
      for (let n = 0; n < QK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
        for (let l = 0; l < 32; l++) {
          const is = l >> 4;
          const h = src[qh + l] as number;
          const q1 = (((src[ql + l] as number) & 0xf) | (((h >> 0) & 3) << 4)) - 32;
          const q2 = (((src[ql + l + 32] as number) & 0xf) | (((h >> 2) & 3) << 4)) - 32;
          const q3 = (((src[ql + l] as number) >> 4) | (((h >> 4) & 3) << 4)) - 32;
          const q4 = (((src[ql + l + 32] as number) >> 4) | (((h >> 6) & 3) << 4)) - 32;
          out[y + l] = fr(d * int8(src, sc + is)) * q1;
          out[y + l + 32] = fr(d * int8(src, sc + is + 2)) * q2;
          out[y + l + 64] = fr(d * int8(src, sc + is + 4)) * q3;
          out[y + l + 96] = fr(d * int8(src, sc + is + 6)) * q4;
        }
      }
    }
  },
};

/** Types `dequantize` can convert. */
export const DEQUANTIZABLE: readonly GgmlTypeName[] = Object.keys(dequantizers) as GgmlTypeName[];

/**
 * Converts `nElements` elements of `type` stored in `src` (exactly their bytes, or more) to f32, following
 * ggml's reference dequantize_row_* formulas. Throws RangeError for an unsupported type, a count that is not
 * a multiple of the block size, or a `src` that is too short; the GGUF parser has ruled all three out for
 * tensors it returns.
 *
 * @example
 * dequantize("F16", new Uint8Array([0x00, 0x3c]), 1) // Float32Array [1]
 */
export function dequantize(type: GgmlTypeName, src: Uint8Array, nElements: number): Float32Array {
  const fn = dequantizers[type];
  if (fn === undefined) throw new RangeError(`dequantizing ${type} is not implemented (supported: ${DEQUANTIZABLE.join(", ")})`);
  const { blockSize, typeSize } = GGML_TYPES[type];
  if (!Number.isSafeInteger(nElements) || nElements < 0 || nElements % blockSize !== 0) {
    throw new RangeError(`${type}: ${nElements} elements is not a multiple of the block size ${blockSize}`);
  }
  const nBlocks = nElements / blockSize;
  if (src.length < nBlocks * typeSize) {
    throw new RangeError(`${type}: ${nElements} elements need ${nBlocks * typeSize} bytes, got ${src.length}`);
  }
  const out = new Float32Array(nElements);
  fn(src, out, blockSize === 1 ? nElements : nBlocks);
  return out;
}

/**
 * The byte size of `nElements` elements of `type` (a multiple of its block size).
 * @example ggmlByteSize("Q8_0", 64) // 68
 */
export function ggmlByteSize(type: GgmlTypeName, nElements: number): number {
  const { blockSize, typeSize } = GGML_TYPES[type];
  return (nElements / blockSize) * typeSize;
}

// ---------------------------------------------------------------------------------------------------------
// encoders

/** roundf: half-way cases away from zero (Math.round goes toward +inf). */
function roundf(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

/**
 * Quantizes `x` (length a multiple of 32) to Q8_0 blocks exactly as ggml's quantize_row_q8_0_ref:
 * d = amax/127 in f32, q = roundf(x·(1/d)), and d stored as f16. Non-finite values have no Q8_0 encoding.
 *
 * @example
 * quantizeQ8_0(new Float32Array(32).fill(1)) // 34 bytes: d = f16(1/127), 32 × q = 127
 */
export function quantizeQ8_0(x: ArrayLike<number>): Uint8Array {
  if (x.length % 32 !== 0) throw new RangeError(`Q8_0: ${x.length} values is not a multiple of 32`);
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 34);
  for (let i = 0; i < nb; i++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) {
      const v = fr(x[i * 32 + j] as number);
      if (!Number.isFinite(v)) throw new RangeError(`Q8_0: value ${v} at index ${i * 32 + j} cannot be quantized`);
      amax = Math.max(amax, Math.abs(v));
    }
    const d = fr(amax / 127);
    const id = d !== 0 ? fr(1 / d) : 0;
    const h = f32ToF16(d);
    out[i * 34] = h & 0xff;
    out[i * 34 + 1] = h >> 8;
    for (let j = 0; j < 32; j++) {
      // |x·id| ≤ 127 up to one f32 rounding, so the int8 cast cannot wrap
      out[i * 34 + 2 + j] = roundf(fr(fr(x[i * 32 + j] as number) * id)) & 0xff;
    }
  }
  return out;
}

/**
 * Encodes f32 values as little-endian binary16.
 * @example encodeF16([1]) // Uint8Array [0x00, 0x3c]
 */
export function encodeF16(x: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(x.length * 2);
  for (let i = 0; i < x.length; i++) {
    const h = f32ToF16(x[i] as number);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >> 8;
  }
  return out;
}
