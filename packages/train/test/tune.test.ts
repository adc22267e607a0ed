// Hyperparameter search: a grid runs every combination with its share of the step budget and picks the trial
// with the best final evaluation; random search draws inside the ranges (log-uniform where asked), reproducibly;
// successive halving keeps the best 1/eta of each rung and trains them eta times longer; a time budget stops the
// search; LoRA ranks train adapters only; bad configs name their field.
import { describe, expect, it } from "vitest";
import { MemorySink, type TuneOptions, tune } from "../src/index.js";
import { fresh, patternData, snapshotParams } from "./helpers.js";

const data = { train: patternData(12, 12), validation: patternData(4, 12) };
const base: TuneOptions["base"] = { seed: 1, batchSize: 4 };

describe("tune", () => {
  it("grid: every combination, the budget shared, the best by the final evaluation", async () => {
    const sinks: MemorySink[] = [];
    const r = await tune(
      () => fresh(),
      data,
      { method: "grid", space: { lr: [1e-4, 3e-3], batchSize: [2, 4] }, budget: { steps: 16 } },
      {
        base,
        sinkFor: () => {
          const s = new MemorySink();
          sinks.push(s);
          return s;
        },
      },
    );
    expect(r.trials.map((t) => t.params)).toEqual([
      { lr: 1e-4, batchSize: 2 },
      { lr: 1e-4, batchSize: 4 },
      { lr: 3e-3, batchSize: 2 },
      { lr: 3e-3, batchSize: 4 },
    ]);
    expect(r.trials.every((t) => t.steps === 4 && t.reason === "done")).toBe(true);
    // each value is the loss of that trial's last evaluation, as its events report it
    r.trials.forEach((t, i) => {
      expect(t.value).toBe(sinks[i]?.of("eval").at(-1)?.metrics.loss);
    });
    const min = Math.min(...r.trials.map((t) => t.value as number));
    expect(r.best?.value).toBe(min);
    // a larger learning rate learns the pattern faster in 4 steps
    expect(r.best?.params.lr).toBe(3e-3);
    expect(r.bestConfig).toMatchObject({ lr: 3e-3, batchSize: r.best?.params.batchSize, maxSteps: 4 });
  });

  it("random: draws inside the ranges, log-uniform learning rates, the same draws for the same seed", async () => {
    const cfg = {
      method: "random" as const,
      space: { lr: { min: 1e-4, max: 1e-2, log: true }, warmupSteps: [0, 1] },
      trials: 5,
      budget: { steps: 5 },
      seed: 3,
    };
    const a = await tune(() => fresh(), data, cfg, { base });
    const b = await tune(() => fresh(), data, cfg, { base });
    expect(a.trials.map((t) => t.params)).toEqual(b.trials.map((t) => t.params));
    for (const t of a.trials) {
      expect(t.params.lr).toBeGreaterThanOrEqual(1e-4);
      expect(t.params.lr).toBeLessThanOrEqual(1e-2);
      expect([0, 1]).toContain(t.params.warmupSteps);
    }
    const c = await tune(() => fresh(), data, { ...cfg, seed: 4 }, { base });
    expect(c.trials.map((t) => t.params)).not.toEqual(a.trials.map((t) => t.params));
  });

  it("halving: each rung keeps the best 1/eta of the last and trains them eta times longer", async () => {
    const r = await tune(
      () => fresh(),
      data,
      {
        method: "halving",
        space: { lr: { min: 1e-5, max: 1e-2, log: true } },
        trials: 9,
        eta: 3,
        budget: { steps: 54 },
        seed: 1,
      },
      { base },
    );
    const rungs = [0, 1, 2].map((k) => r.trials.filter((t) => t.rung === k));
    expect(rungs.map((x) => x.length)).toEqual([9, 3, 1]);
    expect(rungs.map((x) => x[0]?.steps)).toEqual([2, 6, 18]);
    for (const k of [1, 2]) {
      const prev = [...(rungs[k - 1] as typeof r.trials)].sort((x, y) => (x.value as number) - (y.value as number));
      const kept = prev.slice(0, (rungs[k] as typeof r.trials).length).map((t) => t.params);
      expect((rungs[k] as typeof r.trials).map((t) => t.params)).toEqual(kept);
    }
    expect(r.best?.rung).toBe(2);
    expect(r.trials.reduce((s, t) => s + t.steps, 0)).toBeLessThanOrEqual(54);
  });

  it("a time budget stops the search and the trial running", async () => {
    const r = await tune(
      () => fresh(),
      data,
      { method: "grid", space: { lr: [1e-3, 2e-3, 3e-3] }, budget: { minutes: 1e-9 } },
      { base: { ...base, maxSteps: 50 } },
    );
    expect(r.trials.length).toBeLessThanOrEqual(1);
    for (const t of r.trials) expect(t.reason).toBe("aborted");
    expect(r.best).toBeNull();
  });

  it("LoRA ranks train adapters only: the base model's weights do not move", async () => {
    const models: ReturnType<typeof fresh>[] = [];
    const r = await tune(
      () => {
        const m = fresh();
        models.push(m);
        return m;
      },
      data,
      { method: "grid", space: { loraRank: [1, 4] }, budget: { steps: 6 } },
      { base: { ...base, lr: 1e-2 }, lora: { targetModules: ["c_attn"] } },
    );
    expect(r.trials.map((t) => t.params.loraRank)).toEqual([1, 4]);
    const before = snapshotParams(fresh());
    for (const m of models) for (const [k, v] of snapshotParams(m)) expect(v, k).toEqual(before.get(k));
  });

  it("refuses bad configs, naming the field", async () => {
    const bad = async (cfg: object, re: RegExp) => expect(tune(() => fresh(), data, cfg as never, { base })).rejects.toThrow(re);
    await bad({ method: "grid", space: {}, budget: { steps: 4 } }, /space: expected at least one/);
    await bad({ method: "grid", space: { lr: { min: 1, max: 2 } }, budget: { steps: 4 } }, /space\.lr: expected a list/);
    await bad({ method: "random", space: { lr: [1] }, budget: { minutes: 1 } }, /budget\.steps/);
    await bad({ method: "grid", space: { lr: [1] }, budget: {} }, /budget: expected/);
    await bad({ method: "grid", space: { loraRank: [2] }, budget: { steps: 4 } }, /space\.loraRank: expected a LoRA config/);
    await bad({ method: "sweep", space: { lr: [1] }, budget: { steps: 4 } }, /method/);
    await expect(
      tune(() => fresh(), { train: data.train }, { method: "grid", space: { lr: [1] }, budget: { steps: 2 } }, { base }),
    ).rejects.toThrow(/validation/);
  });
});
