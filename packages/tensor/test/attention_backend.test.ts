// Fused attention agrees with the same computation written in primitives, and asking for a backend that
// cannot load is an error rather than a quiet switch to another.
import { describe, expect, it } from "vitest";
import { registerOrtLoader } from "../src/backend.js";
import type { Tensor } from "../src/node.js";
import * as T from "../src/node.js";

function maxAbsDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  let m = 0;
  for (let i = 0; i < a.size; i++) {
    const x = a.data[i] as number;
    const y = b.data[i] as number;
    if (x === y) continue; // also equal infinities
    m = Math.max(m, Math.abs(x - y));
  }
  return m;
}

describe("fused attention vs primitives", () => {
  it("scores, pattern and output match the unfused computation (causal, KV offset, mask)", () => {
    T.useBackend("ref");
    const [B, H, Tq, S, D] = [2, 3, 4, 6, 5];
    const q = T.randn([B, H, Tq, D], 1, "f64");
    const k = T.randn([B, H, S, D], 2, "f64");
    const v = T.randn([B, H, S, D], 3, "f64");
    const keep = T.gt(T.randn([B, 1, 1, S], 4, "f64"), -1); // [batch, 1, 1, S]
    const mask = T.where(keep, T.zeros([B, 1, 1, S], "f64"), Number.NEGATIVE_INFINITY); // [batch, 1, 1, S]
    const scale = 0.3;
    const fused = T.attention(q, k, v, { causal: true, scale, mask, returnScores: true });

    const causal = T.tensor(
      Array.from({ length: Tq * S }, (_, i) => (i % S <= Math.floor(i / S) + (S - Tq) ? 0 : Number.NEGATIVE_INFINITY)),
      [Tq, S],
      "f64",
    ); // [T, S]
    expect(T.causalMask(Tq, S, "f64").toArray()).toEqual(causal.toArray()); // the helper models use
    const scores = T.add(T.add(T.mul(T.matmul(q, k, { transB: true }), scale), mask), causal); // [batch, head, T, S]
    const pattern = T.softmax(scores); // [batch, head, T, S]
    const out = T.matmul(pattern, v); // [batch, head, T, D]

    const ds = maxAbsDiff(fused.scores as Tensor, scores);
    const dp = maxAbsDiff(fused.pattern, pattern);
    const dout = maxAbsDiff(fused.out, out);
    console.log(
      `fused vs unfused attention: scores ${ds.toExponential(2)}, pattern ${dp.toExponential(2)}, out ${dout.toExponential(2)}`,
    );
    expect(ds).toBeLessThan(1e-12);
    expect(dp).toBeLessThan(1e-12);
    expect(dout).toBeLessThan(1e-12);
  });
});

describe("backend selection", () => {
  it("asking for a backend that cannot load is an error that says why, and the one in use stays", () => {
    const ort = T.useBackend("ort");
    try {
      registerOrtLoader(() => {
        throw new Error("simulated: libonnxruntime.so not found");
      });
      T.useBackend("ref");
      expect(() => T.useBackend("ort")).toThrow(T.BackendUnavailableError);
      expect(() => T.useBackend("ort")).toThrow(/the 'ort' backend is not available: simulated: libonnxruntime.so not found/);
      expect(T.getBackend().name).toBe("ref");
    } finally {
      registerOrtLoader(() => ort);
      T.useBackend("ort");
    }
  });

  it("withBackend runs one call on a backend and restores the one in use, also when the call throws", () => {
    T.useBackend("ort");
    const a = T.randn([64, 64], 1);
    const b = T.randn([64, 64], 2);
    const seen = T.withBackend("ref", () => T.getBackend().name);
    expect(seen).toBe("ref");
    expect(T.getBackend().name).toBe("ort");
    expect(() =>
      T.withBackend("ref", () => {
        throw new Error("inside");
      }),
    ).toThrow("inside");
    expect(T.getBackend().name).toBe("ort");
    // the same product on both, as the ort-vs-ref tests compare them
    const viaRef = T.withBackend(T.refBackend, () => T.matmul(a, b)).toArray();
    const viaOrt = T.matmul(a, b).toArray();
    expect(viaRef.length).toBe(viaOrt.length);
  });
});
