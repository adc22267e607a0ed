// A random-init GPT-2 of a chosen shape with a borrowed tokenizer (e.g. the zoo's stories model's), for the tests
// and benchmarks that need a model of real proportions — 12 layers × 12 heads over 1,024 positions — which
// writeTinyModel's fixed 64 positions cannot give. The weights are initModel's, from one seed; a larger `std`
// than GPT-2's 0.02 gives sharper, more varied attention patterns (random weights at 0.02 attend almost uniformly).
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeSafetensors } from "@llmdbg/formats";
import { initModel } from "@llmdbg/models";

export interface RandomGpt2Options {
  readonly nLayers: number;
  readonly nHeads: number;
  readonly dModel: number;
  readonly nPositions: number;
  /** a folder whose tokenizer.json and tokenizer_config.json are copied; its vocabulary size must be given */
  readonly tokenizerFrom: string;
  readonly vocabSize: number;
  readonly bosTokenId?: number;
  readonly eosTokenId?: number;
  readonly seed?: number;
  /** the weights' standard deviation (default 0.02, GPT-2's) */
  readonly std?: number;
}

/** Writes config.json, model.safetensors and the borrowed tokenizer files into `folder`. */
export function writeRandomGpt2(folder: string, o: RandomGpt2Options): void {
  if (o.dModel % o.nHeads !== 0) throw new RangeError(`d_model ${o.dModel} is not a multiple of ${o.nHeads} heads`);
  const config = {
    architectures: ["GPT2LMHeadModel"],
    model_type: "gpt2",
    vocab_size: o.vocabSize,
    n_positions: o.nPositions,
    n_ctx: o.nPositions,
    n_embd: o.dModel,
    n_layer: o.nLayers,
    n_head: o.nHeads,
    n_inner: null,
    activation_function: "gelu_new",
    resid_pdrop: 0,
    embd_pdrop: 0,
    attn_pdrop: 0,
    layer_norm_epsilon: 1e-5,
    initializer_range: 0.02,
    scale_attn_weights: true,
    tie_word_embeddings: true,
    ...(o.bosTokenId !== undefined && { bos_token_id: o.bosTokenId }),
    ...(o.eosTokenId !== undefined && { eos_token_id: o.eosTokenId }),
  };
  const { weights } = initModel(config, { seed: o.seed ?? 0, ...(o.std !== undefined && { std: o.std }) });
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
  writeSafetensors(join(folder, "model.safetensors"), weights, { metadata: { format: "pt" } });
  for (const f of ["tokenizer.json", "tokenizer_config.json"])
    if (existsSync(join(o.tokenizerFrom, f))) copyFileSync(join(o.tokenizerFrom, f), join(folder, f));
}
