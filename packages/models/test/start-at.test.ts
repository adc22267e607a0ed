// A forward pass started at block L from that block's input residual gives the full pass's output: what
// activation patching relies on to skip the layers a patch cannot change. Earlier hook points do not fire.
import { run } from "@llmdbg/core";
import * as T from "@llmdbg/tensor";
import { TINY_MODEL_TYPES, tinyModel } from "@llmdbg/testing";
import { describe, expect, it } from "vitest";
import { memoryWeights } from "../src/arch/common.js";
import { buildModel } from "../src/architectures.js";
import { normalizeHfConfig } from "../src/config.js";

describe.each(TINY_MODEL_TYPES)("%s", (type) => {
  const m = tinyModel(type, { seed: 2, nLayers: 3 });
  const model = buildModel(normalizeHfConfig(m.config, "config.json"), memoryWeights(m.weights), "model.safetensors");
  const ids = T.tensor([3, 17, 42, 5, 9, 7, 1, 2], [2, 4], "i32");

  it("starting at every block from its cached input reproduces the output bit for bit", () => {
    const full = run(model, ids, { cache: "blocks.*.hook_resid_pre" });
    for (let l = 0; l < 3; l++) {
      const resid = full.cache.get(`blocks.${l}.hook_resid_pre`);
      const started = run(model, ids, { startAt: { layer: l, resid }, cache: "blocks.*.hook_resid_pre" });
      expect(started.output.toArray()).toEqual(full.output.toArray());
      // the blocks before it did not run
      for (let k = 0; k < l; k++) expect(() => started.cache.get(`blocks.${k}.hook_resid_pre`)).toThrow();
    }
  });

  it("a start outside the model, of the wrong shape, or with a KV cache is an error", () => {
    const resid = run(model, ids, { cache: "blocks.0.hook_resid_pre" }).cache.get("blocks.0.hook_resid_pre");
    expect(() => run(model, ids, { startAt: { layer: 3, resid } })).toThrow(/startAt.layer 3 is not a block/);
    expect(() => run(model, ids, { startAt: { layer: 0, resid: T.narrow(resid, 1, 0, 2) } })).toThrow(
      /startAt.resid: expected \[2, 4, \d+\]/,
    );
  });
});
