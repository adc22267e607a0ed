// loadModel: a Hugging Face folder (single file, sharded, F16) and the GGUF of the same weights load into
// the same model (same logits), with tokenizer, generation defaults and progress; bad paths and files give
// errors that name them. Generation runs on the loaded GPT-2 with its KV cache and padding.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GGUF_ARCHITECTURE_OF, hfToGguf } from "@llmdbg/convert";
import { generate, padBatch, run } from "@llmdbg/core";
import { ModelFormatError } from "@llmdbg/formats";
import * as T from "@llmdbg/tensor";
import { TINY_MODEL_TYPES, tinyModel, writeTinyGguf, writeTinyModel } from "@llmdbg/testing";
import { afterAll, describe, expect, it } from "vitest";
import { generationOptions, parseGenerationConfig } from "../src/generation-config.js";
import { ggufTensorName } from "../src/gguf-names.js";
import { type LoadProgress, loadModel } from "../src/load-node.js";

const dir = mkdtempSync(join(tmpdir(), "llmdbg-load-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hf = join(dir, "gpt2");
const tiny = writeTinyModel(hf, "gpt2", { seed: 3 });
const ids = T.tensor([3, 17, 42, 5, 99, 7], [1, 6], "i32");
const logitsOf = (path: string) => run(loadModel(path).model, ids).output.toArray();

function maxDiff(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] as number))), 0);
}

describe("loadModel", () => {
  const ref = logitsOf(hf);

  it("loads a folder with its tokenizer, generation defaults and progress", () => {
    const seen: LoadProgress[] = [];
    const m = loadModel(hf, { onProgress: (p) => seen.push(p) });
    expect(m.format).toBe("safetensors");
    expect(m.config.family).toBe("gpt2");
    expect(m.tokenizer?.decode(m.tokenizer.encode("hello world"))).toBe("hello world");
    expect(m.generation.eosTokenIds).toEqual([tiny.config.eos_token_id]);
    expect(m.stored.length).toBe(Object.keys(tiny.weights).length);
    const last = seen.at(-1);
    expect(last?.done).toBe(last?.total); // GPT-2 reads every stored tensor
    expect(seen.every((p, i) => i === 0 || p.done >= (seen[i - 1] as LoadProgress).done)).toBe(true);
  });

  it("sharded and F16 checkpoints give the same model", () => {
    writeTinyModel(join(dir, "sharded"), "gpt2", { seed: 3, shards: 2 });
    expect(maxDiff(logitsOf(join(dir, "sharded")), ref)).toBe(0);
    writeTinyModel(join(dir, "f16"), "gpt2", { seed: 3, dtype: "F16" });
    const f16 = maxDiff(logitsOf(join(dir, "f16")), ref);
    console.log(`F16 checkpoint vs F32: max |Δlogits| ${f16.toExponential(2)}`);
    expect(f16).toBeLessThan(5e-3); // measured 2.4e-3: F16 keeps 11 bits of each weight
  });

  it("the GGUF of the same weights gives the same logits and tokenizer", () => {
    const path = join(dir, "gpt2.gguf");
    writeTinyGguf(path, tiny);
    const g = loadModel(path);
    expect(g.format).toBe("gguf");
    const d = maxDiff(run(g.model, ids).output.toArray(), ref);
    console.log(`gpt2 GGUF vs folder: max |Δlogits| ${d.toExponential(2)}`);
    expect(d).toBeLessThan(1e-6); // measured 0: the same F32 weights
    const h = loadModel(hf);
    expect(g.tokenizer?.encode("The quick brown fox")).toEqual(h.tokenizer?.encode("The quick brown fox"));
  });

  it("names a missing path, a missing config and a missing checkpoint", () => {
    expect(() => loadModel(join(dir, "nope"))).toThrow(/nope: path: does not exist/);
    const empty = join(dir, "empty");
    writeTinyModel(empty, "gpt2");
    rmSync(join(empty, "config.json"));
    expect(() => loadModel(empty)).toThrow(/config\.json: file: not found/);
    writeTinyModel(join(dir, "nockpt"), "gpt2");
    rmSync(join(dir, "nockpt", "model.safetensors"));
    expect(() => loadModel(join(dir, "nockpt"))).toThrow(ModelFormatError);
  });

  it("a malformed generation_config.json names its key", () => {
    const bad = join(dir, "badgen");
    writeTinyModel(bad, "gpt2");
    writeFileSync(join(bad, "generation_config.json"), JSON.stringify({ top_p: 2 }));
    expect(() => loadModel(bad)).toThrow(/generation_config\.json: top_p: expected a number in \(0, 1\]/);
  });
});

describe("every tiny architecture loads from its folder and, where llama.cpp has a layout, from its GGUF", () => {
  for (const type of TINY_MODEL_TYPES) {
    const folder = join(dir, `all-${type}`);
    const folderLogits = () => run(loadModel(folder).model, ids).output;

    it(`${type} from its folder`, () => {
      writeTinyModel(folder, type, { seed: 5 });
      const a = loadModel(folder);
      expect(a.config.family).toBe(type === "qwen2" ? "llama" : type);
      expect(folderLogits().toArray().every(Number.isFinite)).toBe(true);
    });

    if (GGUF_ARCHITECTURE_OF[type] === null) {
      it(`${type} has no GGUF layout, and converting one says so`, () => {
        const m = tinyModel(type, { seed: 5 });
        const input = { config: m.config, tokenizer: m.tokenizer, tokenizerConfig: m.tokenizerConfig, weights: m.weights };
        expect(() => hfToGguf(input)).toThrow(/config\.json: model_type: .* has no GGUF layout/);
      });
      continue;
    }

    it(`${type} from its GGUF: the folder's logits and tokenizer`, () => {
      const m = writeTinyModel(folder, type, { seed: 5 });
      const path = join(dir, `all-${type}.gguf`);
      writeTinyGguf(path, m);
      const g = loadModel(path);
      const d = maxDiff(run(g.model, ids).output.toArray(), folderLogits().toArray());
      console.log(`${type} GGUF vs folder: max |Δlogits| ${d.toExponential(2)}`);
      expect(d).toBeLessThan(1e-6); // measured 0 for every type: the same F32 weights in llama.cpp's layout
      expect(g.tokenizer?.encode("hello world")).toEqual(loadModel(folder).tokenizer?.encode("hello world"));
    });
  }
});

describe("generation config", () => {
  it("reads the known keys and lets flags override them", () => {
    const d = parseGenerationConfig(
      { do_sample: true, temperature: 0.6, top_p: 0.9, eos_token_id: [1, 2], max_length: 20 },
      "g.json",
    );
    expect(d).toEqual({ doSample: true, temperature: 0.6, topP: 0.9, eosTokenIds: [1, 2] });
    expect(generationOptions(d, { maxNewTokens: 5, temperature: 0 })).toMatchObject({
      temperature: 0,
      topP: 0.9,
      doSample: true,
    });
    expect(generationOptions({}, { maxNewTokens: 5 }).doSample).toBe(false); // transformers: greedy unless do_sample
    expect(() => parseGenerationConfig({ eos_token_id: "x" }, "g.json")).toThrow(/g\.json: eos_token_id/);
    expect(() => parseGenerationConfig([], "g.json")).toThrow(/expected a JSON object/);
  });
});

describe("GGUF tensor names", () => {
  it("follow llama.cpp's names", () => {
    expect(ggufTensorName("llama", "model.layers.3.self_attn.q_proj.weight")).toBe("blk.3.attn_q.weight");
    expect(ggufTensorName("qwen2", "model.layers.0.self_attn.k_proj.bias")).toBe("blk.0.attn_k.bias");
    expect(ggufTensorName("llama", "lm_head.weight")).toBe("output.weight");
    expect(ggufTensorName("gpt2", "transformer.h.11.mlp.c_proj.bias")).toBe("blk.11.ffn_down.bias");
    expect(ggufTensorName("gptneox", "gpt_neox.layers.2.attention.query_key_value.weight")).toBe("blk.2.attn_qkv.weight");
    expect(ggufTensorName("llama", "model.layers.0.self_attn.rotary_emb.inv_freq")).toBeUndefined();
  });
});

describe("generation on GPT-2", () => {
  const { model, config } = loadModel(hf);
  it("cached greedy decoding equals argmax over full passes, also in a padded batch", () => {
    const prompts = [[3, 17, 42, 5], [99], [7, 250, 11]];
    const r = generate(model, prompts, { maxNewTokens: 5, temperature: 0 });
    prompts.forEach((p, b) => {
      const seq = [...p];
      for (let i = 0; i < 5; i++) {
        const out = run(model, T.tensor(seq, [1, seq.length], "i32")).output.toArray();
        const row = out.slice((seq.length - 1) * config.vocabSize);
        seq.push(row.indexOf(Math.max(...row)));
      }
      expect(r.tokens[b]).toEqual(seq.slice(p.length));
    });
  });

  it("a left-padded batch equals single runs at real positions (learned positions shift with the padding)", () => {
    const { ids: x, attentionMask } = padBatch(
      [
        [3, 17, 42, 5, 99],
        [7, 11],
      ],
      { padId: 0 },
    );
    const out = run(model, x, { attentionMask }).output.toArray();
    const V = config.vocabSize;
    const single = run(model, T.tensor([7, 11], [1, 2], "i32")).output.toArray();
    const d = maxDiff(out.slice((5 + 3) * V, 10 * V), single);
    console.log(`gpt2 left-padded batch vs single run: max |Δlogits| ${d.toExponential(2)}`);
    expect(d).toBeLessThan(5e-6); // measured 7.2e-7
  });
});
