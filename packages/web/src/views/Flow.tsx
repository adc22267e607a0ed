// Two more ways to read attention: the enlarged head's token-to-token line view (queries on the left, keys on the
// right, a line per pair as strong as its weight) over the enlarged head's window — every pair of a window up to
// LINE_WINDOW positions wide, the focused query's strongest keys in a wider one, so a 1,024-token prompt still
// reads as lines — and how attention composes across layers: the rollout matrix (zoomable, as the head) and the
// attention flow into the last position, per input token (left out by the server beyond its position limit).
import type { AttentionOverviewResult } from "@llmdbg/protocol";
import { useMemo, useState } from "react";
import { decodeSqrt8, fullWindow, lineView, type Win } from "../attn-window.js";
import { heatCss } from "../heat.js";
import { ZoomPattern } from "./ZoomPattern.js";

const ROW = 18;
const TEXT_W = 130;
const GAP = 120;

export function LineView({
  bytes,
  n,
  win,
  labels,
  focus,
}: {
  bytes: Uint8Array;
  n: number;
  win: Win;
  labels: readonly string[];
  /** the query whose lines are drawn strongly (and alone, in a wide window) */
  focus: number;
}) {
  const { queries, keys, lines } = useMemo(() => lineView(bytes, n, win, focus), [bytes, n, win, focus]);
  const rows = Math.max(queries.length, keys.length);
  const width = 2 * TEXT_W + GAP;
  const yq = (q: number) => queries.indexOf(q) * ROW + ROW / 2;
  const yk = (k: number) => keys.indexOf(k) * ROW + ROW / 2;
  const label = (i: number) => `${i} ${labels[i] ?? ""}`;
  return (
    <div>
      <p className="muted">
        {queries.length > 1
          ? `lines: queries ${queries[0]}–${queries[queries.length - 1]} → keys ${keys[0]}–${keys[keys.length - 1]}, each pair above 1%`
          : `lines: query ${queries[0]} → its ${keys.length} strongest keys above 1% (zoom to ${"≤"} 48 positions for every pair)`}
      </p>
      <svg
        className="lineview"
        data-testid="attention-lines"
        width={width}
        height={rows * ROW}
        role="img"
        aria-label="attention lines"
      >
        {lines.map(({ q, k, w }) => (
          <line
            key={`${q}-${k}`}
            x1={TEXT_W}
            y1={yq(q)}
            x2={TEXT_W + GAP}
            y2={yk(k)}
            stroke={focus === q ? "#08519c" : "#9ecae1"}
            strokeOpacity={focus === q ? Math.min(1, 0.1 + w) : Math.min(1, 0.1 + 0.6 * w)}
            strokeWidth={focus === q ? 1 + 3 * w : 1 + 1.5 * w}
          />
        ))}
        {queries.map((q) => (
          <text
            key={`q${q}`}
            x={TEXT_W - 6}
            y={yq(q)}
            textAnchor="end"
            dominantBaseline="middle"
            className={focus === q ? "focus" : ""}
          >
            {label(q)}
          </text>
        ))}
        {keys.map((k) => (
          <text key={`k${k}`} x={TEXT_W + GAP + 6} y={yk(k)} dominantBaseline="middle">
            {label(k)}
          </text>
        ))}
      </svg>
    </div>
  );
}

export function RolloutPanel({ r, labels }: { r: AttentionOverviewResult; labels: readonly string[] }) {
  const roll = useMemo(() => decodeSqrt8(r.rollout), [r]);
  const n = roll.rows;
  const [win, setWin] = useState<Win>(fullWindow(n));
  const shown = win.size === 0 || win.row0 + win.size > n ? fullWindow(n) : win;
  const flow = r.flow;
  const maxFlow = flow === null ? 1 : Math.max(1e-12, ...flow);
  return (
    <div className="rollout" data-testid="attention-rollout">
      <h3>Across layers</h3>
      <div className="attn-layout">
        <div>
          <p className="muted">rollout: how much of each position's output comes from each input position</p>
          {n > 0 && (
            <ZoomPattern
              bytes={roll.bytes}
              n={n}
              win={shown}
              setWin={setWin}
              size={280}
              labels={labels}
              label="attention rollout"
              testId="rollout-zoom"
            />
          )}
        </div>
        <div>
          <p className="muted">attention flow from each input token into the last position</p>
          {flow === null ? (
            <p className="muted" data-testid="flow-skipped">
              Flow is computed up to {r.flowMaxPositions} tokens (one maximum-flow problem per position); this prompt has{" "}
              {labels.length}.
            </p>
          ) : (
            <p className="flow">
              {labels.map((text, pos) => (
                <span
                  // biome-ignore lint/suspicious/noArrayIndexKey: a position is the token's identity
                  key={pos}
                  className="flow-tok"
                  data-testid="flow-token"
                  style={heatCss((flow[pos] ?? 0) / maxFlow)}
                  title={`${flow[pos] ?? 0}`}
                >
                  {text}
                </span>
              ))}
            </p>
          )}
        </div>
      </div>
    </div>
  );
}
