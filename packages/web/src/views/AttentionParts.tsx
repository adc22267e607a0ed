// The attention view's two long lists, memoized so that a fetched head or a hover redraws neither: the layer × head
// grid of thumbnails (one canvas each; 144 at 12 × 12) and the sortable head table.
import type { AttentionOverviewResult } from "@llmdbg/protocol";
import { memo } from "react";
import type { Bytes } from "../attn-window.js";
import { num } from "../format.js";
import { HEAD_COLUMNS, type HeadColumn, type HeadRow } from "../scores.js";
import { PatternCanvas } from "./PatternCanvas.js";

export type Select = (li: number, hi: number) => void;

/** The layer × head grid of thumbnails (memoized: a fetched head must not redraw 144 of them). */
export const ThumbGrid = memo(function ThumbGrid({
  r,
  thumbs,
  sel,
  select,
}: {
  r: AttentionOverviewResult;
  thumbs: readonly (readonly Bytes[])[];
  sel: { li: number; hi: number };
  select: Select;
}) {
  const size = thumbSize(r.heads.length);
  return (
    <div
      className="thumbs"
      data-testid="attention-grid"
      style={{ gridTemplateColumns: `auto repeat(${r.heads.length}, ${size + 6}px)` }}
    >
      <span />
      {r.heads.map((h) => (
        <span key={h} className="axis">
          H{h}
        </span>
      ))}
      {thumbs.map((row, li) => (
        <div key={r.layers[li]} className="thumb-row">
          <span className="axis">L{r.layers[li]}</span>
          {row.map((t, hi) => {
            const key = `L${r.layers[li]}H${r.heads[hi]}`;
            return (
              <button
                type="button"
                key={key}
                data-testid="thumb"
                data-head={key}
                className={sel.li === li && sel.hi === hi ? "thumb selected" : "thumb"}
                title={`${key}: entropy ${num(r.entropy[li]?.[hi], 2)} nats`}
                onClick={() => select(li, hi)}
              >
                <PatternCanvas bytes={t} size={size} label={key} />
              </button>
            );
          })}
        </div>
      ))}
    </div>
  );
});

/** The head table, sortable by any column; a row selects its head. */
export const HeadTable = memo(function HeadTable({
  rows,
  sel,
  sort,
  setSort,
  select,
}: {
  rows: readonly HeadRow[];
  sel: { li: number; hi: number };
  sort: { key: HeadColumn; desc: boolean };
  setSort: (f: (s: { key: HeadColumn; desc: boolean }) => { key: HeadColumn; desc: boolean }) => void;
  select: Select;
}) {
  return (
    <table className="scores" data-testid="head-scores">
      <thead>
        <tr>
          {HEAD_COLUMNS.map((c) => (
            <th key={c.key} title={c.title}>
              <button
                type="button"
                className="sort"
                onClick={() =>
                  setSort((s) => ({ key: c.key, desc: s.key === c.key ? !s.desc : c.key !== "layer" && c.key !== "head" }))
                }
              >
                {c.label}
                {sort.key === c.key ? (sort.desc ? " ▼" : " ▲") : ""}
              </button>
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr
            key={`${row.layer}.${row.head}`}
            className={row.li === sel.li && row.hi === sel.hi ? "selected" : ""}
            onClick={() => select(row.li, row.hi)}
          >
            {HEAD_COLUMNS.map((c) => (
              <td key={c.key}>{c.key === "layer" || c.key === "head" ? row[c.key] : num(row[c.key])}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
});

/** Thumbnails shrink as heads multiply, so a 12-head row fits beside the enlarged head. */
const thumbSize = (heads: number) => (heads <= 4 ? 72 : heads <= 8 ? 56 : 40);
