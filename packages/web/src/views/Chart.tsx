// One line chart of the Training view, drawn by uPlot (1.6.32, pinned): a canvas chart of about 50 kB that draws
// 100,000-point series in a few milliseconds and takes new data without being rebuilt — what a curve polled every
// second needs, where hand-written SVG would rebuild a DOM node per point and leave zoom, cursor and axis ticks to
// write again. uPlot builds its DOM with textContent and sets styles through the CSSOM, so the server's CSP (no
// inline style or script) holds; its own legend is off and drawn here in React, so every label is React text.
// Drag to zoom into a step range, double-click to zoom out; checkpoints are dashed vertical markers.
import { useEffect, useRef, useState } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface ChartLine {
  readonly label: string;
  readonly color: string;
  /** a faded line: the raw values behind a smoothed one (TensorBoard's look) */
  readonly faded?: boolean;
  /** dashed: evaluation beside training */
  readonly dashed?: boolean;
  /** drawn with points only (sparse series: evaluations, activation statistics) */
  readonly points?: boolean;
}

export interface ChartProps {
  readonly title: string;
  /** [x, y₀, y₁, …] aligned on x (see training.ts align) */
  readonly data: [number[], ...(number | null)[][]];
  readonly lines: readonly ChartLine[];
  readonly log?: boolean;
  /** steps marked with a dashed vertical line (checkpoints) */
  readonly markers?: readonly number[];
  readonly testId?: string;
  readonly height?: number;
}

const fmt = (v: number | null | undefined): string =>
  v === null || v === undefined || !Number.isFinite(v)
    ? "–"
    : Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3)
      ? v.toExponential(2)
      : v.toPrecision(4);

/** An axis label: three significant digits, exponent form below 0.01 and from 10,000. */
const tick = (v: number | null): string =>
  v === null || !Number.isFinite(v)
    ? ""
    : v !== 0 && (Math.abs(v) < 1e-2 || Math.abs(v) >= 1e4)
      ? v.toExponential(0)
      : String(Number(v.toPrecision(3)));

export function Chart({ title, data, lines, log = false, markers = [], testId, height = 180 }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const markersRef = useRef<readonly number[]>(markers);
  markersRef.current = markers;
  const dataRef = useRef(data);
  dataRef.current = data;
  const [hover, setHover] = useState<number | null>(null);
  // a new chart when the lines or the scale change; new data alone goes through setData
  const shape = `${log}|${lines.map((l) => `${l.label}:${l.color}:${l.faded}:${l.dashed}:${l.points}`).join("|")}`;

  // biome-ignore lint/correctness/useExhaustiveDependencies: the chart is rebuilt when its shape changes, and reads data and lines then
  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: false },
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: false }, y: log ? { distr: 3 } : {} },
      axes: [
        { stroke: "#57606a", grid: { stroke: "#eaeef2" } },
        // uPlot's own labels print 1e-4 as "0" on a log axis: small and large values in exponent form
        { stroke: "#57606a", grid: { stroke: "#eaeef2" }, size: 60, values: (_u, splits) => splits.map(tick) },
      ],
      series: [
        { label: "step" },
        ...lines.map(
          (l): uPlot.Series => ({
            label: l.label,
            stroke: l.faded ? `${l.color}40` : l.color,
            width: l.faded ? 1 : 1.5,
            spanGaps: true,
            ...(l.dashed && { dash: [6, 4] }),
            ...(l.points && { points: { show: true, size: 5, fill: l.color } }),
          }),
        ),
      ],
      hooks: {
        setCursor: [(u) => setHover(u.cursor.idx ?? null)],
        draw: [
          (u) => {
            const { ctx, bbox } = u;
            ctx.save();
            ctx.strokeStyle = "#9a6700";
            ctx.setLineDash([3, 3]);
            ctx.lineWidth = 1;
            for (const step of markersRef.current) {
              const x = Math.round(u.valToPos(step, "x", true));
              if (x < bbox.left || x > bbox.left + bbox.width) continue;
              ctx.beginPath();
              ctx.moveTo(x, bbox.top);
              ctx.lineTo(x, bbox.top + bbox.height);
              ctx.stroke();
            }
            ctx.restore();
          },
        ],
      },
    };
    const u = new uPlot(opts, dataRef.current as uPlot.AlignedData, el);
    plot.current = u;
    // hidden tabs measure 0 wide: follow the box's width
    const ro = new ResizeObserver(() => {
      const w = el.clientWidth;
      if (w > 0 && Math.abs(w - u.width) > 1) u.setSize({ width: w, height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [shape, height]);

  useEffect(() => {
    // keep a zoomed-in step range while new points arrive; a chart at full range follows them (setData redraws,
    // and the draw hook reads the markers of this render)
    const u = plot.current;
    if (u === null) return;
    const xs = u.data[0];
    const x = u.scales.x;
    const full = xs.length === 0 || x === undefined || ((x.min ?? 0) <= (xs[0] ?? 0) && (x.max ?? 0) >= (xs[xs.length - 1] ?? 0));
    u.setData(data as uPlot.AlignedData, full);
  }, [data]);

  // the points drawn, the faded raw copies apart (for the browser test: a live curve's count grows)
  const points = data.slice(1).reduce((n, ys, i) => n + (lines[i]?.faded ? 0 : ys.filter((v) => v !== null).length), 0);
  const step = hover === null ? undefined : data[0][hover];
  return (
    <figure className="chart" data-testid={testId} data-points={points}>
      <figcaption>
        <strong>{title}</strong>
        {step !== undefined && <span className="muted"> · step {step}</span>}
      </figcaption>
      <div ref={box} className="chart-canvas" />
      <ul className="chart-legend">
        {lines.map((l, i) =>
          l.faded ? null : (
            <li key={l.label}>
              <span className={l.dashed ? "swatch dashed" : "swatch"} style={{ borderColor: l.color }} />
              {l.label}
              {hover !== null && <span className="muted"> {fmt(data[i + 1]?.[hover])}</span>}
            </li>
          ),
        )}
      </ul>
    </figure>
  );
}
