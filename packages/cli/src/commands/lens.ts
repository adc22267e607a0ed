// `llmdbg lens <model>`: the logit lens — the top prediction of every layer's residual stream at every position,
// read through the model's own final norm and unembedding, and a target token's probability and rank; with
// --tuned, through a tuned lens's translators first; with --train-tuned, training one on a text file.
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { readSafetensors, writeSafetensors } from "@llmdbg/formats";
import { logitLens, type TunedLens, trainTunedLens } from "@llmdbg/methods";
import type * as T from "@llmdbg/tensor";
import { modelPath, UsageError } from "../args.js";
import { defineFlags, flag } from "../flags.js";
import { inputIds, load, loadFlags, tokenDisplayOf, tokenFlag } from "../load.js";
import { print, printJson, quoted, table } from "../output.js";
import type { Command } from "./command.js";

const flags = defineFlags({
  text: flag.text("T", "input text, encoded with the model's tokenizer"),
  tokens: flag.text("1,2,3", "input token ids instead of text"),
  target: flag.text("TOKEN", "a token (text of one token, or an id) whose probability and rank are shown at every layer"),
  "top-k": flag.int("N", "predictions kept per layer and position in the JSON (default 5)", 1),
  last: flag.int("N", "positions shown in the text table, counted from the end (default 8; --json has all)", 1),
  tuned: flag.text("FILE", "read each stream through this tuned lens's translators first (a --train-tuned file)"),
  "train-tuned": flag.text("CORPUS", "train a tuned lens on a text file (one text per line) instead; --out FILE keeps it"),
  steps: flag.int("N", "--train-tuned: Adam steps per layer (default 200)", 0),
  out: flag.text("FILE", "--train-tuned: write the translators as safetensors"),
  json: flag.bool("one JSON object (a LensResult, or a TunedLensResult when training)"),
  ...loadFlags,
});

export const lensCommand: Command = {
  summary: "logit lens: every layer's prediction at every position",
  usage:
    "llmdbg lens <model> (--text T | --tokens 1,2,3) [--target TOKEN] [--tuned FILE] [--top-k N] [--last N] [--json] | llmdbg lens <model> --train-tuned CORPUS [--out FILE]",
  help: flags.help,
  run(argv) {
    const { values, positionals } = flags.parse(argv);
    const path = modelPath(positionals);
    if (values["train-tuned"] !== undefined) return train(path, values["train-tuned"], values);
    const m = load(path, values);
    const ids = inputIds(m, values);
    const tuned = values.tuned === undefined ? undefined : readTuned(values.tuned);
    const target = values.target === undefined ? undefined : tokenFlag(m, values.target, "target");
    const r = logitLens(
      m.model,
      {
        kind: "lens",
        input: { ids },
        topK: values["top-k"] ?? 5,
        ...(target !== undefined && { target }),
      },
      tuned === undefined ? {} : { tuned },
    );
    if (values.json) {
      printJson(r);
      return 0;
    }
    const shown = r.positions.slice(-(values.last ?? 8));
    const show = (id: number) => quoted(tokenDisplayOf(m, id) ?? `<id ${id}>`);
    const header = ["stream", ...shown.map((p) => `${p}: ${show(ids[p] as number)}`)];
    const label = (name: string) => name.replace(/^blocks\.(\d+)\.hook_resid_(pre|post)$/, "L$1 $2");
    const rows = r.layers.map((name, l) => [
      label(name),
      ...shown.map((p) => {
        const cell = r.cells[l]?.[r.positions.indexOf(p)];
        const top = cell?.top[0];
        const t = cell?.target;
        const main = top === undefined ? "" : `${show(top.id)} ${(100 * top.prob).toFixed(0)}%`;
        return t === null || t === undefined ? main : `${main} | #${t.rank} ${(100 * t.prob).toFixed(1)}%`;
      }),
    ]);
    print(
      `${ids.length} tokens; the top prediction of each layer's residual stream${target === undefined ? "" : `, and ${show(target)}'s rank and probability`}`,
    );
    for (const line of table(header, rows)) print(line);
    if (shown.length < r.positions.length)
      print(`(last ${shown.length} of ${r.positions.length} positions; --last N or --json for more)`);
    return 0;
  },
};

/** The translators `llmdbg lens --train-tuned --out` wrote: translator.N.A / translator.N.b and the streams. */
function readTuned(file: string): TunedLens {
  const st = readSafetensors(file);
  if (st.metadata.format !== "llmdbg.tuned_lens")
    throw new Error(`${file}: not a tuned lens (metadata format is ${JSON.stringify(st.metadata.format)})`);
  const layers = JSON.parse(st.metadata.layers ?? "[]") as string[];
  return { layers, translators: layers.map((_, l) => ({ A: st.load(`translator.${l}.A`), b: st.load(`translator.${l}.b`) })) };
}

function train(
  path: string,
  corpus: string,
  values: { steps?: number | undefined; out?: string | undefined; json: boolean; "allow-unread": boolean },
): number {
  if (values.out !== undefined && !existsSync(dirname(resolve(values.out))))
    throw new UsageError(`--out ${values.out}: the folder ${dirname(resolve(values.out))} does not exist`);
  let texts: string[];
  try {
    texts = readFileSync(corpus, "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "");
  } catch (e) {
    throw new UsageError(`--train-tuned ${corpus}: cannot read it (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  const m = load(path, values);
  const { result, lens } = trainTunedLens(m.model, {
    kind: "tuned_lens",
    texts,
    ...(values.steps !== undefined && { steps: values.steps }),
  });
  if (values.out !== undefined) {
    const tensors: Record<string, T.Tensor> = {};
    lens.translators.forEach((t, l) => {
      tensors[`translator.${l}.A`] = t.A;
      tensors[`translator.${l}.b`] = t.b;
    });
    writeSafetensors(values.out, tensors, { metadata: { format: "llmdbg.tuned_lens", layers: JSON.stringify(lens.layers) } });
  }
  if (values.json) {
    printJson(result);
    return 0;
  }
  print(`tuned lens trained on ${result.trainTokens} positions, KL(final ‖ lens) on ${result.validationTokens} held out:`);
  const rows = result.layers.map((name, l) => [
    name,
    (result.klLogitLens[l] as number).toFixed(4),
    (result.klTunedLens[l] as number).toFixed(4),
  ]);
  for (const line of table(["stream", "logit lens", "tuned lens"], rows, ["left", "right", "right"])) print(line);
  if (values.out !== undefined) print(`translators written to ${values.out} (llmdbg lens --tuned ${values.out})`);
  return 0;
}
