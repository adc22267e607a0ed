// The projector's scatter plot without the DOM: the view transform (pan and zoom about the pointer), a uniform grid
// index for the nearest point under the pointer, the lasso's point-in-polygon test, and the rasterizer that writes
// points straight into an ImageData's pixels. The plot draws on a canvas 2D context with putImageData rather than
// one fillRect per point or WebGL: 100,000 points as 2–3 px squares are a few hundred thousand word writes per frame,
// which holds well above 30 frames/s on Chromium's software path (`--disable-gpu`, where WebGL may be unavailable),
// and the same code is testable in Node.

/** Data coordinates of the canvas centre and pixels per data unit (y points up on screen). */
export interface View {
  readonly cx: number;
  readonly cy: number;
  readonly scale: number;
}

/** The view that fits every point in a w × h canvas with a margin (a share of each side). */
export function fitView(xy: Float32Array, w: number, h: number, margin = 0.06): View {
  let [x0, x1, y0, y1] = [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
  for (let i = 0; i < xy.length; i += 2) {
    const x = xy[i] as number;
    const y = xy[i + 1] as number;
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  if (x0 > x1) return { cx: 0, cy: 0, scale: 1 };
  const spanX = Math.max(x1 - x0, 1e-9);
  const spanY = Math.max(y1 - y0, 1e-9);
  const scale = Math.min((w * (1 - 2 * margin)) / spanX, (h * (1 - 2 * margin)) / spanY);
  return { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, scale };
}

/** Screen pixel of a data point. */
export function toScreen(v: View, w: number, h: number, x: number, y: number): [number, number] {
  return [w / 2 + (x - v.cx) * v.scale, h / 2 - (y - v.cy) * v.scale];
}

/** Data point under a screen pixel. */
export function toData(v: View, w: number, h: number, sx: number, sy: number): [number, number] {
  return [v.cx + (sx - w / 2) / v.scale, v.cy - (sy - h / 2) / v.scale];
}

/** The view zoomed by `factor` about the screen pixel (sx, sy): the data point under it stays under it. */
export function zoomAt(v: View, w: number, h: number, sx: number, sy: number, factor: number): View {
  const [x, y] = toData(v, w, h, sx, sy);
  const scale = Math.min(1e12, Math.max(1e-12, v.scale * factor));
  return { cx: x - (sx - w / 2) / scale, cy: y + (sy - h / 2) / scale, scale };
}

/** The view dragged by (dx, dy) screen pixels: the content moves with the pointer. */
export function panBy(v: View, dx: number, dy: number): View {
  return { cx: v.cx - dx / v.scale, cy: v.cy + dy / v.scale, scale: v.scale };
}

/**
 * Points bucketed in a uniform grid over their bounding box (data space, built once per projection), for the
 * nearest point to the pointer: only the cells within the search radius are visited.
 */
export class GridIndex {
  private readonly x0: number;
  private readonly y0: number;
  private readonly cell: number;
  private readonly cols: number;
  private readonly rows: number;
  /** point indices sorted by cell, and each cell's start in it (counting sort) */
  private readonly order: Int32Array;
  private readonly starts: Int32Array;

  constructor(
    private readonly xy: Float32Array,
    cells = 256,
  ) {
    const n = xy.length / 2;
    let [x0, x1, y0, y1] = [
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ];
    for (let i = 0; i < n; i++) {
      const x = xy[2 * i] as number;
      const y = xy[2 * i + 1] as number;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
    if (n === 0) [x0, x1, y0, y1] = [0, 1, 0, 1];
    this.x0 = x0;
    this.y0 = y0;
    this.cell = Math.max(x1 - x0, y1 - y0, 1e-9) / cells;
    this.cols = Math.floor((x1 - x0) / this.cell) + 1;
    this.rows = Math.floor((y1 - y0) / this.cell) + 1;
    const cellOf = new Int32Array(n);
    const counts = new Int32Array(this.cols * this.rows + 1);
    for (let i = 0; i < n; i++) {
      const c = this.cellAt(xy[2 * i] as number, xy[2 * i + 1] as number);
      cellOf[i] = c;
      counts[c + 1] = (counts[c + 1] as number) + 1;
    }
    for (let c = 1; c < counts.length; c++) counts[c] = (counts[c] as number) + (counts[c - 1] as number);
    this.starts = counts;
    const fill = counts.slice();
    this.order = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const c = cellOf[i] as number;
      this.order[fill[c] as number] = i;
      fill[c] = (fill[c] as number) + 1;
    }
  }

  private cellAt(x: number, y: number): number {
    const cx = Math.min(this.cols - 1, Math.max(0, Math.floor((x - this.x0) / this.cell)));
    const cy = Math.min(this.rows - 1, Math.max(0, Math.floor((y - this.y0) / this.cell)));
    return cy * this.cols + cx;
  }

  /** The index of the point nearest (x, y) within `radius` (data units), or −1. */
  nearest(x: number, y: number, radius: number): number {
    const r = Math.ceil(radius / this.cell);
    const cx = Math.floor((x - this.x0) / this.cell);
    const cy = Math.floor((y - this.y0) / this.cell);
    let best = -1;
    let bestD = radius * radius;
    for (let gy = Math.max(0, cy - r); gy <= Math.min(this.rows - 1, cy + r); gy++)
      for (let gx = Math.max(0, cx - r); gx <= Math.min(this.cols - 1, cx + r); gx++) {
        const c = gy * this.cols + gx;
        for (let k = this.starts[c] as number; k < (this.starts[c + 1] as number); k++) {
          const i = this.order[k] as number;
          const d = ((this.xy[2 * i] as number) - x) ** 2 + ((this.xy[2 * i + 1] as number) - y) ** 2;
          if (d <= bestD) [best, bestD] = [i, d];
        }
      }
    return best;
  }
}

/** Whether (x, y) is inside the polygon `poly` ([x0, y0, x1, y1, …], closed implicitly) by the even–odd rule. */
export function pointInPolygon(x: number, y: number, poly: ArrayLike<number>): boolean {
  let inside = false;
  const n = poly.length / 2;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const xi = poly[2 * i] as number;
    const yi = poly[2 * i + 1] as number;
    const xj = poly[2 * j] as number;
    const yj = poly[2 * j + 1] as number;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** 1 for each point inside the polygon (data coordinates), else 0; a polygon of fewer than 3 vertices holds none. */
export function selectInPolygon(xy: Float32Array, poly: ArrayLike<number>): Uint8Array {
  const n = xy.length / 2;
  const out = new Uint8Array(n);
  if (poly.length < 6) return out;
  let [x0, x1, y0, y1] = [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
  for (let k = 0; k < poly.length; k += 2) {
    x0 = Math.min(x0, poly[k] as number);
    x1 = Math.max(x1, poly[k] as number);
    y0 = Math.min(y0, poly[k + 1] as number);
    y1 = Math.max(y1, poly[k + 1] as number);
  }
  for (let i = 0; i < n; i++) {
    const x = xy[2 * i] as number;
    const y = xy[2 * i + 1] as number;
    // the bounding box first: most points of a small lasso are rejected without walking its edges
    if (x < x0 || x > x1 || y < y0 || y > y1) continue;
    if (pointInPolygon(x, y, poly)) out[i] = 1;
  }
  return out;
}

/** An opaque colour as an ImageData pixel word (bytes R, G, B, A in memory: little-endian). */
export function rgba(r: number, g: number, b: number): number {
  return ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0;
}

export interface RasterOptions {
  /** a point's square side in pixels */
  readonly size: number;
  readonly background: number;
  /** points drawn again on top in `highlight` (the lasso's selection); null for none */
  readonly selected: Uint8Array | null;
  readonly highlight: number;
}

/**
 * Clears `pixels` (a w × h ImageData's words) and draws each point as a size × size square in its colour, in
 * order, then the selected points on top, ringed in the highlight. Returns the squares drawn inside the canvas
 * (a selected point counts twice).
 */
export function rasterize(
  pixels: Uint32Array,
  w: number,
  h: number,
  xy: Float32Array,
  colors: Uint32Array,
  v: View,
  o: RasterOptions,
): number {
  pixels.fill(o.background);
  const n = xy.length / 2;
  const half = o.size / 2;
  // screen x = ax·x + bx, y = ay·y + by (toScreen, folded into two multiply-adds per point)
  const ax = v.scale;
  const bx = w / 2 - v.cx * v.scale - half;
  const ay = -v.scale;
  const by = h / 2 + v.cy * v.scale - half;
  let drawn = 0;
  const draw = (i: number, color: number, size: number, grow: number) => {
    const sx = Math.round(ax * (xy[2 * i] as number) + bx) - grow;
    const sy = Math.round(ay * (xy[2 * i + 1] as number) + by) - grow;
    if (sx <= -size || sy <= -size || sx >= w || sy >= h) return false;
    const xa = sx < 0 ? 0 : sx;
    const xb = sx + size > w ? w : sx + size;
    const ya = sy < 0 ? 0 : sy;
    const yb = sy + size > h ? h : sy + size;
    for (let yy = ya; yy < yb; yy++) {
      const row = yy * w;
      for (let k = row + xa; k < row + xb; k++) pixels[k] = color;
    }
    return true;
  };
  for (let i = 0; i < n; i++) if (draw(i, colors[i] as number, o.size, 0)) drawn++;
  // the selection on top: each selected point ringed in the highlight, a pixel wider on every side
  if (o.selected !== null)
    for (let i = 0; i < n; i++)
      if (o.selected[i] === 1 && draw(i, o.highlight, o.size + 2, 1)) {
        draw(i, colors[i] as number, o.size, 0);
        drawn++;
      }
  return drawn;
}
