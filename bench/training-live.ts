// training-live: what following a training run costs. The writer's side: 10,000 step events recorded the way
// `llmdbg train` records them (the store's LiveRun, a batch every 250 ms) and in the worst case (a transaction per
// event), against the JSONL log it writes anyway. The reader's side: one page of 5,000 events of a 100,000-step run
// as `GET /api/runs/<id>/events` builds it (the server's trainingEvents: the run's state, the page, checkpoints by
// id, in one read transaction), against a bare SELECT and JSON.parse of the same rows.
//
// Verified before timing: the store holds exactly the events the JSONL log holds, and the route's page equals the
// bare read's events.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TrainEvent, TrainStepEvent } from "@llmdbg/protocol";
import { trainingEvents } from "@llmdbg/server";
import { LiveRun, openStore, type Store } from "@llmdbg/store";
import { JsonlSink } from "@llmdbg/train";
import { type BenchEnv, type Check, median, row, type SectionResult, sampleRun, spread, within } from "./common.js";

const SECTION = "training-live";

const step = (i: number): TrainStepEvent => ({
  kind: "step",
  step: i,
  epoch: i / 1000,
  loss: 3 + Math.sin(i / 50),
  lr: 1e-3,
  gradNorm: 1 + Math.cos(i / 30),
  layerGradNorms: Object.fromEntries(Array.from({ length: 12 }, (_, l) => [String(l), 0.1 * l + 0.01])),
  updateRatio: Object.fromEntries(Array.from({ length: 12 }, (_, l) => [String(l), 1e-3 * (l + 1)])),
  tokens: 4096,
  tokensPerSecond: 20_000,
  wallMs: 12,
});

const EVENTS = Array.from({ length: 10_000 }, (_, i) => step(i + 1));

/** ms to record EVENTS through a LiveRun flushing every `flushMs` (0: a transaction per event), in a fresh store. */
function recordLive(dir: string, flushMs: number): { ms: number; store: Store; id: number } {
  const store = openStore(dir);
  const t0 = performance.now();
  const live = LiveRun.start(store, { kind: "train" }, { flushMs, warn: () => {} });
  for (const e of EVENTS) live.push(e);
  live.finish({ status: "done" });
  return { ms: performance.now() - t0, store, id: live.id };
}

function recordJsonl(file: string): number {
  const t0 = performance.now();
  const sink = new JsonlSink(file);
  for (const e of EVENTS) sink.emit(e);
  sink.close();
  return performance.now() - t0;
}

export function trainingLiveSection(_env: BenchEnv): SectionResult {
  const tmp = mkdtempSync(join(tmpdir(), "llmdbg-bench-training-"));
  try {
    const rows = [];
    // ---- the writer
    const jsonl = join(tmp, "log.jsonl");
    const jsonlMs: number[] = [];
    const batchedMs: number[] = [];
    const eachMs: number[] = [];
    let check: Check = { ok: false, reason: "not run" };
    for (let r = 0; r < 3; r++) {
      rmSync(jsonl, { force: true });
      jsonlMs.push(recordJsonl(jsonl));
      const b = recordLive(join(tmp, `batched-${r}`), 250);
      batchedMs.push(b.ms);
      if (r === 0) {
        const logged = readFileSync(jsonl, "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as TrainEvent);
        const stored = b.store.getRun(b.id).events;
        check = within(
          "events differing between the store and the JSONL log",
          JSON.stringify(stored) === JSON.stringify(logged) ? 0 : 1,
          0,
        );
      }
      b.store.close();
      const e = recordLive(join(tmp, `each-${r}`), 0);
      eachMs.push(e.ms);
      e.store.close();
    }
    const peer = "the JSONL log (JsonlSink), same events";
    rows.push(
      row({
        section: SECTION,
        name: "record 10,000 step events live (LiveRun, a batch every 250 ms)",
        unit: "ms",
        peer,
        check,
        ours: median(batchedMs),
        peer_value: median(jsonlMs),
        note: `${spread(batchedMs, 1)}; 12 layers per event`,
      }),
      row({
        section: SECTION,
        name: "record 10,000 step events, a transaction per event (the worst case)",
        unit: "ms",
        peer,
        check,
        ours: median(eachMs),
        peer_value: median(jsonlMs),
        note: spread(eachMs, 1),
      }),
    );
    // ---- the reader
    const store = openStore(join(tmp, "long"));
    const live = LiveRun.start(store, { kind: "train" }, { flushMs: 1e9 });
    for (let k = 0; k < 10; k++) for (const e of EVENTS) live.push({ ...e, step: e.step + k * 10_000 });
    live.push({ kind: "checkpoint", step: 100_000, path: "/tmp/checkpoint-100000" });
    live.finish({ status: "done" });
    const after = 50_000;
    const query = new URLSearchParams({ after: String(after) });
    const served = () => {
      const a = trainingEvents(store, live.id, query);
      if (!("json" in a)) throw new Error(`the route answered ${a.status}`);
      return a.json as { events: TrainEvent[] };
    };
    // the page stops at 5,000 events or about 2 MiB: these events are large (12 layers), so the bytes decide
    const page = served().events;
    const bare = () =>
      (
        store.db
          .prepare("SELECT event FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?")
          .all(live.id, after, page.length) as { event: string }[]
      ).map((r) => JSON.parse(r.event) as TrainEvent);
    const same = page.length > 0 && JSON.stringify(page) === JSON.stringify(bare());
    const pageCheck = within(`pages differing (${page.length} events each)`, same ? 0 : 1, 0);
    const timing = { warmup: 2, min_reps: 5, max_reps: 30, min_ms: 1500 };
    const oursMs = sampleRun(() => void served(), timing);
    const bareMs = sampleRun(() => void bare(), timing);
    store.close();
    rows.push(
      row({
        section: SECTION,
        name: "a page (≤ 5,000 events, ≈ 2 MiB) of a 100,000-step run (GET /api/runs/<id>/events, in-process)",
        unit: "ms",
        peer: "a bare SELECT and JSON.parse of the same rows",
        check: pageCheck,
        ours: median(oursMs),
        peer_value: median(bareMs),
        note: `${spread(oursMs, 1)}; ${page.length} events`,
      }),
    );
    return { rows };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
