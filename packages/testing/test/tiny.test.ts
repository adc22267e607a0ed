// The tiny-model fixture generator: every model type written as a Hugging Face folder and read back with the
// project's own readers, checked against shape tables written here from the normalized ModelConfig; the GGUF
// variants checked against the HF weights through llama.cpp's documented layout changes.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type GgufValue, openGguf, readSafetensors, readShardedSafetensors } from "@llmdbg/formats";
import { type ModelConfig, normalizeGgufConfig, normalizeHfConfig } from "@llmdbg/models";
import type { Tensor } from "@llmdbg/tensor";
import { loadTokenizerFromFolder, readJsonFile } from "@llmdbg/tokenizers";
import { afterAll, describe, expect, it } from "vitest";
import { TINY_MODEL_TYPES, type TinyModel, type TinyModelType, tinyModel, unpermuteForInterleavedRope } from "../src/tiny.js";
import { writeTinyGguf, writeTinyModel } from "../src/tiny-node.js";

const root = mkdtempSync(join(tmpdir(), "llmdbg-tiny-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string) => join(root, `${name}-${n++}`);

const f32 = (t: Tensor) => Float32Array.from(t.data as ArrayLike<number>);

/** Every tensor save_pretrained writes for the model, with its shape, from the normalized config alone. */
function expectedShapes(type: TinyModelType, c: ModelConfig): Record<string, readonly number[]> {
  const s: Record<string, readonly number[]> = {};
  const d = c.dModel;
  const L = c.nLayers;
  const ln = (p: string) => {
    s[`${p}.weight`] = [d];
    s[`${p}.bias`] = [d];
  };
  if (type === "gpt2") {
    s["transformer.wte.weight"] = [c.vocabSize, d];
    s["transformer.wpe.weight"] = [c.maxPositions, d];
    for (let i = 0; i < L; i++) {
      const p = `transformer.h.${i}`;
      ln(`${p}.ln_1`);
      ln(`${p}.ln_2`);
      s[`${p}.attn.c_attn.weight`] = [d, 3 * d];
      s[`${p}.attn.c_attn.bias`] = [3 * d];
      s[`${p}.attn.c_proj.weight`] = [d, d];
      s[`${p}.attn.c_proj.bias`] = [d];
      s[`${p}.mlp.c_fc.weight`] = [d, c.dMlp];
      s[`${p}.mlp.c_fc.bias`] = [c.dMlp];
      s[`${p}.mlp.c_proj.weight`] = [c.dMlp, d];
      s[`${p}.mlp.c_proj.bias`] = [d];
    }
    ln("transformer.ln_f");
  } else if (type === "llama" || type === "qwen2") {
    const q = c.nHeads * c.dHead;
    const kv = c.nKvHeads * c.dHead;
    s["model.embed_tokens.weight"] = [c.vocabSize, d];
    for (let i = 0; i < L; i++) {
      const p = `model.layers.${i}`;
      s[`${p}.input_layernorm.weight`] = [d];
      s[`${p}.post_attention_layernorm.weight`] = [d];
      s[`${p}.self_attn.q_proj.weight`] = [q, d];
      s[`${p}.self_attn.k_proj.weight`] = [kv, d];
      s[`${p}.self_attn.v_proj.weight`] = [kv, d];
      s[`${p}.self_attn.o_proj.weight`] = [d, q];
      if (c.qkvBias) {
        s[`${p}.self_attn.q_proj.bias`] = [q];
        s[`${p}.self_attn.k_proj.bias`] = [kv];
        s[`${p}.self_attn.v_proj.bias`] = [kv];
      }
      s[`${p}.mlp.gate_proj.weight`] = [c.dMlp, d];
      s[`${p}.mlp.up_proj.weight`] = [c.dMlp, d];
      s[`${p}.mlp.down_proj.weight`] = [d, c.dMlp];
    }
    s["model.norm.weight"] = [d];
    if (!c.tiedEmbeddings) s["lm_head.weight"] = [c.vocabSize, d];
  } else if (type === "gpt_neox") {
    s["gpt_neox.embed_in.weight"] = [c.vocabSize, d];
    for (let i = 0; i < L; i++) {
      const p = `gpt_neox.layers.${i}`;
      ln(`${p}.input_layernorm`);
      ln(`${p}.post_attention_layernorm`);
      s[`${p}.attention.query_key_value.weight`] = [3 * d, d];
      s[`${p}.attention.query_key_value.bias`] = [3 * d];
      s[`${p}.attention.dense.weight`] = [d, d];
      s[`${p}.attention.dense.bias`] = [d];
      s[`${p}.mlp.dense_h_to_4h.weight`] = [c.dMlp, d];
      s[`${p}.mlp.dense_h_to_4h.bias`] = [c.dMlp];
      s[`${p}.mlp.dense_4h_to_h.weight`] = [d, c.dMlp];
      s[`${p}.mlp.dense_4h_to_h.bias`] = [d];
    }
    ln("gpt_neox.final_layer_norm");
    if (!c.tiedEmbeddings) s["embed_out.weight"] = [c.vocabSize, d];
  } else {
    s["bert.embeddings.word_embeddings.weight"] = [c.vocabSize, d];
    s["bert.embeddings.position_embeddings.weight"] = [c.maxPositions, d];
    s["bert.embeddings.token_type_embeddings.weight"] = [c.typeVocabSize, d];
    ln("bert.embeddings.LayerNorm");
    for (let i = 0; i < L; i++) {
      const p = `bert.encoder.layer.${i}`;
      for (const x of ["query", "key", "value"]) {
        s[`${p}.attention.self.${x}.weight`] = [d, d];
        s[`${p}.attention.self.${x}.bias`] = [d];
      }
      s[`${p}.attention.output.dense.weight`] = [d, d];
      s[`${p}.attention.output.dense.bias`] = [d];
      ln(`${p}.attention.output.LayerNorm`);
      s[`${p}.intermediate.dense.weight`] = [c.dMlp, d];
      s[`${p}.intermediate.dense.bias`] = [c.dMlp];
      s[`${p}.output.dense.weight`] = [d, c.dMlp];
      s[`${p}.output.dense.bias`] = [d];
      ln(`${p}.output.LayerNorm`);
    }
    s["bert.pooler.dense.weight"] = [d, d];
    s["bert.pooler.dense.bias"] = [d];
    const labels = c.classifier?.labels.length ?? 0;
    s["classifier.weight"] = [labels, d];
    s["classifier.bias"] = [labels];
  }
  return s;
}

const SENTENCE = "The quick brown fox jumps over the lazy dog, then sleeps.";

describe.each(TINY_MODEL_TYPES)("tiny %s", (type) => {
  const folder = fresh(type);
  const model = writeTinyModel(folder, type, { seed: 7 });
  const cfg = normalizeHfConfig(readJsonFile(join(folder, "config.json")), join(folder, "config.json"));

  it("writes a config.json that normalizeHfConfig accepts", () => {
    expect(cfg.source).toEqual({ format: "hf", modelType: type, file: join(folder, "config.json") });
    expect(cfg.nLayers).toBe(2);
    expect(cfg.maxPositions).toBe(64);
    expect(cfg.dModel).toBeGreaterThanOrEqual(16);
    expect(cfg.dModel).toBeLessThanOrEqual(32);
    expect(cfg.nHeads).toBeGreaterThanOrEqual(2);
    expect(cfg.vocabSize).toBeGreaterThanOrEqual(64);
    expect(cfg.vocabSize).toBeLessThanOrEqual(300);
    if (type === "llama" || type === "qwen2") expect(cfg.nKvHeads).toBeLessThan(cfg.nHeads);
    if (type === "qwen2") expect([cfg.qkvBias, cfg.oBias, cfg.tiedEmbeddings]).toEqual([true, false, true]);
    if (type === "llama") expect([cfg.qkvBias, cfg.tiedEmbeddings]).toEqual([false, false]);
    if (type === "gpt2") expect([cfg.tiedEmbeddings, cfg.weightLayout, cfg.dMlp]).toEqual([true, "in_out", 4 * cfg.dModel]);
    if (type === "gpt_neox") {
      expect(cfg.parallelResidual).toBe(true);
      expect(cfg.positional).toMatchObject({ kind: "rotary", rotaryDim: cfg.dHead / 4 });
    }
    if (type === "bert") expect(cfg.classifier?.labels).toEqual(["NEGATIVE", "POSITIVE"]);
    for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json"]) {
      expect(readJsonFile(join(folder, f))).toEqual(
        f === "config.json" ? model.config : f === "tokenizer.json" ? model.tokenizer : model.tokenizerConfig,
      );
    }
    if (type === "bert") expect(model.generationConfig).toBeNull();
    else expect(readJsonFile(join(folder, "generation_config.json"))).toMatchObject({ eos_token_id: cfg.eosTokenIds[0] });
  });

  it("writes exactly the checkpoint's tensors, with the shapes the config implies", () => {
    const st = readSafetensors(join(folder, "model.safetensors"));
    const expected = expectedShapes(type, cfg);
    expect(st.entries.map((e) => e.name).sort()).toEqual(Object.keys(expected).sort());
    for (const e of st.entries) {
      expect(e.shape, e.name).toEqual(expected[e.name]);
      expect(e.dtype).toBe("F32");
      expect(f32(st.load(e.name))).toEqual(f32(model.weights[e.name] as Tensor));
    }
    expect(st.metadata).toEqual({ format: "pt" });
    // norm weights near 1, everything else small and not constant
    for (const e of st.entries) {
      const v = Array.from(f32(st.load(e.name)));
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      const isNormWeight = /(norm|ln_\w+|LayerNorm|ln_f)\.weight$/.test(e.name);
      if (isNormWeight) expect(Math.abs(mean - 1), e.name).toBeLessThan(0.1);
      else expect(Math.abs(mean), e.name).toBeLessThan(0.1);
      expect(Math.max(...v) - Math.min(...v), e.name).toBeGreaterThan(0.01);
      expect(Math.max(...v.map(Math.abs)), e.name).toBeLessThan(2);
    }
  });

  it("is deterministic in the seed", () => {
    const again = fresh(`${type}-again`);
    const other = fresh(`${type}-other`);
    writeTinyModel(again, type, { seed: 7 });
    writeTinyModel(other, type, { seed: 8 });
    const bytes = (dir: string, f: string) => readFileSync(join(dir, f));
    for (const f of ["model.safetensors", "config.json", "tokenizer.json"])
      expect(bytes(again, f).equals(bytes(folder, f)), f).toBe(true);
    expect(bytes(other, "model.safetensors").equals(bytes(folder, "model.safetensors"))).toBe(false);
    expect(bytes(other, "model.safetensors").length).toBe(bytes(folder, "model.safetensors").length);
    // every tensor differs between seeds, and tensors of one model differ from each other
    const b = tinyModel(type, { seed: 8 });
    for (const [name, t] of Object.entries(model.weights)) expect(f32(t), name).not.toEqual(f32(b.weights[name] as Tensor));
    const [w1, w2] = Object.values(model.weights).filter((t) => t.rank === 2 && t.shape[0] === t.shape[1]);
    if (w1 !== undefined && w2 !== undefined) expect(f32(w1)).not.toEqual(f32(w2));
  });

  it("writes a tokenizer that loads and round-trips a sentence", () => {
    const tok = loadTokenizerFromFolder(folder);
    expect(tok.vocabSize).toBe(cfg.vocabSize);
    if (type === "bert") {
      const ids = tok.encode(SENTENCE);
      expect(tok.tokenStrings([ids[0] as number, ids.at(-1) as number])).toEqual(["[CLS]", "[SEP]"]);
      expect(ids).not.toContain(tok.unkTokenId);
      expect(tok.decode(ids, { skipSpecialTokens: true })).toBe(SENTENCE.toLowerCase());
      expect(tok.tokenStrings(tok.encode("sleeps", { addSpecialTokens: false }))).toEqual(["sleep", "##s"]);
      expect(tok.padTokenId).toBe(cfg.padTokenId);
    } else {
      const ids = tok.encode(SENTENCE);
      expect(tok.decode(ids)).toBe(SENTENCE);
      // the learned merges apply: far fewer tokens than bytes
      expect(ids.length).toBeLessThan(SENTENCE.length * 0.7);
      expect(tok.tokenStrings(tok.encode(" the"))).toEqual(["Ġthe"]);
      expect(tok.decode(tok.encode("naïve ☃ 123"))).toBe("naïve ☃ 123");
      expect(tok.eosTokenId).toBe(cfg.eosTokenIds[0]);
      expect(tok.idToToken(tok.eosTokenId as number)).toBe("<|endoftext|>");
    }
  });

  it("writes two shards and an index that readShardedSafetensors reads as one checkpoint", () => {
    const sharded = fresh(`${type}-sharded`);
    writeTinyModel(sharded, type, { seed: 7, shards: 2 });
    const st = readShardedSafetensors(sharded);
    // the reader orders shards by first mention in the (sorted) weight_map
    expect(st.shards.map((s) => s.file).sort()).toEqual([
      join(sharded, "model-00001-of-00002.safetensors"),
      join(sharded, "model-00002-of-00002.safetensors"),
    ]);
    expect(st.shards.every((s) => s.entries.length > 0)).toBe(true);
    const expected = expectedShapes(type, cfg);
    expect(st.entries.map((e) => e.name).sort()).toEqual(Object.keys(expected).sort());
    const total = Object.values(expected).reduce((s, shape) => s + 4 * shape.reduce((a, b) => a * b, 1), 0);
    expect(st.indexMetadata).toEqual({ total_size: total });
    for (const e of st.entries) expect(f32(st.load(e.name)), e.name).toEqual(f32(model.weights[e.name] as Tensor));
  });
});

describe("tiny model options", () => {
  it("llama3 rope scaling, untied llama, tied gpt_neox, rotary_pct 0.5, padded vocabulary", () => {
    const l = tinyModel("llama", { ropeScaling: "llama3", tieEmbeddings: true, padVocabTo: 64 });
    const lc = normalizeHfConfig(l.config, "config.json");
    expect(lc.positional).toMatchObject({
      kind: "rotary",
      scaling: { kind: "llama3", factor: 4, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 16 },
    });
    expect(lc.vocabSize % 64).toBe(0);
    expect(lc.tiedEmbeddings).toBe(true);
    expect(Object.keys(l.weights)).not.toContain("lm_head.weight");
    expect(l.weights["model.embed_tokens.weight"]?.shape).toEqual([lc.vocabSize, lc.dModel]);

    const x = tinyModel("gpt_neox", { rotaryPct: 0.5, tieEmbeddings: true });
    const xc = normalizeHfConfig(x.config, "config.json");
    expect(xc.positional).toMatchObject({ rotaryDim: xc.dHead / 2 });
    expect(Object.keys(x.weights)).not.toContain("embed_out.weight");
    expect(() => tinyModel("qwen2", { ropeScaling: "llama3" })).toThrow(/llama only/);
  });

  it("F16 and BF16 checkpoints round to the f32 weights", () => {
    const dir = fresh("f16");
    const m = writeTinyModel(dir, "qwen2", { dtype: "BF16" });
    const st = readSafetensors(join(dir, "model.safetensors"));
    for (const e of st.entries) {
      expect(e.dtype).toBe("BF16");
      const got = f32(st.load(e.name));
      const want = f32(m.weights[e.name] as Tensor);
      got.forEach((v, i) => {
        expect(Math.abs(v - (want[i] as number))).toBeLessThanOrEqual(Math.abs(want[i] as number) * 2 ** -8);
      });
    }
  });
});

// ——— GGUF ———

/** HF name → GGUF name, written out per family (llama.cpp's gguf-py tensor map for these names). */
function ggufName(type: TinyModelType, hf: string): string | null {
  const blk = /\.(?:h|layers)\.(\d+)\.(.*)$/.exec(hf);
  const tables: Record<string, Record<string, string>> = {
    gpt2: {
      "ln_1.weight": "attn_norm.weight",
      "ln_1.bias": "attn_norm.bias",
      "attn.c_attn.weight": "attn_qkv.weight",
      "attn.c_attn.bias": "attn_qkv.bias",
      "attn.c_proj.weight": "attn_output.weight",
      "attn.c_proj.bias": "attn_output.bias",
      "ln_2.weight": "ffn_norm.weight",
      "ln_2.bias": "ffn_norm.bias",
      "mlp.c_fc.weight": "ffn_up.weight",
      "mlp.c_fc.bias": "ffn_up.bias",
      "mlp.c_proj.weight": "ffn_down.weight",
      "mlp.c_proj.bias": "ffn_down.bias",
      "transformer.wte.weight": "token_embd.weight",
      "transformer.wpe.weight": "position_embd.weight",
      "transformer.ln_f.weight": "output_norm.weight",
      "transformer.ln_f.bias": "output_norm.bias",
    },
    llama: {
      "input_layernorm.weight": "attn_norm.weight",
      "self_attn.q_proj.weight": "attn_q.weight",
      "self_attn.k_proj.weight": "attn_k.weight",
      "self_attn.v_proj.weight": "attn_v.weight",
      "self_attn.q_proj.bias": "attn_q.bias",
      "self_attn.k_proj.bias": "attn_k.bias",
      "self_attn.v_proj.bias": "attn_v.bias",
      "self_attn.o_proj.weight": "attn_output.weight",
      "post_attention_layernorm.weight": "ffn_norm.weight",
      "mlp.gate_proj.weight": "ffn_gate.weight",
      "mlp.up_proj.weight": "ffn_up.weight",
      "mlp.down_proj.weight": "ffn_down.weight",
      "model.embed_tokens.weight": "token_embd.weight",
      "model.norm.weight": "output_norm.weight",
      "lm_head.weight": "output.weight",
    },
    gpt_neox: {
      "input_layernorm.weight": "attn_norm.weight",
      "input_layernorm.bias": "attn_norm.bias",
      "attention.query_key_value.weight": "attn_qkv.weight",
      "attention.query_key_value.bias": "attn_qkv.bias",
      "attention.dense.weight": "attn_output.weight",
      "attention.dense.bias": "attn_output.bias",
      "post_attention_layernorm.weight": "ffn_norm.weight",
      "post_attention_layernorm.bias": "ffn_norm.bias",
      "mlp.dense_h_to_4h.weight": "ffn_up.weight",
      "mlp.dense_h_to_4h.bias": "ffn_up.bias",
      "mlp.dense_4h_to_h.weight": "ffn_down.weight",
      "mlp.dense_4h_to_h.bias": "ffn_down.bias",
      "gpt_neox.embed_in.weight": "token_embd.weight",
      "gpt_neox.final_layer_norm.weight": "output_norm.weight",
      "gpt_neox.final_layer_norm.bias": "output_norm.bias",
      "embed_out.weight": "output.weight",
    },
  };
  const table = tables[type === "qwen2" ? "llama" : type] ?? {};
  if (blk !== null) {
    const g = table[blk[2] as string];
    return g === undefined ? null : `blk.${blk[1]}.${g}`;
  }
  return table[hf] ?? null;
}

function transposed(t: Tensor): Float32Array {
  const [r, c] = t.shape as [number, number];
  const src = f32(t);
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = src[i * c + j] as number;
  return out;
}

const sizes = (c: ModelConfig) => ({
  dModel: c.dModel,
  nLayers: c.nLayers,
  nHeads: c.nHeads,
  nKvHeads: c.nKvHeads,
  dHead: c.dHead,
  dMlp: c.dMlp,
  vocabSize: c.vocabSize,
  maxPositions: c.maxPositions,
  norm: c.norm.kind,
  family: c.family,
  qkvBias: c.qkvBias,
  oBias: c.oBias,
  mlpBias: c.mlpBias,
  parallelResidual: c.parallelResidual,
  gatedMlp: c.gatedMlp,
  rotaryDim: c.positional.kind === "rotary" ? c.positional.rotaryDim : null,
  bos: c.bosTokenId,
  eos: c.eosTokenIds,
});

const ggufCases: [string, TinyModelType, Parameters<typeof tinyModel>[1]][] = [
  ["llama", "llama", {}],
  ["llama (llama3 rope scaling, tied)", "llama", { ropeScaling: "llama3", tieEmbeddings: true }],
  ["qwen2", "qwen2", {}],
  ["gpt2", "gpt2", {}],
  ["gpt_neox", "gpt_neox", { rotaryPct: 0.5 }],
];

describe.each(ggufCases)("tiny GGUF %s", (_label, type, opts) => {
  const path = `${fresh(type)}.gguf`;
  const model: TinyModel = writeTinyGguf(path, type, { seed: 11, ...opts });
  const hf = normalizeHfConfig(model.config, "config.json");
  const g = openGguf(path);
  afterAll(() => g.close());
  const names = g.header.tensors.map((t) => t.name);
  const gc = normalizeGgufConfig(g.header.metadata, path, names);

  it("normalizes to the same sizes as the HF config", () => {
    expect(sizes(gc)).toEqual(sizes(hf));
    expect(gc.source).toEqual({ format: "gguf", architecture: type === "gpt_neox" ? "gptneox" : type, file: path });
    // llama.cpp writes GPT-2's tied embedding twice (token_embd and output), so the GGUF reads as untied
    expect(gc.tiedEmbeddings).toBe(type === "gpt2" ? false : hf.tiedEmbeddings);
    if (hf.positional.kind === "rotary" && gc.positional.kind === "rotary") {
      expect(gc.positional.interleaved).toBe(type === "llama");
      expect(gc.positional.theta).toBeCloseTo(hf.positional.theta, 0);
    }
    const tokens = g.header.metadata.get("tokenizer.ggml.tokens") as Extract<GgufValue, { type: "array" }>;
    const vocab = (model.tokenizer.model as { vocab: Record<string, number> }).vocab;
    for (const [t, id] of Object.entries(vocab)) expect(tokens.value.items[id]).toBe(t);
    expect(tokens.value.items.at(-1)).toBe("<|endoftext|>");
  });

  it("holds the HF weights in llama.cpp's layout", () => {
    const seen = new Set<string>();
    const d = hf.dModel;
    for (const [name, w] of Object.entries(model.weights)) {
      const gname = ggufName(type, name);
      expect(gname, name).not.toBeNull();
      seen.add(gname as string);
      const got = g.tensor(gname as string);
      const attn = /self_attn\.([qk])_proj\.weight$/.exec(name);
      if (type === "llama" && attn !== null) {
        // LlamaModel.permute: row (h, 2i + j) of the GGUF tensor is row (h, j * dHead/2 + i) of the HF one
        const heads = attn[1] === "q" ? hf.nHeads : hf.nKvHeads;
        const dh = hf.dHead;
        expect(got.shape).toEqual(w.shape);
        const src = f32(w);
        const out = f32(got);
        for (let h = 0; h < heads; h++)
          for (let i = 0; i < dh / 2; i++)
            for (let j = 0; j < 2; j++) {
              const to = (h * dh + 2 * i + j) * d;
              const from = (h * dh + j * (dh / 2) + i) * d;
              expect(out.subarray(to, to + d)).toEqual(src.subarray(from, from + d));
            }
        expect(f32(unpermuteForInterleavedRope(got, heads))).toEqual(src);
      } else if (type === "gpt2" && w.rank === 2 && /\.h\.\d+\./.test(name)) {
        // Conv1D [in, out] → [out, in]
        expect(got.shape).toEqual([w.shape[1], w.shape[0]]);
        expect(f32(got)).toEqual(transposed(w));
      } else if (type === "gpt_neox" && name.includes("query_key_value")) {
        // [head, (q, k, v), dHead] rows regrouped to [q; k; v]
        const cols = w.rank === 2 ? d : 1;
        const dh = hf.dHead;
        const src = f32(w);
        const out = f32(got);
        expect(got.shape).toEqual(w.shape);
        for (let part = 0; part < 3; part++)
          for (let h = 0; h < hf.nHeads; h++) {
            const to = (part * d + h * dh) * cols;
            const from = (h * 3 * dh + part * dh) * cols;
            expect(out.subarray(to, to + dh * cols)).toEqual(src.subarray(from, from + dh * cols));
          }
      } else {
        expect(got.shape, name).toEqual(w.shape);
        expect(f32(got), name).toEqual(f32(w));
      }
    }
    const extra = names.filter((x) => !seen.has(x));
    if (type === "gpt2") {
      expect(extra).toEqual(["output.weight"]);
      expect(f32(g.tensor("output.weight"))).toEqual(f32(model.weights["transformer.wte.weight"] as Tensor));
    } else if (opts?.ropeScaling === "llama3") {
      expect(extra).toEqual(["rope_freqs.weight"]);
      expect(gc.positional).toMatchObject({ scaling: { kind: "freqFactors", tensor: "rope_freqs.weight" } });
      // transformers' llama3 inv_freq, independently: llama.cpp stores inv_freq / scaled_inv_freq
      const s = model.config.rope_scaling as Record<string, number>;
      const theta = model.config.rope_theta as number;
      const old = s.original_max_position_embeddings as number;
      const [lo, hi, factor] = [s.low_freq_factor as number, s.high_freq_factor as number, s.factor as number];
      const want = Array.from({ length: hf.dHead / 2 }, (_, i) => {
        const inv = 1 / theta ** ((2 * i) / hf.dHead);
        const wavelen = (2 * Math.PI) / inv;
        const base = wavelen > old / lo ? inv / factor : inv;
        const smooth = (old / wavelen - lo) / (hi - lo);
        const medium = !(wavelen < old / hi) && !(wavelen > old / lo);
        return inv / (medium ? ((1 - smooth) * base) / factor + smooth * base : base);
      });
      const got = Array.from(f32(g.tensor("rope_freqs.weight")));
      expect(got.length).toBe(want.length);
      got.forEach((v, i) => {
        expect(v).toBeCloseTo(want[i] as number, 5);
      });
      expect(new Set(got.map((v) => (v === 1 ? "1" : v === factor ? "factor" : "smooth")))).toEqual(
        new Set(["factor", "smooth"]),
      );
    } else {
      expect(extra).toEqual([]);
    }
    for (const t of g.header.tensors) expect(t.ggmlType, t.name).toBe("F32");
  });
});

describe("tiny GGUF options", () => {
  it("F16 stores 2-D weights as F16 and keeps 1-D tensors F32", () => {
    const path = `${fresh("f16")}.gguf`;
    const m = writeTinyGguf(path, "gpt2", { type: "F16" });
    const g = openGguf(path);
    try {
      expect(g.header.metadata.get("general.file_type")).toEqual({ type: "u32", value: 1 });
      for (const t of g.header.tensors) expect(t.ggmlType, t.name).toBe(t.shape.length === 2 ? "F16" : "F32");
      const wte = f32(m.weights["transformer.wte.weight"] as Tensor);
      const got = f32(g.tensor("token_embd.weight"));
      got.forEach((v, i) => {
        expect(Math.abs(v - (wte[i] as number))).toBeLessThanOrEqual(Math.abs(wte[i] as number) * 2 ** -11 + 2 ** -24);
      });
    } finally {
      g.close();
    }
  });

  it("pads the GGUF vocabulary with [PAD] tokens when vocab_size exceeds the tokenizer", () => {
    const path = `${fresh("pad")}.gguf`;
    const m = writeTinyGguf(path, "llama", { padVocabTo: 64 });
    const g = openGguf(path);
    try {
      const c = normalizeGgufConfig(
        g.header.metadata,
        path,
        g.header.tensors.map((t) => t.name),
      );
      expect(c.vocabSize).toBe(m.config.vocab_size);
      const tokens = g.header.metadata.get("tokenizer.ggml.tokens") as Extract<GgufValue, { type: "array" }>;
      expect(tokens.value.items.at(-1)).toBe(`[PAD${c.vocabSize - 1}]`);
    } finally {
      g.close();
    }
  });

  it("refuses bert", () => {
    expect(() => writeTinyGguf(`${fresh("bert")}.gguf`, "bert")).toThrow(/bert/);
  });
});
