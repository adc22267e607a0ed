// The local server: Node's http with a `ws` WebSocket for the RPC (protocol's rpc.ts), REST downloads, and the
// UI's static files. Every request passes, in order: the Host allow-list (403), the Origin check for anything but
// GET/HEAD and for WebSocket upgrades (403), the token (401 none, 403 wrong; exchanged once for a cookie), the
// body-size cap (413), and only then routing. Jobs run in worker threads, in two lanes (lane.ts); finished ones
// are recorded in the run store (runs.ts), which `GET /api/runs…` serves back and `POST /api/runs/<id>/notes`
// (or `/labels`) annotates.
import { randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { totalmem } from "node:os";
import { extname, resolve } from "node:path";
import type { Duplex } from "node:stream";
import type { LoadedModel } from "@llmdbg/models";
import type { ModelInfo, PredictionsResult, RpcErrorCode, RpcReply, RpcResult } from "@llmdbg/protocol";
import type { Store } from "@llmdbg/store";
import { WebSocketServer } from "ws";
import { DatasetRegistry, type DatasetSource, datasetsRoute } from "./datasets.js";
import { figureFile } from "./figures.js";
import { isMethodKind, modelInfo, oversizedCount } from "./handlers.js";
import { type Job, Lane, QueueFullError } from "./lane.js";
import { annotateRoute, type JobRecord, JobRecorder, openStoreOrWarn, runsRoute } from "./runs.js";
import {
  allowedHosts,
  authStatus,
  cookieName,
  hostAllowed,
  newToken,
  originAllowed,
  SECURITY_HEADERS,
  staticFile,
  tokenMatches,
} from "./security.js";
import { trainingList } from "./training.js";

/** Caps and budgets; every field has a default. */
export interface ServerLimits {
  /** the largest HTTP request body, bytes (default 1 MiB) */
  readonly bodyBytes?: number;
  /** the largest WebSocket message, bytes (default 4 MiB); a larger one closes the socket with 1009 */
  readonly wsMessageBytes?: number;
  /** method jobs running at once, one worker thread each (default 1) */
  readonly heavyConcurrency?: number;
  /** jobs waiting in the heavy lane (default 64) and the interactive lane (default 256) */
  readonly heavyQueue?: number;
  readonly interactiveQueue?: number;
  /** a method job's time budget, ms (default 10 minutes); run and generate's (default 2 minutes) */
  readonly heavyTimeoutMs?: number;
  readonly interactiveTimeoutMs?: number;
  /** how long a job asked to stop may run on before its thread is terminated, ms (default 2000) */
  readonly graceMs?: number;
  /** finished results kept for `GET /api/jobs/<job>` (default 100; the oldest go first) */
  readonly keptResults?: number;
  /**
   * each worker thread's JavaScript heap, MiB (default 4096): a job whose heap grows past it stops its thread
   * alone, answered `internal`, and a new thread starts. Tensor data lives outside this heap (an allocation too
   * large fails the job). One JavaScript array too large to allocate at all still ends the process: that is what
   * `maxCount` guards against.
   */
  readonly workerHeapMb?: number;
  /**
   * each job's memory budget, MiB (default half the machine's memory, at most 8,192): what a worker thread's
   * tensors and heap grow by while the job runs, checked at each of its progress reports; past it the job stops
   * with `memory` and the thread goes on serving. Models handed over loaded run on the main thread, unmetered.
   */
  readonly jobMemoryMb?: number;
  /** the largest count a method request may ask for: steps, samples, batch, top-k, … (default 1,000,000) */
  readonly maxCount?: number;
  /** requests in flight on one WebSocket (default 256) */
  readonly inFlightPerConnection?: number;
  /** the largest dataset upload (`POST /api/datasets`), bytes (default 32 MiB) */
  readonly datasetBytes?: number;
  /** the most examples one dataset may hold (default 100,000) */
  readonly datasetRows?: number;
}

export type { JobRecord };

export interface ServerOptions {
  /**
   * model id → a Hugging Face folder or a .gguf file (run in worker threads, loaded by each), or a model already
   * loaded (run on this thread, which it blocks while a job runs; its in-memory edits are what is served). The
   * browser names them by id only.
   */
  readonly models: Readonly<Record<string, string | LoadedModel>>;
  /** default 127.0.0.1; any other address needs `allowHost` */
  readonly host?: string;
  /** default 0: any free port */
  readonly port?: number;
  /** bind an address other than loopback (the server warns on stderr) */
  readonly allowHost?: boolean;
  /** extra names the Host header may carry (with the port), e.g. the machine's name when bound to 0.0.0.0 */
  readonly hostNames?: readonly string[];
  /** the built UI; without it `/` serves a short page saying so */
  readonly staticDir?: string;
  readonly limits?: ServerLimits;
  /** the tensor backend of the worker threads (default: LLMDBG_BACKEND, else ort) */
  readonly backend?: "ref" | "ort";
  readonly allowUnread?: boolean;
  /**
   * run one token through each model in the interactive thread before listening, so that the first page's run is
   * not a cold thread's (its first forward pass takes 0.6–2 s, the next 15–50 ms). `llmdbg serve` and `demo` set
   * it; the default is off, since tests start many servers and would each pay it.
   */
  readonly warmUp?: boolean;
  /**
   * the run store that records every finished job (a `run`, `generate` or `method` that ended in a result, an
   * error or its time budget; not a cancelled one) and that `GET /api/runs…` reads: a Store (the caller closes
   * it) or its folder (opened here, closed with the server). One that cannot be opened or written is a warning,
   * never a failed job. Default: none, nothing recorded.
   */
  readonly store?: Store | string;
  /**
   * dataset id → a JSONL file (one `{ "text", "label"?, … }` per line) or examples in memory; the browser names them
   * by id. Uploads (`POST /api/datasets`) join them, kept in the store.
   */
  readonly datasets?: Readonly<Record<string, DatasetSource>>;
  /** called with every finished job, as the store records them */
  readonly onRecord?: (r: JobRecord) => void;
  /** warnings (binding a non-loopback address); default stderr */
  readonly warn?: (message: string) => void;
}

export interface RunningServer {
  /** http://127.0.0.1:PORT/?token=… — open it once; the browser then keeps a cookie */
  readonly url: string;
  readonly port: number;
  readonly token: string;
  /** the cookie's name (`llmdbg_token_<port>`) */
  readonly cookie: string;
  readonly models: readonly ModelInfo[];
  close(): Promise<void>;
}

/** The least time between two progress replies of one job, ms. */
const PROGRESS_MS = 100;

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"]);

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".wasm": "application/wasm",
  ".txt": "text/plain; charset=utf-8",
};

const NO_UI = `<!doctype html><meta charset="utf-8"><title>llmdbg</title>
<p>llmdbg server: the web UI is not built. The RPC is at <code>/ws</code>, the models at <code>/api/models</code>.</p>`;

/** A model reference that looks like a filesystem path: refused, the browser names models by id. */
const looksLikePath = (s: string) => /[/\\]|^\.|^~|^[A-Za-z]:/.test(s);

/** The request's target as a URL; undefined for one that does not parse (`GET http://[ HTTP/1.1`). */
function urlOf(req: IncomingMessage): URL | undefined {
  try {
    return new URL(req.url ?? "/", "http://localhost");
  } catch {
    return undefined;
  }
}

/** One connection's view: where replies go and its requests in flight. */
interface Conn {
  send(reply: RpcReply): void;
  readonly inFlight: Map<string | number, { job: Job; lane: Lane }>;
}

/**
 * Starts the server and resolves once the models are loaded and it listens.
 * @example const s = await startServer({ models: { stories: "zoo/stories" } }); console.log(s.url); await s.close()
 */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const host = opts.host ?? "127.0.0.1";
  const warn = opts.warn ?? ((m: string) => process.stderr.write(`${m}\n`));
  if (!LOOPBACK.has(host) && opts.allowHost !== true)
    throw new Error(`refusing to bind ${host}: only loopback addresses unless allowHost (--allow-remote) is set`);
  for (const id of Object.keys(opts.models)) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id))
      throw new Error(`model id ${JSON.stringify(id)}: use letters, digits, '.', '_' and '-' (at most 64)`);
  }
  const L = opts.limits ?? {};
  const bodyBytes = L.bodyBytes ?? 1 << 20;
  const keptResults = L.keptResults ?? 100;
  const inFlightCap = L.inFlightPerConnection ?? 256;
  const maxCount = L.maxCount ?? 1_000_000;
  const paths = Object.entries(opts.models).filter((e): e is [string, string] => typeof e[1] === "string");
  const loaded = new Map(Object.entries(opts.models).filter((e): e is [string, LoadedModel] => typeof e[1] !== "string"));
  const setup = {
    models: Object.fromEntries(paths.map(([id, p]) => [id, resolve(p)])),
    allowUnread: opts.allowUnread ?? false,
    ...(opts.backend !== undefined && { backend: opts.backend }),
  };
  const graceMs = L.graceMs ?? 2000;
  // a limit of its own makes a thread's heap exhaustion end that thread, not the server
  const heap = {
    heapMb: L.workerHeapMb ?? 4096,
    memoryMb: L.jobMemoryMb ?? Math.min(8192, Math.floor(totalmem() / 2 / 2 ** 20)),
  };
  const interactiveLimits = { queueCap: L.interactiveQueue ?? 256, timeoutMs: L.interactiveTimeoutMs ?? 120_000, graceMs };
  const heavyLimits = { queueCap: L.heavyQueue ?? 64, timeoutMs: L.heavyTimeoutMs ?? 600_000, graceMs };
  // models given by path run in worker threads; the lanes start only when there are some
  const interactive =
    paths.length === 0
      ? undefined
      : Lane.ofWorkers({
          name: "interactive",
          workers: 1,
          ...interactiveLimits,
          ...heap,
          setup: { ...setup, preload: true, ...(opts.warmUp === true && { warm: true }) },
        });
  let infos: ModelInfo[];
  try {
    const byPath = (await interactive?.ready()) ?? [];
    infos = Object.keys(opts.models).map((id) => {
      const m = loaded.get(id);
      return m === undefined ? (byPath.find((i) => i.id === id) as ModelInfo) : modelInfo(id, m);
    });
  } catch (e) {
    await interactive?.close();
    throw e;
  }
  const heavy =
    paths.length === 0
      ? undefined
      : Lane.ofWorkers({
          name: "heavy",
          workers: L.heavyConcurrency ?? 1,
          ...heavyLimits,
          ...heap,
          // they load the models in the background (not awaited), so the first method does not wait for them
          setup: { ...setup, preload: true },
        });
  // models handed over loaded run on this thread, one job at a time, in a lane of their own
  const inProcess = loaded.size === 0 ? undefined : Lane.inProcess({ name: "in-process", workers: 1, ...heavyLimits }, loaded);
  const lanes = [interactive, heavy, inProcess].filter((l): l is Lane => l !== undefined);
  const modelIds = new Set(Object.keys(opts.models));
  const results = new Map<string, JobRecord>();
  const store = typeof opts.store === "string" ? openStoreOrWarn(opts.store, warn) : opts.store;
  const ownStore = typeof opts.store === "string" ? store : undefined;
  const storeModel = (id: string) => {
    const m = loaded.get(id);
    if (m !== undefined) return { path: m.path, config: m.config };
    const path = setup.models[id];
    return path === undefined ? undefined : { path, config: infos.find((i) => i.id === id)?.config ?? null };
  };
  const recorder = store === undefined ? undefined : new JobRecorder(store, storeModel, warn);
  const datasets = new DatasetRegistry(store, warn, L.datasetRows);
  try {
    for (const [id, src] of Object.entries(opts.datasets ?? {})) datasets.register(id, src);
  } catch (e) {
    await Promise.all(lanes.map((l) => l.close()));
    ownStore?.close();
    throw e;
  }
  const datasetBytes = L.datasetBytes ?? 32 << 20;
  /**
   * An attention head fetched for the attention view's enlarged pattern (1 MiB at 1,024 tokens, one per click) is
   * a piece of the overview run it belongs to, which the store keeps; storing each would fill it with display bytes.
   */
  const viewFetch = (rec: JobRecord) =>
    rec.method === "method" && (rec.params as { request?: { kind?: unknown } } | undefined)?.request?.kind === "attention_head";
  /** Hands a finished job to onRecord and the store, after its reply has gone out: neither can fail the job. */
  const record = (rec: JobRecord) => {
    setImmediate(() => {
      try {
        opts.onRecord?.(rec);
      } catch (e) {
        warn(`llmdbg serve: recording job ${rec.job} failed: ${e instanceof Error ? e.message : e}`);
      }
      if (rec.method === "predict" && rec.status === "done") {
        // the run keeps a summary; the predictions go to the dataset's evaluation, one row per example
        const { rows, ...summary } = rec.result as PredictionsResult;
        const run = recorder?.record({ ...rec, result: { ...summary, count: rows.length } });
        datasets.keep(rec.result as PredictionsResult, run);
      } else if (!viewFetch(rec)) recorder?.record(rec);
    });
  };

  /** Answers one parsed message on a connection; every request ends in exactly one result or error. */
  function dispatch(conn: Conn, msg: unknown): void {
    const fail = (id: string | number | null, code: RpcErrorCode, message: string) =>
      conn.send({ kind: "error", id, code, message });
    if (typeof msg !== "object" || msg === null || Array.isArray(msg))
      return void fail(null, "bad_request", "expected a JSON object");
    const { id, method, params = {} } = msg as { id?: unknown; method?: unknown; params?: unknown };
    if (typeof id !== "string" && !(typeof id === "number" && Number.isFinite(id)))
      return void fail(null, "bad_request", "id: expected a string or a number");
    if (typeof method !== "string") return void fail(id, "bad_request", "method: expected a string");
    if (typeof params !== "object" || params === null || Array.isArray(params))
      return void fail(id, "bad_request", "params: expected an object");
    const p = params as Record<string, unknown>;
    if (method === "cancel") {
      const target = conn.inFlight.get(p.id as string | number);
      const cancelled = target?.lane.cancel(target.job) === true;
      return void conn.send({ kind: "result", id, result: { kind: "cancel", cancelled } });
    }
    if (conn.inFlight.has(id))
      return void fail(id, "bad_request", `id ${JSON.stringify(id)} is already in flight on this connection`);
    if (method === "models.list") return void conn.send({ kind: "result", id, result: { kind: "models", models: infos } });
    if (method === "datasets.list")
      return void conn.send({ kind: "result", id, result: { kind: "datasets", datasets: datasets.list() } });
    if (method !== "run" && method !== "generate" && method !== "method" && method !== "datasets.predict")
      return void fail(
        id,
        "unknown_method",
        `no method ${JSON.stringify(method)} (models.list, run, generate, method, datasets.list, datasets.predict, cancel)`,
      );
    const model = p.model;
    if (typeof model !== "string") return void fail(id, "invalid_params", "model: expected a model id");
    if (!modelIds.has(model)) {
      const why = looksLikePath(model)
        ? "models are named by id, never by a filesystem path"
        : `no model ${JSON.stringify(model)} (models.list names them)`;
      return void fail(id, "unknown_model", `model: ${why}`);
    }
    if (method === "method") {
      const req = p.request as { kind?: unknown } | undefined;
      if (typeof req !== "object" || req === null || !isMethodKind(req.kind))
        return void fail(id, "invalid_params", "request.kind: expected a method request kind (lens, dla, attribution, patch, …)");
      const big = oversizedCount(req, maxCount);
      if (big !== undefined) return void fail(id, "invalid_params", `${big}: at most ${maxCount} (the server's limit)`);
    }
    // a dataset's predictions: answered from the store when kept there, else a job given the examples themselves
    let jobParams: unknown = p;
    if (method === "datasets.predict") {
      const d = p.dataset;
      if (typeof d !== "string" || !datasets.has(d))
        return void fail(
          id,
          "invalid_params",
          `dataset: ${typeof d === "string" ? `no dataset ${JSON.stringify(d)}` : "expected a dataset id"} (datasets.list names them)`,
        );
      const b = p.batch;
      if (b !== undefined && !(typeof b === "number" && Number.isInteger(b) && b >= 1 && b <= 1024))
        return void fail(id, "invalid_params", `batch: expected an integer in [1, 1024], got ${JSON.stringify(b)}`);
      if (p.recompute !== true) {
        const hit = datasets.cached(model, recorder?.modelId(model) ?? null, d);
        if (hit !== undefined) return void conn.send({ kind: "result", id, result: hit });
      }
      const classifier = infos.find((i) => i.id === model)?.labels != null;
      jobParams = datasets.job(d, classifier, b as number | undefined);
    }
    if (conn.inFlight.size >= inFlightCap)
      return void fail(id, "queue_full", `${inFlightCap} requests in flight on this connection`);
    const lane = (loaded.has(model) ? inProcess : method === "run" || method === "generate" ? interactive : heavy) as Lane;
    const kind = method === "datasets.predict" ? "predict" : method;
    const startedAt = Date.now();
    let ranAt: number | undefined;
    let ended = false;
    let lastProgress = 0;
    const end = () => {
      ended = true;
      conn.inFlight.delete(id);
    };
    const job: Job = {
      method: kind,
      model,
      params: jobParams,
      onStart: () => {
        ranAt = Date.now();
      },
      onProgress: (g) => {
        // at most one progress reply per PROGRESS_MS (and the last): integrated gradients reports every step
        const now = Date.now();
        if (ended || (now - lastProgress < PROGRESS_MS && g.done < g.total)) return;
        lastProgress = now;
        conn.send({ kind: "progress", id, done: g.done, total: g.total, what: g.what });
      },
      onPartial: (data) => !ended && conn.send({ kind: "partial", id, data }),
      onDone: (result) => {
        if (ended) return;
        end();
        const rec: JobRecord = {
          job: randomUUID(),
          method: kind,
          model,
          params: p,
          result,
          status: "done",
          startedAt,
          ...(ranAt !== undefined && { ranAt }),
          finishedAt: Date.now(),
        };
        results.set(rec.job, rec);
        for (const old of results.keys()) {
          if (results.size <= keptResults) break;
          results.delete(old);
        }
        conn.send({ kind: "result", id, result: result as RpcResult, job: rec.job });
        record(rec);
      },
      onFail: (code, message) => {
        if (ended) return;
        end();
        fail(id, code, message);
        // a cancelled job was withdrawn (a slider moved on, a tab closed): nothing to keep
        if (code !== "cancelled")
          record({
            job: randomUUID(),
            method: kind,
            model,
            params: p,
            result: null,
            status: code === "timeout" || code === "memory" ? "aborted" : "failed",
            error: { code, message },
            startedAt,
            ...(ranAt !== undefined && { ranAt }),
            finishedAt: Date.now(),
          });
      },
    };
    conn.inFlight.set(id, { job, lane });
    try {
      const place = lane.submit(job);
      if (place >= 0) conn.send({ kind: "progress", id, what: "queued", done: place, total: lane.queued });
    } catch (e) {
      end();
      if (e instanceof QueueFullError) return void fail(id, "queue_full", e.message);
      throw e;
    }
  }

  /** Parses one message and dispatches it; nothing a client sends escapes as an exception. */
  function onMessage(conn: Conn, text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return void conn.send({ kind: "error", id: null, code: "bad_request", message: "the message is not JSON" });
    }
    try {
      dispatch(conn, msg);
    } catch (e) {
      const id = (msg as { id?: unknown } | null)?.id;
      conn.send({
        kind: "error",
        id: typeof id === "string" || typeof id === "number" ? id : null,
        code: "internal",
        message: e instanceof Error ? e.message : String(e),
      });
    }
  }

  let hosts = new Set<string>();
  let port = 0;

  function head(res: ServerResponse, status: number, type?: string, extra: Record<string, string> = {}): void {
    res.writeHead(status, { ...SECURITY_HEADERS, ...(type !== undefined && { "Content-Type": type }), ...extra });
  }
  function text(res: ServerResponse, status: number, body: string): void {
    head(res, status, "text/plain; charset=utf-8");
    res.end(`${body}\n`);
  }
  function json(res: ServerResponse, status: number, body: unknown, download?: string): void {
    head(
      res,
      status,
      "application/json",
      download === undefined ? {} : { "Content-Disposition": `attachment; filename="${download}"` },
    );
    res.end(JSON.stringify(body));
  }

  /** Reads a body up to the cap; null after answering 413. */
  function readBody(req: IncomingMessage, res: ServerResponse, cap = bodyBytes): Promise<string | null> {
    return new Promise((done) => {
      const declared = Number(req.headers["content-length"] ?? 0);
      const tooLarge = () => {
        res.setHeader("Connection", "close");
        text(res, 413, "request body too large");
        req.resume();
        done(null);
      };
      if (declared > cap) return void tooLarge();
      const chunks: Buffer[] = [];
      let n = 0;
      let over = false;
      req.on("data", (c: Buffer) => {
        if (over) return;
        n += c.length;
        if (n > cap) {
          over = true;
          tooLarge();
        } else chunks.push(c);
      });
      req.on("end", () => !over && done(Buffer.concat(chunks).toString("utf8")));
      req.on("error", () => !over && done(null));
    });
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!hostAllowed(req, hosts)) return void text(res, 403, "forbidden host");
    const url = urlOf(req);
    if (url === undefined) return void text(res, 400, "bad request target");
    const safe = req.method === "GET" || req.method === "HEAD";
    if (!safe && (req.headers.origin === undefined ? false : !originAllowed(req, hosts)))
      return void text(res, 403, "forbidden origin");
    // the launch URL: swap the token for a cookie, then drop it from the address bar
    const offered = url.searchParams.get("token");
    if (offered !== null && safe) {
      if (!tokenMatches(offered, token)) return void text(res, 403, "wrong token");
      url.searchParams.delete("token");
      head(res, 302, undefined, {
        "Set-Cookie": `${cookieName(port)}=${token}; HttpOnly; SameSite=Strict; Path=/`,
        // one leading slash: `//host/…` would be another site
        Location: `/${url.pathname.replace(/^\/+/, "")}${url.search}`,
      });
      return void res.end();
    }
    const auth = authStatus(req, token, cookieName(port));
    if (auth !== undefined) return void text(res, auth, auth === 401 ? "a token is required" : "wrong token");
    // the raw path: URL() would already have resolved an `..` in it
    const raw = (req.url ?? "/").split("?")[0] ?? "/";
    if (raw === "/api/datasets" || raw.startsWith("/api/datasets/")) {
      // an upload has its own cap and content type (JSONL); the rest are GETs
      const body = safe ? "" : await readBody(req, res, datasetBytes);
      if (body === null) return;
      const a = datasetsRoute(datasets, req.method ?? "GET", raw, url.searchParams, req.headers["content-type"] ?? "", body);
      return void ("text" in a ? text(res, a.status, a.text) : json(res, a.status, a.json));
    }
    if (!safe) {
      const body = await readBody(req, res);
      if (body === null) return;
      const annotate = req.method === "POST" && raw.startsWith("/api/runs/");
      if ((url.pathname !== "/api/rpc" && !annotate) || req.method !== "POST") return void text(res, 405, "method not allowed");
      if (!/^application\/json\b/i.test(req.headers["content-type"] ?? ""))
        return void text(res, 415, "expected application/json");
      if (annotate) {
        const a = annotateRoute(store, raw, body);
        return void ("text" in a ? text(res, a.status, a.text) : json(res, a.status, a.json));
      }
      return void rpcOverHttp(body, res);
    }
    if (url.pathname === "/api/models") return void json(res, 200, { models: infos });
    if (raw === "/api/runs" || raw.startsWith("/api/runs/") || raw === "/api/training") {
      const a = raw === "/api/training" ? trainingList(store) : runsRoute(store, raw, url.searchParams);
      if ("text" in a) return void text(res, a.status, a.text);
      if ("json" in a) return void json(res, 200, a.json, a.download);
      // a bundle (or a figure) is a download too, never a page of this origin
      const bytes = "html" in a ? Buffer.from(a.html) : a.bytes;
      head(res, 200, "html" in a ? "text/html; charset=utf-8" : (a.type ?? "application/octet-stream"), {
        "Content-Disposition": `attachment; filename="${a.download}"`,
        "Content-Length": String(bytes.length),
      });
      return void res.end(req.method === "HEAD" ? undefined : bytes);
    }
    const jobPath = /^\/api\/jobs\/([0-9a-f-]{36})(?:\/figure\.(svg|png))?$/.exec(url.pathname);
    if (jobPath !== null) {
      const [, job = "", figure] = jobPath;
      const rec = results.get(job);
      if (rec === undefined) return void text(res, 404, "no such job (finished results are kept for a while only)");
      if (figure === undefined) return void json(res, 200, rec.result, `${rec.method}-${job}.json`);
      const kind = (rec.result as { kind?: unknown } | undefined)?.kind;
      const f = figureFile(typeof kind === "string" ? kind : rec.method, rec.result, figure as "svg" | "png");
      if ("error" in f) return void text(res, f.status, f.error);
      head(res, 200, f.type, {
        "Content-Disposition": `attachment; filename="${rec.method}-${job}.${figure}"`,
        "Content-Length": String(f.bytes.length),
      });
      return void res.end(req.method === "HEAD" ? undefined : f.bytes);
    }
    if (url.pathname.startsWith("/api/")) return void text(res, 404, "not found");
    return void serveStatic(url.pathname, req.url ?? "/", res, req.method === "HEAD");
  }

  /** `POST /api/rpc`: one request, answered by its final reply (for scripts; progress is not streamed). */
  function rpcOverHttp(body: string, res: ServerResponse): void {
    const conn: Conn = {
      inFlight: new Map(),
      send: (reply) => {
        if (reply.kind !== "result" && reply.kind !== "error") return;
        if (res.headersSent) return;
        json(res, reply.kind === "result" ? 200 : reply.code === "queue_full" ? 503 : 400, reply);
      },
    };
    res.on("close", () => {
      for (const { job, lane } of conn.inFlight.values()) lane.cancel(job);
    });
    onMessage(conn, body);
  }

  function serveStatic(pathname: string, rawUrl: string, res: ServerResponse, headOnly: boolean): void {
    if (opts.staticDir === undefined) {
      if (pathname !== "/") return void text(res, 404, "not found");
      head(res, 200, "text/html; charset=utf-8");
      return void res.end(headOnly ? undefined : NO_UI);
    }
    // the raw path, so an encoded `..` is seen as such (URL() would already have resolved a literal one)
    const raw = rawUrl.split("?")[0] ?? "/";
    const file = staticFile(opts.staticDir, raw);
    if (file === 400) return void text(res, 400, "bad path");
    if (file === 404) return void text(res, 404, "not found");
    head(res, 200, TYPES[extname(file).toLowerCase()] ?? "application/octet-stream");
    if (headOnly) return void res.end();
    createReadStream(file)
      .on("error", () => res.destroy())
      .pipe(res);
  }

  const token = newToken();
  const http = createServer((req, res) => {
    onRequest(req, res).catch((e) => {
      if (!res.headersSent) text(res, 500, "internal error");
      else res.destroy();
      warn(`llmdbg serve: ${e instanceof Error ? e.message : e}`);
    });
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: L.wsMessageBytes ?? 4 << 20 });

  function refuse(socket: Duplex, status: number, reason: string): void {
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }
  http.on("upgrade", (req: IncomingMessage, socket: Duplex, headBuf: Buffer) => {
    socket.on("error", () => socket.destroy());
    if (!hostAllowed(req, hosts)) return refuse(socket, 403, "Forbidden");
    if (!originAllowed(req, hosts)) return refuse(socket, 403, "Forbidden");
    const auth = authStatus(req, token, cookieName(port));
    if (auth !== undefined) return refuse(socket, auth, auth === 401 ? "Unauthorized" : "Forbidden");
    if (urlOf(req)?.pathname !== "/ws") return refuse(socket, 404, "Not Found");
    wss.handleUpgrade(req, socket, headBuf, (ws) => {
      const conn: Conn = {
        inFlight: new Map(),
        send: (reply) => {
          if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(reply));
        },
      };
      ws.on("message", (data, isBinary) => {
        if (isBinary) return void conn.send({ kind: "error", id: null, code: "bad_request", message: "expected a text message" });
        onMessage(conn, data.toString());
      });
      ws.on("error", () => ws.terminate());
      ws.on("close", () => {
        for (const { job, lane } of [...conn.inFlight.values()]) lane.cancel(job);
      });
    });
  });

  try {
    await new Promise<void>((ok, fail) => {
      http.once("error", fail);
      http.listen(opts.port ?? 0, host, () => ok());
    });
  } catch (e) {
    await Promise.all(lanes.map((l) => l.close()));
    ownStore?.close();
    throw e;
  }
  port = (http.address() as AddressInfo).port;
  const bound = host.includes(":") ? `[${host}]` : host;
  hosts = allowedHosts(port, [
    ...(LOOPBACK.has(host) || host === "0.0.0.0" || host === "::" ? [] : [bound]),
    ...(opts.hostNames ?? []),
  ]);
  if (!LOOPBACK.has(host))
    warn(
      `llmdbg serve: WARNING: listening on ${host}, reachable from other machines. Anyone with the token can run models here; the traffic is not encrypted.`,
    );
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    cookie: cookieName(port),
    models: infos,
    async close() {
      for (const c of wss.clients) c.terminate();
      http.closeAllConnections();
      await new Promise<void>((ok) => http.close(() => ok()));
      await Promise.all(lanes.map((l) => l.close()));
      // the jobs' last records are queued behind setImmediate: let them land before the store closes
      await new Promise((ok) => setImmediate(ok));
      ownStore?.close();
    },
  };
}
