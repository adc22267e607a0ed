// The attention view's window logic at long inputs: sqrt8 decoding, the colour table, zooming about the pointer,
// panning and clamping, the cell under the pointer, drawing a window (nearest when enlarging, the maximum when
// shrinking, so a one-entry diagonal survives 1,024 → 256 pixels), the labelled positions and the line view's
// pairs for a small window and for one focused query of a large one.
import type { QuantizedMatrix } from "@llmdbg/protocol";
import { describe, expect, it } from "vitest";
import {
  cellInWindow,
  centreWindow,
  clampWindow,
  colourTable,
  decodeSqrt8,
  fullWindow,
  LINE_WINDOW,
  labelledPositions,
  lineView,
  MIN_WINDOW,
  panWindow,
  peakByte,
  renderWindow,
  sqrt8Value,
  zoomWindow,
} from "../src/attn-window.js";
import { heatRgb } from "../src/heat.js";

const encode = (bytes: number[], rows: number, cols: number): QuantizedMatrix => ({
  rows,
  cols,
  encoding: "sqrt8",
  data: Buffer.from(bytes).toString("base64"),
});

/** A causal n × n byte matrix with 255 on the diagonal and `off` below it. */
function diagonal(n: number, off = 0): Uint8Array {
  const b = new Uint8Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) b[i * n + j] = i === j ? 255 : off;
  return b;
}

describe("sqrt8 bytes", () => {
  it("decodes what was encoded and refuses a wrong length or encoding", () => {
    const m = decodeSqrt8(encode([0, 1, 128, 255, 7, 9], 2, 3));
    expect([m.rows, m.cols, [...m.bytes]]).toEqual([2, 3, [0, 1, 128, 255, 7, 9]]);
    expect(() => decodeSqrt8(encode([1, 2, 3], 2, 2))).toThrow(/2 × 2 matrix arrived with 3 bytes/);
    expect(() => decodeSqrt8({ ...encode([1], 1, 1), encoding: "f16" as "sqrt8" })).toThrow(/encoding "f16"/);
    expect(sqrt8Value(255)).toBe(1);
    expect(sqrt8Value(0)).toBe(0);
    expect(sqrt8Value(1)).toBeCloseTo(1.54e-5, 7);
    expect(peakByte(new Uint8Array([3, 200, 7]))).toBe(200);
  });

  it("colours scale to the peak: the peak byte is the darkest colour, 0 the lightest", () => {
    const t = colourTable(128);
    const rgba = (q: number) => [...new Uint8Array(t.buffer, 4 * q, 4)];
    expect(rgba(128)).toEqual([...heatRgb(1), 255]);
    expect(rgba(255)).toEqual([...heatRgb(1), 255]); // above the peak clamps
    expect(rgba(0)).toEqual([...heatRgb(0), 255]);
    expect(rgba(64)).toEqual([...heatRgb((64 / 128) ** 2), 255]);
  });
});

describe("the window", () => {
  it("zooms about the pointer, keeping the entry under it in place", () => {
    const w = zoomWindow(fullWindow(1024), 1024, 0.5, 0.25, 0.75);
    expect(w).toEqual({ row0: 384, col0: 128, size: 512 });
    // the entry under the pointer (fraction 0.25, 0.75) before and after
    expect(cellInWindow(0.25 * 400, 0.75 * 400, 400, w)).toEqual(cellInWindow(0.25 * 400, 0.75 * 400, 400, fullWindow(1024)));
    expect(zoomWindow(fullWindow(1024), 1024, 0.5, 1, 1)).toEqual({ row0: 512, col0: 512, size: 512 });
    // zooming out never leaves the matrix, zooming in stops at MIN_WINDOW
    expect(zoomWindow(w, 1024, 4)).toEqual(fullWindow(1024));
    let z = fullWindow(1024);
    for (let i = 0; i < 20; i++) z = zoomWindow(z, 1024, 0.5);
    expect(z.size).toBe(MIN_WINDOW);
    expect(zoomWindow(fullWindow(5), 5, 0.1).size).toBe(5); // a matrix smaller than MIN_WINDOW stays whole
  });

  it("pans and centres inside the matrix", () => {
    const w = { row0: 100, col0: 100, size: 64 };
    expect(panWindow(w, 1024, 10, -20)).toEqual({ row0: 110, col0: 80, size: 64 });
    expect(panWindow(w, 1024, -500, 5000)).toEqual({ row0: 0, col0: 960, size: 64 });
    expect(centreWindow(w, 1024, 1023, 0)).toEqual({ row0: 960, col0: 0, size: 64 });
    expect(clampWindow({ row0: 3.4, col0: -2, size: 2000 }, 100)).toEqual({ row0: 0, col0: 0, size: 100 });
  });

  it("finds the cell under the pointer, or none outside", () => {
    const w = { row0: 10, col0: 20, size: 8 };
    expect(cellInWindow(0, 0, 400, w)).toEqual({ row: 10, col: 20 });
    expect(cellInWindow(399.9, 399.9, 400, w)).toEqual({ row: 17, col: 27 });
    expect(cellInWindow(60, 110, 400, w)).toEqual({ row: 12, col: 21 });
    expect(cellInWindow(-1, 5, 400, w)).toBeNull();
    expect(cellInWindow(5, 400, 400, w)).toBeNull();
  });

  it("draws a window: each pixel the entry it falls in when enlarging", () => {
    const n = 16;
    const b = diagonal(n, 10);
    const t = new Uint32Array(256).map((_, q) => q); // pixel value = byte, to read back
    const px = new Uint32Array(renderWindow(b, n, { row0: 4, col0: 2, size: 4 }, 8, t).buffer);
    // pixel (y, x) shows entry (4 + ⌊y/2⌋, 2 + ⌊x/2⌋)
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) expect(px[y * 8 + x]).toBe(b[(4 + (y >> 1)) * n + 2 + (x >> 1)]);
  });

  it("draws a window: each pixel the maximum of the entries it covers when shrinking", () => {
    const n = 1024;
    const b = diagonal(n); // one entry per row: a nearest-sample drawing on 256 pixels would keep 1 in 4
    const t = new Uint32Array(256).map((_, q) => q);
    const px = new Uint32Array(renderWindow(b, n, fullWindow(n), 256, t).buffer);
    for (let y = 0; y < 256; y++) {
      expect(px[y * 256 + y]).toBe(255);
      if (y > 0) expect(px[y * 256 + y - 1]).toBe(0);
    }
  });

  it("labels the positions of a window only when their rows are tall enough", () => {
    expect(labelledPositions({ row0: 500, col0: 0, size: 32 }, 512)).toEqual(Array.from({ length: 32 }, (_, i) => 500 + i));
    expect(labelledPositions(fullWindow(1024), 512)).toEqual([]);
  });
});

describe("the line view", () => {
  it("a small window: its queries and keys, a line per pair above 1%", () => {
    const n = 6;
    const b = diagonal(n, 40); // 40 → 2.5 %, 255 → 100 %
    b[5 * n + 0] = 20; // 0.6 %: below the threshold
    const v = lineView(b, n, { row0: 2, col0: 0, size: 4 }, 0);
    expect(v.queries).toEqual([2, 3, 4, 5]);
    expect(v.keys).toEqual([0, 1, 2, 3]);
    expect(v.lines.map((l) => `${l.q}-${l.k}`)).toEqual([
      "2-0",
      "2-1",
      "2-2",
      "3-0",
      "3-1",
      "3-2",
      "3-3",
      "4-0",
      "4-1",
      "4-2",
      "4-3",
      "5-1",
      "5-2",
      "5-3",
    ]);
    expect(v.lines[2]?.w).toBe(1);
  });

  it("a large window: the focused query alone and its strongest keys, in position order", () => {
    const n = 1024;
    const b = new Uint8Array(n * n);
    const row = 700;
    for (const [k, q] of [
      [3, 200],
      [699, 100],
      [50, 30],
      [10, 5], // 0.04 %: under the threshold
    ] as const)
      b[row * n + k] = q;
    const v = lineView(b, n, fullWindow(n), row, 0.01, 2);
    expect(v.queries).toEqual([row]);
    expect(v.keys).toEqual([3, 699]);
    expect(v.lines.map((l) => l.k)).toEqual([3, 699]);
    expect(lineView(b, n, fullWindow(n), row).keys).toEqual([3, 50, 699]);
    expect(LINE_WINDOW).toBeLessThan(n);
  });
});
