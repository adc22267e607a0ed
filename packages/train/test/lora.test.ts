// LoRA adapters on tiny GPT-2 (Conv1D weights stored [in, out]) and Llama ([out, in]): the adapted forward pass
// equals the merged model's, unmerge gives the weights back, B = 0 changes nothing, the gradients of A and B are
// the chain rule through the adapted weight and agree with finite differences, training moves only the adapter,
// and an adapter folder has PEFT's names, shapes and config and loads back to the same outputs.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "@llmdbg/core";
import { ModelFormatError, readSafetensors, writeSafetensors } from "@llmdbg/formats";
import type { Model } from "@llmdbg/models";
import type { TrainEvent } from "@llmdbg/protocol";
import * as T from "@llmdbg/tensor";
import { describe, expect, it } from "vitest";
import {
  causalLmLoss,
  createLora,
  folderCheckpoints,
  type LoraAdapter,
  loadAdapter,
  loadCheckpoint,
  loraModel,
  MemorySink,
  Rng,
  readWeights,
  saveAdapter,
  train,
} from "../src/node.js";
import { fresh, patternData, scratch, snapshotParams } from "./helpers.js";

const f32 = (t: T.Tensor) => t.data as Float32Array;

/** max |a − b| and max |a| over two tensors of one shape. */
function maxDiff(a: T.Tensor, b: T.Tensor): { diff: number; scale: number } {
  expect(a.shape).toEqual(b.shape);
  const x = a.toArray();
  const y = b.toArray();
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < x.length; i++) {
    diff = Math.max(diff, Math.abs((x[i] as number) - (y[i] as number)));
    scale = Math.max(scale, Math.abs(x[i] as number));
  }
  return { diff, scale };
}

/** Token ids [2, 8] below the model's vocabulary. */
function idsFor(m: Model, seed = 5): T.Tensor {
  const rng = Rng.seeded(seed);
  return T.tensor(
    Array.from({ length: 16 }, () => rng.int(m.config.vocabSize)),
    [2, 8],
    "i32",
  ); // [batch, pos]
}

/** Gives every B uniform values in ±scale (a fresh adapter's B is zero, which hides A). */
function randomizeB(adapter: LoraAdapter, seed = 3, scale = 0.5): void {
  const rng = Rng.seeded(seed);
  for (const t of adapter.targets) {
    const b = Float32Array.from({ length: t.outFeatures * adapter.config.r }, () => (2 * rng.uniform() - 1) * scale);
    adapter.params.set(t.b, T.fromTyped(b, [t.outFeatures, adapter.config.r], "f32")); // [out, r]
  }
}

const logits = (m: Parameters<typeof run>[0], ids: T.Tensor, opts: Parameters<typeof run>[2] = {}) =>
  T.noGrad(() => run(m, ids, opts).output); // [batch, pos, d_vocab]

const ARCHS = [
  { type: "gpt2", targets: ["c_attn", "c_fc", "mlp.c_proj"], fanInFanOut: true },
  { type: "llama", targets: ["q_proj", "v_proj", "down_proj"], fanInFanOut: false },
] as const;

describe("LoRA adapters", () => {
  it("selects weights by PEFT module name or parameter glob; a name that selects nothing is an error naming it", () => {
    const m = fresh("gpt2");
    const a = createLora(m, { r: 2, targetModules: ["c_attn"] });
    expect(a.targets.map((t) => t.module)).toEqual(["transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"]);
    expect(a.targets[0]).toMatchObject({
      param: "h.0.attn.c_attn.weight",
      a: "h.0.attn.c_attn.lora_A.weight",
      fanInFanOut: true,
    });
    const d = m.config.dModel;
    expect(a.targets[0]).toMatchObject({ inFeatures: d, outFeatures: 3 * d });
    // PEFT's suffix rule matches both c_proj (attention and MLP); a path narrows it; a glob picks by parameter name
    expect(createLora(m, { targetModules: ["c_proj"] }).targets).toHaveLength(4);
    expect(createLora(m, { targetModules: ["attn.c_proj"] }).targets.map((t) => t.param)).toEqual([
      "h.0.attn.c_proj.weight",
      "h.1.attn.c_proj.weight",
    ]);
    expect(createLora(m, { targetModules: ["h.1.*.weight"] }).targets.map((t) => t.param)).toEqual([
      "h.1.attn.c_attn.weight",
      "h.1.attn.c_proj.weight",
      "h.1.mlp.c_fc.weight",
      "h.1.mlp.c_proj.weight",
    ]);
    expect(() => createLora(m, { targetModules: ["c_atn"] })).toThrow(/"c_atn" names no linear weight.*did you mean "c_attn"/);
    expect(() => createLora(m, { targetModules: ["ln_1"] })).toThrow(/"ln_1" names no linear weight/);
    expect(() => createLora(m, { targetModules: ["h.9.*"] })).toThrow(/lora targetModules: "h\.9\.\*" matches nothing/);
    expect(() => createLora(m, { r: 0, targetModules: ["c_attn"] })).toThrow(/lora config: r must be a positive integer/);
    expect(() => createLora(m, { dropout: 1, targetModules: ["c_attn"] })).toThrow(/dropout must be in \[0, 1\)/);
  });

  it("initializes A kaiming-uniform (within ±1/√in, spread across it) and B to zero: the adapted model equals the base", () => {
    for (const { type, targets } of ARCHS) {
      const m = fresh(type);
      const adapter = createLora(m, { r: 4, alpha: 8, targetModules: targets, seed: 7 });
      for (const t of adapter.targets) {
        const a = f32(adapter.params.get(t.a));
        const bound = 1 / Math.sqrt(t.inFeatures);
        const max = a.reduce((s, x) => Math.max(s, Math.abs(x)), 0);
        expect(max).toBeLessThanOrEqual(bound);
        expect(max).toBeGreaterThan(0.9 * bound);
        expect(f32(adapter.params.get(t.b)).every((x) => x === 0)).toBe(true);
      }
      const ids = idsFor(m);
      const { diff } = maxDiff(logits(loraModel(m, adapter), ids), logits(m, ids));
      expect(diff).toBe(0);
      // the same seed gives the same A
      const again = createLora(m, { r: 4, alpha: 8, targetModules: targets, seed: 7 });
      const t0 = adapter.targets[0]?.a as string;
      expect(f32(again.params.get(t0))).toEqual(f32(adapter.params.get(t0)));
    }
  });

  it("the merged model computes what the unmerged adapter does, and unmerge gives the weights back", () => {
    for (const { type, targets, fanInFanOut } of ARCHS) {
      const m = fresh(type);
      const adapter = createLora(m, { r: 4, alpha: 16, targetModules: targets });
      expect(adapter.targets.every((t) => t.fanInFanOut === fanInFanOut)).toBe(true);
      expect(adapter.scaling).toBe(4);
      randomizeB(adapter);
      const ids = idsFor(m);
      const base = logits(m, ids);
      const adapted = logits(loraModel(m, adapter), ids);
      const viaEdits = logits(m, ids, { edits: adapter.edits(m) });
      const before = snapshotParams(m);
      adapter.merge(m);
      const merged = logits(m, ids);
      const changed = maxDiff(adapted, base);
      const d = maxDiff(merged, adapted);
      console.log(
        `${type}: merged vs unmerged logits max |Δ| ${d.diff.toExponential(2)} (scale ${d.scale.toFixed(2)}); the adapter moves them by ${changed.diff.toFixed(3)}`,
      );
      expect(changed.diff).toBeGreaterThan(0.05);
      expect(d.diff).toBeLessThan(1e-5);
      expect(maxDiff(viaEdits, adapted).diff).toBeLessThan(1e-5);
      expect(() => adapter.merge(m)).toThrow(/already merged/);
      expect(() => logits(loraModel(m, adapter), ids)).toThrow(/merged into the model's weights/);
      const mergedW = snapshotParams(m);
      adapter.unmerge(m);
      let worst = 0;
      for (const [name, w] of snapshotParams(m)) {
        const w0 = before.get(name) as Float32Array;
        const w1 = mergedW.get(name) as Float32Array;
        const isTarget = adapter.targets.some((t) => t.param === name);
        for (let i = 0; i < w.length; i++) {
          const e = Math.abs((w[i] as number) - (w0[i] as number));
          if (!isTarget) expect(e).toBe(0);
          // (W + Δ) − Δ in f32 errs only by the roundings of the two results: at most 2^-24·(|W + Δ| + |W|)
          else worst = Math.max(worst, e / (2 ** -24 * (Math.abs(w1[i] as number) + Math.abs(w0[i] as number))));
        }
      }
      console.log(`${type}: unmerge restores the weights within ${worst.toFixed(2)} of the two roundings' bound`);
      expect(worst).toBeLessThanOrEqual(1.01);
      expect(maxDiff(logits(m, ids), base).diff).toBeLessThan(1e-5);
      expect(() => adapter.unmerge(m)).toThrow(/not merged/);
    }
  });

  it("the gradients of A and B are the chain rule through the adapted weight, and agree with finite differences", () => {
    for (const { type, targets } of ARCHS) {
      const m = fresh(type);
      const adapter = createLora(m, { r: 3, alpha: 6, targetModules: targets, seed: 1 });
      randomizeB(adapter, 9, 0.3);
      const ids = idsFor(m, 11);
      const loss = (out: T.Tensor) => causalLmLoss(out, ids); // []
      const view = loraModel(m, adapter);
      const r = run(view, ids, { grads: { params: true, loss } });
      expect([...r.paramGrads.keys()].sort()).toEqual(adapter.params.names().sort());
      // chain rule: with G = dL/dW' as [out, in], dL/dA = s·Bᵀ·G and dL/dB = s·G·Aᵀ
      adapter.merge(m);
      const g = run(m, ids, { grads: { params: adapter.targets.map((t) => t.param), loss } }).paramGrads;
      adapter.unmerge(m);
      let worst = 0;
      const s = adapter.scaling;
      const R = adapter.config.r;
      for (const t of adapter.targets) {
        const [I, O] = [t.inFeatures, t.outFeatures];
        const G = (o: number, i: number) => f32(g.get(t.param) as T.Tensor)[t.fanInFanOut ? i * O + o : o * I + i] as number;
        const A = f32(adapter.params.get(t.a));
        const B = f32(adapter.params.get(t.b));
        const gA = f32(r.paramGrads.get(t.a) as T.Tensor);
        const gB = f32(r.paramGrads.get(t.b) as T.Tensor);
        let scale = 0;
        let err = 0;
        for (let k = 0; k < R; k++) {
          for (let i = 0; i < I; i++) {
            let want = 0;
            for (let o = 0; o < O; o++) want += (B[o * R + k] as number) * G(o, i);
            want *= s;
            scale = Math.max(scale, Math.abs(want));
            err = Math.max(err, Math.abs(want - (gA[k * I + i] as number)));
          }
          for (let o = 0; o < O; o++) {
            let want = 0;
            for (let i = 0; i < I; i++) want += G(o, i) * (A[k * I + i] as number);
            want *= s;
            scale = Math.max(scale, Math.abs(want));
            err = Math.max(err, Math.abs(want - (gB[o * R + k] as number)));
          }
        }
        worst = Math.max(worst, err / scale);
      }
      console.log(`${type}: dA, dB vs the chain rule through dW': worst ${worst.toExponential(2)} of scale`);
      expect(worst).toBeLessThan(1e-5);

      // a random direction over every A and B, central differences of the f32 loss
      const rng = Rng.seeded(4);
      const dir = new Map(
        adapter.params.names().map((n) => {
          const p = adapter.params.get(n);
          return [n, Float32Array.from({ length: p.size }, () => 2 * rng.uniform() - 1)] as const;
        }),
      );
      let predicted = 0;
      for (const [n, d] of dir) {
        const gr = f32(r.paramGrads.get(n) as T.Tensor);
        for (let i = 0; i < d.length; i++) predicted += (gr[i] as number) * (d[i] as number);
      }
      const saved = new Map(adapter.params.names().map((n) => [n, adapter.params.get(n)]));
      const lossAt = (eps: number): number => {
        for (const [n, d] of dir) {
          const p0 = f32(saved.get(n) as T.Tensor);
          const p = Float32Array.from(p0, (x, i) => x + eps * (d[i] as number));
          adapter.params.set(n, T.fromTyped(p, (saved.get(n) as T.Tensor).shape, "f32"));
        }
        return loss(logits(view, ids)).item();
      };
      // measured: 1e-2 leaves Llama's curvature in (30%); 1e-3 balances it against the f32 loss's rounding
      const eps = 1e-3;
      const fd = (lossAt(eps) - lossAt(-eps)) / (2 * eps);
      for (const [n, t] of saved) adapter.params.set(n, t);
      const rel = Math.abs(fd - predicted) / Math.abs(predicted);
      console.log(
        `${type}: directional derivative ${predicted.toFixed(5)}, central difference ${fd.toFixed(5)} (relative ${rel.toExponential(2)})`,
      );
      expect(rel).toBeLessThan(1e-2); // measured 1.3e-5 (gpt2), 2.6e-3 (llama)
    }
  });

  it("20 steps of LoRA training lower the loss, and every base parameter stays bit-identical", async () => {
    const m = fresh("gpt2");
    const before = snapshotParams(m);
    const adapter = createLora(m, { r: 4, alpha: 8, targetModules: ["c_attn", "c_proj", "c_fc"], seed: 2 });
    const sink = new MemorySink();
    const t0 = performance.now();
    const r = await train(
      loraModel(m, adapter),
      { train: patternData(32) },
      { lr: 1e-2, maxSteps: 20, batchSize: 8, schedule: { kind: "constant" } },
      { sink },
    );
    const ms = performance.now() - t0;
    console.log(`LoRA loss by step (${ms.toFixed(0)} ms): ${r.losses.map((l) => l.toFixed(3)).join(" ")}`);
    expect(r.losses).toHaveLength(20);
    expect(r.losses[19]).toBeLessThan(0.5 * (r.losses[0] as number));
    const start = sink.events[0] as Extract<TrainEvent, { kind: "start" }>;
    expect(start.trainableParams).toBe(adapter.params.count());
    expect(start.trainableParams).toBe(adapter.targets.reduce((n, t) => n + 4 * (t.inFeatures + t.outFeatures), 0));
    for (const [name, w] of snapshotParams(m))
      expect(new Uint32Array(w.buffer), name).toEqual(new Uint32Array((before.get(name) as Float32Array).buffer));
    // the adapter moved, per layer in the telemetry
    expect(adapter.targets.every((t) => f32(adapter.params.get(t.b)).some((x) => x !== 0))).toBe(true);
    const step = sink.of("step")[0];
    expect(Object.keys(step?.layerGradNorms ?? {}).sort()).toEqual(["0", "1"]);
    // merged, the base model alone now computes the trained function
    const ids = idsFor(m);
    const adapted = logits(loraModel(m, adapter), ids);
    adapter.merge(m);
    expect(maxDiff(logits(m, ids), adapted).diff).toBeLessThan(1e-5);
  });

  it("trains only the adapter tensors `trainable` names", async () => {
    const m = fresh("llama");
    const adapter = createLora(m, { r: 2, targetModules: ["q_proj", "v_proj"] });
    const a0 = new Map(adapter.targets.map((t) => [t.a, Float32Array.from(f32(adapter.params.get(t.a)))]));
    await train(loraModel(m, adapter), { train: patternData(8) }, { lr: 1e-2, maxSteps: 2, trainable: ["*.lora_B.weight"] });
    for (const t of adapter.targets) {
      expect(f32(adapter.params.get(t.a))).toEqual(a0.get(t.a));
      expect(f32(adapter.params.get(t.b)).some((x) => x !== 0)).toBe(true);
    }
  });

  it("a LoRA run checkpoints only the adapter and resumes from it bit for bit", async () => {
    const m = fresh("gpt2");
    const cfg = { lr: 1e-2, maxSteps: 4, batchSize: 4, checkpointEvery: 2 } as const;
    const data = { train: patternData(12) };
    const dir = scratch("lora-ckpt");
    const a = createLora(m, { r: 2, targetModules: ["c_attn"], seed: 1 });
    await train(loraModel(m, a), data, cfg, { checkpoints: folderCheckpoints(dir) });
    const stored = readWeights(join(dir, "checkpoint-2", "model.safetensors"));
    expect([...stored.keys()].sort()).toEqual(a.params.names().sort());
    // a fresh adapter of another seed, resumed from step 2, ends where the uninterrupted run did
    const b = createLora(m, { r: 2, targetModules: ["c_attn"], seed: 99 });
    await train(loraModel(m, b), data, { ...cfg, checkpointEvery: null }, { resume: loadCheckpoint(join(dir, "checkpoint-2")) });
    for (const n of a.params.names())
      expect(new Uint32Array(f32(b.params.get(n)).buffer), n).toEqual(new Uint32Array(f32(a.params.get(n)).buffer));
  });

  it("dropout zeroes whole input features of A, only in runs that differentiate the adapter", () => {
    const m = fresh("gpt2");
    const p = 0.5;
    const make = (dropout: number) => {
      const a = createLora(m, { r: 4, dropout, targetModules: ["c_fc"], seed: 3 });
      randomizeB(a);
      return a;
    };
    const ids = idsFor(m);
    const loss = (out: T.Tensor) => causalLmLoss(out, ids); // []
    // evaluation: no dropout, the same logits as the adapter without it
    const withDrop = make(p);
    const view = loraModel(m, withDrop);
    expect(maxDiff(logits(view, ids), logits(loraModel(m, make(0)), ids)).diff).toBe(0);
    const zeroColumns = (adapter: LoraAdapter, v: ReturnType<typeof loraModel>): number[] => {
      const g = run(v, ids, { grads: { params: true, loss } }).paramGrads;
      const t = adapter.targets[0];
      if (t === undefined) throw new Error("no target");
      const gA = f32(g.get(t.a) as T.Tensor);
      const I = t.inFeatures;
      const zero: number[] = [];
      for (let i = 0; i < I; i++) {
        let all = true;
        for (let k = 0; k < 4; k++) if (gA[k * I + i] !== 0) all = false;
        if (all) zero.push(i);
      }
      return zero;
    };
    const plain = make(0);
    expect(zeroColumns(plain, loraModel(m, plain))).toEqual([]);
    const first = zeroColumns(withDrop, view);
    const second = zeroColumns(withDrop, view);
    const I = withDrop.targets[0]?.inFeatures ?? 0;
    console.log(`dropout ${p}: ${first.length} and ${second.length} of ${I} input features dropped in two training passes`);
    for (const n of [first.length, second.length]) {
      expect(n).toBeGreaterThan(0.25 * I);
      expect(n).toBeLessThan(0.75 * I);
    }
    expect(first).not.toEqual(second); // a fresh mask each pass
  });

  it("saves in PEFT's layout (names, shapes, config) and loads back to the same outputs", () => {
    for (const { type, targets, fanInFanOut } of ARCHS) {
      const m = fresh(type);
      const adapter = createLora(m, { r: 4, alpha: 16, dropout: 0.05, targetModules: targets });
      randomizeB(adapter);
      const dir = scratch(`peft-${type}`);
      saveAdapter(adapter, dir, { baseModel: `tiny-${type}` });
      const cfg = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8"));
      expect(cfg).toMatchObject({
        peft_type: "LORA",
        r: 4,
        lora_alpha: 16,
        lora_dropout: 0.05,
        target_modules: [...targets],
        bias: "none",
        task_type: "CAUSAL_LM",
        fan_in_fan_out: fanInFanOut,
        base_model_name_or_path: `tiny-${type}`,
        inference_mode: true,
        use_rslora: false,
      });
      const st = readSafetensors(join(dir, "adapter_model.safetensors"));
      expect(st.metadata.format).toBe("pt");
      const { dModel: d, nHeads, nKvHeads, dHead, dMlp } = m.config;
      const want = new Map<string, number[]>();
      for (let l = 0; l < m.config.nLayers; l++) {
        const mods: [string, number, number][] =
          type === "gpt2"
            ? [
                [`transformer.h.${l}.attn.c_attn`, d, 3 * d],
                [`transformer.h.${l}.mlp.c_fc`, d, dMlp],
                [`transformer.h.${l}.mlp.c_proj`, dMlp, d],
              ]
            : [
                [`model.layers.${l}.self_attn.q_proj`, d, nHeads * dHead],
                [`model.layers.${l}.self_attn.v_proj`, d, nKvHeads * dHead],
                [`model.layers.${l}.mlp.down_proj`, dMlp, d],
              ];
        for (const [mod, inF, outF] of mods) {
          want.set(`base_model.model.${mod}.lora_A.weight`, [4, inF]);
          want.set(`base_model.model.${mod}.lora_B.weight`, [outF, 4]);
        }
      }
      expect(new Map(st.entries.map((e) => [e.name, [...e.shape]]))).toEqual(want);
      expect(st.entries.every((e) => e.dtype === "F32")).toBe(true);

      const back = loadAdapter(dir, m);
      expect(back.config).toMatchObject({ r: 4, alpha: 16, dropout: 0.05, targetModules: [...targets] });
      expect(back.targets).toEqual(adapter.targets);
      const ids = idsFor(m);
      expect(maxDiff(logits(loraModel(m, back), ids), logits(loraModel(m, adapter), ids)).diff).toBe(0);
    }
    // globs (not PEFT syntax) are written as the exact module paths, which PEFT matches exactly
    const m = fresh("gpt2");
    const dir = scratch("peft-glob");
    saveAdapter(createLora(m, { targetModules: ["h.1.attn.*.weight"] }), dir);
    const cfg = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8"));
    expect(cfg.target_modules).toEqual(["transformer.h.1.attn.c_attn", "transformer.h.1.attn.c_proj"]);
    expect(cfg.base_model_name_or_path).toBe(null);
    expect(loadAdapter(dir, m).targets.map((t) => t.param)).toEqual(["h.1.attn.c_attn.weight", "h.1.attn.c_proj.weight"]);
  });

  it("refuses a bad adapter folder with an error naming the file and the field or tensor", () => {
    const m = fresh("gpt2");
    const d = m.config.dModel;
    const good = {
      peft_type: "LORA",
      r: 2,
      lora_alpha: 4,
      lora_dropout: 0,
      target_modules: ["c_attn"],
      bias: "none",
      fan_in_fan_out: true,
    };
    const A = (r = 2) => T.zeros([r, d]); // [r, in]
    const B = (r = 2) => T.zeros([3 * d, r]); // [out, r]
    const tensors = (over: Record<string, T.Tensor | null> = {}) => {
      const t: Record<string, T.Tensor> = {};
      for (const l of [0, 1]) {
        t[`base_model.model.transformer.h.${l}.attn.c_attn.lora_A.weight`] = A();
        t[`base_model.model.transformer.h.${l}.attn.c_attn.lora_B.weight`] = B();
      }
      for (const [k, v] of Object.entries(over)) {
        if (v === null) delete t[k];
        else t[k] = v;
      }
      return t;
    };
    let n = 0;
    const folder = (config: unknown, ts: Record<string, T.Tensor> | null = tensors()): string => {
      const dir = scratch(`bad-${n++}`);
      mkdirSync(dir, { recursive: true });
      if (config !== undefined)
        writeFileSync(join(dir, "adapter_config.json"), typeof config === "string" ? config : JSON.stringify(config));
      if (ts !== null) writeSafetensors(join(dir, "adapter_model.safetensors"), ts);
      return dir;
    };
    const refuses = (dir: string, re: RegExp) => {
      expect(() => loadAdapter(dir, m)).toThrow(ModelFormatError);
      expect(() => loadAdapter(dir, m)).toThrow(re);
    };
    expect(loadAdapter(folder(good), m).targets).toHaveLength(2);
    refuses(folder({ ...good, peft_type: "IA3" }), /adapter_config\.json: peft_type: "IA3" is not supported/);
    refuses(
      folder({ ...good, use_dora: true }),
      /adapter_config\.json: use_dora: true asks for DoRA adapters, which this runtime does not compute/,
    );
    refuses(folder({ ...good, bias: "all" }), /adapter_config\.json: bias: "all": trained biases are not supported/);
    refuses(folder({ ...good, r: 0 }), /adapter_config\.json: r: must be a positive integer, got 0/);
    refuses(folder({ ...good, target_modules: undefined }), /adapter_config\.json: target_modules: is missing/);
    refuses(folder('{"peft_type": "LORA",'), /adapter_config\.json: .*at character/);
    refuses(folder(undefined), /adapter_config\.json: file: missing/);
    refuses(folder(good, null), /adapter_model\.safetensors: file: missing/);
    const pickle = folder(good, null);
    writeFileSync(join(pickle, "adapter_model.bin"), "not read");
    refuses(pickle, /only adapter_model\.bin \(a pickle, which is never executed here\)/);
    const h9 = "base_model.model.transformer.h.9.attn.c_attn.lora_A.weight";
    refuses(
      folder(good, tensors({ [h9]: A() })),
      /adapter_model\.safetensors: base_model\.model\.transformer\.h\.9\.attn\.c_attn\.lora_A\.weight: the model has no linear weight at module "transformer\.h\.9\.attn\.c_attn"/,
    );
    const b1 = "base_model.model.transformer.h.1.attn.c_attn.lora_B.weight";
    refuses(
      folder(good, tensors({ [b1]: T.zeros([3 * d, 3]) })),
      new RegExp(
        `adapter_model\\.safetensors: ${b1.replaceAll(".", "\\.")}: expected shape \\[${3 * d}, 2\\] \\(\\[out, r\\] with r 2`,
      ),
    );
    refuses(folder({ ...good, r: 3 }), /lora_A\.weight: expected shape \[3, \d+\] \(\[r, in\] with r 3/);
    refuses(
      folder(good, tensors({ [b1]: null })),
      /h\.1\.attn\.c_attn\.lora_B\.weight: missing: target_modules selects transformer\.h\.1\.attn\.c_attn/,
    );
    refuses(
      folder({ ...good, target_modules: ["h.0.attn.c_attn"] }),
      /adapter_config\.json: target_modules: does not select "transformer\.h\.1\.attn\.c_attn"/,
    );
    refuses(
      folder(good, tensors({ "base_model.model.transformer.h.0.attn.c_attn.lora_magnitude_vector": T.zeros([3 * d]) })),
      /lora_magnitude_vector: is not a LoRA weight/,
    );
    // adapter_config.json as PEFT 0.21.0's save_pretrained wrote it for a tiny GPT-2 (every field; target_modules
    // in its set's order)
    const peft021 = {
      alora_invocation_tokens: null,
      alpha_pattern: {},
      arrow_config: null,
      auto_mapping: { base_model_class: "GPT2LMHeadModel", parent_library: "transformers.models.gpt2.modeling_gpt2" },
      base_model_name_or_path: "/tmp/peftcheck/gpt2",
      bias: "none",
      corda_config: null,
      ensure_weight_tying: false,
      eva_config: null,
      exclude_modules: null,
      fan_in_fan_out: true,
      inference_mode: true,
      init_lora_weights: false,
      kasa_config: null,
      layer_replication: null,
      layers_pattern: null,
      layers_to_transform: null,
      loftq_config: {},
      lora_alpha: 6,
      lora_bias: false,
      lora_dropout: 0.0,
      lora_ga_config: null,
      megatron_config: null,
      megatron_core: "megatron.core",
      modules_to_save: null,
      monteclora_config: null,
      peft_type: "LORA",
      peft_version: "0.21.0",
      qalora_group_size: 16,
      r: 2,
      rank_pattern: {},
      revision: null,
      target_modules: ["mlp.c_proj", "c_attn"],
      target_parameters: null,
      task_type: null,
      trainable_token_indices: null,
      use_bdlora: null,
      use_dora: false,
      use_qalora: false,
      use_rslora: false,
      velora_config: null,
    };
    const mlp = (l: number, ab: "A" | "B") => `base_model.model.transformer.h.${l}.mlp.c_proj.lora_${ab}.weight`;
    const dMlp = m.config.dMlp;
    const withMlp = tensors({
      [mlp(0, "A")]: T.zeros([2, dMlp]),
      [mlp(0, "B")]: T.zeros([d, 2]),
      [mlp(1, "A")]: T.zeros([2, dMlp]),
      [mlp(1, "B")]: T.zeros([d, 2]),
    });
    const fromPeft = loadAdapter(folder(peft021, withMlp), m);
    expect(fromPeft.targets.map((t) => t.module)).toEqual([
      "transformer.h.0.attn.c_attn",
      "transformer.h.0.mlp.c_proj",
      "transformer.h.1.attn.c_attn",
      "transformer.h.1.mlp.c_proj",
    ]);
    expect(fromPeft.scaling).toBe(3);
    refuses(
      folder({ ...peft021, use_qalora: true }, withMlp),
      /adapter_config\.json: use_qalora: true asks for quantization-aware LoRA/,
    );
    // a regular expression, as PEFT takes a string, selects by full match
    expect(loadAdapter(folder({ ...good, target_modules: ".*\\.h\\.\\d+\\.attn\\.c_attn" }), m).targets).toHaveLength(2);
  });
});
