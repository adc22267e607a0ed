// The server and the run store (@llmdbg/store): every finished job is recorded as a run — its request, result (the
// protocol JSON the client got), model (path and content hash, as `llmdbg run` records it), timing and status —
// and the stored runs are served back as downloads (`GET /api/runs`, `/api/runs/<id>`,
// `/api/runs/<id>/tensors/<name>.safetensors`, `/api/runs/<id>/bundle.html` a page that opens without a server), and runs are annotated (`POST /api/runs/<id>/notes`, `…/labels`). The store is a convenience beside the jobs: a store that fails
// is a warning, once, never a failed job or a stopped server.
import { basename } from "node:path";
import type { RpcErrorCode } from "@llmdbg/protocol";
import { hardwareInfo, type ModelRecord, openStore, type RunInput, type RunRecord, type Store } from "@llmdbg/store";
import { runBundle } from "./bundle.js";
import { figureFile } from "./figures.js";
import type { JobMethod } from "./lane.js";
import { trainingEvents } from "./training.js";

/** A finished job, handed to `onRecord` and to the run store. */
export interface JobRecord {
  readonly job: string;
  readonly method: JobMethod;
  readonly model: string;
  readonly params: unknown;
  /** the result the client got; null when the job failed */
  readonly result: unknown;
  /** done; failed (a bad request, an error while it ran); aborted (stopped at its time budget) */
  readonly status: "done" | "failed" | "aborted";
  readonly error?: { readonly code: RpcErrorCode; readonly message: string };
  /** when it was submitted, when a thread started running it (absent if none did), when it ended: ms since 1970 */
  readonly startedAt: number;
  readonly ranAt?: number;
  readonly finishedAt: number;
}

/** A served model as the store records it. */
export interface StoreModel {
  readonly path: string;
  readonly config: unknown;
}

const isIds = (v: unknown): v is number[] => Array.isArray(v) && v.every((t) => Number.isSafeInteger(t));

/**
 * The run a finished job is stored as (without its model): kind `run`, `generate` or the method's request kind
 * (`lens`, `patch`, …), the prompt and tokens of its input, the request's fields as options, its interventions,
 * and the job id as the run's uid (so `/api/jobs/<job>` and the stored run name each other).
 */
export function runOfJob(rec: JobRecord): Omit<RunInput, "model"> {
  const { model: _model, ...params } = (rec.params ?? {}) as Record<string, unknown>;
  const request =
    rec.method === "method" && typeof params.request === "object" && params.request !== null
      ? (params.request as Record<string, unknown>)
      : undefined;
  const input = (request?.input ?? params.input) as { text?: unknown; ids?: unknown } | undefined;
  const result = (typeof rec.result === "object" && rec.result !== null ? rec.result : {}) as Record<string, unknown>;
  const tokens = rec.method === "run" ? result.tokens : rec.method === "generate" ? result.promptTokens : input?.ids;
  const kind = rec.method === "method" && typeof request?.kind === "string" ? request.kind : rec.method;
  return {
    uid: rec.job,
    kind,
    prompt: typeof input?.text === "string" ? input.text : null,
    tokens: isIds(tokens) ? tokens : null,
    options: { ...params, served: rec.model },
    interventions: Array.isArray(request?.interventions) ? request.interventions : [],
    timings: {
      wallMs: rec.finishedAt - rec.startedAt,
      ...(rec.ranAt !== undefined && { queuedMs: rec.ranAt - rec.startedAt, runMs: rec.finishedAt - rec.ranAt }),
    },
    hardware: hardwareInfo(),
    status: rec.status,
    createdAt: new Date(rec.startedAt).toISOString(),
    results:
      rec.error !== undefined
        ? [{ kind: "error", code: rec.error.code, message: rec.error.message }]
        : typeof result.kind === "string"
          ? [result as { kind: string }]
          : [],
  };
}

/** Records the server's finished jobs into one store; the first failure is a warning, the rest are counted. */
export class JobRecorder {
  private readonly modelIds = new Map<string, number>();
  private warned = false;
  /** jobs the store failed to record */
  failures = 0;

  constructor(
    readonly store: Store,
    private readonly modelOf: (id: string) => StoreModel | undefined,
    private readonly warn: (message: string) => void,
  ) {}

  /** Records one job; never throws. */
  record(rec: JobRecord): number | undefined {
    try {
      return this.store.recordRun({ ...runOfJob(rec), model: this.modelId(rec.model) });
    } catch (e) {
      this.failures++;
      if (!this.warned) {
        this.warned = true;
        this.warn(
          `llmdbg serve: warning: the run store (${this.store.dir}) did not record job ${rec.job}: ${e instanceof Error ? e.message : e} (later failures are not reported)`,
        );
      }
      return undefined;
    }
  }

  /** The store's id of a served model, hashed once per server (the store remembers file hashes besides). */
  modelId(id: string): number | null {
    const known = this.modelIds.get(id);
    if (known !== undefined) return known;
    const m = this.modelOf(id);
    if (m === undefined) return null;
    const stored = this.store.modelAt(m.path, m.config);
    this.modelIds.set(id, stored);
    return stored;
  }
}

/** Opens the store in `dir`; undefined (after a warning) when it cannot be opened. */
export function openStoreOrWarn(dir: string, warn: (message: string) => void): Store | undefined {
  try {
    return openStore(dir);
  } catch (e) {
    warn(
      `llmdbg serve: warning: the run store ${dir} cannot be opened, so runs are not recorded: ${e instanceof Error ? e.message : e}`,
    );
    return undefined;
  }
}

/** A REST answer: a status and a JSON body, or a download's bytes. */
export type RunsAnswer =
  | { readonly status: 200; readonly json: unknown; readonly download?: string }
  | { readonly status: 200; readonly bytes: Uint8Array; readonly download: string; readonly type?: string }
  | { readonly status: 200; readonly html: string; readonly download: string }
  | { readonly status: 400 | 404 | 413 | 500; readonly text: string };

/** A POST's answer: 201 with the stored row, or an error. */
export type AnnotateAnswer =
  | { readonly status: 201; readonly json: unknown }
  | { readonly status: 400 | 404 | 413 | 500; readonly text: string };

/** The most bytes a note's or label's request body may hold (the server's body cap is for RPC requests). */
export const NOTE_BYTES = 16 * 1024;

/** A run id as a URL segment: a positive decimal integer without leading zeros. */
const RUN_ID = /^[1-9][0-9]{0,14}$/;
/** A blob's name as a URL segment: plain characters only, so nothing can be decoded into a path. */
const BLOB_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A stored model as the REST API shows it: by its folder's name, never its path (as `models.list`). */
function modelView(m: ModelRecord | null): unknown {
  if (m === null) return null;
  const config = (typeof m.config === "object" && m.config !== null ? m.config : {}) as Record<string, unknown>;
  const source = (typeof config.source === "object" && config.source !== null ? config.source : undefined) as
    | Record<string, unknown>
    | undefined;
  const { file: _file, ...where } = source ?? {};
  return {
    id: m.id,
    name: basename(m.path),
    hash: m.hash,
    config: source === undefined ? config : { ...config, source: where },
    addedAt: m.addedAt,
  };
}

const text = (v: unknown, max: number): v is string => typeof v === "string" && v.trim() !== "" && v.length <= max;

/**
 * Answers `POST /api/runs/<id>/notes` (`{ text, example? }`) and `POST /api/runs/<id>/labels` (`{ example, label }`)
 * through the store's addNote and addLabel: 201 with the stored row's id. `path` is the raw request path, as for
 * runsRoute; a body over NOTE_BYTES is 413, one that is not such an object 400, an unknown run 404.
 */
export function annotateRoute(store: Store | undefined, path: string, body: string): AnnotateAnswer {
  if (store === undefined) return { status: 404, text: "no run store: this server records nothing (--no-store)" };
  const [id, what, ...rest] = path.split("/").slice(3);
  if (id === undefined || !RUN_ID.test(id)) return { status: 400, text: "a run id is a positive integer" };
  if ((what !== "notes" && what !== "labels") || rest.length > 0) return { status: 404, text: "not found" };
  if (Buffer.byteLength(body) > NOTE_BYTES) return { status: 413, text: `a ${what.slice(0, -1)} is at most 16 KiB` };
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return { status: 400, text: "expected a JSON object" };
  }
  const o = (typeof v === "object" && v !== null && !Array.isArray(v) ? v : {}) as Record<string, unknown>;
  const example = o.example ?? null;
  if (example !== null && !text(example, 200)) return { status: 400, text: "example: expected a short string" };
  const run = Number(id);
  try {
    if (!store.hasRun(run)) return { status: 404, text: `no run ${run} in the store` };
    if (what === "notes") {
      if (!text(o.text, NOTE_BYTES)) return { status: 400, text: "text: expected a non-empty string" };
      return { status: 201, json: { id: store.addNote(run, o.text, example) } };
    }
    if (example === null || !text(o.label, 200)) return { status: 400, text: "expected { example, label }, two short strings" };
    return { status: 201, json: { id: store.addLabel(example, o.label, run) } };
  } catch (e) {
    return { status: 500, text: `the run store failed: ${e instanceof Error ? e.message : e}` };
  }
}

function runView(r: RunRecord): unknown {
  return { ...r, model: modelView(r.model) };
}

/**
 * Answers `GET /api/runs…` from the store. `path` is the raw request path (not resolved by URL parsing), so an
 * encoded `..` or slash never matches a segment; `query` takes `limit` and `kind` for the list.
 */
export function runsRoute(store: Store | undefined, path: string, query: URLSearchParams): RunsAnswer {
  if (store === undefined) return { status: 404, text: "no run store: this server records nothing (--no-store)" };
  const parts = path.split("/").slice(3); // "", "api", "runs", …
  try {
    if (parts.length === 0 || (parts.length === 1 && parts[0] === "")) {
      const limit = query.get("limit");
      const kind = query.get("kind");
      if (limit !== null && !/^[0-9]{1,9}$/.test(limit)) return { status: 400, text: "limit: expected a count" };
      const runs = store.listRuns({
        limit: limit === null ? 1000 : Number(limit),
        ...(kind !== null && kind !== "" && { kind }),
      });
      return {
        status: 200,
        json: { runs: runs.map(({ model, ...r }) => ({ ...r, model: model === null ? null : basename(model) })) },
      };
    }
    const [id, what, file, ...rest] = parts;
    if (id === undefined || !RUN_ID.test(id)) return { status: 400, text: "a run id is a positive integer" };
    const run = Number(id);
    if (!store.hasRun(run)) return { status: 404, text: `no run ${run} in the store` };
    if (what === undefined) return { status: 200, json: runView(store.getRun(run)), download: `run-${run}.json` };
    if (what === "events" && file === undefined) return trainingEvents(store, run, query);
    if (what === "bundle.html" && file === undefined)
      return { status: 200, html: runBundle(runView(store.getRun(run))), download: `run-${run}.html` };
    const figure = /^figure\.(svg|png)$/.exec(what)?.[1] as "svg" | "png" | undefined;
    if (figure !== undefined && file === undefined) {
      const stored = store.getRun(run);
      const result = stored.results.find((r) => r.kind !== "error");
      if (result === undefined) return { status: 404, text: `run ${run} has no result to draw` };
      const f = figureFile(stored.kind, result.result, figure);
      if ("error" in f) return { status: f.status, text: f.error };
      return { status: 200, bytes: f.bytes, type: f.type, download: `run-${run}.${figure}` };
    }
    if (what !== "tensors" || file === undefined || rest.length > 0) return { status: 404, text: "not found" };
    const name = /^(.*)\.safetensors$/.exec(file)?.[1];
    if (name === undefined || !BLOB_NAME.test(name)) return { status: 400, text: "expected <name>.safetensors" };
    const blob = store.getRun(run).blobs.find((b) => b.name === name);
    if (blob === undefined) return { status: 404, text: `run ${run} has no tensors named ${name}` };
    return { status: 200, bytes: store.blobBytes(blob.id), download: `run-${run}-${name}.safetensors` };
  } catch (e) {
    return { status: 500, text: `the run store failed: ${e instanceof Error ? e.message : e}` };
  }
}
