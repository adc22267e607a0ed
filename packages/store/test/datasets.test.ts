// Datasets and evaluations in the run store: an upload's examples round trip with their extra fields, the same
// content is one dataset, paging, an evaluation's rows read back by (dataset, model, kind, options) only when
// complete and finished, and the version-3 fixture's dataset migrates with its name defaulting to its path.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import {
  addDataset,
  datasetExamples,
  getDataset,
  latestEvaluation,
  listDatasets,
  openStore,
  recordEvaluation,
  StoreError,
} from "../src/index.js";

const root = mkdtempSync(join(tmpdir(), "llmdbg-store-datasets-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => openStore(join(root, `s${n++}`));

const examples = [
  { text: "great film", label: "pos", source: "imdb" },
  { text: "dull <b>plot</b>", label: "neg" },
  { text: "no label here", target: " yes" },
];

describe("datasets in the store", () => {
  it("stores an upload's examples with their fields; the same content again is the same dataset", () => {
    const s = fresh();
    const id = addDataset(s, { path: "upload:reviews", hash: "a".repeat(64), name: "reviews", examples });
    expect(addDataset(s, { path: "upload:reviews", hash: "a".repeat(64), name: "reviews", examples })).toBe(id);
    const other = addDataset(s, { path: "/data/x.jsonl", hash: "b".repeat(64), name: "x", count: 7 });
    expect(other).not.toBe(id);
    expect(getDataset(s, id)).toMatchObject({ name: "reviews", count: 3, hasRows: true });
    expect(getDataset(s, other)).toMatchObject({ name: "x", count: 7, hasRows: false });
    expect(datasetExamples(s, id)).toEqual(examples);
    expect(datasetExamples(s, id, 1, 1)).toEqual([examples[1]]);
    expect(datasetExamples(s, id, 2, 10)).toEqual([examples[2]]);
    expect(datasetExamples(s, id, 3, 10)).toEqual([]);
    expect(listDatasets(s, "upload:").map((d) => d.name)).toEqual(["reviews"]);
    expect(listDatasets(s).map((d) => d.name)).toEqual(["reviews", "x"]);
    expect(() => getDataset(s, 99)).toThrow(StoreError);
    s.close();
  });

  it("finds the newest finished, complete evaluation of a dataset by model, kind and options", () => {
    const s = fresh();
    const model = s.addModel({ path: "/m/tiny", hash: "c".repeat(64), config: {} });
    const otherModel = s.addModel({ path: "/m/other", hash: "d".repeat(64), config: {} });
    const dataset = addDataset(s, { path: "upload:r", hash: "e".repeat(64), name: "r", examples });
    const rows = examples.map((_, i) => ({ index: i, prob: i / 10 }));
    const run = (m: number, options: Record<string, unknown>, status: "done" | "failed" = "done") =>
      s.recordRun({ model: m, kind: "predict", options, status });
    expect(latestEvaluation(s, { dataset, model, kind: "predict" })).toBeUndefined();
    const first = recordEvaluation(s, { run: run(model, { topK: 5 }), dataset, metrics: { accuracy: 0.5 }, rows });
    const second = recordEvaluation(s, { run: run(model, { topK: 5 }), dataset, metrics: { accuracy: 0.75 }, rows });
    // incomplete (fewer rows than examples), failed, other options or another model: never the answer
    recordEvaluation(s, { run: run(model, { topK: 5 }), dataset, metrics: {}, rows: rows.slice(0, 2) });
    recordEvaluation(s, { run: run(model, { topK: 5 }, "failed"), dataset, metrics: {}, rows });
    recordEvaluation(s, { run: run(model, { topK: 9 }), dataset, metrics: {}, rows });
    recordEvaluation(s, { run: run(otherModel, { topK: 5 }), dataset, metrics: {}, rows });
    const got = latestEvaluation(s, { dataset, model, kind: "predict", options: { topK: 5 } });
    expect(got?.id).toBe(second);
    expect(got?.id).not.toBe(first);
    expect(got?.metrics).toEqual({ accuracy: 0.75 });
    expect(got?.rows).toEqual(rows);
    expect(latestEvaluation(s, { dataset, model, kind: "lens" })).toBeUndefined();
    // the evaluation shows on its run too, and goes with it
    expect(s.getRun(got?.run ?? 0).evaluations.map((e) => e.metrics)).toEqual([{ accuracy: 0.75 }]);
    s.deleteRun(got?.run ?? 0);
    expect(latestEvaluation(s, { dataset, model, kind: "predict", options: { topK: 5 } })?.id).toBe(first);
    expect(() => recordEvaluation(s, { run: 999, dataset, metrics: {}, rows })).toThrow(/run 999 is not in the store/);
    s.close();
  });

  it("a version-3 store's dataset gets a name (its path) and takes rows and evaluations after migrating", () => {
    const dir = join(root, `s${n++}`);
    mkdirSync(dir);
    const db = new Database(join(dir, "store.db"));
    db.exec(readFileSync(new URL("./fixtures/store-v3.sql", import.meta.url), "utf8"));
    db.close();
    const s = openStore(dir);
    expect(getDataset(s, 1)).toMatchObject({ name: "/data/reviews.jsonl", count: 2, hasRows: false });
    expect(s.getRun(1).evaluations.map((e) => e.metrics)).toEqual([{ accuracy: 0.5 }]);
    const id = addDataset(s, { path: "upload:new", hash: "f".repeat(64), name: "new", examples });
    expect(datasetExamples(s, id)).toHaveLength(3);
    expect(s.integrityCheck()).toBe("ok");
    s.close();
  });
});
