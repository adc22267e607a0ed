// The train section's own pieces on a tiny model of the same kind (no torch): the step it profiles is the step
// train() takes, bit for bit, and the recording optimizer hands on what it records.
import { gpt2, memoryWeights, normalizeHfConfig } from "@llmdbg/models";
import { fromTyped, type Tensor } from "@llmdbg/tensor";
import { AdamW, resolveTrainConfig, train } from "@llmdbg/train";
import { describe, expect, it } from "vitest";
import { GPT2_SMALL_CONFIG, gpt2SmallWeights } from "../gpt2-weights.js";
import { ADAMW, batchIds, oneStepConfig, profiledStep, recording, STEP } from "../train-child.js";

const shape = { n_embd: 32, n_head: 4, n_layer: 2, n_positions: STEP.seq, vocab_size: 300 };
const cfg = { ...GPT2_SMALL_CONFIG, ...shape, bos_token_id: 0, eos_token_id: 0 };
const tiny = () => gpt2(normalizeHfConfig(cfg, "config.json"), memoryWeights(gpt2SmallWeights(7, cfg)), "tiny.safetensors");

describe("train bench", () => {
  it("batchIds: [batch][seq] ids in range, rows differ", () => {
    const ids = batchIds(STEP.batch, STEP.seq, 300);
    expect(ids).toHaveLength(STEP.batch);
    for (const r of ids) {
      expect(r).toHaveLength(STEP.seq);
      expect(r.every((v) => Number.isInteger(v) && v >= 0 && v < 300)).toBe(true);
    }
    expect(ids[0]).not.toEqual(ids[1]);
  });

  it("oneStepConfig: one step at lr, no schedule, clipping at 1, AdamW without decay on 1-D parameters", () => {
    const r = resolveTrainConfig(oneStepConfig());
    expect(r.maxSteps).toBe(1);
    expect(r.lr).toBe(STEP.lr);
    expect(r.clipNorm).toBe(STEP.clip);
    expect(r.schedule.kind).toBe("constant");
    expect(r.shuffle).toBe(false);
    expect(r.optimizer).toEqual({ kind: "adamw", betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, noDecay1d: true });
  });

  it("the profiled step is train()'s step: same loss path, clipping and update, bit for bit", async () => {
    const ids = batchIds(STEP.batch, STEP.seq, 300);
    const a = tiny();
    const rec = recording(new AdamW(ADAMW));
    const r = await train(a, { train: ids.map((x) => ({ ids: x })) }, oneStepConfig(), { optimizer: rec.opt });
    expect(r.step).toBe(1);
    expect(rec.opt.steps).toBe(1);
    expect(rec.grads().size).toBe(a.params.names().length);
    const b = tiny();
    const t = profiledStep(b, fromTyped(Int32Array.from(ids.flat()), [STEP.batch, STEP.seq], "i32"), new AdamW(ADAMW));
    expect(t.total).toBeGreaterThan(0);
    for (const name of a.params.names()) {
      const pa = (a.params.get(name) as Tensor).data;
      const pb = (b.params.get(name) as Tensor).data;
      expect(Array.from(pb), name).toEqual(Array.from(pa));
    }
    // and the step moved the weights
    const c = tiny();
    expect(Array.from(c.params.get("h.0.mlp.c_fc.weight").data)).not.toEqual(
      Array.from(a.params.get("h.0.mlp.c_fc.weight").data),
    );
    rec.forget();
    expect(rec.grads().size).toBe(0);
  });
});
