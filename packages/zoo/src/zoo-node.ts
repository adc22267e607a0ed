// Training and verifying zoo models on disk. `trainZoo` turns a recipe into a model folder in the Hugging Face
// layout (config.json, model.safetensors, tokenizer files, generation_config.json) with what made it
// (train_config.json, data.json, the JSONL training log) and its card (README.md, with claims.json holding the
// measured claims); `verifyZoo` loads the folder and measures the claims again.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { initModel, load, type ModelConfig, saveModel } from "@llmdbg/models";
import type { TrainConfig, TrainEvent } from "@llmdbg/protocol";
import { JsonlSink, train } from "@llmdbg/train";
import type { Claim, PreparedRecipe, ZooRecipe } from "./recipe.js";

export interface TrainZooOptions {
  readonly onEvent?: (e: TrainEvent) => void;
  readonly signal?: AbortSignal;
  /** overrides of the recipe's training config (a short run for a test) */
  readonly override?: Partial<TrainConfig>;
}

export interface TrainZooResult {
  readonly claims: readonly Claim[];
  readonly wallMs: number;
  readonly steps: number;
  readonly finalLoss: number | null;
}

const writeJson = (file: string, v: unknown) => writeFileSync(file, `${JSON.stringify(v, null, 2)}\n`);

/** The claims as a markdown table. */
export function claimsTable(claims: readonly Claim[]): string {
  const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(4));
  return [
    "| claim | measured | bound | holds |",
    "|---|---|---|---|",
    ...claims.map(
      (c) => `| ${c.what} (\`${c.name}\`) | ${fmt(c.value)} | ${c.op} ${fmt(c.bound)} | ${c.pass ? "yes" : "**no**"} |`,
    ),
  ].join("\n");
}

/**
 * Trains `recipe`'s model from scratch into `dir` and writes its card.
 * @example const r = await trainZoo(stories, "zoo/stories", { onEvent: (e) => e.kind === "step" && console.log(e.loss) })
 */
export async function trainZoo(recipe: ZooRecipe, dir: string, opts: TrainZooOptions = {}): Promise<TrainZooResult> {
  const t0 = performance.now();
  mkdirSync(dir, { recursive: true });
  const p = recipe.prepare();
  writeJson(join(dir, "config.json"), p.modelConfig);
  writeJson(join(dir, "tokenizer.json"), p.tokenizer);
  writeJson(join(dir, "tokenizer_config.json"), p.tokenizerConfig);
  if (p.generationConfig !== null) writeJson(join(dir, "generation_config.json"), p.generationConfig);
  writeJson(join(dir, "data.json"), p.dataInfo);
  const config: TrainConfig = { ...recipe.train, ...opts.override };
  writeJson(join(dir, "train_config.json"), { initSeed: recipe.initSeed, ...config });
  const { config: modelConfig, model } = initModel(p.modelConfig, { seed: recipe.initSeed });
  // the sink appends: a retrained model's log starts empty
  rmSync(join(dir, "train_log.jsonl"), { force: true });
  const sink = new JsonlSink(join(dir, "train_log.jsonl"));
  let result: Awaited<ReturnType<typeof train>>;
  try {
    result = await train(model, p.data, config, {
      sink,
      ...(opts.onEvent !== undefined && { onEvent: opts.onEvent }),
      ...(opts.signal !== undefined && { signal: opts.signal }),
    });
  } finally {
    sink.close();
  }
  saveModel(modelConfig, model.params, join(dir, "model.safetensors"));
  const trainMs = performance.now() - t0;
  const finalLoss = result.losses.at(-1) ?? null;
  const claims = writeZooCard(recipe, dir, { steps: result.step, finalLoss, wallMs: trainMs, dataInfo: p.dataInfo });
  return { claims, wallMs: performance.now() - t0, steps: result.step, finalLoss };
}

/** What a card says of the training run that made the folder. */
export interface ZooTraining {
  readonly steps: number;
  readonly finalLoss: number | null;
  /** data, training and saving */
  readonly wallMs: number;
  readonly dataInfo: PreparedRecipe["dataInfo"];
}

/**
 * Measures the recipe's claims on the saved folder and writes `claims.json` and the card (`README.md`). trainZoo
 * calls it after training; called alone it rewrites both for a recipe whose claims changed, keeping the
 * training run's figures (read them from the old card).
 */
export function writeZooCard(recipe: ZooRecipe, dir: string, training: ZooTraining): Claim[] {
  const loaded = load(dir);
  const claims = recipe.verify(loaded);
  writeJson(join(dir, "claims.json"), claims);
  const card = [
    `# ${recipe.name}`,
    "",
    `${recipe.summary[0]?.toUpperCase()}${recipe.summary.slice(1)}. Trained by llmdbg's own code (\`llmdbg zoo train ${recipe.name}\`) from data its`,
    "own generator wrote; nothing in it was downloaded.",
    "",
    "## Model",
    "",
    `${recipe.architecture}; ${loaded.params.count().toLocaleString("en-US")} parameters. ${loadsIn(loaded.config)}`,
    "",
    "## What it does",
    "",
    recipe.describe(claims, loaded),
    "",
    "## Training",
    "",
    `- data: \`data.json\` (${Object.entries(training.dataInfo)
      .map(([k, v]) => `${k} ${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join(", ")})`,
    `- config: \`train_config.json\`; ${training.steps} optimizer steps, final training loss ${training.finalLoss?.toFixed(4) ?? "-"}`,
    `- wall time: ${(training.wallMs / 60000).toFixed(1)} minutes on ${hostCores()} (data, training and saving)`,
    "- log: `train_log.jsonl`, one TrainEvent per line (loss, learning rate, gradient norms per layer, evaluations)",
    "",
    "## Claims",
    "",
    "Measured on the saved model; `llmdbg zoo verify " +
      recipe.name +
      "` measures them again (`claims.json` holds these values).",
    "",
    claimsTable(claims),
    "",
  ].join("\n");
  writeFileSync(join(dir, "README.md"), card);
  return claims;
}

/** Where the folder loads: everywhere a Hugging Face folder does, unless its config is one transformers lacks. */
function loadsIn(config: ModelConfig): string {
  if (config.attnOnly)
    return [
      "Hugging Face layout, but attention-only (`attn_only: true` in config.json, TransformerLens's option): it loads in every",
      "llmdbg command, and **not in transformers**, which has no attention-only GPT-2 (GPT2LMHeadModel would add MLPs with",
      "random weights, warning that they are missing from the checkpoint).",
    ].join("\n");
  // a sequence classifier's config names a *ForSequenceClassification class, with its labels
  const auto = config.classifier !== null ? "AutoModelForSequenceClassification" : "AutoModelForCausalLM";
  return [
    `Hugging Face layout: loads in every llmdbg command and in transformers (\`${auto}.from_pretrained\` /`,
    "`AutoModel`, per config.json's `architectures`).",
  ].join("\n");
}

function hostCores(): string {
  return `${availableParallelism()} cores`;
}

/**
 * Loads the zoo model in `dir` and measures `recipe`'s claims on it again.
 * @example verifyZoo(stories, "zoo/stories").every((c) => c.pass)
 */
export function verifyZoo(recipe: ZooRecipe, dir: string): Claim[] {
  return recipe.verify(load(dir));
}
