// A square byte matrix (an attention pattern or the rollout, sqrt8) on a canvas with a window: the wheel zooms
// about the pointer, dragging scrolls, the buttons zoom, and Fit shows it whole. Only the window is drawn (a
// 1,024-token head is a million entries; a 512-pixel canvas holds a quarter of them), and the token labels are
// drawn for the window's positions alone, once their rows are tall enough to read. After each drawing the canvas's
// `data-drawn` counter goes up, so a test or benchmark in the page knows when an interaction has been painted.
import { type PointerEvent, useEffect, useLayoutEffect, useMemo, useRef } from "react";
import {
  cellInWindow,
  colourTable,
  labelledPositions,
  panWindow,
  peakByte,
  renderWindow,
  type Win,
  zoomWindow,
} from "../attn-window.js";

export interface ZoomPatternProps {
  /** n × n bytes, row-major (query = row, key = column) */
  readonly bytes: Uint8Array;
  readonly n: number;
  readonly win: Win;
  readonly setWin: (w: Win) => void;
  /** CSS pixels, square */
  readonly size: number;
  readonly labels: readonly string[];
  /** the query row to outline */
  readonly markRow?: number | null;
  readonly onHover?: (cell: { row: number; col: number } | null) => void;
  readonly label: string;
  readonly testId?: string;
  /** written to the canvas's `data-key` with each drawing: what it shows (a benchmark waits for a head's) */
  readonly drawKey?: string;
}

const ZOOM_STEP = 0.5;

export function ZoomPattern({
  bytes,
  n,
  win,
  setWin,
  size,
  labels,
  markRow = null,
  onHover,
  label,
  testId,
  drawKey = "",
}: ZoomPatternProps) {
  const ref = useRef<HTMLCanvasElement>(null);
  const drag = useRef<{ x: number; y: number; win: Win } | null>(null);
  const table = useMemo(() => colourTable(peakByte(bytes)), [bytes]);
  // the latest window for the wheel listener, which is registered once
  const current = useRef({ win, n, setWin });
  current.current = { win, n, setWin };

  // drawn in the commit (a layout effect), so the pixels and the counter change with the DOM they belong to
  useLayoutEffect(() => {
    const canvas = ref.current;
    const ctx = canvas?.getContext("2d");
    if (canvas === null || ctx === null || ctx === undefined || n === 0) return;
    const px = Math.round(size * (window.devicePixelRatio || 1));
    if (canvas.width !== px) {
      canvas.width = px;
      canvas.height = px;
    }
    const img = ctx.createImageData(px, px);
    img.data.set(renderWindow(bytes, n, win, px, table));
    ctx.putImageData(img, 0, 0);
    if (markRow !== null && markRow >= win.row0 && markRow < win.row0 + win.size) {
      const h = px / win.size;
      ctx.strokeStyle = "#e6550d";
      ctx.lineWidth = Math.max(1, px / size);
      ctx.strokeRect(0.5, (markRow - win.row0) * h + 0.5, px - 1, Math.max(h - 1, 1));
    }
    canvas.dataset.key = drawKey;
    canvas.dataset.drawn = String(Number(canvas.dataset.drawn ?? "0") + 1);
  }, [bytes, n, win, size, table, markRow, drawKey]);

  // a wheel listener that may prevent the page's scroll (React's onWheel is passive)
  useEffect(() => {
    const canvas = ref.current;
    if (canvas === null) return;
    const wheel = (e: WheelEvent) => {
      e.preventDefault();
      const r = canvas.getBoundingClientRect();
      const c = current.current;
      const f = e.deltaY < 0 ? ZOOM_STEP : 1 / ZOOM_STEP;
      c.setWin(zoomWindow(c.win, c.n, f, (e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height));
    };
    canvas.addEventListener("wheel", wheel, { passive: false });
    return () => canvas.removeEventListener("wheel", wheel);
  }, []);

  const move = (e: PointerEvent<HTMLCanvasElement>) => {
    const r = e.currentTarget.getBoundingClientRect();
    const d = drag.current;
    if (d !== null) {
      const per = d.win.size / size;
      setWin(panWindow(d.win, n, Math.round((d.y - e.clientY) * per), Math.round((d.x - e.clientX) * per)));
      return;
    }
    onHover?.(cellInWindow(e.clientX - r.left, e.clientY - r.top, size, win));
  };

  const shown = labelledPositions(win, size);
  const cell = size / win.size;
  return (
    <div className="zoom" data-testid={testId}>
      <div className="zoom-controls">
        <button type="button" data-testid="zoom-in" onClick={() => setWin(zoomWindow(win, n, ZOOM_STEP))}>
          +
        </button>
        <button type="button" data-testid="zoom-out" onClick={() => setWin(zoomWindow(win, n, 1 / ZOOM_STEP))}>
          −
        </button>
        <button type="button" data-testid="zoom-fit" onClick={() => setWin({ row0: 0, col0: 0, size: n })}>
          Fit
        </button>
        <span className="muted" data-testid="zoom-window">
          {win.size === n
            ? `all ${n} positions`
            : `queries ${win.row0}–${win.row0 + win.size - 1}, keys ${win.col0}–${win.col0 + win.size - 1} of ${n}`}
        </span>
      </div>
      <div className="zoom-body" style={{ gridTemplateColumns: `auto ${size}px` }}>
        <span />
        <div className="zoom-keys" style={{ width: size }}>
          {shown.map((p, i) => (
            <span key={p} data-testid="key-label" style={{ left: i * cell, width: cell }}>
              {labels[win.col0 + i] ?? ""}
            </span>
          ))}
        </div>
        <div className="zoom-queries" style={{ height: size }}>
          {shown.map((p, i) => (
            <span key={p} data-testid="query-label" style={{ top: i * cell, height: cell, lineHeight: `${cell}px` }}>
              {labels[p] ?? ""}
            </span>
          ))}
        </div>
        <canvas
          ref={ref}
          className="pattern zoomable"
          aria-label={label}
          data-window={`${win.row0},${win.col0},${win.size}`}
          style={{ width: size, height: size }}
          onPointerDown={(e) => {
            e.currentTarget.setPointerCapture(e.pointerId);
            drag.current = { x: e.clientX, y: e.clientY, win };
          }}
          onPointerUp={() => {
            drag.current = null;
          }}
          onPointerMove={move}
          onMouseLeave={() => onHover?.(null)}
        />
      </div>
    </div>
  );
}
