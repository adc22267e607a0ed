// One attention pattern [query][key] drawn on a canvas: one pixel per entry in an offscreen canvas, scaled to the
// drawing's size (nearest-neighbour when enlarging, smoothed when shrinking a long prompt). An optional query row
// is outlined; hovering reports the cell under the pointer.
import { useEffect, useRef } from "react";
import { cellAt, patternRgba } from "../heat.js";

export interface PatternCanvasProps {
  readonly pattern: readonly (readonly number[])[];
  /** CSS pixels, square */
  readonly size: number;
  /** the query row to outline */
  readonly markRow?: number | null;
  /** scale the colours to this value (default: the pattern's maximum) */
  readonly max?: number;
  readonly onHover?: (cell: { row: number; col: number } | null) => void;
  readonly label?: string;
}

export function PatternCanvas({ pattern, size, markRow = null, max, onHover, label }: PatternCanvasProps) {
  const ref = useRef<HTMLCanvasElement>(null);
  const n = pattern.length;

  useEffect(() => {
    const canvas = ref.current;
    const ctx = canvas?.getContext("2d");
    if (canvas === null || ctx === null || ctx === undefined || n === 0) return;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(size * ratio);
    canvas.height = Math.round(size * ratio);
    const peak = max ?? pattern.reduce((m, row) => row.reduce((a, v) => (v > a ? v : a), m), 0);
    const off = document.createElement("canvas");
    off.width = n;
    off.height = n;
    const offCtx = off.getContext("2d");
    if (offCtx === null) return;
    const img = offCtx.createImageData(n, n);
    img.data.set(patternRgba(pattern, peak));
    offCtx.putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = n > canvas.width;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
    if (markRow !== null && markRow >= 0 && markRow < n) {
      const h = canvas.height / n;
      ctx.strokeStyle = "#e6550d";
      ctx.lineWidth = Math.max(1, ratio * 1.5);
      ctx.strokeRect(0.5, markRow * h + 0.5, canvas.width - 1, Math.max(h - 1, 1));
    }
  }, [pattern, size, markRow, max, n]);

  return (
    <canvas
      ref={ref}
      className="pattern"
      data-testid="pattern-canvas"
      aria-label={label}
      style={{ width: size, height: size }}
      onMouseMove={
        onHover === undefined
          ? undefined
          : (e) => {
              const r = e.currentTarget.getBoundingClientRect();
              onHover(cellAt(e.clientX - r.left, e.clientY - r.top, size, n));
            }
      }
      onMouseLeave={onHover === undefined ? undefined : () => onHover(null)}
    />
  );
}
