// `llmdbg train` and `llmdbg zoo` end to end through the real bin: a run file trains a fresh model and writes a
// model folder that loads, its JSONL log and Hugging Face checkpoint folders; --resume from a checkpoint ends
// with the same weights as the run that was not interrupted; bad run files exit 1 naming the file and field, bad
// command lines exit 2; `zoo list` and `zoo verify` read a zoo folder.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readSafetensors } from "@llmdbg/formats";
import { loadModel } from "@llmdbg/models";
import { eventsAfter, openStore } from "@llmdbg/store";
import { writeTinyModel } from "@llmdbg/testing";
import { expectTrainEvent } from "@llmdbg/testing/vitest";
import { afterAll, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../bin/llmdbg.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "llmdbg-cli-train-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, ...env }, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

// a tiny GPT-2's tokenizer and config; the run starts from fresh weights
const base = join(dir, "base");
const tiny = writeTinyModel(base, "gpt2", { seed: 1 });
const texts = [
  "the quick brown fox jumps over the lazy dog.",
  "the dog sleeps in the sun.",
  "hello world! the model reads the text.",
];
writeFileSync(join(dir, "train.jsonl"), Array.from({ length: 24 }, (_, i) => JSON.stringify({ text: texts[i % 3] })).join("\n"));
writeFileSync(join(dir, "valid.jsonl"), texts.map((t) => JSON.stringify({ text: t })).join("\n"));
const runFile = (name: string, training: Record<string, unknown>) => {
  const f = join(dir, `${name}.json`);
  writeFileSync(
    f,
    JSON.stringify({
      init: { config: join(base, "config.json"), tokenizer: base, seed: 2 },
      data: { train: "train.jsonl", validation: "valid.jsonl", maxLength: 16 },
      out: name,
      training: { seed: 1, batchSize: 4, lr: 1e-2, maxSteps: 6, evalEvery: 3, checkpointEvery: 3, ...training },
    }),
  );
  return f;
};

describe("llmdbg train", () => {
  it("trains a fresh model from a run file: events on stdout, the log, checkpoints and a model folder that loads", async () => {
    const r = await cli(["train", runFile("a", {}), "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const events = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    for (const e of events) expectTrainEvent(e);
    expect(events.map((e) => e.kind).filter((k) => k === "step")).toHaveLength(6);
    const steps = events.filter((e) => e.kind === "step");
    expect(steps.at(-1).loss).toBeLessThan(steps[0].loss);
    const log = readFileSync(join(dir, "a", "train_log.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(log).toEqual(events);
    const m = loadModel(join(dir, "a"));
    expect(m.tokenizer?.encode("the dog")).toEqual(loadModel(base).tokenizer?.encode("the dog"));
    expect(readSafetensors(join(dir, "a", "model.safetensors")).keys()).toContain("transformer.wte.weight");
    expect(loadModel(join(dir, "a", "checkpoints", "checkpoint-3")).config.nLayers).toBe(tiny.config.n_layer);
  });

  it("--resume from a checkpoint ends with the weights of the uninterrupted run, bit for bit", async () => {
    const full = await cli(["train", runFile("full", {}), "--json"]);
    expect(full.code).toBe(0);
    const resumed = await cli([
      "train",
      runFile("full", {}),
      "--out",
      join(dir, "resumed"),
      "--resume",
      join(dir, "full", "checkpoints", "checkpoint-3"),
      "--json",
    ]);
    expect(resumed.stderr).toBe("");
    expect(resumed.code).toBe(0);
    const start = JSON.parse(resumed.stdout.split("\n")[0] as string);
    expect(start).toMatchObject({ kind: "start", resumedFrom: 3 });
    const a = readFileSync(join(dir, "full", "model.safetensors"));
    const b = readFileSync(join(dir, "resumed", "model.safetensors"));
    expect(a.equals(b)).toBe(true);
  });

  it("bad run files exit 1 naming the file and field; a bad command line exits 2", async () => {
    const bad = join(dir, "bad.json");
    const cases: [unknown, RegExp][] = [
      [{ data: { train: "train.jsonl" }, out: "x" }, /bad\.json: model: expected exactly one of/],
      [{ model: base, data: { train: 3 }, out: "x" }, /bad\.json: data\.train: expected a JSONL file path/],
      [{ model: base, data: { train: "train.jsonl" }, out: "x", extra: 1 }, /bad\.json: extra: expected one of/],
      [{ model: base, data: { train: "missing.jsonl" }, out: "x" }, /missing\.jsonl: not found/],
    ];
    for (const [json, re] of cases) {
      writeFileSync(bad, JSON.stringify(json));
      const r = await cli(["train", bad]);
      expect(r.code, JSON.stringify(json)).toBe(1);
      expect(r.stderr).toMatch(re);
    }
    writeFileSync(join(dir, "broken.jsonl"), '{"text": "ok"}\n{"text": 5}\n');
    writeFileSync(bad, JSON.stringify({ model: base, data: { train: "broken.jsonl" }, out: "x" }));
    const r = await cli(["train", bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/broken\.jsonl:2: expected "text"/);
    expect((await cli(["train"])).code).toBe(2);
  });
});

describe("llmdbg tune", () => {
  const tuneFile = (name: string, search: unknown) => {
    const f = join(dir, `${name}.json`);
    writeFileSync(
      f,
      JSON.stringify({
        init: { config: join(base, "config.json"), tokenizer: base, seed: 2 },
        data: { train: "train.jsonl", validation: "valid.jsonl", maxLength: 16 },
        out: name,
        training: { seed: 1, batchSize: 4 },
        search,
      }),
    );
    return f;
  };

  it("runs every trial with its own log and reports the best, as tune.json and --json", async () => {
    const store = join(dir, "tune-store");
    const r = await cli([
      "tune",
      tuneFile("t", { method: "grid", space: { lr: [1e-4, 1e-2] }, budget: { steps: 8 } }),
      "--json",
      "--store",
      store,
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toEqual(JSON.parse(readFileSync(join(dir, "t", "tune.json"), "utf8")));
    expect(result.trials.map((t: { params: { lr: number } }) => t.params.lr)).toEqual([1e-4, 1e-2]);
    for (const t of result.trials) {
      const log = readFileSync(join(dir, "t", `trial-${t.id}`, "train_log.jsonl"), "utf8")
        .trim()
        .split("\n");
      const evals = log.map((l) => JSON.parse(l)).filter((e) => e.kind === "eval");
      expect(evals.at(-1).metrics.loss).toBe(t.value);
    }
    const best = result.trials.reduce((a: { value: number }, b: { value: number }) => (b.value < a.value ? b : a));
    expect(result.best).toEqual(best);
    expect(result.bestConfig).toMatchObject({ lr: best.params.lr, maxSteps: 4 });
    // each trial is a training run in the store, done, with its events (the Training view lists and compares them)
    const st = openStore(store);
    try {
      const runs = st.listRuns({ kind: "train" }).map((s) => st.getRun(s.id));
      expect(runs.map((x) => x.options.trial).sort()).toEqual(result.trials.map((t: { id: number }) => t.id).sort());
      for (const x of runs) {
        expect(x).toMatchObject({ status: "done", options: { command: "tune" } });
        const kinds = eventsAfter(st, x.id, -1).events.map((e) => e.event.kind);
        expect(kinds.filter((k) => k === "step")).toHaveLength(4);
        expect(kinds.at(-1)).toBe("end");
      }
    } finally {
      st.close();
    }
  });

  it("a bad search exits 1 naming the file and field", async () => {
    const r = await cli([
      "tune",
      tuneFile("bad-search", { method: "grid", space: { lr: { min: 1, max: 2 } }, budget: { steps: 4 } }),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad-search\.json: search\.space\.lr: expected a list/);
  });
});

describe("llmdbg zoo", () => {
  it("list names every recipe; verify of a missing model exits 1; an unknown name exits 2", async () => {
    const zoo = join(dir, "zoo");
    mkdirSync(zoo, { recursive: true });
    const list = await cli(["zoo", "list", "--json", "--zoo", zoo]);
    expect(list.code).toBe(0);
    const models = JSON.parse(list.stdout).models;
    expect(models.map((m: { name: string }) => m.name)).toContain("stories");
    expect(models.every((m: { trained: boolean }) => !m.trained)).toBe(true);
    const v = await cli(["zoo", "verify", "stories", "--zoo", zoo]);
    expect(v.code).toBe(1);
    expect(v.stderr).toMatch(/no trained model/);
    expect((await cli(["zoo", "verify", "nope", "--zoo", zoo])).code).toBe(2);
    expect((await cli(["zoo", "fly", "--zoo", zoo])).code).toBe(2);
  });
});
