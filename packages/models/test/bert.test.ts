// BERT and RoBERTa on tiny generated checkpoints (classifier and masked-LM heads): every declared hook fires once
// with its declared rank, an identity intervention is bit-identical, the loss gradient matches finite
// differences, the outputs and every hook match the PyTorch reference (tools/reference/bert.py), a right-padded
// batch gives each row what it gives alone, attention reads later tokens, and missing tensors are named.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunOptions, run } from "@llmdbg/core";
import type { SafetensorsReader } from "@llmdbg/formats";
import { ModelFormatError } from "@llmdbg/formats";
import type { Tensor } from "@llmdbg/tensor";
import * as T from "@llmdbg/tensor";
import type { TinyModelOptions } from "@llmdbg/testing";
import * as arch from "@llmdbg/testing/vitest";
import { afterAll, describe, expect, it } from "vitest";
import { type BertModel, bert } from "../src/arch/bert.js";
import type { WeightSource } from "../src/arch/common.js";
import type { ModelConfig } from "../src/config.js";

// vs the float64 PyTorch goldens, measured worst over bert, bert-mlm and roberta: activations 3.2e-7 of their scale,
// gradient 3.1e-7, loss 0 (within one float32 ulp); bounds at 6×.
const GOLDEN = new URL("./golden/", import.meta.url);
// the fused kernels (norms, attention) against the primitives that expose every hook: max|Δlogits|/max|logit|
const PATH_TOL = 1e-6; // measured ≤ 4.4e-7 over the four architectures
const TOL: arch.GoldenTolerances = { activation: 2e-6, grad: 2e-6, loss: 5e-7 };
const root = mkdtempSync(join(tmpdir(), "llmdbg-bert-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Variant {
  readonly config: ModelConfig;
  readonly weights: SafetensorsReader;
  readonly model: BertModel;
}

function load(name: string, opts: TinyModelOptions): Variant {
  const { config, weights } = arch.writeAndReadTiny(join(root, name), "bert", { seed: 0, ...opts });
  return { config, weights, model: bert(config, weights) };
}

const variants = {
  bert: load("bert", {}),
  "bert-mlm": load("bert-mlm", { bertHead: "mlm" }),
  roberta: load("roberta", { roberta: true }),
  "roberta-mlm": load("roberta-mlm", { roberta: true, bertHead: "mlm" }),
};
type Name = keyof typeof variants;
const names = Object.keys(variants) as Name[];

const ids = T.tensor([2, 17, 42, 5, 99, 7, 60, 3], [1, 8], "i32");

/** A checkpoint without the tensors `hide` matches. */
function without(w: WeightSource, hide: (k: string) => boolean): WeightSource {
  return { has: (k) => !hide(k) && w.has(k), load: (k) => w.load(k), keys: () => w.keys().filter((k) => !hide(k)) };
}

describe.each(names)("%s architecture", (name) => {
  const { config, model } = variants[name];
  const mlm = name.endsWith("mlm");

  it("fires every declared hook once with its declared rank", () => {
    expect(model.head).toBe(mlm ? "mlm" : "classifier");
    const { cache, output } = arch.runFiringEveryHook(model, ids);
    expect(output.shape).toEqual(mlm ? [1, 8, config.vocabSize] : [1, 2]);
    expect(model.hookPoints.length).toBe(7 + (mlm ? 2 : 1) + config.nLayers * 18);
    // attention rows are distributions over every position, later ones included
    const pat = cache.get("blocks.0.attn.hook_pattern").toArray();
    for (let r = 0; r < pat.length / 8; r++) {
      const row = pat.slice(r * 8, r * 8 + 8);
      expect(Math.abs(row.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-6);
      expect(row.every((v) => v > 0)).toBe(true);
    }
  });

  it("an identity intervention leaves the output bit-identical", () => {
    const hooks = ["blocks.1.hook_resid_mid", mlm ? "mlm_head.ln.hook_normalized" : "pooler.hook_pooler_out"];
    arch.expectIdentityInterventionsExact(model, ids, hooks);
  });

  it("the gradient of the target log-probability w.r.t. the word embeddings matches finite differences", () => {
    const targets = mlm ? [17, 42, 5, 99, 7, 60, 3, 2] : [1];
    const loss = (out: Tensor) => arch.targetLogProb(out, targets);
    // f32 model: a large step keeps rounding noise below the curvature error
    const worst = arch.embeddingGradFdError(model, ids, { hook: "embed.hook_embed", loss, step: 1e-2, floor: 1e-3 });
    console.log(`${name} embedding gradient vs finite differences (f32): worst relative error ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(5e-3);
  });

  it("a right-padded batch with an attention mask gives each row what it gives alone", () => {
    const seqs = [
      [2, 17, 42, 5, 99, 7, 60, 3],
      [2, 8, 33, 3],
      [2, 71, 12, 90, 104, 3],
    ];
    const worst = arch.paddedBatchDiff(model, seqs, "right", config.padTokenId ?? 0);
    arch.expectWithin(`${name} right-padded batch vs each row alone, max |Δ|`, worst, 1e-5); // measured ≤ 1.2e-6 (roberta-mlm logits)
  });

  it("attention is bidirectional: a later token changes the first position", () => {
    const other = T.tensor([2, 17, 42, 5, 99, 7, 61, 3], [1, 8], "i32");
    const first = (x: Tensor) => {
      const r = run(model, x, { cache: ["blocks.1.hook_normalized_resid_post"] });
      return T.narrow(r.cache.get("blocks.1.hook_normalized_resid_post"), 1, 0, 1).toArray();
    };
    const a = first(ids);
    const b = first(other);
    expect(Math.max(...a.map((v, i) => Math.abs(v - (b[i] as number))))).toBeGreaterThan(1e-4);
  });
});

describe.each([
  ["bert", "bert-tiny"],
  ["bert-mlm", "bert-mlm-tiny"],
  ["roberta", "roberta-tiny"],
] as const)("%s matches the PyTorch reference (tools/reference/bert.py)", (name, file) => {
  it("output, every hook, and the embedding gradient", () => {
    const { model } = variants[name];
    const golden = arch.readGolden(GOLDEN, file);
    const meta = golden.metadata;
    const rows = JSON.parse(meta.input_ids ?? "[]") as number[][];
    const types = JSON.parse(meta.token_type_ids ?? "[]") as number[][];
    const targets = (JSON.parse(meta.targets ?? "[]") as (number | number[])[]).flat();
    expect(meta.head).toBe(model.head);
    const shape = [rows.length, (rows[0] as number[]).length];
    const opts: RunOptions = {
      cache: true,
      tokenTypeIds: T.tensor(types.flat(), shape, "i32"),
      grads: { hooks: ["embed.hook_embed"], loss: (out) => arch.targetLogProb(out, targets) },
    };
    const result = run(model, T.tensor(rows.flat(), shape, "i32"), opts);
    arch.compareWithGolden(model, result, golden, { label: name, gradHook: "embed.hook_embed", tol: TOL });
    arch.compareFusedWithGolden(model, T.tensor(rows.flat(), shape, "i32"), golden, {
      label: name,
      gradHook: "embed.hook_embed",
      loss: (out) => arch.targetLogProb(out, targets),
      tol: TOL,
      pathTol: PATH_TOL,
      forward: { tokenTypeIds: T.tensor(types.flat(), shape, "i32") },
    });
  });
});

describe("bert checkpoints", () => {
  const { config, weights, model } = variants["bert-mlm"];

  it("token type ids select rows of the token-type table", () => {
    const types = T.tensor([0, 0, 0, 0, 1, 1, 1, 1], [1, 8], "i32");
    const opts: RunOptions = { cache: ["embed.hook_token_type_embed"], tokenTypeIds: types };
    const a = run(model, ids, { cache: ["embed.hook_token_type_embed"] }).cache.get("embed.hook_token_type_embed");
    const b = run(model, ids, opts).cache.get("embed.hook_token_type_embed");
    const table = weights.load("bert.embeddings.token_type_embeddings.weight").toArray();
    const D = config.dModel;
    expect(a.toArray().slice(7 * D)).toEqual(table.slice(0, D));
    expect(b.toArray().slice(7 * D)).toEqual(table.slice(D, 2 * D));
    const bad: RunOptions = { tokenTypeIds: T.tensor([0, 0, 0, 0, 2, 2, 2, 2], [1, 8], "i32") };
    expect(() => run(model, ids, bad)).toThrow(/token type id 2 outside \[0, 2\)/);
  });

  it("without a head the output is the last hidden state", () => {
    const bare = bert(
      config,
      without(weights, (k) => k.startsWith("cls.")),
    );
    expect(bare.head).toBe("none");
    const { output, cache } = run(bare, ids, { cache: true });
    expect(output.shape).toEqual([1, 8, config.dModel]);
    expect(output.toArray()).toEqual(cache.get("blocks.1.hook_normalized_resid_post").toArray());
    expect(bare.hookPoints.some((p) => p.name.startsWith("mlm_head."))).toBe(false);
  });

  it("reads Google's TensorFlow LayerNorm names (gamma, beta) like transformers", () => {
    const rename = (k: string) =>
      k.replace(/LayerNorm\.weight$/, "LayerNorm.gamma").replace(/LayerNorm\.bias$/, "LayerNorm.beta");
    const stored = weights.entries.map((e) => e.name);
    const legacy: WeightSource = {
      has: (k) => stored.some((n) => rename(n) === k),
      load: (k) => weights.load(stored.find((n) => rename(n) === k) as string),
      keys: () => stored,
      storedName: (k) => stored.find((n) => rename(n) === k) ?? k,
    };
    expect(run(bert(config, legacy), ids).output.toArray()).toEqual(run(model, ids).output.toArray());
  });

  it("RoBERTa's pad tokens read position row padding_idx and real tokens count on past them", () => {
    const r = variants.roberta;
    const pad = r.config.padTokenId as number;
    const withPad = T.tensor([2, 17, pad, 5], [1, 4], "i32");
    const pos = run(r.model, withPad, { cache: ["embed.hook_pos_embed"] })
      .cache.get("embed.hook_pos_embed")
      .toArray();
    const table = r.weights.load("roberta.embeddings.position_embeddings.weight").toArray();
    const D = r.config.dModel;
    const row = (i: number) => table.slice(i * D, (i + 1) * D);
    expect(r.config.positionOffset).toBe(pad + 1);
    [pad + 1, pad + 2, pad, pad + 3].forEach((want, i) => {
      expect(pos.slice(i * D, (i + 1) * D), `token ${i}`).toEqual(row(want));
    });
  });

  it("a missing tensor is a ModelFormatError naming it", () => {
    const drop = (suffix: string) => without(weights, (k) => k.endsWith(suffix));
    expect(() => bert(config, drop("layer.1.intermediate.dense.bias"))).toThrow(ModelFormatError);
    expect(() => bert(config, drop("layer.1.intermediate.dense.bias"))).toThrow(
      /encoder\.layer\.1\.intermediate\.dense\.bias: missing tensor/,
    );
    const cls = variants.bert;
    expect(() =>
      bert(
        cls.config,
        without(cls.weights, (k) => k === "classifier.weight"),
      ),
    ).toThrow(/classifier\.weight: missing tensor/);
    expect(() =>
      bert(
        cls.config,
        without(cls.weights, (k) => k.startsWith("bert.pooler.")),
      ),
    ).toThrow(/pooler\.dense\.weight: missing tensor/);
  });

  it("a tensor of the wrong shape is a ModelFormatError naming it", () => {
    const bad: WeightSource = {
      has: (k) => weights.has(k),
      load: (k) => (k.endsWith("layer.1.output.dense.bias") ? T.zeros([3]) : weights.load(k)),
      keys: () => weights.keys(),
    };
    expect(() => bert(config, bad)).toThrow(/layer\.1\.output\.dense\.bias: expected shape \[\d+\], got \[3\]/);
  });
});
