// The well-formed files every mutation starts from: the tiny models of each supported type, written by the same
// writers the tests use (writeTinyModel, writeTinyGguf), read back into memory once per process so a case
// costs a copy and a mutation, not a model generation.

import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GgufWriteInput } from "@llmdbg/formats";
import { ggufFromTiny, type TinyModelOptions, type TinyModelType, tinyModel } from "../tiny.js";
import { writeTinyModel } from "../tiny-node.js";

/** A seed model: which tiny model, with which options. */
interface Variant {
  readonly type: TinyModelType;
  readonly opts: TinyModelOptions & { readonly dtype?: "F16" | "BF16" };
}

/** Every seed, by the name that case ids use (`config:llama_spm:17`). */
export const VARIANTS: { readonly [name: string]: Variant } = {
  gpt2: { type: "gpt2", opts: {} },
  llama: { type: "llama", opts: { ropeScaling: "llama3" } },
  llama_spm: { type: "llama", opts: { tokenizer: "sentencepiece" } },
  qwen2: { type: "qwen2", opts: { tieEmbeddings: true } },
  gpt_neox: { type: "gpt_neox", opts: {} },
  bert: { type: "bert", opts: {} },
  // half-precision storage reaches the F16/BF16 conversions with flipped bits
  qwen2_bf16: { type: "qwen2", opts: { dtype: "BF16" } },
};

/** The variants that have a GGUF layout (bert has none) and those with a generation_config.json (bert has none). */
export const GGUF_VARIANTS = ["gpt2", "llama", "llama_spm", "qwen2", "gpt_neox"] as const;
export const CAUSAL_VARIANTS = ["gpt2", "llama", "llama_spm", "qwen2", "gpt_neox", "qwen2_bf16"] as const;
export const HF_VARIANTS = Object.keys(VARIANTS);

/** A model's files: name in the folder → bytes. */
export type Files = ReadonlyMap<string, Uint8Array>;

function variant(name: string): Variant {
  const v = VARIANTS[name];
  if (v === undefined) throw new Error(`fuzz: unknown seed model "${name}" (known: ${HF_VARIANTS.join(", ")})`);
  return v;
}

function readFolder(folder: string): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  for (const f of readdirSync(folder).sort()) files.set(f, new Uint8Array(readFileSync(join(folder, f))));
  return files;
}

const folders = new Map<string, Files>();

/**
 * The Hugging Face folder of a seed model, one file or two shards, as bytes.
 * @example hfSeed("llama", 2).get("model.safetensors.index.json")
 */
export function hfSeed(name: string, shards: 1 | 2 = 1): Files {
  const key = `${name}/${shards}`;
  const cached = folders.get(key);
  if (cached !== undefined) return cached;
  const v = variant(name);
  const dir = mkdtempSync(join(tmpdir(), "llmdbg-fuzz-seed-"));
  try {
    writeTinyModel(dir, v.type, { ...v.opts, seed: 0, shards });
    const files = readFolder(dir);
    folders.set(key, files);
    return files;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ggufInputs = new Map<string, GgufWriteInput>();

/**
 * What the GGUF writer takes for a seed model (metadata and tensors), so metadata mutations can re-encode.
 * @example encodeGguf(ggufSeedInput("gpt2"))
 */
export function ggufSeedInput(name: string): GgufWriteInput {
  const cached = ggufInputs.get(name);
  if (cached !== undefined) return cached;
  const v = variant(name);
  if (v.type === "bert") throw new Error("fuzz: bert has no GGUF layout");
  const input = ggufFromTiny(tinyModel(v.type, { ...v.opts, seed: 0 }));
  ggufInputs.set(name, input);
  return input;
}
