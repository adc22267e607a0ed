// What every command does first: load the model (with a progress bar on a terminal) and turn `--text` or
// `--tokens` into token ids the model accepts.
import { basename } from "node:path";
import { type LoadedModel, loadModel } from "@llmdbg/models";
import { tokenDisplay } from "@llmdbg/tokenizers";
import { tokenList, UsageError } from "./args.js";
import { flag } from "./flags.js";
import { progressBar } from "./output.js";

export type { LoadedModel };

/** The flags of every command that loads a model (spread into its flag table). */
export const loadFlags = {
  "allow-unread": flag.bool("load a checkpoint even if it stores tensors the architecture does not read (listed on stderr)"),
};

/**
 * loadModel with a progress bar on stderr when stderr is a terminal; with `--allow-unread`, the stored tensors
 * the architecture left unread are listed on stderr.
 * @example const m = load("models/gpt2", values)
 */
export function load(path: string, flags: { "allow-unread": boolean }): LoadedModel {
  const bar = progressBar(`loading ${basename(path)}`);
  let m: LoadedModel;
  try {
    const allowUnread = flags["allow-unread"];
    m = loadModel(path, bar === undefined ? { allowUnread } : { allowUnread, onProgress: (p) => bar.update(p.done, p.total) });
  } finally {
    bar?.finish();
  }
  if (m.unread.length > 0) {
    const shown = m.unread.slice(0, 10).join(", ") + (m.unread.length > 10 ? ", …" : "");
    process.stderr.write(`llmdbg: note: ${m.unread.length} stored tensor(s) not read (--allow-unread): ${shown}\n`);
  }
  return m;
}

/** The loaded tokenizer, or an error saying why `--text` cannot work. */
export function tokenizerOf(m: LoadedModel): NonNullable<LoadedModel["tokenizer"]> {
  if (m.tokenizer === undefined)
    throw new Error(
      `${m.path}: the model has no tokenizer (no tokenizer.json or tokenizer.ggml.* metadata); pass --tokens instead of --text`,
    );
  return m.tokenizer;
}

/**
 * Token ids from exactly one of `--text` (encoded with the model's tokenizer, special tokens added as the
 * tokenizer file says) and `--tokens 1,2,3`, checked against the model's vocabulary.
 */
export function inputIds(m: LoadedModel, flags: { text?: string | undefined; tokens?: string | undefined }): number[] {
  if ((flags.text === undefined) === (flags.tokens === undefined))
    throw new UsageError("pass exactly one of --text and --tokens");
  const ids = flags.text !== undefined ? tokenizerOf(m).encode(flags.text) : tokenList(flags.tokens as string);
  // what the input holds is data, not the command line: exit 1 (a UsageError would be 2)
  if (ids.length === 0) throw new Error("the input has no tokens");
  const V = m.config.vocabSize;
  const bad = ids.find((id) => id >= V);
  if (bad !== undefined) throw new Error(`token id ${bad} is out of range: the model's vocabulary has ${V} tokens`);
  if (ids.length > m.config.maxPositions)
    throw new Error(`the input has ${ids.length} tokens; the model supports at most ${m.config.maxPositions} positions`);
  return ids;
}

// Checkpoints often have more embedding rows than tokenizer entries (padded to a multiple of 64 or 128): a
// prediction can land on a row no token names. Such an id has no strings; it is shown by its number.

/** Whether the tokenizer names `id` (a padding row of the embedding has no token). */
function named(m: LoadedModel, id: number): boolean {
  return m.tokenizer?.idToToken(id) !== undefined;
}

/** Raw vocabulary strings of `ids` (e.g. `Ġworld`); null without a tokenizer or for an id it does not name. */
export function tokenStrings(m: LoadedModel, ids: readonly number[]): (string | null)[] {
  return ids.map((id) => (named(m, id) ? (m.tokenizer?.idToToken(id) ?? null) : null));
}

/** The text of one token; null without a tokenizer or for an id it does not name. */
export function tokenText(m: LoadedModel, id: number): string | null {
  return m.tokenizer !== undefined && named(m, id) ? m.tokenizer.decode([id]) : null;
}

/** The readable text of one token (partial UTF-8 escaped); null without a tokenizer or for an id it does not name. */
export function tokenDisplayOf(m: LoadedModel, id: number): string | null {
  return m.tokenizer !== undefined && named(m, id) ? tokenDisplay(m.tokenizer, id) : null;
}

/**
 * Text of generated ids: the tokenizer's decoding, with an id it does not name written `<id N>` in place
 * (each run of named ids decoded on its own).
 */
export function decodeIds(m: LoadedModel, ids: readonly number[], skipSpecialTokens: boolean): string {
  const tok = tokenizerOf(m);
  let out = "";
  let run: number[] = [];
  const flush = () => {
    if (run.length > 0) out += tok.decode(run, { skipSpecialTokens });
    run = [];
  };
  for (const id of ids) {
    if (named(m, id)) run.push(id);
    else {
      flush();
      out += `<id ${id}>`;
    }
  }
  flush();
  return out;
}

/**
 * A token named on the command line (`--target Paris`, `--target 6342`): an integer is an id (checked against
 * the vocabulary); other text must encode to exactly one token (without special tokens). Errors are usage errors.
 */
export function tokenFlag(m: LoadedModel, value: string, flagName: string): number {
  const V = m.config.vocabSize;
  if (/^\d+$/.test(value)) {
    const id = Number(value);
    if (id >= V) throw new UsageError(`--${flagName} ${value}: token id out of range [0, ${V})`);
    return id;
  }
  const ids = tokenizerOf(m).encode(value, { addSpecialTokens: false });
  if (ids.length !== 1)
    throw new UsageError(
      `--${flagName} ${JSON.stringify(value)} is ${ids.length} tokens (${ids.join(", ")}), expected one; pass one token's text or its id`,
    );
  return ids[0] as number;
}
