// `llmdbg lens <model>`: the logit lens — the top prediction of every layer's residual stream at every position,
// read through the model's own final norm and unembedding, and a target token's probability and rank.
import { logitLens } from "@llmdbg/methods";
import { modelPath } from "../args.js";
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
  json: flag.bool("one JSON object (a LensResult)"),
  ...loadFlags,
});

export const lensCommand: Command = {
  summary: "logit lens: every layer's prediction at every position",
  usage: "llmdbg lens <model> (--text T | --tokens 1,2,3) [--target TOKEN] [--top-k N] [--last N] [--json]",
  help: flags.help,
  run(argv) {
    const { values, positionals } = flags.parse(argv);
    const m = load(modelPath(positionals), values);
    const ids = inputIds(m, values);
    const target = values.target === undefined ? undefined : tokenFlag(m, values.target, "target");
    const r = logitLens(m.model, {
      kind: "lens",
      input: { ids },
      topK: values["top-k"] ?? 5,
      ...(target !== undefined && { target }),
    });
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
