// The projector's plot: a canvas whose pixels are written by scatter.ts's rasterizer and put back in one
// putImageData per frame. Drag pans, the wheel zooms about the pointer, the lasso (its tool, or shift-drag) draws a
// polygon whose points the parent selects; hovering shows the nearest point (grid index) in a tooltip. The view lives
// in a ref and frames are drawn on requestAnimationFrame when something changed, so panning re-renders no React.
import { forwardRef, type ReactNode, useEffect, useImperativeHandle, useMemo, useRef, useState } from "react";
import { fitView, GridIndex, panBy, rasterize, rgba, toData, toScreen, type View, zoomAt } from "../scatter.js";

const BACKGROUND = rgba(255, 255, 255);
const HIGHLIGHT = rgba(20, 20, 20);
/** the hover radius in screen pixels */
const HOVER_PX = 8;

export interface PlotStats {
  readonly frames: number;
  readonly seconds: number;
  readonly fps: number;
  /** mean milliseconds of one frame's rasterize + putImageData */
  readonly drawMs: number;
  readonly points: number;
}

export interface ScatterHandle {
  /** pans and zooms continuously for `ms` on requestAnimationFrame and reports the frame rate */
  animate(ms: number): Promise<PlotStats>;
}

export interface ScatterProps {
  readonly xy: Float32Array;
  readonly colors: Uint32Array;
  readonly selected: Uint8Array | null;
  readonly tool: "pan" | "lasso";
  readonly width: number;
  readonly height: number;
  /** the lasso's polygon in data coordinates [x0, y0, x1, y1, …] */
  readonly onLasso: (poly: number[]) => void;
  readonly describe: (i: number) => ReactNode;
  readonly testId?: string;
}

export const ScatterPlot = forwardRef<ScatterHandle, ScatterProps>(function ScatterPlot(props, ref) {
  const { xy, colors, selected, tool, width: w, height: h } = props;
  const canvas = useRef<HTMLCanvasElement | null>(null);
  const view = useRef<View>(fitView(xy, w, h));
  const lasso = useRef<number[] | null>(null);
  const frame = useRef(0);
  const image = useRef<ImageData | null>(null);
  const [hover, setHover] = useState<{ i: number; sx: number; sy: number } | null>(null);
  const index = useMemo(() => new GridIndex(xy), [xy]);
  const latest = useRef(props);
  latest.current = props;

  // everything a frame needs is read from refs, so one function serves interaction and the benchmark
  const draw = useRef<() => number>(() => 0);
  draw.current = () => {
    const c = canvas.current;
    const ctx = c?.getContext("2d");
    if (c === null || c === undefined || ctx === null || ctx === undefined) return 0;
    if (image.current === null || image.current.width !== w || image.current.height !== h)
      image.current = ctx.createImageData(w, h);
    const img = image.current;
    const p = latest.current;
    const pixels = new Uint32Array(img.data.buffer);
    rasterize(pixels, w, h, p.xy, p.colors, view.current, {
      size: 3,
      background: BACKGROUND,
      selected: p.selected,
      highlight: HIGHLIGHT,
    });
    ctx.putImageData(img, 0, 0);
    const poly = lasso.current;
    if (poly !== null && poly.length >= 4) {
      ctx.beginPath();
      for (let k = 0; k < poly.length; k += 2) {
        const [sx, sy] = toScreen(view.current, w, h, poly[k] as number, poly[k + 1] as number);
        if (k === 0) ctx.moveTo(sx, sy);
        else ctx.lineTo(sx, sy);
      }
      ctx.closePath();
      ctx.strokeStyle = "#d62728";
      ctx.lineWidth = 1.5;
      ctx.stroke();
    }
    return 1;
  };
  const request = () => {
    if (frame.current !== 0) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      draw.current();
    });
  };

  // a new projection: fit it; new colours or selection: redraw
  useEffect(() => {
    view.current = fitView(xy, w, h);
    setHover(null);
  }, [xy, w, h]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: any of these changes the picture
  useEffect(() => request(), [xy, colors, selected, w, h]);
  useEffect(() => () => cancelAnimationFrame(frame.current), []);

  // the wheel needs a non-passive listener to keep the page from scrolling
  useEffect(() => {
    const c = canvas.current;
    if (c === null) return;
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      const r = c.getBoundingClientRect();
      view.current = zoomAt(view.current, w, h, e.clientX - r.left, e.clientY - r.top, Math.exp(-e.deltaY * 0.0015));
      request();
    };
    c.addEventListener("wheel", onWheel, { passive: false });
    return () => c.removeEventListener("wheel", onWheel);
  });

  useImperativeHandle(ref, () => ({
    animate: (ms: number) =>
      new Promise<PlotStats>((resolve) => {
        const start = view.current;
        let frames = 0;
        let drawTotal = 0;
        let t0 = -1;
        const tick = (now: number) => {
          if (t0 < 0) t0 = now;
          const t = (now - t0) / 1000;
          // a slow circle of pan and a breathing zoom: every frame a different view
          const s = start.scale * 2 ** Math.sin(t * 2);
          view.current = {
            cx: start.cx + (Math.cos(t) * w) / 8 / start.scale,
            cy: start.cy + (Math.sin(t) * h) / 8 / start.scale,
            scale: s,
          };
          const d0 = performance.now();
          draw.current();
          drawTotal += performance.now() - d0;
          frames++;
          if (now - t0 < ms) requestAnimationFrame(tick);
          else {
            view.current = start;
            draw.current();
            const seconds = (now - t0) / 1000;
            resolve({
              frames,
              seconds,
              fps: (frames - 1) / seconds,
              drawMs: drawTotal / frames,
              points: latest.current.xy.length / 2,
            });
          }
        };
        requestAnimationFrame(tick);
      }),
  }));

  const drag = useRef<{ x: number; y: number; lasso: boolean } | null>(null);
  const local = (e: React.PointerEvent) => {
    const r = (e.currentTarget as HTMLCanvasElement).getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top] as const;
  };

  return (
    <div className="scatter" style={{ width: w, height: h }}>
      <canvas
        ref={canvas}
        width={w}
        height={h}
        data-testid={props.testId}
        className={tool === "lasso" ? "lasso" : "pan"}
        onPointerDown={(e) => {
          const [sx, sy] = local(e);
          const isLasso = tool === "lasso" || e.shiftKey;
          drag.current = { x: sx, y: sy, lasso: isLasso };
          (e.currentTarget as HTMLCanvasElement).setPointerCapture(e.pointerId);
          if (isLasso) lasso.current = [...toData(view.current, w, h, sx, sy)];
          setHover(null);
        }}
        onPointerMove={(e) => {
          const [sx, sy] = local(e);
          const d = drag.current;
          if (d === null) {
            const [x, y] = toData(view.current, w, h, sx, sy);
            const i = index.nearest(x, y, HOVER_PX / view.current.scale);
            setHover(i < 0 ? null : { i, sx, sy });
            return;
          }
          if (d.lasso) {
            const poly = lasso.current as number[];
            const [lx, ly] = toScreen(view.current, w, h, poly[poly.length - 2] as number, poly[poly.length - 1] as number);
            if (Math.hypot(sx - lx, sy - ly) >= 2) poly.push(...toData(view.current, w, h, sx, sy));
          } else {
            view.current = panBy(view.current, sx - d.x, sy - d.y);
            d.x = sx;
            d.y = sy;
          }
          request();
        }}
        onPointerUp={() => {
          const d = drag.current;
          drag.current = null;
          if (d?.lasso) {
            const poly = lasso.current ?? [];
            lasso.current = null;
            if (poly.length >= 6) latest.current.onLasso(poly);
            request();
          }
        }}
        onPointerLeave={() => setHover(null)}
      />
      {hover !== null && (
        <div
          className="scatter-tip"
          data-testid="projector-tip"
          style={{ left: Math.min(hover.sx + 12, w - 220), top: Math.min(hover.sy + 12, h - 90) }}
        >
          {props.describe(hover.i)}
        </div>
      )}
    </div>
  );
});
