// `llmdbg inspect <model>`: what the checkpoint is (architecture, normalized config, stored tensors,
// tokenizer) and every hook point with the shape it has on a short input. Shapes come from a real forward
// pass rather than from the declared axes, so what is listed is exactly what `run --cache` would store
// (e.g. the [batch, pos, 1] of a norm's hook_scale).
import { run } from "@llmdbg/core";
import * as T from "@llmdbg/tensor";
import { intFlag, modelPath, parse, UsageError } from "../args.js";
import { type LoadedModel, load } from "../load.js";
import { bytes, count, print, printJson, quoted, table } from "../output.js";
import type { Command } from "./command.js";

const options = {
  seq: { type: "string" },
  json: { type: "boolean" },
} as const;

export interface HookShape {
  name: string;
  layer: number | null;
  component: string;
  axes: string[];
  shape: number[];
}

export interface DtypeCount {
  tensors: number;
  parameters: number;
  bytes: number;
}

const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Runs `seq` dummy tokens with every hook cached and reports each point's actual shape, in the order the
 * forward pass reaches them (the declaration lists the points outside the blocks first).
 */
export function hookShapes(m: LoadedModel, seq: number): HookShape[] {
  const V = m.config.vocabSize;
  const ids = T.tensor(
    Array.from({ length: seq }, (_, i) => i % V),
    [1, seq],
    "i32",
  ); // [batch, pos]
  const { cache, output } = T.noGrad(() => run(m.model, ids, { cache: true }));
  try {
    const fired = cache.names();
    const rest = m.model.hookPoints.filter((p) => !cache.has(p.name)).map((p) => p.name);
    const points = new Map(m.model.hookPoints.map((p) => [p.name, p]));
    return [...fired, ...rest].flatMap((name) => {
      const p = points.get(name);
      if (p === undefined) return [];
      // a point this input does not reach (none in the shipped architectures) has no shape to report
      const shape = cache.has(name) ? [...cache.get(name).shape] : [];
      return [{ name, layer: p.layer, component: p.component, axes: [...p.axes], shape }];
    });
  } finally {
    cache.dispose();
    output.dispose();
  }
}

function tokenizerSummary(m: LoadedModel) {
  const tok = m.tokenizer;
  if (tok === undefined) return null;
  const special = (id: number | undefined) => (id === undefined ? null : { id, token: tok.idToToken(id) ?? null });
  const ids = (tok as { specialTokenIds?: readonly number[] }).specialTokenIds;
  return {
    vocabSize: tok.vocabSize,
    bos: special(tok.bosTokenId),
    eos: special(tok.eosTokenId),
    pad: special(tok.padTokenId),
    unk: special(tok.unkTokenId),
    specialTokens: ids === undefined ? null : ids.length,
    hasChatTemplate: tok.chatTemplate !== undefined,
  };
}

/** The JSON `inspect --json` prints. */
export function describeModel(m: LoadedModel, seq: number) {
  const dtypes: Record<string, DtypeCount> = {};
  let parameters = 0;
  let storedBytes = 0;
  for (const t of m.stored) {
    const n = product(t.shape);
    const d = (dtypes[t.dtype] ??= { tensors: 0, parameters: 0, bytes: 0 });
    d.tensors++;
    d.parameters += n;
    d.bytes += t.bytes;
    parameters += n;
    storedBytes += t.bytes;
  }
  return {
    path: m.path,
    format: m.format,
    architecture: { family: m.config.family, source: m.config.source },
    config: m.config,
    parameters,
    storedBytes,
    tensors: m.stored.length,
    dtypes,
    tokenizer: tokenizerSummary(m),
    generation: m.generation,
    hooks: { seq, points: hookShapes(m, seq) },
  };
}

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
  help: ["--seq N   sequence length of the dummy input the hook shapes are measured on (default 8)", "--json    one JSON object"],
  run(argv) {
    const { values, positionals } = parse(argv, options);
    const path = modelPath(positionals);
    const seq = intFlag("seq", values.seq, 1) ?? 8;
    const m = load(path);
    if (seq > m.config.maxPositions) throw new UsageError(`--seq ${seq} exceeds the model's ${m.config.maxPositions} positions`);
    const d = describeModel(m, seq);
    if (values.json === true) printJson(d);
    else printText(d);
    return 0;
  },
};
