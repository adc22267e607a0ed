// `llmdbg dla <model>`: direct logit attribution — the logit of a target token (or target − foil) at one position,
// split into what the embeddings, every attention head, every MLP and the biases wrote to the residual stream.
import { directLogitAttribution } from "@llmdbg/methods";
import { modelPath, UsageError } from "../args.js";
import { defineFlags, flag } from "../flags.js";
import { inputIds, load, loadFlags, tokenDisplayOf, tokenFlag } from "../load.js";
import { print, printJson, quoted, table } from "../output.js";
import type { Command } from "./command.js";

const flags = defineFlags({
  text: flag.text("T", "input text, encoded with the model's tokenizer"),
  tokens: flag.text("1,2,3", "input token ids instead of text"),
  target: flag.text("TOKEN", "the token whose logit is decomposed (text of one token, or an id); required"),
  foil: flag.text("TOKEN", "decompose the logit difference target − foil instead"),
  position: flag.int("P", "the position read (default -1, the last; negative counts from the end)", Number.MIN_SAFE_INTEGER),
  top: flag.int("N", "components listed in the text table, largest |value| first (default 15; --json has all)", 1),
  json: flag.bool("one JSON object (a DlaResult)"),
  ...loadFlags,
});

export const dlaCommand: Command = {
  summary: "direct logit attribution: the logit split over embeddings, heads and MLPs",
  usage: "llmdbg dla <model> (--text T | --tokens 1,2,3) --target TOKEN [--foil TOKEN] [--position P] [--top N] [--json]",
  help: flags.help,
  run(argv) {
    const { values, positionals } = flags.parse(argv);
    const path = modelPath(positionals);
    if (values.target === undefined) throw new UsageError("--target is required");
    const m = load(path, values);
    const ids = inputIds(m, values);
    const target = tokenFlag(m, values.target, "target");
    const foil = values.foil === undefined ? undefined : tokenFlag(m, values.foil, "foil");
    const r = directLogitAttribution(m.model, {
      kind: "dla",
      input: { ids },
      target,
      ...(foil !== undefined && { foil }),
      position: values.position ?? -1,
    });
    if (values.json) {
      printJson(r);
      return 0;
    }
    const show = (id: number) => quoted(tokenDisplayOf(m, id) ?? `<id ${id}>`);
    const what = foil === undefined ? `logit of ${show(target)}` : `logit difference ${show(target)} − ${show(foil)}`;
    print(`${what} at position ${r.position} (${show(ids[r.position] as number)}): ${r.logit.toFixed(4)}`);
    const sorted = [...r.components].sort((a, b) => Math.abs(b.value) - Math.abs(a.value));
    const n = values.top ?? 15;
    const total = r.components.reduce((a, c) => a + Math.abs(c.value), 0);
    const rows = sorted
      .slice(0, n)
      .map((c) => [c.name, c.value.toFixed(4), `${((100 * Math.abs(c.value)) / total).toFixed(1)}%`]);
    for (const line of table(["component", "value", "share of |total|"], rows, ["left", "right", "right"])) print(line);
    if (sorted.length > n) print(`(${n} of ${sorted.length} components; --top N or --json for all)`);
    print(`components sum to ${r.sum.toFixed(4)} (|Δ| ${r.error.toExponential(1)}); ${r.convention}`);
    return 0;
  },
};
