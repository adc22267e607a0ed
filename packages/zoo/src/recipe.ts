// What a zoo model is made of: a recipe that builds its data, tokenizer and config from the project's own
// generators, the training configuration, and the claims its card makes — each re-measured by `verify` on the
// trained model. A recipe never reads what was planted in the model (the zoo folder's ground-truth files, which
// scripts/check-deps.mjs keeps out of every package's code): its checks measure behaviour; only tests and
// benchmark scorers compare findings with what was planted.
import type { Tokenizer, TransformerModel } from "@llmdbg/core";
import type { TrainConfig } from "@llmdbg/protocol";
import type { TrainData } from "@llmdbg/train";

/** Everything a training run needs, generated: the files of the model folder and the examples. */
export interface PreparedRecipe {
  /** config.json of the fresh model */
  readonly modelConfig: Record<string, unknown>;
  /** tokenizer.json */
  readonly tokenizer: Record<string, unknown>;
  /** tokenizer_config.json */
  readonly tokenizerConfig: Record<string, unknown>;
  /** generation_config.json (decoders) */
  readonly generationConfig: Record<string, unknown> | null;
  readonly data: TrainData;
  /** how the data was made (generator, seeds, counts, sizes): written to data.json */
  readonly dataInfo: Record<string, unknown>;
}

/** One measured claim of a model card: `value` must be `op` `bound`. */
export interface Claim {
  readonly name: string;
  /** what is measured, in a sentence */
  readonly what: string;
  readonly value: number;
  readonly op: ">=" | "<=";
  readonly bound: number;
  readonly pass: boolean;
}

/** A model with its tokenizer, as loaded from a zoo folder (its weights reachable, for the methods' measurements). */
export type ZooModel = TransformerModel & { readonly tokenizer: Tokenizer | undefined };

export interface ZooRecipe {
  readonly name: string;
  /** one line for `llmdbg zoo list` */
  readonly summary: string;
  /** the model's architecture in words, for the card */
  readonly architecture: string;
  /** seeds the weights' initialization (the data's seeds are in the recipe's dataInfo) */
  readonly initSeed: number;
  readonly train: TrainConfig;
  /** builds data, tokenizer and configs; deterministic */
  prepare(): PreparedRecipe;
  /** the card's claims measured on `model`; fast enough for CI */
  verify(model: ZooModel): Claim[];
  /** the card's "What it does" section (markdown), given the claims just measured */
  describe(claims: readonly Claim[], model: ZooModel): string;
}

/** A claim from a measurement. */
export function claim(name: string, what: string, value: number, op: Claim["op"], bound: number): Claim {
  return { name, what, value, op, bound, pass: op === ">=" ? value >= bound : value <= bound };
}

/** The model's tokenizer, which every zoo recipe's measurements need; `who` names the recipe in the error. */
export function tokenizerOf(model: ZooModel, who: string): Tokenizer {
  const tok = model.tokenizer;
  if (tok === undefined) throw new Error(`${who}: the model has no tokenizer`);
  return tok;
}
