import { type DType, dtypes, type TypedArray } from "./dtype.js";
import { checkShape, fmt, type Shape, ShapeError, sizeOf } from "./shape.js";

/**
 * Owns one ArrayBuffer exactly (offset 0, full length). The `ort` backend moves buffers to its worker thread
 * and back without copying; that detaches the old typed array, so tensors reach their data through this
 * indirection and reshaped views share the Storage object, never the typed array.
 */
export class Storage {
  constructor(public data: TypedArray) {}
}

let nextId = 1;

/** An immutable, contiguous, row-major n-d array. Ops return new tensors; `reshape` shares storage. */
export class Tensor {
  readonly id = nextId++;
  /** Set while an autodiff tape is recording and this tensor depends on a watched input. */
  tape: object | null = null;
  private storage: Storage | null;

  constructor(
    readonly shape: Shape,
    readonly dtype: DType,
    storage: Storage,
  ) {
    this.storage = storage;
  }

  /** The element buffer. Do not keep it across later ops: a native kernel may move the buffer meanwhile. */
  get data(): TypedArray {
    if (this.storage === null) throw new Error(`tensor ${this.id} ${fmt(this.shape)} was disposed`);
    return this.storage.data;
  }

  get store(): Storage {
    if (this.storage === null) throw new Error(`tensor ${this.id} ${fmt(this.shape)} was disposed`);
    return this.storage;
  }

  get size(): number {
    return sizeOf(this.shape);
  }

  get rank(): number {
    return this.shape.length;
  }

  get disposed(): boolean {
    return this.storage === null;
  }

  /** Drops this tensor's reference to its buffer; later reads throw. Other views of the storage stay valid. */
  dispose(): void {
    this.storage = null;
  }

  /** A plain copy of the elements (numbers), safe to keep. */
  toArray(): number[] {
    return Array.from(this.data as ArrayLike<number>);
  }

  /** The single element of a size-1 tensor. */
  item(): number {
    if (this.size !== 1) throw new ShapeError(`item: tensor of shape ${fmt(this.shape)} has ${this.size} elements, expected 1`);
    return this.data[0] as number;
  }

  toString(): string {
    return `Tensor(${this.dtype}, ${fmt(this.shape)})`;
  }
}

/** Wraps a freshly made typed array (it must own its whole ArrayBuffer) as a tensor. */
export function fromTyped(data: TypedArray, shape: Shape, dtype: DType): Tensor {
  checkShape("tensor", shape);
  if (data.length !== sizeOf(shape)) {
    throw new ShapeError(`tensor: ${data.length} elements do not fill shape ${fmt(shape)} (${sizeOf(shape)})`);
  }
  if (data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength || !(data.buffer instanceof ArrayBuffer)) {
    data = data.slice() as TypedArray;
  }
  return new Tensor([...shape], dtype, new Storage(data));
}

/** Zero-filled tensor. */
export function zeros(shape: Shape, dtype: DType = "f32"): Tensor {
  checkShape("zeros", shape);
  return new Tensor([...shape], dtype, new Storage(dtypes[dtype].alloc(sizeOf(shape))));
}

/** Internal: a tensor whose contents are unspecified, for kernels that overwrite every element. */
export function empty(shape: Shape, dtype: DType = "f32"): Tensor {
  checkShape("empty", shape);
  return new Tensor([...shape], dtype, new Storage(dtypes[dtype].empty(sizeOf(shape))));
}

export function full(shape: Shape, value: number, dtype: DType = "f32"): Tensor {
  const t = zeros(shape, dtype);
  t.data.fill(value);
  return t;
}

export function ones(shape: Shape, dtype: DType = "f32"): Tensor {
  return full(shape, 1, dtype);
}

export function scalar(value: number, dtype: DType = "f32"): Tensor {
  return full([], value, dtype);
}

/**
 * Makes a tensor from numbers (copied).
 * @example tensor([1, 2, 3, 4], [2, 2]) // f32 2×2
 */
export function tensor(values: ArrayLike<number>, shape?: Shape, dtype: DType = "f32"): Tensor {
  const s = shape ?? [values.length];
  checkShape("tensor", s);
  if (values.length !== sizeOf(s)) {
    throw new ShapeError(`tensor: ${values.length} values do not fill shape ${fmt(s)} (${sizeOf(s)})`);
  }
  const data = dtypes[dtype].alloc(values.length);
  for (let i = 0; i < values.length; i++) data[i] = values[i] as number;
  return new Tensor([...s], dtype, new Storage(data));
}

export function arange(n: number, dtype: DType = "i32"): Tensor {
  const t = zeros([n], dtype);
  const d = t.data;
  for (let i = 0; i < n; i++) d[i] = i;
  return t;
}

/** Deterministic pseudo-random numbers (mulberry32 + Box-Muller) for tests and benchmarks. */
export function rng(seed: number): { uniform(): number; normal(): number } {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = (): number => {
    const u = Math.max(uniform(), 1e-300);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
  return { uniform, normal };
}

export function randn(shape: Shape, seed: number, dtype: DType = "f32", std = 1): Tensor {
  const t = zeros(shape, dtype);
  const r = rng(seed);
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = r.normal() * std;
  return t;
}

export function randu(shape: Shape, seed: number, lo = 0, hi = 1, dtype: DType = "f32"): Tensor {
  const t = zeros(shape, dtype);
  const r = rng(seed);
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = lo + (hi - lo) * r.uniform();
  return t;
}
