// The Runs view's logic: newest first with a kind filter, the kinds for the filter, the tab each kind reopens in,
// a stored run's `run` result, and two `run` results compared position by position.
import type { RunResult } from "@llmdbg/protocol";
import { describe, expect, it } from "vitest";
import {
  COMPARE_TOP,
  comparePredictions,
  kindsOf,
  type RunRow,
  reopenTab,
  runResultOf,
  type StoredRun,
  visibleRuns,
} from "../src/runs.js";

const row = (id: number, kind: string, createdAt: string): RunRow => ({
  id,
  uid: `u${id}`,
  kind,
  model: "tiny",
  prompt: "hi",
  createdAt,
  status: "done",
});

const pred = (id: number, text: string, prob: number) => ({ id, token: text, text, display: text, logit: 0, prob });
const result = (tokens: string[], tops: [number, string, number][][]): RunResult => ({
  kind: "run",
  model: "tiny",
  tokens: tokens.map((_, i) => i),
  tokenStrings: tokens,
  tokenDisplays: tokens,
  positions: tops.map((top, position) => ({ position, top: top.map(([id, t, p]) => pred(id, t, p)) })),
});

describe("runs list", () => {
  const runs = [
    row(1, "run", "2026-12-06T10:00:00.000Z"),
    row(3, "lens", "2026-12-06T12:00:00.000Z"),
    row(2, "run", "2026-12-06T12:00:00.000Z"),
  ];
  it("is newest first, ties by id, and filters by kind", () => {
    expect(visibleRuns(runs, "").map((r) => r.id)).toEqual([3, 2, 1]);
    expect(visibleRuns(runs, "run").map((r) => r.id)).toEqual([2, 1]);
    expect(visibleRuns(runs, "patch")).toEqual([]);
    expect(runs.map((r) => r.id)).toEqual([1, 3, 2]); // not sorted in place
  });
  it("offers each kind once, sorted", () => {
    expect(kindsOf(runs)).toEqual(["lens", "run"]);
  });
  it("reopens each kind in its tab, and none for a kind without a view", () => {
    expect(reopenTab("run")).toBe("workbench");
    expect(reopenTab("generate")).toBe("workbench");
    expect(reopenTab("dla")).toBe("lens");
    expect(reopenTab("ablate")).toBe("ablation");
    expect(reopenTab("patch")).toBe("patching");
    expect(reopenTab("steer")).toBe("steering");
    expect(reopenTab("train")).toBe("training");
    expect(reopenTab("rome")).toBeUndefined();
    expect(reopenTab("toString")).toBeUndefined();
  });
});

describe("comparing two runs", () => {
  const a = result(
    ["The", " cat"],
    [
      [
        [5, " cat", 0.5],
        [6, " dog", 0.25],
      ],
      [[7, " sat", 0.9]],
    ],
  );
  const b = result(["The", " dog", " ran"], [[[6, " dog", 0.6]], [[7, " sat", 0.4]], [[8, ".", 1]]]);
  it("sets predictions side by side per position, marking where the top-1 differs", () => {
    const rows = comparePredictions(a, b);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toEqual({
      position: 0,
      tokenA: "The",
      tokenB: "The",
      topA: ["·cat 50.0%", "·dog 25.0%"],
      topB: ["·dog 60.0%"],
      sameTop: false,
    });
    expect(rows[1]).toMatchObject({ tokenA: "·cat", tokenB: "·dog", sameTop: true });
    expect(rows[2]).toMatchObject({ position: 2, tokenA: "", topA: [], tokenB: "·ran", sameTop: false });
  });
  it("shows at most COMPARE_TOP predictions a position, however many the run kept", () => {
    const many = result(["The"], [Array.from({ length: 8 }, (_, i) => [i, `t${i}`, 0.1] as [number, string, number])]);
    const [r] = comparePredictions(many, many);
    expect(r?.topA).toHaveLength(COMPARE_TOP);
    expect(r?.topA[0]).toBe("t0 10.0%");
    expect(r?.topB).toHaveLength(5);
  });
  it("finds a stored run's run result, and none in a failed one", () => {
    const stored = (results: StoredRun["results"]): StoredRun => ({
      ...row(1, "run", "2026-12-06T10:00:00.000Z"),
      model: null,
      options: {},
      results,
      notes: [],
      timings: {},
    });
    expect(runResultOf(stored([{ kind: "run", result: a }]))).toBe(a);
    expect(runResultOf(stored([{ kind: "error", result: { kind: "error" } }]))).toBeUndefined();
  });
});
