import { run, topK } from "@llmdbg/core";
import { writeSafetensors } from "@llmdbg/formats";
import type { Tensor } from "@llmdbg/tensor";
import * as T from "@llmdbg/tensor";
import { modelPath, selectHooks, UsageError } from "../args.js";
import { checkOutputFolder } from "../files.js";
import { defineFlags, flag } from "../flags.js";
import { inputIds, type LoadedModel, load, loadFlags, tokenDisplayOf, tokenStrings, tokenText } from "../load.js";
import { print, printJson, quoted, table } from "../output.js";
import { recordRun, storeFlags } from "../record.js";
import type { Command } from "./command.js";

const flags = defineFlags({
  text: flag.text("T", "input text, encoded with the model's tokenizer"),
  tokens: flag.text("1,2,3", "input token ids instead of text"),
  "top-k": flag.int("N", "predictions listed per position (default 5; the text table shows at most 10)", 1),
  "all-logits": flag.bool('include every logit of every position in the JSON ("logits": [[...], ...])'),
  cache: flag.text("PATTERN", "hook points to save, globs with * (comma-separated), e.g. 'blocks.*.attn.hook_pattern'"),
  out: flag.text("FILE", "the safetensors file --cache writes, one tensor per hook name"),
  json: flag.bool("one JSON object"),
  ...loadFlags,
  ...storeFlags,
});

export interface Prediction {
  id: number;
  /** the vocabulary string (`Ġworld`), or the label of a classifier; null without a tokenizer */
  token: string | null;
  /** the decoded text of the token alone; null without a tokenizer */
  text: string | null;
  /** the text with the bytes of a partial UTF-8 character escaped (`\xe2\x80`); null without a tokenizer */
  display: string | null;
  logit: number;
  prob: number;
}

/** Rows of the output: [1, pos, vocab] for a language model, [1, labels] for a classifier (one row). */
function outputRows(out: Tensor): { rows: number; width: number; data: Float32Array | Float64Array } {
  const width = out.shape[out.rank - 1] as number;
  return { rows: out.size / width, width, data: out.data as Float32Array };
}

function label(m: LoadedModel, id: number): { token: string | null; text: string | null; display: string | null } {
  const labels = m.config.classifier?.labels;
  if (labels !== undefined) return { token: labels[id] ?? null, text: labels[id] ?? null, display: labels[id] ?? null };
  return { token: tokenStrings(m, [id])[0] ?? null, text: tokenText(m, id), display: tokenDisplayOf(m, id) };
}

/** At most this many predictions per position in the text table (`--json` has them all). */
const TEXT_TOP = 10;

export const runCommand: Command = {
  summary: "one forward pass: tokens, top-k next tokens, logits, cached activations",
  usage:
    "llmdbg run <model> (--text T | --tokens 1,2,3) [--top-k N] [--all-logits] [--cache PATTERN --out FILE] [--no-store] [--json]",
  help: flags.help,
  run(argv) {
    const { values, positionals } = flags.parse(argv);
    const path = modelPath(positionals);
    const k = values["top-k"] ?? 5;
    if ((values.cache === undefined) !== (values.out === undefined)) throw new UsageError("--cache and --out go together");
    if (values.out !== undefined) checkOutputFolder(values.out, "out");
    const t0 = performance.now();
    const m = load(path, values);
    const loadMs = performance.now() - t0;
    const ids = inputIds(m, values);
    const names =
      values.cache === undefined
        ? []
        : selectHooks(
            values.cache,
            m.model.hookPoints.map((p) => p.name),
          );
    const x = T.tensor(ids, [1, ids.length], "i32"); // [batch, pos]
    const t1 = performance.now();
    const { output, cache } = T.noGrad(() => run(m.model, x, { cache: names }));
    const forwardMs = performance.now() - t1;
    if (values.out !== undefined) {
      const tensors = Object.fromEntries(names.map((n) => [n, cache.get(n)]));
      writeSafetensors(values.out, tensors, { metadata: { format: "llmdbg.cache", model: m.path, tokens: JSON.stringify(ids) } });
    }
    const { rows, width, data } = outputRows(output);
    const positions = Array.from({ length: rows }, (_, p) => {
      const row = data.subarray(p * width, (p + 1) * width);
      const top: Prediction[] = topK(row, Math.min(k, width)).map((t) => ({
        id: t.id,
        ...label(m, t.id),
        logit: t.logit,
        prob: t.prob,
      }));
      return { position: p, top };
    });
    const strings = tokenStrings(m, ids);
    // the store keeps the predictions and, with --cache, the activations (the same tensors as --out)
    recordRun(
      values,
      { path: m.path, config: m.config },
      {
        kind: "run",
        prompt: values.text ?? null,
        tokens: ids,
        options: { topK: k, ...(values.cache !== undefined && { cache: values.cache }) },
        timings: { loadMs, forwardMs },
        results: [{ kind: "predictions", positions }],
        ...(names.length > 0 && { tensors: { cache: Object.fromEntries(names.map((n) => [n, cache.get(n)])) } }),
      },
    );
    if (values.json) {
      printJson({
        model: m.path,
        tokens: ids,
        tokenStrings: strings,
        tokenDisplays: ids.map((id) => tokenDisplayOf(m, id)),
        positions,
        ...(values["all-logits"] && {
          logits: Array.from({ length: rows }, (_, p) => Array.from(data.subarray(p * width, (p + 1) * width))),
        }),
        ...(values.out !== undefined && {
          cache: { file: values.out, hooks: names.map((n) => ({ name: n, shape: [...cache.get(n).shape] })) },
        }),
      });
      return 0;
    }
    print(`${ids.length} tokens: ${ids.join(" ")}`);
    const shown = Math.min(k, TEXT_TOP);
    const body = positions.map(({ position, top }) => {
      const preds = top
        .slice(0, shown)
        // an id the tokenizer does not name (a padding row of the embedding) shows as (none); without a
        // tokenizer every prediction is its id alone
        .map((t) => {
          const name = t.display !== null ? `${quoted(t.display)} ` : m.tokenizer === undefined ? "" : "(none) ";
          return `${name}${t.id} ${(100 * t.prob).toFixed(1)}%`;
        })
        .join("  ");
      // a classifier has one row for the whole input
      const id = ids[position] as number;
      const tok = rows === ids.length ? [quoted(tokenDisplayOf(m, id) ?? String(id)), String(id)] : ["(all)", ""];
      return [String(position), ...tok, preds];
    });
    const what = m.config.classifier === null ? `top-${shown} next tokens (id, probability)` : `top-${shown} labels`;
    for (const line of table(["pos", "token", "id", what], body, ["right", "left", "right"])) print(line);
    if (k > shown) print(`(${shown} of ${k} predictions per position shown; --json has them all)`);
    if (values.out !== undefined) print(`wrote ${names.length} activations to ${values.out}`);
    return 0;
  },
};
