// A model's parameters by name, reachable and replaceable: the architecture's forward pass reads each one through
// its ForwardContext at call time, so a value set here (or an edit for one run, or a watched leaf for gradients)
// is what the next forward pass computes with. Names are checkpoint keys without their prefix.
import type { TensorData, WeightEdit } from "@llmdbg/protocol";
import { add, fmt, mul, pin, ShapeError, Tensor, tensor } from "@llmdbg/tensor";

/** A WeightEdit, or one of its value-carrying kinds with a tensor instead of JSON data (in-process callers). */
export type WeightEditInput =
  | WeightEdit
  | { readonly kind: "set"; readonly param: string; readonly values: Tensor }
  | { readonly kind: "add"; readonly param: string; readonly delta: Tensor };

/** What `ParamStore.apply` returns: `revert()` puts back every parameter it changed. */
export interface EditHandle {
  readonly params: readonly string[];
  revert(): void;
}

export class ParamStore {
  private readonly byName: Map<string, Tensor>;

  constructor(entries: Iterable<readonly [string, Tensor]>) {
    this.byName = new Map();
    for (const [name, t] of entries) {
      if (this.byName.has(name)) throw new Error(`ParamStore: parameter "${name}" given twice`);
      this.byName.set(name, t);
    }
  }

  /** The parameter `name`; an unknown name is an error that lists near names. */
  get(name: string): Tensor {
    const t = this.byName.get(name);
    if (t === undefined) throw new Error(`params: no parameter "${name}"${this.suggest(name)}`);
    return t;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  entries(): IterableIterator<[string, Tensor]> {
    return this.byName.entries();
  }

  get size(): number {
    return this.byName.size;
  }

  /** The number of scalars in all parameters. */
  count(): number {
    let n = 0;
    for (const t of this.byName.values()) n += t.size;
    return n;
  }

  /**
   * Replaces a parameter by a tensor of the same shape and dtype; returns the previous one (keep it to undo).
   * @example const old = model.params.set("h.0.mlp.c_fc.bias", T.zeros([128]))
   */
  set(name: string, value: Tensor): Tensor {
    const old = this.get(name);
    if (value.shape.join() !== old.shape.join() || value.dtype !== old.dtype) {
      throw new ShapeError(`params.set ${name}: expected ${old.dtype} ${fmt(old.shape)}, got ${value.dtype} ${fmt(value.shape)}`);
    }
    // 2-D weights live in the onnxruntime worker once used (see tensor's pin); the replacement too
    this.byName.set(name, old.rank === 2 ? pin(value) : value);
    return old;
  }

  /**
   * Applies `edits` permanently, in order; `revert()` on the result restores every parameter they touched.
   * @example const h = model.params.apply([{ kind: "scale", param: "h.0.mlp.c_proj.weight", factor: 0 }]); …; h.revert()
   */
  apply(edits: readonly WeightEditInput[]): EditHandle {
    const before = new Map<string, Tensor>();
    try {
      for (const e of edits) {
        const old = this.get(e.param);
        if (!before.has(e.param)) before.set(e.param, old);
        this.set(e.param, editedValue(old, e));
      }
    } catch (err) {
      for (const [n, t] of before) this.byName.set(n, t);
      throw err;
    }
    let reverted = false;
    return {
      params: [...before.keys()],
      revert: () => {
        if (reverted) return;
        reverted = true;
        for (const [n, t] of before) this.byName.set(n, t);
      },
    };
  }

  private suggest(name: string): string {
    // the same module's parameters (a misspelt leaf), else those ending like it (a misspelt path)
    const parent = name.slice(0, name.lastIndexOf("."));
    const leaf = name.slice(name.lastIndexOf(".") + 1);
    let near = this.names().filter((n) => parent !== "" && n.startsWith(`${parent}.`));
    if (near.length === 0) near = this.names().filter((n) => n.endsWith(`.${leaf}`));
    return near.length > 0
      ? `; did you mean ${near
          .slice(0, 3)
          .map((n) => `"${n}"`)
          .join(", ")}?`
      : ` (${this.size} parameters, e.g. "${this.names()[0] ?? ""}")`;
  }
}

function fromInput(v: Tensor | TensorData, like: Tensor, what: string): Tensor {
  const t = v instanceof Tensor ? v : tensor(v.data, v.shape, like.dtype);
  if (t.shape.join() !== like.shape.join()) throw new ShapeError(`${what}: expected ${fmt(like.shape)}, got ${fmt(t.shape)}`);
  return t.dtype === like.dtype ? t : tensor(t.toArray(), t.shape, like.dtype);
}

/** The value of `old` after one edit (a new tensor; `old` is left as it was). */
/** The rows and columns a slice edit selects (all of an axis it does not name), checked and non-negative. */
function slice2d(
  old: Tensor,
  rows: readonly number[] | undefined,
  cols: readonly number[] | undefined,
  what: string,
): [number[], number[]] {
  if (old.rank !== 2) throw new ShapeError(`${what}: rows and cols need a 2-D parameter, got ${fmt(old.shape)}`);
  const pick = (list: readonly number[] | undefined, n: number, axis: string) =>
    list === undefined
      ? Array.from({ length: n }, (_, i) => i)
      : list.map((i) => {
          if (!Number.isInteger(i) || i < -n || i >= n) throw new ShapeError(`${what}: ${axis} ${i} out of range [-${n}, ${n})`);
          return i < 0 ? n + i : i;
        });
  return [pick(rows, old.shape[0] as number, "row"), pick(cols, old.shape[1] as number, "col")];
}

export function editedValue(old: Tensor, e: WeightEditInput): Tensor {
  const what = `edit ${e.kind} on ${e.param}`;
  switch (e.kind) {
    case "set": {
      const sliced = "rows" in e || "cols" in e ? (e as { rows?: readonly number[]; cols?: readonly number[] }) : null;
      if (sliced === null || (sliced.rows === undefined && sliced.cols === undefined)) return fromInput(e.values, old, what);
      const [rows, cols] = slice2d(old, sliced.rows, sliced.cols, what);
      const v = fromInput(
        e.values,
        tensor(new Array(rows.length * cols.length).fill(0), [rows.length, cols.length], old.dtype),
        what,
      );
      const out = Float64Array.from(old.data as ArrayLike<number>);
      const C = old.shape[1] as number;
      rows.forEach((r, i) => {
        cols.forEach((c, j) => {
          out[r * C + c] = v.data[i * cols.length + j] as number;
        });
      });
      return tensor(out, old.shape, old.dtype);
    }
    case "add":
      return add(old, fromInput(e.delta, old, what));
    case "scale": {
      if (e.rows === undefined && e.cols === undefined) return mul(old, e.factor);
      const [rows, cols] = slice2d(old, e.rows, e.cols, what);
      const [R, C] = old.shape as [number, number];
      const f = new Array<number>(R * C).fill(1); // [rows, cols]
      for (const r of rows) for (const c of cols) f[r * C + c] = e.factor;
      return mul(old, tensor(f, [R, C], old.dtype)); // [rows, cols]
    }
    case "rankOne": {
      if (old.rank !== 2) throw new ShapeError(`${what}: needs a 2-D parameter, got ${fmt(old.shape)}`);
      const [R, C] = old.shape as [number, number];
      if (e.u.length !== R || e.v.length !== C)
        throw new ShapeError(`${what}: u has ${e.u.length} entries and v ${e.v.length}; the parameter is ${fmt(old.shape)}`);
      const u = tensor(
        e.u.map((x) => x * (e.coeff ?? 1)),
        [R, 1],
        old.dtype,
      ); // [rows, 1]
      const v = tensor(e.v, [1, C], old.dtype); // [1, cols]
      return add(old, mul(u, v)); // [rows, cols]
    }
  }
}
