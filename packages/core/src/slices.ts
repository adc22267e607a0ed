// Tensors to the protocol's JSON forms: all of it (TensorData, for interventions) or a window with statistics
// of the whole (TensorSlice, for views and stored results).
import type { Axis, TensorData, TensorSlice, TensorStats } from "@llmdbg/protocol";
import { fmt, ShapeError, type Tensor } from "@llmdbg/tensor";

/** Converts a tensor to JSON-able data (for `patch` and `meanAblate`). */
export function tensorData(t: Tensor): TensorData {
  return { shape: [...t.shape], data: t.toArray() };
}

/** Mean, standard deviation, min and max over the finite values; the count of NaN and ±Infinity apart. */
export function tensorStats(t: Tensor): TensorStats {
  const d = t.data;
  let n = 0;
  let sum = 0;
  let sq = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < d.length; i++) {
    const v = Number(d[i]);
    if (!Number.isFinite(v)) continue;
    n++;
    sum += v;
    sq += v * v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = n > 0 ? sum / n : 0;
  const std = n > 0 ? Math.sqrt(Math.max(sq / n - mean * mean, 0)) : 0;
  return { mean, std, min: n > 0 ? min : 0, max: n > 0 ? max : 0, nonFinite: d.length - n };
}

/**
 * A window of `t`: `ranges[i]` = [start, stop) along axis i (default: the whole axis; negative bounds count
 * from the end), values row-major, non-finite values as null, statistics of the whole tensor.
 * @example tensorSlice(cache.get("blocks.0.attn.hook_pattern"), { axes: point.axes, ranges: [[0, 1], [0, 2]] })
 */
export function tensorSlice(
  t: Tensor,
  opts: { readonly axes?: readonly Axis[]; readonly ranges?: readonly (readonly [number, number])[] } = {},
): TensorSlice {
  const given = opts.ranges ?? [];
  if (given.length > t.rank) throw new ShapeError(`tensorSlice: ${given.length} ranges for a tensor of shape ${fmt(t.shape)}`);
  if (opts.axes !== undefined && opts.axes.length !== t.rank)
    throw new ShapeError(`tensorSlice: ${opts.axes.length} axes for a tensor of shape ${fmt(t.shape)}`);
  const ranges = t.shape.map((n, i): [number, number] => {
    const r = given[i];
    if (r === undefined) return [0, n];
    const [a, b] = r.map((v) => (v < 0 ? n + v : v)) as [number, number];
    if (!(Number.isInteger(a) && Number.isInteger(b) && 0 <= a && a <= b && b <= n))
      throw new ShapeError(`tensorSlice: range [${r[0]}, ${r[1]}) is outside axis ${i} of length ${n}`);
    return [a, b];
  });
  const strides = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((p, d) => p * d, 1));
  const data: (number | null)[] = [];
  const d = t.data;
  const walk = (axis: number, off: number): void => {
    const [a, b] = ranges[axis] as [number, number];
    for (let i = a; i < b; i++) {
      const o = off + i * (strides[axis] as number);
      if (axis === t.rank - 1) {
        const v = Number(d[o]);
        data.push(Number.isFinite(v) ? v : null);
      } else walk(axis + 1, o);
    }
  };
  if (t.rank === 0) data.push(Number.isFinite(Number(d[0])) ? Number(d[0]) : null);
  else if (ranges.every(([a, b]) => b > a)) walk(0, 0);
  return { shape: [...t.shape], axes: opts.axes ? [...opts.axes] : null, dtype: t.dtype, ranges, data, stats: tensorStats(t) };
}
