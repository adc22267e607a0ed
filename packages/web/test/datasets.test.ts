// The Datasets view's logic: the window of rows a scrolled table draws (a handful, wherever 10,000 rows are
// scrolled, and the last rows at the bottom), sorting with rows still waiting for a prediction last, filtering by
// text, gold and slice, the counts per slice, the quick JSONL check before an upload, merging streamed batches,
// and the target an opened example's attribution aims at.
import type { DatasetExample, RowPrediction } from "@llmdbg/protocol";
import { describe, expect, it } from "vitest";
import {
  checkJsonl,
  exampleTarget,
  filterRows,
  goldOf,
  mergePredictions,
  NO_FILTER,
  type SortKey,
  sliceCounts,
  sortRows,
  tableRows,
  visibleWindow,
} from "../src/datasets.js";

const ex = (index: number, text: string, label: string | null, fields: Record<string, unknown> = {}): DatasetExample => ({
  index,
  text,
  label,
  fields,
});
const pred = (index: number, prob: number, correct: boolean | null, goldProb = 0.1): RowPrediction => ({
  index,
  position: 3,
  top: { id: 100 + index, text: ` t${index}`, prob },
  gold: correct === null ? null : { text: " g", id: 7, prob: goldProb, tokens: 1 },
  correct,
});

describe("visibleWindow", () => {
  it("draws only the rows in view plus the overscan, wherever 10,000 rows are scrolled", () => {
    expect(visibleWindow(0, 560, 28, 10_000, 8)).toEqual({ first: 0, last: 28, offset: 0, height: 280_000 });
    expect(visibleWindow(280, 560, 28, 10_000, 8)).toEqual({ first: 2, last: 38, offset: 56, height: 280_000 });
    for (const top of [0, 1234, 50_000, 139_999, 279_440]) {
      const w = visibleWindow(top, 560, 28, 10_000, 8);
      expect(w.last - w.first).toBeLessThanOrEqual(560 / 28 + 2 * 8 + 1);
      // every row that intersects the viewport is drawn
      expect(w.first * 28).toBeLessThanOrEqual(top);
      expect(w.last * 28).toBeGreaterThanOrEqual(Math.min(top + 560, 280_000));
    }
    // at the bottom the last row is drawn
    expect(visibleWindow(280_000 - 560, 560, 28, 10_000).last).toBe(10_000);
  });

  it("reads a scroll position past the end (rows removed by a filter) as the end; no rows, no window", () => {
    expect(visibleWindow(100_000, 560, 28, 30, 2)).toEqual({ first: 8, last: 30, offset: 224, height: 840 });
    expect(visibleWindow(100, 560, 28, 5)).toEqual({ first: 0, last: 5, offset: 0, height: 140 });
    expect(visibleWindow(0, 560, 28, 0)).toEqual({ first: 0, last: 0, offset: 0, height: 0 });
  });
});

const examples = [
  ex(0, "The cat sat", "pos", { target: " on" }),
  ex(1, "a dog ran", "neg"),
  ex(2, "Cats nap", "pos"),
  ex(3, "birds sing", null),
];
const preds = [pred(0, 0.9, true), pred(1, 0.2, false), undefined, pred(3, 0.5, null)];

describe("rows: gold, sort, filter, slices", () => {
  it("a language model's gold is the target field, else the label; a classifier's the label", () => {
    expect(goldOf(examples[0] as DatasetExample, false)).toBe(" on");
    expect(goldOf(examples[0] as DatasetExample, true)).toBe("pos");
    expect(goldOf(examples[3] as DatasetExample, false)).toBeNull();
  });

  it("sorts by each column, both ways, rows without a value last and ties in dataset order", () => {
    const rows = tableRows(examples, preds, true);
    const order = (key: SortKey, dir: "asc" | "desc") => sortRows(rows, key, dir).map((r) => r.example.index);
    expect(order("index", "desc")).toEqual([3, 2, 1, 0]);
    expect(order("prob", "desc")).toEqual([0, 3, 1, 2]);
    expect(order("prob", "asc")).toEqual([1, 3, 0, 2]);
    expect(order("correct", "desc")).toEqual([0, 1, 2, 3]);
    expect(order("correct", "asc")).toEqual([1, 0, 2, 3]);
    expect(order("text", "asc")).toEqual([1, 3, 2, 0]); // case-insensitive by the locale's collation
    expect(order("gold", "asc")).toEqual([1, 0, 2, 3]);
    expect(order("goldProb", "asc")).toEqual([0, 1, 2, 3]);
  });

  it("filters by a case-insensitive substring, a gold and a slice; counts each slice", () => {
    const rows = tableRows(examples, preds, true);
    const ids = (f: Partial<typeof NO_FILTER>) => filterRows(rows, { ...NO_FILTER, ...f }).map((r) => r.example.index);
    expect(ids({ text: "CAT" })).toEqual([0, 2]);
    expect(ids({ gold: "pos" })).toEqual([0, 2]);
    expect(ids({ correct: "wrong" })).toEqual([1]);
    expect(ids({ correct: "pending" })).toEqual([2]);
    expect(ids({ correct: "no gold" })).toEqual([3]);
    expect(ids({ text: "cat", correct: "correct" })).toEqual([0]);
    const c = sliceCounts(rows);
    expect(c).toMatchObject({ rows: 4, correct: 1, wrong: 1, noGold: 1, pending: 1, accuracy: 0.5 });
    expect(c.golds).toEqual([
      ["pos", 2],
      ["neg", 1],
    ]);
    expect(c.meanProb).toBeCloseTo((0.9 + 0.2 + 0.5) / 3, 12);
    expect(sliceCounts([])).toMatchObject({ rows: 0, accuracy: null, meanProb: null });
  });

  it("merges streamed batches into place without touching the previous array", () => {
    const before: (RowPrediction | undefined)[] = [];
    const after = mergePredictions(before, [pred(2, 0.3, true), pred(0, 0.4, false)]);
    expect(before).toEqual([]);
    expect(after.map((p) => p?.index)).toEqual([0, undefined, 2]);
  });

  it("an opened example targets its gold's first token where it is predicted, else the top prediction", () => {
    const [a, , c, d] = tableRows(examples, preds, false);
    expect(exampleTarget(a as never)).toEqual({ position: 3, token: { id: 7, text: " g" }, from: "prediction" });
    expect(exampleTarget(d as never)).toEqual({ position: 3, token: { id: 103, text: " t3" }, from: "prediction" });
    expect(exampleTarget(c as never)).toBeUndefined();
  });
});

describe("checkJsonl", () => {
  it("counts the examples of a good file and names the first bad line and field", () => {
    expect(checkJsonl('{"text": "a", "label": 1}\n\n{"text": "b", "extra": {}}\r\n')).toEqual({ count: 2 });
    expect(checkJsonl('{"text": "a"}\n{"label": 1}')).toEqual({ error: "line 2: text: expected a non-empty string" });
    expect(checkJsonl('{"text": "a"}\n{"text": "b"')).toEqual({ error: "line 2: not valid JSON" });
    expect(checkJsonl("[1, 2]")).toEqual({ error: "line 1: expected a JSON object" });
    expect(checkJsonl('{"text": "a", "label": [1]}')).toEqual({
      error: "line 1: label: expected a string, a number or a boolean",
    });
    expect(checkJsonl("\n \n")).toEqual({ error: "the file has no examples (one JSON object per line)" });
    expect(checkJsonl('{"text": "a"}', 33 * 2 ** 20)).toEqual({ error: "the file is 33.0 MiB; at most 32 MiB" });
  });
});
