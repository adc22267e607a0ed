// Files that describe another model than the one stored: each must be refused at load time, naming the file
// and what does not fit, never loaded into a model that silently computes something else.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "@llmdbg/core";
import { type GgufValue, ModelFormatError, writeGguf, writeSafetensors } from "@llmdbg/formats";
import * as T from "@llmdbg/tensor";
import { ggufFromTiny, tinyModel, writeTinyModel } from "@llmdbg/testing";
import { afterAll, describe, expect, it } from "vitest";
import { loadModel } from "../src/load-node.js";

const dir = mkdtempSync(join(tmpdir(), "llmdbg-hostile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ids = T.tensor([3, 17, 42, 5], [1, 4], "i32");

function formatError(f: () => unknown): ModelFormatError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ModelFormatError);
    return e as ModelFormatError;
  }
  return expect.fail("expected a ModelFormatError");
}

/** A tiny model folder whose config.json is patched after writing. */
function folderWith(name: string, type: Parameters<typeof writeTinyModel>[1], patch: Record<string, unknown>): string {
  const folder = join(dir, name);
  writeTinyModel(folder, type, { seed: 4 });
  const path = join(folder, "config.json");
  writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, "utf8")), ...patch }));
  return folder;
}

describe("every stored tensor is read, or the load is refused naming those left", () => {
  it("a config with fewer layers than the checkpoint (n_layer 1 on two layers)", () => {
    const folder = folderWith("one-layer", "gpt2", { n_layer: 1 });
    const e = formatError(() => loadModel(folder));
    expect(e.file).toBe(join(folder, "model.safetensors"));
    expect(e.field).toMatch(/^(transformer\.)?h\.1\./);
    expect(e.message).toMatch(/does not read \d+ stored tensor\(s\): (transformer\.)?h\.1\./);
    expect(e.message).toMatch(/allowUnread/);
  });

  it("allowUnread loads it anyway and lists what was left", () => {
    const folder = join(dir, "one-layer");
    const m = loadModel(folder, { allowUnread: true });
    expect(m.config.nLayers).toBe(1);
    expect(m.unread.length).toBeGreaterThan(0);
    expect(m.unread.every((n) => /^(transformer\.)?h\.1\./.test(n))).toBe(true);
    expect(loadModel(join(dir, "gpt2-plain-check"), { allowUnread: true }).unread).toEqual([]);
  });

  it("a GPT-2 GGUF relabelled as GPT-NeoX does not run without its learned positions", () => {
    const gguf = ggufFromTiny(tinyModel("gpt2", { seed: 4 }));
    const meta = new Map<string, GgufValue>();
    for (const [k, v] of Object.entries(gguf.metadata as Record<string, GgufValue>))
      meta.set(k.replace(/^gpt2\./, "gptneox."), v);
    meta.set("general.architecture", { type: "string", value: "gptneox" });
    const dHead = 8; // the tiny GPT-2's head width, all of it rotated as a NeoX config could ask
    meta.set("gptneox.rope.dimension_count", { type: "u32", value: dHead });
    meta.set("gptneox.use_parallel_residual", { type: "bool", value: false });
    const path = join(dir, "relabelled.gguf");
    // GPT-NeoX has fused q/k/v and the same tensor names for the rest, so only position_embd stays unread
    writeGguf(path, { metadata: meta, tensors: gguf.tensors });
    const e = formatError(() => loadModel(path));
    console.log(`relabelled GGUF: ${e.message}`);
    expect(e.file).toBe(path);
    expect(e.field).toBe("position_embd.weight");
    expect(e.message).toMatch(
      /gpt_neox architecture this config describes does not read 1 stored tensor\(s\): position_embd\.weight/,
    );
  });

  it("the buffers transformers also ignores (GPT-2's causal mask) load without a word", () => {
    const m = tinyModel("gpt2", { seed: 4 });
    const n = m.config.n_positions as number;
    const folder = join(dir, "with-buffers");
    writeTinyModel(folder, "gpt2", { seed: 4 });
    const buffers: Record<string, T.Tensor> = { ...m.weights };
    for (let l = 0; l < (m.config.n_layer as number); l++) buffers[`h.${l}.attn.bias`] = T.ones([1, 1, n, n]);
    writeSafetensors(join(folder, "model.safetensors"), buffers);
    const loaded = loadModel(folder);
    expect(loaded.unread).toEqual([]);
    expect(run(loaded.model, ids).output.toArray()).toEqual(
      run(loadModel(join(dir, "gpt2-plain-check")).model, ids).output.toArray(),
    );
  });
});

describe("heads of the same pretraining checkpoint that a model class does not run, as transformers ignores them", () => {
  it("a masked-LM BERT saved with its pooler and next-sentence head loads, and the head is not read", () => {
    const m = tinyModel("bert", { seed: 4, bertHead: "mlm" });
    const d = m.config.hidden_size as number;
    const folder = join(dir, "bert-pretraining");
    writeTinyModel(folder, "bert", { seed: 4, bertHead: "mlm" });
    const prefix = Object.keys(m.weights).some((k) => k.startsWith("bert.")) ? "bert." : "";
    const extra: Record<string, T.Tensor> = {
      ...m.weights,
      [`${prefix}pooler.dense.weight`]: T.ones([d, d]),
      [`${prefix}pooler.dense.bias`]: T.ones([d]),
      "cls.seq_relationship.weight": T.ones([2, d]),
      "cls.seq_relationship.bias": T.ones([2]),
    };
    writeSafetensors(join(folder, "model.safetensors"), extra);
    const loaded = loadModel(folder);
    expect(loaded.unread).toEqual([]);
    expect(loaded.config.classifier).toBeNull();
  });

  it("but a BERT classifier's pooler is read, and an extra head beside it is not ignored", () => {
    const m = tinyModel("bert", { seed: 4 });
    const folder = join(dir, "bert-classifier-extra");
    writeTinyModel(folder, "bert", { seed: 4 });
    writeSafetensors(join(folder, "model.safetensors"), { ...m.weights, "qa_outputs.weight": T.ones([2, 4]) });
    expect(formatError(() => loadModel(folder)).field).toBe("qa_outputs.weight");
  });
});

describe("every stored dtype is what the architecture reads", () => {
  it("a float tensor relabelled I32 in the safetensors header (same byte size) is refused", () => {
    const folder = join(dir, "relabelled-dtype");
    writeTinyModel(folder, "gpt2", { seed: 4 });
    const path = join(folder, "model.safetensors");
    const bytes = readFileSync(path);
    const headerLen = Number(bytes.readBigUInt64LE(0));
    const header = bytes.subarray(8, 8 + headerLen).toString("utf8");
    const relabelled = header.replace('"dtype":"F32"', '"dtype":"I32"'); // same length: offsets stay valid
    expect(relabelled).not.toBe(header);
    Buffer.from(relabelled, "utf8").copy(bytes, 8);
    writeFileSync(path, bytes);
    const e = formatError(() => loadModel(folder));
    expect(e.file).toBe(path);
    expect(e.message).toMatch(/expected a floating-point tensor \(F32, F16, BF16 or F64\), got i32/);
  });
});

writeTinyModel(join(dir, "gpt2-plain-check"), "gpt2", { seed: 4 });

describe("tokenizer ids index the embedding", () => {
  it("an added token id beyond the embedding rows is refused naming tokenizer.json and the field", () => {
    const folder = join(dir, "far-token");
    const t = writeTinyModel(folder, "gpt2", { seed: 4 });
    const path = join(folder, "tokenizer.json");
    const json = JSON.parse(readFileSync(path, "utf8"));
    const rows = t.config.vocab_size as number;
    json.added_tokens = [...(json.added_tokens ?? []), { id: rows, content: "<far>", special: true }];
    writeFileSync(path, JSON.stringify(json));
    const e = formatError(() => loadModel(folder));
    expect(e.file).toBe(path);
    expect(e.field).toBe(`added_tokens[${json.added_tokens.length - 1}].id`);
    expect(e.message).toMatch(
      new RegExp(`id ${rows} \\("<far>"\\) is beyond the model's ${rows} embedding rows \\(config.json vocab_size\\)`),
    );
  });
});

describe("a config the architecture does not compute is refused naming the file's own key", () => {
  it.each([
    ["gpt2", "gpt2.attention.key_length"],
    ["gpt_neox", "gptneox.attention.key_length"],
  ] as const)(
    "a %s GGUF whose attention.key_length does not split the width names %s (it once failed in the forward pass)",
    (type, key) => {
      const gguf = ggufFromTiny(tinyModel(type, { seed: 4 }));
      const meta = { ...(gguf.metadata as Record<string, GgufValue>) };
      const dModel = (meta[key.replace("attention.key_length", "embedding_length")] as { value: number }).value;
      const heads = (meta[key.replace("key_length", "head_count")] as { value: number }).value;
      meta[key] = { type: "u32", value: (2 * dModel) / heads };
      meta[key.replace("key_length", "value_length")] = { type: "u32", value: (2 * dModel) / heads };
      const path = join(dir, `key-length-${type}.gguf`);
      writeGguf(path, { ...gguf, metadata: meta });
      const e = formatError(() => loadModel(path));
      expect(e.file).toBe(path);
      expect(e.field).toBe(key);
      expect(e.message).toMatch(/\(dHead\): .*heads split d_model: dHead × nHeads must be \d+, got \d+/);
    },
  );

  it("a GPT-2 config.json naming a classifier its checkpoint has no head for names architectures", () => {
    const folder = folderWith("gpt2-classifier", "gpt2", {
      architectures: ["GPT2ForSequenceClassification"],
      id2label: { 0: "a", 1: "b" },
    });
    const e = formatError(() => loadModel(folder));
    expect(e.file).toBe(join(folder, "config.json"));
    expect(e.field).toBe("architectures");
    expect(e.message).toMatch(/gpt2 \(classifier\): /);
  });

  it.each([
    ["llama", "num_hidden_layers", 2 ** 32],
    ["gpt2", "n_layer", 1e9],
  ] as const)(
    "a %s config.json with %s = %d is refused before a tree of that many layers is built (fuzz case config:llama:20001235)",
    (type, key, n) => {
      const folder = folderWith(`layers-${type}-${n}`, type, { [key]: n });
      const e = formatError(() => loadModel(folder));
      expect(e.file).toBe(join(folder, "config.json"));
      expect(e.field).toBe(key);
      expect(e.message).toMatch(/layers, but the checkpoint stores only \d+ tensors/);
    },
  );
});

describe("a JSON error under an empty key still names a field", () => {
  it('config.json {"": [1,} names the field "" (fuzz case generation:gpt2:30014726)', () => {
    const folder = join(dir, "empty-key");
    writeTinyModel(folder, "gpt2", { seed: 4 });
    writeFileSync(join(folder, "config.json"), '{"": [1,}');
    const e = formatError(() => loadModel(folder));
    expect(e.file).toBe(join(folder, "config.json"));
    expect(e.field).toBe('"".1'); // the key "", its array's second entry
    expect(e.message).toMatch(/invalid JSON/);
  });
});
