// Tensors as JSON. `TensorData` carries every value (interventions that patch or mean-ablate); `TensorSlice` is
// what a view or a stored result carries: the full shape and axes, a window of the values, and statistics of
// the whole tensor, so a 12 MB attention cache never crosses the wire whole.
import type { Axis } from "./hooks.js";

export type DType = "f32" | "f64" | "i32" | "bool";

/** Plain tensor data: row-major values with their shape. */
export interface TensorData {
  readonly shape: readonly number[];
  readonly data: readonly number[];
}

/** Statistics over every finite value of a tensor; `nonFinite` counts NaN and ±Infinity. */
export interface TensorStats {
  readonly mean: number;
  readonly std: number;
  readonly min: number;
  readonly max: number;
  readonly nonFinite: number;
}

/**
 * A window of a tensor: `ranges[i]` = [start, stop) along axis i; `data` holds the window row-major. Non-finite
 * values are written as null (JSON has no NaN or Infinity) and counted in `stats.nonFinite`.
 */
export interface TensorSlice {
  readonly shape: readonly number[];
  readonly axes: readonly Axis[] | null;
  readonly dtype: DType;
  readonly ranges: readonly (readonly [number, number])[];
  readonly data: readonly (number | null)[];
  readonly stats: TensorStats;
}

/** Shape and statistics of one cached activation (listings, the UI). */
export interface ActivationSummary extends TensorStats {
  readonly name: string;
  readonly shape: readonly number[];
}
