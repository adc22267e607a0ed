// `llmdbg finetune` end to end through the real bin, on tiny models: full fine-tuning with every repair at once
// (PGD, attention penalties, counterfactual augmentation and consistency) writes schema-valid events, the log, the
// options and a model folder that loads; --lora writes a PEFT adapter that, applied to the base model, gives the
// logits of the --merge folder, and leaves the base folder untouched; a BERT classifier fine-tunes with a spurious
// word removed; Ctrl-C writes a checkpoint and exits 130, and --resume finishes the run; bad data exits 1 naming the
// file, line and field; bad command lines exit 2.
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "@llmdbg/core";
import { loadModel } from "@llmdbg/models";
import { eventsAfter, openStore } from "@llmdbg/store";
import * as T from "@llmdbg/tensor";
import { writeTinyModel } from "@llmdbg/testing";
import { expectTrainEvent } from "@llmdbg/testing/vitest";
import { loadAdapter, loraModel } from "@llmdbg/train";
import { afterAll, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../bin/llmdbg.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "llmdbg-cli-finetune-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

const events = (stdout: string) =>
  stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

const gpt2 = join(dir, "gpt2");
writeTinyModel(gpt2, "gpt2", { seed: 1 });
const bert = join(dir, "bert");
writeTinyModel(bert, "bert", { seed: 1 });
const texts = ["he said the dog was happy.", "she thinks the cat is here.", "the doctor said he was late.", "a bird sings."];
const jsonl = (name: string, rows: unknown[]) => {
  const f = join(dir, name);
  writeFileSync(f, rows.map((r) => JSON.stringify(r)).join("\n"));
  return f;
};
const train = jsonl(
  "train.jsonl",
  Array.from({ length: 16 }, (_, i) => ({ text: texts[i % 4] })),
);
const valid = jsonl(
  "valid.jsonl",
  texts.map((text) => ({ text })),
);
const logits = (m: Parameters<typeof run>[0], ids: number[]) => run(m, ids).output.toArray();

describe("llmdbg finetune", () => {
  it("fine-tunes every weight with PGD, attention penalties, counterfactual augmentation and consistency", async () => {
    const out = join(dir, "full");
    const r = await cli([
      "finetune",
      gpt2,
      "--data",
      train,
      "--validation",
      valid,
      "--out",
      out,
      "--adversarial",
      "0.05",
      "--adv-steps",
      "2",
      "--adv-alpha",
      "0.5",
      "--attn-reg",
      "entropy:-0.01,sink:pos=0:0.1",
      "--attn-layers",
      "-1",
      "--augment",
      "counterfactual:he=she",
      "--consistency",
      "0.5",
      "--lr",
      "1e-2",
      "--max-steps",
      "6",
      "--batch",
      "4",
      "--eval-every",
      "3",
      "--json",
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const ev = events(r.stdout);
    for (const e of ev) expectTrainEvent(e);
    // 16 examples and their 12 counterfactuals (one text has no "he" or "she")
    expect(ev[0]).toMatchObject({ kind: "start", examples: 28, totalSteps: 6 });
    const steps = ev.filter((e) => e.kind === "step");
    expect(steps).toHaveLength(6);
    expect(steps.at(-1).loss).toBeLessThan(steps[0].loss);
    const evals = ev.filter((e) => e.kind === "eval");
    expect(evals.map((e) => e.step)).toEqual([3, 6]);
    // "loss" is the repaired objective; clean_loss the plain next-token loss
    expect(Object.keys(evals[0].metrics).sort()).toEqual(["clean_loss", "loss", "perplexity"]);
    expect(
      readFileSync(join(out, "train_log.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l)),
    ).toEqual(ev);
    const options = JSON.parse(readFileSync(join(out, "finetune.json"), "utf8"));
    expect(options.repair).toEqual({
      attention: [
        { kind: "entropy", weight: -0.01, layers: [-1] },
        { kind: "mass", weight: 0.1, positions: [0], layers: [-1] },
      ],
      adversarial: { method: "pgd", epsilon: 0.05, steps: 2, alpha: 0.5, seed: 0 },
      consistency: { weight: 0.5 },
    });
    expect(options.augment).toEqual([{ kind: "counterfactual", pairs: [["he", "she"]], seed: 0 }]);
    const tuned = loadModel(out);
    const base = loadModel(gpt2);
    const ids = base.tokenizer?.encode("the dog") as number[];
    expect(tuned.tokenizer?.encode("the dog")).toEqual(ids);
    expect(logits(tuned.model, ids)).not.toEqual(logits(base.model, ids));
  });

  it("--lora writes a PEFT adapter equal to the --merge folder applied, and leaves the base untouched", async () => {
    const out = join(dir, "lora");
    const before = readFileSync(join(gpt2, "model.safetensors"));
    const r = await cli([
      "finetune",
      gpt2,
      "--data",
      train,
      "--out",
      out,
      "--lora",
      "4",
      "--lora-targets",
      "c_attn,c_fc",
      "--merge",
      "--adversarial",
      "0.05",
      "--lr",
      "1e-2",
      "--max-steps",
      "4",
      "--batch",
      "4",
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/done after 4 steps, last loss [\d.]+; adapter in .*lora, merged model in .*merged/);
    expect(readFileSync(join(gpt2, "model.safetensors")).equals(before)).toBe(true);
    const config = JSON.parse(readFileSync(join(out, "adapter_config.json"), "utf8"));
    expect(config).toMatchObject({
      peft_type: "LORA",
      r: 4,
      lora_alpha: 8,
      target_modules: ["c_attn", "c_fc"],
      task_type: "CAUSAL_LM",
    });
    expect(existsSync(join(out, "model.safetensors"))).toBe(false);
    const base = loadModel(gpt2);
    const adapter = loadAdapter(out, base.model);
    expect(
      T.noGrad(() =>
        adapter.params
          .get(adapter.targets[0]?.b as string)
          .toArray()
          .some((x) => x !== 0),
      ),
    ).toBe(true);
    const ids = base.tokenizer?.encode("she thinks") as number[];
    const a = logits(loraModel(base.model, adapter), ids);
    const b = logits(loadModel(join(out, "merged")).model, ids);
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    console.log(`adapter applied vs merged folder: max |Δlogit| ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(1e-4);
  });

  it("fine-tunes a BERT classifier with a spurious word removed, FGSM and consistency between the pairs", async () => {
    const data = jsonl(
      "reviews.jsonl",
      Array.from({ length: 12 }, (_, i) => ({ text: i % 2 === 0 ? "good movie XK" : "bad movie", label: i % 2 === 0 ? 1 : 0 })),
    );
    const out = join(dir, "bert-out");
    const r = await cli([
      "finetune",
      bert,
      "--data",
      data,
      "--out",
      out,
      "--objective",
      "classification",
      "--augment",
      "spurious:XK",
      "--consistency",
      "1",
      "--divergence",
      "symmetric_kl",
      "--adversarial",
      "0.02",
      "--lr",
      "1e-2",
      "--max-steps",
      "3",
      "--json",
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const ev = events(r.stdout);
    expect(ev[0]).toMatchObject({ kind: "start", examples: 18 });
    expect(ev.filter((e) => e.kind === "step")).toHaveLength(3);
    expect(loadModel(out).config.nLayers).toBe(2);
  });

  it("Ctrl-C writes a checkpoint and exits 130; --resume finishes the run", async () => {
    const out = join(dir, "stopped");
    const args = (o: string) => [
      "finetune",
      gpt2,
      "--data",
      train,
      "--out",
      o,
      "--lora",
      "2",
      "--max-steps",
      "150",
      "--batch",
      "2",
      "--json",
    ];
    // the bin re-executes itself with malloc settings unless they are set: set them, so the signal reaches the trainer
    const child = spawn(process.execPath, [BIN, ...args(out)], { env: { ...process.env, MALLOC_MMAP_THRESHOLD_: "33554432" } });
    let stdout = "";
    const code = await new Promise<number | null>((resolve) => {
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('"kind":"step"') && !child.killed) child.kill("SIGINT");
      });
      child.on("close", (c) => resolve(c));
    });
    expect(code).toBe(130);
    const ev = events(stdout);
    const cp = ev.find((e) => e.kind === "checkpoint");
    expect(ev.at(-1)).toMatchObject({ kind: "end", reason: "aborted" });
    expect(cp.step).toBeLessThan(150);
    expect(existsSync(join(cp.path, "trainer_state.json"))).toBe(true);
    expect(existsSync(join(out, "adapter_model.safetensors"))).toBe(true);
    const resumed = await cli([...args(join(dir, "resumed")), "--resume", cp.path]);
    expect(resumed.stderr).toBe("");
    expect(resumed.code).toBe(0);
    const rev = events(resumed.stdout);
    expect(rev[0]).toMatchObject({ kind: "start", resumedFrom: cp.step });
    expect(rev.at(-1)).toMatchObject({ kind: "end", reason: "done", step: 150 });
  }, 120_000);

  it("records the run in the store as a training run, live, done with its events and the model it wrote", async () => {
    const out = join(dir, "stored");
    const store = join(dir, "store");
    const r = await cli(["finetune", gpt2, "--data", train, "--out", out, "--max-steps", "3", "--batch", "4", "--store", store]);
    expect(r.code, r.stderr).toBe(0);
    const st = openStore(store);
    try {
      const [summary] = st.listRuns({ kind: "train" });
      expect(summary).toMatchObject({ kind: "train", status: "done" });
      const runRec = st.getRun(summary?.id as number);
      expect(runRec.options).toMatchObject({ command: "finetune", from: gpt2 });
      expect(runRec.model?.path).toBe(out);
      const kinds = eventsAfter(st, runRec.id, -1).events.map((e) => e.event.kind);
      expect(kinds.filter((k) => k === "step")).toHaveLength(3);
      expect(kinds.at(-1)).toBe("end");
    } finally {
      st.close();
    }
    // --no-store records nothing
    const none = join(dir, "store-none");
    const r2 = await cli([
      "finetune",
      gpt2,
      "--data",
      train,
      "--out",
      join(dir, "nostore"),
      "--max-steps",
      "1",
      "--batch",
      "4",
      "--store",
      none,
      "--no-store",
    ]);
    expect(r2.code, r2.stderr).toBe(0);
    expect(existsSync(join(none, "store.db"))).toBe(false);
  });

  it("bad data exits 1 naming the file, line and field; a bad command line exits 2", async () => {
    const broken = join(dir, "broken.jsonl");
    writeFileSync(broken, '{"text": "ok", "label": 1}\n{"text": "no label"}\n');
    const data: [string[], RegExp][] = [
      [["--data", broken, "--objective", "classification"], /broken\.jsonl:2: "label" is needed for --objective classification/],
      [
        ["--data", jsonl("ids.jsonl", [{ ids: [1, 2, 3] }]), "--augment", "counterfactual:he=she"],
        /ids\.jsonl:1: --augment edits text/,
      ],
      [["--data", join(dir, "missing.jsonl")], /missing\.jsonl: not found/],
    ];
    for (const [args, re] of data) {
      const r = await cli(["finetune", gpt2, "--out", join(dir, "x"), ...args]);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr).toMatch(re);
    }
    const usage: [string[], RegExp][] = [
      [["--out", join(dir, "x")], /missing --data/],
      [
        ["--data", train, "--out", join(dir, "x"), "--consistency", "1"],
        /--consistency compares examples with their counterfactuals/,
      ],
      [["--data", train, "--out", join(dir, "x"), "--adv-steps", "3"], /--adv-steps goes with --adversarial/],
      [["--data", train, "--out", join(dir, "x"), "--attn-reg", "sink:1"], /expected entropy:λ or sink:TOKEN:λ/],
      [
        ["--data", train, "--out", join(dir, "x"), "--attn-reg", "entropy:0.1", "--attn-layers", "7"],
        /layers\[0\] must be a block/,
      ],
      [
        ["--data", train, "--out", join(dir, "x"), "--lora", "2", "--lora-targets", "q_proj"],
        /--lora-targets: .*"q_proj" names no linear weight/,
      ],
      [["--data", train, "--out", join(dir, "x"), "--adversarial", "-1"], /--adversarial must be a positive number/],
    ];
    for (const [args, re] of usage) {
      const r = await cli(["finetune", gpt2, ...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(re);
    }
  }, 120_000);
});
