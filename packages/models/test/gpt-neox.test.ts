// GPT-NeoX on the tiny generated checkpoint: every declared hook fires once with its declared rank (parallel and
// sequential residual), an identity intervention is bit-identical, the loss gradient matches finite differences,
// the PyTorch reference (tools/reference/gpt_neox.py) agrees on logits, every hook and the embedding gradient,
// the GGUF layout (q/k/v regrouped to [q; k; v]) gives the same logits, the KV cache and left padding change
// nothing, and a missing tensor is named.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "@llmdbg/core";
import { encodeGguf, ggufTensor, ModelFormatError, parseGguf, parseJsonStrict } from "@llmdbg/formats";
import type { Tensor } from "@llmdbg/tensor";
import * as T from "@llmdbg/tensor";
import { ggufFromTiny, tinyModel } from "@llmdbg/testing";
import * as arch from "@llmdbg/testing/vitest";
import { afterAll, describe, expect, it } from "vitest";
import { memoryWeights, type WeightSource } from "../src/arch/common.js";
import { gptNeox } from "../src/arch/gpt-neox.js";
import { type ModelConfig, normalizeHfConfig } from "../src/config.js";
import { normalizeGgufConfig } from "../src/config-gguf.js";

// vs the float64 PyTorch golden, measured worst over the three variants: activations 5.2e-7 of their scale, gradient
// 5.8e-7, loss 8.1e-8 (one float32 ulp); bounds at 6–7×.
const GOLDEN = new URL("./golden/", import.meta.url);
// the fused kernels (norms, attention) against the primitives that expose every hook: max|Δlogits|/max|logit|
const PATH_TOL = 1e-6; // measured ≤ 4.4e-7 over the four architectures
const TOL: arch.GoldenTolerances = { activation: 3e-6, grad: 4e-6, loss: 5e-7 };
const dir = mkdtempSync(join(tmpdir(), "llmdbg-gpt-neox-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const { config, weights } = arch.writeAndReadTiny(dir, "gpt_neox", { seed: 0 });
const model = gptNeox(config, weights);
// tinyModel writes use_parallel_residual: true only; the sequential block is the same weights with the flag off
const sequential = gptNeox({ ...config, parallelResidual: false }, weights);
const rotary = config.positional.kind === "rotary" ? config.positional : undefined;
if (rotary === undefined) throw new Error("the tiny gpt_neox config has no rotary positions");
// 2 rotary dims cannot tell rotate-half from interleaved pairs, nor see the base: the golden adds a 4-dim run
const rotary4 = gptNeox({ ...config, positional: { ...rotary, rotaryDim: 4 } }, weights);
const ids = T.tensor([3, 17, 42, 5, 99, 7, 250, 11], [1, 8], "i32");
const V = config.vocabSize;

/** Σₚ log_softmax(logits)[0, p, targets[p]]: the golden's loss (summed target log-probabilities). */
const nextTokenLoss = (targets: readonly number[]) => (out: Tensor) => arch.targetLogProb(out, targets);

describe("gpt_neox architecture", () => {
  it.each([
    ["parallel", model, 18],
    ["sequential", sequential, 19],
  ] as const)("fires every declared hook once with its declared rank (%s residual)", (_mode, m, perBlock) => {
    const { cache, ctx, output } = arch.runFiringEveryHook(m, ids);
    expect(output.shape).toEqual([1, 8, V]);
    expect(m.hookPoints.length).toBe(4 + config.nLayers * perBlock);
    expect(m.hookPoints.some((p) => p.name === "blocks.0.hook_resid_mid")).toBe(!m.config.parallelResidual);
    expect(ctx.firedCounts().size).toBe(m.hookPoints.length);
    // rotary touches only the leading rotaryDim dims of each head
    const q = cache.get("blocks.0.attn.hook_q").toArray();
    const rq = cache.get("blocks.0.attn.hook_rot_q").toArray();
    const Dh = config.dHead;
    for (let i = 0; i < q.length; i++) if (i % Dh >= rotary.rotaryDim) expect(rq[i]).toBe(q[i]);
    expect(rq.slice(Dh * config.nHeads, 2 * Dh * config.nHeads)).not.toEqual(q.slice(Dh * config.nHeads, 2 * Dh * config.nHeads));
  });

  it("an identity intervention leaves the logits bit-identical", () => {
    arch.expectIdentityInterventionsExact(model, ids, ["blocks.1.attn.hook_rot_k"]);
    arch.expectIdentityInterventionsExact(sequential, ids, ["blocks.1.hook_resid_mid"]);
  });

  it("the gradient of a next-token loss w.r.t. the embeddings matches finite differences", () => {
    const loss = nextTokenLoss([17, 42, 5, 99, 7, 250, 11, 3]);
    for (const [mode, m] of [
      ["parallel", model],
      ["sequential", sequential],
    ] as const) {
      // f32 model: a large step keeps rounding noise below the curvature error. The f32 loss (≈ −47) moves in ulps
      // of ≈ 4e-6, so the quotient carries ≈ 4e-4 of rounding noise: small gradients (element 130 is ≈ 0.018) are
      // judged against a 0.05 floor instead of themselves
      const worst = arch.embeddingGradFdError(m, ids, { hook: "hook_embed", loss, step: 1e-2, floor: 0.05 });
      console.log(
        `gpt_neox (${mode}) embedding gradient vs finite differences (f32): worst relative error ${worst.toExponential(2)}`,
      );
      expect(worst).toBeLessThan(5e-3);
    }
  });

  // the golden's variants of the same weights: the config's own under bare names, the others under a prefix
  const variants = [
    ["parallel residual, rotary dims 2", "", model],
    ["sequential residual", "sequential.", sequential],
    ["rotary dims 4", "rotary_dim_4.", rotary4],
  ] as const;
  it.each(variants)(
    "matches the PyTorch reference (tools/reference/gpt_neox.py), %s: logits, every hook, embedding gradient",
    (label, prefix, m) => {
      const golden = arch.readGolden(GOLDEN, "gpt_neox-tiny");
      expect(golden.metadata.input_ids).toBe("[[3,17,42,5,99,7,250,11]]");
      const targets = JSON.parse(golden.metadata.targets ?? "[]") as number[];
      const result = run(m, ids, { cache: true, grads: { hooks: ["hook_embed"], loss: nextTokenLoss(targets) } });
      arch.compareWithGolden(m, result, golden, { label: `gpt_neox (${label})`, gradHook: "hook_embed", tol: TOL, prefix });
      const fused = {
        label: `gpt_neox (${label})`,
        gradHook: "hook_embed",
        loss: nextTokenLoss(targets),
        tol: TOL,
        pathTol: PATH_TOL,
      };
      arch.compareFusedWithGolden(m, ids, golden, { ...fused, prefix });
      // the golden holds nothing this variant does not declare (e.g. no resid_mid for the parallel residual)
      const declared = new Set([...m.hookPoints.map((p) => p.name), "logits", "grad.hook_embed", "loss"]);
      const others = variants.map((v) => v[1]).filter((p) => p !== "" && p !== prefix);
      const ours = golden.entries.map((e) => e.name).filter((n) => n.startsWith(prefix) && !others.some((p) => n.startsWith(p)));
      expect(ours.map((n) => n.slice(prefix.length)).filter((n) => !declared.has(n))).toEqual([]);
    },
  );

  it.each([false, true])("the GGUF layout (attn_qkv rows [q; k; v]) gives the HF-layout logits (tied embeddings: %s)", (tied) => {
    const tiny = tinyModel("gpt_neox", { seed: 0, tieEmbeddings: tied });
    const hfConfig = normalizeHfConfig(parseJsonStrict(JSON.stringify(tiny.config)), "config.json");
    const hfSource: WeightSource = memoryWeights(tiny.weights);
    const hf = gptNeox(hfConfig, hfSource);

    const file = "tiny.gguf";
    const bytes = encodeGguf(ggufFromTiny(tiny));
    const gguf = parseGguf(bytes, file);
    const names = new Set(gguf.tensors.map((t) => t.name));
    const gc = normalizeGgufConfig(gguf.metadata, file, names);
    expect(gc.qkvLayout).toBe("fused");
    expect(gc.tiedEmbeddings).toBe(tied);
    const fromGguf = gptNeox(
      gc,
      ggufSource(names, (n) => ggufTensor(gguf, bytes, n, file)),
      file,
    );

    const a = run(hf, ids).output;
    const b = run(fromGguf, ids).output;
    const d = arch.maxDiff(b, a, "logits");
    arch.expectWithin(`gpt_neox GGUF vs HF layout (tied ${tied}), max |Δlogits|`, d, 1e-6); // measured 0: the same products, split differently
  });

  it.each([
    ["parallel", model],
    ["sequential", sequential],
  ] as const)("a KV cache (positions 0..5, then 6..7) gives the one-pass logits (%s)", (mode, m) => {
    const { prefill, step } = arch.kvCacheDiffs(m, ids, 6);
    arch.expectWithin(`gpt_neox (${mode}) KV cache prefill vs one pass, max |Δlogits|`, prefill, 1e-5); // measured ≤ 1.6e-6
    arch.expectWithin(`gpt_neox (${mode}) KV cache step vs one pass, max |Δlogits|`, step, 1e-5); // measured ≤ 2.0e-6
  });

  it("a left-padded batch gives each prompt's own logits at its real positions", () => {
    const prompts = [
      [3, 17, 42, 5, 99, 7, 250, 11],
      [42, 5, 99],
      [7, 250, 11, 3, 17],
    ];
    arch.expectWithin(
      "gpt_neox left-padded batch vs each prompt alone, max |Δlogits|",
      arch.paddedBatchDiff(model, prompts, "left", 0),
      1e-5,
    ); // measured 1.4e-6
  });

  it("a missing tensor is a ModelFormatError naming it", () => {
    const without = (name: string): WeightSource => ({
      has: (k) => k !== name && weights.has(k),
      load: (k) => weights.load(k),
      keys: () => weights.keys().filter((k) => k !== name),
    });
    expect(() => gptNeox(config, without("gpt_neox.layers.1.mlp.dense_h_to_4h.bias"))).toThrow(ModelFormatError);
    expect(() => gptNeox(config, without("gpt_neox.layers.1.mlp.dense_h_to_4h.bias"))).toThrow(
      /layers\.1\.mlp\.dense_h_to_4h\.bias: missing tensor/,
    );
    expect(() => gptNeox(config, without("embed_out.weight"))).toThrow(/embed_out\.weight: missing tensor/);
    // tied models never read embed_out: they unembed with embed_in
    const tied = gptNeox({ ...config, tiedEmbeddings: true }, without("embed_out.weight"));
    const r = run(tied, ids, { cache: ["ln_final.hook_normalized"] });
    const embedIn = weights.load("gpt_neox.embed_in.weight"); // [d_vocab, d_model]
    const want = T.matmul(r.cache.get("ln_final.hook_normalized"), embedIn, { transB: true }); // [1, pos, d_vocab]
    expect(arch.maxDiff(r.output, want, "tied logits")).toBe(0);
  });

  it("config fields it does not implement are ModelFormatErrors naming the field", () => {
    const bad = (c: Partial<ModelConfig>) => () => gptNeox({ ...config, ...c }, weights);
    expect(bad({ qkvLayout: "separate" })).toThrow(/\(qkvLayout\): .*"separate"/);
    expect(bad({ gatedMlp: true })).toThrow(/gatedMlp/);
    expect(bad({ nKvHeads: 2 })).toThrow(/nKvHeads/);
    expect(bad({ positional: { kind: "learned" } })).toThrow(/positional/);
  });
});

/**
 * A GGUF file's tensors under the Hugging Face names gptNeox reads (llama.cpp's gguf-py names for GPT-NeoX).
 * Local to this test: the product's mapping is gguf-names.ts.
 */
function ggufSource(names: ReadonlySet<string>, load: (ggufName: string) => Tensor): WeightSource {
  const rename = (hf: string): string | undefined => {
    const top: Record<string, string> = {
      "gpt_neox.embed_in.weight": "token_embd.weight",
      "gpt_neox.final_layer_norm.weight": "output_norm.weight",
      "gpt_neox.final_layer_norm.bias": "output_norm.bias",
      "embed_out.weight": "output.weight",
    };
    if (hf in top) return top[hf];
    const m = /^gpt_neox\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(hf);
    const part: Record<string, string> = {
      input_layernorm: "attn_norm",
      "attention.query_key_value": "attn_qkv",
      "attention.dense": "attn_output",
      post_attention_layernorm: "ffn_norm",
      "mlp.dense_h_to_4h": "ffn_up",
      "mlp.dense_4h_to_h": "ffn_down",
    };
    const g = m === null ? undefined : part[m[2] as string];
    return m === null || g === undefined ? undefined : `blk.${m[1]}.${g}.${m[3]}`;
  };
  return {
    has: (k) => {
      const g = rename(k);
      return g !== undefined && names.has(g);
    },
    load: (k) => load(rename(k) as string),
    keys: () => [...names],
    storedName: (k) => rename(k) ?? k,
  };
}
