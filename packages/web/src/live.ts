// The live view's logic: the toggled heads and neurons as the protocol's interventions (one zero-ablation per
// layer, its heads or neurons listed), a neuron list typed as text, and the ablated run set against the clean
// one — each position's top-k with every token's probability clean → ablated.
import type { Intervention, RunResult } from "@llmdbg/protocol";

/** A toggled head, as a set key: "layer.head". */
export const headKey = (layer: number, head: number) => `${layer}.${head}`;

/** The MLP neurons to ablate: a layer and indices of its hidden units (negative counts from the end). */
export interface NeuronPick {
  readonly layer: number;
  readonly indices: readonly number[];
}

/**
 * "3, 17 -1" → [3, 17, -1]: integers separated by commas or spaces, duplicates dropped; an error for anything else.
 * @example parseNeurons("3, 17") // { indices: [3, 17] }
 */
export function parseNeurons(text: string): { readonly indices: number[] } | { readonly error: string } {
  const parts = text.split(/[\s,]+/).filter((p) => p !== "");
  const indices: number[] = [];
  for (const p of parts) {
    if (!/^-?\d+$/.test(p)) return { error: `“${p}” is not a neuron index (integers, commas or spaces between)` };
    const n = Number(p);
    if (!indices.includes(n)) indices.push(n);
  }
  return { indices };
}

/**
 * The interventions a run takes for the toggled heads (zeroing `attn.hook_z`, one intervention per layer with its
 * heads in order) and neurons (zeroing `mlp.hook_post` at those indices). Keys that do not parse are skipped.
 * @example liveInterventions(new Set(["0.1", "0.3"]), null) // [{ kind: "zero", hook: "blocks.0.attn.hook_z", heads: [1, 3] }]
 */
export function liveInterventions(heads: ReadonlySet<string>, neurons: NeuronPick | null): Intervention[] {
  const byLayer = new Map<number, number[]>();
  for (const key of heads) {
    const m = /^(\d+)\.(\d+)$/.exec(key);
    if (m === null) continue;
    const l = Number(m[1]);
    byLayer.set(l, [...(byLayer.get(l) ?? []), Number(m[2])]);
  }
  const out: Intervention[] = [...byLayer.entries()]
    .sort(([a], [b]) => a - b)
    .map(([l, hs]) => ({ kind: "zero", hook: `blocks.${l}.attn.hook_z`, heads: hs.sort((a, b) => a - b) }));
  if (neurons !== null && neurons.indices.length > 0)
    out.push({ kind: "zero", hook: `blocks.${neurons.layer}.mlp.hook_post`, neurons: [...neurons.indices] });
  return out;
}

/** One prediction of the ablated run with the same token's probability in the clean run (null: not in its top). */
export interface LiveCell {
  readonly id: number;
  readonly text: string | null;
  readonly prob: number;
  readonly clean: number | null;
}

export interface LiveRow {
  readonly position: number;
  readonly token: string | null;
  readonly top: readonly LiveCell[];
  /** whether the top prediction differs from the clean run's */
  readonly flipped: boolean;
}

/** A token's probability at a position of a run, or null when it is not among the run's top-k there. */
export function probOf(r: RunResult, position: number, id: number): number | null {
  return r.positions[position]?.top.find((t) => t.id === id)?.prob ?? null;
}

/**
 * The ablated run's top `k` at every position beside the clean run's probabilities for the same tokens. Both runs
 * should ask for more than `k` predictions so that a token that rose into the top `k` has a clean probability.
 */
export function compareRuns(clean: RunResult, live: RunResult, k: number): LiveRow[] {
  return live.positions.map(({ position, top }) => ({
    position,
    token: live.tokenDisplays[position] ?? live.tokenStrings[position] ?? null,
    top: top
      .slice(0, k)
      .map((t) => ({ id: t.id, text: t.display ?? t.text, prob: t.prob, clean: probOf(clean, position, t.id) })),
    flipped: top[0]?.id !== clean.positions[position]?.top[0]?.id,
  }));
}
