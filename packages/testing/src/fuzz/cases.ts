// Fuzz cases: an id `target:model:n` (e.g. `gguf:llama:1234`) names one mutated model, rebuilt bit for bit
// from the id alone (the generator is seeded by a hash of the id). A campaign is a list of ids.

import { mutateGguf } from "./gguf-mutate.js";
import { mutateJsonFile } from "./json-mutate.js";
import { hashString, Rng } from "./prng.js";
import { mutateIndex, mutateSafetensors } from "./safetensors-mutate.js";
import { CAUSAL_VARIANTS, type Files, GGUF_VARIANTS, HF_VARIANTS, hfSeed } from "./seeds.js";

export const TARGETS = ["safetensors", "index", "gguf", "config", "generation", "tokenizer", "tokenizer_config"] as const;
export type Target = (typeof TARGETS)[number];

/** Test-only kinds that misbehave on purpose, to check the runner's classification; never in a campaign. */
export const TEST_KINDS = ["test-hang", "test-alloc", "test-crash", "test-throw"] as const;

/** Every case stays below this size (all its files together). */
export const MAX_CASE_BYTES = 10 * 1024 * 1024;

export interface FuzzCase {
  readonly id: string;
  /** the files to write into the case's folder */
  readonly files: Files;
  /** what to load: "" for the folder itself, or a file name in it (`model.gguf`) */
  readonly entry: string;
}

export const GGUF_FILE = "model.gguf";
const INDEX = "model.safetensors.index.json";

/** The seed models a target mutates. */
export function variantsOf(target: Target): readonly string[] {
  if (target === "gguf") return GGUF_VARIANTS;
  if (target === "generation") return CAUSAL_VARIANTS;
  return HF_VARIANTS;
}

const FILE_OF: { readonly [T in Target]: string } = {
  safetensors: "model.safetensors",
  index: INDEX,
  gguf: GGUF_FILE,
  config: "config.json",
  generation: "generation_config.json",
  tokenizer: "tokenizer.json",
  tokenizer_config: "tokenizer_config.json",
};

export function parseCaseId(id: string): { target: string; variant: string; n: number } {
  const m = /^([a-z_-]+):([a-z0-9_]+):(\d+)$/.exec(id);
  if (m === null) throw new Error(`fuzz: bad case id "${id}" (expected target:model:number, e.g. gguf:llama:1234)`);
  return { target: m[1] as string, variant: m[2] as string, n: Number(m[3]) };
}

function total(files: Files): number {
  let n = 0;
  for (const b of files.values()) n += b.length;
  return n;
}

function mutate(target: Target, variant: string, rng: Rng): FuzzCase["files"] {
  if (target === "gguf") return new Map([[GGUF_FILE, mutateGguf(rng, variant)]]);
  if (target === "index") return mutateIndex(rng, hfSeed(variant, 2), INDEX);
  const seed = hfSeed(variant, 1);
  const name = FILE_OF[target];
  const bytes = seed.get(name);
  if (bytes === undefined) throw new Error(`fuzz: seed model ${variant} has no ${name}`);
  const out = new Map(seed);
  out.set(name, target === "safetensors" ? mutateSafetensors(rng, bytes) : mutateJsonFile(rng, bytes));
  return out;
}

/**
 * The case an id names. Deterministic: the same id gives the same bytes in every process. A mutation that
 * would exceed MAX_CASE_BYTES is drawn again from the next generator state (still a function of the id).
 *
 * @example
 * makeCase("config:gpt2:7").files.get("config.json")
 */
export function makeCase(id: string): FuzzCase {
  const { target, variant, n } = parseCaseId(id);
  if ((TEST_KINDS as readonly string[]).includes(target)) return { id, files: new Map(), entry: "" };
  if (!(TARGETS as readonly string[]).includes(target))
    throw new Error(`fuzz: unknown target "${target}" in ${id} (known: ${TARGETS.join(", ")})`);
  const t = target as Target;
  if (!variantsOf(t).includes(variant))
    throw new Error(`fuzz: target ${t} has no seed model "${variant}" (${variantsOf(t).join(", ")})`);
  const rng = new Rng(hashString(id) ^ Math.imul(n, 0x9e3779b1));
  for (let attempt = 0; attempt < 8; attempt++) {
    const files = mutate(t, variant, rng);
    if (total(files) < MAX_CASE_BYTES) return { id, files, entry: t === "gguf" ? GGUF_FILE : "" };
  }
  throw new Error(`fuzz: ${id}: no mutation under ${MAX_CASE_BYTES} bytes in 8 draws`);
}

/**
 * The ids of a campaign: targets in turn, each target's seed models in turn, numbered from `seed` × 10^7 so
 * that two seeds never share a case.
 *
 * @example campaignIds(14, 1, ["config", "gguf"]) // ["config:gpt2:10000000", "gguf:gpt2:10000001", …]
 */
export function campaignIds(count: number, seed: number, targets: readonly Target[] = TARGETS): string[] {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const t = targets[i % targets.length] as Target;
    const vs = variantsOf(t);
    const v = vs[Math.floor(i / targets.length) % vs.length] as string;
    ids.push(`${t}:${v}:${seed * 10_000_000 + i}`);
  }
  return ids;
}
