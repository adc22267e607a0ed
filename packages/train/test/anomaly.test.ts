// NaN and infinity located: a planted non-finite weight, an op that overflows in the forward pass, one whose
// gradient divides by zero in the backward pass; the run stops (or skips the step) and names op and parameter.
import * as T from "@llmdbg/tensor";
import { expectTrainEvent } from "@llmdbg/testing/vitest";
import { describe, expect, it } from "vitest";
import { causalLmObjective, MemorySink, type Objective, train } from "../src/index.js";
import { fresh, patternData, snapshotParams } from "./helpers.js";

function plantInf(m: ReturnType<typeof fresh>, name: string, at: number): void {
  const t = m.params.get(name);
  const d = Float32Array.from(t.data as Float32Array);
  d[at] = Number.POSITIVE_INFINITY;
  m.params.set(name, T.fromTyped(d, t.shape, "f32")); // [param shape]
}

async function runToAnomaly(m: ReturnType<typeof fresh>, objective?: Objective, onAnomaly: "stop" | "skip" = "stop") {
  const sink = new MemorySink();
  const r = await train(
    m,
    { train: patternData(8) },
    { maxSteps: 3, batchSize: 4, onAnomaly },
    { sink, ...(objective === undefined ? {} : { objective }) },
  );
  for (const e of sink.events) expectTrainEvent(e);
  return { r, sink, anomalies: sink.of("anomaly") };
}

describe("anomalies", () => {
  it("an infinite weight: the first op reading it, its place and the parameter; the run stops before updating", async () => {
    const m = fresh();
    plantInf(m, "h.0.mlp.c_fc.weight", 5);
    const before = snapshotParams(m);
    const { r, anomalies } = await runToAnomaly(m);
    console.log(anomalies[0]?.message);
    expect(r.reason).toBe("anomaly");
    expect(anomalies).toHaveLength(1);
    expect(anomalies[0]).toMatchObject({
      step: 1,
      op: "linear", // the MLP's first layer: its product and bias in one op
      phase: "forward",
      label: "blocks.0.ln2.hook_normalized",
      param: "h.0.mlp.c_fc.weight",
      action: "stop",
    });
    for (const [name, x] of snapshotParams(m)) expect(x, name).toEqual(before.get(name));
  });

  it("an op that overflows from finite inputs, in the objective", async () => {
    const overflow: Objective = (out, b, ctx) => T.exp(T.mul(causalLmObjective(out, b, ctx), 1000)); // []
    const { anomalies } = await runToAnomaly(fresh(), overflow);
    console.log(anomalies[0]?.message);
    expect(anomalies[0]).toMatchObject({ what: "inf", op: "exp", phase: "forward", label: "loss" });
  });

  it("a gradient that divides by zero in the backward pass (sqrt at 0)", async () => {
    const sqrt0: Objective = (out, b, ctx) => T.sqrt(T.mul(causalLmObjective(out, b, ctx), 0)); // []
    const { anomalies } = await runToAnomaly(fresh(), sqrt0);
    console.log(anomalies[0]?.message);
    expect(anomalies[0]).toMatchObject({ what: "inf", op: "div", phase: "backward", label: "loss" });
    expect(anomalies[0]?.message).toMatch(/backward of sqrt/);
    // no op read a parameter: the parameter named is the first whose gradient is not finite
    expect(anomalies[0]?.param).toBe("wte.weight");
  });

  it('onAnomaly "skip": every bad step is reported and dropped, the run goes on', async () => {
    const m = fresh();
    plantInf(m, "h.1.attn.c_proj.weight", 0);
    const before = snapshotParams(m);
    const { r, sink, anomalies } = await runToAnomaly(m, undefined, "skip");
    expect(r).toMatchObject({ reason: "done", step: 3 });
    expect(anomalies.map((a) => [a.step, a.action, a.param])).toEqual([
      [1, "skip", "h.1.attn.c_proj.weight"],
      [2, "skip", "h.1.attn.c_proj.weight"],
      [3, "skip", "h.1.attn.c_proj.weight"],
    ]);
    expect(sink.of("step")).toEqual([]);
    for (const [name, x] of snapshotParams(m)) expect(x, name).toEqual(before.get(name));
  });
});
