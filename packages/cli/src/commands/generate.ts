// `llmdbg generate <model>`: continues a prompt, streaming the text as tokens come. Sampling starts from
// the checkpoint's generation_config.json (as transformers does) and flags override it.
import { type GenerateOptions, generateStream } from "@llmdbg/core";
import { generationOptions } from "@llmdbg/models";
import { renderChatTemplate } from "@llmdbg/tokenizers";
import { modelPath, UsageError } from "../args.js";
import { defineFlags, flag } from "../flags.js";
import { decodeIds, inputIds, type LoadedModel, load, loadFlags, tokenizerOf } from "../load.js";
import { dim, printJson } from "../output.js";
import type { Command } from "./command.js";

/** transformers' GenerationConfig default is max_length 20; a count of new tokens reads better. */
const DEFAULT_MAX_NEW = 32;

const flags = defineFlags({
  text: flag.text("T", "the prompt"),
  tokens: flag.text("1,2,3", "the prompt as token ids"),
  chat: flag.bool("--text is a user message, rendered with the model's chat template (and the assistant prompt)"),
  system: flag.text("S", "with --chat: a system message before it"),
  "max-new": flag.int("N", `new tokens at most (default: the checkpoint's max_new_tokens, else ${DEFAULT_MAX_NEW})`, 0),
  temperature: flag.num("X", "0 is greedy; setting any sampling flag turns sampling on", (n) => n >= 0, "a number >= 0"),
  "top-k": flag.int("N", "sample among the N most likely tokens (0: off)", 0),
  "top-p": flag.num(
    "P",
    "sample among the most likely tokens whose probability reaches P",
    (n) => n > 0 && n <= 1,
    "a number in (0, 1]",
  ),
  seed: flag.int("S", "the same seed, prompt and settings give the same tokens (default 0)", 0, 2 ** 32 - 1),
  json: flag.bool("one JSON object at the end instead of streaming"),
  ...loadFlags,
});

/**
 * Turns a growing list of token ids into text deltas. Decoding all ids each time (not one token at a time)
 * keeps a character split over several byte tokens whole; while the text ends in U+FFFD the character is
 * still incomplete, so nothing is released until the next token finishes it. A decoder whose output is not
 * prefix-stable (clean-up of spaces before punctuation) cannot take back what was printed: the stream then
 * continues from the same length, as transformers' TextStreamer does, and only --json text is exact.
 */
export class TextStream {
  /** characters of the decoded text already released */
  private sent = 0;

  constructor(private readonly decode: (ids: readonly number[]) => string) {}

  /** The new text since the last call, given every generated id so far. */
  push(ids: readonly number[]): string {
    const text = this.decode(ids);
    return text.endsWith("\uFFFD") ? "" : this.release(text);
  }

  /** Whatever is still held back (a character that never completed). */
  flush(ids: readonly number[]): string {
    return this.release(this.decode(ids));
  }

  private release(text: string): string {
    const delta = text.slice(this.sent);
    this.sent = Math.max(this.sent, text.length);
    return delta;
  }
}

/**
 * The prompt ids of one user turn (after an optional system turn) through the model's chat template with the
 * assistant's generation prompt, tokenized without adding special tokens again — transformers'
 * `apply_chat_template(..., add_generation_prompt=True, tokenize=True)`.
 */
function chatIds(m: LoadedModel, user: string, system: string | undefined): number[] {
  const tok = tokenizerOf(m);
  if (tok.chatTemplate === undefined) throw new Error(`${m.path}: the tokenizer has no chat template; drop --chat`);
  const name = (id: number | undefined) => (id === undefined ? undefined : tok.idToToken(id));
  const bos = name(tok.bosTokenId);
  const eos = name(tok.eosTokenId);
  const messages = [...(system === undefined ? [] : [{ role: "system", content: system }]), { role: "user", content: user }];
  const text = renderChatTemplate(tok.chatTemplate, messages, {
    addGenerationPrompt: true,
    ...(bos !== undefined && { bosToken: bos }),
    ...(eos !== undefined && { eosToken: eos }),
  });
  return inputIds(m, { text: undefined, tokens: tok.encode(text, { addSpecialTokens: false }).join(",") });
}

export const generateCommand: Command = {
  summary: "continue a prompt, streaming tokens (sampling defaults from generation_config.json)",
  usage:
    "llmdbg generate <model> (--text T | --tokens 1,2,3) [--chat [--system S]] [--max-new N] [--temperature X] [--top-k N] [--top-p P] [--seed S] [--json]",
  help: flags.help,
  run(argv) {
    const { values, positionals } = flags.parse(argv);
    const path = modelPath(positionals);
    const { "max-new": maxNew, temperature, "top-k": topK, "top-p": topP } = values;
    const seed = values.seed ?? 0;
    if (values.system !== undefined && !values.chat) throw new UsageError("--system goes with --chat");
    if (values.chat && values.text === undefined) throw new UsageError("--chat needs --text (the user message)");
    const m = load(path, values);
    const prompt = values.chat ? chatIds(m, values.text as string, values.system) : inputIds(m, values);
    const room = m.config.maxPositions - prompt.length;
    let maxNewTokens = maxNew ?? m.generation.maxNewTokens ?? DEFAULT_MAX_NEW;
    if (maxNewTokens > room) {
      process.stderr.write(
        `llmdbg: the model has ${m.config.maxPositions} positions; generating ${room} tokens, not ${maxNewTokens}\n`,
      );
      maxNewTokens = room;
    }
    const opts: GenerateOptions = generationOptions(m.generation, {
      maxNewTokens,
      seed,
      ...(temperature !== undefined && { temperature }),
      ...(topK !== undefined && { topK }),
      ...(topP !== undefined && { topP }),
    });
    const tok = m.tokenizer;
    const decode = (ids: readonly number[]) => decodeIds(m, ids, true);
    const stream = values.json || tok === undefined ? undefined : new TextStream(decode);
    // the prompt, then the continuation; on a terminal the prompt is dim, so the two can be told apart
    if (stream !== undefined && values.text !== undefined && !values.chat) process.stdout.write(dim(values.text));
    const t0 = performance.now();
    const it = generateStream(m.model, [prompt], opts);
    const ids: number[] = [];
    let r = it.next();
    for (; !r.done; r = it.next()) {
      const t = r.value.tokens[0];
      if (t === null || t === undefined) continue;
      ids.push(t);
      if (stream !== undefined) process.stdout.write(stream.push(ids));
      // without a tokenizer the stream is ids
      else if (!values.json) process.stdout.write(`${ids.length > 1 ? " " : ""}${t}`);
    }
    const seconds = (performance.now() - t0) / 1000;
    const finishReason = r.value.finishReasons[0] ?? "length";
    const tokensPerSecond = seconds > 0 ? ids.length / seconds : 0;
    if (values.json) {
      printJson({
        model: m.path,
        promptTokens: prompt,
        newTokens: ids,
        text: tok === undefined ? null : decode(ids),
        finishReason,
        tokensPerSecond,
        options: opts,
      });
      return 0;
    }
    if (stream !== undefined) process.stdout.write(stream.flush(ids));
    process.stdout.write("\n");
    process.stderr.write(`[${ids.length} tokens, ${tokensPerSecond.toFixed(1)} tokens/s, finish: ${finishReason}]\n`);
    return 0;
  },
};
