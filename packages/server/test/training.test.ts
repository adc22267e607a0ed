// Training runs followed live over REST: another store handle writes a training run as `llmdbg train` does
// (LiveRun) while the server serves it; `GET /api/training` lists it running with its last step and loss,
// `GET /api/runs/<id>/events?after=<seq>` gives the events after a sequence number — those appended after the
// first request arrive on the next — with checkpoints by id and folder name and no path anywhere; paging caps;
// the server reads while the writer holds the write lock and never holds it itself; bad ids, a run that is not a
// training run and bad query numbers are clear errors; the token and Host checks of every route apply.
import { join } from "node:path";
import type { TrainEvent, TrainingEventsPage, TrainingRunsPage, TrainStepEvent } from "@llmdbg/protocol";
import { LiveRun, openStore, type Store } from "@llmdbg/store";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/index.js";
import { bearer, http, serve, tinyFolder } from "./helpers.js";

const tiny = tinyFolder();
const storeDir = join(tiny.dir, "store");

let s: RunningServer;
let writer: Store;
beforeAll(async () => {
  s = await serve(tiny.model, { store: storeDir });
  writer = openStore(storeDir); // as `llmdbg train` opens it, in another process
});
afterAll(async () => {
  await s?.close();
  writer?.close();
  tiny.cleanup();
});

const step = (i: number): TrainStepEvent => ({
  kind: "step",
  step: i,
  epoch: i / 100,
  loss: 4 - i / 100,
  lr: 1e-3,
  gradNorm: 0.9,
  layerGradNorms: { "0": 0.5, "1": 0.4, wte: 0.1 },
  updateRatio: { "0": 1e-3, "1": 2e-3, wte: 1e-4 },
  tokens: 32,
  tokensPerSecond: 2000,
  wallMs: 4,
});

const startEvent = (checkpointDir: string): TrainEvent => ({
  kind: "start",
  config: { checkpointDir, maxSteps: 50 } as never,
  params: 1000,
  trainableParams: 1000,
  seed: 0,
  totalSteps: 50,
  examples: 16,
  resumedFrom: null,
});

async function get<T>(
  path: string,
  headers: Record<string, string> = bearer(s),
): Promise<{ status: number; body: T; text: string }> {
  const r = await http(s.port, path, { headers });
  return {
    status: r.status,
    body: (r.headers["content-type"]?.startsWith("application/json") ? JSON.parse(r.body) : null) as T,
    text: r.body,
  };
}

describe("following a training run", () => {
  it("lists it running and serves its events after a sequence number, new ones as they are appended", async () => {
    const secret = join(tiny.dir, "secret-folder");
    const live = LiveRun.start(writer, { kind: "train" }, { flushMs: 0 });
    live.push(startEvent(join(secret, "checkpoints")));
    for (let i = 1; i <= 3; i++) live.push(step(i));
    const list = await get<TrainingRunsPage>("/api/training");
    expect(list.status).toBe(200);
    expect(list.body.runs[0]).toMatchObject({ id: live.id, status: "running", step: 3, loss: 3.97, totalSteps: 50, events: 4 });
    expect(Date.parse(list.body.now)).toBeGreaterThan(0);

    const first = await get<TrainingEventsPage>(`/api/runs/${live.id}/events`);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ run: live.id, status: "running", after: -1, last: 3, more: false, error: null });
    expect(first.body.events.map((e) => e.kind)).toEqual(["start", "step", "step", "step"]);
    // nothing new yet
    const idle = await get<TrainingEventsPage>(`/api/runs/${live.id}/events?after=3`);
    expect(idle.body).toMatchObject({ events: [], last: 3, status: "running" });
    // the writer goes on: the next request after the last sequence number gets exactly the new events
    live.push(step(4));
    live.push({ kind: "checkpoint", step: 4, path: join(secret, "checkpoints", "checkpoint-4") });
    live.push({ kind: "eval", step: 4, metrics: { loss: 3.5 } });
    const next = await get<TrainingEventsPage>(`/api/runs/${live.id}/events?after=${first.body.last}`);
    expect(next.body.after).toBe(3);
    expect(next.body.events).toEqual([
      step(4),
      { kind: "checkpoint", step: 4, id: expect.any(Number), name: "checkpoint-4" },
      { kind: "eval", step: 4, metrics: { loss: 3.5 } },
    ]);
    expect(next.body.last).toBe(6);
    // no folder of the machine that trained reaches the browser: not the checkpoint's, not the start event's
    expect(first.text + next.text).not.toContain(secret);
    expect((first.body.events[0] as { config: { checkpointDir: unknown } }).config.checkpointDir).toBeNull();
    live.finish({ status: "done" });
    const end = await get<TrainingEventsPage>(`/api/runs/${live.id}/events?after=6`);
    expect(end.body).toMatchObject({ status: "done", events: [] });
    expect((await get<TrainingRunsPage>("/api/training")).body.runs[0]).toMatchObject({
      id: live.id,
      status: "done",
      step: 4,
      evalLoss: 3.5,
    });
  });

  it("pages a long run by count; a failed run carries its error", async () => {
    const live = LiveRun.start(writer, { kind: "train" });
    for (let i = 1; i <= 25; i++) live.push(step(i));
    live.finish({ status: "failed", error: "out of memory at step 25" });
    const seen: number[] = [];
    let after = -1;
    let pages = 0;
    for (;;) {
      const p = (await get<TrainingEventsPage>(`/api/runs/${live.id}/events?after=${after}&limit=10`)).body;
      pages++;
      seen.push(...p.events.map((e) => (e as TrainStepEvent).step));
      after = p.last;
      if (!p.more) break;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    const p = (await get<TrainingEventsPage>(`/api/runs/${live.id}/events?after=${after}`)).body;
    expect(p).toMatchObject({ status: "failed", error: "out of memory at step 25" });
  });

  it("reads while the writer holds the store's write lock, and holds no lock of its own", async () => {
    const live = LiveRun.start(writer, { kind: "train" }, { flushMs: 0 });
    live.push(step(1));
    writer.db.exec("BEGIN IMMEDIATE");
    try {
      const r = await get<TrainingEventsPage>(`/api/runs/${live.id}/events`);
      expect(r.status).toBe(200);
      expect(r.body.events).toEqual([step(1)]);
      expect((await get<TrainingRunsPage>("/api/training")).status).toBe(200);
    } finally {
      writer.db.exec("COMMIT");
    }
    // after the server's reads, a writer that will not wait for a lock still writes at once
    const impatient = openStore(storeDir);
    impatient.db.pragma("busy_timeout = 0");
    impatient.appendEvents(live.id, [step(2)]);
    impatient.close();
    expect((await get<TrainingEventsPage>(`/api/runs/${live.id}/events?after=0`)).body.events).toEqual([step(2)]);
    live.finish({ status: "aborted" });
  });

  it("an unknown run is 404, a malformed id or number 400, a run that is not a training run a clear 400", async () => {
    expect((await get("/api/runs/99999/events")).status).toBe(404);
    expect((await get("/api/runs/abc/events")).status).toBe(400);
    const lens = writer.recordRun({ kind: "lens", prompt: "hello" });
    const r = await get(`/api/runs/${lens}/events`);
    expect(r.status).toBe(400);
    expect(r.text).toContain(`run ${lens} is a lens run, not a training run`);
    const live = LiveRun.start(writer, { kind: "train" });
    for (const q of ["after=x", "after=-2", "after=1.5", "limit=0", "limit=100000"]) {
      const bad = await get(`/api/runs/${live.id}/events?${q}`);
      expect(bad.status).toBe(400);
      expect(bad.text).toMatch(new RegExp(`^${q.split("=")[0]}: expected an integer from`));
    }
    expect((await get(`/api/runs/${live.id}/events/more`)).status).toBe(404);
    live.finish({ status: "done" });
  });

  it("needs the token (401 without, 403 wrong) and an allowed Host, like every route", async () => {
    for (const path of ["/api/training", "/api/runs/1/events"]) {
      expect((await http(s.port, path)).status).toBe(401);
      expect((await http(s.port, path, { headers: { Authorization: "Bearer nope" } })).status).toBe(403);
      expect((await http(s.port, path, { headers: { ...bearer(s), Host: "evil.example" } })).status).toBe(403);
    }
  });

  it("without a store, the routes say so (404)", async () => {
    const bare = await serve(tiny.model);
    try {
      const r = await http(bare.port, "/api/training", { headers: bearer(bare) });
      expect(r.status).toBe(404);
      expect(r.body).toContain("no run store");
    } finally {
      await bare.close();
    }
  });
});
