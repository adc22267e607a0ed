// The datasets a server holds, named by id like its models (the browser never names a file): JSONL files it was
// started with (`--dataset PATH`), examples handed over in memory (`llmdbg demo`'s sets generated from the zoo's
// recipes), and uploads (`POST /api/datasets`), which the run store keeps so they are served again after a
// restart. The examples go to the browser in pages over REST; predictions are a job (predict.ts) whose results the
// run store keeps as an evaluation — the registry answers a repeated request from there (or, without a store,
// from memory) instead of computing again.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename, extname, resolve } from "node:path";
import type { DatasetExample, DatasetInfo, DatasetRowsPage, PredictionsResult, RowPrediction } from "@llmdbg/protocol";
import {
  addDataset,
  datasetExamples,
  type Example,
  latestEvaluation,
  listDatasets,
  recordEvaluation,
  type Store,
} from "@llmdbg/store";
import { DatasetError, exampleView, goldOf, MAX_ROWS, parseJsonl } from "./jsonl.js";
import type { PredictJob } from "./predict.js";

/** A dataset given to the server: a JSONL file, or examples in memory. */
export type DatasetSource =
  | string
  | { readonly name?: string; readonly examples: readonly Example[]; readonly source?: "file" | "upload" | "zoo" };

interface Held {
  readonly info: DatasetInfo;
  readonly examples: readonly DatasetExample[];
  /** its id in the run store, when there is one */
  readonly storeId: number | undefined;
}

/** The most examples one page of `GET /api/datasets/<id>/rows` holds. */
export const PAGE_MAX = 5000;

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

/** A name made into an id: letters, digits, `.`, `_` and `-`, at most 64. */
export function idOf(name: string): string {
  const id = name
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, 64);
  return id === "" ? "dataset" : id;
}

function infoOf(id: string, name: string, source: DatasetInfo["source"], examples: readonly DatasetExample[]): DatasetInfo {
  const labels = new Set<string>();
  const columns = new Set<string>();
  for (const e of examples) {
    if (e.label !== null && labels.size <= 256) labels.add(e.label);
    for (const k of Object.keys(e.fields)) columns.add(k);
  }
  return {
    id,
    name,
    count: examples.length,
    source,
    labels: labels.size > 256 ? [] : [...labels].sort(),
    columns: [...columns].sort(),
  };
}

export class DatasetRegistry {
  private readonly held = new Map<string, Held>();
  /** predictions computed while no store keeps them: `model\0dataset` */
  private readonly memory = new Map<string, PredictionsResult>();

  constructor(
    private readonly store: Store | undefined,
    private readonly warn: (message: string) => void,
    readonly maxRows = MAX_ROWS,
  ) {
    // the uploads of earlier sessions
    if (store === undefined) return;
    try {
      for (const d of listDatasets(store, "upload:")) {
        if (!d.hasRows) continue;
        const examples = datasetExamples(store, d.id).map(exampleView);
        this.add(d.name, "upload", examples, d.id);
      }
    } catch (e) {
      warn(`llmdbg serve: warning: the run store's datasets cannot be read: ${e instanceof Error ? e.message : e}`);
    }
  }

  /** Registers a JSONL file or examples under `id` (a refused file throws a DatasetError naming it). */
  register(id: string, source: DatasetSource): DatasetInfo {
    if (!ID.test(id))
      throw new DatasetError(`dataset id ${JSON.stringify(id)}: use letters, digits, '.', '_' and '-' (at most 64)`);
    if (this.held.has(id)) throw new DatasetError(`dataset id ${JSON.stringify(id)} is given twice`);
    let examples: readonly Example[];
    let path: string;
    let hash: string;
    let name: string;
    let kind: DatasetInfo["source"];
    if (typeof source === "string") {
      path = resolve(source);
      let text: string;
      try {
        text = readFileSync(path, "utf8");
      } catch (e) {
        throw new DatasetError(`${source}: cannot read the dataset (${(e as Error).message})`);
      }
      try {
        examples = parseJsonl(text, this.maxRows);
      } catch (e) {
        throw new DatasetError(`${source}: ${(e as Error).message}`);
      }
      hash = sha(text);
      name = basename(path, extname(path));
      kind = "file";
    } else {
      examples = source.examples;
      const text = examples.map((e) => JSON.stringify(e)).join("\n");
      kind = source.source ?? "zoo";
      name = source.name ?? id;
      path = `${kind}:${name}`;
      hash = sha(text);
    }
    const storeId = this.storeDataset({ path, hash, name, count: examples.length });
    return this.add(name, kind, examples.map(exampleView), storeId, id);
  }

  /**
   * An upload: a JSONL body checked line by line (a DatasetError names the line and field), kept in the store
   * when there is one. The same content under the same name is the same dataset.
   */
  upload(name: string, body: string): DatasetInfo {
    const examples = parseJsonl(body, this.maxRows);
    const clean = name.trim().slice(0, 100) || "upload";
    const hash = sha(body);
    const same = [...this.held.values()].find(
      (h) => h.info.source === "upload" && h.info.name === clean && h.storeId !== undefined,
    );
    let storeId: number | undefined;
    if (this.store !== undefined) {
      try {
        storeId = addDataset(this.store, { path: `upload:${clean}`, hash, name: clean, examples });
      } catch (e) {
        this.warn(`llmdbg serve: warning: the run store did not keep the upload ${clean}: ${e instanceof Error ? e.message : e}`);
      }
    }
    if (same !== undefined && same.storeId === storeId) return same.info;
    return this.add(clean, "upload", examples.map(exampleView), storeId);
  }

  private storeDataset(d: { path: string; hash: string; name: string; count: number }): number | undefined {
    if (this.store === undefined) return undefined;
    try {
      return addDataset(this.store, d);
    } catch (e) {
      this.warn(
        `llmdbg serve: warning: the run store did not record the dataset ${d.name}: ${e instanceof Error ? e.message : e}`,
      );
      return undefined;
    }
  }

  private add(name: string, source: DatasetInfo["source"], examples: DatasetExample[], storeId: number | undefined, id?: string) {
    let unique = id ?? idOf(name);
    for (let n = 2; this.held.has(unique); n++) unique = `${idOf(name).slice(0, 58)}-${n}`;
    const info = infoOf(unique, name, source, examples);
    this.held.set(unique, { info, examples, storeId });
    return info;
  }

  list(): DatasetInfo[] {
    return [...this.held.values()].map((h) => h.info);
  }

  has(id: string): boolean {
    return this.held.has(id);
  }

  /** A page of examples; undefined for an unknown dataset. */
  page(id: string, offset: number, limit: number): DatasetRowsPage | undefined {
    const h = this.held.get(id);
    if (h === undefined) return undefined;
    return { dataset: id, offset, total: h.examples.length, rows: h.examples.slice(offset, offset + limit) };
  }

  /** What a worker needs to predict: each example's text and gold (a classifier's is its label). */
  job(id: string, classifier: boolean, batch: number | undefined): PredictJob {
    const h = this.held.get(id) as Held;
    return {
      dataset: id,
      rows: h.examples.map((e) => ({ text: e.text, gold: classifier ? e.label : goldOf(e) })),
      ...(batch !== undefined && { batch }),
    };
  }

  /** The predictions of this model (its store id, or null) on the dataset, when kept; undefined otherwise. */
  cached(model: string, storeModel: number | null, dataset: string): PredictionsResult | undefined {
    const mem = this.memory.get(`${model}\0${dataset}`);
    if (mem !== undefined) return { ...mem, cached: true };
    const storeId = this.held.get(dataset)?.storeId;
    if (this.store === undefined || storeModel === null || storeId === undefined) return undefined;
    try {
      const e = latestEvaluation(this.store, { dataset: storeId, model: storeModel, kind: "predict" });
      if (e === undefined) return undefined;
      return {
        kind: "predictions",
        model,
        dataset,
        rows: e.rows as RowPrediction[],
        metrics: e.metrics as unknown as PredictionsResult["metrics"],
        cached: true,
      };
    } catch (e) {
      this.warn(`llmdbg serve: warning: the run store's predictions cannot be read: ${e instanceof Error ? e.message : e}`);
      return undefined;
    }
  }

  /** Keeps finished predictions: as an evaluation of the job's stored run, or in memory without one. */
  keep(result: PredictionsResult, run: number | undefined): void {
    const storeId = this.held.get(result.dataset)?.storeId;
    if (this.store !== undefined && run !== undefined && storeId !== undefined) {
      try {
        const metrics = Object.fromEntries(Object.entries(result.metrics).filter((e): e is [string, number] => e[1] !== null));
        recordEvaluation(this.store, { run, dataset: storeId, metrics, rows: result.rows });
        return;
      } catch (e) {
        this.warn(`llmdbg serve: warning: the run store did not keep the predictions: ${e instanceof Error ? e.message : e}`);
      }
    }
    this.memory.set(`${result.model}\0${result.dataset}`, result);
  }
}

/** A REST answer of the datasets routes. */
export type DatasetsAnswer =
  | { readonly status: 200 | 201; readonly json: unknown }
  | { readonly status: 400 | 404 | 405 | 415; readonly text: string };

/** The content types an upload may carry (none of them a form's, so a page elsewhere cannot post one blindly). */
const JSONL_TYPES = /^application\/(x-ndjson|jsonl|x-jsonlines)\b/i;

/**
 * `GET /api/datasets` (the list), `GET /api/datasets/<id>/rows?offset=&limit=` (a page) and `POST
 * /api/datasets?name=…` (an upload; a JSONL body). `path` is the raw request path.
 */
export function datasetsRoute(
  reg: DatasetRegistry,
  method: string,
  path: string,
  query: URLSearchParams,
  contentType: string,
  body: string,
): DatasetsAnswer {
  const parts = path.split("/").slice(3); // "", "api", "datasets", …
  if (parts.length === 0 || (parts.length === 1 && parts[0] === "")) {
    if (method === "GET" || method === "HEAD") return { status: 200, json: { datasets: reg.list() } };
    if (method !== "POST") return { status: 405, text: "method not allowed" };
    if (!JSONL_TYPES.test(contentType)) return { status: 415, text: "expected application/x-ndjson (one JSON object per line)" };
    const name = query.get("name") ?? "upload";
    if (name.length > 100) return { status: 400, text: "name: at most 100 characters" };
    try {
      return { status: 201, json: reg.upload(name, body) };
    } catch (e) {
      if (e instanceof DatasetError) return { status: 400, text: e.message };
      throw e;
    }
  }
  const [id, what, ...rest] = parts;
  if (method !== "GET" && method !== "HEAD") return { status: 405, text: "method not allowed" };
  if (id === undefined || !ID.test(id)) return { status: 400, text: "a dataset id is letters, digits, '.', '_' and '-'" };
  if (what !== "rows" || rest.length > 0) return { status: 404, text: "not found" };
  const offset = query.get("offset") ?? "0";
  const limit = query.get("limit") ?? "1000";
  if (!/^[0-9]{1,9}$/.test(offset)) return { status: 400, text: "offset: expected a count" };
  if (!/^[0-9]{1,9}$/.test(limit) || Number(limit) < 1 || Number(limit) > PAGE_MAX)
    return { status: 400, text: `limit: expected a count in [1, ${PAGE_MAX}]` };
  const page = reg.page(id, Number(offset), Number(limit));
  if (page === undefined) return { status: 404, text: `no dataset ${id} (GET /api/datasets lists them)` };
  return { status: 200, json: page };
}
