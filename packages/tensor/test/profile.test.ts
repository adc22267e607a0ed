// The op profiler counts exactly the ops a known function runs, forward and backward apart, charges the
// backward ops to the rule that ran them and to the label of its tape node, keeps its times within the wall
// time measured around it, and records nothing when off. Overhead is not asserted: no timed tests.
import { afterAll, describe, expect, it } from "vitest";
import { type OpListener, setOpListener } from "../src/autodiff.js";
import type { OpProfile, OpRow, Prim, PrimStats, Tensor } from "../src/node.js";
import * as T from "../src/node.js";

const x = T.randn([2, 3], 1); // [batch, d_in]
const w = T.randn([3, 4], 2); // [d_in, d_out]

// forward: matmul, softmax, mul, sum (one each). backward, rule by rule from the loss:
//   sum     → reshape + broadcastTo (unreduce)
//   mul     → mul, mul (same shapes: sumTo adds nothing)
//   softmax → its fused kernel (not an op), then add (y's two gradients meet)
//   matmul  → matmul, matmul (2-D: sumTo adds nothing)
function loss(a: Tensor, b: Tensor): Tensor {
  T.setProfileLabel("proj");
  const y = T.matmul(a, b); // [batch, d_out]
  T.setProfileLabel("head");
  const s = T.softmax(y); // [batch, d_out]
  return T.sum(T.mul(s, y)); // []
}

const calls = (t: PrimStats): Partial<Record<Prim, number>> =>
  Object.fromEntries(Object.entries(t).map(([p, s]) => [p, s.calls]));

const sumMs = (rows: readonly OpRow[]) => rows.reduce((a, r) => a + r.ms, 0);

function check(p: OpProfile, outside: number): void {
  expect(calls(p.forward)).toEqual({ matmul: 1, softmax: 1, mul: 1, sum: 1 });
  expect(calls(p.backward)).toEqual({ reshape: 1, broadcastTo: 1, mul: 2, add: 1, matmul: 2 });
  expect(calls(p.backwardByRule)).toEqual({ sum: 1, mul: 1, softmax: 1, matmul: 1 });
  for (const r of p.rows) {
    expect(r.ms).toBeGreaterThanOrEqual(0);
    expect(r.bytesOut).toBeGreaterThanOrEqual(0);
  }
  expect(sumMs(p.rows)).toBeLessThanOrEqual(p.wallMs);
  expect(p.wallMs).toBeLessThanOrEqual(outside);
}

describe("profileOps", () => {
  afterAll(() => T.useBackend("ref"));

  it("counts forward ops, backward ops and rule runs apart, within the wall time", () => {
    T.useBackend("ref");
    const t0 = performance.now();
    const { result, profile } = T.profileOps(() => T.grad(loss)(x, w));
    const outside = performance.now() - t0;
    expect(result).toHaveLength(2);
    check(profile, outside);
    // fresh outputs count their bytes, views none: sum's [] f32 output is 4 bytes, the reshape of g is free
    expect(profile.forward.sum?.bytesOut).toBe(4);
    expect(profile.forward.matmul?.bytesOut).toBe(2 * 4 * 4);
    expect(profile.backward.reshape?.bytesOut).toBe(0);
  });

  it("charges each backward rule to the label its forward op ran under", () => {
    T.useBackend("ref");
    const { profile } = T.profileOps(() => T.grad(loss)(x, w));
    const fwd = profile.rows.filter((r) => r.phase === "forward");
    expect(new Set(fwd.filter((r) => r.op === "matmul").map((r) => r.label))).toEqual(new Set(["proj"]));
    expect(new Set(fwd.filter((r) => r.op !== "matmul").map((r) => r.label))).toEqual(new Set(["head"]));
    const bwd = profile.rows.filter((r) => r.phase === "backward");
    for (const r of bwd) expect(r.label).toBe(r.rule === "matmul" ? "proj" : "head");
    const byLabel = T.sumRows(bwd, (r) => r.label);
    expect(byLabel.get("proj")?.calls).toBe(2); // the two matmuls of matmul's rule
    expect(byLabel.get("head")?.calls).toBe(5);
    // a rule without ops of its own still has its time: softmax's fused backward kernel
    expect(bwd.some((r) => r.rule === "softmax" && r.op === null && r.calls === 1)).toBe(true);
  });

  it("profileScope restores the label; labels outside a profile are ignored", () => {
    expect(T.setProfileLabel("nowhere")).toBeNull();
    const { profile } = T.profileOps(() => {
      T.profileScope("inner", () => T.add(x, x));
      return T.neg(x);
    });
    expect(profile.rows.map((r) => [r.op, r.label])).toEqual([
      ["add", "inner"],
      ["neg", null],
    ]);
  });

  it("counts onnxruntime matmuls, which run in a worker, like any other op", () => {
    const ort = T.useBackend("ort") as T.OrtBackend;
    const minMacs = ort.minMacs;
    ort.minMacs = 0; // send even this tiny product to onnxruntime
    try {
      T.profileOps(() => T.grad(loss)(x, w)); // onnxruntime builds its sessions here, unprofiled
      const t0 = performance.now();
      const { profile } = T.profileOps(() => T.grad(loss)(x, w));
      check(profile, performance.now() - t0);
    } finally {
      ort.minMacs = minMacs;
      T.useBackend("ref");
    }
  });

  it("records nothing when off, labels included", () => {
    T.useBackend("ref");
    // a tape recorded with the profiler off carries no labels into a profiled backward pass
    const { out, backward } = T.vjp((a, b) => [loss(a as Tensor, b as Tensor)], [x, w]);
    const { profile } = T.profileOps(() => backward([T.ones((out[0] as Tensor).shape)]));
    expect(calls(profile.backward)).toEqual({ reshape: 1, broadcastTo: 1, mul: 2, add: 1, matmul: 2 });
    expect(profile.rows.every((r) => r.label === null)).toBe(true);
    const seen: Prim[] = [];
    const spy: OpListener = { label: "spy", op: (p) => seen.push(p), phase() {}, rule() {} };
    T.profileOps(() => T.neg(x));
    expect(setOpListener(null)).toBeNull(); // profileOps removed its listener
    T.grad(loss)(x, w);
    expect(seen).toEqual([]);
    const prev = setOpListener(spy);
    T.neg(x);
    setOpListener(prev);
    expect(seen).toEqual(["neg"]);
  });

  it("refuses to nest and restores the listener when fn throws", () => {
    expect(() => T.profileOps(() => T.profileOps(() => 0))).toThrow(/do not nest/);
    expect(() =>
      T.profileOps(() => {
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(setOpListener(null)).toBeNull();
  });
});
