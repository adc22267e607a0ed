// Two more ways to read attention: the enlarged head's token-to-token line view (queries on the left, keys on the
// right, a line per pair as strong as its weight, one query's lines picked out), and how attention composes
// across layers — the rollout matrix and the attention flow into the last position, per input token.
import type { AttentionResult } from "@llmdbg/protocol";
import { visible } from "../format.js";
import { heatCss } from "../heat.js";
import { PatternCanvas } from "./PatternCanvas.js";

/** Longer prompts make the line view unreadable; the matrix stays usable at any length. */
export const LINE_VIEW_MAX = 96;
const ROW = 18;
const TEXT_W = 120;
const GAP = 120;

export function LineView({
  pattern,
  labels,
  focus,
}: {
  pattern: readonly (readonly number[])[];
  labels: readonly string[];
  /** the query whose lines are drawn strongly; the others faintly */
  focus: number | null;
}) {
  const n = pattern.length;
  if (n > LINE_VIEW_MAX) return <p className="muted">The line view draws prompts of up to {LINE_VIEW_MAX} tokens.</p>;
  const width = 2 * TEXT_W + GAP;
  const y = (i: number) => i * ROW + ROW / 2;
  const lines: { q: number; k: number; w: number }[] = [];
  pattern.forEach((row, q) => {
    row.forEach((w, k) => {
      if (w > 0.01) lines.push({ q, k, w });
    });
  });
  return (
    <svg
      className="lineview"
      data-testid="attention-lines"
      width={width}
      height={n * ROW}
      role="img"
      aria-label="attention lines"
    >
      {lines.map(({ q, k, w }) => (
        <line
          key={`${q}-${k}`}
          x1={TEXT_W}
          y1={y(q)}
          x2={TEXT_W + GAP}
          y2={y(k)}
          stroke={focus === null || focus === q ? "#08519c" : "#9ecae1"}
          strokeOpacity={focus === null || focus === q ? Math.min(1, 0.1 + w) : 0.25 * w}
          strokeWidth={focus === q ? 1 + 3 * w : 1 + 1.5 * w}
        />
      ))}
      {labels.map((t, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: a position is the label's identity
        <g key={i}>
          <text x={TEXT_W - 6} y={y(i)} textAnchor="end" dominantBaseline="middle" className={focus === i ? "focus" : ""}>
            {t}
          </text>
          <text x={TEXT_W + GAP + 6} y={y(i)} dominantBaseline="middle">
            {t}
          </text>
        </g>
      ))}
    </svg>
  );
}

export function RolloutPanel({ r }: { r: AttentionResult }) {
  const labels = r.tokens.map((t, pos) => ({ pos, text: visible(t.text, t.id) }));
  const maxFlow = Math.max(1e-12, ...r.flow);
  return (
    <div className="rollout" data-testid="attention-rollout">
      <h3>Across layers</h3>
      <div className="attn-layout">
        <div>
          <p className="muted">rollout: how much of each position's output comes from each input position</p>
          {r.rollout.length > 0 && <PatternCanvas pattern={r.rollout} size={240} max={1} label="attention rollout" />}
        </div>
        <div>
          <p className="muted">attention flow from each input token into the last position</p>
          <p className="flow">
            {labels.map(({ pos, text }) => (
              <span
                key={pos}
                className="flow-tok"
                data-testid="flow-token"
                style={heatCss((r.flow[pos] ?? 0) / maxFlow)}
                title={`${r.flow[pos] ?? 0}`}
              >
                {text}
              </span>
            ))}
          </p>
        </div>
      </div>
    </div>
  );
}
