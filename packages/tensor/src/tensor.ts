import { type DType, dtypes, type TypedArray } from "./dtype.js";
import { checkShape, fmt, type Shape, ShapeError, sizeOf } from "./shape.js";

/**
 * Where a storage's bytes live while this thread holds none of them: a backend that keeps them between ops
 * (the ort worker keeps pinned weights). Every method is synchronous.
 */
export interface StorageHome {
  /** Brings the bytes of `s` back to this thread and returns them; `s` is local afterwards. */
  fetch(s: Storage): TypedArray;
  /** Frees the bytes of `s` where they live: no tensor views `s` any more. */
  free(s: Storage): void;
  /** The entries `idx` of `axis` of `s` (seen as `shape`), copied out where the bytes live. */
  gather(s: Storage, shape: Shape, axis: number, idx: Int32Array): TypedArray;
}

/** A storage's bytes held by `home` under `id` (the home's own key). */
export interface Remote {
  readonly home: StorageHome;
  readonly id: number;
  readonly dtype: DType;
}

/**
 * Owns one ArrayBuffer exactly (offset 0, full length). The `ort` backend moves buffers to its worker thread
 * and back without copying; that detaches the old typed array, so tensors reach their data through this
 * indirection and reshaped views share the Storage object, never the typed array. A pinned storage may stay
 * in the worker between ops (`remote`); reading `data` then brings it back first, so no caller needs to know.
 */
export class Storage {
  private bytes: TypedArray | null;
  /** Set while the bytes live in a backend; this thread then holds none. */
  remote: Remote | null = null;
  /** Set by `pin`: a backend may keep the bytes on its side after using them. */
  pinned = false;
  /** Tensors viewing this storage and not disposed; the last `dispose` frees a remote buffer. */
  views = 0;

  constructor(data: TypedArray) {
    this.bytes = data;
  }

  get data(): TypedArray {
    const d = this.bytes;
    if (d !== null) return d;
    if (this.remote === null) throw new Error("storage was freed");
    return this.remote.home.fetch(this);
  }

  set data(d: TypedArray) {
    this.bytes = d;
    this.remote = null;
  }

  /** Backends only: the bytes now live in `remote.home` (or were freed there, with null). */
  moveTo(remote: Remote | null): void {
    this.bytes = null;
    this.remote = remote;
  }
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
    storage.views++;
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

  /**
   * Drops this tensor's reference to its buffer; later reads throw. Other views of the storage stay valid;
   * after the last one, a backend holding the buffer (a pinned weight) frees it.
   */
  dispose(): void {
    const s = this.storage;
    if (s === null) return;
    this.storage = null;
    if (--s.views === 0 && s.remote !== null) s.remote.home.free(s);
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

/**
 * Marks `t`'s buffer (every view of it) as worth keeping inside the backend between ops: the `ort` backend
 * then moves it into its onnxruntime worker on the first matmul that uses it and keeps it there, so later
 * matmuls send only the activations. Meant for weights; reading `data` brings the buffer back (it moves
 * again at the next matmul). Does nothing on the `ref` backend. Returns `t`.
 * @example const w = pin(randn([768, 3072], 1)) // [d_model, d_mlp]
 */
export function pin(t: Tensor): Tensor {
  t.store.pinned = true;
  return t;
}

/** Undoes `pin`: brings the buffer back to this thread if a backend holds it. Returns `t`. */
export function unpin(t: Tensor): Tensor {
  const s = t.store;
  s.pinned = false;
  if (s.remote !== null) s.remote.home.fetch(s);
  return t;
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
