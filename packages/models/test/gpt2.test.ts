// GPT-2 on the tiny generated checkpoint: every declared hook fires once with its declared rank, an identity
// intervention is bit-identical, the loss gradient through the whole architecture matches finite
// differences, and a checkpoint with a wrong shape names the tensor.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "@llmdbg/core";
import { ModelFormatError } from "@llmdbg/formats";
import type { Tensor } from "@llmdbg/tensor";
import * as T from "@llmdbg/tensor";
import * as arch from "@llmdbg/testing/vitest";
import { afterAll, describe, expect, it } from "vitest";
import { gpt2 } from "../src/arch/gpt2.js";

// vs the float64 PyTorch golden, measured worst: activations 4.5e-7 of their scale (blocks.1.attn.hook_v), gradient
// 6.6e-7, loss 7.0e-8 (about one float32 ulp); bounds at 5–7×.
const GOLDEN = new URL("./golden/", import.meta.url);
// the fused kernels (norms, attention) against the primitives that expose every hook: max|Δlogits|/max|logit|
const PATH_TOL = 1e-6; // measured ≤ 4.4e-7 over the four architectures
const TOL: arch.GoldenTolerances = { activation: 3e-6, grad: 4e-6, loss: 5e-7 };
const dir = mkdtempSync(join(tmpdir(), "llmdbg-gpt2-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const { config, weights } = arch.writeAndReadTiny(dir, "gpt2", { seed: 0 });
const model = gpt2(config, weights);
const ids = T.tensor([3, 17, 42, 5, 99, 7, 250, 11], [1, 8], "i32");

describe("gpt2 architecture", () => {
  it("fires every declared hook once with its declared rank", () => {
    const { cache, output } = arch.runFiringEveryHook(model, ids);
    expect(output.shape).toEqual([1, 8, config.vocabSize]);
    expect(model.hookPoints.length).toBe(5 + config.nLayers * 17);
    // attention rows are distributions over earlier positions only
    const pat = cache.get("blocks.0.attn.hook_pattern");
    for (let r = 0; r < pat.size / 8; r++) {
      const row = pat.toArray().slice(r * 8, r * 8 + 8);
      expect(Math.abs(row.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-6);
      row.slice((r % 8) + 1).forEach((v) => {
        expect(v).toBe(0);
      });
    }
  });

  it("a block with nothing observed inside runs as one program on onnxruntime, within the fused-path bound", () => {
    const be = T.getBackend();
    if (!(be instanceof T.OrtBackend)) throw new Error("the models' tests run on the ort backend");
    const min = be.minElements;
    be.minElements = 0; // the tiny model's blocks are below the size at which programs pay
    try {
      const golden = arch.readGolden(GOLDEN, "gpt2-tiny").load("logits");
      const { result: whole, profile } = T.profileOps(() => run(model, ids).output);
      expect(profile.forward.program?.calls).toBe(config.nLayers);
      // observing a point inside block 1 runs that block op by op, the others still as programs
      const { result: observed, profile: p2 } = T.profileOps(() => run(model, ids, { cache: ["blocks.1.mlp.hook_post"] }).output);
      expect(p2.forward.program?.calls).toBe(config.nLayers - 1);
      const opByOp = run(model, ids, { cache: true }).output;
      const [vsOps, vsMixed, vsGolden] = [
        arch.relDiff(whole, opByOp),
        arch.relDiff(observed, opByOp),
        arch.relDiff(whole, golden),
      ];
      console.log(
        `gpt2 programs: vs op by op ${vsOps.toExponential(2)}, one block observed ${vsMixed.toExponential(2)}, vs golden ${vsGolden.toExponential(2)}`,
      );
      for (const d of [vsOps, vsMixed]) expect(d).toBeLessThan(PATH_TOL);
      expect(vsGolden).toBeLessThan(TOL.activation);
    } finally {
      be.minElements = min;
    }
  });

  it("an identity intervention leaves the logits bit-identical", () => {
    arch.expectIdentityInterventionsExact(model, ids, ["blocks.1.hook_resid_mid"]);
  });

  it("the gradient of a next-token loss w.r.t. the embeddings matches finite differences", () => {
    const targets = [17, 42, 5, 99, 7, 250, 11, 3];
    const loss = (out: Tensor) => arch.targetLogProb(out, targets);
    // f32 model: a large step keeps rounding noise below the curvature error
    const worst = arch.embeddingGradFdError(model, ids, { hook: "hook_embed", loss, step: 1e-2, floor: 1e-3 });
    console.log(`gpt2 embedding gradient vs finite differences (f32): worst relative error ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(5e-3);
  });

  it("matches the PyTorch reference (tools/reference/gpt2.py): logits, every hook, and the embedding gradient", () => {
    const golden = arch.readGolden(GOLDEN, "gpt2-tiny");
    expect(golden.metadata.input_ids).toBe("[[3,17,42,5,99,7,250,11]]");
    const targets = JSON.parse(golden.metadata.targets ?? "[]") as number[];
    const loss = (out: Tensor) => arch.targetLogProb(out, targets);
    const result = run(model, ids, { cache: true, grads: { hooks: ["hook_embed"], loss } });
    arch.compareWithGolden(model, result, golden, { label: "gpt2", gradHook: "hook_embed", tol: TOL });
    arch.compareFusedWithGolden(model, ids, golden, { label: "gpt2", gradHook: "hook_embed", loss, tol: TOL, pathTol: PATH_TOL });
  });

  it("a tensor of the wrong shape is a ModelFormatError naming it", () => {
    const bad = {
      has: (k: string) => weights.has(k),
      load: (k: string) => (k.endsWith("h.1.mlp.c_fc.bias") ? T.zeros([3]) : weights.load(k)),
      keys: () => weights.keys(),
    };
    expect(() => gpt2(config, bad)).toThrow(ModelFormatError);
    expect(() => gpt2(config, bad)).toThrow(/h\.1\.mlp\.c_fc\.bias: expected shape \[\d+\], got \[3\]/);
  });
});
