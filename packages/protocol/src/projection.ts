// The projector: a hook point's activations over a dataset, projected to two dimensions (PCA or UMAP), and a probe
// trained on a region of that plot (points inside a lasso against the rest) whose direction can be added back as a
// steering vector. A projection carries up to 100,000 points, so its per-point columns are packed: base64 of
// little-endian Float32 or Int32 arrays (about 4 MB for 100,000 points, where an array of objects would be several
// times that and slow to parse).

/** One example of the dataset the browser sends inline (it read a file the user picked or pasted; never a path). */
export interface ProjectionExample {
  readonly text: string;
  /** a class, e.g. "positive"; examples without one are coloured as unlabelled */
  readonly label?: string;
}

/** Which activations become points: every token, each example's last token, or the mean over its tokens. */
export type ProjectionPoints = "tokens" | "last" | "mean";

export interface UmapParams {
  /** neighbours of the fuzzy graph (default 15), minimum distance in the embedding (default 0.1), seed (default 0) */
  readonly nNeighbors?: number;
  readonly minDist?: number;
  readonly seed?: number;
  /** optimization epochs (default: umap-js's own choice by size) */
  readonly epochs?: number;
}

export interface ProjectionRequest {
  readonly kind: "projection";
  /** a hook point with axes [batch, pos, …], e.g. "blocks.2.hook_resid_post" */
  readonly hook: string;
  readonly dataset: readonly ProjectionExample[];
  /** default "tokens" */
  readonly points?: ProjectionPoints;
  /** default "pca" */
  readonly method?: "pca" | "umap";
  readonly umap?: UmapParams;
  /** points kept at most (a seeded uniform sample beyond it; default and ceiling 100,000 for PCA, 5,000 for UMAP) */
  readonly maxPoints?: number;
  /** the seed of that sample (default 0) */
  readonly seed?: number;
  /** examples per forward pass (default 16) */
  readonly batch?: number;
}

export interface ProjectionResult {
  readonly kind: "projection";
  readonly hook: string;
  readonly method: "pca" | "umap";
  readonly points: ProjectionPoints;
  /** points plotted, and points there were before sampling */
  readonly count: number;
  readonly total: number;
  /** the length of each activation vector (the hook's trailing axes flattened) */
  readonly dim: number;
  /** base64 Float32 LE, 2 × count: x0, y0, x1, y1, … */
  readonly xy: string;
  /** base64 Int32 LE, count each: the example's index in the request's dataset, the token position (−1 for a mean),
   * the token id there (−1 for a mean), and the model's top next-token prediction there (a mean: at the last token) */
  readonly example: string;
  readonly position: string;
  readonly token: string;
  readonly prediction: string;
  /** the text of every token id `token` and `prediction` name (null where the tokenizer names none) */
  readonly vocab: readonly { readonly id: number; readonly text: string | null }[];
  /** the dataset's distinct labels, sorted; `label` (base64 Int32 LE, count) indexes them, −1 for none */
  readonly labels: readonly string[];
  readonly label: string;
  /** PCA: the share of the total variance of the first components (up to 10), largest first; null for UMAP */
  readonly explainedVariance: readonly number[] | null;
  /** UMAP: the parameters it ran with; null for PCA */
  readonly umap: { readonly nNeighbors: number; readonly minDist: number; readonly seed: number; readonly epochs: number } | null;
}

/**
 * A probe on a region of a projection: the points inside (class 1) against those outside (class 0), each named
 * by its example and position (−1 for a mean), activations recomputed from the same dataset and hook.
 */
export interface ProjectionProbeRequest {
  readonly kind: "projection_probe";
  readonly hook: string;
  readonly dataset: readonly ProjectionExample[];
  readonly points?: ProjectionPoints;
  /** flat pairs [example, position, example, position, …] */
  readonly inside: readonly number[];
  readonly outside: readonly number[];
  /** the share held out for validation (default 0.2), L2 (default 1e-3), gradient steps (default 300), seed (0) */
  readonly validation?: number;
  readonly l2?: number;
  readonly steps?: number;
  readonly seed?: number;
  readonly batch?: number;
}

export interface ProjectionProbeResult {
  readonly kind: "projection_probe";
  readonly hook: string;
  readonly points: ProjectionPoints;
  readonly insideCount: number;
  readonly outsideCount: number;
  readonly trainSize: number;
  readonly validationSize: number;
  readonly trainAccuracy: number;
  readonly validationAccuracy: number;
  /** the probe's weight vector in activation space (its features were centred and scaled by one common factor, so
   * the weights keep activation space's geometry), unit length: a steering vector for this hook pointing from
   * outside towards inside */
  readonly direction: readonly number[];
  /** mean(inside · direction) − mean(outside · direction): how far apart the two groups sit along it, in activation
   * units (a natural scale for the steering coefficient) */
  readonly gap: number;
}
