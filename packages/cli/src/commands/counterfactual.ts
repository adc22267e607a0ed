// `llmdbg counterfactual <model>`: the input edited in ways that should not change its meaning — words swapped from
// the user's lists, tokens replaced by their embedding nearest neighbours — and what the last position's prediction
// does on each, with the share of edits that keep the top prediction (the robustness score).
import { readFileSync } from "node:fs";
import { counterfactuals } from "@llmdbg/methods";
import type { CounterfactualRequest, CounterfactualResult } from "@llmdbg/protocol";
import { modelPath, tokenList, UsageError } from "../args.js";
import { defineFlags, flag } from "../flags.js";
import { inputIds, type LoadedModel, load, loadFlags, tokenDisplayOf, tokenFlag } from "../load.js";
import { print, printJson, progressBar, quoted, table } from "../output.js";
import type { Command } from "./command.js";

const flags = defineFlags({
  text: flag.text("T", "input text, encoded with the model's tokenizer (word swaps need it)"),
  tokens: flag.text("1,2,3", "input token ids instead of text"),
  words: flag.text(
    "FILE",
    'word lists: a text file with one group of interchangeable words per line ("he she", "red green blue"; # comments), or a JSON array of arrays',
  ),
  "swap-all": flag.bool("replace every occurrence of a word at once (default: each occurrence alone)"),
  neighbours: flag.int("K", "also replace tokens by their K nearest tokens by cosine similarity of the embeddings", 1),
  positions: flag.text("0,-1,…", "the positions whose tokens --neighbours replaces (default all but special tokens)"),
  "same-length": flag.bool("keep only counterfactuals with as many tokens as the input"),
  target: flag.text("TOKEN", "the token whose probability is tracked (one token's text or an id; default the top prediction)"),
  exclude: flag.text("1,2,3", "token ids never used as replacements (special tokens never are)"),
  batch: flag.int("N", "counterfactuals per forward pass (default 32)", 1),
  rows: flag.int("N", "counterfactuals shown, those that move the target most first (default 20)", 1),
  json: flag.bool("one JSON object (a CounterfactualResult)"),
  ...loadFlags,
});

/** `--words FILE`: a JSON array of word arrays, or one whitespace-separated group per line. */
export function readWordLists(file: string): string[][] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`--words ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  if (text.trimStart().startsWith("[")) {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(v) || !v.every((g) => Array.isArray(g) && g.every((w) => typeof w === "string")))
      throw new Error(`${file}: expected a JSON array of arrays of words`);
    return v as string[][];
  }
  const groups: string[][] = [];
  for (const [i, line] of text.split("\n").entries()) {
    const body = line.replace(/#.*/, "").trim();
    if (body === "") continue;
    const words = body.split(/\s+/);
    if (words.length < 2) throw new Error(`${file}:${i + 1}: expected at least two words, got ${JSON.stringify(body)}`);
    groups.push(words);
  }
  if (groups.length === 0) throw new Error(`${file}: no word groups`);
  return groups;
}

/** `--positions 0,-1`: comma-separated integers, negative from the end. */
function positionList(v: string): number[] {
  return v.split(",").map((s) => {
    const n = Number(s.trim());
    if (s.trim() === "" || !Number.isSafeInteger(n))
      throw new UsageError(`--positions must be comma-separated integers, got ${JSON.stringify(v)}`);
    return n;
  });
}

export const counterfactualCommand: Command = {
  summary: "counterfactuals: word swaps and embedding-neighbour swaps, their effect on the prediction, a robustness score",
  usage:
    "llmdbg counterfactual <model> (--text T | --tokens 1,2,3) (--words FILE | --neighbours K) [--same-length] [--swap-all] [--target TOKEN] [--json]",
  help: flags.help,
  run(argv) {
    const { values, positionals } = flags.parse(argv);
    if (values.words === undefined && values.neighbours === undefined)
      throw new UsageError("pass --words FILE, --neighbours K, or both");
    if (values.positions !== undefined && values.neighbours === undefined)
      throw new UsageError("--positions goes with --neighbours");
    const wordLists = values.words === undefined ? undefined : readWordLists(values.words);
    const m = load(modelPath(positionals), values);
    const ids = inputIds(m, values);
    if (wordLists !== undefined && values.text === undefined) throw new UsageError("--words edits text: pass --text");
    const target = values.target === undefined ? undefined : tokenFlag(m, values.target, "target");
    const req: CounterfactualRequest = {
      kind: "counterfactual",
      // word swaps edit the text itself; the ids were read only to check the input
      input: values.text !== undefined ? { text: values.text } : { ids },
      ...(wordLists !== undefined && { wordLists }),
      ...(values["swap-all"] && { swapAll: true }),
      ...(values.neighbours !== undefined && {
        neighbours: {
          k: values.neighbours,
          ...(values.positions !== undefined && { positions: positionList(values.positions) }),
        },
      }),
      ...(values["same-length"] && { sameLength: true }),
      ...(target !== undefined && { target }),
      ...(values.exclude !== undefined && { exclude: tokenList(values.exclude) }),
      ...(values.batch !== undefined && { batch: values.batch }),
    };
    const bar = progressBar("counterfactuals", "passes");
    let r: CounterfactualResult;
    try {
      r = counterfactuals(m.model, req, bar === undefined ? {} : { onProgress: (p) => bar.update(p.done, p.total) });
    } finally {
      bar?.finish();
    }
    if (values.json) {
      printJson(r);
      return 0;
    }
    printReport(m, r, values.rows ?? 20);
    return 0;
  },
};

function printReport(m: LoadedModel, r: CounterfactualResult, rows: number): void {
  const show = (id: number) => quoted(tokenDisplayOf(m, id) ?? `<id ${id}>`);
  const pct = (p: number) => `${(100 * p).toFixed(1)}%`;
  print(
    `input: top prediction ${show(r.original.top.id)} ${pct(r.original.top.prob)}; target ${show(r.target.id)} ${pct(r.original.targetProb)}`,
  );
  if (r.counterfactuals.length === 0) {
    print(`no counterfactuals${r.skipped > 0 ? ` (${r.skipped} dropped by --same-length)` : ""}`);
    return;
  }
  // the edits that move the target most first
  const sorted = [...r.counterfactuals].sort((a, b) => Math.abs(b.deltaLogProb) - Math.abs(a.deltaLogProb));
  const body = sorted
    .slice(0, rows)
    .map((c) => [
      c.source === "words" ? "word" : `nbr ${c.swap?.similarity.toFixed(2)}`,
      `${quoted(c.from)} → ${quoted(c.to)}`,
      c.source === "words" ? `@${c.at.join(",")}` : `pos ${c.at.join(",")}`,
      `${show(c.top.id)} ${pct(c.top.prob)}`,
      pct(c.targetProb),
      (c.deltaLogProb >= 0 ? "+" : "") + c.deltaLogProb.toFixed(3),
      c.keepsTop ? "" : "changed",
    ]);
  for (const line of table(["source", "swap", "at", "top", "p(target)", "Δ log p", ""], body, [
    "left",
    "left",
    "left",
    "left",
    "right",
    "right",
    "left",
  ]))
    print(line);
  if (sorted.length > rows) print(`… ${sorted.length - rows} more (--rows N, or --json)`);
  const share = (x: number | null, n: number) => (x === null ? "—" : `${pct(x)} of ${n}`);
  const count = (s: "words" | "neighbours") => r.counterfactuals.filter((c) => c.source === s).length;
  print(
    `robustness (top prediction kept): ${share(r.robustness.all, r.counterfactuals.length)}; word swaps ${share(r.robustness.words, count("words"))}; neighbour swaps ${share(r.robustness.neighbours, count("neighbours"))}` +
      (r.skipped > 0 ? `; ${r.skipped} dropped by --same-length` : ""),
  );
}
