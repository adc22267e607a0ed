// Weight edits: values, like interventions. One is applied for a single run (RunOptions.edits) or made permanent
// (ParamStore.apply) and reverted. `param` is a parameter name as the model's `params` list it: the checkpoint's
// key without its prefix (`h.5.mlp.c_proj.weight`, `layers.3.self_attn.o_proj.weight`), in the stored layout.
import type { TensorData } from "./tensors.js";

export type WeightEdit =
  /**
   * replaces the parameter by `values` (its shape); with `rows` and/or `cols` of a 2-D parameter, only that slice
   * ([rows.length or all, cols.length or all])
   */
  | {
      readonly kind: "set";
      readonly param: string;
      readonly values: TensorData;
      readonly rows?: readonly number[];
      readonly cols?: readonly number[];
    }
  /** adds `delta` (its shape) */
  | { readonly kind: "add"; readonly param: string; readonly delta: TensorData }
  /**
   * multiplies by `factor`; with `rows` and/or `cols`, only that slice of a 2-D parameter (negative counts from the
   * end): factor 0 on a head's rows of W_O zeroes its output
   */
  | {
      readonly kind: "scale";
      readonly param: string;
      readonly factor: number;
      readonly rows?: readonly number[];
      readonly cols?: readonly number[];
    }
  /** W += coeff · u vᵀ on a 2-D parameter [rows, cols] (u has `rows` entries, v `cols`): ROME-style rank-one edits */
  | {
      readonly kind: "rankOne";
      readonly param: string;
      readonly u: readonly number[];
      readonly v: readonly number[];
      readonly coeff?: number;
    };

export type WeightEditKind = WeightEdit["kind"];
