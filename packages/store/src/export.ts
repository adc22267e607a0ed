// A run as a self-contained folder: `run.json` (the run, its model's path, hash and config, results, events,
// notes, labels, evaluations and the names of its blobs) and `blobs/<sha256>.safetensors`. Importing checks
// every field and every blob's hash before it writes anything, then adds the run in one transaction.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { TrainEvent } from "@llmdbg/protocol";
import { StoreError } from "./errors.js";
import { BLOB_HASH, sha256 } from "./home.js";
import type { ResultJson, RunStatus, Store } from "./store.js";

export const EXPORT_FORMAT = "llmdbg.run";
export const EXPORT_VERSION = 1;

export interface RunExport {
  readonly format: typeof EXPORT_FORMAT;
  readonly version: number;
  readonly run: {
    readonly uid: string;
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
  };
  readonly model: { readonly path: string; readonly hash: string; readonly config: unknown } | null;
  readonly results: ResultJson[];
  readonly events: TrainEvent[];
  readonly blobs: { readonly name: string; readonly hash: string; readonly bytes: number; readonly file: string }[];
  readonly notes: { readonly example: string | null; readonly text: string; readonly createdAt: string }[];
  readonly labels: { readonly example: string; readonly label: string; readonly createdAt: string }[];
  readonly evaluations: {
    readonly dataset: { readonly path: string; readonly hash: string; readonly count: number };
    readonly metrics: Record<string, number>;
    readonly createdAt: string;
  }[];
}

/**
 * Writes run `id` to `folder` (which must not exist, or be empty), through a temporary folder renamed into place.
 * @example exportRun(store, 12, "out/run-12")
 */
export function exportRun(store: Store, id: number, folder: string): RunExport {
  folder = resolve(folder);
  if (existsSync(folder) && (!statSync(folder).isDirectory() || readdirSync(folder).length > 0))
    throw new StoreError(folder, "the export folder exists and is not empty");
  const r = store.getRun(id);
  const out: RunExport = {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    run: {
      uid: r.uid,
      kind: r.kind,
      prompt: r.prompt,
      tokens: r.tokens,
      options: r.options,
      interventions: r.interventions,
      timings: r.timings,
      hardware: r.hardware,
      version: r.version,
      createdAt: r.createdAt,
      status: r.status,
    },
    model: r.model === null ? null : { path: r.model.path, hash: r.model.hash, config: r.model.config },
    results: r.results.map((x) => x.result),
    events: r.events,
    blobs: r.blobs.map((b) => ({ name: b.name, hash: b.hash, bytes: b.bytes, file: `blobs/${b.hash}.safetensors` })),
    notes: r.notes.map((n) => ({ example: n.example, text: n.text, createdAt: n.createdAt })),
    labels: r.labels.map((l) => ({ example: l.example, label: l.label, createdAt: l.createdAt })),
    evaluations: r.evaluations.map((e) => ({
      dataset: { path: e.dataset.path, hash: e.dataset.hash, count: e.dataset.count },
      metrics: { ...e.metrics },
      createdAt: e.createdAt,
    })),
  };
  mkdirSync(dirname(folder), { recursive: true });
  const tmp = join(dirname(folder), `.${basename(folder)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, "blobs"), { recursive: true });
  try {
    for (const b of out.blobs) writeFileSync(join(tmp, b.file), store.blobBytes(b.hash));
    writeFileSync(join(tmp, "run.json"), `${JSON.stringify(out, null, 1)}\n`);
    if (existsSync(folder)) rmSync(folder, { recursive: true });
    renameSync(tmp, folder);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return out;
}

/**
 * Adds the run in an export folder to the store; returns its new id. A run already in the store (same uid) is
 * refused, naming its id.
 * @example const id = importRun(store, "out/run-12")
 */
export function importRun(store: Store, folder: string): number {
  folder = resolve(folder);
  if (!existsSync(folder) || !statSync(folder).isDirectory())
    throw new StoreError(folder, "not a folder (an exported run is a folder with run.json)");
  const file = join(folder, "run.json");
  if (!existsSync(file)) throw new StoreError(folder, "no run.json: not an exported llmdbg run");
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new StoreError(file, `not valid JSON (${(e as Error).message})`);
  }
  const x = checkExport(doc, file);
  // every blob is read and verified before anything is written
  const blobs = x.blobs.map((b, i) => {
    const p = join(folder, "blobs", `${b.hash}.safetensors`);
    if (!existsSync(p)) throw new StoreError(file, `blobs[${i}] (${b.name}): ${p} is missing`);
    return { name: b.name, hash: b.hash, bytes: readFileSync(p), label: p };
  });
  for (const b of blobs) {
    const got = sha256(b.bytes);
    if (got !== b.hash) throw new StoreError(b.label, `content hashes to ${got}, not ${b.hash} as run.json says`);
  }
  return store.transaction(() => {
    const model = x.model === null ? null : store.addModelInTransaction(x.model);
    const id = store.recordRun({
      model,
      uid: x.run.uid,
      kind: x.run.kind,
      prompt: x.run.prompt,
      tokens: x.run.tokens,
      options: x.run.options,
      interventions: x.run.interventions,
      timings: x.run.timings,
      hardware: x.run.hardware,
      version: x.run.version,
      createdAt: x.run.createdAt,
      status: x.run.status,
      results: x.results,
      events: x.events,
    });
    for (const b of blobs) store.attachInTransaction(id, b.name, store.putBlobBytesInTransaction(b.bytes, b.hash));
    const db = store.db;
    for (const n of x.notes)
      db.prepare("INSERT INTO notes (run_id, example, text, created_at) VALUES (?, ?, ?, ?)").run(
        id,
        n.example,
        n.text,
        n.createdAt,
      );
    for (const l of x.labels)
      db.prepare("INSERT INTO labels (run_id, example, label, created_at) VALUES (?, ?, ?, ?)").run(
        id,
        l.example,
        l.label,
        l.createdAt,
      );
    for (const e of x.evaluations) {
      const ds = store.addDatasetInTransaction(e.dataset);
      db.prepare("INSERT INTO evaluations (run_id, dataset_id, metrics, created_at) VALUES (?, ?, ?, ?)").run(
        id,
        ds,
        JSON.stringify(e.metrics),
        e.createdAt,
      );
    }
    return id;
  });
}

/** The document checked field by field; a wrong one is a StoreError naming run.json and the field. */
function checkExport(doc: unknown, file: string): RunExport {
  const fail = (field: string, what: string): never => {
    throw new StoreError(file, `${field} must be ${what}`);
  };
  const obj = (v: unknown, field: string): Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : fail(field, "an object");
  const arr = (v: unknown, field: string): unknown[] => (Array.isArray(v) ? v : fail(field, "an array"));
  const str = (v: unknown, field: string): string => (typeof v === "string" ? v : fail(field, "a string"));
  const strOrNull = (v: unknown, field: string): string | null => (v === null ? null : str(v, field));
  const num = (v: unknown, field: string): number => (typeof v === "number" && Number.isFinite(v) ? v : fail(field, "a number"));

  const d = obj(doc, "the document");
  if (d.format !== EXPORT_FORMAT) fail("format", JSON.stringify(EXPORT_FORMAT));
  if (d.version !== EXPORT_VERSION)
    fail(
      "version",
      `${EXPORT_VERSION} (this llmdbg reads export version ${EXPORT_VERSION}, the folder has ${JSON.stringify(d.version)})`,
    );
  const r = obj(d.run, "run");
  const status = str(r.status, "run.status");
  if (!["running", "done", "failed", "aborted"].includes(status)) fail("run.status", "running, done, failed or aborted");
  const tokens =
    r.tokens === null
      ? null
      : arr(r.tokens, "run.tokens").map((t, i) =>
          Number.isSafeInteger(t) ? (t as number) : fail(`run.tokens[${i}]`, "an integer"),
        );
  const model =
    d.model === null
      ? null
      : (() => {
          const m = obj(d.model, "model");
          return { path: str(m.path, "model.path"), hash: str(m.hash, "model.hash"), config: m.config ?? null };
        })();
  const tagged = (v: unknown, field: string) => {
    const o = obj(v, field);
    str(o.kind, `${field}.kind`);
    return o as { kind: string };
  };
  return {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    run: {
      uid: str(r.uid, "run.uid"),
      kind: str(r.kind, "run.kind"),
      prompt: strOrNull(r.prompt, "run.prompt"),
      tokens,
      options: obj(r.options, "run.options"),
      interventions: arr(r.interventions, "run.interventions"),
      timings: obj(r.timings, "run.timings") as Record<string, number>,
      hardware: obj(r.hardware, "run.hardware"),
      version: str(r.version, "run.version"),
      createdAt: str(r.createdAt, "run.createdAt"),
      status: status as RunStatus,
    },
    model,
    results: arr(d.results, "results").map((v, i) => tagged(v, `results[${i}]`)),
    events: arr(d.events, "events").map((v, i) => tagged(v, `events[${i}]`) as TrainEvent),
    blobs: arr(d.blobs, "blobs").map((v, i) => {
      const b = obj(v, `blobs[${i}]`);
      const hash = str(b.hash, `blobs[${i}].hash`);
      if (!BLOB_HASH.test(hash)) fail(`blobs[${i}].hash`, "64 lowercase hex digits (a sha256)");
      return {
        name: str(b.name, `blobs[${i}].name`),
        hash,
        bytes: num(b.bytes, `blobs[${i}].bytes`),
        file: `blobs/${hash}.safetensors`,
      };
    }),
    notes: arr(d.notes ?? [], "notes").map((v, i) => {
      const n = obj(v, `notes[${i}]`);
      return {
        example: strOrNull(n.example ?? null, `notes[${i}].example`),
        text: str(n.text, `notes[${i}].text`),
        createdAt: str(n.createdAt, `notes[${i}].createdAt`),
      };
    }),
    labels: arr(d.labels ?? [], "labels").map((v, i) => {
      const l = obj(v, `labels[${i}]`);
      return {
        example: str(l.example, `labels[${i}].example`),
        label: str(l.label, `labels[${i}].label`),
        createdAt: str(l.createdAt, `labels[${i}].createdAt`),
      };
    }),
    evaluations: arr(d.evaluations ?? [], "evaluations").map((v, i) => {
      const e = obj(v, `evaluations[${i}]`);
      const ds = obj(e.dataset, `evaluations[${i}].dataset`);
      const metrics = obj(e.metrics, `evaluations[${i}].metrics`);
      for (const [k, m] of Object.entries(metrics)) num(m, `evaluations[${i}].metrics.${k}`);
      return {
        dataset: {
          path: str(ds.path, `evaluations[${i}].dataset.path`),
          hash: str(ds.hash, `evaluations[${i}].dataset.hash`),
          count: num(ds.count, `evaluations[${i}].dataset.count`),
        },
        metrics: metrics as Record<string, number>,
        createdAt: str(e.createdAt, `evaluations[${i}].createdAt`),
      };
    }),
  };
}
