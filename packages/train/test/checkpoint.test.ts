// Checkpoints resume a run bit for bit: N steps uninterrupted equal N/2 steps, an abort that writes a checkpoint,
// a freshly loaded model and a resume for the rest — the same losses, evaluations and every parameter's bits.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "@llmdbg/models";
import type { TrainConfig, TrainEvent } from "@llmdbg/protocol";
import { expectTrainEvent } from "@llmdbg/testing/vitest";
import { describe, expect, it } from "vitest";
import { folderCheckpoints, JsonlSink, loadCheckpoint, MemorySink, readWeights, STATE_FILE, train } from "../src/node.js";
import { fresh, scratch, snapshotParams } from "./helpers.js";

/** 10 examples of 5 to 9 tokens (padded batches), 3 per micro-batch, 2 micro-batches per step: 2 steps an epoch. */
const data = Array.from({ length: 10 }, (_, i) => ({
  ids: Array.from({ length: 5 + (i % 5) }, (_, t) => 10 + ((3 * i + t) % 11)),
}));
const validation = data.slice(0, 4);

const bits = (m: Map<string, Float32Array>) => new Map([...m].map(([k, v]) => [k, new Uint32Array(v.buffer)]));

describe.each([
  ["adamw", { kind: "adamw", weightDecay: 0.1 }],
  ["sgd", { kind: "sgd", momentum: 0.9, nesterov: true, weightDecay: 0.01 }],
] as const)("resume (%s)", (name, optimizer) => {
  const config: TrainConfig = {
    seed: 7,
    lr: name === "adamw" ? 3e-3 : 0.05,
    maxSteps: 8,
    batchSize: 3,
    gradientAccumulation: 2,
    schedule: { kind: "cosine", warmupSteps: 2 },
    optimizer,
    evalEvery: 2,
    earlyStopping: { metric: "loss", patience: 5 },
  };

  it("8 steps = 3 steps, abort with a checkpoint, a fresh model, resume for 5: bit for bit", async () => {
    const whole = new MemorySink();
    const a = fresh();
    await train(a, { train: data, validation }, config, { sink: whole });

    const dir = scratch(`resume-${name}`);
    const ac = new AbortController();
    const first = new MemorySink();
    const r1 = await train(fresh(), { train: data, validation }, config, {
      sink: first,
      signal: ac.signal,
      checkpoints: folderCheckpoints(dir),
      onEvent: (e) => {
        if (e.kind === "step" && e.step === 3) ac.abort();
      },
    });
    expect(r1).toMatchObject({ reason: "aborted", step: 3 });
    const path = join(dir, "checkpoint-3");
    expect(first.of("checkpoint")).toEqual([{ kind: "checkpoint", step: 3, path }]);
    // step 3 ends mid-epoch (6 micro-batches of an epoch's 4 read): the data order must be restored, not redrawn
    const state = JSON.parse(readFileSync(join(path, STATE_FILE), "utf8"));
    expect(state).toMatchObject({ step: 3, epoch: 1, position: 2, optimizer: { kind: name, step: 3 } });

    const rest = new MemorySink();
    const c = fresh();
    const r2 = await train(c, { train: data, validation }, config, { sink: rest, resume: loadCheckpoint(path) });
    expect(r2).toMatchObject({ reason: "done", step: 8 });
    expect(rest.of("start")[0]?.resumedFrom).toBe(3);

    const losses = (s: MemorySink) => s.of("step").map((e) => [e.step, e.loss, e.lr, e.gradNorm]);
    expect([...losses(first), ...losses(rest)]).toEqual(losses(whole));
    const evals = (s: MemorySink) => s.of("eval").map((e) => [e.step, e.metrics]);
    expect([...evals(first), ...evals(rest)]).toEqual(evals(whole));
    const wa = bits(snapshotParams(a));
    for (const [k, v] of bits(snapshotParams(c))) expect(v, k).toEqual(wa.get(k));
    for (const e of [...first.events, ...rest.events]) expectTrainEvent(e);
  });
});

describe("checkpoint folders", () => {
  it("given the model's files, are Hugging Face model folders that load, and resume bit for bit from them", async () => {
    const dir = scratch("hf-layout");
    const source = join(dir, "..", "gpt2-1"); // fresh()'s folder
    const config = JSON.parse(readFileSync(join(source, "config.json"), "utf8"));
    const whole = fresh();
    const cfg: TrainConfig = { seed: 3, maxSteps: 4, batchSize: 5, lr: 1e-2 };
    await train(whole, { train: data }, cfg);
    const ac = new AbortController();
    await train(fresh(), { train: data }, cfg, {
      signal: ac.signal,
      checkpoints: folderCheckpoints(dir, { config, copyFrom: source }),
      onEvent: (e) => {
        if (e.kind === "step" && e.step === 2) ac.abort();
      },
    });
    const folder = join(dir, "checkpoint-2");
    expect(existsSync(join(folder, "tokenizer.json"))).toBe(true);
    // save_pretrained's names, so transformers (and load) read the folder as a model
    expect(readWeights(join(folder, "model.safetensors")).has("transformer.wte.weight")).toBe(true);
    const loaded = load(folder);
    const snap = loadCheckpoint(folder);
    for (const [k, t] of snap.weights) expect(Array.from(loaded.params.get(k).data), k).toEqual(Array.from(t.data));
    const resumed = fresh();
    await train(resumed, { train: data }, cfg, { resume: snap });
    const wa = bits(snapshotParams(whole));
    for (const [k, v] of bits(snapshotParams(resumed))) expect(v, k).toEqual(wa.get(k));
  });

  it("hold the weights by ParamStore name, the optimizer state and the trainer state; checkpointEvery writes them", async () => {
    const dir = scratch("every");
    const m = fresh();
    const sink = new MemorySink();
    await train(
      m,
      { train: data },
      { maxSteps: 4, batchSize: 5, checkpointEvery: 2 },
      { sink, checkpoints: folderCheckpoints(dir) },
    );
    expect(sink.of("checkpoint").map((e) => e.path)).toEqual([join(dir, "checkpoint-2"), join(dir, "checkpoint-4")]);
    const last = join(dir, "checkpoint-4");
    const w = readWeights(join(last, "model.safetensors"));
    expect([...w.keys()].sort()).toEqual(m.params.names().sort());
    for (const [k, t] of w)
      expect(new Uint32Array((t.data as Float32Array).buffer), k).toEqual(
        new Uint32Array(Float32Array.from(m.params.get(k).data as Float32Array).buffer),
      );
    const snap = loadCheckpoint(last);
    expect(snap.optimizer.kind).toBe("adamw");
    expect(snap.optimizer.step).toBe(4);
    expect(Object.keys(snap.optimizer.tensors).sort()).toEqual(
      [...m.params.names().map((n) => `exp_avg.${n}`), ...m.params.names().map((n) => `exp_avg_sq.${n}`)].sort(),
    );
    expect(snap.state).toMatchObject({ format: 1, step: 4, schedule: { step: 4, totalSteps: 4, lr: 0 } });
    expect(existsSync(join(dir, "checkpoint-3"))).toBe(false);
  });

  it("a resume whose config would change the trajectory is refused, naming the field", async () => {
    const dir = scratch("refuse");
    await train(
      fresh(),
      { train: data },
      { maxSteps: 2, batchSize: 5, checkpointEvery: 2 },
      { checkpoints: folderCheckpoints(dir) },
    );
    const snap = loadCheckpoint(join(dir, "checkpoint-2"));
    await expect(train(fresh(), { train: data }, { maxSteps: 2, batchSize: 4 }, { resume: snap })).rejects.toThrow(
      /config.batchSize is 4, the checkpoint's run had 5/,
    );
    expect(() => loadCheckpoint(join(dir, "nowhere"))).toThrow(/trainer_state.json/);
  });
});

describe("JsonlSink", () => {
  it("writes one protocol event per line, as emitted", async () => {
    const file = scratch("events.jsonl");
    const seen: TrainEvent[] = [];
    await train(
      fresh(),
      { train: data },
      { maxSteps: 2, batchSize: 5 },
      { sink: new JsonlSink(file), onEvent: (e) => seen.push(e) },
    );
    const lines = readFileSync(file, "utf8").trimEnd().split("\n");
    const events = lines.map((l) => JSON.parse(l) as TrainEvent);
    for (const e of events) expectTrainEvent(e);
    expect(events).toEqual(seen);
    expect(events.map((e) => e.kind)).toEqual(["start", "step", "step", "end"]);
  });
});
