// Applying interventions (the serializable union of @llmdbg/protocol) to activations. Each selects positions
// and heads through the hook point's declared axes; negative indices count from the end.
import type { HookPoint, Intervention, TensorData } from "@llmdbg/protocol";
import { add, broadcastTo, cast, fmt, mul, ShapeError, type Tensor, tensor, where, zeros } from "@llmdbg/tensor";
import { headAxis, positionAxis } from "./hooks.js";

function fromData(d: TensorData, like: Tensor, what: string): Tensor {
  try {
    return tensor(d.data, d.shape, like.dtype);
  } catch (e) {
    throw new ShapeError(`${what}: ${(e as Error).message}`);
  }
}

/** 1 at the selected positions × heads, 0 elsewhere; shaped to broadcast against x. Null when all is selected. */
function selection(x: Tensor, p: HookPoint, iv: Intervention): Tensor | null {
  const shape = x.shape.map(() => 1);
  const picks: [number, readonly number[]][] = [];
  for (const [axis, list, label] of [
    [positionAxis(p), iv.positions, "positions"],
    [headAxis(p), iv.heads, "heads"],
  ] as const) {
    if (list === undefined) continue;
    if (axis < 0)
      throw new ShapeError(
        `intervention on ${p.name}: it has no ${label === "heads" ? "head" : "position"} axis (axes ${p.axes.join(", ")})`,
      );
    const n = x.shape[axis] as number;
    for (const i of list) {
      if (!Number.isInteger(i) || i < -n || i >= n)
        throw new ShapeError(`intervention on ${p.name}: ${label} entry ${i} out of range [-${n}, ${n})`);
    }
    shape[axis] = n;
    picks.push([axis, list.map((i) => (i < 0 ? n + i : i))]);
  }
  if (picks.length === 0) return null;
  const m = zeros(shape, x.dtype); // 1 on selected (pos, head) cells
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const rec = (k: number, off: number): void => {
    const pick = picks[k];
    if (pick === undefined) {
      m.data[off] = 1;
      return;
    }
    for (const i of pick[1]) rec(k + 1, off + i * (strides[pick[0]] as number));
  };
  rec(0, 0);
  return m;
}

/** Applies one intervention to the activation `x` at hook point `p`; returns a new tensor. */
export function applyIntervention(x: Tensor, p: HookPoint, iv: Intervention): Tensor {
  const sel = selection(x, p, iv); // broadcastable to x, or null for "everywhere"
  const pick = (replacement: Tensor): Tensor => (sel ? where(cast(sel, "bool"), replacement, x) : replacement);
  switch (iv.kind) {
    case "zero":
      return sel ? where(cast(sel, "bool"), 0, x) : zeros(x.shape, x.dtype);
    case "scale":
      // 1 + (factor − 1)·mask: exactly x where unselected, and exactly x when factor = 1
      return sel ? mul(x, add(mul(sel, iv.factor - 1), 1)) : mul(x, iv.factor);
    case "add": {
      const d = x.shape[x.rank - 1] as number;
      if (iv.vector.length !== d)
        throw new ShapeError(`add on ${p.name}: vector has ${iv.vector.length} entries, the last axis ${d}`);
      const v = mul(tensor(iv.vector, [d], x.dtype), iv.coeff ?? 1); // [last axis]
      return add(x, sel ? mul(sel, v) : v);
    }
    case "patch": {
      const v = fromData(iv.values, x, `patch on ${p.name}`);
      if (v.shape.join() !== x.shape.join())
        throw new ShapeError(`patch on ${p.name}: values ${fmt(v.shape)} != activation ${fmt(x.shape)}`);
      return pick(v);
    }
    case "meanAblate": {
      const mean = broadcastTo(fromData(iv.mean, x, `meanAblate on ${p.name}`), x.shape); // same as x
      return pick(mean);
    }
  }
}
