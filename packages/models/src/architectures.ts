// Which architecture file runs a normalized config. The only place that reads `config.family`: the table is
// an exhaustive mapped type, so a family without a file fails to compile.
import { ModelFormatError } from "@llmdbg/formats";
import { bert, bertLayout } from "./arch/bert.js";
import { type LayoutEntry, type LoadedArchitecture, layoutOf, type WeightSource } from "./arch/common.js";
import { gptNeox, gptNeoxParams } from "./arch/gpt-neox.js";
import { gpt2, gpt2Params } from "./arch/gpt2.js";
import { llama, llamaParams } from "./arch/llama.js";
import type { ArchitectureFamily, ModelConfig } from "./config.js";

interface Architecture {
  readonly build: (config: ModelConfig, weights: WeightSource, file: string) => LoadedArchitecture;
  /**
   * Stored tensors the family never reads and transformers ignores too (`_keys_to_ignore_on_load_unexpected`):
   * buffers older exporters saved (the causal mask, rotary inverse frequencies, position ids) and heads of
   * the same pretraining checkpoint that this model class does not run. Anything else left unread is an error.
   */
  readonly ignorable: (config: ModelConfig) => readonly RegExp[];
  /** The tensors a fresh checkpoint stores, named as `save_pretrained` writes them (initModel, saveModel). */
  readonly layout: (config: ModelConfig) => readonly LayoutEntry[];
}

/** A decoder's layout: every key under the base model's prefix but the output head's. */
const decoderLayout =
  (
    tree: (
      config: ModelConfig,
      leaf: (key: string, shape: readonly number[], kind: "linear" | "table" | "vector") => string,
    ) => unknown,
    prefix: string,
    head: string,
  ) =>
  (config: ModelConfig): readonly LayoutEntry[] =>
    layoutOf(
      config,
      (leaf) => tree(config, leaf),
      (k) => (k.startsWith(`${head}.`) ? k : prefix + k),
    );

const architectures: { readonly [F in ArchitectureFamily]: Architecture } = {
  gpt2: {
    build: gpt2,
    ignorable: () => [/(^|\.)attn\.(bias|masked_bias)$/],
    layout: decoderLayout(gpt2Params, "transformer.", "lm_head"),
  },
  llama: {
    build: llama,
    ignorable: () => [/(^|\.)rotary_emb\.inv_freq$/],
    layout: decoderLayout(llamaParams, "model.", "lm_head"),
  },
  gpt_neox: {
    build: gptNeox,
    ignorable: () => [/(^|\.)attention\.(bias|masked_bias|rotary_emb\.inv_freq)$/],
    layout: decoderLayout(gptNeoxParams, "gpt_neox.", "embed_out"),
  },
  bert: {
    build: bert,
    layout: bertLayout,
    ignorable: (config) => [
      /(^|\.)embeddings\.position_ids$/,
      // BERT's next-sentence head, saved with every pretraining checkpoint (bert-base-uncased)
      /^cls\.seq_relationship\./,
      // the pooler feeds only the sequence classifier; masked-LM classes ignore it, as transformers does
      ...(config.classifier === null ? [/(^|\.)pooler\./] : []),
    ],
  },
};

export interface BuildOptions {
  /**
   * Build even when the checkpoint stores tensors the architecture does not read; `onUnread` hears which.
   * Without it such a checkpoint is refused: unread weights mean a config that describes another model (fewer
   * layers, another architecture, a head that is not run).
   */
  readonly allowUnread?: boolean;
  readonly onUnread?: (names: readonly string[]) => void;
}

/**
 * Builds the architecture of `config.family` from `weights`; `file` names the checkpoint in errors. Every
 * stored tensor must be read (see BuildOptions).
 * @example const model = buildModel(config, readSafetensors(path), path)
 */
export function buildModel(
  config: ModelConfig,
  weights: WeightSource,
  file: string,
  opts: BuildOptions = {},
): LoadedArchitecture {
  const arch = architectures[config.family];
  const read = new Set<string>();
  const tracked: WeightSource = {
    has: (k) => weights.has(k),
    keys: () => weights.keys(),
    load(k) {
      read.add(weights.storedName?.(k) ?? k);
      return weights.load(k);
    },
  };
  const model = arch.build(config, tracked, file);
  const ignorable = arch.ignorable(config);
  const unread = weights.keys().filter((k) => !read.has(k) && !ignorable.some((re) => re.test(k)));
  if (unread.length > 0) {
    if (opts.allowUnread !== true) {
      const shown = unread.slice(0, 5).join(", ") + (unread.length > 5 ? `, … (${unread.length} in all)` : "");
      throw new ModelFormatError(
        file,
        unread[0] as string,
        `the ${config.family} architecture this config describes does not read ${unread.length} stored tensor(s): ${shown}. ` +
          `The config may not match the weights (layer count, model type, a head that is not run); pass allowUnread (--allow-unread) to load anyway`,
      );
    }
    opts.onUnread?.(unread);
  }
  return model;
}

/**
 * The tensors a fresh checkpoint of `config` stores: parameter name, stored name and shape, kind.
 * @example checkpointLayout(normalizeHfConfig(json, "config.json")).map((e) => e.stored)
 */
export function checkpointLayout(config: ModelConfig): readonly LayoutEntry[] {
  return architectures[config.family].layout(config);
}
