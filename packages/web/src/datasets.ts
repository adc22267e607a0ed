// The Datasets view's logic, apart from React so Node tests can check it: the window of rows a scrolled table
// draws (fixed row height, so the visible rows follow from the scroll offset alone and the DOM holds a few dozen
// rows whatever the dataset's size), sorting and filtering the examples with their predictions, the counts per
// slice (label, correct or not), a quick check of a JSONL file before it is uploaded (the server checks it again,
// authoritatively), and the REST calls (examples in pages, uploads).
import type { DatasetExample, DatasetInfo, DatasetRowsPage, RowPrediction } from "@llmdbg/protocol";
import type { Target } from "./state.js";

/** Every row of the table is this tall, px (the CSS says so too: `.ds-row { height }`). */
export const ROW_HEIGHT = 28;

/** The rows a table scrolled to `scrollTop` draws: [first, last), and where the first one sits. */
export interface RowWindow {
  readonly first: number;
  readonly last: number;
  /** px from the top of the scrolled content to the first drawn row */
  readonly offset: number;
  /** px: the height of every row together (the scrolled content's height) */
  readonly height: number;
}

/**
 * The rows visible in a viewport `viewport` px tall scrolled to `scrollTop`, plus `overscan` rows either side so
 * a fast scroll does not show blank space before React catches up.
 * @example visibleWindow(280, 560, 28, 10_000) // { first: 2, last: 38, offset: 56, height: 280000 }
 */
export function visibleWindow(scrollTop: number, viewport: number, rowHeight: number, count: number, overscan = 8): RowWindow {
  const height = count * rowHeight;
  if (count === 0 || rowHeight <= 0) return { first: 0, last: 0, offset: 0, height: Math.max(0, height) };
  // a scroll position past the end (the rows shrank under a filter) reads as the end
  const top = Math.max(0, Math.min(scrollTop, Math.max(0, height - viewport)));
  const first = Math.max(0, Math.floor(top / rowHeight) - overscan);
  const last = Math.min(count, Math.ceil((top + Math.max(0, viewport)) / rowHeight) + overscan);
  return { first, last, offset: first * rowHeight, height };
}

/** One row of the table: an example and, once computed, the model's prediction on it. */
export interface TableRow {
  readonly example: DatasetExample;
  /** what the model is scored against: a language model's target (else the label), a classifier's label */
  readonly gold: string | null;
  readonly pred: RowPrediction | undefined;
}

/** The gold of an example for a model: its `target` field for a language model, else its label. */
export function goldOf(e: DatasetExample, classifier: boolean): string | null {
  const t = e.fields.target;
  return !classifier && typeof t === "string" && t !== "" ? t : e.label;
}

/** The table's rows: examples joined with their predictions by index. */
export function tableRows(
  examples: readonly DatasetExample[],
  preds: readonly (RowPrediction | undefined)[],
  classifier: boolean,
): TableRow[] {
  return examples.map((e) => ({ example: e, gold: goldOf(e, classifier), pred: preds[e.index] }));
}

export type SortKey = "index" | "text" | "gold" | "prediction" | "prob" | "goldProb" | "correct";
export type SortDir = "asc" | "desc";

const collator = new Intl.Collator(undefined, { numeric: true });

/** The value a row sorts by; undefined (no prediction yet, no gold) sorts last either way. */
function keyOf(r: TableRow, key: SortKey): string | number | undefined {
  switch (key) {
    case "index":
      return r.example.index;
    case "text":
      return r.example.text;
    case "gold":
      return r.gold ?? undefined;
    case "prediction":
      return r.pred?.top.text ?? (r.pred === undefined ? undefined : `#${r.pred.top.id}`);
    case "prob":
      return r.pred?.top.prob;
    case "goldProb":
      return r.pred?.gold?.prob;
    case "correct":
      return r.pred?.correct === null || r.pred === undefined ? undefined : r.pred.correct ? 1 : 0;
  }
}

/** The rows sorted by a column (stable: ties keep the dataset's order); rows without a value go last. */
export function sortRows(rows: readonly TableRow[], key: SortKey, dir: SortDir): TableRow[] {
  const sign = dir === "asc" ? 1 : -1;
  return rows
    .map((r, i) => ({ r, i, k: keyOf(r, key) }))
    .sort((a, b) => {
      if (a.k === undefined || b.k === undefined) return a.k === b.k ? a.i - b.i : a.k === undefined ? 1 : -1;
      const c = typeof a.k === "number" && typeof b.k === "number" ? a.k - b.k : collator.compare(String(a.k), String(b.k));
      return c !== 0 ? sign * c : a.i - b.i;
    })
    .map((x) => x.r);
}

/** Which rows by whether the model got them right. */
export type CorrectSlice = "all" | "correct" | "wrong" | "no gold" | "pending";

export interface RowFilter {
  /** a case-insensitive substring of the text; "" for any */
  readonly text: string;
  /** the gold (label or target) the rows must have; null for any */
  readonly gold: string | null;
  readonly correct: CorrectSlice;
}

export const NO_FILTER: RowFilter = { text: "", gold: null, correct: "all" };

function sliceOf(r: TableRow): Exclude<CorrectSlice, "all"> {
  if (r.pred === undefined) return "pending";
  return r.pred.correct === null ? "no gold" : r.pred.correct ? "correct" : "wrong";
}

export function filterRows(rows: readonly TableRow[], f: RowFilter): TableRow[] {
  const needle = f.text.toLowerCase();
  return rows.filter(
    (r) =>
      (needle === "" || r.example.text.toLowerCase().includes(needle)) &&
      (f.gold === null || r.gold === f.gold) &&
      (f.correct === "all" || sliceOf(r) === f.correct),
  );
}

export interface SliceCounts {
  readonly rows: number;
  /** each gold value with its count, most frequent first (at most `maxGolds`) */
  readonly golds: readonly (readonly [string, number])[];
  readonly correct: number;
  readonly wrong: number;
  readonly noGold: number;
  readonly pending: number;
  /** correct / (correct + wrong); null when none is scored */
  readonly accuracy: number | null;
  /** the mean probability of the top prediction over the rows predicted; null when none is */
  readonly meanProb: number | null;
}

/** The counts per slice of some rows (the table shows them for the filtered rows). */
export function sliceCounts(rows: readonly TableRow[], maxGolds = 50): SliceCounts {
  const golds = new Map<string, number>();
  const n = { correct: 0, wrong: 0, "no gold": 0, pending: 0 };
  let probs = 0;
  let predicted = 0;
  for (const r of rows) {
    if (r.gold !== null) golds.set(r.gold, (golds.get(r.gold) ?? 0) + 1);
    n[sliceOf(r)]++;
    if (r.pred !== undefined) {
      probs += r.pred.top.prob;
      predicted++;
    }
  }
  const scored = n.correct + n.wrong;
  return {
    rows: rows.length,
    golds: [...golds.entries()].sort((a, b) => b[1] - a[1] || collator.compare(a[0], b[0])).slice(0, maxGolds),
    correct: n.correct,
    wrong: n.wrong,
    noGold: n["no gold"],
    pending: n.pending,
    accuracy: scored === 0 ? null : n.correct / scored,
    meanProb: predicted === 0 ? null : probs / predicted,
  };
}

/** The largest upload the view sends (the server's default cap). */
export const MAX_UPLOAD_BYTES = 32 * 1024 * 1024;

/**
 * A quick look at a JSONL file before it is uploaded: its number of examples, or the first bad line (numbered
 * from 1, naming the field) as the server would refuse it.
 * @example checkJsonl('{"text": "hi"}\n{"label": 1}') // { error: "line 2: text: expected a non-empty string" }
 */
export function checkJsonl(text: string, bytes = new TextEncoder().encode(text).length): { count: number } | { error: string } {
  if (bytes > MAX_UPLOAD_BYTES) return { error: `the file is ${(bytes / 2 ** 20).toFixed(1)} MiB; at most 32 MiB` };
  let count = 0;
  for (const [i, raw] of text
    .replace(/^\uFEFF/, "")
    .split("\n")
    .entries()) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      return { error: `line ${i + 1}: not valid JSON` };
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) return { error: `line ${i + 1}: expected a JSON object` };
    const o = v as Record<string, unknown>;
    if (typeof o.text !== "string" || o.text.trim() === "") return { error: `line ${i + 1}: text: expected a non-empty string` };
    const l = o.label;
    if (l !== undefined && l !== null && typeof l !== "string" && typeof l !== "number" && typeof l !== "boolean")
      return { error: `line ${i + 1}: label: expected a string, a number or a boolean` };
    count++;
  }
  return count === 0 ? { error: "the file has no examples (one JSON object per line)" } : { count };
}

/** Puts a batch of streamed predictions in their places; returns a new array (React state). */
export function mergePredictions(
  into: readonly (RowPrediction | undefined)[],
  batch: readonly RowPrediction[],
): (RowPrediction | undefined)[] {
  const out = into.slice();
  for (const p of batch) out[p.index] = p;
  return out;
}

async function answer<T>(res: Response): Promise<T> {
  if (!res.ok) throw new Error(`${res.status}: ${(await res.text()).trim()}`);
  return (await res.json()) as T;
}

/** The most examples one request fetches (the server's page limit). */
export const PAGE = 5000;

/** Every example of a dataset, a page at a time (`onPage` sees each as it arrives). */
export async function fetchExamples(
  id: string,
  onPage: (rows: readonly DatasetExample[], total: number) => void,
  signal?: AbortSignal,
): Promise<DatasetExample[]> {
  const out: DatasetExample[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const url = `/api/datasets/${encodeURIComponent(id)}/rows?offset=${offset}&limit=${PAGE}`;
    const page = await answer<DatasetRowsPage>(await fetch(url, { credentials: "same-origin", ...(signal && { signal }) }));
    out.push(...page.rows);
    onPage(page.rows, page.total);
    if (page.rows.length === 0 || out.length >= page.total) return out;
  }
}

/** Uploads a JSONL text as a dataset named `name`; the server's answer, or its refusal as an Error. */
export async function uploadDataset(name: string, body: string): Promise<DatasetInfo> {
  const res = await fetch(`/api/datasets?name=${encodeURIComponent(name)}`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/x-ndjson" },
    body,
  });
  return answer<DatasetInfo>(res);
}

/** An example opened from the table: the workbench shows it with its attribution (`n` counts the openings). */
export interface OpenedExample {
  readonly n: number;
  readonly dataset: DatasetInfo;
  readonly row: TableRow;
}

/**
 * The token an opened example's attribution targets, where it is predicted: its gold's first token (a
 * classifier's gold label), else the model's top prediction; undefined before the example has a prediction.
 * @example exampleTarget(row) // { position: 11, token: { id: 262, text: " the" }, from: "prediction" }
 */
export function exampleTarget(row: TableRow): Target | undefined {
  const p = row.pred;
  if (p === undefined) return undefined;
  const token =
    p.gold !== null ? { id: p.gold.id, text: p.gold.tokens === 1 ? p.gold.text : null } : { id: p.top.id, text: p.top.text };
  return { position: p.position, token, from: "prediction" };
}
