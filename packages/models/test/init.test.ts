// Fresh models: the layout walked from each architecture's parameter tree names exactly the tensors that
// `save_pretrained` writes (the tiny generator mirrors transformers' state dicts), initModel's weights follow
// transformers' init rules, and saveModel writes a folder that loads back to the same logits.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "@llmdbg/core";
import * as T from "@llmdbg/tensor";
import { type TinyModelOptions, type TinyModelType, tinyModel } from "@llmdbg/testing";
import { afterAll, describe, expect, it } from "vitest";
import { normalizeHfConfig } from "../src/config.js";
import { checkpointLayout, initModel } from "../src/index.js";
import { load, saveModel } from "../src/node.js";

const variants: [string, TinyModelType, TinyModelOptions][] = [
  ["gpt2", "gpt2", {}],
  ["llama", "llama", {}],
  ["llama tied", "llama", { tieEmbeddings: true }],
  ["qwen2", "qwen2", {}],
  ["gpt_neox", "gpt_neox", {}],
  ["bert classifier", "bert", {}],
  ["bert mlm", "bert", { bertHead: "mlm" }],
  ["roberta classifier", "bert", { roberta: true }],
  ["roberta mlm", "bert", { roberta: true, bertHead: "mlm" }],
];

describe("checkpointLayout", () => {
  it.each(variants)("%s: names and shapes every tensor save_pretrained writes, and nothing else", (_, type, opts) => {
    const m = tinyModel(type, opts);
    const layout = checkpointLayout(normalizeHfConfig(m.config, "config.json"));
    const expected = Object.entries(m.weights)
      .map(([n, t]) => `${n} [${t.shape.join(",")}]`)
      .sort();
    expect(layout.map((e) => `${e.stored} [${e.shape.join(",")}]`).sort()).toEqual(expected);
  });
});

describe("initModel", () => {
  const dir = mkdtempSync(join(tmpdir(), "llmdbg-init-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(variants)("%s: transformers' init rules, deterministic per seed, and it runs", (_, type, opts) => {
    const m = tinyModel(type, opts);
    const a = initModel(m.config, { seed: 3 });
    const b = initModel(m.config, { seed: 3 });
    const c = initModel(m.config, { seed: 4 });
    for (const e of checkpointLayout(a.config)) {
      const w = a.weights[e.stored] as T.Tensor;
      const d = Array.from(w.data as Float32Array);
      expect(Array.from((b.weights[e.stored] as T.Tensor).data)).toEqual(d);
      if (e.kind === "vector") {
        expect(new Set(d)).toEqual(new Set([e.key.endsWith(".bias") ? 0 : 1]));
      } else if (d.length >= 1000) {
        // (small tensors, a classifier's few outputs, are too few draws to test a standard deviation)
        const mean = d.reduce((s, x) => s + x, 0) / d.length;
        const std = Math.sqrt(d.reduce((s, x) => s + (x - mean) ** 2, 0) / d.length);
        expect(Math.abs(mean)).toBeLessThan(0.02 * 0.5);
        expect(std).toBeGreaterThan(0.02 * 0.8);
        expect(std).toBeLessThan(0.02 * 1.2);
      }
      if (e.kind !== "vector") expect(Array.from((c.weights[e.stored] as T.Tensor).data)).not.toEqual(d);
    }
    const ids = T.tensor([1, 2, 3, 4], [1, 4], "i32");
    const out = run(a.model, ids).output;
    expect(Array.from(out.data).every(Number.isFinite)).toBe(true);
  });

  it.each(variants)("%s: saveModel writes a folder that loads back to the same outputs", (name, type, opts) => {
    const m = tinyModel(type, opts);
    const { config, model } = initModel(m.config, { seed: 5, std: 0.5 });
    const folder = join(dir, name.replace(/ /g, "-"));
    rmSync(folder, { recursive: true, force: true });
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, "config.json"), JSON.stringify(m.config));
    writeFileSync(join(folder, "tokenizer.json"), JSON.stringify(m.tokenizer));
    const { written } = saveModel(config, model.params, join(folder, "model.safetensors"));
    expect(written).toBe(Object.keys(m.weights).length);
    const back = load(folder);
    const ids = T.tensor([1, 2, 3, 4, 5], [1, 5], "i32");
    expect(Array.from(run(back, ids).output.data)).toEqual(Array.from(run(model, ids).output.data));
  });
});
