// The direct-logit-attribution panel's tables: the head contributions as a layer × head grid with each layer's
// attention bias and MLP beside it, and the components ranked by |value|. Pure, so Node tests check them.
import type { DlaComponent, DlaResult } from "@llmdbg/protocol";

export interface DlaGrid {
  /** [layer][head]: the head's contribution; null where the result has none */
  readonly heads: (number | null)[][];
  readonly attnBias: (number | null)[];
  readonly mlp: (number | null)[];
  /** what is not per layer: embed, pos_embed, bias */
  readonly rest: readonly DlaComponent[];
  /** the largest |value| in the grid, for the colour scale */
  readonly max: number;
}

export function dlaGrid(r: DlaResult, nLayers: number, nHeads: number): DlaGrid {
  const heads = Array.from({ length: nLayers }, () => Array<number | null>(nHeads).fill(null));
  const attnBias = Array<number | null>(nLayers).fill(null);
  const mlp = Array<number | null>(nLayers).fill(null);
  const rest: DlaComponent[] = [];
  let max = 0;
  for (const c of r.components) {
    const row = c.layer === null ? undefined : heads[c.layer];
    if (c.kind === "head" && row !== undefined && c.head !== null && c.head < nHeads) row[c.head] = c.value;
    else if (c.kind === "attn_bias" && c.layer !== null && c.layer < nLayers) attnBias[c.layer] = c.value;
    else if (c.kind === "mlp" && c.layer !== null && c.layer < nLayers) mlp[c.layer] = c.value;
    else {
      rest.push(c);
      continue;
    }
    max = Math.max(max, Math.abs(c.value));
  }
  return { heads, attnBias, mlp, rest, max };
}

/** The k components of largest |value|, largest first. */
export function topComponents(r: DlaResult, k: number): DlaComponent[] {
  return [...r.components].sort((a, b) => Math.abs(b.value) - Math.abs(a.value)).slice(0, k);
}
