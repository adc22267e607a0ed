// `llmdbg probe <model>`: linear probes over a labelled JSONL dataset at one or more hook points (the accuracy
// curve across layers), with a control task, and the best probe's directions exported as steering vectors.
import { readFileSync } from "node:fs";
import { writeSafetensors } from "@llmdbg/formats";
import { probe } from "@llmdbg/methods";
import type { ProbeExample, ProbeRequest } from "@llmdbg/protocol";
import * as T from "@llmdbg/tensor";
import { modelPath, UsageError } from "../args.js";
import { checkOutputFolder } from "../files.js";
import { defineFlags, flag } from "../flags.js";
import { load, loadFlags } from "../load.js";
import { print, printJson, progressBar, table } from "../output.js";
import type { Command } from "./command.js";

const flags = defineFlags({
  dataset: flag.text("FILE", 'JSONL, one example per line: {"text": "...", "label": "..."} (or "ids": [1,2,3])'),
  hooks: flag.text("PATTERN", "hook points probed, globs with * (default 'blocks.*.hook_resid_post': the curve across layers)"),
  reduce: flag.oneOf("R", "each example's activation: last (token, default) or mean (over its tokens)", [
    "last",
    "mean",
  ] as const),
  validation: flag.num("F", "the share held out for validation (default 0.2)", (n) => n > 0 && n < 1, "a share in (0, 1)"),
  l2: flag.num("X", "L2 penalty (default 0.001)", (n) => n >= 0, "a non-negative number"),
  steps: flag.int("N", "gradient steps (default 300)", 1),
  seed: flag.int("N", "the seed of the split and the control task (default 0)", 0),
  export: flag.text("FILE", "write the best probe's direction per label as a safetensors steering-vector file"),
  json: flag.bool("one JSON object (a ProbeResult)"),
  ...loadFlags,
});

/** The JSONL dataset; a bad line exits 1 naming the file, the line and the field. */
export function readLabelled(file: string): ProbeExample[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`--dataset ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  const out: ProbeExample[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    const at = `${file}:${i + 1}`;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new Error(`${at}: invalid JSON (${(e as Error).message})`);
    }
    const o = v as { text?: unknown; ids?: unknown; label?: unknown };
    if (typeof o !== "object" || o === null) throw new Error(`${at}: expected an object with "text" (or "ids") and "label"`);
    if (typeof o.label !== "string" && typeof o.label !== "number")
      throw new Error(`${at}: label: expected a string, got ${JSON.stringify(o.label)}`);
    if (typeof o.text === "string") out.push({ input: { text: o.text }, label: String(o.label) });
    else if (Array.isArray(o.ids) && o.ids.every((x) => Number.isInteger(x) && x >= 0))
      out.push({ input: { ids: o.ids as number[] }, label: String(o.label) });
    else throw new Error(`${at}: expected "text": string or "ids": [token ids]`);
  });
  if (out.length === 0) throw new Error(`${file}: no examples`);
  return out;
}

export const probeCommand: Command = {
  summary: "linear probes over a labelled dataset, across layers, with a control task",
  usage: "llmdbg probe <model> --dataset FILE.jsonl [--hooks PATTERN] [--reduce last|mean] [--export FILE] [--json]",
  help: flags.help,
  run(argv) {
    const { values, positionals } = flags.parse(argv);
    const path = modelPath(positionals);
    if (values.dataset === undefined) throw new UsageError("--dataset FILE.jsonl is required");
    if (values.export !== undefined) checkOutputFolder(values.export, "export");
    const dataset = readLabelled(values.dataset);
    const m = load(path, values);
    const req: ProbeRequest = {
      kind: "probe",
      hooks: values.hooks ?? "blocks.*.hook_resid_post",
      dataset,
      ...(values.reduce !== undefined && { reduce: values.reduce }),
      ...(values.validation !== undefined && { validation: values.validation }),
      ...(values.l2 !== undefined && { l2: values.l2 }),
      ...(values.steps !== undefined && { steps: values.steps }),
      ...(values.seed !== undefined && { seed: values.seed }),
    };
    const bar = progressBar("probing");
    let r: ReturnType<typeof probe>;
    try {
      r = probe(m.model, req, bar === undefined ? {} : { onProgress: (p) => bar.update(p.done, p.total) });
    } finally {
      bar?.finish();
    }
    if (values.export !== undefined) {
      const tensors = Object.fromEntries(r.best.directions.map((d, i) => [`direction.${r.labels[i]}`, T.tensor(d, [d.length])]));
      writeSafetensors(values.export, tensors, {
        metadata: { format: "llmdbg.steering", hook: r.best.hook, labels: JSON.stringify(r.labels) },
      });
    }
    if (values.json) {
      printJson(r);
      return 0;
    }
    print(
      `${dataset.length} examples (${r.trainSize} train, ${r.validationSize} validation), labels ${r.labels.join(", ")}; ${r.reduce} token`,
    );
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    const rows = r.probes.map((p) => [
      p.hook,
      pct(p.trainAccuracy),
      pct(p.validationAccuracy),
      pct(p.controlAccuracy),
      pct(p.selectivity),
    ]);
    for (const line of table(["hook", "train", "validation", "control", "selectivity"], rows, [
      "left",
      "right",
      "right",
      "right",
      "right",
    ]))
      print(line);
    print(
      `best: ${r.best.hook}${values.export === undefined ? "" : `; its directions written to ${values.export} (llmdbg steer --vector ${values.export}:LABEL)`}`,
    );
    return 0;
  },
};
