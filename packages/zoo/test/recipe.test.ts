// The zoo's machinery: trainZoo turns a recipe into a Hugging Face folder that loads, with its card, log and
// measured claims, and verifyZoo measures the same claims again; the stories recipe's sentence checks accept
// every sentence of the corpus and reject broken ones.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expectTrainEvent } from "@llmdbg/testing/vitest";
import { loadHfTokenizer, trainByteLevelBpe } from "@llmdbg/tokenizers";
import { afterAll, describe, expect, it } from "vitest";
import { claim, generateStories, type ZooRecipe } from "../src/index.js";
import { trainZoo, verifyZoo } from "../src/node.js";
import { generatedSentences, wellFormed } from "../src/recipes/stories.js";

describe("stories' sentence checks", () => {
  it("accept every sentence of the corpus", () => {
    const sentences = generateStories(3, 300).flatMap((t) => generatedSentences("", t));
    expect(sentences.length).toBeGreaterThan(1000);
    expect(sentences.filter((s) => !wellFormed(s))).toEqual([]);
  });

  it("split at sentence ends outside quotes, and count only what follows the prompt", () => {
    expect(generatedSentences('"Can you help me?" asked', ' Tom. "Yes! You can," she said. He ran')).toEqual([
      '"Can you help me?" asked Tom.',
      '"Yes! You can," she said.',
    ]);
    expect(generatedSentences("Ben woke up early.", " He ran.")).toEqual(["He ran."]);
  });

  it("reject sentences the corpus never writes", () => {
    for (const s of ["he ran.", "He ran", '"Yes, he said.', "He  ran.", "...."]) expect(wellFormed(s)).toBe(false);
  });
});

describe("trainZoo", () => {
  const dir = mkdtempSync(join(tmpdir(), "llmdbg-zoo-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // a recipe small enough for a test: the stories corpus, a 300-token BPE, a one-layer GPT-2
  const texts = generateStories(11, 200);
  const tokenizer = trainByteLevelBpe(texts, { vocabSize: 300, specialTokens: ["<|endoftext|>"] });
  const tok = loadHfTokenizer(tokenizer, undefined, "tokenizer.json");
  const examples = texts.map((t) => ({ ids: tok.encode(t).slice(0, 32) }));
  const recipe: ZooRecipe = {
    name: "mini",
    summary: "a test model",
    architecture: "GPT-2, 1 layer",
    initSeed: 4,
    train: { seed: 2, batchSize: 8, maxSteps: 6, lr: 3e-3, evalEvery: 3 },
    prepare: () => ({
      modelConfig: { model_type: "gpt2", vocab_size: tok.vocabSize, n_positions: 32, n_embd: 32, n_layer: 1, n_head: 2 },
      tokenizer,
      tokenizerConfig: { eos_token: "<|endoftext|>" },
      generationConfig: null,
      data: { train: examples.slice(0, 160), validation: examples.slice(160) },
      dataInfo: { generator: "stories", seed: 11 },
    }),
    verify: (model) => [
      claim("params", "parameters", model.params.count(), ">=", 1),
      claim("first_logit", "a logit, to see verify repeat itself", Number(model.params.get("wte.weight").data[0]), ">=", -1),
    ],
    describe: () => "It is a test.",
  };

  it("writes a loadable folder with config, tokenizer, weights, log, card and claims, and verify repeats the claims", async () => {
    const out = join(dir, "mini");
    const events: string[] = [];
    const r = await trainZoo(recipe, out, { onEvent: (e) => events.push(e.kind) });
    expect(r.steps).toBe(6);
    for (const f of [
      "config.json",
      "model.safetensors",
      "tokenizer.json",
      "tokenizer_config.json",
      "train_config.json",
      "data.json",
      "train_log.jsonl",
      "README.md",
      "claims.json",
    ])
      expect(existsSync(join(out, f)), f).toBe(true);
    const log = readFileSync(join(out, "train_log.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(log.map((e) => e.kind)).toEqual(events);
    for (const e of log) expectTrainEvent(e);
    expect(log.filter((e) => e.kind === "eval")).toHaveLength(2);
    const card = readFileSync(join(out, "README.md"), "utf8");
    expect(card).toContain("It is a test.");
    expect(card).toContain("6 optimizer steps");
    expect(JSON.parse(readFileSync(join(out, "claims.json"), "utf8"))).toEqual(r.claims);
    expect(verifyZoo(recipe, out)).toEqual(r.claims);
  });

  it("trains the same model twice from the same recipe, bit for bit", async () => {
    const a = join(dir, "a");
    const b = join(dir, "b");
    const override = { maxSteps: 2, evalEvery: null };
    await trainZoo(recipe, a, { override });
    await trainZoo(recipe, b, { override });
    expect(readFileSync(join(a, "model.safetensors")).equals(readFileSync(join(b, "model.safetensors")))).toBe(true);
  });
});
