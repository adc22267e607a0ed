import { run } from "@llmdbg/core";
import { writeSafetensors } from "@llmdbg/formats";
import type { RunPrediction } from "@llmdbg/protocol";
import { predictionsOf } from "@llmdbg/server";
import type { Tensor } from "@llmdbg/tensor";
import * as T from "@llmdbg/tensor";
import { modelPath, selectHooks, UsageError } from "../args.js";
import { checkOutputFolder } from "../files.js";
import { defineFlags, flag } from "../flags.js";
import { inputIds, load, loadFlags, tokenDisplayOf } from "../load.js";
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

/** One prediction of `llmdbg run --json`: the server's `run` computes the same (`predictionsOf`). */
export type Prediction = RunPrediction;

/** Rows of the output: [1, pos, vocab] for a language model, [1, labels] for a classifier (one row). */
function outputRows(out: Tensor): { rows: number; width: number; data: Float32Array | Float64Array } {
  const width = out.shape[out.rank - 1] as number;
  return { rows: out.size / width, width, data: out.data as Float32Array };
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
    const { positions, tokenStrings: strings, tokenDisplays } = predictionsOf(m, ids, output, k);
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
        tokenDisplays,
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
