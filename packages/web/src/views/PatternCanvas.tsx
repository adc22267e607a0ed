// A thumbnail of one attention pattern (sqrt8 bytes, rows × cols, already pooled by the server): one pixel per
// entry in an offscreen canvas, scaled to the drawing's size (nearest-neighbour), coloured to its own peak.
import { useEffect, useMemo, useRef } from "react";
import { type Bytes, colourTable, peakByte } from "../attn-window.js";

export interface PatternCanvasProps {
  readonly bytes: Bytes;
  /** CSS pixels, square */
  readonly size: number;
  readonly label?: string;
}

export function PatternCanvas({ bytes, size, label }: PatternCanvasProps) {
  const ref = useRef<HTMLCanvasElement>(null);
  const table = useMemo(() => colourTable(peakByte(bytes.bytes)), [bytes]);

  useEffect(() => {
    const canvas = ref.current;
    const ctx = canvas?.getContext("2d");
    const { rows, cols } = bytes;
    if (canvas === null || ctx === null || ctx === undefined || rows === 0) return;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(size * ratio);
    canvas.height = Math.round(size * ratio);
    const off = document.createElement("canvas");
    off.width = cols;
    off.height = rows;
    const offCtx = off.getContext("2d");
    if (offCtx === null) return;
    const img = offCtx.createImageData(cols, rows);
    const px = new Uint32Array(img.data.buffer);
    for (let i = 0; i < rows * cols; i++) px[i] = table[bytes.bytes[i] as number] as number;
    offCtx.putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
  }, [bytes, size, table]);

  return (
    <canvas ref={ref} className="pattern" data-testid="pattern-canvas" aria-label={label} style={{ width: size, height: size }} />
  );
}
