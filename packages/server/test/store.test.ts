// The server and the run store: every finished job over the WebSocket becomes a stored run with its result, model
// (path and content hash) and status; the stored runs come back over REST (list, one run as JSON, a tensor blob as
// a safetensors download) behind the token, with ids and names that cannot smuggle a path; without a store
// nothing is recorded, and a store that cannot be opened or written stops neither the jobs nor the server.
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import type { RpcReply } from "@llmdbg/protocol";
import { hashModel, openStore, type Store, storeHome } from "@llmdbg/store";
import * as T from "@llmdbg/tensor";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/index.js";
import { bearer, Client, final, http, serve, tinyFolder } from "./helpers.js";

const tiny = tinyFolder();
const storeDir = join(tiny.dir, "store");
const ids = [3, 17, 42, 5];

let s: RunningServer;
let c: Client;
let store: Store;
beforeAll(async () => {
  s = await serve(tiny.model, { store: storeDir });
  c = await Client.open(s);
  store = openStore(storeDir); // a second connection, as `llmdbg runs` would open it
});
afterAll(async () => {
  c?.close();
  await s?.close();
  store?.close();
  tiny.cleanup();
});

function resultOf(rs: RpcReply[]): { result: { kind: string }; job: string } {
  const r = final(rs);
  if (r.kind !== "result" || r.job === undefined) throw new Error(JSON.stringify(r));
  return { result: r.result as { kind: string }, job: r.job };
}

/** The stored run with this uid, once the server has recorded it (it does so just after replying). */
async function storedRun(st: Store, uid: string): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const run = st.listRuns().find((r) => r.uid === uid);
    if (run !== undefined) return run.id;
    await new Promise((ok) => setTimeout(ok, 10));
  }
  throw new Error(`run ${uid} was not recorded`);
}

describe("recording", () => {
  it("a run over the WebSocket is stored with its result, prompt, tokens, model (path and hash) and timing", async () => {
    const { result, job } = resultOf(await c.call("r", "run", { model: "tiny", input: { ids }, topK: 3 }));
    const run = store.getRun(await storedRun(store, job));
    expect(run).toMatchObject({ uid: job, kind: "run", status: "done", tokens: ids, prompt: null });
    expect(run.results.map((r) => r.result)).toEqual([result]);
    expect(run.options).toMatchObject({ topK: 3, served: "tiny" });
    expect(run.model).toMatchObject({ path: tiny.model, hash: hashModel(tiny.model) });
    expect(run.timings.wallMs).toBeGreaterThanOrEqual(0);
    expect((run.timings.queuedMs ?? -1) + (run.timings.runMs ?? -1)).toBe(run.timings.wallMs);
    expect(run.hardware.platform).toBe(process.platform);
  });

  it("generate and a method are stored under their kinds; the model is stored once", async () => {
    const gen = resultOf(await c.call("g", "generate", { model: "tiny", input: { text: "hello" }, maxNewTokens: 3 }));
    const lens = resultOf(
      await c.call("l", "method", { model: "tiny", request: { kind: "lens", input: { text: "hello world" }, topK: 2 } }),
    );
    const g = store.getRun(await storedRun(store, gen.job));
    expect(g).toMatchObject({ kind: "generate", prompt: "hello", status: "done" });
    expect(g.results[0]?.result).toEqual(gen.result);
    const l = store.getRun(await storedRun(store, lens.job));
    expect(l).toMatchObject({ kind: "lens", prompt: "hello world", status: "done" });
    expect(l.results[0]?.result).toEqual(lens.result);
    expect(l.model?.id).toBe(g.model?.id);
    expect(store.listModels()).toHaveLength(1);
  });

  it("a job that fails is stored as failed, with its error", async () => {
    const before = store.listRuns().length;
    const r = final(await c.call("bad", "run", { model: "tiny", input: { ids: [1e9] } }));
    expect(r.kind).toBe("error");
    for (let i = 0; i < 200 && store.listRuns().length === before; i++) await new Promise((ok) => setTimeout(ok, 10));
    const [last] = store.listRuns({ limit: 1 });
    const run = store.getRun(last?.id ?? 0);
    expect(run.status).toBe("failed");
    expect(run.results[0]?.result).toMatchObject({ kind: "error", code: r.kind === "error" ? r.code : "" });
  });
});

describe("REST downloads", () => {
  let runId = 0;
  let blob: Uint8Array;
  beforeAll(async () => {
    const { job } = resultOf(await c.call("t", "run", { model: "tiny", input: { text: "with tensors" } }));
    runId = await storedRun(store, job);
    const x = T.tensor([1, 2, 3, 4, 5, 6], [2, 3]); // [row, col]
    const ref = store.putTensor({ x }, { run: runId, name: "cache" });
    blob = store.blobBytes(ref.id);
  });

  it("GET /api/runs lists the runs, newest first, naming models without their path", async () => {
    const r = await http(s.port, "/api/runs", { headers: bearer(s) });
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe("application/json");
    const { runs } = JSON.parse(r.body) as { runs: { id: number; kind: string; model: string }[] };
    expect(runs[0]?.id).toBe(runId);
    expect(runs.map((x) => x.id)).toEqual(store.listRuns().map((x) => x.id));
    expect(runs[0]?.model).toBe("gpt2");
    expect(r.body).not.toContain(tiny.dir);
    const limited = JSON.parse((await http(s.port, "/api/runs?limit=1&kind=lens", { headers: bearer(s) })).body);
    expect(limited.runs.map((x: { kind: string }) => x.kind)).toEqual(["lens"]);
  });

  it("GET /api/runs/<id> is the run with its results as a JSON download", async () => {
    const r = await http(s.port, `/api/runs/${runId}`, { headers: bearer(s) });
    expect(r.status).toBe(200);
    expect(r.headers["content-disposition"]).toBe(`attachment; filename="run-${runId}.json"`);
    const run = JSON.parse(r.body);
    const stored = store.getRun(runId);
    expect(run.results).toEqual(stored.results);
    expect(run.blobs).toEqual(stored.blobs);
    expect(run.model).toMatchObject({ name: "gpt2", hash: stored.model?.hash });
    expect(r.body).not.toContain(tiny.dir);
  });

  it("GET /api/runs/<id>/tensors/<name>.safetensors downloads the blob's bytes", async () => {
    const r = await new Promise<{ status: number; headers: Record<string, unknown>; bytes: Buffer }>((ok, fail) => {
      const path = `/api/runs/${runId}/tensors/cache.safetensors`;
      const req = request({ host: "127.0.0.1", port: s.port, path, headers: bearer(s) }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (b: Buffer) => chunks.push(b));
        res.on("end", () => ok({ status: res.statusCode ?? 0, headers: res.headers, bytes: Buffer.concat(chunks) }));
      });
      req.on("error", fail);
      req.end();
    });
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe("application/octet-stream");
    expect(r.headers["content-disposition"]).toBe(`attachment; filename="run-${runId}-cache.safetensors"`);
    expect(r.bytes.equals(Buffer.from(blob))).toBe(true);
    expect(r.bytes.length).toBe(blob.length);
  });

  it("needs the token (401 without, 403 wrong) like every route", async () => {
    for (const path of ["/api/runs", `/api/runs/${runId}`, `/api/runs/${runId}/tensors/cache.safetensors`]) {
      expect((await http(s.port, path)).status).toBe(401);
      expect((await http(s.port, path, { headers: { Authorization: "Bearer nope" } })).status).toBe(403);
      expect((await http(s.port, path, { headers: { ...bearer(s), Host: "evil.example" } })).status).toBe(403);
    }
  });

  it("unknown runs and tensors are 404; malformed ids and names, traversal attempts included, are 400", async () => {
    const status = async (path: string) => (await http(s.port, path, { headers: bearer(s) })).status;
    expect(await status("/api/runs/99999")).toBe(404);
    expect(await status(`/api/runs/${runId}/tensors/nothing.safetensors`)).toBe(404);
    expect(await status(`/api/runs/${runId}/other`)).toBe(404);
    for (const bad of [
      "/api/runs/01",
      "/api/runs/-1",
      "/api/runs/1e3",
      "/api/runs/../store.db",
      "/api/runs/%2e%2e/store.db",
      `/api/runs/${runId}/tensors/..%2F..%2Fstore.db.safetensors`,
      `/api/runs/${runId}/tensors/%2e%2e.safetensors`,
      `/api/runs/${runId}/tensors/cache.json`,
      "/api/runs?limit=-1",
    ]) {
      const r = await http(s.port, bad, { headers: bearer(s) });
      expect(r.status, bad).toBe(400);
      expect(r.body).not.toContain("SQLite");
    }
  });
});

describe("annotating runs", () => {
  const post = (path: string, body: unknown, headers: Record<string, string> = bearer(s)) =>
    http(s.port, path, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  let runId: number;
  beforeAll(async () => {
    runId = await storedRun(store, resultOf(await c.call("n", "run", { model: "tiny", input: { ids } })).job);
  });

  it("POST /api/runs/<id>/notes stores a note that GET /api/runs/<id> then shows; labels likewise", async () => {
    const r = await post(`/api/runs/${runId}/notes`, { text: "the 17 looks off" });
    expect(r.status).toBe(201);
    expect(JSON.parse(r.body).id).toBeGreaterThan(0);
    const l = await post(`/api/runs/${runId}/labels`, { example: `run:${runId}#1`, label: "odd" });
    expect(l.status).toBe(201);
    const run = JSON.parse((await http(s.port, `/api/runs/${runId}`, { headers: bearer(s) })).body);
    expect(run.notes.map((n: { text: string }) => n.text)).toEqual(["the 17 looks off"]);
    expect(run.labels).toMatchObject([{ example: `run:${runId}#1`, label: "odd" }]);
    expect(store.getRun(runId).notes[0]).toMatchObject({ text: "the 17 looks off", example: null });
  });

  it("is refused without the token (401), from a foreign Origin (403), for an unknown run (404), oversized (413)", async () => {
    const path = `/api/runs/${runId}/notes`;
    const before = store.getRun(runId).notes.length;
    expect((await post(path, { text: "x" }, {})).status).toBe(401);
    expect((await post(path, { text: "x" }, { ...bearer(s), Origin: "http://evil.example" })).status).toBe(403);
    expect((await post("/api/runs/99999/notes", { text: "x" })).status).toBe(404);
    expect((await post(`/api/runs/${runId}/other`, { text: "x" })).status).toBe(404);
    expect((await post(path, { text: "x".repeat(17 * 1024) })).status).toBe(413);
    for (const [p, b] of [
      ["/api/runs/01/notes", { text: "x" }],
      ["/api/runs/%2e%2e/notes", { text: "x" }],
      [path, { text: "" }],
      [path, { text: 3 }],
      [path, "not json"],
      [`/api/runs/${runId}/labels`, { label: "no example" }],
    ] as const) {
      expect((await post(p, b)).status, `${p} ${JSON.stringify(b)}`).toBe(400);
    }
    expect(store.getRun(runId).notes.length).toBe(before);
  });
});

describe("a run as a static bundle", () => {
  it("GET /api/runs/<id>/bundle.html is a page download with the run embedded, markup inert, its script allowed by hash", async () => {
    const { job } = resultOf(await c.call("b", "run", { model: "tiny", input: { ids }, topK: 2 }));
    const id = await storedRun(store, job);
    const evil = '</script><script>alert(1)</script><!-- <img src=x onerror="x()">';
    store.addNote(id, evil);
    const r = await http(s.port, `/api/runs/${id}/bundle.html`, { headers: bearer(s) });
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(r.headers["content-disposition"]).toBe(`attachment; filename="run-${id}.html"`);
    // the two script elements' own closing tags are the only ones
    expect(r.body.match(/<\/script/gi)).toHaveLength(2);
    expect(r.body).not.toContain(tiny.dir);
    const embedded = /<script type="application\/json" id="run">(.*?)<\/script>/s.exec(r.body)?.[1] ?? "";
    const run = JSON.parse((await http(s.port, `/api/runs/${id}`, { headers: bearer(s) })).body);
    expect(JSON.parse(embedded)).toEqual(run);
    expect(run.notes[0].text).toBe(evil);
    const script = /<script>(.*?)<\/script>/s.exec(r.body)?.[1] ?? "";
    const sha = createHash("sha256").update(script).digest("base64");
    expect(r.body).toContain(`script-src 'sha256-${sha}';`);
    expect((await http(s.port, `/api/runs/${id}/bundle.html`)).status).toBe(401);
    expect((await http(s.port, "/api/runs/99999/bundle.html", { headers: bearer(s) })).status).toBe(404);
    expect((await http(s.port, `/api/runs/${id}/bundle.html/x`, { headers: bearer(s) })).status).toBe(404);
  });
});

describe("without a store, or a broken one", () => {
  it("no store: jobs run, nothing is recorded, /api/runs is 404", async () => {
    const home = openStore(storeHome());
    const before = home.listRuns().length;
    const plain = await serve(tiny.model);
    try {
      const pc = await Client.open(plain);
      resultOf(await pc.call("r", "run", { model: "tiny", input: { ids } }));
      pc.close();
      await new Promise((ok) => setTimeout(ok, 50));
      expect(home.listRuns().length).toBe(before);
      expect((await http(plain.port, "/api/runs", { headers: bearer(plain) })).status).toBe(404);
    } finally {
      await plain.close();
      home.close();
    }
  });

  it("a store that cannot be opened is a warning: the server starts and answers", async () => {
    const file = join(tiny.dir, "not-a-folder");
    writeFileSync(file, "x");
    const warnings: string[] = [];
    const broken = await serve(tiny.model, { store: file, warn: (m) => warnings.push(m) });
    try {
      expect(warnings.join("\n")).toContain("cannot be opened");
      const bc = await Client.open(broken);
      expect(final(await bc.call("r", "run", { model: "tiny", input: { ids } })).kind).toBe("result");
      bc.close();
    } finally {
      await broken.close();
    }
  });

  it("a store that fails to write is warned about once; every job still gets its result", async () => {
    const st = openStore(join(tiny.dir, "closed"));
    st.close(); // every write now throws
    const warnings: string[] = [];
    const failing = await serve(tiny.model, { store: st, warn: (m) => warnings.push(m) });
    try {
      const fc = await Client.open(failing);
      for (const id of ["a", "b", "c"])
        expect(final(await fc.call(id, "run", { model: "tiny", input: { ids } })).kind).toBe("result");
      await new Promise((ok) => setTimeout(ok, 50));
      // one warning for the three failed records (and one at start: the store's uploaded datasets cannot be read)
      expect(warnings.filter((w) => w.includes("did not record"))).toHaveLength(1);
      expect(warnings.filter((w) => !w.includes("did not record"))).toEqual([
        expect.stringContaining("the run store's datasets cannot be read"),
      ]);
      fc.close();
    } finally {
      await failing.close();
    }
  });
});
