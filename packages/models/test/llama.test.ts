// The Llama family on tiny generated checkpoints (Llama with Llama 3 rope scaling and GQA; Qwen2 with q/k/v
// biases and a tied unembedding): every declared hook fires once with its declared rank, an identity
// intervention is bit-identical, the loss gradient matches finite differences, the activations match the
// PyTorch reference, llama.cpp's GGUF layout gives the same logits, and the KV cache, left padding and a
// sliding window behave as one full pass would.
import { run } from "@llmdbg/core";
import { encodeGguf, ggufTensor, ModelFormatError, parseGguf } from "@llmdbg/formats";
import type { Tensor } from "@llmdbg/tensor";
import * as T from "@llmdbg/tensor";
import { ggufFromTiny, type TinyModel, type TinyModelOptions, type TinyModelType, tinyModel } from "@llmdbg/testing";
import * as arch from "@llmdbg/testing/vitest";
import { describe, expect, it } from "vitest";
import { memoryWeights, type WeightSource } from "../src/arch/common.js";
import { llama } from "../src/arch/llama.js";
import { normalizeHfConfig } from "../src/config.js";
import { normalizeGgufConfig } from "../src/config-gguf.js";

// vs the float64 PyTorch goldens, measured worst over llama and qwen2: activations 2.9e-7 of their scale, gradient
// 4.6e-7, loss 0 (within one float32 ulp, 8.5e-8); bounds at 6–7×.
const GOLDEN = new URL("./golden/", import.meta.url);
// the fused kernels (norms, attention) against the primitives that expose every hook: max|Δlogits|/max|logit|
const PATH_TOL = 1e-6; // measured ≤ 4.4e-7 over the four architectures
const TOL: arch.GoldenTolerances = { activation: 2e-6, grad: 3e-6, loss: 5e-7 };
const memory = (w: Record<string, Tensor>): WeightSource => memoryWeights(w);

function build(type: TinyModelType, opts: TinyModelOptions) {
  const tiny = tinyModel(type, opts);
  const config = normalizeHfConfig(tiny.config, "config.json");
  const weights = memory(tiny.weights);
  return { tiny, config, weights, model: llama(config, weights) };
}

const { tiny, config, weights, model } = build("llama", { seed: 0, ropeScaling: "llama3" });
const qwen = build("qwen2", { seed: 0 });
const ids = T.tensor([3, 17, 42, 5, 99, 7, 250, 11], [1, 8], "i32");
const targets = [17, 42, 5, 99, 7, 250, 11, 3];
const V = config.vocabSize;

/** Σₚ log p(targets[p]) over the 8 positions of batch 0: the loss the goldens record. */
const loss = (out: Tensor): Tensor => arch.targetLogProb(out, targets);

/** Rows `from..from+len` of logits [batch, pos, d_vocab] for batch row `b`, as [len, d_vocab]. */
const rows = (t: Tensor, b: number, from: number, len: number): Tensor =>
  T.reshape(T.narrow(T.narrow(t, 0, b, 1), 1, from, len), [len, t.shape[2] as number]);

describe("llama architecture", () => {
  it("fires every declared hook once with its declared rank", () => {
    const { cache, output } = arch.runFiringEveryHook(model, ids);
    expect(output.shape).toEqual([1, 8, V]);
    expect(model.hookPoints.length).toBe(4 + config.nLayers * 20);
    expect(model.hookPoints.some((p) => p.name === "hook_pos_embed")).toBe(false);
    // grouped-query attention: keys and values keep their nKvHeads heads, queries and z have nHeads
    expect(config.nKvHeads).toBeLessThan(config.nHeads);
    expect(cache.get("blocks.0.attn.hook_rot_k").shape).toEqual([1, 8, config.nKvHeads, config.dHead]);
    expect(cache.get("blocks.0.attn.hook_v").shape).toEqual([1, 8, config.nKvHeads, config.dHead]);
    expect(cache.get("blocks.0.attn.hook_z").shape).toEqual([1, 8, config.nHeads, config.dHead]);
    expect(cache.get("blocks.0.mlp.hook_pre_linear").shape).toEqual([1, 8, config.dMlp]);
  });

  it("an identity intervention leaves the logits bit-identical", () => {
    arch.expectIdentityInterventionsExact(model, ids, ["blocks.1.attn.hook_rot_k"]);
  });

  it("the gradient of a next-token loss w.r.t. the embeddings matches finite differences", () => {
    // f32 model: a large step keeps rounding noise below the curvature error
    const worst = arch.embeddingGradFdError(model, ids, { hook: "hook_embed", loss, step: 1e-2, floor: 1e-3 });
    console.log(`llama embedding gradient vs finite differences (f32): worst relative error ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(5e-3);
  });

  it.each([
    ["llama", model],
    ["qwen2", qwen.model],
  ])("%s matches the PyTorch reference (tools/reference/llama.py): logits, every hook, the embedding gradient", (name, m) => {
    const golden = arch.readGolden(GOLDEN, `${name}-tiny`);
    expect(golden.metadata.input_ids).toBe("[[3,17,42,5,99,7,250,11]]");
    expect(golden.metadata.model_type).toBe(name);
    expect(JSON.parse(golden.metadata.targets ?? "[]")).toEqual(targets);
    const result = run(m, ids, { cache: true, grads: { hooks: ["hook_embed"], loss } });
    arch.compareWithGolden(m, result, golden, { label: name, gradHook: "hook_embed", tol: TOL });
    arch.compareFusedWithGolden(m, ids, golden, { label: name, gradHook: "hook_embed", loss, tol: TOL, pathTol: PATH_TOL });
  });

  // A local HF → GGUF name map (the product's lives in gguf-names.ts); what it proves is the layout: llama.cpp's
  // permuted q/k rows undone by interleaved rope, and rope_freqs.weight equal to the llama3 scaling.
  const ggufName = (k: string): string => {
    const bare = k.replace(/^model\./, "");
    const top: Record<string, string> = {
      "embed_tokens.weight": "token_embd.weight",
      "norm.weight": "output_norm.weight",
      "lm_head.weight": "output.weight",
    };
    const m = /^layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(bare);
    if (m === null) return top[bare] ?? bare;
    const part: Record<string, string> = {
      input_layernorm: "attn_norm",
      "self_attn.q_proj": "attn_q",
      "self_attn.k_proj": "attn_k",
      "self_attn.v_proj": "attn_v",
      "self_attn.o_proj": "attn_output",
      post_attention_layernorm: "ffn_norm",
      "mlp.gate_proj": "ffn_gate",
      "mlp.up_proj": "ffn_up",
      "mlp.down_proj": "ffn_down",
    };
    return `blk.${m[1]}.${part[m[2] as string] ?? m[2]}.${m[3]}`;
  };

  it.each([
    ["llama", tiny, model],
    ["qwen2", qwen.tiny, qwen.model],
  ] as [string, TinyModel, typeof model][])(
    "%s from llama.cpp's GGUF layout gives the Hugging Face logits",
    (name, t, hfModel) => {
      const bytes = encodeGguf(ggufFromTiny(t));
      const file = `${name}.gguf`;
      const gguf = parseGguf(bytes, file);
      const names = new Set(gguf.tensors.map((x) => x.name));
      const ggufConfig = normalizeGgufConfig(gguf.metadata, file, names);
      const source: WeightSource = {
        has: (k) => names.has(ggufName(k)),
        load: (k) => ggufTensor(gguf, bytes, ggufName(k), file),
        keys: () => [...names],
        storedName: ggufName,
      };
      const rope = ggufConfig.positional;
      if (name === "llama") {
        expect(rope).toMatchObject({ kind: "rotary", interleaved: true, scaling: { kind: "freqFactors" } });
        // the permutation matters: the same weights read as rotate-half pairs give other logits
        const wrong = llama({ ...ggufConfig, positional: { ...rope, interleaved: false } as typeof rope }, source, file);
        expect(arch.maxDiff(run(wrong, ids).output, run(hfModel, ids).output, "logits")).toBeGreaterThan(1e-3);
      } else {
        expect(rope).toMatchObject({ kind: "rotary", interleaved: false, scaling: { kind: "none" } });
        expect(ggufConfig.qkvBias && ggufConfig.tiedEmbeddings).toBe(true);
      }
      const d = arch.maxDiff(run(llama(ggufConfig, source, file), ids).output, run(hfModel, ids).output, "logits");
      arch.expectWithin(`${name}: GGUF layout vs Hugging Face layout, max |Δlogits|`, d, 5e-6); // measured 7.8e-7 (llama: interleaved rope reorders the sums), 0 (qwen2)
    },
  );

  it("a KV cache gives the logits of one full pass", () => {
    // the prefill unembeds only its last position, as generation does
    const { prefill, step } = arch.kvCacheDiffs(model, ids, 6, "last");
    arch.expectWithin("llama KV cache prefill (6 tokens) vs one pass, max |Δlogits|", prefill, 5e-6); // measured 4.8e-7
    arch.expectWithin("llama KV cache step (2 tokens) vs one pass, max |Δlogits|", step, 5e-6); // measured 7.2e-7
  });

  it("a left-padded batch gives each prompt's own logits at its real positions", () => {
    const prompts = [
      [3, 17, 42, 5, 99, 7],
      [250, 11, 9],
    ];
    for (const [name, m] of [
      ["llama", model],
      ["qwen2", qwen.model],
    ] as const) {
      arch.expectWithin(
        `${name} left-padded batch vs each prompt alone, max |Δlogits|`,
        arch.paddedBatchDiff(m, prompts, "left", 0),
        5e-6,
      ); // measured 9.5e-7
    }
  });

  it("a sliding window hides keys beyond it and changes only the later positions", () => {
    const sw = llama({ ...config, slidingWindow: { size: 3, fromLayer: 0 } }, weights);
    const full = run(model, ids, { cache: true }).output; // the same (primitive) path as the run below
    const { output, cache } = run(sw, ids, { cache: true });
    expect(arch.maxDiff(rows(output, 0, 0, 3), rows(full, 0, 0, 3), "first 3")).toBe(0);
    for (let p = 3; p < 8; p++)
      expect(arch.maxDiff(rows(output, 0, p, 1), rows(full, 0, p, 1), `pos ${p}`)).toBeGreaterThan(1e-4);
    for (let l = 0; l < config.nLayers; l++) {
      const pat = cache.at("attn.hook_pattern", l); // [1, head, 8, 8]
      const d = pat.data;
      for (let h = 0; h < config.nHeads; h++)
        for (let q = 0; q < 8; q++) {
          let sum = 0;
          for (let k = 0; k < 8; k++) {
            const v = d[(h * 8 + q) * 8 + k] as number;
            sum += v;
            if (k > q || q - k >= 3) expect(v, `layer ${l} head ${h} query ${q} key ${k}`).toBe(0);
            else expect(v).toBeGreaterThan(0);
          }
          expect(Math.abs(sum - 1)).toBeLessThan(1e-6);
        }
    }
  });

  it("a missing tensor is a ModelFormatError naming it", () => {
    const missing = "model.layers.1.mlp.up_proj.weight";
    const w = { ...tiny.weights };
    delete w[missing];
    expect(() => llama(config, memory(w))).toThrow(ModelFormatError);
    expect(() => llama(config, memory(w))).toThrow(/layers\.1\.mlp\.up_proj\.weight: missing tensor/);
    const noBias = { ...qwen.tiny.weights };
    delete noBias["model.layers.0.self_attn.k_proj.bias"];
    expect(() => llama(qwen.config, memory(noBias))).toThrow(/layers\.0\.self_attn\.k_proj\.bias: missing tensor/);
  });
});
