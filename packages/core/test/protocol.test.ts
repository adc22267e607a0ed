// Core against the protocol's JSON types: hook kinds from TransformerLens names, negative indices in
// interventions, tensor slices and statistics.
import * as T from "@llmdbg/tensor";
import { describe, expect, it } from "vitest";
import { declareHooks, hookKind, run, tensorSlice, tensorStats } from "../src/index.js";
import { toyModel } from "./toy.js";

describe("hook kinds", () => {
  it("every point of the toy model has the kind its name says", () => {
    const model = toyModel();
    const kinds = new Map(model.hookPoints.map((p) => [p.name, p.kind]));
    expect(kinds.get("hook_embed")).toBe("embed");
    expect(kinds.get("blocks.0.attn.hook_pattern")).toBe("attn_pattern");
    expect(kinds.get("blocks.0.mlp.hook_pre")).toBe("mlp_pre");
    expect(kinds.get("ln_final.hook_normalized")).toBe("norm_out");
    expect(hookKind("blocks.3.ln2.hook_scale")).toBe("norm_scale");
    expect(hookKind("embed.hook_token_type_embed")).toBe("token_type_embed");
  });

  it("a name outside the vocabulary is refused when the points are declared", () => {
    expect(() =>
      declareHooks(1, { before: {}, perBlock: { "attn.hook_patern": ["batch", "head", "query_pos", "key_pos"] }, after: {} }),
    ).toThrow(/"attn.hook_patern" does not end in a known hook name/);
  });
});

describe("negative indices in interventions", () => {
  const model = toyModel();
  const ids = T.tensor([1, 2, 3, 4, 5], [1, 5], "i32");
  it("position −1 is the last position and head −1 the last head", () => {
    const at = (positions: number[], heads: number[]) =>
      run(model, ids, { interventions: [{ kind: "zero", hook: "blocks.0.attn.hook_z", positions, heads }] }).output.toArray();
    expect(at([-1], [-1])).toEqual(at([4], [1]));
    expect(at([-5], [-2])).toEqual(at([0], [0]));
    expect(at([-1], [-1])).not.toEqual(at([0], [0]));
    expect(() => at([-6], [0])).toThrow(/positions entry -6 out of range \[-5, 5\)/);
  });
});

describe("tensor slices", () => {
  const t = T.tensor([1, 2, 3, 4, 5, 6, Number.NaN, 8, Number.POSITIVE_INFINITY, 10, 11, 12], [2, 2, 3], "f32");
  it("a window with negative bounds, non-finite values as null, statistics of the whole", () => {
    const s = tensorSlice(t, {
      axes: ["batch", "pos", "d_model"],
      ranges: [
        [1, 2],
        [0, -1],
        [-2, 3],
      ],
    });
    expect(s.shape).toEqual([2, 2, 3]);
    expect(s.ranges).toEqual([
      [1, 2],
      [0, 1],
      [1, 3],
    ]);
    expect(s.data).toEqual([8, null]);
    expect(s.stats.nonFinite).toBe(2);
    expect(s.stats.min).toBe(1);
    expect(s.stats.max).toBe(12);
    expect(s.stats.mean).toBeCloseTo((1 + 2 + 3 + 4 + 5 + 6 + 8 + 10 + 11 + 12) / 10, 12);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s); // plain JSON, nothing lost
  });

  it("the whole tensor by default; bad ranges and axes are errors", () => {
    const s = tensorSlice(T.tensor([1, 2, 3, 4], [2, 2], "f64"));
    expect(s.data).toEqual([1, 2, 3, 4]);
    expect(s.axes).toBeNull();
    expect(() => tensorSlice(t, { ranges: [[0, 3]] })).toThrow(/range \[0, 3\) is outside axis 0 of length 2/);
    expect(() => tensorSlice(t, { axes: ["batch"] })).toThrow(/1 axes for a tensor of shape \[2,2,3\]/);
    expect(tensorStats(T.tensor([Number.NaN], [1], "f32"))).toEqual({ mean: 0, std: 0, min: 0, max: 0, nonFinite: 1 });
  });
});
