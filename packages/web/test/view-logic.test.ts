// The views' pure logic: token text made visible, percentages, the colour scale and pattern pixels, the cell under
// the pointer, the head table's rows and sorting, and the lens's labels.
import type { AttentionResult, DlaResult } from "@llmdbg/protocol";
import { describe, expect, it } from "vitest";
import { ablationGrid } from "../src/ablation.js";
import { maxAbs, ranks, spearman } from "../src/attribution.js";
import { dlaGrid, topComponents } from "../src/dla.js";
import { num, pct, visible } from "../src/format.js";
import { cellAt, divergingCss, heatCss, heatRgb, patternRgba } from "../src/heat.js";
import { rankShade, streamLabel } from "../src/lens.js";
import { headRows, sortRows } from "../src/scores.js";
import { readPosition } from "../src/state.js";

describe("format", () => {
  it("makes whitespace visible and shows a missing text by id", () => {
    expect(visible(" the")).toBe("·the");
    expect(visible("a\nb\tc")).toBe("a↵b→c");
    expect(visible(null, 42)).toBe("#42");
    expect(visible("")).toBe("∅");
    // markup stays text: React escapes it, nothing here interprets it
    expect(visible("<b>&")).toBe("<b>&");
  });
  it("prints probabilities at about three digits", () => {
    expect(pct(0.5)).toBe("50.0%");
    expect(pct(0.01234)).toBe("1.23%");
    expect(pct(0.0045)).toBe("0.45%");
    expect(pct(1e-7)).toBe("<0.01%");
    expect(pct(0)).toBe("0%");
    expect(pct(Number.NaN)).toBe("–");
    expect(num(null)).toBe("–");
    expect(num(0.12345, 2)).toBe("0.12");
  });
});

describe("heat", () => {
  it("runs from light at 0 to dark at 1, clamped, monotone in brightness", () => {
    const lum = (v: number) => heatRgb(v).reduce((a, b) => a + b, 0);
    expect(heatRgb(0)).toEqual([247, 251, 255]);
    expect(heatRgb(1)).toEqual([3, 19, 43]);
    expect(heatRgb(-3)).toEqual(heatRgb(0));
    expect(heatRgb(7)).toEqual(heatRgb(1));
    expect(heatRgb(Number.NaN)).toEqual(heatRgb(0));
    for (let v = 0; v < 1; v += 0.05) expect(lum(v + 0.05)).toBeLessThanOrEqual(lum(v));
    expect(heatCss(1).color).toBe("#fff");
    expect(heatCss(0).color).toBe("#111");
  });
  it("draws a pattern row by row (query = y, key = x), scaled to its maximum", () => {
    const px = patternRgba(
      [
        [1, 0],
        [0.25, 0.5],
      ],
      0.5,
    );
    expect(px.length).toBe(16);
    const at = (q: number, k: number) => Array.from(px.slice((q * 2 + k) * 4, (q * 2 + k) * 4 + 4));
    expect(at(0, 0)).toEqual([...heatRgb(1), 255]); // 1 / 0.5 clamps to the darkest
    expect(at(0, 1)).toEqual([...heatRgb(0), 255]);
    // the scale is quantized to 1,024 levels: within one unit of the exact colour
    const mid = at(1, 0);
    const exact = [...heatRgb(0.5), 255];
    for (let c = 0; c < 4; c++) expect(Math.abs((mid[c] ?? -9) - (exact[c] ?? 0))).toBeLessThanOrEqual(1);
    expect(at(1, 1)).toEqual([...heatRgb(1), 255]);
  });
  it("draws every value within one colour unit of the exact scale", () => {
    const values = Array.from({ length: 400 }, (_, i) => (i * 0.6180339887) % 1);
    const px = patternRgba([
      values.slice(0, 20),
      ...Array.from({ length: 19 }, (_, q) => values.slice(20 * (q + 1), 20 * (q + 2))),
    ]);
    values.forEach((v, i) => {
      const exact = heatRgb(v);
      for (let c = 0; c < 3; c++) expect(Math.abs((px[4 * i + c] ?? -9) - (exact[c] ?? 0))).toBeLessThanOrEqual(1);
      expect(px[4 * i + 3]).toBe(255);
    });
    const nan = patternRgba([
      [Number.NaN, -1],
      [0, 0],
    ]);
    expect(Array.from(nan.slice(0, 8))).toEqual([...heatRgb(0), 255, ...heatRgb(0), 255]);
  });
  it("finds the cell under a point", () => {
    expect(cellAt(0, 0, 100, 4)).toEqual({ row: 0, col: 0 });
    expect(cellAt(99.9, 30, 100, 4)).toEqual({ row: 1, col: 3 });
    expect(cellAt(100, 0, 100, 4)).toBeNull();
    expect(cellAt(-1, 0, 100, 4)).toBeNull();
    expect(cellAt(5, 5, 100, 0)).toBeNull();
  });
});

const attention: AttentionResult = {
  kind: "attention",
  tokens: [
    { id: 1, text: "a" },
    { id: 2, text: "b" },
  ],
  layers: [0, 1],
  heads: [0, 1],
  entropy: [
    [0.5, 0.1],
    [0.3, 0.9],
  ],
  firstToken: [
    [0.2, 0.2],
    [0.4, 0.1],
  ],
  sinks: [
    [[], []],
    [[], []],
  ],
  rollout: [],
  flow: [],
  patterns: null,
  scores: {
    previousToken: [
      [0.9, 0.1],
      [0.2, 0.3],
    ],
    induction: [
      [0.1, 0.1],
      [0.8, 0.95],
    ],
    duplicateToken: [
      [0, 0],
      [0, 0],
    ],
    copying: null,
  },
  seed: 0,
  repeatLength: 20,
  batch: 4,
};

describe("head table", () => {
  it("has one row per head with its scores, and null where a score is absent", () => {
    const rows = headRows(attention);
    expect(rows.map((r) => `L${r.layer}H${r.head}`)).toEqual(["L0H0", "L0H1", "L1H0", "L1H1"]);
    expect(rows[2]).toMatchObject({ entropy: 0.3, firstToken: 0.4, previousToken: 0.2, induction: 0.8, copying: null });
    expect(headRows({ ...attention, scores: null })[0]).toMatchObject({ induction: null, previousToken: null });
  });
  it("sorts by a column either way, ties by layer and head", () => {
    const rows = headRows(attention);
    expect(sortRows(rows, "induction", true).map((r) => `L${r.layer}H${r.head}`)).toEqual(["L1H1", "L1H0", "L0H0", "L0H1"]);
    expect(sortRows(rows, "entropy", false).map((r) => r.entropy)).toEqual([0.1, 0.3, 0.5, 0.9]);
    const withNull = [...rows, { ...(rows[0] as (typeof rows)[number]), layer: 9, entropy: null }];
    expect(sortRows(withNull, "entropy", true).at(-1)?.layer).toBe(9);
    expect(sortRows(withNull, "entropy", false).at(-1)?.layer).toBe(9);
  });
});

describe("lens", () => {
  it("labels the streams and shades ranks", () => {
    expect(streamLabel("blocks.3.hook_resid_pre")).toBe("L3 pre");
    expect(streamLabel("blocks.11.hook_resid_post")).toBe("L11 post");
    expect(streamLabel("other")).toBe("other");
    expect(rankShade(0)).toBe(1);
    expect(rankShade(99)).toBe(0);
    expect(rankShade(9)).toBeCloseTo(0.5);
  });
});

describe("target", () => {
  it("reads a prediction where it was made and a prompt token one position earlier", () => {
    const token = { id: 7, text: "x" };
    expect(readPosition({ position: 4, token, from: "prediction" })).toBe(4);
    expect(readPosition({ position: 4, token, from: "input" })).toBe(3);
    expect(readPosition({ position: 0, token, from: "input" })).toBe(0);
  });
});

describe("direct logit attribution", () => {
  type Kind = DlaResult["components"][number]["kind"];
  const c = (name: string, kind: Kind, layer: number | null, head: number | null, value: number) => ({
    name,
    kind,
    layer,
    head,
    value,
  });
  const dla: DlaResult = {
    kind: "dla",
    tokens: [{ id: 1, text: "a" }],
    position: 0,
    target: { id: 2, text: "b" },
    foil: null,
    logit: 1.5,
    components: [
      c("embed", "embed", null, null, 0.5),
      c("L0H0", "head", 0, 0, -2),
      c("L0H1", "head", 0, 1, 1),
      c("L0 attn bias", "attn_bias", 0, null, 0.25),
      c("L0 mlp", "mlp", 0, null, 1.5),
      c("L1H1", "head", 1, 1, 0.1),
      c("L1 mlp", "mlp", 1, null, 0.15),
      c("bias", "bias", null, null, 0),
    ],
    sum: 1.5,
    error: 0,
    convention: "",
  };
  it("lays the heads out by layer and head, with attention biases and MLPs beside them", () => {
    const g = dlaGrid(dla, 2, 2);
    expect(g.heads).toEqual([
      [-2, 1],
      [null, 0.1],
    ]);
    expect(g.attnBias).toEqual([0.25, null]);
    expect(g.mlp).toEqual([1.5, 0.15]);
    expect(g.rest.map((x) => x.name)).toEqual(["embed", "bias"]);
    expect(g.max).toBe(2);
  });
  it("ranks components by |value|", () => {
    expect(topComponents(dla, 3).map((x) => x.name)).toEqual(["L0H0", "L0 mlp", "L0H1"]);
  });
  it("colours signs apart, white at zero", () => {
    expect(divergingCss(0, 1).background).toBe("rgb(255, 255, 255)");
    expect(divergingCss(1, 1).background).toBe("rgb(202, 0, 32)");
    expect(divergingCss(-5, 1).background).toBe("rgb(5, 113, 176)");
    expect(divergingCss(1, 0).background).toBe("rgb(255, 255, 255)");
  });
});

describe("ablation", () => {
  const base = {
    kind: "ablate" as const,
    ablation: "zero" as const,
    metric: "logprob" as const,
    tokens: [],
    answer: { id: 1, text: "a" },
    foil: null,
    baseline: -1,
    samples: null,
    seed: null,
  };
  it("lays head effects out by layer and head", () => {
    const g = ablationGrid(
      {
        ...base,
        components: "heads",
        effects: [
          { name: "L1H0", layer: 1, index: 0, kind: "head", metric: -3, effect: -2 },
          { name: "L0H1", layer: 0, index: 1, kind: "head", metric: -0.5, effect: 0.5 },
        ],
      },
      2,
      2,
    );
    expect(g.columns).toEqual(["H0", "H1"]);
    expect(g.effects).toEqual([
      [null, 0.5],
      [-2, null],
    ]);
    expect(g.max).toBe(2);
  });
  it("lays whole-layer effects out as attention and MLP columns", () => {
    const g = ablationGrid(
      {
        ...base,
        components: "layers",
        effects: [
          { name: "L0 mlp", layer: 0, index: null, kind: "mlp", metric: -4, effect: -3 },
          { name: "L0 attn", layer: 0, index: null, kind: "attn", metric: -1.5, effect: -0.5 },
        ],
      },
      1,
      4,
    );
    expect(g.columns).toEqual(["attn", "mlp"]);
    expect(g.effects).toEqual([[-0.5, -3]]);
  });
});

describe("attribution agreement", () => {
  it("ranks with ties averaged", () => {
    expect(ranks([3, 1, 2])).toEqual([3, 1, 2]);
    expect(ranks([5, 1, 5, 0])).toEqual([3.5, 2, 3.5, 1]);
  });
  it("is Spearman's ρ: 1 for the same order, −1 for the reverse, null for a constant list", () => {
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 400])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
    expect(spearman([1, 1, 1], [1, 2, 3])).toBeNull();
    expect(spearman([1], [1])).toBeNull();
    // by hand: ranks [1,2,3,4,5] and [2,1,4,3,5], Σd² = 4, ρ = 1 − 6·4 / (5·24) = 0.8
    expect(spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])).toBeCloseTo(0.8, 12);
    expect(maxAbs([0.5, -2, 1])).toBe(2);
    expect(maxAbs([])).toBe(0);
  });
});
