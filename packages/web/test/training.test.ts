// The Training view's logic: events folded into series page by page (steps, per-layer columns with a late layer
// back-filled, evaluations, activations, checkpoints, notices; a page seen twice or folded twice changes nothing),
// following `more` pages, TensorBoard's debiased EMA, min/max downsampling that keeps a spike, runs aligned on one
// step axis (log scale dropping values ≤ 0), and a running run's silence in words.
import type { TrainingEvent, TrainingEventsPage, TrainStepEvent } from "@llmdbg/protocol";
import { describe, expect, it } from "vitest";
import {
  align,
  catchUp,
  downsample,
  ema,
  emptySeries,
  foldEvents,
  layersOf,
  progressText,
  seriesOf,
  statusText,
} from "../src/training.js";

const step = (i: number, layers: Record<string, number> = { "0": i, "1": 2 * i }): TrainStepEvent => ({
  kind: "step",
  step: i,
  epoch: i / 10,
  loss: 5 - i,
  lr: 0.1 * i,
  gradNorm: 1,
  layerGradNorms: layers,
  updateRatio: layers,
  tokens: 10,
  tokensPerSecond: 100 * i,
  wallMs: 1,
});

const page = (after: number, events: TrainingEvent[], extra: Partial<TrainingEventsPage> = {}): TrainingEventsPage => ({
  run: 7,
  status: "running",
  updatedAt: "2026-12-06T10:00:00.000Z",
  error: null,
  after,
  events,
  last: after + events.length,
  more: false,
  now: "2026-12-06T10:00:01.000Z",
  ...extra,
});

describe("foldEvents", () => {
  it("folds steps, evaluations, activations, checkpoints and notices, page after page", () => {
    let s = emptySeries(7);
    s = foldEvents(
      s,
      page(-1, [
        {
          kind: "start",
          config: {} as never,
          params: 1,
          trainableParams: 1,
          seed: 0,
          totalSteps: 4,
          examples: 2,
          resumedFrom: null,
        },
        step(1),
        step(2),
      ]),
    );
    expect(s).toMatchObject({ last: 2, totalSteps: 4, steps: [1, 2], loss: [4, 3], lr: [0.1, 0.2], tokensPerSecond: [100, 200] });
    s = foldEvents(
      s,
      page(2, [
        { kind: "eval", step: 2, metrics: { loss: 3.5, perplexity: 33 } },
        { kind: "activations", step: 2, layers: [{ hook: "blocks.0.hook_resid_post", layer: 0, mean: 0.1, std: 1, maxAbs: 4 }] },
        step(3, { "0": 3, "1": 6, wte: 0.5 }), // a layer first reported late
        { kind: "checkpoint", step: 3, id: 11, name: "checkpoint-3" },
        {
          kind: "anomaly",
          step: 4,
          what: "nan",
          op: "matmul",
          label: "blocks.0.attn",
          phase: "forward",
          param: null,
          action: "skip",
          message: "NaN in matmul",
        },
        { kind: "end", step: 4, reason: "done", wallMs: 9 },
      ]),
      // the server says the run ended
    );
    expect(s.last).toBe(8);
    expect(s.steps).toEqual([1, 2, 3]);
    expect(s.layerGradNorms).toEqual({ "0": [1, 2, 3], "1": [2, 4, 6], wte: [null, null, 0.5] });
    expect(seriesOf(s, { kind: "layerGradNorm", layer: "wte" })).toEqual({ x: [1, 2, 3], y: [null, null, 0.5] });
    expect(seriesOf(s, { kind: "eval", name: "loss" })).toEqual({ x: [2], y: [3.5] });
    expect(seriesOf(s, { kind: "activation", hook: "blocks.0.hook_resid_post", stat: "maxAbs" })).toEqual({ x: [2], y: [4] });
    expect(seriesOf(s, { kind: "eval", name: "accuracy" })).toEqual({ x: [], y: [] });
    expect(s.checkpoints).toEqual([{ step: 3, id: 11, name: "checkpoint-3" }]);
    expect(s.notices).toEqual([{ step: 4, text: "nan (skip): NaN in matmul" }]);
    expect(s.endReason).toBe("done");
  });

  it("skips events it already holds and shares nothing mutable with the state it folded onto", () => {
    const a = foldEvents(emptySeries(7), page(-1, [step(1), step(2)]));
    const again = foldEvents(a, page(-1, [step(1), step(2), step(3)])); // a page from an older `after`
    expect(again.steps).toEqual([1, 2, 3]);
    // React may run an updater twice on the same state: the result is the same, and `a` is untouched
    const p = page(2, [step(3, { "0": 3, x: 1 })]);
    const b1 = foldEvents(a, p);
    const b2 = foldEvents(a, p);
    expect(b2).toEqual(b1);
    expect(a.steps).toEqual([1, 2]);
    expect(a.layerGradNorms).toEqual({ "0": [1, 2], "1": [2, 4] });
    expect(b1.layerGradNorms).toEqual({ "0": [1, 2, 3], "1": [2, 4, null], x: [null, null, 1] });
  });

  it("takes the page's status, time and error", () => {
    const s = foldEvents(
      emptySeries(7),
      page(-1, [], { status: "failed", error: "boom", updatedAt: "2026-12-06T11:00:00.000Z" }),
    );
    expect(s).toMatchObject({ status: "failed", error: "boom", updatedAt: "2026-12-06T11:00:00.000Z", last: -1 });
  });
});

describe("catchUp", () => {
  it("follows `more` pages from the last event held", async () => {
    const asked: number[] = [];
    const all = Array.from({ length: 7 }, (_, i) => step(i + 1));
    const fetchPage = async (_run: number, after: number) => {
      asked.push(after);
      const events = all.slice(after + 1, after + 4);
      return page(after, events, { more: after + 1 + events.length < all.length });
    };
    const s = await catchUp(emptySeries(7), fetchPage);
    expect(asked).toEqual([-1, 2, 5]);
    expect(s.steps).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect((await catchUp(s, fetchPage)).steps).toHaveLength(7);
  });
});

describe("ema", () => {
  it("is debiased (a constant stays constant), passes nulls through, and is the identity at 0", () => {
    expect(ema([2, 2, 2, 2], 0.9).map((v) => Number((v as number).toFixed(12)))).toEqual([2, 2, 2, 2]);
    // by hand: w = 0.5 → 1; (0.5·0.5 + 0.5·3) / 0.75 = 2.333…
    const s = ema([1, null, 3], 0.5);
    expect(s[0]).toBeCloseTo(1, 12);
    expect(s[1]).toBeNull();
    expect(s[2]).toBeCloseTo(7 / 3, 12);
    expect(ema([1, 5, 2], 0)).toEqual([1, 5, 2]);
    // smoothing lowers a spike
    expect(Math.max(...(ema([1, 1, 1, 10, 1], 0.6) as number[]))).toBeLessThan(10);
  });
});

describe("downsample", () => {
  it("keeps at most about max points and every bucket's extremes (a spike survives)", () => {
    const n = 100_000;
    const x = Array.from({ length: n }, (_, i) => i + 1);
    const y: (number | null)[] = x.map((i) => 1 + Math.sin(i / 1000) * 0.1);
    y[54_321] = 50;
    y[70_000] = null;
    const d = downsample({ x, y }, 1000);
    expect(d.x.length).toBeLessThanOrEqual(1000);
    expect(d.x.length).toBeGreaterThan(900);
    expect(Math.max(...(d.y.filter((v) => v !== null) as number[]))).toBe(50);
    expect(d.x).toContain(54_322);
    for (let i = 1; i < d.x.length; i++) expect(d.x[i] as number).toBeGreaterThan(d.x[i - 1] as number);
    const small = { x: [1, 2, 3], y: [3, 2, 1] };
    expect(downsample(small, 1000)).toBe(small);
  });
});

describe("align", () => {
  it("puts runs with different steps on one axis, null where a run has no point; log drops values ≤ 0", () => {
    const a = { x: [1, 2, 3], y: [1, 0, 3] };
    const b = { x: [2, 4], y: [5, -1] };
    expect(align([a, b])).toEqual([
      [1, 2, 3, 4],
      [1, 0, 3, null],
      [null, 5, null, -1],
    ]);
    expect(align([a, b], true)).toEqual([
      [1, 2, 3, 4],
      [1, null, 3, null],
      [null, 5, null, null],
    ]);
    expect(align([])).toEqual([[]]);
  });
});

describe("run state in words", () => {
  it("says how long a running run has been silent, and calls an aborted run stopped", () => {
    const now = "2026-12-06T10:01:35.000Z";
    expect(statusText({ status: "running", updatedAt: "2026-12-06T10:01:30.000Z" }, now)).toBe("running");
    expect(statusText({ status: "running", updatedAt: "2026-12-06T10:00:00.000Z" }, now)).toBe("running? no events for 95 s");
    expect(statusText({ status: "aborted", updatedAt: "2026-12-06T10:00:00.000Z" }, now)).toBe("stopped");
    expect(statusText({ status: "failed", updatedAt: "2026-12-06T10:00:00.000Z" }, now)).toBe("failed");
    expect(progressText({ step: 120, totalSteps: 500 })).toBe("120 / 500");
    expect(progressText({ step: null, totalSteps: 500 })).toBe("–");
  });

  it("orders layers numerically, then by name", () => {
    const s = foldEvents(emptySeries(1), page(-1, [step(1, { "10": 1, "2": 1, wte: 1, "0": 1, lm_head: 1 })]));
    expect(layersOf([s], "layerGradNorms")).toEqual(["0", "2", "10", "lm_head", "wte"]);
  });
});
