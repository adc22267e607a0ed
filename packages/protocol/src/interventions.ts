// Interventions: a serializable tagged union. The same JSON goes CLI → server → store → UI and replays a run.
// Each selects positions and heads through the hook point's declared axes; negative indices count from the end.
import type { TensorData } from "./tensors.js";

export interface Where {
  /** the hook point name */
  readonly hook: string;
  /** positions along the hook's `pos` (or `query_pos`) axis; all if absent; −1 is the last */
  readonly positions?: readonly number[];
  /** heads along the hook's `head` (or `kv_head`) axis; all if absent; −1 is the last */
  readonly heads?: readonly number[];
  /** entries along the last axis (an MLP's neurons, the residual's features); all if absent; −1 is the last */
  readonly neurons?: readonly number[];
}

export type Intervention =
  | (Where & { readonly kind: "zero" })
  | (Where & { readonly kind: "scale"; readonly factor: number })
  /** adds `vector` (length = the last axis) times `coeff`: steering */
  | (Where & { readonly kind: "add"; readonly vector: readonly number[]; readonly coeff?: number })
  /** replaces the selected entries by `values` (the same shape as the activation), e.g. from another run */
  | (Where & { readonly kind: "patch"; readonly values: TensorData })
  /** replaces the selected entries by `mean`, broadcast to the activation (e.g. a dataset mean over batch) */
  | (Where & { readonly kind: "meanAblate"; readonly mean: TensorData });

export type InterventionKind = Intervention["kind"];
