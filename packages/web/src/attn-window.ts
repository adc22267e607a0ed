// The attention view at long inputs, without the DOM: patterns arrive as sqrt8 bytes (protocol QuantizedMatrix:
// byte q stands for (q / 255)²), are kept as bytes (1 MiB for a 1,024-token head, not 8 MiB of numbers) and drawn
// through a 256-entry colour table; a square window of the matrix (zoom and scroll) is what the canvas shows, and
// the token labels and the line view cover that window only.
import type { QuantizedMatrix } from "@llmdbg/protocol";
import { heatRgb } from "./heat.js";

/** A decoded sqrt8 matrix: its bytes, row-major. */
export interface Bytes {
  readonly rows: number;
  readonly cols: number;
  readonly bytes: Uint8Array;
}

/** The bytes of a QuantizedMatrix; a wrong length or encoding is an error naming it. */
export function decodeSqrt8(m: QuantizedMatrix): Bytes {
  if (m.encoding !== "sqrt8") throw new Error(`unknown matrix encoding ${JSON.stringify(m.encoding)} (expected sqrt8)`);
  const bin = atob(m.data);
  if (bin.length !== m.rows * m.cols) throw new Error(`a ${m.rows} × ${m.cols} matrix arrived with ${bin.length} bytes`);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return { rows: m.rows, cols: m.cols, bytes };
}

/** The value a byte stands for. */
export const sqrt8Value = (q: number): number => (q / 255) ** 2;

/** The largest byte (the matrix's peak). */
export function peakByte(bytes: Uint8Array): number {
  let m = 0;
  for (let i = 0; i < bytes.length; i++) if ((bytes[i] as number) > m) m = bytes[i] as number;
  return m;
}

/** Packed RGBA per byte, the value scaled so that the byte `peak` is the darkest (a weak head stays visible). */
export function colourTable(peak: number): Uint32Array {
  const t = new Uint32Array(256);
  const px = new Uint8Array(t.buffer);
  const top = peak > 0 ? sqrt8Value(peak) : 1;
  for (let q = 0; q < 256; q++) {
    const [r, g, b] = heatRgb(sqrt8Value(q) / top);
    px.set([r, g, b, 255], 4 * q);
  }
  return t;
}

/** A square window of an n × n matrix: rows and columns [row0, row0 + size) and [col0, col0 + size). */
export interface Win {
  readonly row0: number;
  readonly col0: number;
  readonly size: number;
}

/** Zooming in stops at this many entries per side (or the matrix, if smaller). */
export const MIN_WINDOW = 8;

export const fullWindow = (n: number): Win => ({ row0: 0, col0: 0, size: n });

/** The window made valid for an n × n matrix: integer, inside it, at least MIN_WINDOW (or n) wide. */
export function clampWindow(w: Win, n: number): Win {
  const size = Math.max(Math.min(MIN_WINDOW, n), Math.min(n, Math.round(w.size)));
  const fit = (x: number) => Math.max(0, Math.min(n - size, Math.round(x)));
  return { row0: fit(w.row0), col0: fit(w.col0), size };
}

/**
 * The window scaled by `factor` (< 1 zooms in) about the point at fractions (fx, fy) of the drawing, which stays
 * under the pointer.
 * @example zoomWindow({ row0: 0, col0: 0, size: 1024 }, 1024, 0.5, 1, 1) // { row0: 512, col0: 512, size: 512 }
 */
export function zoomWindow(w: Win, n: number, factor: number, fx = 0.5, fy = 0.5): Win {
  const size = Math.max(Math.min(MIN_WINDOW, n), Math.min(n, Math.round(w.size * factor)));
  const row = w.row0 + fy * w.size;
  const col = w.col0 + fx * w.size;
  return clampWindow({ row0: row - fy * size, col0: col - fx * size, size }, n);
}

/** The window moved by whole rows and columns (positive: down and right), kept inside. */
export function panWindow(w: Win, n: number, rows: number, cols: number): Win {
  return clampWindow({ row0: w.row0 + rows, col0: w.col0 + cols, size: w.size }, n);
}

/** The window centred on a cell, at its size (to jump to a query row or a sink). */
export function centreWindow(w: Win, n: number, row: number, col: number): Win {
  return clampWindow({ row0: row - w.size / 2, col0: col - w.size / 2, size: w.size }, n);
}

/** The cell under a point of a square drawing `px` wide showing window `w`, or null outside it. */
export function cellInWindow(x: number, y: number, px: number, w: Win): { row: number; col: number } | null {
  if (px <= 0 || x < 0 || y < 0 || x >= px || y >= px) return null;
  return {
    row: w.row0 + Math.min(w.size - 1, Math.floor((y / px) * w.size)),
    col: w.col0 + Math.min(w.size - 1, Math.floor((x / px) * w.size)),
  };
}

/**
 * RGBA pixels of window `w` of an n × n byte matrix on a px × px drawing. Enlarging, each pixel shows the entry it
 * falls in; shrinking (a 1,024-wide window on fewer pixels), each shows the maximum of the entries it covers, so a
 * one-entry-wide diagonal or stripe never falls between pixels.
 */
export function renderWindow(bytes: Uint8Array, n: number, w: Win, px: number, table: Uint32Array): Uint8ClampedArray {
  const out = new Uint8ClampedArray(px * px * 4);
  const pix = new Uint32Array(out.buffer);
  if (w.size <= px) {
    const at = Int32Array.from({ length: px }, (_, x) => Math.floor((x * w.size) / px));
    for (let y = 0; y < px; y++) {
      const base = (w.row0 + (at[y] as number)) * n + w.col0;
      const o = y * px;
      for (let x = 0; x < px; x++) pix[o + x] = table[bytes[base + (at[x] as number)] as number] as number;
    }
    return out;
  }
  const peak = new Uint8Array(px * px);
  const to = Int32Array.from({ length: w.size }, (_, i) => Math.floor((i * px) / w.size));
  for (let r = 0; r < w.size; r++) {
    const base = (w.row0 + r) * n + w.col0;
    const o = (to[r] as number) * px;
    for (let c = 0; c < w.size; c++) {
      const b = bytes[base + c] as number;
      const i = o + (to[c] as number);
      if (b > (peak[i] as number)) peak[i] = b;
    }
  }
  for (let i = 0; i < px * px; i++) pix[i] = table[peak[i] as number] as number;
  return out;
}

/** The positions whose labels fit beside a window drawn `px` wide (one per row of at least `minPx`), else none. */
export function labelledPositions(w: Win, px: number, minPx = 11): number[] {
  if (w.size === 0 || px / w.size < minPx) return [];
  return Array.from({ length: w.size }, (_, i) => w.row0 + i);
}

/** One line of the line view: query → key with its weight. */
export interface Line {
  readonly q: number;
  readonly k: number;
  readonly w: number;
}

/** The line view shows every row and column of a window this small; a larger one shows the focused query alone. */
export const LINE_WINDOW = 48;

/**
 * What the line view draws for window `w`: at most LINE_WINDOW entries wide, the window's queries and keys and
 * every pair above `minWeight`; wider, the `focus` query alone and its `top` strongest keys above `minWeight`
 * anywhere in the row (so a 1,024-token prompt still reads as token-to-token lines).
 */
export function lineView(
  bytes: Uint8Array,
  n: number,
  w: Win,
  focus: number,
  minWeight = 0.01,
  top = 12,
): { queries: number[]; keys: number[]; lines: Line[] } {
  if (w.size <= LINE_WINDOW) {
    const queries = Array.from({ length: w.size }, (_, i) => w.row0 + i);
    const keys = Array.from({ length: w.size }, (_, i) => w.col0 + i);
    const lines: Line[] = [];
    for (const q of queries)
      for (const k of keys) {
        const v = sqrt8Value(bytes[q * n + k] as number);
        if (v > minWeight) lines.push({ q, k, w: v });
      }
    return { queries, keys, lines };
  }
  const q = Math.max(0, Math.min(n - 1, focus));
  const row: Line[] = [];
  for (let k = 0; k < n; k++) {
    const v = sqrt8Value(bytes[q * n + k] as number);
    if (v > minWeight) row.push({ q, k, w: v });
  }
  const lines = row.sort((a, b) => b.w - a.w || a.k - b.k).slice(0, top);
  return { queries: [q], keys: lines.map((l) => l.k).sort((a, b) => a - b), lines };
}
