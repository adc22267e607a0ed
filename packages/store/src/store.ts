// The run store: one SQLite database (`store.db`, WAL mode) and a folder of tensor blobs, each a safetensors
// file named by the sha256 of its bytes (`blobs/<sha256>.safetensors`). Every write of a run is one
// transaction. A blob's file is written (temporary file, fsync, rename) inside the transaction that adds the
// row naming it, and gc deletes files inside its own, so a committed row always names a whole file: a crash
// leaves at most an unnamed file, which gc removes.
import { randomUUID } from "node:crypto";
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { decodeSafetensors, encodeSafetensors, type WriteOptions } from "@llmdbg/formats";
import type { MethodResult, TrainEvent } from "@llmdbg/protocol";
import type { Tensor } from "@llmdbg/tensor";
import Database from "better-sqlite3";
import { StoreError, sqliteMessage } from "./errors.js";
import { exportRun, importRun, type RunExport } from "./export.js";
import { hashFile, hashModel, LLMDBG_VERSION, sha256, storeHome } from "./home.js";
import { migrate, SCHEMA_VERSION } from "./schema.js";

export type RunStatus = "running" | "done" | "failed" | "aborted";
const STATUSES: readonly RunStatus[] = ["running", "done", "failed", "aborted"];

/** A method result as stored: the protocol's MethodResult, or any JSON object tagged by `kind`. */
export type ResultJson = MethodResult | { readonly kind: string; readonly [field: string]: unknown };

/** Named tensors: the contents of one blob. */
export type Tensors = Readonly<Record<string, Tensor>>;

export interface ModelInput {
  /** the folder or .gguf file */
  readonly path: string;
  /** content hash (see hashModel) */
  readonly hash: string;
  /** the normalized config, JSON */
  readonly config: unknown;
}

export interface ModelRecord {
  readonly id: number;
  readonly path: string;
  readonly hash: string;
  readonly config: unknown;
  readonly addedAt: string;
}

export interface RunInput {
  /** the model's id (addModel) */
  readonly model?: number | null;
  /** the command or method: run, generate, train, lens, … */
  readonly kind: string;
  readonly prompt?: string | null;
  readonly tokens?: readonly number[] | null;
  readonly options?: Readonly<Record<string, unknown>>;
  readonly interventions?: readonly unknown[];
  /** milliseconds by phase */
  readonly timings?: Readonly<Record<string, number>>;
  readonly hardware?: Readonly<Record<string, unknown>>;
  /** default: this llmdbg's */
  readonly version?: string;
  /** default "done" */
  readonly status?: RunStatus;
  /** ISO time; default now */
  readonly createdAt?: string;
  /** the run's identity across stores; default a new UUID */
  readonly uid?: string;
  readonly results?: readonly ResultJson[];
  readonly events?: readonly TrainEvent[];
  /** blobs by name, each a set of named tensors */
  readonly tensors?: Readonly<Record<string, Tensors>>;
}

export interface BlobRef {
  readonly id: number;
  readonly hash: string;
  readonly bytes: number;
}

export interface RunBlob extends BlobRef {
  /** the name the run gave it */
  readonly name: string;
}

export interface StoredResult {
  readonly id: number;
  readonly kind: string;
  readonly result: MethodResult;
}

export interface Note {
  readonly id: number;
  readonly run: number | null;
  readonly example: string | null;
  readonly text: string;
  readonly createdAt: string;
}

export interface Label {
  readonly id: number;
  readonly run: number | null;
  readonly example: string;
  readonly label: string;
  readonly createdAt: string;
}

export interface DatasetRecord {
  readonly id: number;
  readonly path: string;
  readonly hash: string;
  readonly count: number;
  readonly addedAt: string;
}

export interface Evaluation {
  readonly id: number;
  readonly run: number;
  readonly dataset: DatasetRecord;
  readonly metrics: Readonly<Record<string, number>>;
  readonly createdAt: string;
}

export interface RunSummary {
  readonly id: number;
  readonly uid: string;
  readonly kind: string;
  readonly model: string | null;
  readonly prompt: string | null;
  readonly createdAt: string;
  readonly status: RunStatus;
  readonly results: number;
  readonly events: number;
  readonly blobs: number;
}

export interface RunRecord {
  readonly id: number;
  readonly uid: string;
  readonly model: ModelRecord | null;
  readonly kind: string;
  readonly prompt: string | null;
  readonly tokens: number[] | null;
  readonly options: Record<string, unknown>;
  readonly interventions: unknown[];
  readonly timings: Record<string, number>;
  readonly hardware: Record<string, unknown>;
  readonly version: string;
  readonly createdAt: string;
  readonly status: RunStatus;
  readonly results: StoredResult[];
  readonly events: TrainEvent[];
  readonly blobs: RunBlob[];
  readonly notes: Note[];
  readonly labels: Label[];
  readonly evaluations: Evaluation[];
}

export interface RunFilter {
  readonly kind?: string;
  readonly model?: number;
  readonly status?: RunStatus;
  /** runs created at or after this ISO time */
  readonly since?: string;
  /** the newest N (default all) */
  readonly limit?: number;
}

export interface GcReport {
  /** blob rows no run names, deleted with their files */
  readonly blobs: number;
  /** files in blobs/ no row named (left by a crash) and temporary files */
  readonly strayFiles: number;
  /** bytes freed on disk */
  readonly bytes: number;
}

const now = () => new Date().toISOString();

/** A blob encoded and hashed, before the transaction that stores it. */
interface Encoded {
  readonly bytes: Uint8Array;
  readonly hash: string;
}

/**
 * Opens (creating if needed) the store in `dir`: `dir/store.db` and `dir/blobs/`. An older database is
 * migrated; a newer one, or a file that is not an SQLite database, is a StoreError naming it.
 * @example
 * const store = openStore(storeHome());
 * const id = store.recordRun({ kind: "run", prompt: "hello", results: [lens] });
 * store.close();
 */
export function openStore(dir: string = storeHome()): Store {
  return new Store(resolve(dir));
}

export class Store {
  /** the database file */
  readonly file: string;
  readonly blobDir: string;
  readonly db: Database.Database;

  constructor(readonly dir: string) {
    if (existsSync(dir) && !statSync(dir).isDirectory()) throw new StoreError(dir, "the store folder is a file");
    mkdirSync(join(dir, "blobs"), { recursive: true });
    this.file = join(dir, "store.db");
    this.blobDir = join(dir, "blobs");
    let db: Database.Database;
    try {
      db = new Database(this.file, { timeout: 10_000 });
    } catch (e) {
      throw new StoreError(this.file, `cannot open the store database: ${sqliteMessage(e)}`);
    }
    try {
      // the first statement reads the header: a file that is not SQLite fails here
      const version = db.pragma("user_version", { simple: true }) as number;
      if (version > SCHEMA_VERSION)
        throw new StoreError(
          this.file,
          `the store is at schema version ${version}, newer than this llmdbg's ${SCHEMA_VERSION}; use a newer llmdbg or another store folder`,
        );
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.pragma("foreign_keys = ON");
      migrate(db);
    } catch (e) {
      db.close();
      if (e instanceof StoreError) throw e;
      throw new StoreError(this.file, `not a usable llmdbg store: ${sqliteMessage(e)}`);
    }
    this.db = db;
  }

  /** The schema version of the open database (always this code's after opening). */
  get schemaVersion(): number {
    return this.db.pragma("user_version", { simple: true }) as number;
  }

  close(): void {
    this.db.close();
  }

  /** Runs `fn` in one write transaction (BEGIN IMMEDIATE, so concurrent writers queue on the busy timeout). */
  transaction<R>(fn: () => R): R {
    return this.db.transaction(fn).immediate();
  }

  // ---- models and datasets ----

  /**
   * The id of the model with this path and hash, adding it if new.
   * @example const model = store.addModel({ path, hash: hashModel(path), config: m.config })
   */
  addModel(m: ModelInput): number {
    return this.transaction(() => this.addModelRow(m));
  }

  /**
   * hashModel with each file's sha256 remembered by path, size and modification time, so recording a run of a
   * large model reads its weights once, not on every run.
   * @example store.addModel({ path, hash: store.hashModel(path), config })
   */
  hashModel(path: string): string {
    const get = this.db.prepare("SELECT hash FROM file_hashes WHERE path = ? AND size = ? AND mtime_ms = ?");
    const put = this.db.prepare("INSERT OR REPLACE INTO file_hashes (path, size, mtime_ms, hash) VALUES (?, ?, ?, ?)");
    return hashModel(resolve(path), (file) => {
      const st = statSync(file);
      const known = get.get(file, st.size, st.mtimeMs) as { hash: string } | undefined;
      if (known !== undefined) return known.hash;
      const hash = hashFile(file);
      put.run(file, st.size, st.mtimeMs, hash);
      return hash;
    });
  }

  /**
   * The id of the model at `path` (a folder or .gguf file; stored as an absolute path, so the store reads the
   * same from any folder), identified by its content hash (`hashModel`, each file's hash remembered), adding it
   * if new. What `llmdbg run` and `llmdbg serve` record their runs' models with.
   * @example const model = store.modelAt(m.path, m.config); store.recordRun({ model, kind: "run", prompt })
   */
  modelAt(path: string, config: unknown): number {
    const abs = resolve(path);
    return this.addModel({ path: abs, hash: this.hashModel(abs), config });
  }

  private addModelRow(m: ModelInput): number {
    const row = this.db.prepare("SELECT id FROM models WHERE path = ? AND hash = ?").get(m.path, m.hash) as
      | { id: number }
      | undefined;
    if (row !== undefined) return row.id;
    const r = this.db
      .prepare("INSERT INTO models (path, hash, config, added_at) VALUES (?, ?, ?, ?)")
      .run(m.path, m.hash, JSON.stringify(m.config ?? null), now());
    return Number(r.lastInsertRowid);
  }

  getModel(id: number): ModelRecord {
    const r = this.db.prepare("SELECT * FROM models WHERE id = ?").get(id) as Row | undefined;
    if (r === undefined) throw new StoreError(this.file, `model ${id} is not in the store`);
    return this.modelOf(r);
  }

  listModels(): ModelRecord[] {
    return (this.db.prepare("SELECT * FROM models ORDER BY id").all() as Row[]).map((r) => this.modelOf(r));
  }

  /** The id of the dataset with this path and hash, adding it if new. */
  addDataset(d: { readonly path: string; readonly hash: string; readonly count: number }): number {
    return this.transaction(() => this.addDatasetRow(d));
  }

  private addDatasetRow(d: { readonly path: string; readonly hash: string; readonly count: number }): number {
    const row = this.db.prepare("SELECT id FROM datasets WHERE path = ? AND hash = ?").get(d.path, d.hash) as
      | { id: number }
      | undefined;
    if (row !== undefined) return row.id;
    const r = this.db
      .prepare("INSERT INTO datasets (path, hash, count, added_at) VALUES (?, ?, ?, ?)")
      .run(d.path, d.hash, d.count, now());
    return Number(r.lastInsertRowid);
  }

  /** Records an evaluation of `run` on a dataset; returns its id. */
  addEvaluation(run: number, dataset: number, metrics: Readonly<Record<string, number>>): number {
    return this.transaction(() => {
      this.checkRun(run);
      const r = this.db
        .prepare("INSERT INTO evaluations (run_id, dataset_id, metrics, created_at) VALUES (?, ?, ?, ?)")
        .run(run, dataset, JSON.stringify(metrics), now());
      return Number(r.lastInsertRowid);
    });
  }

  // ---- runs ----

  /**
   * Records a run with its results, events and tensors in one transaction; returns its id.
   * @example const id = store.recordRun({ model, kind: "lens", prompt: text, results: [lens], tensors: { cache } })
   */
  recordRun(run: RunInput): number {
    checkRunInput(run);
    const blobs = Object.entries(run.tensors ?? {}).map(([name, t]) => [name, encodeBlob(t)] as const);
    return this.transaction(() => {
      if (run.model !== undefined && run.model !== null) this.getModel(run.model);
      const uid = run.uid ?? randomUUID();
      const dup = this.db.prepare("SELECT id FROM runs WHERE uid = ?").get(uid) as { id: number } | undefined;
      if (dup !== undefined) throw new StoreError(this.file, `run ${uid} is already in the store as run ${dup.id}`);
      const r = this.db
        .prepare(
          `INSERT INTO runs (uid, model_id, kind, prompt, tokens, options, interventions, timings, hardware, version, created_at, status, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          uid,
          run.model ?? null,
          run.kind,
          run.prompt ?? null,
          run.tokens === undefined || run.tokens === null ? null : JSON.stringify(run.tokens),
          JSON.stringify(run.options ?? {}),
          JSON.stringify(run.interventions ?? []),
          JSON.stringify(run.timings ?? {}),
          JSON.stringify(run.hardware ?? {}),
          run.version ?? LLMDBG_VERSION,
          run.createdAt ?? now(),
          run.status ?? "done",
          now(),
        );
      const id = Number(r.lastInsertRowid);
      for (const res of run.results ?? []) this.addResultRow(id, res);
      this.appendEventRows(id, run.events ?? []);
      for (const [name, b] of blobs) this.attach(id, name, this.putBlobRow(b));
      return id;
    });
  }

  /** Sets a run's status (and merges timings), e.g. when a training run ends. */
  setStatus(run: number, status: RunStatus, timings?: Readonly<Record<string, number>>): void {
    if (!STATUSES.includes(status))
      throw new StoreError(this.file, `status must be one of ${STATUSES.join(", ")}, got ${JSON.stringify(status)}`);
    this.transaction(() => {
      const r = this.runRow(run);
      const merged = { ...(parseJson(r.timings, this.file, `run ${run} timings`) as object), ...timings };
      this.db
        .prepare("UPDATE runs SET status = ?, timings = ?, updated_at = ? WHERE id = ?")
        .run(status, JSON.stringify(merged), now(), run);
    });
  }

  /** Adds a method result to a run; returns its id. */
  addResult(run: number, result: ResultJson): number {
    return this.transaction(() => {
      this.checkRun(run);
      return this.addResultRow(run, result);
    });
  }

  private addResultRow(run: number, result: ResultJson): number {
    if (typeof result !== "object" || result === null || typeof result.kind !== "string")
      throw new StoreError(this.file, `run ${run}: a result must be an object with a string "kind"`);
    const r = this.db
      .prepare("INSERT INTO results (run_id, kind, result) VALUES (?, ?, ?)")
      .run(run, result.kind, JSON.stringify(result));
    return Number(r.lastInsertRowid);
  }

  /** Appends training events to a run, numbered after its last; returns the first new sequence number. */
  appendEvents(run: number, events: readonly TrainEvent[]): number {
    return this.transaction(() => {
      this.checkRun(run);
      return this.appendEventRows(run, events);
    });
  }

  private appendEventRows(run: number, events: readonly TrainEvent[]): number {
    const last = this.db.prepare("SELECT max(seq) AS s FROM events WHERE run_id = ?").get(run) as { s: number | null };
    const first = (last.s ?? -1) + 1;
    const ins = this.db.prepare("INSERT INTO events (run_id, seq, kind, event) VALUES (?, ?, ?, ?)");
    events.forEach((e, i) => {
      if (typeof e !== "object" || e === null || typeof e.kind !== "string")
        throw new StoreError(this.file, `run ${run}: event ${i} must be an object with a string "kind"`);
      ins.run(run, first + i, e.kind, JSON.stringify(e));
      // a checkpoint's folder is kept in a row of its own, so a reader can name it by id and never show the path
      if (e.kind === "checkpoint" && typeof e.path === "string" && Number.isSafeInteger(e.step))
        this.db
          .prepare("INSERT INTO checkpoints (run_id, step, path, created_at) VALUES (?, ?, ?, ?)")
          .run(run, e.step, e.path, now());
    });
    // a reader tells a live run from a dead one by this time (live.ts)
    if (events.length > 0) this.db.prepare("UPDATE runs SET updated_at = ? WHERE id = ?").run(now(), run);
    return first;
  }

  /** Adds a note on a run, or on one of its examples. */
  addNote(run: number | null, text: string, example: string | null = null): number {
    return this.transaction(() => {
      if (run !== null) this.checkRun(run);
      const r = this.db
        .prepare("INSERT INTO notes (run_id, example, text, created_at) VALUES (?, ?, ?, ?)")
        .run(run, example, text, now());
      return Number(r.lastInsertRowid);
    });
  }

  /** Labels an example (`"dataset:3#17"`, `"run:12#0"`, …), optionally within a run. */
  addLabel(example: string, label: string, run: number | null = null): number {
    return this.transaction(() => {
      if (run !== null) this.checkRun(run);
      const r = this.db
        .prepare("INSERT INTO labels (run_id, example, label, created_at) VALUES (?, ?, ?, ?)")
        .run(run, example, label, now());
      return Number(r.lastInsertRowid);
    });
  }

  /** The labels of an example, oldest first. */
  labelsOf(example: string): Label[] {
    return (this.db.prepare("SELECT * FROM labels WHERE example = ? ORDER BY id").all(example) as Row[]).map(labelOf);
  }

  /** Deletes a run and its rows (results, events, notes, labels, evaluations); its blobs go at the next gc. */
  deleteRun(run: number): void {
    this.transaction(() => {
      this.checkRun(run);
      this.db.prepare("DELETE FROM runs WHERE id = ?").run(run);
    });
  }

  /** Runs, newest first. */
  listRuns(filter: RunFilter = {}): RunSummary[] {
    const conditions: [string, string | number | undefined][] = [
      ["r.kind = ?", filter.kind],
      ["r.model_id = ?", filter.model],
      ["r.status = ?", filter.status],
      ["r.created_at >= ?", filter.since],
    ];
    const given = conditions.filter((c): c is [string, string | number] => c[1] !== undefined);
    const where = given.map((c) => c[0]);
    const args = given.map((c) => c[1]);
    const sql = `SELECT r.id, r.uid, r.kind, m.path AS model, r.prompt, r.created_at, r.status,
        (SELECT count(*) FROM results WHERE run_id = r.id) AS results,
        (SELECT count(*) FROM events WHERE run_id = r.id) AS events,
        (SELECT count(*) FROM run_blobs WHERE run_id = r.id) AS blobs
      FROM runs r LEFT JOIN models m ON m.id = r.model_id
      ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY r.id DESC ${filter.limit !== undefined ? `LIMIT ${Math.max(0, Math.floor(filter.limit))}` : ""}`;
    return (this.db.prepare(sql).all(...args) as Row[]).map((r) => ({
      id: r.id as number,
      uid: r.uid as string,
      kind: r.kind as string,
      model: (r.model as string | null) ?? null,
      prompt: (r.prompt as string | null) ?? null,
      createdAt: r.created_at as string,
      status: r.status as RunStatus,
      results: r.results as number,
      events: r.events as number,
      blobs: r.blobs as number,
    }));
  }

  /** Whether a run with this id exists. */
  hasRun(run: number): boolean {
    return this.db.prepare("SELECT 1 FROM runs WHERE id = ?").get(run) !== undefined;
  }

  /**
   * A run with everything recorded about it (tensors by reference: getTensor reads them).
   * @example const { results, events, blobs } = store.getRun(12)
   */
  getRun(run: number): RunRecord {
    const read = () => {
      const r = this.runRow(run);
      const at = (col: string) => `run ${run} ${col}`;
      const f = this.file;
      return {
        id: run,
        uid: r.uid as string,
        model: r.model_id === null ? null : this.getModel(r.model_id as number),
        kind: r.kind as string,
        prompt: (r.prompt as string | null) ?? null,
        tokens: r.tokens === null ? null : (parseJson(r.tokens, f, at("tokens")) as number[]),
        options: parseJson(r.options, f, at("options")) as Record<string, unknown>,
        interventions: parseJson(r.interventions, f, at("interventions")) as unknown[],
        timings: parseJson(r.timings, f, at("timings")) as Record<string, number>,
        hardware: parseJson(r.hardware, f, at("hardware")) as Record<string, unknown>,
        version: r.version as string,
        createdAt: r.created_at as string,
        status: r.status as RunStatus,
        results: (this.db.prepare("SELECT * FROM results WHERE run_id = ? ORDER BY id").all(run) as Row[]).map((x) => ({
          id: x.id as number,
          kind: x.kind as string,
          result: parseJson(x.result, f, `result ${x.id}`) as MethodResult,
        })),
        events: (this.db.prepare("SELECT * FROM events WHERE run_id = ? ORDER BY seq").all(run) as Row[]).map(
          (x) => parseJson(x.event, f, `run ${run} event ${x.seq}`) as TrainEvent,
        ),
        blobs: (
          this.db
            .prepare(
              "SELECT rb.name, b.id, b.hash, b.bytes FROM run_blobs rb JOIN blobs b ON b.id = rb.blob_id WHERE rb.run_id = ? ORDER BY rb.name",
            )
            .all(run) as Row[]
        ).map((x) => ({ name: x.name as string, id: x.id as number, hash: x.hash as string, bytes: x.bytes as number })),
        notes: (this.db.prepare("SELECT * FROM notes WHERE run_id = ? ORDER BY id").all(run) as Row[]).map(noteOf),
        labels: (this.db.prepare("SELECT * FROM labels WHERE run_id = ? ORDER BY id").all(run) as Row[]).map(labelOf),
        evaluations: (this.db.prepare("SELECT * FROM evaluations WHERE run_id = ? ORDER BY id").all(run) as Row[]).map((x) => ({
          id: x.id as number,
          run,
          dataset: this.datasetOf(x.dataset_id as number),
          metrics: parseJson(x.metrics, f, `evaluation ${x.id} metrics`) as Record<string, number>,
          createdAt: x.created_at as string,
        })),
      };
    };
    // one read transaction: a concurrent writer cannot show half a run
    return this.db.transaction(read).deferred();
  }

  // ---- tensors ----

  /**
   * Stores named tensors as one safetensors blob (deduplicated by content hash) and, with `run`, names it
   * `name` in that run. A blob no run names is deleted by gc.
   * @example const ref = store.putTensor({ "blocks.0.hook_resid_post": x }, { run: id, name: "cache" })
   */
  putTensor(
    tensors: Tensors,
    opts: { readonly run?: number; readonly name?: string; readonly write?: WriteOptions } = {},
  ): BlobRef {
    const b = encodeBlob(tensors, opts.write);
    return this.transaction(() => {
      if (opts.run !== undefined) this.checkRun(opts.run);
      const ref = this.putBlobRow(b);
      if (opts.run !== undefined) this.attach(opts.run, opts.name ?? "tensors", ref);
      return ref;
    });
  }

  /**
   * The tensors of a blob, by id or content hash; the file's hash is checked first, so a changed or truncated
   * file is a StoreError, never wrong numbers.
   * @example const { cache } = store.getRun(12).blobs; const t = store.getTensor(blobs[0].hash)["hook_embed"]
   */
  getTensor(ref: number | string): Record<string, Tensor> {
    const bytes = this.blobBytes(ref);
    const file = this.blobFile(this.blobRef(ref).hash);
    const st = decodeSafetensors(bytes, file);
    return Object.fromEntries(st.keys().map((k) => [k, st.load(k)]));
  }

  /** A blob's verified bytes (the safetensors file). */
  blobBytes(ref: number | string): Uint8Array {
    const b = this.blobRef(ref);
    const file = this.blobFile(b.hash);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      throw new StoreError(file, `blob ${b.id} is missing from the store (${(e as Error).message})`);
    }
    const got = sha256(bytes);
    if (got !== b.hash) throw new StoreError(file, `blob ${b.id} is corrupt: its content hashes to ${got}, not ${b.hash}`);
    return bytes;
  }

  blobRef(ref: number | string): BlobRef {
    const row = (
      typeof ref === "number"
        ? this.db.prepare("SELECT id, hash, bytes FROM blobs WHERE id = ?").get(ref)
        : this.db.prepare("SELECT id, hash, bytes FROM blobs WHERE hash = ?").get(ref)
    ) as BlobRef | undefined;
    if (row === undefined) throw new StoreError(this.file, `blob ${JSON.stringify(ref)} is not in the store`);
    return row;
  }

  blobFile(hash: string): string {
    return join(this.blobDir, `${hash}.safetensors`);
  }

  /** The blob's row, adding it and writing its file when new (or when its file has gone). In a transaction. */
  private putBlobRow(b: Encoded): BlobRef {
    const file = this.blobFile(b.hash);
    const have = existsSync(file) && statSync(file).size === b.bytes.length;
    if (!have) writeAtomically(file, b.bytes);
    const row = this.db.prepare("SELECT id, hash, bytes FROM blobs WHERE hash = ?").get(b.hash) as BlobRef | undefined;
    if (row !== undefined) return row;
    const r = this.db.prepare("INSERT INTO blobs (hash, bytes, created_at) VALUES (?, ?, ?)").run(b.hash, b.bytes.length, now());
    return { id: Number(r.lastInsertRowid), hash: b.hash, bytes: b.bytes.length };
  }

  private attach(run: number, name: string, ref: BlobRef): void {
    this.db.prepare("INSERT OR REPLACE INTO run_blobs (run_id, name, blob_id) VALUES (?, ?, ?)").run(run, name, ref.id);
  }

  /**
   * Writes run `id` as a self-contained folder (run.json and blobs/); see export.ts.
   * @example store.exportRun(12, "out/run-12")
   */
  exportRun(id: number, folder: string): RunExport {
    return exportRun(this, id, folder);
  }

  /**
   * Adds an exported run to this store; returns its id here.
   * @example const id = store.importRun("out/run-12")
   */
  importRun(folder: string): number {
    return importRun(this, folder);
  }

  /** @internal the import writes every row of a run in one transaction */
  putBlobBytesInTransaction(bytes: Uint8Array, hash: string): BlobRef {
    return this.putBlobRow({ bytes, hash });
  }

  /** @internal */
  attachInTransaction(run: number, name: string, ref: BlobRef): void {
    this.attach(run, name, ref);
  }

  /** @internal */
  addModelInTransaction(m: ModelInput): number {
    return this.addModelRow(m);
  }

  /** @internal */
  addDatasetInTransaction(d: { readonly path: string; readonly hash: string; readonly count: number }): number {
    return this.addDatasetRow(d);
  }

  /**
   * Deletes the blobs no run names, and stray files in blobs/ (a crashed write's), under the write lock so no
   * writer can name a blob while its file goes.
   * @example const { blobs, bytes } = store.gc()
   */
  gc(): GcReport {
    return this.transaction(() => {
      const dead = this.db
        .prepare("SELECT id, hash, bytes FROM blobs WHERE id NOT IN (SELECT blob_id FROM run_blobs)")
        .all() as BlobRef[];
      let bytes = 0;
      for (const b of dead) {
        const file = this.blobFile(b.hash);
        if (existsSync(file)) bytes += statSync(file).size;
        rmSync(file, { force: true });
      }
      this.db.prepare("DELETE FROM blobs WHERE id NOT IN (SELECT blob_id FROM run_blobs)").run();
      const known = this.db.prepare("SELECT 1 FROM blobs WHERE hash = ?");
      let strayFiles = 0;
      for (const f of readdirSync(this.blobDir)) {
        const m = /^([0-9a-f]{64})\.safetensors$/.exec(f);
        if (m !== null && known.get(m[1]) !== undefined) continue;
        const p = join(this.blobDir, f);
        if (!statSync(p).isFile()) continue;
        bytes += statSync(p).size;
        rmSync(p, { force: true });
        strayFiles++;
      }
      return { blobs: dead.length, strayFiles, bytes };
    });
  }

  /** `PRAGMA integrity_check`: "ok", or SQLite's list of problems. */
  integrityCheck(): string {
    const rows = this.db.pragma("integrity_check") as { integrity_check: string }[];
    return rows.map((r) => r.integrity_check).join("\n");
  }

  // ---- rows ----

  private runRow(run: number): Row {
    const r = this.db.prepare("SELECT * FROM runs WHERE id = ?").get(run) as Row | undefined;
    if (r === undefined) throw new StoreError(this.file, `run ${run} is not in the store`);
    return r;
  }

  private checkRun(run: number): void {
    if (!this.hasRun(run)) throw new StoreError(this.file, `run ${run} is not in the store`);
  }

  private modelOf(r: Row): ModelRecord {
    return {
      id: r.id as number,
      path: r.path as string,
      hash: r.hash as string,
      config: parseJson(r.config, this.file, `model ${r.id} config`),
      addedAt: r.added_at as string,
    };
  }

  private datasetOf(id: number): DatasetRecord {
    const r = this.db.prepare("SELECT * FROM datasets WHERE id = ?").get(id) as Row | undefined;
    if (r === undefined) throw new StoreError(this.file, `dataset ${id} is not in the store`);
    return { id, path: r.path as string, hash: r.hash as string, count: r.count as number, addedAt: r.added_at as string };
  }
}

type Row = Record<string, unknown>;

function noteOf(r: Row): Note {
  return {
    id: r.id as number,
    run: (r.run_id as number | null) ?? null,
    example: (r.example as string | null) ?? null,
    text: r.text as string,
    createdAt: r.created_at as string,
  };
}

function labelOf(r: Row): Label {
  return {
    id: r.id as number,
    run: (r.run_id as number | null) ?? null,
    example: r.example as string,
    label: r.label as string,
    createdAt: r.created_at as string,
  };
}

function parseJson(text: unknown, file: string, where: string): unknown {
  try {
    return JSON.parse(String(text));
  } catch (e) {
    throw new StoreError(file, `${where} is not valid JSON (${(e as Error).message})`);
  }
}

function checkRunInput(run: RunInput): void {
  const bad = (field: string, what: string) => {
    throw new StoreError("run", `${field} must be ${what}`);
  };
  if (typeof run.kind !== "string" || run.kind === "") bad("kind", "a non-empty string");
  if (run.status !== undefined && !STATUSES.includes(run.status)) bad("status", `one of ${STATUSES.join(", ")}`);
  if (run.tokens !== undefined && run.tokens !== null && !run.tokens.every((t) => Number.isSafeInteger(t)))
    bad("tokens", "an array of integer token ids");
}

function encodeBlob(tensors: Tensors, write: WriteOptions = {}): Encoded {
  const bytes = encodeSafetensors(tensors, write);
  return { bytes, hash: sha256(bytes) };
}

/** Temporary file, fsync, rename: `path` is either absent or whole. */
function writeAtomically(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}-${randomUUID().slice(0, 8)}`;
  const fd = openSync(tmp, "wx");
  try {
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}
