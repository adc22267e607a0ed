// outputParams names where W_O and W_out are stored: the parameter, read in its layout, is the accessor's matrix
// (W_O flattened over heads), on every architecture — what weight edits computed in TransformerLens's terms rely on.
import * as T from "@llmdbg/tensor";
import { TINY_MODEL_TYPES, tinyModel } from "@llmdbg/testing";
import { describe, expect, it } from "vitest";
import { memoryWeights } from "../src/arch/common.js";
import { buildModel } from "../src/architectures.js";
import { normalizeHfConfig } from "../src/config.js";

describe.each(TINY_MODEL_TYPES)("%s", (type) => {
  it("the stored output weights, in their layout, are W_O and W_out", () => {
    const m = tinyModel(type, { seed: 3 });
    const model = buildModel(normalizeHfConfig(m.config, "config.json"), memoryWeights(m.weights), "model.safetensors");
    for (const layer of [0, -1]) {
      const { attn, mlp } = model.outputParams(layer);
      const asInOut = (w: { param: string; layout: "in_out" | "out_in" }) => {
        const t = model.params.get(w.param);
        return w.layout === "in_out" ? t : T.permute(t, [1, 0]); // [in, out]
      };
      const W_O = model.attn(layer).W_O; // [head, d_head, d_model]
      const [H, Dh, D] = W_O.shape as [number, number, number];
      expect(asInOut(attn).toArray()).toEqual(T.reshape(W_O, [H * Dh, D]).toArray());
      expect(mlp).not.toBeNull();
      expect(asInOut(mlp as NonNullable<typeof mlp>).toArray()).toEqual(model.mlp(layer)?.W_out.toArray());
    }
  });

  it("b_U is as wide as W_U (methods read the vocabulary's size from b_U, which costs no transpose)", () => {
    const m = tinyModel(type, { seed: 3 });
    const model = buildModel(normalizeHfConfig(m.config, "config.json"), memoryWeights(m.weights), "model.safetensors");
    let width: number;
    try {
      width = model.W_U.shape[1] as number;
    } catch (e) {
      // a classifier without a language-model head has neither, and says so the same way
      expect(() => model.b_U).toThrow((e as Error).message);
      return;
    }
    expect(model.b_U.shape).toEqual([width]);
  });
});
