/** Element types. `bool` is stored as 0/1 bytes; `f64` exists so gradient checks can run in double precision. */
export type DType = "f32" | "f64" | "i32" | "bool";

export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

interface DTypeInfo {
  readonly bytes: number;
  readonly float: boolean;
  /** zero-filled */
  alloc(n: number): TypedArray;
  /** contents unspecified: for outputs a kernel overwrites entirely */
  empty(n: number): TypedArray;
  wrap(buf: ArrayBuffer): TypedArray;
}

type RawAlloc = (bytes: number) => ArrayBuffer;
const defaultAlloc: RawAlloc = (bytes) => new ArrayBuffer(bytes);
let rawAlloc: RawAlloc = defaultAlloc;
let rawMinBytes = 64 * 1024;

/**
 * Installs an allocator of uninitialized buffers for outputs of at least `minBytes`. Zero-filling a fresh
 * multi-megabyte output costs more than many of the kernels that then overwrite it; node.ts installs
 * Buffer.allocUnsafeSlow. The allocator must return a buffer of exactly `bytes` bytes that nothing else
 * references. Returns the previous allocator and threshold; tests install one that fills with NaN.
 */
export function setRawAllocator(fn: RawAlloc | null, minBytes = 64 * 1024): { fn: RawAlloc; minBytes: number } {
  const prev = { fn: rawAlloc, minBytes: rawMinBytes };
  rawAlloc = fn ?? defaultAlloc;
  rawMinBytes = minBytes;
  return prev;
}

const raw = (bytes: number): ArrayBuffer => (bytes >= rawMinBytes ? rawAlloc(bytes) : new ArrayBuffer(bytes));

export const dtypes: { readonly [D in DType]: DTypeInfo } = {
  f32: {
    bytes: 4,
    float: true,
    alloc: (n) => new Float32Array(n),
    empty: (n) => new Float32Array(raw(n * 4)),
    wrap: (b) => new Float32Array(b),
  },
  f64: {
    bytes: 8,
    float: true,
    alloc: (n) => new Float64Array(n),
    empty: (n) => new Float64Array(raw(n * 8)),
    wrap: (b) => new Float64Array(b),
  },
  i32: {
    bytes: 4,
    float: false,
    alloc: (n) => new Int32Array(n),
    empty: (n) => new Int32Array(raw(n * 4)),
    wrap: (b) => new Int32Array(b),
  },
  bool: {
    bytes: 1,
    float: false,
    alloc: (n) => new Uint8Array(n),
    empty: (n) => new Uint8Array(raw(n)),
    wrap: (b) => new Uint8Array(b),
  },
};

export function isFloat(d: DType): boolean {
  return dtypes[d].float;
}
