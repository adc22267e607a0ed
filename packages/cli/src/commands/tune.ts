// `llmdbg tune <tune.json>`: a hyperparameter search (grid, random, successive halving) over a run file's
// training — the run file of `llmdbg train` plus "search" (the space, method, trials, metric and budget) and,
// for LoRA ranks, "lora". Each trial's events go to <out>/trial-<id>/train_log.jsonl and, as `llmdbg train`
// records its run, live into the run store as a training run of its own (options: command tune, trial, rung,
// params), so the Training view follows and compares the trials; the summary table and the best config are
// printed and written to <out>/tune.json (a TuneResult; --json prints it).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { normalizeHfConfig } from "@llmdbg/models";
import type { LoraConfig, TuneConfig, TuneParams, TuneResult } from "@llmdbg/protocol";
import { JsonlSink, type TelemetrySink, tune } from "@llmdbg/train";
import { UsageError } from "../args.js";
import { defineFlags, flag } from "../flags.js";
import { print, printJson, progressBar, table } from "../output.js";
import { storeFlags } from "../record.js";
import { endLiveRun, startLiveRun } from "../record-live.js";
import type { Command } from "./command.js";
import { readExamples, readRunFile, runModel } from "./train.js";

const flags = defineFlags({
  budget: flag.int("N", "the step budget over all trials (overrides search.budget.steps)", 1),
  out: flag.text("DIR", 'the output folder (overrides the file\'s "out")'),
  json: flag.bool("one JSON object (a TuneResult) on stdout"),
  ...storeFlags,
});

const fmt = (v: number | undefined) => (v === undefined ? "-" : Number.isInteger(v) ? String(v) : v.toPrecision(3));

function paramsText(p: TuneParams): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}=${fmt(v as number)}`)
    .join(" ");
}

export const tuneCommand: Command = {
  summary: "hyperparameter search (grid, random, successive halving) over a training run, under a step or time budget",
  usage: "llmdbg tune <tune.json> [--budget N] [--out DIR] [--json]",
  help: [
    ...flags.help,
    "",
    'tune.json: the run file of llmdbg train, plus "search": { "method": "grid" | "random" | "halving",',
    '  "space": { "lr": [1e-4, 1e-3] | { "min": 1e-5, "max": 1e-2, "log": true }, "batchSize": [4, 8],',
    '  "weightDecay": [...], "warmupSteps": [...], "loraRank": [4, 8] }, "trials": 8, "metric": "loss",',
    '  "mode": "min", "budget": { "steps": 600, "minutes": 10 }, "eta": 3, "seed": 0 }',
    '  and, with loraRank, "lora": { "targetModules": ["c_attn"], "alpha": 16 }.',
  ],
  async run(argv) {
    const { values, positionals } = flags.parse(argv);
    const file = positionals[0];
    if (file === undefined || positionals.length > 1) throw new UsageError("give one tune file");
    const { run, base } = readRunFile(file, ["search", "lora"]);
    const raw = JSON.parse(readFileSync(file, "utf8")) as { search?: unknown; lora?: unknown };
    if (typeof raw.search !== "object" || raw.search === null || Array.isArray(raw.search))
      throw new Error(`${file}: search: expected an object { method, space, budget, … }`);
    const search = raw.search as TuneConfig;
    const searchCfg: TuneConfig =
      values.budget === undefined ? search : { ...search, budget: { ...search.budget, steps: values.budget } };
    const at = (p: string) => resolve(base, p);
    const out = resolve(values.out ?? at(run.out));
    const first = runModel(run, at);
    const config = normalizeHfConfig(first.configJson, "config.json");
    const maxLength = run.data.maxLength ?? config.maxPositions;
    const tok = first.model.tokenizer;
    const data = {
      train: readExamples(at(run.data.train), tok, maxLength, config.vocabSize),
      ...(run.data.validation !== undefined && {
        validation: readExamples(at(run.data.validation), tok, maxLength, config.vocabSize),
      }),
    };
    mkdirSync(out, { recursive: true });
    const sinks: TelemetrySink[] = [];
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once("SIGINT", stop);
    const bar = values.json ? undefined : progressBar("tuning", "passes");
    let made = 0;
    let result: TuneResult;
    try {
      result = await tune(() => (made++ === 0 ? first.model : runModel(run, at).model), data, searchCfg, {
        base: run.training ?? {},
        ...(raw.lora !== undefined && { lora: raw.lora as LoraConfig }),
        signal: controller.signal,
        sinkFor: ({ id, rung, params }) => {
          const dir = join(out, `trial-${id}`);
          mkdirSync(dir, { recursive: true });
          const log = new JsonlSink(join(dir, "train_log.jsonl"));
          // each trial a training run in the store, live (its base model, or none for a fresh one)
          const live = startLiveRun(values, run.model === undefined ? null : { path: first.copyFrom, config: first.configJson }, {
            kind: "train",
            options: { command: "tune", tuneFile: resolve(file), trial: id, rung, params },
          });
          let ended = false;
          const s: TelemetrySink = {
            emit(e) {
              log.emit(e);
              live?.push(e);
              if (e.kind === "end" && !ended) {
                ended = true;
                const status = e.reason === "aborted" ? "aborted" : e.reason === "anomaly" ? "failed" : "done";
                endLiveRun(live, {
                  status,
                  ...(status === "failed" && { error: "a non-finite loss or gradient stopped the trial" }),
                });
              }
            },
            close() {
              // a trial that threw never sent its end: it is not left running
              if (!ended) {
                ended = true;
                endLiveRun(live, { status: "failed", error: "the trial ended without finishing" });
              }
              return log.close();
            },
          };
          sinks.push(s);
          return s;
        },
        onEvent: (id, e) => {
          if (e.kind === "step") bar?.update(e.step, e.step, `trial ${id}: step ${e.step}, loss ${e.loss.toFixed(4)}`);
        },
        onTrial: (t) => {
          if (values.json) return;
          bar?.finish();
          print(
            `trial ${t.id}${t.rung > 0 ? ` (rung ${t.rung})` : ""}: ${paramsText(t.params)} → ${fmt(t.value ?? undefined)} after ${t.steps} steps`,
          );
        },
      });
    } catch (e) {
      // a bad search is the file's fault: name it
      if (e instanceof RangeError && e.message.startsWith("tune: ")) throw new Error(`${file}: search.${e.message.slice(6)}`);
      throw e;
    } finally {
      bar?.finish();
      process.off("SIGINT", stop);
      for (const s of sinks) s.close();
    }
    writeFileSync(join(out, "tune.json"), `${JSON.stringify(result, null, 2)}\n`);
    if (values.json) {
      printJson(result);
      return 0;
    }
    print();
    for (const line of table(
      ["trial", "rung", "params", "steps", result.metric, "end", "time"],
      result.trials.map((t) => [
        String(t.id),
        String(t.rung),
        paramsText(t.params),
        String(t.steps),
        fmt(t.value ?? undefined),
        t.reason,
        `${(t.wallMs / 1000).toFixed(1)} s`,
      ]),
    ))
      print(line);
    print();
    print(
      result.best === null
        ? "no trial reached an evaluation (budget too small?)"
        : `best: trial ${result.best.id} (${paramsText(result.best.params)}), ${result.metric} ${fmt(result.best.value ?? undefined)}; its config is in ${join(out, "tune.json")} (bestConfig)`,
    );
    return 0;
  },
};
