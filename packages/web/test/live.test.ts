// The live view's logic: toggled heads and neurons as interventions, a typed neuron list, and the ablated run set
// against the clean one.
import type { RunResult } from "@llmdbg/protocol";
import { describe, expect, it } from "vitest";
import { compareRuns, headKey, liveInterventions, parseNeurons, probOf } from "../src/live.js";

const pred = (id: number, prob: number) => ({
  id,
  token: `t${id}`,
  text: `t${id}`,
  display: ` t${id}`,
  logit: Math.log(prob),
  prob,
});
const runOf = (positions: [number, number][][]): RunResult => ({
  kind: "run",
  model: "m",
  tokens: positions.map((_, i) => 100 + i),
  tokenStrings: positions.map((_, i) => `s${i}`),
  tokenDisplays: positions.map((_, i) => `d${i}`),
  positions: positions.map((top, position) => ({ position, top: top.map(([id, p]) => pred(id, p)) })),
});

describe("live interventions", () => {
  it("groups toggled heads into one zero-ablation of attn.hook_z per layer, layers and heads in order", () => {
    expect(liveInterventions(new Set(), null)).toEqual([]);
    const heads = new Set([headKey(2, 3), headKey(0, 1), headKey(2, 0), "junk"]);
    expect(liveInterventions(heads, null)).toEqual([
      { kind: "zero", hook: "blocks.0.attn.hook_z", heads: [1] },
      { kind: "zero", hook: "blocks.2.attn.hook_z", heads: [0, 3] },
    ]);
  });
  it("adds the neurons as a zero-ablation of mlp.hook_post at their indices; none when the list is empty", () => {
    expect(liveInterventions(new Set([headKey(1, 1)]), { layer: 3, indices: [7, -1] })).toEqual([
      { kind: "zero", hook: "blocks.1.attn.hook_z", heads: [1] },
      { kind: "zero", hook: "blocks.3.mlp.hook_post", neurons: [7, -1] },
    ]);
    expect(liveInterventions(new Set(), { layer: 0, indices: [] })).toEqual([]);
  });
  it("parses a neuron list with commas or spaces, drops duplicates and refuses anything else", () => {
    expect(parseNeurons("")).toEqual({ indices: [] });
    expect(parseNeurons(" 3, 17 -1,3 ")).toEqual({ indices: [3, 17, -1] });
    expect(parseNeurons("3, x")).toMatchObject({ error: expect.stringContaining("“x”") });
    expect(parseNeurons("1.5")).toHaveProperty("error");
  });
  it("sets the ablated top-k beside the clean probabilities, null outside the clean top, and marks flips", () => {
    const clean = runOf([
      [
        [1, 0.6],
        [2, 0.3],
      ],
      [
        [5, 0.5],
        [6, 0.2],
      ],
    ]);
    const live = runOf([
      [
        [1, 0.5],
        [2, 0.4],
      ],
      [
        [9, 0.7],
        [5, 0.1],
      ],
    ]);
    const rows = compareRuns(clean, live, 2);
    expect(rows.map((r) => r.flipped)).toEqual([false, true]);
    expect(rows[0]?.token).toBe("d0");
    expect(rows[0]?.top).toEqual([
      { id: 1, text: " t1", prob: 0.5, clean: 0.6 },
      { id: 2, text: " t2", prob: 0.4, clean: 0.3 },
    ]);
    expect(rows[1]?.top.map((c) => c.clean)).toEqual([null, 0.5]);
    expect(compareRuns(clean, live, 1)[1]?.top).toHaveLength(1);
    expect(probOf(live, 1, 9)).toBe(0.7);
    expect(probOf(live, 1, 6)).toBeNull();
    expect(probOf(live, 7, 9)).toBeNull();
  });
});
