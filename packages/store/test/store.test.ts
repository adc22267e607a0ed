// The run store: migrations (from empty, from the previous version, refusal of a newer one), round trips of
// every table, blobs (dedupe, a changed file detected on read), export → import into a fresh store, gc, and
// errors that name the file and field. Every store lives in a temp folder.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import type { TrainEvent } from "@llmdbg/protocol";
import * as T from "@llmdbg/tensor";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { hashModel, MIGRATIONS, migrate, openStore, SCHEMA_VERSION, type Store, StoreError, storeHome } from "../src/index.js";

const root = mkdtempSync(join(tmpdir(), "llmdbg-store-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `s${n++}`);

const lens = { kind: "lens", cells: [[{ top: [{ id: 3, prob: 0.5 }] }]] } as const;
const events: TrainEvent[] = [
  { kind: "end", step: 3, reason: "done", wallMs: 12 },
  { kind: "early_stop", step: 2, metric: "loss", best: 0.5, bestStep: 1 },
];
const x = T.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
const ids = T.tensor([7, 8], [2], "i32");

function flipLastByte(b: Uint8Array): void {
  const i = b.length - 1;
  b[i] = (b[i] ?? 0) ^ 1;
}

function tables(file: string): string[] {
  const db = new Database(file, { readonly: true });
  const names = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map(
    (r) => r.name,
  );
  db.close();
  return names;
}

function sampleRun(s: Store) {
  const model = s.addModel({ path: "/models/tiny", hash: "ab".repeat(32), config: { nLayers: 2 } });
  const id = s.recordRun({
    model,
    kind: "lens",
    prompt: "the cat",
    tokens: [1, 2],
    options: { topK: 3 },
    interventions: [{ kind: "zero", hook: "blocks.0.hook_resid_post" }],
    timings: { forwardMs: 1.5 },
    hardware: { cores: 2 },
    results: [lens],
    events,
    tensors: { cache: { x, ids } },
  });
  return { model, id };
}

describe("migrations", () => {
  it("an empty folder gets every table at the latest version, in WAL mode with foreign keys on", () => {
    const dir = fresh();
    const s = openStore(dir);
    expect(s.schemaVersion).toBe(SCHEMA_VERSION);
    expect(s.db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(s.db.pragma("foreign_keys", { simple: true })).toBe(1);
    expect(s.db.pragma("busy_timeout", { simple: true })).toBeGreaterThan(0);
    s.close();
    expect(tables(join(dir, "store.db"))).toEqual(
      [
        "blobs",
        "checkpoints",
        "dataset_rows",
        "datasets",
        "evaluation_rows",
        "evaluations",
        "events",
        "file_hashes",
        "labels",
        "models",
        "notes",
        "results",
        "run_blobs",
        "runs",
      ].sort(),
    );
  });

  it("a database at version N-1 with data in it is migrated and keeps its data", () => {
    const dir = fresh();
    mkdirSync(dir);
    const file = join(dir, "store.db");
    const db = new Database(file);
    migrate(db, SCHEMA_VERSION - 1);
    expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION - 1);
    db.prepare(
      "INSERT INTO runs (uid, kind, options, interventions, timings, hardware, version, created_at, status) VALUES ('u1', 'run', '{}', '[]', '{}', '{}', '0.0.9', '2026-01-01T00:00:00Z', 'done')",
    ).run();
    db.close();
    const s = openStore(dir);
    expect(s.schemaVersion).toBe(SCHEMA_VERSION);
    const runs = s.listRuns();
    expect(runs.map((r) => [r.uid, r.kind, r.status])).toEqual([["u1", "run", "done"]]);
    // the newer tables work on the old run
    s.addNote(runs[0]?.id ?? 0, "old run, new note");
    expect(s.getRun(runs[0]?.id ?? 0).notes.map((x) => x.text)).toEqual(["old run, new note"]);
    s.close();
  });

  it("the committed stores of every earlier version (test/fixtures/store-vN.sql) open, migrate and keep their data", () => {
    const fixtures = readdirSync(new URL("./fixtures", import.meta.url)).filter((f) => /^store-v\d+\.sql$/.test(f));
    expect(fixtures.length).toBe(SCHEMA_VERSION - 1); // every released version but the current one
    for (const f of fixtures) {
      const v = Number(/\d+/.exec(f)?.[0]);
      const dir = fresh();
      mkdirSync(dir);
      const db = new Database(join(dir, "store.db"));
      db.exec(readFileSync(new URL(`./fixtures/${f}`, import.meta.url), "utf8"));
      expect(db.pragma("user_version", { simple: true })).toBe(v);
      db.close();
      const s = openStore(dir);
      expect(s.schemaVersion).toBe(SCHEMA_VERSION);
      const r = s.getRun(1);
      expect(r).toMatchObject({ kind: "run", prompt: "hello world", tokens: [1, 2, 3], model: { path: "/models/tiny-gpt2" } });
      expect(r.results.map((x) => x.kind)).toEqual(["predictions"]);
      expect(r.events).toEqual([{ kind: "end", step: 1, reason: "done", wallMs: 3 }]);
      if (v >= 2) expect(r.notes.map((n) => n.text)).toEqual(["a note from version 2"]);
      // and it takes new writes of every kind
      const id = sampleRun(s).id;
      s.addNote(id, "new");
      s.addLabel("run:1#0", "new", id);
      expect(s.integrityCheck()).toBe("ok");
      s.close();
    }
  });

  it("each migration is applied in order from every earlier version", () => {
    for (let v = 0; v < MIGRATIONS.length; v++) {
      const dir = fresh();
      mkdirSync(dir);
      const db = new Database(join(dir, "store.db"));
      migrate(db, v);
      db.close();
      const s = openStore(dir);
      expect(s.schemaVersion).toBe(SCHEMA_VERSION);
      sampleRun(s);
      s.close();
    }
  });

  it("a database from a newer llmdbg is refused, naming the file and both versions", () => {
    const dir = fresh();
    mkdirSync(dir);
    const file = join(dir, "store.db");
    const db = new Database(file);
    db.pragma(`user_version = ${SCHEMA_VERSION + 3}`);
    db.close();
    expect(() => openStore(dir)).toThrow(StoreError);
    expect(() => openStore(dir)).toThrow(
      `${file}: the store is at schema version ${SCHEMA_VERSION + 3}, newer than this llmdbg's ${SCHEMA_VERSION}`,
    );
    // and left untouched
    const again = new Database(file);
    expect(again.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION + 3);
    again.close();
  });

  it("a store.db that is not SQLite is an error naming it", () => {
    const dir = fresh();
    mkdirSync(dir);
    writeFileSync(
      join(dir, "store.db"),
      "this is not a database, it is a text file with enough bytes to have a header".repeat(20),
    );
    expect(() => openStore(dir)).toThrow(new RegExp(`^${join(dir, "store.db")}: not a usable llmdbg store: .*not a database`));
  });

  it("the store folder comes from LLMDBG_HOME, else XDG_DATA_HOME, else ~/.local/share", () => {
    expect(storeHome({ LLMDBG_HOME: "/a/b" })).toBe("/a/b");
    expect(storeHome({ XDG_DATA_HOME: "/x" })).toBe("/x/llmdbg");
    expect(storeHome({ LLMDBG_HOME: "", XDG_DATA_HOME: "" })).toMatch(/\/\.local\/share\/llmdbg$/);
  });
});

describe("round trips", () => {
  it("a run with its model, results, events and tensors reads back as written", () => {
    const s = openStore(fresh());
    const { model, id } = sampleRun(s);
    const r = s.getRun(id);
    expect(r.model).toMatchObject({ id: model, path: "/models/tiny", hash: "ab".repeat(32), config: { nLayers: 2 } });
    expect(r).toMatchObject({
      kind: "lens",
      prompt: "the cat",
      tokens: [1, 2],
      options: { topK: 3 },
      interventions: [{ kind: "zero", hook: "blocks.0.hook_resid_post" }],
      timings: { forwardMs: 1.5 },
      hardware: { cores: 2 },
      version: "0.1.0",
      status: "done",
    });
    expect(r.results.map((x) => x.result)).toEqual([lens]);
    expect(r.events).toEqual(events);
    expect(r.blobs.map((b) => b.name)).toEqual(["cache"]);
    const t = s.getTensor(r.blobs[0]?.id ?? -1);
    expect(Array.from(t.x?.data ?? [])).toEqual([1, 2, 3, 4, 5, 6]);
    expect(t.x?.shape).toEqual([2, 3]);
    expect(t.ids?.dtype).toBe("i32");
    expect(Array.from(t.ids?.data ?? [])).toEqual([7, 8]);
    s.close();
  });

  it("results, events, notes, labels, datasets and evaluations added later; list filters", () => {
    const s = openStore(fresh());
    const { id } = sampleRun(s);
    const other = s.recordRun({ kind: "train", status: "running" });
    s.addResult(id, { kind: "dla", components: [] });
    expect(s.appendEvents(id, [{ kind: "end", step: 9, reason: "aborted", wallMs: 1 }])).toBe(2);
    s.addNote(id, "this head matters", "run:1#0");
    s.addNote(id, "whole run");
    s.addLabel("dataset:1#17", "toxic", id);
    s.addLabel("dataset:1#17", "fine");
    const ds = s.addDataset({ path: "/data/x.jsonl", hash: "cd".repeat(32), count: 100 });
    expect(s.addDataset({ path: "/data/x.jsonl", hash: "cd".repeat(32), count: 100 })).toBe(ds);
    s.addEvaluation(id, ds, { accuracy: 0.75 });
    s.setStatus(other, "done", { wallMs: 5 });
    const r = s.getRun(id);
    expect(r.results.map((x) => x.kind)).toEqual(["lens", "dla"]);
    expect(r.events.map((e) => ("step" in e ? e.step : -1))).toEqual([3, 2, 9]);
    expect(r.notes.map((x) => [x.example, x.text])).toEqual([
      ["run:1#0", "this head matters"],
      [null, "whole run"],
    ]);
    expect(r.labels.map((x) => x.label)).toEqual(["toxic"]);
    expect(s.labelsOf("dataset:1#17").map((x) => x.label)).toEqual(["toxic", "fine"]);
    expect(r.evaluations.map((e) => [e.dataset.path, e.dataset.count, e.metrics])).toEqual([
      ["/data/x.jsonl", 100, { accuracy: 0.75 }],
    ]);
    expect(s.getRun(other)).toMatchObject({ status: "done", timings: { wallMs: 5 }, model: null, prompt: null, tokens: null });
    expect(s.listRuns().map((x) => x.id)).toEqual([other, id]);
    expect(s.listRuns({ kind: "lens" })).toMatchObject([{ id, results: 2, events: 3, blobs: 1, model: "/models/tiny" }]);
    expect(s.listRuns({ status: "running" })).toEqual([]);
    expect(s.listRuns({ limit: 1 }).map((x) => x.id)).toEqual([other]);
    expect(s.listRuns({ model: r.model?.id ?? -1 }).map((x) => x.id)).toEqual([id]);
    expect(s.listRuns({ since: "2100-01-01" })).toEqual([]);
    expect(s.listRuns({ since: "2000-01-01", kind: "train", status: "done" }).map((x) => x.id)).toEqual([other]);
    s.deleteRun(id);
    expect(s.listRuns().map((x) => x.id)).toEqual([other]);
    expect(s.db.prepare("SELECT count(*) AS c FROM events").get()).toEqual({ c: 0 });
    s.close();
  });

  it("an unknown run, model or blob is an error naming the store and the id; a failed write leaves nothing", () => {
    const s = openStore(fresh());
    expect(() => s.getRun(42)).toThrow(`${s.file}: run 42 is not in the store`);
    expect(() => s.addResult(42, lens)).toThrow("run 42 is not in the store");
    expect(() => s.appendEvents(42, events)).toThrow("run 42 is not in the store");
    expect(() => s.getTensor(7)).toThrow("blob 7 is not in the store");
    expect(() => s.recordRun({ kind: "run", model: 5 })).toThrow("model 5 is not in the store");
    expect(() => s.recordRun({ kind: "" })).toThrow("kind must be a non-empty string");
    // the second result is bad: the run and its first result must not be there
    expect(() => s.recordRun({ kind: "run", results: [lens, 3 as unknown as typeof lens] })).toThrow(
      'must be an object with a string "kind"',
    );
    expect(s.listRuns()).toEqual([]);
    expect(s.db.prepare("SELECT count(*) AS c FROM results").get()).toEqual({ c: 0 });
    s.close();
  });
});

describe("blobs", () => {
  it("the same tensors are stored once, and a changed file is detected on read", () => {
    const s = openStore(fresh());
    const a = s.putTensor({ x });
    const b = s.putTensor({ x: T.tensor([1, 2, 3, 4, 5, 6], [2, 3]) });
    expect(b).toEqual(a);
    expect(readdirSync(s.blobDir)).toEqual([`${a.hash}.safetensors`]);
    const c = s.putTensor({ x: T.tensor([1, 2, 3, 4, 5, 7], [2, 3]) });
    expect(c.hash).not.toBe(a.hash);
    // flip one byte of the data
    const file = s.blobFile(a.hash);
    const bytes = readFileSync(file);
    flipLastByte(bytes);
    writeFileSync(file, bytes);
    expect(() => s.getTensor(a.id)).toThrow(`${file}: blob ${a.id} is corrupt: its content hashes to`);
    rmSync(file);
    expect(() => s.getTensor(a.hash)).toThrow(`blob ${a.id} is missing from the store`);
    // storing it again restores the file under the same row
    expect(s.putTensor({ x })).toEqual(a);
    expect(Array.from(s.getTensor(a.id).x?.data ?? [])).toEqual([1, 2, 3, 4, 5, 6]);
    s.close();
  });

  it("gc deletes the blobs no run names, and stray files, and nothing else", () => {
    const s = openStore(fresh());
    const { id } = sampleRun(s);
    const kept = s.getRun(id).blobs[0];
    const other = s.recordRun({ kind: "run", tensors: { a: { x } } });
    const loose = s.putTensor({ y: T.tensor([9], [1]) });
    const dropped = s.putTensor({ z: T.tensor([8], [1]) }, { run: other, name: "b" });
    const a = s.getRun(other).blobs.find((b) => b.name === "a")?.bytes ?? 0;
    s.deleteRun(other);
    writeFileSync(join(s.blobDir, `${"0".repeat(64)}.safetensors.tmp-1-abc`), "half");
    const report = s.gc();
    expect(report.blobs).toBe(3);
    expect(report.strayFiles).toBe(1);
    expect(report.bytes).toBe(a + loose.bytes + dropped.bytes + 4);
    expect(readdirSync(s.blobDir)).toEqual([`${kept?.hash}.safetensors`]);
    expect(s.getTensor(kept?.id ?? -1).x?.shape).toEqual([2, 3]);
    expect(() => s.getTensor(loose.id)).toThrow("is not in the store");
    expect(s.gc()).toEqual({ blobs: 0, strayFiles: 0, bytes: 0 });
    s.close();
  });
});

describe("exporting and importing", () => {
  it("a run exported and imported into a fresh store is the same run, results, events and tensors", () => {
    const a = openStore(fresh());
    const { id } = sampleRun(a);
    a.addNote(id, "look here", "run:1#1");
    a.addLabel("run:1#1", "odd", id);
    a.addEvaluation(id, a.addDataset({ path: "/d.jsonl", hash: "ef".repeat(32), count: 3 }), { loss: 1.25 });
    const folder = join(fresh(), "export");
    a.exportRun(id, folder);
    expect(readdirSync(folder).sort()).toEqual(["blobs", "run.json"]);
    const b = openStore(fresh());
    const id2 = b.importRun(folder);
    const ra = a.getRun(id);
    const rb = b.getRun(id2);
    const strip = (r: typeof ra) => ({
      ...r,
      id: 0,
      model: r.model === null ? null : { ...r.model, id: 0, addedAt: "" },
      results: r.results.map((x) => ({ ...x, id: 0 })),
      blobs: r.blobs.map((x) => ({ ...x, id: 0 })),
      notes: r.notes.map((x) => ({ ...x, id: 0, run: 0 })),
      labels: r.labels.map((x) => ({ ...x, id: 0, run: 0 })),
      evaluations: r.evaluations.map((x) => ({ ...x, id: 0, run: 0, dataset: { ...x.dataset, id: 0, addedAt: "" } })),
    });
    expect(strip(rb)).toEqual(strip(ra));
    for (const blob of rb.blobs) {
      const ta = a.getTensor(blob.hash);
      const tb = b.getTensor(blob.hash);
      for (const k of Object.keys(ta)) expect(Array.from(tb[k]?.data ?? [])).toEqual(Array.from(ta[k]?.data ?? []));
    }
    // the same run again is refused, naming it
    expect(() => b.importRun(folder)).toThrow(`is already in the store as run ${id2}`);
    a.close();
    b.close();
  });

  it("a malformed export folder is an error naming the file and field, and writes nothing", () => {
    const a = openStore(fresh());
    const { id } = sampleRun(a);
    const folder = join(fresh(), "export");
    a.exportRun(id, folder);
    expect(() => a.exportRun(id, folder)).toThrow(`${folder}: the export folder exists and is not empty`);
    const b = openStore(fresh());
    const doc = readFileSync(join(folder, "run.json"), "utf8");
    const file = join(folder, "run.json");
    const edit = (f: (d: Record<string, unknown>) => void) => {
      const d = JSON.parse(doc);
      f(d);
      writeFileSync(file, JSON.stringify(d));
    };
    edit((d) => {
      d.format = "other";
    });
    expect(() => b.importRun(folder)).toThrow(`${file}: format must be "llmdbg.run"`);
    edit((d) => {
      (d.run as Record<string, unknown>).tokens = [1, "x"];
    });
    expect(() => b.importRun(folder)).toThrow(`${file}: run.tokens[1] must be an integer`);
    edit((d) => {
      (d.results as unknown[]).push({ nokind: 1 });
    });
    expect(() => b.importRun(folder)).toThrow(`${file}: results[1].kind must be a string`);
    writeFileSync(file, "{ nope");
    expect(() => b.importRun(folder)).toThrow(`${file}: not valid JSON`);
    writeFileSync(file, doc);
    const blob = join(folder, "blobs", readdirSync(join(folder, "blobs"))[0] ?? "");
    const bytes = readFileSync(blob);
    flipLastByte(bytes);
    writeFileSync(blob, bytes);
    expect(() => b.importRun(folder)).toThrow(`${blob}: content hashes to`);
    rmSync(blob);
    expect(() => b.importRun(folder)).toThrow("is missing");
    expect(() => b.importRun(join(root, "nowhere"))).toThrow("not a folder");
    expect(b.listRuns()).toEqual([]);
    expect(readdirSync(b.blobDir)).toEqual([]);
    a.close();
    b.close();
  });
});

describe("models", () => {
  it("a model is identified by path and content hash; any change to a file changes the hash", () => {
    const dir = join(fresh(), "model");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "config.json"), "{}");
    writeFileSync(join(dir, "model.safetensors"), "weights");
    const h1 = hashModel(dir);
    writeFileSync(join(dir, "model.safetensors"), "weightz");
    expect(hashModel(dir)).not.toBe(h1);
    const s = openStore(fresh());
    const m = s.addModel({ path: dir, hash: h1, config: {} });
    expect(s.addModel({ path: dir, hash: h1, config: {} })).toBe(m);
    expect(s.addModel({ path: dir, hash: hashModel(dir), config: {} })).not.toBe(m);
    expect(s.listModels()).toHaveLength(2);
    // the store's hashModel is hashModel, remembered per file by size and mtime
    expect(s.hashModel(dir)).toBe(hashModel(dir));
    expect(s.db.prepare("SELECT count(*) AS c FROM file_hashes").get()).toEqual({ c: 2 });
    s.db.prepare("UPDATE file_hashes SET hash = 'remembered'").run();
    const cached = s.hashModel(dir);
    expect(cached).not.toBe(hashModel(dir)); // read from the cache, not the files
    writeFileSync(join(dir, "model.safetensors"), "new weights"); // a new size: hashed again
    const after = s.hashModel(dir);
    expect(after).not.toBe(cached);
    expect(s.db.prepare("SELECT count(*) AS c FROM file_hashes WHERE hash = 'remembered'").get()).toEqual({ c: 1 });
    s.close();
  });

  it("modelAt stores the absolute path with its content hash, once per content", () => {
    const dir = join(fresh(), "model");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "config.json"), "{}");
    const s = openStore(fresh());
    const id = s.modelAt(relative(process.cwd(), dir), { nLayers: 1 });
    expect(s.getModel(id)).toMatchObject({ path: dir, hash: hashModel(dir), config: { nLayers: 1 } });
    expect(s.modelAt(dir, { nLayers: 1 })).toBe(id);
    writeFileSync(join(dir, "config.json"), "{ }");
    expect(s.modelAt(dir, { nLayers: 1 })).not.toBe(id);
    s.close();
  });
});
