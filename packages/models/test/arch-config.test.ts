// Every architecture honours or refuses each ModelConfig field (the type of its support table is exhaustive over
// ModelConfig); a refused value is a ModelFormatError naming the config file and its key, raised before any
// weight is read. And GPT-2 computes the activation its config names (it once hard-coded tanh GELU).
import { run } from "@llmdbg/core";
import { ModelFormatError } from "@llmdbg/formats";
import type { Tensor } from "@llmdbg/tensor";
import * as T from "@llmdbg/tensor";
import { type TinyModelType, tinyModel } from "@llmdbg/testing";
import { describe, expect, it } from "vitest";
import { memoryWeights } from "../src/arch/common.js";
import { buildModel } from "../src/architectures.js";
import { configKey, type ModelConfig, normalizeHfConfig } from "../src/config.js";

const FILE = "tiny/config.json";

function tinyConfig(type: TinyModelType, configPatch: Record<string, unknown> = {}) {
  const m = tinyModel(type, { seed: 1 });
  const config = normalizeHfConfig({ ...m.config, ...configPatch }, FILE);
  const weights = memoryWeights(m.weights);
  return { config, weights };
}

/** A weight source that fails the test if anything is read: refusals must come first. */
const untouchable = {
  has: () => true,
  load: (k: string): Tensor => expect.fail(`read ${k} before refusing the config`),
  keys: () => [],
};

const rotary = { kind: "rotary", theta: 10000, rotaryDim: 4, interleaved: false, scaling: { kind: "none" } } as const;

/** Per architecture: config fields set to values it does not compute. */
const refused: { readonly [K in TinyModelType]: readonly Partial<ModelConfig>[] } = {
  gpt2: [
    { gatedMlp: true },
    { positional: rotary },
    { parallelResidual: true },
    { norm: { kind: "rmsnorm", eps: 1e-5 } },
    { normPlacement: "post" },
    { causal: false },
    { qkvBias: false },
    { oBias: false },
    { mlpBias: false },
    { typeVocabSize: 2 },
    { positionOffset: 2 },
    { qkvLayout: "separate" },
    { nKvHeads: 1 },
    { dHead: 2 },
    { classifier: { labels: ["a", "b"], problemType: null } },
  ],
  llama: [
    { gatedMlp: false },
    { positional: { kind: "learned" } },
    { parallelResidual: true },
    { normPlacement: "post" },
    { qkvLayout: "fused" },
    { typeVocabSize: 2 },
    { positionOffset: 2 },
    { nKvHeads: 3 },
    { classifier: { labels: ["a", "b"], problemType: null } },
  ],
  qwen2: [{ gatedMlp: false }, { qkvLayout: "fused_per_head" }],
  gpt_neox: [
    { gatedMlp: true },
    { positional: { kind: "learned" } },
    { normPlacement: "post" },
    { qkvLayout: "separate" },
    { nKvHeads: 1 },
    { dHead: 2 },
    { typeVocabSize: 2 },
    { classifier: { labels: ["a", "b"], problemType: null } },
  ],
  bert: [
    { dHead: 2 },
    { gatedMlp: true },
    { positional: rotary },
    { parallelResidual: true },
    { normPlacement: "pre" },
    { norm: { kind: "rmsnorm", eps: 1e-5 } },
    { qkvBias: false },
    { qkvLayout: "fused" },
    { nKvHeads: 1 },
  ],
};

describe("config guards", () => {
  for (const [type, list] of Object.entries(refused) as [TinyModelType, readonly Partial<ModelConfig>[]][]) {
    it.each(list.map((patch) => [Object.keys(patch)[0] as string, patch] as const))(
      `${type} refuses %s before reading a weight, naming the config file and field`,
      (field, patch) => {
        const { config } = tinyConfig(type);
        let err: unknown;
        try {
          buildModel({ ...config, ...patch }, untouchable, "model.safetensors");
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(ModelFormatError);
        expect((err as ModelFormatError).file).toBe(FILE);
        // the error names the config.json key a user would edit, and the normalized field it set
        const key = configKey(config, field as keyof ModelConfig);
        expect((err as ModelFormatError).field).toBe(key);
        expect((err as Error).message).toMatch(
          new RegExp(`^${FILE}: ${key}: ${type === "qwen2" ? "llama" : type} \\(${field}\\): `),
        );
      },
    );
  }
});

describe("GPT-2 computes the activation its config names", () => {
  const ids = T.tensor([3, 17, 42, 5, 99, 7], [1, 6], "i32");
  // independent scalar definitions, in float64
  const reference: Record<string, (x: number) => number> = {
    relu: (x) => Math.max(x, 0),
    gelu_new: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
    gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  };
  const logits = new Map<string, number[]>();

  it.each(Object.keys(reference))("activation_function %s: mlp.hook_post is act(mlp.hook_pre)", (name) => {
    const { config, weights } = tinyConfig("gpt2", { activation_function: name });
    const model = buildModel(config, weights, "model.safetensors");
    const r = run(model, ids, { cache: ["blocks.0.mlp.hook_pre", "blocks.0.mlp.hook_post"] });
    const pre = r.cache.get("blocks.0.mlp.hook_pre").toArray();
    const post = r.cache.get("blocks.0.mlp.hook_post").toArray();
    const f = reference[name] as (x: number) => number;
    const worst = pre.reduce((m, x, i) => Math.max(m, Math.abs(f(x) - (post[i] as number))), 0);
    // float32 activations against float64 formulas: measured ≤ 5.9e-8
    console.log(`gpt2 ${name}: max |act(pre) − post| ${worst.toExponential(2)} (tol 5e-7)`);
    expect(worst).toBeLessThanOrEqual(5e-7);
    logits.set(name, r.output.toArray());
  });

  it("the three activations give three different models", () => {
    const [a, b, c] = ["relu", "gelu_new", "gelu"].map((n) => logits.get(n) ?? []);
    expect(a).not.toEqual(b);
    expect(b).not.toEqual(c);
    expect(a).not.toEqual(c);
  });
});

/** erf in float64 by its Maclaurin series, 2/√π Σ (−1)^n x^(2n+1) / (n! (2n+1)); |erf(x)| = 1 − 1.5e-12 at |x| = 5. */
function erf(x: number): number {
  const t = Math.abs(x);
  if (t >= 5) return Math.sign(x);
  let sum = 0;
  let term = t;
  for (let n = 0; n < 160; n++) {
    sum += term / (2 * n + 1);
    term *= (-t * t) / (n + 1);
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
}
