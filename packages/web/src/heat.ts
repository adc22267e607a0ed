// Colours and pixels for the heatmaps: a value in [0, 1] maps from near-white through blue to near-black, and an
// attention pattern [query][key] becomes RGBA pixels row by row (query = y, key = x), the way the canvas views
// draw it. Kept free of the DOM so the tests check it in Node.

/** The colour stops of the scale, value 0 first. */
const STOPS: readonly (readonly [number, number, number])[] = [
  [247, 251, 255],
  [198, 219, 239],
  [107, 174, 214],
  [33, 113, 181],
  [8, 48, 107],
  [3, 19, 43],
];

/** RGB of a value in [0, 1] (clamped; NaN shows as the colour of 0). */
export function heatRgb(v: number): [number, number, number] {
  const x = Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
  const f = x * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(f));
  const t = f - i;
  const a = STOPS[i] as readonly [number, number, number];
  const b = STOPS[i + 1] as readonly [number, number, number];
  return [Math.round(a[0] + t * (b[0] - a[0])), Math.round(a[1] + t * (b[1] - a[1])), Math.round(a[2] + t * (b[2] - a[2]))];
}

/** A CSS colour for a value in [0, 1], and a readable text colour on it. */
export function heatCss(v: number): { background: string; color: string } {
  const [r, g, b] = heatRgb(v);
  return { background: `rgb(${r}, ${g}, ${b})`, color: 0.299 * r + 0.587 * g + 0.114 * b < 140 ? "#fff" : "#111" };
}

/** The scale at 1,024 levels as packed RGBA, so drawing a pattern is one table look-up per pixel. */
const LEVELS = 1024;
let lut: Uint32Array | null = null;
function table(): Uint32Array {
  if (lut !== null) return lut;
  const t = new Uint32Array(LEVELS);
  const bytes = new Uint8Array(t.buffer);
  for (let i = 0; i < LEVELS; i++) {
    const [r, g, b] = heatRgb(i / (LEVELS - 1));
    bytes.set([r, g, b, 255], 4 * i);
  }
  lut = t;
  return t;
}

/**
 * The pixels of a pattern [query][key] (n × n, one pixel per entry), scaled so `max` is the darkest: 1 for raw
 * probabilities; a head's own maximum makes weak patterns visible. Entries above the diagonal that a causal model
 * never attends to are 0 and draw white. Colours come from the scale quantized to 1,024 levels (a 1,024-token
 * pattern draws in a few milliseconds).
 */
export function patternRgba(pattern: readonly (readonly number[])[], max = 1): Uint8ClampedArray {
  const n = pattern.length;
  const out = new Uint8ClampedArray(n * n * 4);
  const px = new Uint32Array(out.buffer);
  const t = table();
  const scale = max > 0 ? (LEVELS - 1) / max : 0;
  for (let q = 0; q < n; q++) {
    const row = pattern[q] ?? [];
    const base = q * n;
    for (let k = 0; k < n; k++) {
      const v = (row[k] ?? 0) * scale;
      // NaN and negatives clamp to level 0, like heatRgb
      const level = v > 0 ? (v < LEVELS - 1 ? Math.round(v) : LEVELS - 1) : 0;
      px[base + k] = t[level] as number;
    }
  }
  return out;
}

/** The cell under a point of a square drawing of an n × n matrix `size` pixels wide, or null outside it. */
export function cellAt(x: number, y: number, size: number, n: number): { row: number; col: number } | null {
  if (n <= 0 || x < 0 || y < 0 || x >= size || y >= size) return null;
  return { row: Math.min(n - 1, Math.floor((y / size) * n)), col: Math.min(n - 1, Math.floor((x / size) * n)) };
}

/** A diverging colour for signed values: blue for negative, red for positive, white at 0, full at ±`max`. */
export function divergingCss(v: number, max: number): { background: string; color: string } {
  const x = max > 0 && Number.isFinite(v) ? Math.max(-1, Math.min(1, v / max)) : 0;
  const [r, g, b] = x >= 0 ? [202, 0, 32] : [5, 113, 176];
  const a = Math.abs(x);
  const mix = (c: number) => Math.round(255 + a * (c - 255));
  return { background: `rgb(${mix(r)}, ${mix(g)}, ${mix(b)})`, color: a > 0.55 ? "#fff" : "#111" };
}
