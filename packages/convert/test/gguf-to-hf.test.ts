// GGUF → Hugging Face: each tiny causal model goes HF → GGUF (ggufFromTiny, llama.cpp's layout) → ggufToHf and
// must come back as the checkpoint it started as: the same tensor names with bit-identical F32 values, a
// config.json that normalizes to the same ModelConfig, a tokenizer that encodes the same ids. Files that a
// Hugging Face folder cannot express, or that are broken, fail naming the file and the key or tensor.

import {
  bf16BitsToF32,
  decodeGgufTensor,
  encodeGguf,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  type GgufValue,
  type GgufWriteInput,
  parseGguf,
} from "@llmdbg/formats";
import { ggufTensorName, hfTensorName, normalizeHfConfig } from "@llmdbg/models";
import * as T from "@llmdbg/tensor";
import {
  ggufArchitectureOf,
  ggufFromTiny,
  regroupNeoxQkv,
  type TinyGgufOptions,
  type TinyModel,
  type TinyModelOptions,
  type TinyModelType,
  tinyModel,
} from "@llmdbg/testing";
import { expectFormatError } from "@llmdbg/testing/vitest";
import { loadHfTokenizer } from "@llmdbg/tokenizers";
import { describe, expect, it } from "vitest";
import { type GgufTensorSource, ggufToHf } from "../src/gguf-to-hf.js";
import { ungroupNeoxQkv } from "../src/layout.js";

const FILE = "tiny.gguf";

/** The GGUF bytes of `input`, opened as ggufToHf reads them. */
function source(input: GgufWriteInput | Uint8Array): GgufTensorSource {
  const bytes = input instanceof Uint8Array ? input : encodeGguf(input);
  const header = parseGguf(bytes, FILE);
  return {
    header,
    tensor(name) {
      const info = header.tensors.find((t) => t.name === name);
      if (info === undefined) throw new Error(`no tensor ${name}`);
      const at = header.dataOffset + info.offset;
      return decodeGgufTensor(info, bytes.subarray(at, at + info.byteSize), FILE);
    },
  };
}

/** `input` with some metadata replaced and tensors dropped or added. */
function edited(
  input: GgufWriteInput,
  meta: Record<string, GgufValue>,
  drop: (name: string) => boolean = () => false,
  add: GgufWriteInput["tensors"] = [],
): GgufWriteInput {
  return {
    metadata: { ...(input.metadata as Record<string, GgufValue>), ...meta },
    tensors: [...input.tensors.filter((t) => !drop(t.name)), ...add],
  };
}

const withoutSource = (c: ReturnType<typeof normalizeHfConfig>) => ({ ...c, source: undefined });

const TEXTS = [
  "hello world",
  "The quick brown fox jumps over the lazy dog.",
  "日本 ok 🦙 naïve café",
  "<|endoftext|>after the special token",
  "  leading spaces,\ttabs\nand newlines\n\n",
  "don't 123 4567 x=y+z",
];

const CASES: readonly { readonly name: string; readonly type: TinyModelType; readonly opts: TinyModelOptions }[] = [
  { name: "gpt2 (tied: llama.cpp writes output.weight as a copy of wte)", type: "gpt2", opts: {} },
  { name: "gpt2 with a padded vocabulary", type: "gpt2", opts: { padVocabTo: 64 } },
  { name: "llama, untied", type: "llama", opts: {} },
  { name: "llama, tied", type: "llama", opts: { tieEmbeddings: true } },
  { name: "llama with Llama 3 rope scaling (rope_freqs.weight)", type: "llama", opts: { ropeScaling: "llama3", nLayers: 3 } },
  { name: "qwen2 (tied, q/k/v biases)", type: "qwen2", opts: {} },
  { name: "qwen2, untied", type: "qwen2", opts: { tieEmbeddings: false } },
  { name: "gpt_neox", type: "gpt_neox", opts: {} },
  { name: "gpt_neox, tied, half the head rotated", type: "gpt_neox", opts: { tieEmbeddings: true, rotaryPct: 0.5 } },
];

describe("ggufToHf gives back the Hugging Face checkpoint ggufFromTiny started from", () => {
  for (const { name, type, opts } of CASES) {
    it(name, () => {
      const m = tinyModel(type, { seed: 11, ...opts });
      const hf = ggufToHf(source(ggufFromTiny(m)), FILE);

      // The same names: GGUF-only tensors (a duplicated tied output.weight, rope_freqs.weight) are gone again, and
      // what save_pretrained omits (lm_head / embed_out of a tied model) is not invented.
      expect(Object.keys(hf.weights).sort()).toEqual(Object.keys(m.weights).sort());
      for (const [k, want] of Object.entries(m.weights)) {
        const got = hf.weights[k] as T.Tensor;
        expect(got.shape, k).toEqual(want.shape);
        expect(Buffer.from((got.data as Float32Array).buffer).equals(Buffer.from((want.data as Float32Array).buffer)), k).toBe(
          true,
        );
      }
      expect(hf.dtype).toBe("F32");

      const got = normalizeHfConfig(JSON.parse(JSON.stringify(hf.config)), "original/config.json");
      expect(withoutSource(got)).toEqual(withoutSource(normalizeHfConfig(m.config, "original/config.json")));
      expect(got.source).toEqual(normalizeHfConfig(m.config, "original/config.json").source);
      expect(hf.generationConfig).toEqual({
        bos_token_id: m.config.bos_token_id,
        eos_token_id: m.config.eos_token_id,
      });

      const json = (v: unknown) => JSON.parse(JSON.stringify(v));
      const tok = loadHfTokenizer(json(hf.tokenizer), json(hf.tokenizerConfig), "tokenizer.json");
      const ref = loadHfTokenizer(m.tokenizer, m.tokenizerConfig, "original/tokenizer.json");
      for (const text of TEXTS) {
        expect(tok.encode(text), text).toEqual(ref.encode(text));
        expect(tok.decode(tok.encode(text))).toBe(ref.decode(ref.encode(text)));
      }
      expect(hf.tokenizerConfig?.tokenizer_class).toBe("PreTrainedTokenizerFast");
    });
  }

  it("an output.weight that differs from token_embd.weight becomes an untied lm_head.weight", () => {
    const m = tinyModel("gpt2", { seed: 6 });
    const head = T.randn([m.config.vocab_size as number, 32], 9, "f32");
    const input = ggufFromTiny(m);
    const untied = edited(input, {}, (n) => n === "output.weight", [{ name: "output.weight", tensor: head, type: "F32" }]);
    const hf = ggufToHf(source(untied), FILE);
    expect(hf.config.tie_word_embeddings).toBe(false);
    expect(Array.from(hf.weights["lm_head.weight"]?.data ?? [])).toEqual(Array.from(head.data));
  });

  it("a llama with a sliding window is Mistral's config", () => {
    const input = ggufFromTiny(tinyModel("llama", { seed: 6 }));
    const hf = ggufToHf(source(edited(input, { "llama.attention.sliding_window": { type: "u32", value: 16 } })), FILE);
    expect(hf.config).toMatchObject({ model_type: "mistral", architectures: ["MistralForCausalLM"], sliding_window: 16 });
    expect(normalizeHfConfig(hf.config, "config.json").slidingWindow).toEqual({ size: 16, fromLayer: 0 });
  });

  it("Meta's Llama 3.1 rope_scaling comes back from its rope_freqs.weight", () => {
    const base = tinyModel("llama", { seed: 2, ropeScaling: "llama3" });
    const rope_scaling = {
      factor: 8,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 8192,
      rope_type: "llama3",
    };
    const m: TinyModel = { ...base, config: { ...base.config, rope_theta: 500000, rope_scaling } };
    const hf = ggufToHf(source(ggufFromTiny(m)), FILE);
    expect(hf.config.rope_scaling).toEqual(rope_scaling);
    expect(hf.config.rope_theta).toBe(500000);
  });
});

describe("storage type", () => {
  /** `m` with every value rounded to F16, as an F16 checkpoint holds them. */
  const halved = (m: TinyModel): TinyModel => ({
    ...m,
    weights: Object.fromEntries(
      Object.entries(m.weights).map(([k, t]) => [
        k,
        T.fromTyped(
          (t.data as Float32Array).map((x) => f16BitsToF32(f32ToF16Bits(x))),
          t.shape,
          "f32",
        ),
      ]),
    ),
  });
  const convert = (m: TinyModel, opts: TinyGgufOptions) => ggufToHf(source(ggufFromTiny(m, opts)), FILE);

  it("F16 when the GGUF's weights are F16 and its F32 norms and biases hold F16 values", () => {
    const m = halved(tinyModel("qwen2", { seed: 4 }));
    const hf = convert(m, { type: "F16" });
    expect(hf.dtype).toBe("F16");
    expect(hf.config.torch_dtype).toBe("float16");
    for (const [k, t] of Object.entries(m.weights)) expect(Array.from(hf.weights[k]?.data ?? [])).toEqual(Array.from(t.data));
  });

  it("BF16 when the GGUF's weights are BF16 and its F32 tensors hold BF16 values", () => {
    const m = tinyModel("llama", { seed: 4 });
    const bf16 = (x: number) => bf16BitsToF32(f32ToBf16Bits(x));
    const rounded: TinyModel = {
      ...m,
      weights: Object.fromEntries(
        Object.entries(m.weights).map(([k, t]) => [k, T.fromTyped((t.data as Float32Array).map(bf16), t.shape, "f32")]),
      ),
    };
    // encodeGguf writes no BF16: write F16, then retype the 2-D tensors as BF16 (ggml type 30, also 2 bytes)
    const input = ggufFromTiny(rounded, { type: "F16" });
    const bytes = encodeGguf(input);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    for (const t of input.tensors.filter((x) => x.tensor.rank === 2)) {
      const name = new TextEncoder().encode(t.name);
      let at = -1;
      for (let i = 8; at < 0 && i < bytes.length; i++)
        if (view.getBigUint64(i - 8, true) === BigInt(name.length) && name.every((b, j) => bytes[i + j] === b)) at = i;
      const typeAt = at + name.length + 4 + 8 * t.tensor.rank;
      expect(view.getUint32(typeAt, true)).toBe(1); // F16
      view.setUint32(typeAt, 30, true);
    }
    const hf = ggufToHf(source(bytes), FILE);
    expect(hf.dtype).toBe("BF16");
    expect(hf.config.torch_dtype).toBe("bfloat16");
  });

  it("F32 when an F32 tensor holds a value F16 would round", () => {
    expect(convert(tinyModel("qwen2", { seed: 4 }), { type: "F16" }).dtype).toBe("F32");
  });

  it("quantized weights are dequantized (Q8_0) and kept F32", () => {
    const m = tinyModel("llama", { seed: 4 });
    const input = ggufFromTiny(m);
    const q8: GgufWriteInput = {
      metadata: input.metadata as Record<string, GgufValue>,
      tensors: input.tensors.map((t) => ({ ...t, type: t.tensor.rank === 2 ? "Q8_0" : t.type })),
    };
    const hf = ggufToHf(source(q8), FILE);
    expect(hf.dtype).toBe("F32");
    const w = m.weights["model.layers.0.self_attn.q_proj.weight"] as T.Tensor;
    const got = hf.weights["model.layers.0.self_attn.q_proj.weight"] as T.Tensor;
    const err = Array.from(w.data).reduce((e, x, i) => Math.max(e, Math.abs(x - (got.data[i] as number))), 0);
    expect(err).toBeGreaterThan(0);
    expect(err).toBeLessThan(0.01); // Q8_0: a step of max|x| / 127 per block of 32, in HF row order after unpermuting
  });
});

describe("names and layouts", () => {
  it("hfTensorName reads ggufTensorName's table backwards", () => {
    for (const type of ["gpt2", "llama", "qwen2", "gpt_neox"] as const) {
      const arch = ggufArchitectureOf(type);
      for (const name of Object.keys(tinyModel(type, { tieEmbeddings: false }).weights)) {
        const g = ggufTensorName(arch, name);
        expect(g, name).toBeDefined();
        expect(hfTensorName(arch, g as string)).toBe(name);
      }
    }
    expect(hfTensorName("llama", "rope_freqs.weight")).toBeUndefined(); // Hugging Face keeps it in config.json
    expect(hfTensorName("llama", "blk.0.attn_qkv.weight")).toBeUndefined();
    expect(hfTensorName("gptneox", "output.weight")).toBe("embed_out.weight");
  });

  it("ungroupNeoxQkv undoes regroupNeoxQkv", () => {
    const w = T.randn([3 * 4 * 8, 5], 1, "f32");
    expect(Array.from(ungroupNeoxQkv(regroupNeoxQkv(w, 4), 4).data)).toEqual(Array.from(w.data));
    const b = T.randn([3 * 2 * 4], 2, "f32");
    expect(Array.from(ungroupNeoxQkv(regroupNeoxQkv(b, 2), 2).data)).toEqual(Array.from(b.data));
  });
});

describe("errors name the file and the key or tensor", () => {
  const llama = ggufFromTiny(tinyModel("llama", { seed: 1, ropeScaling: "llama3" }));
  const convert = (input: GgufWriteInput) => () => ggufToHf(source(input), FILE);

  it("an architecture llama.cpp has but this reader does not", () => {
    const input = edited(llama, { "general.architecture": { type: "string", value: "falcon" } });
    expectFormatError(convert(input), FILE, "general.architecture", /unsupported architecture "falcon"/);
  });

  it("a tensor the model needs is missing", () => {
    const input = edited(llama, {}, (n) => n === "blk.1.attn_k.weight");
    expectFormatError(convert(input), FILE, 'tensor "blk.1.attn_k.weight"', /missing/);
  });

  it("a tensor with the wrong shape", () => {
    const bad = { name: "blk.0.ffn_up.weight", tensor: T.zeros([7, 32], "f32"), type: "F32" as const };
    const input = edited(llama, {}, (n) => n === bad.name, [bad]);
    expectFormatError(convert(input), FILE, 'tensor "blk.0.ffn_up.weight"', /expected shape/);
  });

  it("a tensor the architecture does not read would be dropped", () => {
    const extra = { name: "blk.0.attn_q_norm.weight", tensor: T.ones([8], "f32"), type: "F32" as const };
    expectFormatError(convert(edited(llama, {}, () => false, [extra])), FILE, 'tensor "blk.0.attn_q_norm.weight"', /drop/);
  });

  it("rope factors that follow no Llama 3 rope_scaling", () => {
    const odd = { name: "rope_freqs.weight", tensor: T.tensor([1, 3, 2, 5], [4], "f32"), type: "F32" as const };
    const input = edited(llama, {}, (n) => n === odd.name, [odd]);
    expectFormatError(convert(input), FILE, 'tensor "rope_freqs.weight"', /no Llama 3 rope_scaling/);
  });

  it("a Llama rotating part of each head", () => {
    const input = edited(llama, { "llama.rope.dimension_count": { type: "u32", value: 4 } }, (n) => n === "rope_freqs.weight");
    expectFormatError(convert(input), FILE, "llama.rope.dimension_count", /whole heads/);
  });

  it("a Qwen2 without its q/k/v biases", () => {
    const qwen = ggufFromTiny(tinyModel("qwen2", { seed: 1 }));
    const input = edited(qwen, {}, (n) => /attn_[qkv]\.bias$/.test(n));
    expectFormatError(convert(input), FILE, 'tensor "blk.0.attn_q.bias"', /Qwen2 always has it/);
  });
});
