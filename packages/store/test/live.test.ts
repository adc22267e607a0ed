// Training runs recorded while they run (LiveRun) and read by a second handle on the same store, as the server
// reads what `llmdbg train` writes: batches by time and at once for rare events, the final status with its error
// and model, checkpoints by id, paging by sequence number with count and byte caps, the training list's summary.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TrainEvent, TrainStepEvent } from "@llmdbg/protocol";
import { afterAll, describe, expect, it } from "vitest";
import { checkpointsOf, eventsAfter, LiveRun, openStore, runState, trainingRuns } from "../src/index.js";

const root = mkdtempSync(join(tmpdir(), "llmdbg-store-live-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `s${n++}`);

const step = (i: number, loss = 3 - i / 10): TrainStepEvent => ({
  kind: "step",
  step: i,
  epoch: i / 10,
  loss,
  lr: 1e-3,
  gradNorm: 1,
  layerGradNorms: { "0": 0.5, wte: 0.2 },
  updateRatio: { "0": 1e-3 },
  tokens: 64,
  tokensPerSecond: 1000 + i,
  wallMs: 5,
});

const start: TrainEvent = {
  kind: "start",
  config: {} as never,
  params: 100,
  trainableParams: 100,
  seed: 0,
  totalSteps: 20,
  examples: 8,
  resumedFrom: null,
};

describe("LiveRun", () => {
  it("records the run as running before any event, batches steps by time, and a second handle reads them while it runs", () => {
    const dir = fresh();
    const writer = openStore(dir);
    const reader = openStore(dir);
    let clock = 0;
    const live = LiveRun.start(writer, { kind: "train", options: { runFile: "/x/run.json" } }, { now: () => clock });
    expect(runState(reader, live.id)).toMatchObject({ kind: "train", status: "running", error: null });
    expect(eventsAfter(reader, live.id, -1).events).toEqual([]);
    live.push(start); // rare: written at once
    expect(eventsAfter(reader, live.id, -1).events.map((e) => e.event)).toEqual([start]);
    live.push(step(1));
    live.push(step(2));
    clock = 100;
    live.push(step(3));
    // not yet due: the reader sees the start event alone
    expect(eventsAfter(reader, live.id, -1).events).toHaveLength(1);
    clock = 300;
    live.push(step(4));
    const seen = eventsAfter(reader, live.id, -1).events;
    expect(seen.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(seen.map((e) => e.event)).toEqual([start, step(1), step(2), step(3), step(4)]);
    expect(live.written).toBe(5);
    // an evaluation is written at once, with the step before it
    live.push(step(5));
    live.push({ kind: "eval", step: 5, metrics: { loss: 2.25, perplexity: 9.5 } });
    expect(eventsAfter(reader, live.id, 4).events.map((e) => e.event.kind)).toEqual(["step", "eval"]);
    const [summary] = trainingRuns(reader);
    expect(summary).toMatchObject({
      id: live.id,
      status: "running",
      step: 5,
      totalSteps: 20,
      loss: 2.5,
      evalLoss: 2.25,
      tokensPerSecond: 1005,
      events: 7,
      checkpoints: 0,
      error: null,
    });
    live.push(step(6));
    expect(live.finish({ status: "done", timings: { wallMs: 42 } })).toBe(true);
    expect(runState(reader, live.id).status).toBe("done");
    expect(reader.getRun(live.id).events).toHaveLength(8);
    expect(reader.getRun(live.id).timings).toEqual({ wallMs: 42 });
    expect(() => live.push(step(7))).toThrow(/after the run finished/);
    writer.close();
    reader.close();
  });

  it("keeps checkpoints by id (their folder stays in the store), and the run's model is the one it ends with", () => {
    const s = openStore(fresh());
    const base = s.addModel({ path: "/m/base", hash: "ab".repeat(32), config: {} });
    const out = s.addModel({ path: "/m/trained", hash: "cd".repeat(32), config: {} });
    const live = LiveRun.start(s, { kind: "train", model: base });
    expect(trainingRuns(s)[0]?.model).toBe("base");
    live.push(step(1));
    live.push({ kind: "checkpoint", step: 1, path: "/runs/a/checkpoints/checkpoint-1" });
    live.push(step(2));
    live.push({ kind: "checkpoint", step: 2, path: "/runs/a/checkpoints/checkpoint-2" });
    const cps = checkpointsOf(s, live.id);
    expect(cps.map((c) => [c.step, c.path])).toEqual([
      [1, "/runs/a/checkpoints/checkpoint-1"],
      [2, "/runs/a/checkpoints/checkpoint-2"],
    ]);
    expect(new Set(cps.map((c) => c.id)).size).toBe(2);
    live.finish({ status: "done", model: out });
    expect(trainingRuns(s)[0]).toMatchObject({ model: "trained", checkpoints: 2, status: "done" });
    s.close();
  });

  it("a failed run keeps its error, and running runs are listed first", () => {
    const s = openStore(fresh());
    const a = LiveRun.start(s, { kind: "train" });
    a.push(step(1));
    a.finish({ status: "failed", error: "checkpoints: EACCES: permission denied" });
    const b = LiveRun.start(s, { kind: "train" });
    const c = LiveRun.start(s, { kind: "train" });
    c.finish({ status: "aborted" });
    s.recordRun({ kind: "lens" }); // not a training run
    expect(runState(s, a.id)).toMatchObject({ status: "failed", error: "checkpoints: EACCES: permission denied" });
    expect(s.getRun(a.id).events).toEqual([step(1)]);
    expect(trainingRuns(s).map((r) => [r.id, r.status])).toEqual([
      [b.id, "running"],
      [c.id, "aborted"],
      [a.id, "failed"],
    ]);
    expect(trainingRuns(s).find((r) => r.id === a.id)?.error).toBe("checkpoints: EACCES: permission denied");
    expect(() => runState(s, 999)).toThrow(/run 999 is not in the store/);
    s.close();
  });

  it("a write the store refuses warns once and keeps the events for the next one", () => {
    const s = openStore(fresh());
    const warnings: string[] = [];
    const live = LiveRun.start(s, { kind: "train" }, { warn: (m) => warnings.push(m), flushMs: 0 });
    // another writer holds the write lock: appends fail at once (no busy wait) until it lets go
    s.db.pragma("busy_timeout = 0");
    const other = openStore(s.dir);
    other.db.exec("BEGIN IMMEDIATE");
    live.push(step(1));
    live.push(step(2));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/did not record training run \d+ .*training goes on/);
    other.db.exec("COMMIT");
    live.push(step(3));
    expect(s.getRun(live.id).events).toEqual([step(1), step(2), step(3)]);
    expect(warnings).toHaveLength(1);
    other.close();
    s.close();
  });

  it("the updated time moves with each batch", async () => {
    const s = openStore(fresh());
    const live = LiveRun.start(s, { kind: "train" }, { flushMs: 0 });
    const t0 = runState(s, live.id).updatedAt;
    await new Promise((r) => setTimeout(r, 5));
    live.push(step(1));
    const t1 = runState(s, live.id).updatedAt;
    expect(t1 > t0).toBe(true);
    s.close();
  });
});

describe("eventsAfter", () => {
  it("pages by sequence number, capped by count and by bytes (at least one event per page)", () => {
    const s = openStore(fresh());
    const id = s.recordRun({ kind: "train", events: Array.from({ length: 10 }, (_, i) => step(i + 1)) });
    const p1 = eventsAfter(s, id, -1, 4);
    expect(p1.events.map((e) => e.seq)).toEqual([0, 1, 2, 3]);
    expect(p1.more).toBe(true);
    const p2 = eventsAfter(s, id, 3, 100);
    expect(p2.events.map((e) => e.seq)).toEqual([4, 5, 6, 7, 8, 9]);
    expect(p2.more).toBe(false);
    expect(eventsAfter(s, id, 9).events).toEqual([]);
    const one = JSON.stringify(step(1)).length;
    const byBytes = eventsAfter(s, id, -1, 100, one * 2 + 5);
    expect(byBytes.events).toHaveLength(2);
    expect(byBytes.more).toBe(true);
    expect(eventsAfter(s, id, -1, 100, 1).events).toHaveLength(1);
    s.close();
  });
});
