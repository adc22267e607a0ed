// Datasets and their evaluations in the run store. A dataset row names its source (a file's absolute path, or
// `upload:<name>` for one sent from the browser) and content hash; an uploaded dataset keeps its examples here
// (`dataset_rows`, one JSON object per example), since no file holds them. An evaluation is a stored run (kind
// `predict`, say) over a dataset with its summary metrics and one prediction per example (`evaluation_rows`), so a
// dataset's predictions are read back instead of computed again. Free functions over a Store: store.ts stays the
// runs' file.
import { StoreError } from "./errors.js";
import type { Store } from "./store.js";

/** One example as stored: `text`, an optional `label`, and any other fields of its JSONL line. */
export type Example = { readonly text: string; readonly label?: string | number | boolean | null } & {
  readonly [field: string]: unknown;
};

export interface DatasetInput {
  /** an absolute file path, or `upload:<name>` */
  readonly path: string;
  /** sha256 of the content */
  readonly hash: string;
  /** shown to the user */
  readonly name: string;
  /** the examples, stored with the dataset (an upload's); a file's may be left out and read from the file */
  readonly examples?: readonly Example[];
  /** the number of examples when they are not stored */
  readonly count?: number;
}

export interface StoredDataset {
  readonly id: number;
  readonly path: string;
  readonly hash: string;
  readonly name: string;
  readonly count: number;
  /** whether the store holds its examples */
  readonly hasRows: boolean;
  readonly addedAt: string;
}

type Row = Record<string, unknown>;

function datasetOf(r: Row): StoredDataset {
  return {
    id: r.id as number,
    path: r.path as string,
    hash: r.hash as string,
    name: (r.name as string | null) ?? String(r.path),
    count: r.count as number,
    hasRows: (r.stored as number) > 0,
    addedAt: r.added_at as string,
  };
}

const SELECT = `SELECT d.*, EXISTS (SELECT 1 FROM dataset_rows WHERE dataset_id = d.id) AS stored FROM datasets d`;

/**
 * The id of the dataset with this path and hash, adding it (and its examples, in the same transaction) if new.
 * @example const id = addDataset(store, { path: "upload:reviews", hash, name: "reviews", examples })
 */
export function addDataset(store: Store, d: DatasetInput): number {
  const count = d.examples?.length ?? d.count;
  if (count === undefined || !Number.isSafeInteger(count) || count < 0)
    throw new StoreError(store.file, `dataset ${d.name}: give its examples or their count`);
  return store.transaction(() => {
    const have = store.db.prepare("SELECT id FROM datasets WHERE path = ? AND hash = ?").get(d.path, d.hash) as
      | { id: number }
      | undefined;
    if (have !== undefined) {
      store.db.prepare("UPDATE datasets SET name = ? WHERE id = ?").run(d.name, have.id);
      return have.id;
    }
    const r = store.db
      .prepare("INSERT INTO datasets (path, hash, count, added_at, name) VALUES (?, ?, ?, ?, ?)")
      .run(d.path, d.hash, count, new Date().toISOString(), d.name);
    const id = Number(r.lastInsertRowid);
    const ins = store.db.prepare("INSERT INTO dataset_rows (dataset_id, idx, example) VALUES (?, ?, ?)");
    for (const [i, e] of (d.examples ?? []).entries()) ins.run(id, i, JSON.stringify(e));
    return id;
  });
}

/** Every dataset, oldest first; `prefix` keeps those whose path starts with it (`upload:`). */
export function listDatasets(store: Store, prefix = ""): StoredDataset[] {
  const rows = store.db.prepare(`${SELECT} WHERE substr(d.path, 1, ?) = ? ORDER BY d.id`).all(prefix.length, prefix) as Row[];
  return rows.map(datasetOf);
}

export function getDataset(store: Store, id: number): StoredDataset {
  const r = store.db.prepare(`${SELECT} WHERE d.id = ?`).get(id) as Row | undefined;
  if (r === undefined) throw new StoreError(store.file, `dataset ${id} is not in the store`);
  return datasetOf(r);
}

/** The stored examples `offset` … `offset + limit - 1` of a dataset (fewer at its end). */
export function datasetExamples(store: Store, id: number, offset = 0, limit = Number.MAX_SAFE_INTEGER): Example[] {
  const rows = store.db
    .prepare("SELECT idx, example FROM dataset_rows WHERE dataset_id = ? AND idx >= ? ORDER BY idx LIMIT ?")
    .all(id, offset, Math.min(limit, Number.MAX_SAFE_INTEGER)) as Row[];
  return rows.map((r) => parse(store, r.example, `dataset ${id} example ${r.idx}`) as Example);
}

export interface EvaluationInput {
  /** the run it belongs to (its kind, model and options) */
  readonly run: number;
  readonly dataset: number;
  readonly metrics: Readonly<Record<string, number>>;
  /** one per example, in order; any JSON each */
  readonly rows: readonly unknown[];
}

/**
 * Records an evaluation of a run on a dataset with one row per example, in one transaction; returns its id.
 * @example recordEvaluation(store, { run, dataset, metrics: { accuracy: 0.9 }, rows: predictions })
 */
export function recordEvaluation(store: Store, e: EvaluationInput): number {
  return store.transaction(() => {
    if (!store.hasRun(e.run)) throw new StoreError(store.file, `run ${e.run} is not in the store`);
    getDataset(store, e.dataset);
    const r = store.db
      .prepare("INSERT INTO evaluations (run_id, dataset_id, metrics, created_at) VALUES (?, ?, ?, ?)")
      .run(e.run, e.dataset, JSON.stringify(e.metrics), new Date().toISOString());
    const id = Number(r.lastInsertRowid);
    const ins = store.db.prepare("INSERT INTO evaluation_rows (evaluation_id, idx, prediction) VALUES (?, ?, ?)");
    for (const [i, row] of e.rows.entries()) ins.run(id, i, JSON.stringify(row));
    return id;
  });
}

export interface StoredEvaluation {
  readonly id: number;
  readonly run: number;
  readonly dataset: number;
  readonly metrics: Record<string, number>;
  readonly createdAt: string;
  /** one per example, in order */
  readonly rows: unknown[];
}

/**
 * The newest complete evaluation of `dataset` by a finished run of this kind on this model (store ids), whose
 * options include `options` (compared as JSON, field by field); undefined when there is none.
 * @example latestEvaluation(store, { dataset, model, kind: "predict", options: { topK: 5 } })
 */
export function latestEvaluation(
  store: Store,
  q: {
    readonly dataset: number;
    readonly model: number;
    readonly kind: string;
    readonly options?: Readonly<Record<string, unknown>>;
  },
): StoredEvaluation | undefined {
  const read = () => {
    const candidates = store.db
      .prepare(
        `SELECT e.*, r.options AS run_options,
           (SELECT count(*) FROM evaluation_rows WHERE evaluation_id = e.id) AS n, d.count AS expected
         FROM evaluations e JOIN runs r ON r.id = e.run_id JOIN datasets d ON d.id = e.dataset_id
         WHERE e.dataset_id = ? AND r.model_id = ? AND r.kind = ? AND r.status = 'done'
         ORDER BY e.id DESC`,
      )
      .all(q.dataset, q.model, q.kind) as Row[];
    const want = Object.entries(q.options ?? {});
    const hit = candidates.find((c) => {
      if (c.n !== c.expected) return false;
      const opts = parse(store, c.run_options, `run ${c.run_id} options`) as Record<string, unknown>;
      return want.every(([k, v]) => JSON.stringify(opts[k]) === JSON.stringify(v));
    });
    if (hit === undefined) return undefined;
    const rows = store.db
      .prepare("SELECT idx, prediction FROM evaluation_rows WHERE evaluation_id = ? ORDER BY idx")
      .all(hit.id) as Row[];
    return {
      id: hit.id as number,
      run: hit.run_id as number,
      dataset: hit.dataset_id as number,
      metrics: parse(store, hit.metrics, `evaluation ${hit.id} metrics`) as Record<string, number>,
      createdAt: hit.created_at as string,
      rows: rows.map((r) => parse(store, r.prediction, `evaluation ${hit.id} row ${r.idx}`)),
    };
  };
  // one read transaction: a concurrent writer cannot show half an evaluation
  return store.db.transaction(read).deferred();
}

function parse(store: Store, text: unknown, where: string): unknown {
  try {
    return JSON.parse(String(text));
  } catch (e) {
    throw new StoreError(store.file, `${where} is not valid JSON (${(e as Error).message})`);
  }
}
