// The projector's data without the DOM: the dataset the user pastes or picks (JSONL of { text, label? } or one
// text per line), the projection's packed columns decoded, the colours by label, prediction or example (slice), the
// lasso's selection turned into the probe's inside/outside pairs (sampled, seeded), and the probe's direction as a
// safetensors file.
import type { ProjectionExample, ProjectionResult } from "@llmdbg/protocol";
import { rgba } from "./scatter.js";

/** The most lines a pasted or picked dataset may have (the server's own ceiling). */
export const MAX_DATASET_LINES = 100_000;

/**
 * A dataset from text: each non-empty line is a JSON object `{ "text": …, "label"?: … }` (JSONL), or, when it does
 * not start with `{`, a text of its own without a label.
 */
export function parseDataset(source: string): { examples: ProjectionExample[] } | { error: string } {
  const examples: ProjectionExample[] = [];
  const lines = source.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === "") continue;
    if (!line.startsWith("{")) {
      examples.push({ text: raw });
      continue;
    }
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch (e) {
      return { error: `line ${i + 1}: not JSON (${(e as Error).message})` };
    }
    const rec = o as { text?: unknown; label?: unknown };
    if (typeof rec !== "object" || rec === null || typeof rec.text !== "string")
      return { error: `line ${i + 1}: expected an object with a string "text"` };
    if (rec.label !== undefined && rec.label !== null && typeof rec.label !== "string" && typeof rec.label !== "number")
      return { error: `line ${i + 1}: "label" must be a string or a number` };
    examples.push(
      rec.label === undefined || rec.label === null ? { text: rec.text } : { text: rec.text, label: String(rec.label) },
    );
  }
  if (examples.length === 0) return { error: "the dataset is empty: paste JSONL lines or one text per line" };
  if (examples.length > MAX_DATASET_LINES) return { error: `${examples.length} examples; at most ${MAX_DATASET_LINES}` };
  return { examples };
}

/** Bytes of standard base64 (atob exists in browsers and Node ≥ 16). */
export function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function column<A extends Float32Array | Int32Array>(s: string, make: (b: ArrayBuffer) => A, n: number, name: string): A {
  const bytes = fromBase64(s);
  if (bytes.length !== n * 4) throw new Error(`projection.${name}: ${bytes.length} bytes, expected ${n * 4}`);
  // the wire is little-endian; so is every platform a browser runs on, but read it as such regardless
  const view = new DataView(bytes.buffer);
  const out = make(new ArrayBuffer(n * 4));
  for (let i = 0; i < n; i++) out[i] = out instanceof Float32Array ? view.getFloat32(i * 4, true) : view.getInt32(i * 4, true);
  return out;
}

/** A projection's columns, decoded. */
export interface Points {
  readonly count: number;
  readonly xy: Float32Array;
  readonly example: Int32Array;
  readonly position: Int32Array;
  readonly token: Int32Array;
  readonly prediction: Int32Array;
  readonly label: Int32Array;
  readonly labels: readonly string[];
  readonly vocab: ReadonlyMap<number, string | null>;
}

/** Decodes the packed columns, checking each one's length against `count`. */
export function decodeProjection(r: ProjectionResult): Points {
  const n = r.count;
  const f = (b: ArrayBuffer) => new Float32Array(b);
  const i = (b: ArrayBuffer) => new Int32Array(b);
  return {
    count: n,
    xy: column(r.xy, f, 2 * n, "xy"),
    example: column(r.example, i, n, "example"),
    position: column(r.position, i, n, "position"),
    token: column(r.token, i, n, "token"),
    prediction: column(r.prediction, i, n, "prediction"),
    label: column(r.label, i, n, "label"),
    labels: r.labels,
    vocab: new Map(r.vocab.map((v) => [v.id, v.text])),
  };
}

/** Categorical colours (Tableau 10), and grey for "none" and "other". */
export const PALETTE: readonly (readonly [number, number, number])[] = [
  [78, 121, 167],
  [242, 142, 43],
  [225, 87, 89],
  [118, 183, 178],
  [89, 161, 79],
  [237, 201, 72],
  [176, 122, 161],
  [255, 157, 167],
  [156, 117, 95],
  [186, 176, 172],
];
const GREY: readonly [number, number, number] = [160, 160, 160];

export type ColorBy = "label" | "prediction" | "example";

export interface LegendEntry {
  readonly name: string;
  readonly rgb: readonly [number, number, number];
  readonly count: number;
}

const css = (rgb: readonly [number, number, number]) => `rgb(${rgb[0]}, ${rgb[1]}, ${rgb[2]})`;

export { css as cssColor };

/** The token's text for display, or `#id`. */
export function tokenText(p: Points, id: number): string {
  if (id < 0) return "(mean)";
  return p.vocab.get(id) ?? `#${id}`;
}

/**
 * Each point's colour and the legend. Label: one colour per label (grey: none). Prediction: the 9 most frequent
 * top predictions get a colour each, the rest grey ("other"). Example (slice): the example index cycles the palette,
 * so neighbouring examples differ.
 */
export function colorPoints(p: Points, by: ColorBy): { colors: Uint32Array; legend: LegendEntry[] } {
  const colors = new Uint32Array(p.count);
  const word = (rgb: readonly [number, number, number]) => rgba(rgb[0], rgb[1], rgb[2]);
  if (by === "example") {
    const words = PALETTE.map(word);
    for (let i = 0; i < p.count; i++) colors[i] = words[(p.example[i] as number) % words.length] as number;
    const nEx = new Set(p.example).size;
    return {
      colors,
      legend: [{ name: `${nEx} examples, colours cycling`, rgb: PALETTE[0] as [number, number, number], count: p.count }],
    };
  }
  const keyOf = by === "label" ? p.label : p.prediction;
  const counts = new Map<number, number>();
  for (let i = 0; i < p.count; i++) counts.set(keyOf[i] as number, (counts.get(keyOf[i] as number) ?? 0) + 1);
  // labels keep their sorted order; predictions rank by frequency
  const keys =
    by === "label"
      ? p.labels.map((_, k) => k).filter((k) => counts.has(k))
      : [...counts.entries()]
          .sort((a, b) => b[1] - a[1] || a[0] - b[0])
          .map(([k]) => k)
          .slice(0, PALETTE.length - 1);
  const colorOf = new Map<number, readonly [number, number, number]>(
    keys.map((k, j) => [k, PALETTE[j % PALETTE.length] as [number, number, number]]),
  );
  for (let i = 0; i < p.count; i++) colors[i] = word(colorOf.get(keyOf[i] as number) ?? GREY);
  const legend: LegendEntry[] = keys.map((k) => ({
    name: by === "label" ? (p.labels[k] as string) : JSON.stringify(tokenText(p, k)),
    rgb: colorOf.get(k) as [number, number, number],
    count: counts.get(k) as number,
  }));
  const rest = p.count - legend.reduce((s, e) => s + e.count, 0);
  if (rest > 0) legend.push({ name: by === "label" ? "(no label)" : "other", rgb: GREY, count: rest });
  return { colors, legend };
}

/** A seeded generator in [0, 1) (mulberry32). */
function mulberry(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The probe's two sides from a selection: [example, position] pairs of the points inside and outside, each side a
 * seeded sample of at most `maxPerSide` points (a logistic fit on 100,000 points would take minutes; a few thousand
 * per side fix the direction as well).
 */
export function probeSides(
  p: Points,
  selected: Uint8Array,
  maxPerSide: number,
  seed = 0,
): { inside: number[]; outside: number[] } {
  const ins: number[] = [];
  const outs: number[] = [];
  for (let i = 0; i < p.count; i++) (selected[i] === 1 ? ins : outs).push(i);
  const rand = mulberry(seed);
  const pick = (idx: number[]) => {
    for (let k = 0; k < Math.min(maxPerSide, idx.length); k++) {
      const j = k + Math.floor(rand() * (idx.length - k));
      [idx[k], idx[j]] = [idx[j] as number, idx[k] as number];
    }
    return idx
      .slice(0, maxPerSide)
      .sort((a, b) => a - b)
      .flatMap((i) => [p.example[i] as number, p.position[i] as number]);
  };
  return { inside: pick(ins), outside: pick(outs) };
}

/**
 * A safetensors file holding one float32 vector: an 8-byte little-endian header length, the JSON header (padded
 * with spaces to a multiple of 8, as the format recommends), then the data.
 */
export function safetensorsOf(name: string, vector: readonly number[], metadata: Readonly<Record<string, string>>): Uint8Array {
  const header = JSON.stringify({
    __metadata__: metadata,
    [name]: { dtype: "F32", shape: [vector.length], data_offsets: [0, vector.length * 4] },
  });
  let h = new TextEncoder().encode(header);
  const pad = (8 - (h.length % 8)) % 8;
  if (pad > 0) h = new TextEncoder().encode(header + " ".repeat(pad));
  const out = new Uint8Array(8 + h.length + vector.length * 4);
  const view = new DataView(out.buffer);
  view.setUint32(0, h.length, true);
  view.setUint32(4, 0, true);
  out.set(h, 8);
  for (const [i, v] of vector.entries()) view.setFloat32(8 + h.length + i * 4, v, true);
  return out;
}

/** A hovered point in words: its token, where it is, its label and the model's prediction there. */
export function describePoint(
  p: Points,
  i: number,
  dataset: readonly ProjectionExample[],
): {
  token: string;
  where: string;
  context: string;
  label: string;
  prediction: string;
} {
  const ex = p.example[i] as number;
  const pos = p.position[i] as number;
  const text = dataset[ex]?.text ?? "";
  const lab = p.label[i] as number;
  return {
    token: tokenText(p, p.token[i] as number),
    where: pos < 0 ? `example ${ex}, mean over its tokens` : `example ${ex}, position ${pos}`,
    context: text.length > 160 ? `${text.slice(0, 157)}…` : text,
    label: lab < 0 ? "(none)" : (p.labels[lab] as string),
    prediction: tokenText(p, p.prediction[i] as number),
  };
}
