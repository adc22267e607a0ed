/** Element types. `bool` is stored as 0/1 bytes; `f64` exists so gradient checks can run in double precision. */
export type DType = "f32" | "f64" | "i32" | "bool";

export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

interface DTypeInfo {
  readonly bytes: number;
  readonly float: boolean;
  alloc(n: number): TypedArray;
  wrap(buf: ArrayBuffer): TypedArray;
}

export const dtypes: { readonly [D in DType]: DTypeInfo } = {
  f32: { bytes: 4, float: true, alloc: (n) => new Float32Array(n), wrap: (b) => new Float32Array(b) },
  f64: { bytes: 8, float: true, alloc: (n) => new Float64Array(n), wrap: (b) => new Float64Array(b) },
  i32: { bytes: 4, float: false, alloc: (n) => new Int32Array(n), wrap: (b) => new Int32Array(b) },
  bool: { bytes: 1, float: false, alloc: (n) => new Uint8Array(n), wrap: (b) => new Uint8Array(b) },
};

export function isFloat(d: DType): boolean {
  return dtypes[d].float;
}
