// Datasets the server holds (JSONL files it was started with, uploads kept in its run store, sets generated from
// the zoo's recipes), named by id like models — the browser never names a file — and a model's predictions over
// one: per example, the top prediction and its probability, the gold label's or target continuation's
// probability, and whether the model gets it right. The examples travel by REST in pages
// (`GET /api/datasets/<id>/rows?offset=&limit=`); predictions over the RPC (`datasets.predict`), streamed in
// `partial` replies batch by batch.

/** A dataset the server holds. */
export interface DatasetInfo {
  readonly id: string;
  /** the file's base name, or the name an upload was given */
  readonly name: string;
  /** examples */
  readonly count: number;
  /** a file given to the server (`--dataset`), an upload from the browser, or generated from a zoo recipe */
  readonly source: "file" | "upload" | "zoo";
  /** the distinct labels of its examples, sorted (at most 256; none when it has no labels) */
  readonly labels: readonly string[];
  /** the examples' fields besides `text` and `label`, sorted (e.g. `target`) */
  readonly columns: readonly string[];
}

export interface DatasetsListResult {
  readonly kind: "datasets";
  readonly datasets: readonly DatasetInfo[];
}

/** One example: a JSONL line's `text`, its `label` (as a string) and its other fields. */
export interface DatasetExample {
  /** its 0-based place among the examples */
  readonly index: number;
  readonly text: string;
  readonly label: string | null;
  /** every other field of its line, as given */
  readonly fields: { readonly [field: string]: unknown };
}

/** `GET /api/datasets/<id>/rows?offset=&limit=`: a page of examples. */
export interface DatasetRowsPage {
  readonly dataset: string;
  readonly offset: number;
  /** examples in the dataset */
  readonly total: number;
  readonly rows: readonly DatasetExample[];
}

/** `datasets.predict`: run the model over every example of a dataset. */
export interface PredictParams {
  readonly model: string;
  /** a dataset id (`datasets.list`) */
  readonly dataset: string;
  /** examples per forward pass (default 32; examples of one token length share a pass) */
  readonly batch?: number;
  /** compute again even when the run store holds this model's predictions on this dataset */
  readonly recompute?: boolean;
}

/**
 * A model's prediction on one example. A language model predicts the next token after the text; the gold is the
 * example's `target` field, else its `label`, as a continuation of the text (its tokens appended, the probability
 * the product over them; correct when greedy decoding yields exactly those tokens). A classifier predicts a label;
 * the gold is the example's label (a label name, or its index); correct when the top label is it.
 */
export interface RowPrediction {
  readonly index: number;
  /** the position whose prediction this is: the text's last token (0 for a classifier) */
  readonly position: number;
  /** the top next token (its id, decoded text and probability), or the top label */
  readonly top: { readonly id: number; readonly text: string | null; readonly prob: number };
  /** the gold's probability; null when the example has none (or a label the classifier does not know) */
  readonly gold: {
    readonly text: string;
    /** its first token (a classifier: the label's index), the token an attribution of it targets */
    readonly id: number;
    readonly prob: number;
    readonly tokens: number;
  } | null;
  /** whether the model's prediction is the gold; null without a gold */
  readonly correct: boolean | null;
}

/** A batch of predictions, streamed as a `partial` reply while the job runs (in no particular order). */
export interface PredictionsPartial {
  readonly kind: "predictions";
  readonly rows: readonly RowPrediction[];
}

export interface PredictionsResult {
  readonly kind: "predictions";
  readonly model: string;
  readonly dataset: string;
  /** one per example, in order */
  readonly rows: readonly RowPrediction[];
  readonly metrics: {
    /** the share of examples with a gold that are correct; null when none has a gold */
    readonly accuracy: number | null;
    readonly meanTopProb: number;
    readonly meanGoldProb: number | null;
  };
  /** true when read back from the run store instead of computed */
  readonly cached: boolean;
}
