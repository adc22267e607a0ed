// The trainer end to end on tiny models: it learns, its telemetry is valid protocol, and each of its mechanisms
// (accumulation, clipping, evaluation and early stopping, the detectors, abort) does what its definition says.
import { run } from "@llmdbg/core";
import type { TrainEvent } from "@llmdbg/protocol";
import * as T from "@llmdbg/tensor";
import { expectTrainEvent } from "@llmdbg/testing/vitest";
import { describe, expect, it } from "vitest";
import {
  causalLmObjective,
  DeadNeuronTracker,
  globalNorm,
  layerKey,
  MemorySink,
  type Objective,
  type Optimizer,
  Sgd,
  train,
} from "../src/index.js";
import { fresh, patternData, snapshotParams } from "./helpers.js";

describe("train", () => {
  it("a tiny GPT-2 learns a repeated token pattern in 30 steps; every event is protocol", async () => {
    const m = fresh();
    const data = patternData(32);
    const sink = new MemorySink();
    const r = await train(
      m,
      { train: data, validation: data.slice(0, 8) },
      { lr: 3e-3, maxSteps: 30, batchSize: 8, evalEvery: 10, activationsEvery: 10, schedule: { kind: "constant" } },
      { sink },
    );
    const losses = r.losses;
    console.log(`loss by step: ${losses.map((l) => l.toFixed(3)).join(" ")}`);
    expect(r.reason).toBe("done");
    expect(losses).toHaveLength(30);
    expect(losses[29]).toBeLessThan(0.1 * (losses[0] as number));
    for (const e of sink.events) expectTrainEvent(e);
    expect(sink.events[0]?.kind).toBe("start");
    expect(sink.events.at(-1)).toMatchObject({ kind: "end", reason: "done", step: 30 });
    expect(sink.closed).toBe(true);
    expect(sink.of("eval").map((e) => e.step)).toEqual([10, 20, 30]);
    const ev = sink.of("eval")[2]?.metrics ?? {};
    expect(ev.perplexity).toBeCloseTo(Math.exp(ev.loss as number), 10);
    expect(sink.of("activations").map((e) => e.layers.map((l) => l.hook))).toEqual(
      Array(3).fill(["blocks.0.hook_resid_post", "blocks.1.hook_resid_post"]),
    );
    const s = sink.of("step")[0];
    expect(Object.keys(s?.layerGradNorms ?? {}).sort()).toEqual(["0", "1", "ln_f", "wpe", "wte"]);
    expect(Object.keys(s?.updateRatio ?? {}).sort()).toEqual(["0", "1", "ln_f", "wpe", "wte"]);
    // the per-layer norms partition the global one
    const parts = Object.values(s?.layerGradNorms ?? {}).reduce((a, x) => a + x * x, 0);
    expect(Math.sqrt(parts)).toBeCloseTo(s?.gradNorm ?? 0, 10);
    expect(s?.tokens).toBe(8 * 16);
    expect(sink.of("start")[0]).toMatchObject({ totalSteps: 30, examples: 32, resumedFrom: null, params: m.params.count() });
  });

  it("groups parameters by their first numeric path segment, else their first segment", () => {
    expect(layerKey("h.3.attn.c_attn.weight")).toBe("3");
    expect(layerKey("model.layers.12.mlp.up_proj.weight")).toBe("12");
    expect(layerKey("wte.weight")).toBe("wte");
    expect(layerKey("ln_f.bias")).toBe("ln_f");
  });

  it("accumulating 2 micro-batches of 2 gives the update of one batch of 4", async () => {
    const data = patternData(4);
    const cfg = { lr: 0.5, maxSteps: 1, shuffle: false, clipNorm: null, optimizer: { kind: "sgd" } } as const;
    const a = fresh();
    const b = fresh();
    await train(a, { train: data }, { ...cfg, batchSize: 4 });
    await train(b, { train: data }, { ...cfg, batchSize: 2, gradientAccumulation: 2 });
    const pa = snapshotParams(a);
    let worst = 0;
    for (const [name, x] of snapshotParams(b)) {
      const y = pa.get(name) as Float32Array;
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs((x[i] as number) - (y[i] as number)));
    }
    console.log(`accumulated vs whole batch: max |Δw| ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(4e-7); // ~7× the measured 6e-8 (f32 sums in another order)
  });

  it("an objective's ctx.param is differentiated: an L2 term λ‖b‖² adds 2λb to that parameter's gradient only", async () => {
    const cfg = { lr: 0.1, maxSteps: 1, shuffle: false, clipNorm: null, optimizer: { kind: "sgd" } } as const;
    const name = "h.0.mlp.c_fc.bias";
    const a = fresh();
    const b = fresh();
    const b0 = Float32Array.from(b.params.get(name).data as Float32Array);
    await train(a, { train: patternData(4) }, cfg);
    const l2: Objective = (o, batch, ctx) => {
      const w = ctx.param(name); // [d_mlp]
      return T.add(causalLmObjective(o, batch, ctx), T.mul(T.sum(T.mul(w, w)), 0.5)); // []
    };
    await train(b, { train: patternData(4) }, cfg, { objective: l2 });
    const pa = snapshotParams(a);
    for (const [k, x] of snapshotParams(b)) {
      const y = pa.get(k) as Float32Array;
      if (k !== name) expect(x, k).toEqual(y);
      // SGD: the extra gradient 2·0.5·b moves b by −lr·b more
      else
        for (let i = 0; i < x.length; i++)
          expect(Math.abs((y[i] as number) - (x[i] as number) - 0.1 * (b0[i] as number))).toBeLessThan(1e-8);
    }
  });

  it("clips the global gradient norm before the update (SGD: ‖Δw‖ = lr · clipNorm)", async () => {
    const m = fresh();
    const before = snapshotParams(m);
    const sink = new MemorySink();
    await train(m, { train: patternData(8) }, { lr: 1, maxSteps: 1, clipNorm: 1e-3, optimizer: { kind: "sgd" } }, { sink });
    let d2 = 0;
    for (const [name, x] of snapshotParams(m)) {
      const y = before.get(name) as Float32Array;
      for (let i = 0; i < x.length; i++) d2 += ((x[i] as number) - (y[i] as number)) ** 2;
    }
    const step = sink.of("step")[0];
    expect(step?.gradNorm).toBeGreaterThan(1e-2); // reported before clipping
    console.log(`clipped SGD step: ‖Δw‖ = ${Math.sqrt(d2)}`);
    expect(Math.abs(Math.sqrt(d2) - 1e-3)).toBeLessThan(1e-8); // measured 9.3e-10 (f32 weights)
  });

  it("clips for an optimizer that applies no gradient scale too: it is handed clipped gradients, same update", async () => {
    const inner = new Sgd({});
    let received = 0;
    // an optimizer written against step(params, grads, lr): no scalesGradients, no fourth argument
    const plain: Optimizer = {
      kind: "sgd",
      get steps() {
        return inner.steps;
      },
      step(params, grads, lr) {
        received = globalNorm(grads.values());
        return inner.step(params, grads, lr);
      },
      state: () => inner.state(),
      loadState: (st) => inner.loadState(st),
    };
    const [a, b] = [fresh(), fresh()];
    const cfg = { lr: 1, maxSteps: 1, clipNorm: 1e-3, optimizer: { kind: "sgd" } } as const;
    await train(a, { train: patternData(8) }, cfg, { optimizer: plain });
    await train(b, { train: patternData(8) }, cfg);
    expect(Math.abs(received - 1e-3)).toBeLessThan(1e-8);
    const pb = snapshotParams(b);
    for (const [name, x] of snapshotParams(a)) expect(Array.from(x), name).toEqual(Array.from(pb.get(name) as Float32Array));
  });

  it("stops early when the metric has not improved for `patience` evaluations", async () => {
    const sink = new MemorySink();
    const r = await train(
      fresh(),
      { train: patternData(8), validation: patternData(4) },
      { lr: 1e-3, maxSteps: 10, batchSize: 4, evalEvery: 1, earlyStopping: { metric: "flat", patience: 2 } },
      { sink, metrics: { flat: () => 1 } },
    );
    expect(r.reason).toBe("early_stop");
    expect(r.step).toBe(3);
    expect(sink.of("early_stop")).toEqual([{ kind: "early_stop", step: 3, metric: "flat", best: 1, bestStep: 1 }]);
    expect(sink.of("eval").map((e) => Object.keys(e.metrics))).toEqual(Array(3).fill(["loss", "perplexity", "flat"]));
    await expect(
      train(
        fresh(),
        { train: patternData(8), validation: patternData(4) },
        { evalEvery: 1, earlyStopping: { metric: "acc", patience: 1 } },
      ),
    ).rejects.toThrow(/"acc" is not a metric \(loss, perplexity\)/);
  });

  it("reports planted dead neurons and exploding activations", async () => {
    const m = fresh();
    const val = patternData(4, 12, [3, 17, 44, 71, 90, 120, 150, 9]);
    // which neurons the evaluation set already leaves dead, then kill three that fire
    const probe = new DeadNeuronTracker(m.hookPoints);
    for (const ex of val) run(m, ex.ids, { hooks: probe.hooks(undefined) });
    const alive = Array.from({ length: 128 }, (_, j) => j).filter((j) => !probe.read()[0]?.dead.includes(j));
    const kill = alive.slice(0, 3);
    const bias = Float32Array.from(m.params.get("h.0.mlp.c_fc.bias").data as Float32Array);
    for (const j of kill) bias[j] = -1e4;
    m.params.set("h.0.mlp.c_fc.bias", T.fromTyped(bias, [128], "f32")); // [d_mlp]
    const sink = new MemorySink();
    await train(
      m,
      { train: patternData(4), validation: val },
      { lr: 0, maxSteps: 1, batchSize: 4, evalEvery: 1, activationsEvery: 1, explodingThreshold: 1 },
      { sink },
    );
    const dead = sink.of("dead_neurons").find((e) => e.hook === "blocks.0.mlp.hook_post");
    expect(dead?.count).toBe((probe.read()[0]?.count ?? 0) + 3);
    expect(dead?.total).toBe(128);
    const boom = sink.of("exploding_activations");
    expect(boom.map((e) => e.hook)).toEqual(["blocks.0.hook_resid_post", "blocks.1.hook_resid_post"]);
    for (const e of boom) expect(e.maxAbs).toBeGreaterThan(1);
  });

  it("a run that throws still closes its sink", async () => {
    const sink = new MemorySink();
    const boom = () => {
      throw new Error("metric failed");
    };
    await expect(
      train(
        fresh(),
        { train: patternData(4), validation: patternData(2) },
        { maxSteps: 2, evalEvery: 1 },
        { sink, metrics: { boom } },
      ),
    ).rejects.toThrow(/metric failed/);
    expect(sink.closed).toBe(true);
    expect(sink.of("end")).toEqual([]);
  });

  it.each(["llama", "gpt_neox", "qwen2"] as const)("trains a tiny %s too (layers grouped by their number)", async (type) => {
    const sink = new MemorySink();
    const r = await train(
      fresh(type),
      { train: patternData(8) },
      { lr: 3e-3, maxSteps: 6, batchSize: 4, schedule: { kind: "constant" } },
      { sink },
    );
    expect(r.losses[5]).toBeLessThan(r.losses[0] as number);
    const keys = Object.keys(sink.of("step")[0]?.layerGradNorms ?? {});
    expect(keys).toContain("0");
    expect(keys).toContain("1");
    for (const e of sink.events) expectTrainEvent(e);
  });

  it("aborts between steps and says so", async () => {
    const ac = new AbortController();
    const events: TrainEvent[] = [];
    const r = await train(
      fresh(),
      { train: patternData(8) },
      { maxSteps: 10, batchSize: 2 },
      {
        signal: ac.signal,
        onEvent: (e) => {
          events.push(e);
          if (e.kind === "step" && e.step === 2) ac.abort();
        },
      },
    );
    expect(r).toMatchObject({ reason: "aborted", step: 2 });
    expect(events.map((e) => e.kind)).toEqual(["start", "step", "step", "end"]);
  });

  it("classification: the last real token's logits against the label, over padded batches", async () => {
    // label 1 when the sequence starts with token 5, else 0; lengths vary so that batches are padded
    const data = Array.from({ length: 16 }, (_, i) => ({
      ids: [i % 2 === 0 ? 5 : 6, ...Array.from({ length: 2 + (i % 5) }, (_, t) => 20 + ((i + t) % 7))],
      label: i % 2 === 0 ? 1 : 0,
    }));
    const sink = new MemorySink();
    const r = await train(
      fresh(),
      { train: data, validation: data },
      { objective: "classification", lr: 3e-3, maxSteps: 25, batchSize: 8, evalEvery: 25, schedule: { kind: "constant" } },
      { sink },
    );
    console.log(`classification loss: ${r.losses.map((l) => l.toFixed(3)).join(" ")}`);
    expect(r.lastEval?.accuracy).toBe(1);
    expect(r.losses[24]).toBeLessThan(0.2 * (r.losses[0] as number));
    for (const e of sink.events) expectTrainEvent(e);
  });
});
