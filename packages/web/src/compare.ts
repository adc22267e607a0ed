// Two stored runs of the same kind side by side. A `run` compares position by position (runs.ts); every other
// kind is read as named values — the lens's target probability per layer and position, DLA's components, an
// ablation's effects, a patching grid's cells, an attribution's token scores, a steering run's predictions with
// the vector, a generation's text — and the two are set against each other on the names they share: each value,
// the difference B − A, the largest differences first, and how well the two agree (Pearson's r and Spearman's ρ
// over the shared names). Names are what a user would match by eye ("L3H5", "L2 @ 4 ' cat'"), so two runs of
// different prompts still compare where their components are the same.
import type {
  AblationResult,
  DlaResult,
  GenerateResult,
  GradientAttributionResult,
  LensResult,
  PatchResult,
  PerturbationAttributionResult,
  SteerResult,
  TokenRef,
} from "@llmdbg/protocol";
import { spearman } from "./attribution.js";
import { visible } from "./format.js";

/** A result read as named values (what the comparison matches), or as text (a generation). */
export type Series =
  | { readonly kind: "values"; readonly what: string; readonly values: ReadonlyMap<string, number> }
  | { readonly kind: "text"; readonly what: string; readonly text: string };

const tok = (t: TokenRef | undefined) => (t === undefined ? "?" : visible(t.text, t.id));

function grid(rows: readonly string[], cols: readonly string[], cells: readonly (readonly (number | null)[])[]) {
  const out = new Map<string, number>();
  cells.forEach((row, r) => {
    row.forEach((v, c) => {
      if (v !== null && Number.isFinite(v)) out.set(`${rows[r] ?? r} @ ${cols[c] ?? c}`, v);
    });
  });
  return out;
}

/** How each kind reads as a series; undefined for a result that has nothing to compare (or is malformed). */
export function seriesOf(kind: string, result: unknown): Series | undefined {
  if (typeof result !== "object" || result === null) return undefined;
  try {
    switch (kind) {
      case "lens": {
        const r = result as LensResult;
        const values = new Map<string, number>();
        r.cells.forEach((row, li) => {
          row.forEach((cell, pi) => {
            const p = r.positions[pi] ?? pi;
            if (cell.target !== null) values.set(`${r.layers[li] ?? li} @ ${p} ${tok(r.tokens[p])}`, cell.target.prob);
          });
        });
        return { kind: "values", what: "probability of the target", values };
      }
      case "dla": {
        const r = result as DlaResult;
        return { kind: "values", what: "logit contribution", values: new Map(r.components.map((c) => [c.name, c.value])) };
      }
      case "ablate": {
        const r = result as AblationResult;
        return { kind: "values", what: `effect on ${r.metric}`, values: new Map(r.effects.map((e) => [e.name, e.effect])) };
      }
      case "patch": {
        const r = result as PatchResult;
        const cells = r.values ?? r.attribution?.values;
        if (cells == null) return undefined;
        return { kind: "values", what: `recovered ${r.metric}`, values: grid(r.rows, r.cols, cells) };
      }
      case "attribution":
      case "perturbation": {
        const r = result as GradientAttributionResult | PerturbationAttributionResult;
        const values = new Map(r.scores.map((s, p) => [`${p} ${tok(r.tokens[p])}`, s]));
        return { kind: "values", what: `${r.method} score`, values };
      }
      case "steer": {
        const r = result as SteerResult;
        return { kind: "values", what: "probability with the vector", values: new Map(r.after.map((p) => [tok(p), p.prob])) };
      }
      case "generate": {
        const r = result as GenerateResult;
        return { kind: "text", what: "generated text", text: r.text ?? `(${r.newTokens.length} tokens, no tokenizer)` };
      }
      default:
        return undefined;
    }
  } catch {
    // a stored result of an older or foreign shape: nothing to compare rather than a broken view
    return undefined;
  }
}

export interface ValueRow {
  readonly name: string;
  readonly a: number | null;
  readonly b: number | null;
  /** b − a where both have the name */
  readonly diff: number | null;
}

export interface ValueComparison {
  readonly what: string;
  /** the names both have, the largest |b − a| first; then the names only one has */
  readonly rows: readonly ValueRow[];
  readonly shared: number;
  readonly pearson: number | null;
  readonly spearman: number | null;
}

function pearson(xs: readonly number[], ys: readonly number[]): number | null {
  const n = xs.length;
  if (n < 2) return null;
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] as number) - mx;
    const dy = (ys[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxx === 0 || syy === 0 ? null : sxy / Math.sqrt(sxx * syy);
}

/** Two value series set against each other on the names they share. */
export function compareValues(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>, what: string): ValueComparison {
  const both: ValueRow[] = [];
  const only: ValueRow[] = [];
  for (const [name, va] of a) {
    const vb = b.get(name);
    if (vb === undefined) only.push({ name, a: va, b: null, diff: null });
    else both.push({ name, a: va, b: vb, diff: vb - va });
  }
  for (const [name, vb] of b) if (!a.has(name)) only.push({ name, a: null, b: vb, diff: null });
  both.sort((x, y) => Math.abs(y.diff as number) - Math.abs(x.diff as number) || x.name.localeCompare(y.name));
  const xs = both.map((r) => r.a as number);
  const ys = both.map((r) => r.b as number);
  return {
    what,
    rows: [...both, ...only],
    shared: both.length,
    pearson: pearson(xs, ys),
    spearman: both.length < 2 ? null : spearman(xs, ys),
  };
}

const COMPARABLE: ReadonlySet<string> = new Set([
  "run",
  "generate",
  "lens",
  "dla",
  "ablate",
  "patch",
  "attribution",
  "perturbation",
  "steer",
]);

/** Whether two runs of these kinds compare: the same kind, one with a reading here (or `run`, runs.ts). */
export const comparable = (kindA: string, kindB: string): boolean => kindA === kindB && COMPARABLE.has(kindA);
