// A method result as a figure to download: one heatmap per kind, written as SVG (cells, every row and column
// label, the title and the colour scale's ends) or as PNG (the cells alone, one block of pixels each — the
// server has no font rasterizer, and a PNG without text is what goes into a paper's figure next to its own
// labels; the SVG carries them). The kinds and what each draws:
//   lens          stream × position: the target's probability (or the top prediction's, without a target)
//   dla           layer × (heads, attention bias, MLP): each component's contribution to the logit
//   ablate        layer × head (or × attention/MLP, or × neuron): the change in the metric
//   patch         the grid's rows × columns: the metric recovered (activation patching; attribution patching
//                 where the request asked for it alone)
//   attribution,
//   perturbation  one row of token scores
//   attention,
//   attention_overview  the rollout, position × position (the overview's comes as sqrt8 bytes: (b / 255)²)
// Values are drawn on a sequential scale from 0 to the largest (probabilities, rollout) or a diverging one
// symmetric about 0 (everything signed); a missing cell (null, not finite) is grey.
import { crc32, deflateSync } from "node:zlib";

export interface Figure {
  readonly title: string;
  readonly rows: readonly string[];
  readonly cols: readonly string[];
  /** [row][col]; null where a cell does not apply */
  readonly values: readonly (readonly (number | null)[])[];
  readonly scale: "sequential" | "diverging";
}

type Obj = Readonly<Record<string, unknown>>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const arr = (v: unknown): readonly unknown[] => (Array.isArray(v) ? v : []);
const numOrNull = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const tokenText = (t: unknown, i: number): string => {
  if (!isObj(t)) return String(i);
  return typeof t.text === "string" ? t.text : `#${String(t.id)}`;
};
const labelOf = (t: unknown, i: number): string => `${i} ${tokenText(t, i)}`;

function lensFigure(r: Obj): Figure {
  const target = isObj(r.target) ? tokenText(r.target, 0) : null;
  const tokens = arr(r.tokens);
  const positions = arr(r.positions).map(Number);
  return {
    title: target === null ? "logit lens: top prediction's probability" : `logit lens: P(${JSON.stringify(target)})`,
    rows: arr(r.layers).map(String),
    cols: positions.map((p) => labelOf(tokens[p], p)),
    values: arr(r.cells).map((row) =>
      arr(row).map((cell) => {
        if (!isObj(cell)) return null;
        if (isObj(cell.target)) return numOrNull(cell.target.prob);
        const top = arr(cell.top)[0];
        return isObj(top) ? numOrNull(top.prob) : null;
      }),
    ),
    scale: "sequential",
  };
}

/** Components with a layer and an optional index, laid out layer × column (a head, or a named component). */
function layerGrid(
  items: readonly Obj[],
  column: (c: Obj) => string | null,
  value: (c: Obj) => number | null,
): Pick<Figure, "rows" | "cols" | "values"> {
  const cols: string[] = [];
  const layers = [...new Set(items.map((c) => c.layer).filter((l): l is number => typeof l === "number"))].sort((a, b) => a - b);
  for (const c of items) {
    const k = column(c);
    if (k !== null && !cols.includes(k)) cols.push(k);
  }
  const values = layers.map((l) =>
    cols.map((k) => {
      const hit = items.find((c) => c.layer === l && column(c) === k);
      return hit === undefined ? null : value(hit);
    }),
  );
  return { rows: layers.map((l) => `L${l}`), cols, values };
}

function dlaFigure(r: Obj): Figure {
  const comps = arr(r.components).filter(isObj);
  const col = (c: Obj) =>
    c.kind === "head" ? `H${String(c.head)}` : c.kind === "attn_bias" ? "attn bias" : c.kind === "mlp" ? "mlp" : null;
  const target = isObj(r.target) ? JSON.stringify(tokenText(r.target, 0)) : "the target";
  return {
    title: `direct logit attribution of ${target}`,
    ...layerGrid(comps, col, (c) => numOrNull(c.value)),
    scale: "diverging",
  };
}

function ablateFigure(r: Obj): Figure {
  const effects = arr(r.effects).filter(isObj);
  const col = (e: Obj) =>
    e.kind === "head" ? `H${String(e.index)}` : e.kind === "neuron" ? `N${String(e.index)}` : String(e.kind);
  // heads in index order, not in the effects' order (largest first)
  const sorted = [...effects].sort((a, b) => Number(a.index ?? -1) - Number(b.index ?? -1));
  return {
    title: `${String(r.ablation)} ablation: change in ${String(r.metric)}`,
    ...layerGrid(sorted, col, (e) => numOrNull(e.effect)),
    scale: "diverging",
  };
}

function patchFigure(r: Obj): Figure | undefined {
  const real = Array.isArray(r.values);
  const cells = real ? arr(r.values) : isObj(r.attribution) ? arr(r.attribution.values) : null;
  if (cells === null) return undefined;
  return {
    title: `${real ? "activation" : "attribution"} patching (${String(r.grid)}): ${String(r.metric)} recovered`,
    rows: arr(r.rows).map(String),
    cols: arr(r.cols).map(String),
    values: cells.map((row) => arr(row).map(numOrNull)),
    scale: "diverging",
  };
}

function scoresFigure(r: Obj): Figure {
  const tokens = arr(r.tokens);
  const scores = arr(r.scores).map(numOrNull);
  const target = isObj(r.target) ? JSON.stringify(tokenText(r.target, 0)) : "the target";
  return {
    title: `${String(r.method)} attribution of ${target}`,
    rows: [String(r.method)],
    cols: scores.map((_, p) => labelOf(tokens[p], p)),
    values: [scores],
    scale: "diverging",
  };
}

/** A protocol QuantizedMatrix (sqrt8: each byte b the value (b / 255)², base64) as rows of numbers. */
function sqrt8Rows(m: Obj): (number | null)[][] | undefined {
  const rows = Number(m.rows);
  const cols = Number(m.cols);
  if (m.encoding !== "sqrt8" || typeof m.data !== "string" || !Number.isSafeInteger(rows) || !Number.isSafeInteger(cols))
    return undefined;
  const bytes = Buffer.from(m.data, "base64");
  if (bytes.length !== rows * cols) return undefined;
  return Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => ((bytes[i * cols + j] as number) / 255) ** 2),
  );
}

function attentionFigure(r: Obj): Figure | undefined {
  const tokens = arr(r.tokens);
  const labels = tokens.map(labelOf);
  const values = isObj(r.rollout) ? sqrt8Rows(r.rollout) : arr(r.rollout).map((row) => arr(row).map(numOrNull));
  if (values === undefined) return undefined;
  return { title: "attention rollout (query × key)", rows: labels, cols: labels, values, scale: "sequential" };
}

/** The figure of a result of this kind, or undefined when the kind has none (or the result has no cells). */
export function figureOf(kind: string, result: unknown): Figure | undefined {
  if (!isObj(result)) return undefined;
  const f =
    kind === "lens"
      ? lensFigure(result)
      : kind === "dla"
        ? dlaFigure(result)
        : kind === "ablate"
          ? ablateFigure(result)
          : kind === "patch"
            ? patchFigure(result)
            : kind === "attribution" || kind === "perturbation"
              ? scoresFigure(result)
              : kind === "attention" || kind === "attention_overview"
                ? attentionFigure(result)
                : undefined;
  return f === undefined || f.values.length === 0 || f.cols.length === 0 ? undefined : f;
}

/** The largest figure drawn as PNG: rows × columns (a 1,024-token rollout is 1 M cells). */
export const MAX_CELLS = 1024 * 1024;
/** The largest as SVG, whose every cell is an element with its value as a tooltip (~150 bytes each). */
export const MAX_SVG_CELLS = 256 * 256;

/** Colour of a value, as [r, g, b]: white → blue (sequential, 0…max) or blue ← white → red (diverging, ±max). */
export function colour(v: number | null, scale: Figure["scale"], max: number): [number, number, number] {
  if (v === null || !Number.isFinite(v)) return [200, 200, 200];
  const m = max > 0 ? max : 1;
  if (scale === "sequential") {
    const t = Math.min(1, Math.max(0, v / m));
    return [Math.round(255 - 222 * t), Math.round(255 - 160 * t), 255 - Math.round(75 * t)];
  }
  const t = Math.min(1, Math.abs(v) / m);
  const fade = Math.round(255 - 200 * t);
  return v >= 0 ? [255, fade, fade] : [fade, fade, 255];
}

/** The scale's end: the largest value (sequential) or |value| (diverging). */
export function extent(f: Figure): number {
  let max = 0;
  for (const row of f.values)
    for (const v of row) if (v !== null && Number.isFinite(v)) max = Math.max(max, f.scale === "sequential" ? v : Math.abs(v));
  return max;
}

/** Pixels per cell: large enough to see, small enough that the image stays under ~2,048 px a side. */
const cellPx = (f: Figure) => Math.max(1, Math.min(24, Math.floor(2048 / Math.max(f.rows.length, f.cols.length, 1))));

const xml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
// labels are text from the model's tokens: keep them printable (control characters are not allowed in XML 1.0)
const printable = (s: string) =>
  [...s].map((c) => (c.charCodeAt(0) < 0x20 || c === "\u007f" ? (c === "\n" ? "↵" : "·") : c)).join("");

/** The figure as an SVG document: cells, labels where cells are tall enough to hold them, title and scale. */
export function renderSvg(f: Figure): string {
  const px = cellPx(f);
  const max = extent(f);
  const labelled = px >= 8;
  const left = labelled ? 8 + 7 * Math.min(28, Math.max(...f.rows.map((r) => r.length), 1)) : 8;
  const top = 40 + (labelled ? 7 * Math.min(28, Math.max(...f.cols.map((c) => c.length), 1)) : 0);
  const w = left + f.cols.length * px + 16;
  const h = top + f.rows.length * px + 40;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif" font-size="${Math.min(12, Math.max(7, px - 2))}">`,
    `<rect width="${w}" height="${h}" fill="#fff"/>`,
    `<text x="8" y="18" font-size="14">${xml(printable(f.title))}</text>`,
  ];
  f.values.forEach((row, r) => {
    row.forEach((v, c) => {
      const [R, G, B] = colour(v, f.scale, max);
      out.push(
        `<rect x="${left + c * px}" y="${top + r * px}" width="${px}" height="${px}" fill="rgb(${R},${G},${B})"><title>${xml(printable(`${f.rows[r]} · ${f.cols[c]}: ${v === null ? "n/a" : v.toPrecision(4)}`))}</title></rect>`,
      );
    });
  });
  if (labelled) {
    f.rows.forEach((label, r) => {
      out.push(
        `<text x="${left - 4}" y="${top + r * px + px * 0.7}" text-anchor="end">${xml(printable(label.slice(0, 28)))}</text>`,
      );
    });
    f.cols.forEach((label, c) => {
      const x = left + c * px + px * 0.7;
      out.push(`<text transform="translate(${x},${top - 4}) rotate(-60)">${xml(printable(label.slice(0, 28)))}</text>`);
    });
  }
  const lo = f.scale === "sequential" ? 0 : -max;
  out.push(
    `<text x="${left}" y="${h - 14}">scale: ${xml(lo.toPrecision(3))} … ${xml(max.toPrecision(3))} (${f.scale}; grey: no value)</text>`,
    "</svg>",
  );
  return out.join("\n");
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "ascii");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** The figure's cells as a PNG (8-bit RGB, no text), each cell a square of pixels. */
export function renderPng(f: Figure): Buffer {
  const px = cellPx(f);
  const max = extent(f);
  const width = f.cols.length * px;
  const height = f.rows.length * px;
  const stride = 1 + width * 3; // a filter byte (0: none) before each scanline
  const raw = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const row = f.values[Math.floor(y / px)] ?? [];
    for (let x = 0; x < width; x++) {
      const [r, g, b] = colour(row[Math.floor(x / px)] ?? null, f.scale, max);
      const o = y * stride + 1 + x * 3;
      raw[o] = r;
      raw[o + 1] = g;
      raw[o + 2] = b;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** A figure download: `figure.svg` or `figure.png` of a result, or why there is none. */
export function figureFile(
  kind: string,
  result: unknown,
  format: "svg" | "png",
): { readonly bytes: Buffer; readonly type: string } | { readonly error: string; readonly status: 404 | 413 } {
  const f = figureOf(kind, result);
  if (f === undefined)
    return {
      status: 404,
      error: `a ${kind} result has no figure (lens, dla, ablate, patch, attribution, perturbation, attention, attention_overview have)`,
    };
  const cells = f.rows.length * f.cols.length;
  const cap = format === "svg" ? MAX_SVG_CELLS : MAX_CELLS;
  if (cells > cap)
    return {
      status: 413,
      error: `the figure would have ${cells} cells, more than ${cap} in ${format === "svg" ? "SVG (figure.png draws up to 1,048,576)" : "PNG"}`,
    };
  return format === "svg"
    ? { bytes: Buffer.from(renderSvg(f)), type: "image/svg+xml" }
    : { bytes: renderPng(f), type: "image/png" };
}
