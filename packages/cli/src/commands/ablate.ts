import { ablate } from "@llmdbg/methods";
import type { AblationMetric, AblationRequest } from "@llmdbg/protocol";
import { modelPath, tokenList, UsageError } from "../args.js";
import { readTextLines } from "../files.js";
import { defineFlags, flag } from "../flags.js";
import { inputIds, load, loadFlags, tokenDisplayOf, tokenFlag } from "../load.js";
import { print, printJson, progressBar, quoted, table } from "../output.js";
import type { Command } from "./command.js";

const flags = defineFlags({
  text: flag.text("T", "input text, encoded with the model's tokenizer"),
  tokens: flag.text("1,2,3", "input token ids instead of text"),
  components: flag.oneOf("C", "heads (default), neurons or layers (each attention and MLP output)", [
    "heads",
    "neurons",
    "layers",
  ] as const),
  ablation: flag.oneOf("A", "zero (default), mean or resample (both over --dataset)", ["zero", "mean", "resample"] as const),
  dataset: flag.text("FILE", "a text file, one example per line, for mean and resample ablation"),
  metric: flag.oneOf("M", "logprob (default) or prob of --answer, or logit-diff (--answer − --foil), at the last position", [
    "logprob",
    "prob",
    "logit-diff",
  ] as const),
  answer: flag.text("TOKEN", "the answer token (default the top prediction)"),
  foil: flag.text("TOKEN", "the foil of logit-diff"),
  layers: flag.text("0,1", "neurons: the layers whose MLP neurons are ablated (default all)"),
  samples: flag.int("N", "resample: draws averaged per component (default 4)", 1),
  seed: flag.int("N", "resample: the seed of the draws (default 0)", 0),
  top: flag.int("N", "components listed in the text table (default 20; --json has all)", 1),
  json: flag.bool("one JSON object (an AblationResult)"),
  ...loadFlags,
});

export const ablateCommand: Command = {
  summary: "ablation: each head, neuron or layer taken out, and what the prediction loses",
  usage:
    "llmdbg ablate <model> (--text T | --tokens 1,2,3) [--components heads|neurons|layers] [--ablation zero|mean|resample] [--dataset FILE] [--metric M] [--json]",
  help: flags.help,
  run(argv) {
    const { values, positionals } = flags.parse(argv);
    const path = modelPath(positionals);
    const ablation = values.ablation ?? "zero";
    if (ablation !== "zero" && values.dataset === undefined) throw new UsageError(`--ablation ${ablation} needs --dataset FILE`);
    let dataset: string[] | undefined;
    if (values.dataset !== undefined) {
      dataset = readTextLines(values.dataset, "dataset");
      if (dataset.length === 0) throw new Error(`${values.dataset}: no text lines`);
    }
    const m = load(path, values);
    const ids = inputIds(m, values);
    const answer = values.answer === undefined ? undefined : tokenFlag(m, values.answer, "answer");
    const foil = values.foil === undefined ? undefined : tokenFlag(m, values.foil, "foil");
    const req: AblationRequest = {
      kind: "ablate",
      input: { ids },
      components: values.components ?? "heads",
      ablation,
      ...(dataset !== undefined && { dataset }),
      ...(values.metric !== undefined && { metric: values.metric.replace("-", "_") as AblationMetric }),
      ...(answer !== undefined && { answer }),
      ...(foil !== undefined && { foil }),
      ...(values.layers !== undefined && { layers: tokenList(values.layers) }),
      ...(values.samples !== undefined && { samples: values.samples }),
      ...(values.seed !== undefined && { seed: values.seed }),
    };
    const bar = progressBar("ablating");
    let r: ReturnType<typeof ablate>;
    try {
      r = ablate(m.model, req, bar === undefined ? {} : { onProgress: (p) => bar.update(p.done, p.total) });
    } finally {
      bar?.finish();
    }
    if (values.json) {
      printJson(r);
      return 0;
    }
    const show = (id: number) => quoted(tokenDisplayOf(m, id) ?? `<id ${id}>`);
    const what =
      r.metric === "logit_diff"
        ? `logit difference ${show(r.answer.id)} − ${show(r.foil?.id ?? 0)}`
        : `${r.metric} of ${show(r.answer.id)}`;
    print(`${r.ablation} ablation of ${r.components}: ${what} at the last position, unablated ${r.baseline.toFixed(4)}`);
    const n = values.top ?? 20;
    const rows = r.effects
      .slice(0, n)
      .map((e) => [e.name, e.metric.toFixed(4), `${e.effect >= 0 ? "+" : ""}${e.effect.toFixed(4)}`]);
    for (const line of table(["component", "ablated", "effect"], rows, ["left", "right", "right"])) print(line);
    if (r.effects.length > n) print(`(${n} of ${r.effects.length} components; --top N or --json for all)`);
    return 0;
  },
};
