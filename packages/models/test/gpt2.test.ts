// GPT-2 on the tiny generated checkpoint: every declared hook fires once with its declared rank, an identity
// intervention is bit-identical, the loss gradient through the whole architecture matches finite
// differences, and a checkpoint with a wrong shape names the tensor.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "@llmdbg/core";
import type { Tensor } from "@llmdbg/tensor";
import * as T from "@llmdbg/tensor";
import { afterAll, describe, expect, it } from "vitest";
import { gpt2 } from "../src/arch/gpt2.js";
import { normalizeHfConfig } from "../src/config.js";
import { ModelFormatError } from "../src/errors.js";
import { parseJsonStrict } from "../src/json.js";
import { readSafetensors } from "../src/safetensors-node.js";
import { writeTinyModel } from "../src/tiny-node.js";

const dir = mkdtempSync(join(tmpdir(), "llmdbg-gpt2-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeTinyModel(dir, "gpt2", { seed: 0 });
const config = normalizeHfConfig(parseJsonStrict(readFileSync(join(dir, "config.json"), "utf8")), "config.json");
const weights = readSafetensors(join(dir, "model.safetensors"));
const model = gpt2(config, weights);
const ids = T.tensor([3, 17, 42, 5, 99, 7, 250, 11], [1, 8], "i32");

describe("gpt2 architecture", () => {
  it("fires every declared hook once with its declared rank", () => {
    const { cache, ctx, output } = run(model, ids, { cache: true });
    expect(output.shape).toEqual([1, 8, config.vocabSize]);
    expect(model.hookPoints.length).toBe(4 + config.nLayers * 17);
    for (const p of model.hookPoints) {
      expect(ctx.firedCounts().get(p.name), p.name).toBe(1);
      expect(cache.get(p.name).rank, p.name).toBe(p.axes.length);
    }
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

  it("an identity intervention leaves the logits bit-identical", () => {
    const a = run(model, ids).output;
    const b = run(model, ids, { interventions: [{ kind: "scale", hook: "blocks.1.hook_resid_mid", factor: 1 }] }).output;
    expect(b.toArray()).toEqual(a.toArray());
  });

  it("the gradient of a next-token loss w.r.t. the embeddings matches finite differences", () => {
    const targets = [17, 42, 5, 99, 7, 250, 11, 3];
    const V = config.vocabSize;
    const loss = (out: Tensor) => {
      const lp = T.reshape(T.logSoftmax(out), [8 * V]); // [pos * d_vocab]
      return T.sum(
        T.gather(
          lp,
          T.tensor(
            targets.map((t, p) => p * V + t),
            [8],
            "i32",
          ),
        ),
      );
    };
    const { cache } = run(model, ids, { grads: { hooks: ["hook_embed"], loss } });
    const g = cache.grad("hook_embed");
    const emb = run(model, ids, { cache: ["hook_embed"] }).cache.get("hook_embed");
    const h = 1e-2; // f32 model: a large step keeps rounding noise below the curvature error
    let worst = 0;
    for (const i of [0, 5, 77, 130, emb.size - 1]) {
      const at = (delta: number) => {
        const values = emb.toArray();
        values[i] = (values[i] as number) + delta;
        return loss(
          run(model, ids, {
            interventions: [{ kind: "patch", hook: "hook_embed", values: { shape: [...emb.shape], data: values } }],
          }).output,
        ).item();
      };
      const num = (at(h) - at(-h)) / (2 * h);
      worst = Math.max(worst, Math.abs(num - (g.data[i] as number)) / Math.max(Math.abs(num), 1e-3));
    }
    console.log(`gpt2 embedding gradient vs finite differences (f32): worst relative error ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(5e-3);
  });

  it("matches the PyTorch reference (tools/reference/gpt2.py): logits, every hook, and the embedding gradient", () => {
    const golden = readSafetensors(new URL("./golden/gpt2-tiny.safetensors", import.meta.url).pathname);
    expect(golden.metadata.input_ids).toBe("[[3,17,42,5,99,7,250,11]]");
    const V = config.vocabSize;
    const targets = JSON.parse(golden.metadata.targets ?? "[]") as number[];
    const loss = (out: Tensor) =>
      T.sum(
        T.gather(
          T.reshape(T.logSoftmax(out), [8 * V]),
          T.tensor(
            targets.map((t, p) => p * V + t),
            [8],
            "i32",
          ),
        ),
      );
    const { output, cache } = run(model, ids, { cache: true, grads: { hooks: ["hook_embed"], loss } });
    const maxDiff = (ours: Tensor, ref: Tensor, name: string): number => {
      expect(ours.shape, name).toEqual(ref.shape);
      let m = 0;
      for (let i = 0; i < ours.size; i++) {
        const a = ours.data[i] as number;
        const b = ref.data[i] as number;
        if (a === b) continue; // also the -inf of masked scores
        m = Math.max(m, Math.abs(a - b));
      }
      return m;
    };
    let worstName = "";
    let worst = 0;
    for (const name of [...model.hookPoints.map((p) => p.name), "logits"]) {
      const d = maxDiff(name === "logits" ? output : cache.get(name), golden.load(name), name);
      if (d > worst) [worst, worstName] = [d, name];
      expect(d, name).toBeLessThanOrEqual(1e-4);
    }
    const g = cache.grad("hook_embed");
    const gRef = golden.load("grad.hook_embed");
    let num = 0;
    let den = 0;
    for (let i = 0; i < g.size; i++) {
      num += ((g.data[i] as number) - (gRef.data[i] as number)) ** 2;
      den += (gRef.data[i] as number) ** 2;
    }
    const rel = Math.sqrt(num / den);
    console.log(
      `gpt2 vs PyTorch: worst activation diff ${worst.toExponential(2)} (${worstName}); embedding grad rel err ${rel.toExponential(2)}`,
    );
    expect(rel).toBeLessThanOrEqual(1e-4);
  });

  it("a tensor of the wrong shape is a ModelFormatError naming it", () => {
    const bad = {
      has: (k: string) => weights.has(k),
      load: (k: string) => (k.endsWith("h.1.mlp.c_fc.bias") ? T.zeros([3]) : weights.load(k)),
    };
    expect(() => gpt2(config, bad)).toThrow(ModelFormatError);
    expect(() => gpt2(config, bad)).toThrow(/h\.1\.mlp\.c_fc\.bias: expected shape \[\d+\], got \[3\]/);
  });
});
