// `llmdbg finetune <model> --data train.jsonl --out DIR`: fine-tunes a model folder — fully, or a LoRA adapter
// (--lora R) written in PEFT's layout — with the repair strategies as flags: adversarial training on the
// embeddings (--adversarial ε), attention penalties (--attn-reg), data augmentation (--augment) and a consistency
// term between an example and its counterfactual (--consistency λ). The data, the progress bar, --json events, the
// JSONL log, Ctrl-C (a checkpoint, exit 130) and the exit codes are those of `llmdbg train`; the options used are
// written to <out>/finetune.json.

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { type HookedModel, run } from "@llmdbg/core";
import { saveModel } from "@llmdbg/models";
import type {
  AdversarialConfig,
  AttentionPenalty,
  AugmentConfig,
  LoraConfig,
  RepairConfig,
  TrainConfig,
  TrainEvent,
} from "@llmdbg/protocol";
import {
  augmentTexts,
  causalLmLossSum,
  classificationLogits,
  classificationLoss,
  collate,
  createLora,
  type Example,
  folderCheckpoints,
  JsonlSink,
  type LoraAdapter,
  linearTargets,
  loadCheckpoint,
  loraModel,
  type MetricFn,
  type PairedExample,
  type Repair,
  repairTraining,
  saveAdapter,
  stepHelper,
  train,
} from "@llmdbg/train";
import { modelPath, UsageError } from "../args.js";
import { defineFlags, flag } from "../flags.js";
import { type LoadedModel, load, loadFlags, tokenFlag } from "../load.js";
import { print, progressBar } from "../output.js";
import { storeFlags } from "../record.js";
import { endLiveRun, startLiveRun } from "../record-live.js";
import type { Command } from "./command.js";
import { readWordLists } from "./counterfactual.js";
import { type DataRecord, describeEvent, encodeRecord, readRecords } from "./train.js";

const positive = (n: number) => n > 0;
const flags = defineFlags(
  {
    data: flag.text("FILE", 'training data, JSONL: {"text": "..."} or {"ids": [...]}, with "label": N for classification'),
    validation: flag.text("FILE", "validation data (same format), evaluated at the end and every --eval-every steps"),
    out: flag.text("DIR", "the output folder: the model (or the adapter), finetune.json, train_log.jsonl, checkpoints/"),
    lora: flag.int("R", "train a LoRA adapter of rank R instead of every weight; written in PEFT's layout", 1),
    "lora-alpha": flag.num("A", "the adapter's scaling numerator (default 2·R)", Number.isFinite, "a number"),
    "lora-targets": flag.text(
      "M,…",
      "modules adapted, PEFT names (c_attn, q_proj) or globs (default every linear weight of the blocks)",
    ),
    merge: flag.bool("with --lora, also write the merged model to <out>/merged"),
    adversarial: flag.num(
      "EPS",
      "adversarial training: perturb the input embeddings within an ε-ball",
      positive,
      "a positive number",
    ),
    "adv-steps": flag.int("N", "PGD steps (default 1: FGSM)", 1),
    "adv-norm": flag.oneOf("NORM", "the ball: linf (default) or l2 (over each example's embeddings)", ["linf", "l2"] as const),
    "adv-alpha": flag.num(
      "A",
      "weight of the clean loss beside the adversarial one, in [0, 1] (default 0)",
      (a) => a >= 0 && a <= 1,
      "in [0, 1]",
    ),
    "attn-reg": flag.text(
      "SPEC",
      "attention penalties, comma-separated: entropy:λ (λ > 0 sharpens, < 0 spreads), sink:TOKEN:λ (mass on a token's text or id, or pos=N; λ > 0 penalizes)",
    ),
    "attn-layers": flag.text("L,…", "the layers --attn-reg reads (default all; negative from the last)"),
    "attn-heads": flag.text("H,…", "the heads --attn-reg reads (default all)"),
    augment: flag.text(
      "SPEC",
      "data augmentation, ;-separated: a word-group file (one group per line), counterfactual:he=she,…, spurious:WORD,…[=R|R…], or a JSON file of AugmentConfigs",
    ),
    "augment-rate": flag.num("P", "the share of examples augmented (default 1)", (p) => p >= 0 && p <= 1, "in [0, 1]"),
    consistency: flag.num(
      "λ",
      "consistency term between each example and its counterfactual (needs counterfactual augmentation)",
      Number.isFinite,
      "a number",
    ),
    divergence: flag.oneOf("D", "the consistency divergence: js (default) or symmetric_kl", ["js", "symmetric_kl"] as const),
    objective: flag.oneOf("O", "causal_lm (default) or classification", ["causal_lm", "classification"] as const),
    lr: flag.num("LR", "peak learning rate (default 5e-5, or 2e-4 with --lora)", (x) => x >= 0, "a non-negative number"),
    "max-steps": flag.int("N", "optimizer steps (default: one epoch)", 1),
    epochs: flag.num("E", "passes over the data when --max-steps is not given (default 1)", positive, "a positive number"),
    batch: flag.int("N", "examples per batch (default 8)", 1),
    "max-length": flag.int("N", "tokens kept per example (default the model's context)", 1),
    seed: flag.int("N", "seeds shuffling, augmentation, LoRA initialization (default 0)", 0),
    "eval-every": flag.int("N", "evaluate on --validation every N steps (default: at the end only)", 1),
    "checkpoint-every": flag.int("N", "write a checkpoint every N steps into <out>/checkpoints", 1),
    resume: flag.text("DIR", "continue from a checkpoint of the same command (<out>/checkpoints/checkpoint-N)"),
    json: flag.bool("one TrainEvent per line on stdout"),
    ...loadFlags,
    ...storeFlags,
  },
  { "<model>": "a Hugging Face model folder" },
);

type Values = ReturnType<typeof flags.parse>["values"];

/** `--attn-layers 0,-1`: comma-separated integers. */
function intList(v: string, name: string): number[] {
  return v.split(",").map((s) => {
    const n = Number(s.trim());
    if (s.trim() === "" || !Number.isSafeInteger(n))
      throw new UsageError(`--${name} must be comma-separated integers, got ${JSON.stringify(v)}`);
    return n;
  });
}

/** `--attn-reg entropy:0.1,sink:pos=0:0.5,sink:<|endoftext|>:1`: each spec starts at "entropy:" or "sink:". */
function attentionPenalties(v: string, m: LoadedModel, values: Values): AttentionPenalty[] {
  const specs = v.split(/,(?=(?:entropy|sink):)/);
  const sel = {
    ...(values["attn-layers"] !== undefined && { layers: intList(values["attn-layers"], "attn-layers") }),
    ...(values["attn-heads"] !== undefined && { heads: intList(values["attn-heads"], "attn-heads") }),
  };
  return specs.map((spec) => {
    const weightOf = (w: string) => {
      const n = Number(w);
      if (w.trim() === "" || !Number.isFinite(n)) throw new UsageError(`--attn-reg ${JSON.stringify(spec)}: λ must be a number`);
      return n;
    };
    if (spec.startsWith("entropy:")) return { kind: "entropy", weight: weightOf(spec.slice("entropy:".length)), ...sel };
    const colon = spec.lastIndexOf(":");
    if (!spec.startsWith("sink:") || colon <= "sink:".length)
      throw new UsageError(`--attn-reg ${JSON.stringify(spec)}: expected entropy:λ or sink:TOKEN:λ`);
    const token = spec.slice("sink:".length, colon);
    const weight = weightOf(spec.slice(colon + 1));
    const pos = /^pos=(-?\d+)$/.exec(token);
    if (pos !== null) return { kind: "mass", weight, positions: [Number(pos[1])], ...sel };
    const id = m.tokenizer?.tokenToId(token) ?? tokenFlag(m, token, "attn-reg");
    return { kind: "mass", weight, tokens: [id], ...sel };
  });
}

/** `--augment` specs, `;`-separated. */
function augmentations(v: string, rate: number | undefined, seed: number): AugmentConfig[] {
  const withRate = rate === undefined ? {} : { rate };
  return v.split(";").flatMap((spec): AugmentConfig[] => {
    if (spec.startsWith("counterfactual:")) {
      const pairs = spec
        .slice("counterfactual:".length)
        .split(",")
        .map((p) => {
          const [a, b, ...rest] = p.split("=").map((w) => w.trim());
          if (a === undefined || b === undefined || a === "" || b === "" || rest.length > 0)
            throw new UsageError(`--augment ${JSON.stringify(spec)}: expected counterfactual:WORD=WORD,…`);
          return [a, b] as [string, string];
        });
      return [{ kind: "counterfactual", pairs, seed, ...withRate }];
    }
    if (spec.startsWith("spurious:")) {
      const [words, repl] = spec.slice("spurious:".length).split("=");
      const list = (words ?? "").split(",").map((w) => w.trim());
      if (list.some((w) => w === "")) throw new UsageError(`--augment ${JSON.stringify(spec)}: expected spurious:WORD,…[=R|R…]`);
      const replacements = repl === undefined ? null : repl.split("|").map((w) => w.trim());
      return [{ kind: "counterfactual", spurious: list, replacements, seed, ...withRate }];
    }
    if (!existsSync(spec))
      throw new UsageError(`--augment ${JSON.stringify(spec)}: no such file, and not counterfactual:… or spurious:…`);
    const text = readFileSync(spec, "utf8");
    if (spec.endsWith(".json")) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (e) {
        throw new Error(`${spec}: invalid JSON (${(e as Error).message})`);
      }
      const list = Array.isArray(json) ? json : [json];
      // an array of word arrays is a word-group file in JSON
      if (list.every((g) => Array.isArray(g))) return [{ kind: "swap", groups: readWordLists(spec), seed, ...withRate }];
      return list.map((c, i) => {
        if (
          typeof c !== "object" ||
          c === null ||
          !["swap", "template", "counterfactual"].includes((c as { kind?: unknown }).kind as string)
        )
          throw new Error(`${spec}: [${i}].kind: expected "swap", "template" or "counterfactual"`);
        return { seed, ...withRate, ...(c as object) } as AugmentConfig;
      });
    }
    return [{ kind: "swap", groups: readWordLists(spec), seed, ...withRate }];
  });
}

/** The validation loss of the plain objective (a repaired run's "loss" is its objective, penalties included). */
function cleanLoss(model: HookedModel, classify: boolean, batch: number): MetricFn {
  return ({ examples }) => {
    let sum = 0;
    let count = 0;
    for (let i = 0; i < examples.length; i += batch) {
      const b = collate(examples.slice(i, i + batch), {}, classify ? "class" : "tokens");
      const out = run(model, b.ids, b.attentionMask === undefined ? {} : { attentionMask: b.attentionMask }).output;
      if (classify) {
        sum += classificationLoss(classificationLogits(out, b), b.labels).item() * b.size;
        count += b.size;
      } else {
        const s = causalLmLossSum(out, b.labels, b.attentionMask);
        sum += s.sum;
        count += s.count;
      }
    }
    return count === 0 ? 0 : sum / count;
  };
}

export const finetuneCommand: Command = {
  summary:
    "fine-tune a model (fully or a LoRA adapter) with repairs: adversarial training, attention penalties, augmentation, consistency",
  usage:
    "llmdbg finetune <model> --data FILE --out DIR [--validation FILE] [--lora R [--lora-alpha A] [--lora-targets M,…] [--merge]] [--adversarial EPS [--adv-steps N] [--adv-norm linf|l2]] [--attn-reg SPEC] [--augment SPEC] [--consistency λ] [--lr LR] [--max-steps N] [--batch N] [--objective causal_lm|classification] [--json]",
  help: [
    ...flags.help,
    "",
    "--attn-reg: entropy:0.01 | entropy:-0.01 | sink:pos=0:0.5 | sink:<|endoftext|>:0.5 | sink:50256:0.5 (comma-separated)",
    "--augment: words.txt (groups of synonyms, one per line) | counterfactual:he=she,him=her | spurious:XK42 (removed)",
    "           | spurious:XK42=AB1|CD2 (replaced) | augment.json (AugmentConfig objects, templates included); ;-separated",
  ],
  async run(argv) {
    const { values, positionals } = flags.parse(argv);
    const path = modelPath(positionals);
    if (values.data === undefined) throw new UsageError("missing --data FILE (JSONL training data)");
    if (values.out === undefined) throw new UsageError("missing --out DIR");
    for (const f of ["lora-alpha", "lora-targets", "merge"] as const)
      if (values[f] !== undefined && values[f] !== false && values.lora === undefined)
        throw new UsageError(`--${f} goes with --lora R`);
    for (const f of ["adv-steps", "adv-norm", "adv-alpha"] as const)
      if (values[f] !== undefined && values.adversarial === undefined) throw new UsageError(`--${f} goes with --adversarial EPS`);
    for (const f of ["attn-layers", "attn-heads"] as const)
      if (values[f] !== undefined && values["attn-reg"] === undefined) throw new UsageError(`--${f} goes with --attn-reg`);
    if (values["augment-rate"] !== undefined && values.augment === undefined)
      throw new UsageError("--augment-rate goes with --augment");
    if (values.divergence !== undefined && values.consistency === undefined)
      throw new UsageError("--divergence goes with --consistency");
    const seed = values.seed ?? 0;
    const augment = values.augment === undefined ? [] : augmentations(values.augment, values["augment-rate"], seed);
    if (values.consistency !== undefined && !augment.some((a) => a.kind === "counterfactual"))
      throw new UsageError(
        "--consistency compares examples with their counterfactuals: add --augment counterfactual:A=B,… or spurious:WORD",
      );

    const m = load(path, values);
    if (m.format !== "safetensors" || !existsSync(join(m.path, "config.json")))
      throw new Error(`${path}: finetune needs a Hugging Face model folder (config.json and safetensors weights)`);
    const configJson = JSON.parse(readFileSync(join(m.path, "config.json"), "utf8")) as Record<string, unknown>;
    const classify = values.objective === "classification";
    const maxLength = values["max-length"] ?? m.config.maxPositions;
    const tok = m.tokenizer;
    const records = readRecords(resolve(values.data), m.config.vocabSize);
    const encode = (r: DataRecord): Example => {
      if (classify && r.label === undefined) throw new Error(`${r.at}: "label" is needed for --objective classification`);
      return encodeRecord(r, tok, maxLength);
    };
    const examples: PairedExample[] = records.map(encode);
    // augmentation edits the text; its counterfactuals become training examples and their sources' pairs
    let added = 0;
    let pairs = 0;
    if (augment.length > 0) {
      const noText = records.find((r) => r.text === undefined);
      if (noText !== undefined) throw new Error(`${noText.at}: --augment edits text, and this example gives "ids"`);
      const texts = records.map((r) => ({ text: r.text as string, ...(r.label !== undefined && { label: r.label }) }));
      for (const a of augment) {
        let made: ReturnType<typeof augmentTexts>;
        try {
          made = augmentTexts(texts, a);
        } catch (e) {
          throw new Error(`--augment: ${(e as Error).message}`);
        }
        for (const e of made) {
          const ex = encode({
            text: e.text,
            ...(e.label !== undefined && { label: e.label }),
            at: `--augment (${e.kind} of ${e.source === null ? "a template" : (records[e.source] as DataRecord).at})`,
          });
          examples.push(ex);
          added++;
          if (e.kind === "counterfactual" && e.source !== null && values.consistency !== undefined) {
            const src = examples[e.source] as PairedExample;
            if (src.counterfactual === undefined) {
              examples[e.source] = { ...src, counterfactual: { ids: ex.ids } };
              pairs++;
            }
          }
        }
      }
    }
    const validation =
      values.validation === undefined ? undefined : readRecords(resolve(values.validation), m.config.vocabSize).map(encode);

    // the model trained: the loaded one, or a LoRA view whose parameters are the adapter's
    let adapter: LoraAdapter | null = null;
    let lora: LoraConfig | null = null;
    if (values.lora !== undefined) {
      const targets =
        values["lora-targets"]?.split(",").map((t) => t.trim()) ??
        linearTargets(m.model)
          .filter((t) => /\.\d+\./.test(t.param))
          .map((t) => t.param);
      lora = { r: values.lora, alpha: values["lora-alpha"] ?? 2 * values.lora, targetModules: targets, seed };
      try {
        adapter = createLora(m.model, lora);
      } catch (e) {
        throw new UsageError(`--lora-targets: ${(e as Error).message}`);
      }
    }
    const model: HookedModel = adapter === null ? m.model : loraModel(m.model, adapter);

    const attention = values["attn-reg"] === undefined ? [] : attentionPenalties(values["attn-reg"], m, values);
    const adversarial: AdversarialConfig | null =
      values.adversarial === undefined
        ? null
        : {
            method: (values["adv-steps"] ?? 1) > 1 ? "pgd" : "fgsm",
            epsilon: values.adversarial,
            ...(values["adv-steps"] !== undefined && values["adv-steps"] > 1 && { steps: values["adv-steps"] }),
            ...(values["adv-norm"] !== undefined && { norm: values["adv-norm"] }),
            ...(values["adv-alpha"] !== undefined && { alpha: values["adv-alpha"] }),
            seed,
          };
    const repairConfig: RepairConfig = {
      ...(attention.length > 0 && { attention }),
      ...(adversarial !== null && { adversarial }),
      ...(values.consistency !== undefined && {
        consistency: { weight: values.consistency, ...(values.divergence !== undefined && { divergence: values.divergence }) },
      }),
    };
    const repaired = Object.keys(repairConfig).length > 0;
    let repair: Repair | null = null;
    if (repaired) {
      try {
        repair = repairTraining(model, repairConfig, { objective: classify ? "classification" : "causal_lm" });
      } catch (e) {
        // a selection that names nothing (a layer, a head, a hook) is the command line's
        throw new UsageError((e as Error).message);
      }
    }

    const batchSize = values.batch ?? 8;
    const maxSteps = values["max-steps"] ?? null;
    const totalSteps = maxSteps ?? Math.max(1, Math.ceil((values.epochs ?? 1) * Math.ceil(examples.length / batchSize)));
    const evalEvery = validation === undefined ? null : (values["eval-every"] ?? totalSteps);
    if (values["eval-every"] !== undefined && validation === undefined)
      throw new UsageError("--eval-every needs --validation FILE");
    const training: TrainConfig = {
      seed,
      batchSize,
      lr: values.lr ?? (adapter === null ? 5e-5 : 2e-4),
      ...(maxSteps !== null ? { maxSteps } : { epochs: values.epochs ?? 1 }),
      objective: classify ? "classification" : "causal_lm",
      ...(evalEvery !== null && { evalEvery }),
      ...(values["checkpoint-every"] !== undefined && { checkpointEvery: values["checkpoint-every"] }),
    };

    const out = resolve(values.out);
    mkdirSync(out, { recursive: true });
    writeFileSync(
      join(out, "finetune.json"),
      `${JSON.stringify({ model: m.path, data: resolve(values.data), validation: values.validation ?? null, training, lora, repair: repairConfig, augment }, null, 2)}\n`,
    );
    const resume = values.resume === undefined ? undefined : loadCheckpoint(resolve(values.resume));
    const logFile = join(out, "train_log.jsonl");
    if (resume === undefined) rmSync(logFile, { force: true });
    const sink = new JsonlSink(logFile);
    const bar = values.json ? undefined : progressBar("fine-tuning", "passes");
    if (!values.json && added > 0)
      print(
        `augmentation: ${added} examples added to ${records.length}${values.consistency !== undefined ? `, ${pairs} counterfactual pairs` : ""}`,
      );
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once("SIGINT", stop);
    const t0 = performance.now();
    let steps0 = 0;
    let total = totalSteps;
    // recorded live as `llmdbg train` is (a training run of the base model), so the Training view follows it
    const live = startLiveRun(
      values,
      { path: m.path, config: m.config },
      {
        kind: "train",
        options: {
          command: "finetune",
          from: m.path,
          data: resolve(values.data),
          validation: values.validation === undefined ? null : resolve(values.validation),
          training,
          lora,
          repair: repairConfig,
          augment,
          ...(values.resume !== undefined && { resume: values.resume }),
        },
      },
    );
    let anomaly: string | undefined;
    const onEvent = (e: TrainEvent) => {
      live?.push(e);
      if (e.kind === "anomaly") anomaly = e.message;
      if (values.json) process.stdout.write(`${JSON.stringify(e)}\n`);
      else if (e.kind === "start") {
        steps0 = e.resumedFrom ?? 0;
        total = e.totalSteps;
      } else if (e.kind === "step" && bar !== undefined) {
        const perStep = (performance.now() - t0) / Math.max(1, e.step - steps0);
        const terms = Object.entries(repair?.terms() ?? {})
          .filter(([k]) => k !== "loss")
          .map(([k, v]) => `${k} ${v.toFixed(3)}`);
        bar.update(
          e.step,
          total,
          [`loss ${e.loss.toFixed(4)}`, ...terms, `ETA ${Math.ceil((perStep * (total - e.step)) / 1000)} s`].join(", "),
        );
      } else if (e.kind === "eval" || e.kind === "anomaly" || e.kind === "early_stop" || e.kind === "checkpoint") {
        bar?.finish();
        print(describeEvent(e));
      }
    };
    let result: Awaited<ReturnType<typeof train>>;
    // the optimizer's second thread (a full fine-tune of a model of 4 Mi parameters or more uses it)
    const helper = availableParallelism() > 1 ? stepHelper() : undefined;
    try {
      result = await train(model, { train: examples, ...(validation !== undefined && { validation }) }, training, {
        sink,
        onEvent,
        signal: controller.signal,
        ...(helper !== undefined && { stepHelper: helper }),
        // a LoRA run's checkpoints hold the adapter's tensors; a full run's are model folders
        checkpoints: folderCheckpoints(
          join(out, "checkpoints"),
          adapter === null ? { config: configJson, copyFrom: m.path } : undefined,
        ),
        ...(resume !== undefined && { resume }),
        ...(repair !== null && { objective: repair.objective, runOptions: repair.runOptions }),
        ...(repaired && validation !== undefined && { metrics: { clean_loss: cleanLoss(model, classify, batchSize) } }),
      });
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
    let wrote = "";
    try {
      const modelFolder = (dir: string) => {
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, "config.json"), `${JSON.stringify(configJson, null, 2)}\n`);
        for (const f of ["tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json"])
          if (existsSync(join(m.path, f))) writeFileSync(join(dir, f), readFileSync(join(m.path, f)));
        saveModel(m.config, m.model.params, join(dir, "model.safetensors"));
      };
      if (adapter === null) {
        modelFolder(out);
        wrote = `model in ${out}`;
      } else {
        saveAdapter(adapter, out, { baseModel: m.path, taskType: classify ? "SEQ_CLS" : "CAUSAL_LM" });
        wrote = `adapter in ${out}`;
        if (values.merge) {
          adapter.merge(m.model);
          modelFolder(join(out, "merged"));
          adapter.unmerge(m.model);
          wrote += `, merged model in ${join(out, "merged")}`;
        }
      }
    } catch (e) {
      endLiveRun(live, { status: "failed", error: (e as Error).message, timings: { wallMs: performance.now() - t0 } });
      throw e;
    }
    // a full fine-tune's run is linked to the model it wrote; an adapter's stays with its base model
    endLiveRun(live, {
      status: result.reason === "aborted" ? "aborted" : result.reason === "anomaly" ? "failed" : "done",
      ...(result.reason === "anomaly" && { error: anomaly ?? "a non-finite loss or gradient stopped the run" }),
      timings: { wallMs: performance.now() - t0 },
      ...(adapter === null && { model: { path: out, config: m.config } }),
    });
    if (!values.json)
      print(
        `${result.reason === "aborted" ? "stopped" : "done"} after ${result.step} steps` +
          `${result.losses.length > 0 ? `, last loss ${(result.losses.at(-1) as number).toFixed(4)}` : ""}; ${wrote}`,
      );
    return result.reason === "aborted" ? 130 : result.reason === "anomaly" ? 1 : 0;
  },
};
