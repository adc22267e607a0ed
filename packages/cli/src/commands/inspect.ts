// `llmdbg inspect <model>`: what the checkpoint is (architecture, normalized config, stored tensors,
// tokenizer) and every hook point with the shape it has on a short input (describeModel of @llmdbg/models).
import { describeModel, type HookShape } from "@llmdbg/models";
import { modelPath } from "../args.js";
import { defineFlags, flag } from "../flags.js";
import { load, loadFlags } from "../load.js";
import { bytes, count, print, printJson, quoted, table } from "../output.js";
import type { Command } from "./command.js";

const flags = defineFlags({
  seq: flag.int("N", "the number of tokens the hook shapes are given for (default 8)", 1),
  json: flag.bool("one JSON object"),
  ...loadFlags,
});

/** A config value on one line: objects as compact JSON without quotes around keys. */
function show(v: unknown): string {
  if (typeof v !== "object" || v === null) return String(v);
  return JSON.stringify(v, null, 1)
    .replace(/\n\s*/g, " ")
    .replace(/"(\w+)":/g, "$1:")
    .replace(/\[ /g, "[")
    .replace(/ \]/g, "]");
}

/**
 * Hook rows for people: a component whose shape is the same in every block is one row `blocks.*.name`
 * (a 32-layer model would otherwise list some 600 points).
 */
function hookRows(points: readonly HookShape[], nLayers: number): string[][] {
  const rows: string[][] = [];
  const done = new Set<string>();
  for (const p of points) {
    const row = (name: string) => [name, `[${p.shape.join(", ")}]`, p.axes.join(", ")];
    if (p.layer === null) {
      rows.push(row(p.name));
      continue;
    }
    if (done.has(p.component)) continue;
    const same = points.filter((q) => q.component === p.component && q.layer !== null);
    if (same.length === nLayers && same.every((q) => q.shape.join() === p.shape.join())) {
      done.add(p.component);
      rows.push(row(`blocks.*.${p.component}`));
    } else rows.push(row(p.name));
  }
  return rows;
}

function printText(d: ReturnType<typeof describeModel>): void {
  const c = d.config;
  const src = c.source.format === "hf" ? `config.json model_type ${c.source.modelType}` : `GGUF ${c.source.architecture}`;
  print(`model       ${d.path} (${d.format})`);
  print(`family      ${c.family} (${src})`);
  print(`parameters  ${count(d.parameters)} in ${count(d.tensors)} tensors, ${bytes(d.storedBytes)} stored`);
  for (const [dtype, n] of Object.entries(d.dtypes))
    print(`  ${dtype.padEnd(9)} ${count(n.tensors)} tensors, ${count(n.parameters)} parameters, ${bytes(n.bytes)}`);
  print();
  print("config");
  for (const [k, v] of Object.entries(c)) if (k !== "family" && k !== "source") print(`  ${k.padEnd(18)} ${show(v)}`);
  print();
  const t = d.tokenizer;
  if (t === null) print("tokenizer   none (pass --tokens to run and generate)");
  else {
    const sp = (s: { id: number; token: string | null } | null) => (s === null ? "–" : `${s.id} ${quoted(s.token ?? "?")}`);
    print(`tokenizer   vocabulary ${count(t.vocabSize)}, chat template: ${t.hasChatTemplate ? "yes" : "no"}`);
    print(`  bos ${sp(t.bos)}  eos ${sp(t.eos)}  pad ${sp(t.pad)}  unk ${sp(t.unk)}`);
    if (t.specialTokens !== null) print(`  ${count(t.specialTokens)} special tokens`);
  }
  const g = Object.entries(d.generation);
  print(`generation  ${g.length === 0 ? "no defaults" : g.map(([k, v]) => `${k} ${show(v)}`).join(", ")}`);
  print();
  print(`hook points (${d.hooks.points.length}; shapes on ${d.hooks.seq} tokens)`);
  for (const line of table(["name", "shape", "axes"], hookRows(d.hooks.points, c.nLayers))) print(`  ${line}`);
}

export const inspect: Command = {
  summary: "architecture, config, parameters, tokenizer and hook points with shapes",
  usage: "llmdbg inspect <model> [--seq N] [--json]",
  help: flags.help,
  run(argv) {
    const { values, positionals } = flags.parse(argv);
    const path = modelPath(positionals);
    const seq = values.seq ?? 8;
    const m = load(path, values);
    // the model's limit, not the command line's syntax: exit 1
    if (seq > m.config.maxPositions) throw new Error(`--seq ${seq} exceeds the model's ${m.config.maxPositions} positions`);
    const d = describeModel(m, seq);
    if (values.json === true) printJson(d);
    else printText(d);
    return 0;
  },
};
