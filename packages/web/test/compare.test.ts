// Stored runs reopened and compared: the result a view takes from a reopened run (its kind's, with the request's
// settings), and two runs of one kind read as named values and set side by side.
import type { AblationResult, DlaResult, LensResult, PatchResult } from "@llmdbg/protocol";
import { describe, expect, it } from "vitest";
import { comparable, compareValues, seriesOf } from "../src/compare.js";
import { field, servedModel, storedResult } from "../src/reopen.js";
import type { StoredRun } from "../src/runs.js";

const stored = (over: Partial<StoredRun>): StoredRun => ({
  id: 7,
  uid: "j7",
  kind: "lens",
  model: { name: "stories", hash: "h" },
  prompt: "Once upon",
  createdAt: "2026-12-06T12:00:00.000Z",
  status: "done",
  options: {},
  results: [],
  notes: [],
  timings: {},
  ...over,
});

const tokens = [
  { id: 1, text: "Once" },
  { id: 2, text: " upon" },
];

describe("a reopened run", () => {
  it("hands a view the result of its kind with the method request, and nothing for other kinds", () => {
    const lens = { kind: "lens", tokens, layers: [], positions: [], cells: [] };
    const run = stored({
      options: { request: { kind: "lens", input: { text: "Once upon" }, target: 5, topK: 1 }, served: "stories" },
      results: [{ kind: "lens", result: lens }],
    });
    const hit = storedResult<LensResult>(run, ["lens"]);
    expect(hit?.result).toBe(lens);
    expect(hit?.request.target).toBe(5);
    expect(hit?.runId).toBe(7);
    expect(hit?.prompt).toBe("Once upon");
    expect(storedResult(run, ["dla"])).toBeUndefined();
    expect(servedModel(run)).toBe("stories");
  });

  it("reads a run's own params when it has no method request, and skips a failed run's error", () => {
    const run = stored({
      kind: "run",
      options: { input: { text: "hi" }, topK: 3 },
      results: [{ kind: "error", result: { kind: "error", code: "failed", message: "x" } }],
    });
    expect(storedResult(run, ["run"])).toBeUndefined();
    const ok = stored({
      kind: "run",
      options: { input: { text: "hi" }, topK: 3 },
      results: [{ kind: "run", result: { kind: "run" } }],
    });
    expect(storedResult(ok, ["run"])?.request.topK).toBe(3);
  });

  it("takes a request's field only when it has the expected type", () => {
    const req = { topK: 3, metric: "prob", steps: "many" };
    expect(field(req, "topK", 5)).toBe(3);
    expect(field(req, "metric", "logprob")).toBe("prob");
    expect(field(req, "steps", 64)).toBe(64);
    expect(field(req, "missing", "x")).toBe("x");
  });
});

describe("two runs compared", () => {
  it("sets shared names against each other, the largest difference first, with their agreement", () => {
    const a = new Map([
      ["L0H0", 1],
      ["L0H1", 2],
      ["L1H0", 3],
      ["only-a", 9],
    ]);
    const b = new Map([
      ["L0H0", 1.5],
      ["L0H1", 4],
      ["L1H0", 3],
      ["only-b", 7],
    ]);
    const c = compareValues(a, b, "effect");
    expect(c.shared).toBe(3);
    expect(c.rows.map((r) => r.name)).toEqual(["L0H1", "L0H0", "L1H0", "only-a", "only-b"]);
    expect(c.rows[0]).toEqual({ name: "L0H1", a: 2, b: 4, diff: 2 });
    expect(c.rows[3]).toEqual({ name: "only-a", a: 9, b: null, diff: null });
    // ranks of a (1, 2, 3) against b (1.5, 4, 3) → (1, 3, 2): Σd² = 2, ρ = 1 − 6·2 / (3·8) = 0.5
    expect(c.spearman).toBeCloseTo(0.5, 12);
    // Pearson's r of (1, 2, 3) against (1.5, 4, 3), by hand
    const mx = 2;
    const my = 8.5 / 3;
    const sxy = (1 - mx) * (1.5 - my) + 0 + (3 - mx) * (3 - my);
    const sxx = 2;
    const syy = (1.5 - my) ** 2 + (4 - my) ** 2 + (3 - my) ** 2;
    expect(c.pearson).toBeCloseTo(sxy / Math.sqrt(sxx * syy), 12);
  });

  it("has no agreement figures for fewer than two shared names", () => {
    const c = compareValues(new Map([["x", 1]]), new Map([["x", 2]]), "v");
    expect(c.pearson).toBeNull();
    expect(c.spearman).toBeNull();
    expect(c.rows).toEqual([{ name: "x", a: 1, b: 2, diff: 1 }]);
  });

  it("reads each kind by the names a user matches: lens cells, DLA components, ablation effects, patching cells", () => {
    const lens: LensResult = {
      kind: "lens",
      tokens,
      layers: ["blocks.0.hook_resid_pre", "blocks.0.hook_resid_post"],
      positions: [0, 1],
      cells: [
        [
          { top: [], target: { logit: 0, prob: 0.1, rank: 3 } },
          { top: [], target: null },
        ],
        [
          { top: [], target: { logit: 0, prob: 0.2, rank: 1 } },
          { top: [], target: { logit: 0, prob: 0.9, rank: 0 } },
        ],
      ],
      target: { id: 5, text: " time" },
    } as unknown as LensResult;
    const s = seriesOf("lens", lens);
    expect(s?.kind).toBe("values");
    if (s?.kind !== "values") return;
    expect([...s.values.entries()]).toEqual([
      ["blocks.0.hook_resid_pre @ 0 Once", 0.1],
      ["blocks.0.hook_resid_post @ 0 Once", 0.2],
      ["blocks.0.hook_resid_post @ 1 ·upon", 0.9],
    ]);

    const dla = { kind: "dla", components: [{ name: "L0H1", value: 0.5 }] } as unknown as DlaResult;
    expect(seriesOf("dla", dla)).toEqual({ kind: "values", what: "logit contribution", values: new Map([["L0H1", 0.5]]) });
    const abl = { kind: "ablate", metric: "logprob", effects: [{ name: "L1H0", effect: -2 }] } as unknown as AblationResult;
    expect(seriesOf("ablate", abl)).toEqual({ kind: "values", what: "effect on logprob", values: new Map([["L1H0", -2]]) });
    const patch = {
      kind: "patch",
      metric: "logit_diff",
      rows: ["L0", "L1"],
      cols: ["H0", "H1"],
      values: [
        [0.5, null],
        [1, 0],
      ],
      attribution: null,
    } as unknown as PatchResult;
    const ps = seriesOf("patch", patch);
    expect(ps?.kind === "values" && [...ps.values.keys()]).toEqual(["L0 @ H0", "L1 @ H0", "L1 @ H1"]);
  });

  it("compares runs of one kind that it can read, and has nothing for malformed results", () => {
    expect(comparable("lens", "lens")).toBe(true);
    expect(comparable("run", "run")).toBe(true);
    expect(comparable("lens", "dla")).toBe(false);
    expect(comparable("probe", "probe")).toBe(false);
    expect(seriesOf("lens", { kind: "lens" })).toBeUndefined();
    expect(seriesOf("dla", null)).toBeUndefined();
    expect(seriesOf("generate", { kind: "generate", text: "and then", newTokens: [1, 2] })).toEqual({
      kind: "text",
      what: "generated text",
      text: "and then",
    });
  });
});
