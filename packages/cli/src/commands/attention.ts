// `llmdbg attention <model>`: what every attention head looks at — the entropy of its patterns and the share
// going to the first token and other sinks — with attention rollout and flow from each input token to the last
// position, and with --scores the heads that do a known job (previous-token, induction, duplicate-token, copying)
// measured on repeated random sequences.
import { attentionAnalysis } from "@llmdbg/methods";
import type { AttentionRequest } from "@llmdbg/protocol";
import { modelPath, UsageError } from "../args.js";
import { defineFlags, flag } from "../flags.js";
import { inputIds, load, loadFlags, tokenDisplayOf } from "../load.js";
import { bold, print, printJson, progressBar, quoted, table } from "../output.js";
import type { Command } from "./command.js";

const flags = defineFlags({
  text: flag.text("T", "input text, encoded with the model's tokenizer"),
  tokens: flag.text("1,2,3", "input token ids instead of text"),
  layers: flag.text("0,1,-1", "layers shown (negative counts from the end; default all)"),
  heads: flag.text("0,3", "heads shown (default all)"),
  scores: flag.bool("also score every head: previous-token, induction, duplicate-token and copying"),
  seed: flag.int("N", "--scores: the seed of the repeated random sequences (default 0)", 0),
  repeat: flag.int("N", "--scores: random tokens per sequence, each sequence repeating them once (default 20)", 2),
  batch: flag.int("N", "--scores: how many sequences (default 4)", 1),
  threshold: flag.num("X", "--scores: mark scores at or above X (default 0.5)", (x) => x >= -1 && x <= 1, "in [-1, 1]"),
  patterns: flag.bool("include every head's pattern in the JSON"),
  json: flag.bool("one JSON object (an AttentionResult)"),
  ...loadFlags,
});

/** `--layers 0,-1` → [0, -1]: integers, checked for range by the method (which names the field). */
function intList(v: string | undefined, name: string): number[] | undefined {
  if (v === undefined) return undefined;
  return v.split(",").map((s) => {
    const n = Number(s.trim());
    if (s.trim() === "" || !Number.isSafeInteger(n))
      throw new UsageError(`--${name} must be comma-separated integers, got ${JSON.stringify(v)}`);
    return n;
  });
}

export const attentionCommand: Command = {
  summary: "attention patterns: head entropy and sinks, rollout and flow, induction/previous-token/copying scores",
  usage:
    "llmdbg attention <model> (--text T | --tokens 1,2,3) [--layers L,..] [--heads H,..] [--scores [--seed N] [--repeat N] [--batch N] [--threshold X]] [--patterns] [--json]",
  help: flags.help,
  run(argv) {
    const { values, positionals } = flags.parse(argv);
    const m = load(modelPath(positionals), values);
    const ids = inputIds(m, values);
    const layers = intList(values.layers, "layers");
    const heads = intList(values.heads, "heads");
    const req: AttentionRequest = {
      kind: "attention",
      input: { ids },
      ...(layers !== undefined && { layers }),
      ...(heads !== undefined && { heads }),
      scores: values.scores,
      ...(values.seed !== undefined && { seed: values.seed }),
      ...(values.repeat !== undefined && { repeatLength: values.repeat }),
      ...(values.batch !== undefined && { batch: values.batch }),
      includePatterns: values.patterns,
    };
    const bar = progressBar("attention", "passes");
    const r = attentionAnalysis(m.model, req, bar === undefined ? {} : { onProgress: (p) => bar.update(p.done, p.total) });
    bar?.finish();
    if (values.json) {
      printJson(r);
      return 0;
    }
    const show = (id: number) => quoted(tokenDisplayOf(m, id) ?? `<id ${id}>`);
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    const threshold = values.threshold ?? 0.5;
    // a score at or above the threshold: bold on a terminal, and a star that survives a pipe
    const mark = (x: number) => (x >= threshold ? bold(`${x.toFixed(3)}*`) : `${x.toFixed(3)} `);
    const s = r.scores;
    const header = ["head", "entropy", "first token", "top sinks (position: share)"];
    if (s !== null) header.push("prev-token", "induction", "duplicate", ...(s.copying === null ? [] : ["copying"]));
    const rows = r.layers.flatMap((l, li) =>
      r.heads.map((h, hi) => {
        const sinks = (r.sinks[li]?.[hi] ?? []).map((k) => `${k.position}: ${pct(k.mass)}`).join(", ");
        const row = [`L${l}H${h}`, (r.entropy[li]?.[hi] ?? Number.NaN).toFixed(3), pct(r.firstToken[li]?.[hi] as number), sinks];
        if (s !== null) {
          for (const grid of [s.previousToken, s.induction, s.duplicateToken]) row.push(mark(grid[li]?.[hi] as number));
          if (s.copying !== null) row.push(mark(s.copying[li]?.[hi] as number));
        }
        return row;
      }),
    );
    print(`${ids.length} tokens; entropy in nats (uniform over n keys: ln n), shares of the attention averaged over queries`);
    for (const line of table(header, rows, ["left", "right", "right", "left", "right", "right", "right", "right"])) print(line);
    if (s !== null)
      print(
        `scores on ${r.batch} sequences of ${r.repeatLength} random tokens repeated (seed ${r.seed}); * marks ≥ ${threshold}`,
      );
    print();
    const last = ids.length - 1;
    print(`attention rollout and flow from each input token into position ${last} (${show(ids[last] as number)}):`);
    const flowRows = ids.map((id, p) => [String(p), show(id), pct(r.rollout[last]?.[p] as number), pct(r.flow[p] as number)]);
    for (const line of table(["pos", "token", "rollout", "flow"], flowRows, ["right", "left", "right", "right"])) print(line);
    return 0;
  },
};
