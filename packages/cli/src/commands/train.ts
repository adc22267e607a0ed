// `llmdbg train <run.json>`: trains a model from a run file — a model folder to fine-tune or a config to start
// from scratch, JSONL data, an output folder and the trainer's options — with a progress bar (loss, ETA) on a
// terminal or one TrainEvent per line with --json. Every event also goes to <out>/train_log.jsonl; checkpoints
// are Hugging Face model folders under <out>/checkpoints. Ctrl-C stops between steps, writes a checkpoint and
// exits 130; `--resume <checkpoint>` continues that run bit for bit. The run store records the run from its start
// (status running, the events in batches as they happen, each checkpoint) to its end (done, failed with the error,
// or aborted on Ctrl-C), so `llmdbg serve`'s Training view follows it live (record-live.ts).

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { Tokenizer } from "@llmdbg/core";
import { initModel, load, normalizeHfConfig, saveModel } from "@llmdbg/models";
import type { TrainConfig, TrainEvent } from "@llmdbg/protocol";
import { loadTokenizerFromFolder } from "@llmdbg/tokenizers";
import { type Example, folderCheckpoints, JsonlSink, loadCheckpoint, stepHelper, train } from "@llmdbg/train";
import { UsageError } from "../args.js";
import { defineFlags, flag } from "../flags.js";
import { print, progressBar } from "../output.js";
import { storeFlags } from "../record.js";
import { endLiveRun, startLiveRun } from "../record-live.js";
import type { Command } from "./command.js";

const flags = defineFlags({
  resume: flag.text("DIR", "continue the run from one of its checkpoints (<out>/checkpoints/checkpoint-N)"),
  out: flag.text("DIR", 'the output folder (overrides the run file\'s "out")'),
  json: flag.bool("one TrainEvent per line on stdout"),
  ...storeFlags,
});

/** The run file, checked: every problem names the file and the field. */
export interface RunFile {
  /** a model folder to continue training (fine-tuning) */
  readonly model?: string;
  /** a fresh model: its config.json (a path or the object), a folder holding its tokenizer, the init seed */
  readonly init?: { readonly config: string | Record<string, unknown>; readonly tokenizer: string; readonly seed?: number };
  readonly data: { readonly train: string; readonly validation?: string; readonly maxLength?: number };
  readonly out: string;
  readonly training?: TrainConfig;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export function readRunFile(file: string, extraKeys: readonly string[] = []): { run: RunFile; base: string } {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "not found" : (e as Error).message}`);
  }
  const bad = (field: string, what: string): never => {
    throw new Error(`${file}: ${field}: expected ${what}`);
  };
  if (!isObj(json)) bad("(root)", "a JSON object");
  const o = json as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (![...["model", "init", "data", "out", "training"], ...extraKeys].includes(k))
      bad(k, `one of ${["model", "init", "data", "out", "training", ...extraKeys].join(", ")} (unknown field)`);
  if ((o.model === undefined) === (o.init === undefined)) bad("model", 'exactly one of "model" (a folder) and "init"');
  if (o.model !== undefined && typeof o.model !== "string") bad("model", "a model folder path");
  if (o.init !== undefined) {
    const i = o.init;
    if (!isObj(i)) bad("init", "an object { config, tokenizer, seed? }");
    const init = i as Record<string, unknown>;
    if (typeof init.config !== "string" && !isObj(init.config)) bad("init.config", "a config.json path or object");
    if (typeof init.tokenizer !== "string") bad("init.tokenizer", "a folder holding tokenizer.json");
    if (init.seed !== undefined && !Number.isSafeInteger(init.seed)) bad("init.seed", "an integer");
  }
  if (!isObj(o.data)) bad("data", 'an object { "train": "file.jsonl", "validation"?, "maxLength"? }');
  const d = o.data as Record<string, unknown>;
  if (typeof d.train !== "string") bad("data.train", "a JSONL file path");
  if (d.validation !== undefined && typeof d.validation !== "string") bad("data.validation", "a JSONL file path");
  if (d.maxLength !== undefined && !(Number.isSafeInteger(d.maxLength) && (d.maxLength as number) > 0))
    bad("data.maxLength", "a positive integer");
  if (typeof o.out !== "string") bad("out", "an output folder path");
  if (o.training !== undefined && !isObj(o.training)) bad("training", "an object of trainer options");
  return { run: o as unknown as RunFile, base: dirname(resolve(file)) };
}

/** One line of a JSONL data file: its text or token ids, its class label, and where it was read ("file:line"). */
export interface DataRecord {
  readonly text?: string;
  readonly ids?: readonly number[];
  readonly label?: number;
  readonly at: string;
}

/**
 * The lines of a JSONL data file, checked: `{"text": "..."}` or `{"ids": [...]}` (ids below `vocab`), with `"label": n`
 * for classification. Every problem names the file and line.
 */
export function readRecords(file: string, vocab: number): DataRecord[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(`${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "not found" : (e as Error).message}`);
  }
  const out: DataRecord[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    const at = `${file}:${i + 1}`;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new Error(`${at}: invalid JSON (${(e as Error).message})`);
    }
    if (!isObj(v)) throw new Error(`${at}: expected an object {"text": ...} or {"ids": [...]}`);
    const label = v.label === undefined ? {} : { label: v.label as number };
    if (v.label !== undefined && !(Number.isSafeInteger(v.label) && (v.label as number) >= 0))
      throw new Error(`${at}: "label" must be a class index >= 0`);
    if (typeof v.text === "string") out.push({ text: v.text, ...label, at });
    else if (Array.isArray(v.ids) && v.ids.every((x) => Number.isSafeInteger(x) && x >= 0 && x < vocab))
      out.push({ ids: v.ids as number[], ...label, at });
    else throw new Error(`${at}: expected "text" (a string) or "ids" (token ids below ${vocab})`);
  });
  if (out.length === 0) throw new Error(`${file}: no examples`);
  return out;
}

/** A record as a training example: its text encoded with the model's tokenizer (or its ids), cut to `maxLength`. */
export function encodeRecord(r: DataRecord, tok: Tokenizer | undefined, maxLength: number): Example {
  let ids: readonly number[];
  if (r.text !== undefined) {
    if (tok === undefined) throw new Error(`${r.at}: "text" needs a model with a tokenizer; give "ids"`);
    ids = tok.encode(r.text);
  } else ids = r.ids ?? [];
  if (ids.length === 0) throw new Error(`${r.at}: the example has no tokens`);
  return { ids: ids.slice(0, maxLength), ...(r.label !== undefined && { label: r.label }) };
}

/**
 * The examples of a JSONL file: `{"text": "..."}` (encoded with the model's tokenizer) or `{"ids": [...]}`, with
 * `"label": n` for classification; cut to `maxLength` tokens.
 */
export function readExamples(file: string, tok: Tokenizer | undefined, maxLength: number, vocab: number): Example[] {
  return readRecords(file, vocab).map((r) => encodeRecord(r, tok, maxLength));
}

/**
 * The run file's model: the folder it names (loaded again on each call), or a fresh model of its `init` config
 * with the tokenizer of the folder it names; with the config.json object and the folder its other files come from.
 */
export function runModel(
  run: RunFile,
  at: (p: string) => string,
): { model: ReturnType<typeof load>; configJson: Record<string, unknown>; copyFrom: string } {
  if (run.model !== undefined) {
    const copyFrom = at(run.model);
    const configJson = JSON.parse(readFileSync(join(copyFrom, "config.json"), "utf8")) as Record<string, unknown>;
    return { model: load(copyFrom), configJson, copyFrom };
  }
  const init = run.init as NonNullable<RunFile["init"]>;
  const configJson =
    typeof init.config === "string"
      ? (JSON.parse(readFileSync(at(init.config), "utf8")) as Record<string, unknown>)
      : init.config;
  const copyFrom = at(init.tokenizer);
  const fresh = initModel(configJson, { seed: init.seed ?? 0 });
  return { model: Object.assign(fresh.model, { tokenizer: loadTokenizerFromFolder(copyFrom) }), configJson, copyFrom };
}

export const trainCommand: Command = {
  summary: "train or fine-tune a model from a run file (JSONL data), with live telemetry and checkpoints",
  usage: "llmdbg train <run.json> [--out DIR] [--resume DIR] [--no-store] [--json]",
  help: [
    ...flags.help,
    "",
    'run.json: { "model": "FOLDER" | "init": { "config": "config.json", "tokenizer": "FOLDER", "seed": 0 },',
    '            "data": { "train": "train.jsonl", "validation": "valid.jsonl", "maxLength": 128 },',
    '            "out": "DIR", "training": { "lr": 1e-3, "maxSteps": 500, "batchSize": 8, ... } }',
    'JSONL lines: {"text": "..."} or {"ids": [1, 2, 3]}, with "label": N for "objective": "classification".',
  ],
  async run(argv) {
    const { values, positionals } = flags.parse(argv);
    const file = positionals[0];
    if (file === undefined || positionals.length > 1) throw new UsageError("give one run file");
    const { run, base } = readRunFile(file);
    const at = (p: string) => resolve(base, p);
    const out = resolve(values.out ?? at(run.out));
    // the model: a folder to continue, or a fresh one from a config and a tokenizer folder
    const { model, configJson, copyFrom } = runModel(run, at);
    const config = normalizeHfConfig(configJson, "config.json");
    const maxLength = run.data.maxLength ?? config.maxPositions;
    const tok = model.tokenizer;
    const data = {
      train: readExamples(at(run.data.train), tok, maxLength, config.vocabSize),
      ...(run.data.validation !== undefined && {
        validation: readExamples(at(run.data.validation), tok, maxLength, config.vocabSize),
      }),
    };
    const resume = values.resume === undefined ? undefined : loadCheckpoint(resolve(values.resume));
    mkdirSync(out, { recursive: true });
    const logFile = join(out, "train_log.jsonl");
    if (resume === undefined) rmSync(logFile, { force: true });
    const sink = new JsonlSink(logFile);
    const training = run.training ?? {};
    const total = training.maxSteps ?? 0;
    const bar = values.json ? undefined : progressBar("training", "passes");
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once("SIGINT", stop);
    const t0 = performance.now();
    let steps0: number | null = null;
    // the store sees the run from its start (status running) and each event soon after it happens
    const live = startLiveRun(values, run.model === undefined ? null : { path: copyFrom, config }, {
      kind: "train",
      options: {
        runFile: resolve(file),
        from: copyFrom,
        data: run.data,
        training,
        ...(values.resume !== undefined && { resume: values.resume }),
      },
    });
    let anomaly: string | undefined;
    const onEvent = (e: TrainEvent) => {
      live?.push(e);
      if (e.kind === "anomaly" && e.action === "stop") anomaly = e.message;
      if (values.json) process.stdout.write(`${JSON.stringify(e)}\n`);
      else if (e.kind === "start") steps0 = e.resumedFrom ?? 0;
      else if (e.kind === "step" && bar !== undefined) {
        const all = total > 0 ? total : e.step;
        const perStep = (performance.now() - t0) / Math.max(1, e.step - (steps0 ?? 0));
        bar.update(e.step, all, `loss ${e.loss.toFixed(4)}, ETA ${Math.ceil((perStep * (all - e.step)) / 1000)} s`);
      } else if (e.kind === "eval" || e.kind === "anomaly" || e.kind === "early_stop" || e.kind === "checkpoint") {
        bar?.finish();
        print(describeEvent(e));
      }
    };
    let result: Awaited<ReturnType<typeof train>>;
    // the optimizer's second thread (used from 4 Mi parameters on; the zoo's models stay on one)
    const helper = availableParallelism() > 1 ? stepHelper() : undefined;
    try {
      result = await train(model, data, training, {
        sink,
        onEvent,
        signal: controller.signal,
        ...(helper !== undefined && { stepHelper: helper }),
        checkpoints: folderCheckpoints(join(out, "checkpoints"), { config: configJson, copyFrom }),
        ...(resume !== undefined && { resume }),
      });
      // the trained model, as a model folder: config, tokenizer files, weights under save_pretrained's names
      writeFileSync(join(out, "config.json"), `${JSON.stringify(configJson, null, 2)}\n`);
      for (const f of ["tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json"])
        if (existsSync(join(copyFrom, f))) writeFileSync(join(out, f), readFileSync(join(copyFrom, f)));
      saveModel(config, model.params, join(out, "model.safetensors"));
    } catch (e) {
      // a run that fails is never left `running` (only a process that dies is)
      endLiveRun(live, { status: "failed", error: (e as Error).message, timings: { wallMs: performance.now() - t0 } });
      throw e;
    } finally {
      bar?.finish();
      process.off("SIGINT", stop);
      sink.close();
      await helper?.close();
    }
    // the store links the run to the model it wrote
    endLiveRun(live, {
      status: result.reason === "aborted" ? "aborted" : result.reason === "anomaly" ? "failed" : "done",
      ...(result.reason === "anomaly" && { error: anomaly ?? "a non-finite loss or gradient stopped the run" }),
      timings: { wallMs: performance.now() - t0 },
      model: { path: out, config },
    });
    if (!values.json)
      print(
        `${result.reason === "aborted" ? "stopped" : "done"} after ${result.step} steps` +
          `${result.losses.length > 0 ? `, last loss ${(result.losses.at(-1) as number).toFixed(4)}` : ""}; model in ${out}`,
      );
    return result.reason === "aborted" ? 130 : result.reason === "anomaly" ? 1 : 0;
  },
};

/** One line for an event a progress bar does not show (evaluations, anomalies, early stops, checkpoints). */
export function describeEvent(e: TrainEvent): string {
  switch (e.kind) {
    case "eval":
      return `step ${e.step}: ${Object.entries(e.metrics)
        .map(([k, v]) => `${k} ${v.toFixed(4)}`)
        .join(", ")}`;
    case "anomaly":
      return `step ${e.step}: ${e.message}`;
    case "early_stop":
      return `step ${e.step}: early stop (${e.metric} best ${e.best.toFixed(4)})`;
    case "checkpoint":
      return `step ${e.step}: checkpoint ${e.path}`;
    default:
      return e.kind;
  }
}
