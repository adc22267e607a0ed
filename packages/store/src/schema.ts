// The store's schema as an ordered list of migrations. The database's `PRAGMA user_version` is the number of
// migrations applied; opening a store applies the missing ones in order, each in its own transaction with the
// version bump, so a crash mid-migration leaves the previous version intact. A migration, once released, is
// never edited: a change to the schema is a new entry at the end.
import type Database from "better-sqlite3";

export interface Migration {
  /** what it changes, for error messages and the changelog */
  readonly summary: string;
  readonly up: (db: Database.Database) => void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    summary: "models, runs, method results, training events, tensor blobs",
    up: (db) =>
      db.exec(`
        CREATE TABLE models (
          id INTEGER PRIMARY KEY,
          path TEXT NOT NULL,             -- the folder or .gguf file it was loaded from
          hash TEXT NOT NULL,             -- sha256 over its weight, config and tokenizer files
          config TEXT NOT NULL,           -- the normalized ModelConfig, JSON
          added_at TEXT NOT NULL,
          UNIQUE (path, hash)
        );
        CREATE TABLE runs (
          id INTEGER PRIMARY KEY,
          uid TEXT NOT NULL UNIQUE,       -- survives export and import; the integer id is this store's
          model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
          kind TEXT NOT NULL,             -- the command or method: run, generate, train, lens, ...
          prompt TEXT,
          tokens TEXT,                    -- JSON array of token ids
          options TEXT NOT NULL,          -- JSON object
          interventions TEXT NOT NULL,    -- JSON array of protocol Interventions
          timings TEXT NOT NULL,          -- JSON object of milliseconds
          hardware TEXT NOT NULL,         -- JSON object
          version TEXT NOT NULL,          -- the llmdbg version that made it
          created_at TEXT NOT NULL,
          status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'aborted'))
        );
        CREATE INDEX runs_created ON runs(created_at);
        CREATE TABLE results (
          id INTEGER PRIMARY KEY,
          run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
          kind TEXT NOT NULL,
          result TEXT NOT NULL            -- the protocol's MethodResult, JSON
        );
        CREATE INDEX results_run ON results(run_id);
        CREATE TABLE events (
          run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
          seq INTEGER NOT NULL,
          kind TEXT NOT NULL,
          event TEXT NOT NULL,            -- the protocol's TrainEvent, JSON
          PRIMARY KEY (run_id, seq)
        ) WITHOUT ROWID;
        CREATE TABLE blobs (
          id INTEGER PRIMARY KEY,
          hash TEXT NOT NULL UNIQUE,      -- sha256 of the safetensors file: blobs/<hash>.safetensors
          bytes INTEGER NOT NULL,
          created_at TEXT NOT NULL
        );
        CREATE TABLE run_blobs (
          run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
          name TEXT NOT NULL,
          blob_id INTEGER NOT NULL REFERENCES blobs(id),
          PRIMARY KEY (run_id, name)
        ) WITHOUT ROWID;
        CREATE INDEX run_blobs_blob ON run_blobs(blob_id);
      `),
  },
  {
    summary: "datasets, evaluations, notes and labels",
    up: (db) =>
      db.exec(`
        CREATE TABLE datasets (
          id INTEGER PRIMARY KEY,
          path TEXT NOT NULL,
          hash TEXT NOT NULL,
          count INTEGER NOT NULL,         -- examples
          added_at TEXT NOT NULL,
          UNIQUE (path, hash)
        );
        CREATE TABLE evaluations (
          id INTEGER PRIMARY KEY,
          run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
          dataset_id INTEGER NOT NULL REFERENCES datasets(id),
          metrics TEXT NOT NULL,          -- JSON object
          created_at TEXT NOT NULL
        );
        CREATE INDEX evaluations_run ON evaluations(run_id);
        CREATE TABLE notes (
          id INTEGER PRIMARY KEY,
          run_id INTEGER REFERENCES runs(id) ON DELETE CASCADE,
          example TEXT,                   -- an example of the run or a dataset ("dataset:3#17"), or null: the run
          text TEXT NOT NULL,
          created_at TEXT NOT NULL
        );
        CREATE INDEX notes_run ON notes(run_id);
        CREATE TABLE labels (
          id INTEGER PRIMARY KEY,
          run_id INTEGER REFERENCES runs(id) ON DELETE CASCADE,
          example TEXT NOT NULL,
          label TEXT NOT NULL,
          created_at TEXT NOT NULL
        );
        CREATE INDEX labels_example ON labels(example);
      `),
  },
  {
    summary: "a cache of file hashes, so a model is not read whole on every run",
    up: (db) =>
      db.exec(`
        CREATE TABLE file_hashes (
          path TEXT PRIMARY KEY,          -- absolute
          size INTEGER NOT NULL,
          mtime_ms REAL NOT NULL,
          hash TEXT NOT NULL              -- sha256 of the content when the file had this size and mtime
        );
      `),
  },
  {
    summary: "dataset names and rows, and each evaluation's per-example predictions",
    up: (db) =>
      db.exec(`
        ALTER TABLE datasets ADD COLUMN name TEXT;  -- shown to the user: a file's base name, an upload's name
        CREATE TABLE dataset_rows (
          dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
          idx INTEGER NOT NULL,           -- 0-based line among the examples
          example TEXT NOT NULL,          -- JSON object: text, optional label, any other fields
          PRIMARY KEY (dataset_id, idx)
        ) WITHOUT ROWID;
        CREATE TABLE evaluation_rows (
          evaluation_id INTEGER NOT NULL REFERENCES evaluations(id) ON DELETE CASCADE,
          idx INTEGER NOT NULL,           -- the example's idx in its dataset
          prediction TEXT NOT NULL,       -- JSON: the protocol's RowPrediction
          PRIMARY KEY (evaluation_id, idx)
        ) WITHOUT ROWID;
        CREATE INDEX evaluations_dataset ON evaluations(dataset_id);
      `),
  },
  {
    summary: "training runs followed while they run: when a run last changed, and its checkpoints",
    up: (db) =>
      db.exec(`
        -- touched by every batch of events and by the final status, so a reader tells a run that goes on from
        -- one whose process died (null in older rows: created_at stands in)
        ALTER TABLE runs ADD COLUMN updated_at TEXT;
        CREATE TABLE checkpoints (
          id INTEGER PRIMARY KEY,
          run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
          step INTEGER NOT NULL,
          path TEXT NOT NULL,             -- the folder on the machine that trained; never sent to a browser
          created_at TEXT NOT NULL
        );
        CREATE INDEX checkpoints_run ON checkpoints(run_id);
        -- a run's newest event of a kind (its last step, its last evaluation) and its checkpoints before a
        -- sequence number, without reading every event of a long run
        CREATE INDEX events_kind ON events(run_id, kind, seq);
      `),
  },
];

/** The schema version this code writes: the number of migrations. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings `db` from its `user_version` to `upTo` (default: the latest), one transaction per migration.
 * A database newer than this code is refused by the caller before this runs.
 * @example migrate(db) // an empty database gets every table
 */
export function migrate(db: Database.Database, upTo = SCHEMA_VERSION): void {
  // the version is read again inside each write transaction: two processes opening a new store at once must
  // not both apply the same migration
  const step = db.transaction((): boolean => {
    const v = db.pragma("user_version", { simple: true }) as number;
    const m = MIGRATIONS[v];
    if (v >= upTo || m === undefined) return false;
    m.up(db);
    db.pragma(`user_version = ${v + 1}`);
    return true;
  });
  while (step.immediate()) {}
}
