// `llmdbg neurons <model>`: what makes neurons (features of a hook point) or directions (a probe's export) fire
// over a corpus file — the top-activating examples with their context and a histogram of the activation. The file
// is read line by line through a stream and fed to the method in batches, so a corpus larger than memory works;
// a line is a text (a .jsonl file: a JSON string, {"text": …} or {"ids": […]}), a blank line an empty text.
import { createReadStream, statSync } from "node:fs";
import { createInterface } from "node:readline";
import { type CorpusText, neuronActivations } from "@llmdbg/methods";
import type { NeuronDirection, NeuronsRequest, NeuronsResult, NeuronUnit } from "@llmdbg/protocol";
import { modelPath, UsageError } from "../args.js";
import { readVectors } from "../files.js";
import { defineFlags, flag } from "../flags.js";
import { type LoadedModel, load, loadFlags, tokenDisplayOf } from "../load.js";
import { bold, count, print, printJson, progressBar, quoted, table } from "../output.js";
import type { Command } from "./command.js";

/** `--direction FILE[:NAME]` as the method's directions, and the hook a probe's export names. */
function readDirections(spec: string): { directions: NeuronDirection[]; hook: string | undefined } {
  const { vectors, hook } = readVectors(spec, "direction");
  return { directions: vectors, hook };
}

const flags = defineFlags({
  corpus: flag.text("FILE", 'texts, one per line (a .jsonl file: a JSON string, {"text": "..."} or {"ids": [1,2,3]} per line)'),
  hook: flag.text("NAME", "the hook point read (e.g. blocks.1.mlp.hook_post; default the direction file's hook)"),
  neuron: flag.text("37[,38]", "neurons: indices along the hook's last axis (its features), read in one pass"),
  direction: flag.text(
    "FILE[:NAME]",
    "directions: a safetensors file (`llmdbg probe --export`; NAME: one tensor, default all) or a JSON array",
  ),
  top: flag.int("K", "top-activating examples per unit (default 10)", 1),
  window: flag.int("W", "tokens shown before and after each example's peak (default 8)", 0),
  bins: flag.int("N", "histogram bins (default 40)", 1),
  range: flag.text("LO,HI", "the histogram's range (default: the first --sample activations'; --range=-1,4 for a negative LO)"),
  sample: flag.int("N", "activations per unit that set the range when --range is absent (default 4096)", 1),
  batch: flag.int("N", "texts per forward pass (default 16)", 1),
  "max-texts": flag.int("N", "stop after N texts (lines)", 1),
  "max-length": flag.int("N", "tokens read per text; longer texts are cut (default the model's positions, else 2048)", 1),
  json: flag.bool("one JSON object (a NeuronsResult)"),
  ...loadFlags,
});

/** `--neuron 37,38` → [37, 38]. */
function neuronList(v: string): number[] {
  return v.split(",").map((s) => {
    const n = Number(s.trim());
    if (s.trim() === "" || !Number.isSafeInteger(n) || n < 0)
      throw new UsageError(`--neuron must be comma-separated indices ≥ 0, got ${JSON.stringify(v)}`);
    return n;
  });
}

/** `--range LO,HI` with LO < HI. */
function rangeOf(v: string): [number, number] {
  const parts = v.split(",").map((s) => Number(s.trim()));
  const [lo, hi] = parts as [number, number];
  if (parts.length !== 2 || !parts.every(Number.isFinite) || !(lo < hi))
    throw new UsageError(`--range must be LO,HI with LO < HI, got ${JSON.stringify(v)}`);
  return [lo, hi];
}

/**
 * The corpus file's texts, one per line, read through a stream: only the current chunk of the file is in
 * memory. `onBytes` reports how far the stream has read. The file is closed when the reader stops early.
 */
async function* corpusLines(file: string, onBytes: (bytes: number) => void): AsyncGenerator<CorpusText> {
  const jsonl = file.endsWith(".jsonl");
  const stream = createReadStream(file, { encoding: "utf8" });
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      onBytes(stream.bytesRead);
      if (line.trim() === "" || !jsonl) {
        yield line.trim() === "" ? "" : line;
        continue;
      }
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch (e) {
        throw new Error(`${file}:${n}: invalid JSON (${(e as Error).message})`);
      }
      const o = v as { text?: unknown; ids?: unknown };
      if (typeof v === "string") yield v;
      else if (typeof o === "object" && o !== null && typeof o.text === "string") yield { text: o.text };
      else if (
        typeof o === "object" &&
        o !== null &&
        Array.isArray(o.ids) &&
        o.ids.every((x) => Number.isSafeInteger(x) && x >= 0)
      )
        yield { ids: o.ids as number[] };
      else throw new Error(`${file}:${n}: expected a JSON string, {"text": string} or {"ids": [token ids]}`);
    }
  } finally {
    lines.close();
    stream.destroy();
  }
}

export const neuronsCommand: Command = {
  summary: "neurons and directions over a corpus: top-activating examples and activation histograms",
  usage:
    "llmdbg neurons <model> --corpus FILE (--hook NAME --neuron 37[,38] | --direction FILE[:NAME]) [--top K] [--window W] [--bins N] [--range LO,HI] [--batch N] [--max-texts N] [--json]",
  help: flags.help,
  async run(argv) {
    const { values, positionals } = flags.parse(argv);
    const path = modelPath(positionals);
    if (values.corpus === undefined) throw new UsageError("--corpus FILE is required");
    if (values.neuron === undefined && values.direction === undefined)
      throw new UsageError("pass --neuron 37[,38] (with --hook) or --direction FILE[:NAME]");
    const neurons = values.neuron === undefined ? [] : neuronList(values.neuron);
    const range = values.range === undefined ? undefined : rangeOf(values.range);
    let stat: ReturnType<typeof statSync>;
    try {
      stat = statSync(values.corpus);
    } catch (e) {
      throw new UsageError(`--corpus ${values.corpus}: cannot read it (${(e as NodeJS.ErrnoException).code ?? e})`);
    }
    if (!stat.isFile()) throw new UsageError(`--corpus ${values.corpus}: not a file`);
    const size = stat.size;
    let hook = values.hook;
    let directions: NeuronDirection[] = [];
    if (values.direction !== undefined) {
      const f = readDirections(values.direction);
      directions = f.directions;
      hook ??= f.hook;
    }
    if (hook === undefined) throw new UsageError("--hook NAME is required (no direction file names one)");
    const m = load(path, values);
    const req: NeuronsRequest = {
      kind: "neurons",
      hook,
      ...(neurons.length > 0 && { neurons }),
      ...(directions.length > 0 && { directions }),
      ...(values.top !== undefined && { topK: values.top }),
      ...(values.window !== undefined && { window: values.window }),
      ...(values.bins !== undefined && { bins: values.bins }),
      ...(range !== undefined && { range }),
      ...(values.sample !== undefined && { sample: values.sample }),
      ...(values.batch !== undefined && { batch: values.batch }),
      ...(values["max-texts"] !== undefined && { maxTexts: values["max-texts"] }),
      ...(values["max-length"] !== undefined && { maxLength: values["max-length"] }),
    };
    const bar = progressBar("reading the corpus");
    let bytes = 0;
    let r: NeuronsResult;
    try {
      r = await neuronActivations(
        m.model,
        req,
        corpusLines(values.corpus, (b) => void (bytes = b)),
        bar === undefined
          ? {}
          : { onProgress: (p) => bar.update(bytes, size, `${count(p.done)} texts, ${count(p.tokens)} tokens`) },
      );
    } finally {
      bar?.finish();
    }
    if (values.json) {
      printJson(r);
      return 0;
    }
    printReport(m, r);
    return 0;
  },
};

const fmt = (x: number) => x.toFixed(4);

/** A window of tokens as one quoted string, the peak token marked ⟦…⟧ (and bold on a terminal). */
function context(m: LoadedModel, e: NeuronUnit["top"][number]): string {
  const text = (id: number) => tokenDisplayOf(m, id) ?? `<id ${id}>`;
  const at = e.position - e.start;
  const before = e.tokens
    .slice(0, at)
    .map((t) => text(t.id))
    .join("");
  const peak = e.tokens[at];
  const after = e.tokens
    .slice(at + 1)
    .map((t) => text(t.id))
    .join("");
  return `${quoted(before)} ${bold(`⟦${quoted(peak === undefined ? "" : text(peak.id))}⟧`)} ${quoted(after)}`;
}

function printReport(m: LoadedModel, r: NeuronsResult): void {
  print(
    `${r.hook} (${r.features} features): ${count(r.texts)} texts, ${count(r.tokens)} tokens` +
      (r.empty > 0 ? `, ${count(r.empty)} empty` : "") +
      (r.truncated > 0 ? `, ${count(r.truncated)} cut at --max-length` : ""),
  );
  for (const u of r.units) {
    const s = u.stats;
    print();
    print(
      bold(u.name) +
        (u.norm === null ? "" : ` (norm ${fmt(u.norm)})`) +
        `: mean ${fmt(s.mean)}, std ${fmt(s.std)}, min ${fmt(s.min)}, max ${fmt(s.max)}, > 0 on ${((100 * s.positive) / Math.max(1, s.count)).toFixed(1)}% of tokens`,
    );
    const rows = u.top.map((e, i) => [String(i + 1), fmt(e.value), String(e.text + 1), String(e.position), context(m, e)]);
    for (const line of table(["#", "value", "line", "pos", "context"], rows, ["right", "right", "right", "right", "left"]))
      print(`  ${line}`);
    const h = u.histogram;
    const w = (h.hi - h.lo) / h.counts.length;
    const most = Math.max(1, ...h.counts);
    print(
      `  histogram over [${fmt(h.lo)}, ${fmt(h.hi)}] (${h.range === "given" ? "--range" : "range from the first activations"}):`,
    );
    const bars = h.counts.map((c, i) => [
      fmt(h.lo + i * w),
      fmt(h.lo + (i + 1) * w),
      count(c),
      "#".repeat(Math.ceil((40 * c) / most)),
    ]);
    for (const line of table(["from", "to", "tokens", ""], bars, ["right", "right", "right", "left"])) print(`  ${line}`);
    if (h.below + h.above > 0) print(`  below the range: ${count(h.below)}, above: ${count(h.above)}`);
    print(`  quantiles: ${u.quantiles.map((q) => `${100 * q.q}% ${fmt(q.value)}`).join(", ")}`);
  }
}
