// The projector's pure parts: the dataset parser, the packed columns decoded, colours and legend, the lasso (point in
// polygon, selection), the probe's sampled sides, the safetensors export, the view transforms, the grid index against
// a brute-force nearest point, and the rasterizer's pixels.
import type { ProjectionResult } from "@llmdbg/protocol";
import { describe, expect, it } from "vitest";
import { colorPoints, decodeProjection, describePoint, parseDataset, probeSides, safetensorsOf } from "../src/projector.js";
import {
  fitView,
  GridIndex,
  panBy,
  pointInPolygon,
  rasterize,
  rgba,
  selectInPolygon,
  toData,
  toScreen,
  zoomAt,
} from "../src/scatter.js";

const b64 = (a: Float32Array | Int32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64");

function result(n: number): ProjectionResult {
  const xy = Float32Array.from({ length: 2 * n }, (_, i) => (i % 2 === 0 ? i / 2 : -(i - 1) / 2));
  return {
    kind: "projection",
    hook: "blocks.0.hook_resid_post",
    method: "pca",
    points: "tokens",
    count: n,
    total: n,
    dim: 8,
    xy: b64(xy),
    example: b64(Int32Array.from({ length: n }, (_, i) => Math.floor(i / 2))),
    position: b64(Int32Array.from({ length: n }, (_, i) => i % 2)),
    token: b64(Int32Array.from({ length: n }, (_, i) => 10 + (i % 3))),
    prediction: b64(Int32Array.from({ length: n }, (_, i) => (i < n - 1 ? 20 : 21))),
    vocab: [
      { id: 10, text: " a" },
      { id: 11, text: " b" },
      { id: 12, text: null },
      { id: 20, text: " x" },
      { id: 21, text: " y" },
    ],
    labels: ["neg", "pos"],
    label: b64(Int32Array.from({ length: n }, (_, i) => (i % 4 === 3 ? -1 : i % 2))),
    explainedVariance: [0.6, 0.3],
    umap: null,
  };
}

describe("dataset", () => {
  it("reads JSONL and plain lines, and names the line at fault", () => {
    const r = parseDataset('{"text": "good film", "label": "pos"}\n\nplain line here\n{"text": "bad", "label": 0}\r\n');
    expect(r).toEqual({
      examples: [{ text: "good film", label: "pos" }, { text: "plain line here" }, { text: "bad", label: "0" }],
    });
    expect(parseDataset('{"text": 1}')).toEqual({ error: 'line 1: expected an object with a string "text"' });
    expect("error" in parseDataset("ok\n{not json")).toBe(true);
    expect((parseDataset("ok\n{not json") as { error: string }).error).toMatch(/^line 2: not JSON/);
    expect(parseDataset('{"text": "a", "label": [1]}')).toEqual({ error: 'line 1: "label" must be a string or a number' });
    expect(parseDataset(" \n\n")).toEqual({ error: "the dataset is empty: paste JSONL lines or one text per line" });
  });
});

describe("packed columns", () => {
  it("decodes every column and refuses a column of the wrong length", () => {
    const p = decodeProjection(result(6));
    expect([...p.xy]).toEqual([0, -0, 1, -1, 2, -2, 3, -3, 4, -4, 5, -5]);
    expect([...p.example]).toEqual([0, 0, 1, 1, 2, 2]);
    expect([...p.position]).toEqual([0, 1, 0, 1, 0, 1]);
    expect([...p.label]).toEqual([0, 1, 0, -1, 0, 1]);
    expect(p.vocab.get(11)).toBe(" b");
    expect(() => decodeProjection({ ...result(6), count: 7 })).toThrow("projection.xy: 48 bytes, expected 56");
  });

  it("colours by label (grey for none), prediction (by frequency) and example, with a legend", () => {
    const p = decodeProjection(result(6));
    const byLabel = colorPoints(p, "label");
    expect(byLabel.legend.map((e) => [e.name, e.count])).toEqual([
      ["neg", 3],
      ["pos", 2],
      ["(no label)", 1],
    ]);
    expect(byLabel.colors[0]).toBe(byLabel.colors[2]);
    expect(byLabel.colors[0]).not.toBe(byLabel.colors[1]);
    expect(byLabel.colors[3]).toBe(rgba(160, 160, 160));
    const byPred = colorPoints(p, "prediction");
    expect(byPred.legend.map((e) => [e.name, e.count])).toEqual([
      ['" x"', 5],
      ['" y"', 1],
    ]);
    const byEx = colorPoints(p, "example");
    expect(byEx.colors[0]).toBe(byEx.colors[1]);
    expect(byEx.colors[1]).not.toBe(byEx.colors[2]);
  });

  it("describes a hovered point in words", () => {
    const p = decodeProjection(result(6));
    const data = [{ text: "first" }, { text: "second one" }, { text: "third" }];
    expect(describePoint(p, 2, data)).toEqual({
      token: "#12",
      where: "example 1, position 0",
      context: "second one",
      label: "neg",
      prediction: " x",
    });
    expect(describePoint(p, 3, data)).toMatchObject({ token: " a", where: "example 1, position 1", label: "(none)" });
  });
});

describe("lasso", () => {
  const square = [0, 0, 10, 0, 10, 10, 0, 10];
  // a U shape: the notch between x = 3 and 7 above y = 3 is outside
  const u = [0, 0, 10, 0, 10, 10, 7, 10, 7, 3, 3, 3, 3, 10, 0, 10];

  it("tests points against convex and concave polygons", () => {
    expect(pointInPolygon(5, 5, square)).toBe(true);
    expect(pointInPolygon(11, 5, square)).toBe(false);
    expect(pointInPolygon(-0.1, 5, square)).toBe(false);
    expect(pointInPolygon(5, 5, u)).toBe(false);
    expect(pointInPolygon(5, 2, u)).toBe(true);
    expect(pointInPolygon(1, 8, u)).toBe(true);
    expect(pointInPolygon(8.5, 8, u)).toBe(true);
  });

  it("selects the points inside, none for a degenerate polygon", () => {
    const xy = Float32Array.of(5, 5, 5, 2, 1, 8, 20, 20, 8.5, 8);
    expect([...selectInPolygon(xy, u)]).toEqual([0, 1, 1, 0, 1]);
    expect([...selectInPolygon(xy, [0, 0, 10, 10])]).toEqual([0, 0, 0, 0, 0]);
  });

  it("turns a selection into the probe's [example, position] sides, sampled without repeats", () => {
    const p = decodeProjection(result(6));
    const sel = Uint8Array.of(1, 1, 0, 0, 0, 1);
    expect(probeSides(p, sel, 10)).toEqual({ inside: [0, 0, 0, 1, 2, 1], outside: [1, 0, 1, 1, 2, 0] });
    const s = probeSides(p, sel, 2, 3);
    expect(s.inside.length).toBe(4);
    expect(s.outside.length).toBe(4);
    const pairs = (a: number[]) => a.flatMap((_, k) => (k % 2 === 0 ? [`${a[k]}:${a[k + 1]}`] : []));
    expect(new Set(pairs(s.inside)).size).toBe(2);
    for (const q of pairs(s.inside)) expect(["0:0", "0:1", "2:1"]).toContain(q);
    expect(probeSides(p, sel, 2, 3)).toEqual(s);
  });

  it("writes the direction as a safetensors file that reads back", () => {
    const v = [0.5, -0.25, 1e-3];
    const bytes = safetensorsOf("direction", v, { hook: "blocks.1.hook_resid_post" });
    const view = new DataView(bytes.buffer);
    const n = view.getUint32(0, true);
    expect(view.getUint32(4, true)).toBe(0);
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header.direction).toEqual({ dtype: "F32", shape: [3], data_offsets: [0, 12] });
    expect(header.__metadata__).toEqual({ hook: "blocks.1.hook_resid_post" });
    expect(bytes.length).toBe(8 + n + 12);
    expect([0, 1, 2].map((i) => view.getFloat32(8 + n + 4 * i, true))).toEqual([...Float32Array.from(v)]);
  });
});

describe("view and rendering", () => {
  it("fits the points, and pan and zoom keep their invariants", () => {
    const xy = Float32Array.of(-2, -1, 2, 1, 0, 0);
    const v = fitView(xy, 200, 100, 0);
    expect(v).toEqual({ cx: 0, cy: 0, scale: 50 });
    expect(toScreen(v, 200, 100, 2, 1)).toEqual([200, 0]);
    expect(toData(v, 200, 100, 200, 0)).toEqual([2, 1]);
    // zooming about a pixel keeps the data point under it
    const z = zoomAt(v, 200, 100, 150, 30, 3);
    expect(z.scale).toBe(150);
    const [x, y] = toData(z, 200, 100, 150, 30);
    const [x0, y0] = toData(v, 200, 100, 150, 30);
    expect(x).toBeCloseTo(x0, 12);
    expect(y).toBeCloseTo(y0, 12);
    // panning moves the content with the pointer
    const p = panBy(v, 10, -5);
    expect(toScreen(p, 200, 100, 0, 0)).toEqual([110, 45]);
  });

  it("finds the nearest point within the radius as brute force does", () => {
    let a = 7;
    const rand = () => {
      a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
      return a / 4294967296;
    };
    const n = 3000;
    const xy = Float32Array.from({ length: 2 * n }, () => rand() * 100 - 50);
    const grid = new GridIndex(xy, 64);
    for (let q = 0; q < 300; q++) {
      const [x, y, r] = [rand() * 120 - 60, rand() * 120 - 60, rand() * 4];
      let best = -1;
      let bestD = r * r;
      for (let i = 0; i < n; i++) {
        const d = ((xy[2 * i] as number) - x) ** 2 + ((xy[2 * i + 1] as number) - y) ** 2;
        if (d <= bestD) [best, bestD] = [i, d];
      }
      const got = grid.nearest(x, y, r);
      if (best < 0) expect(got).toBe(-1);
      else {
        const dg = ((xy[2 * got] as number) - x) ** 2 + ((xy[2 * got + 1] as number) - y) ** 2;
        expect(dg).toBeCloseTo(bestD, 9);
      }
    }
  });

  it("rasterizes squares in their colours, clipped, the selection on top", () => {
    const [w, h] = [10, 8];
    const px = new Uint32Array(w * h);
    const xy = Float32Array.of(0, 0, 0, 0, 100, 100, 4.6, 3.6);
    const colors = Uint32Array.of(1, 2, 3, 4);
    const v = { cx: 5, cy: 4, scale: 1 };
    const bg = 9;
    const drawn = rasterize(px, w, h, xy, colors, v, {
      size: 2,
      background: bg,
      selected: Uint8Array.of(1, 0, 0, 0),
      highlight: 7,
    });
    expect(drawn).toBe(4); // 3 in the canvas + the selected one again; (100, 100) is off-canvas
    // (0, 0) → screen (0, 8): its square's top-left at (−1, 7), one pixel left by the clip; the selected point
    // (index 0) is drawn over index 1 at the same place, ringed in the highlight a pixel wider on every side
    expect(px[7 * w + 0]).toBe(1);
    expect([px[6 * w + 0], px[6 * w + 1], px[7 * w + 1]]).toEqual([7, 7, 7]);
    // (4.6, 3.6) → screen (4.6, 4.4), top-left rounded to (4, 3): a 2 × 2 square
    expect([px[3 * w + 4], px[3 * w + 5], px[4 * w + 4], px[4 * w + 5]]).toEqual([4, 4, 4, 4]);
    expect(px.filter((c) => c !== bg).length).toBe(8);
  });
});
