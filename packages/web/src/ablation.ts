// The ablation view's grid: each component's effect (the metric with it ablated, minus the clean run's) as a
// layer × column table — columns are the heads, or the attention and MLP outputs when whole layers were ablated.
import type { AblationResult } from "@llmdbg/protocol";

export interface AblationGrid {
  readonly columns: readonly string[];
  /** [layer][column]: the effect, null where the result has none */
  readonly effects: (number | null)[][];
  /** the largest |effect|, for the colour scale */
  readonly max: number;
}

export function ablationGrid(r: AblationResult, nLayers: number, nHeads: number): AblationGrid {
  const columns = r.components === "layers" ? ["attn", "mlp"] : Array.from({ length: nHeads }, (_, h) => `H${h}`);
  const effects = Array.from({ length: nLayers }, () => Array<number | null>(columns.length).fill(null));
  let max = 0;
  for (const e of r.effects) {
    const col = e.kind === "head" ? e.index : e.kind === "attn" ? 0 : e.kind === "mlp" ? 1 : null;
    const row = effects[e.layer];
    if (row === undefined || col === null || col >= columns.length) continue;
    row[col] = e.effect;
    max = Math.max(max, Math.abs(e.effect));
  }
  return { columns, effects, max };
}
