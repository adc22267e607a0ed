// The attention view's head table: one row per reported head from an AttentionResult, with the entropy, the first
// token's share and (when scored) the previous-token, induction, duplicate-token and copying scores; sortable by
// any column, missing values last.
import type { AttentionResult } from "@llmdbg/protocol";

export interface HeadRow {
  readonly layer: number;
  readonly head: number;
  /** indices into the result's [layer][head] arrays */
  readonly li: number;
  readonly hi: number;
  readonly entropy: number | null;
  readonly firstToken: number | null;
  readonly previousToken: number | null;
  readonly induction: number | null;
  readonly duplicateToken: number | null;
  readonly copying: number | null;
}

export type HeadColumn = Exclude<keyof HeadRow, "li" | "hi">;

export const HEAD_COLUMNS: readonly { readonly key: HeadColumn; readonly label: string; readonly title: string }[] = [
  { key: "layer", label: "layer", title: "layer" },
  { key: "head", label: "head", title: "head" },
  { key: "entropy", label: "entropy", title: "mean entropy of a query's attention, nats" },
  { key: "firstToken", label: "first token", title: "the first position's share of the attention" },
  { key: "previousToken", label: "prev token", title: "mean attention to the previous token (repeated random tokens)" },
  { key: "induction", label: "induction", title: "mean attention to the token after the earlier copy (repeated random tokens)" },
  { key: "duplicateToken", label: "duplicate", title: "mean attention to the earlier copy of the same token" },
  { key: "copying", label: "copying", title: "Σλ/Σ|λ| of the OV circuit W_E W_V W_O W_U" },
];

const at = (m: readonly (readonly number[])[] | null | undefined, li: number, hi: number): number | null => m?.[li]?.[hi] ?? null;

/** The rows, layer by layer, head by head. */
export function headRows(r: Pick<AttentionResult, "layers" | "heads" | "entropy" | "firstToken" | "scores">): HeadRow[] {
  const rows: HeadRow[] = [];
  r.layers.forEach((layer, li) => {
    r.heads.forEach((head, hi) => {
      rows.push({
        layer,
        head,
        li,
        hi,
        entropy: at(r.entropy, li, hi),
        firstToken: at(r.firstToken, li, hi),
        previousToken: at(r.scores?.previousToken, li, hi),
        induction: at(r.scores?.induction, li, hi),
        duplicateToken: at(r.scores?.duplicateToken, li, hi),
        copying: at(r.scores?.copying, li, hi),
      });
    });
  });
  return rows;
}

/** The rows sorted by one column (ties by layer, then head); nulls go last either way. */
export function sortRows(rows: readonly HeadRow[], key: HeadColumn, descending: boolean): HeadRow[] {
  return [...rows].sort((a, b) => {
    const x = a[key];
    const y = b[key];
    if (x !== y) {
      if (x === null) return 1;
      if (y === null) return -1;
      return descending ? y - x : x - y;
    }
    return a.layer - b.layer || a.head - b.head;
  });
}
