// The onnxruntime backend against the plain-TS oracle on random inputs, for every op it implements
// (matmul in all its forms, and the fused attention that runs on it). Prints the max difference.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Tensor } from "../src/node.js";
import * as T from "../src/node.js";

let ort: T.OrtBackend;

beforeAll(() => {
  const be = T.useBackend("ort");
  expect(be.name).toBe("ort");
  ort = be as T.OrtBackend;
  ort.minMacs = 0; // send even tiny products to onnxruntime so every shape is compared
});

afterAll(() => {
  ort.minMacs = 32 * 1024;
  T.useBackend("ref");
});

// max |ort − ref| relative to max |ref|, measured worst: 3.0e-7 in f32 (the GPT-2 MLP shape: MLAS sums 768 terms in
// another order), 1.9e-15 in f64; bounds at ~6×.
const F32_TOL = 2e-6;
const F64_TOL = 1e-14;

function compare(label: string, f: () => Tensor, tol: number): void {
  T.useBackend("ort");
  const a = f();
  T.useBackend("ref");
  const b = f();
  T.useBackend("ort");
  expect(a.shape).toEqual(b.shape);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < a.size; i++) {
    maxDiff = Math.max(maxDiff, Math.abs((a.data[i] as number) - (b.data[i] as number)));
    maxRef = Math.max(maxRef, Math.abs(b.data[i] as number));
  }
  const rel = maxDiff / Math.max(maxRef, 1e-30);
  console.log(`ort vs ref ${label}: maxdiff ${maxDiff.toExponential(2)} (relative to max |ref| ${rel.toExponential(2)})`);
  expect(Number.isFinite(maxDiff)).toBe(true);
  expect(rel).toBeLessThanOrEqual(tol);
}

const matmulCases: [string, number[], number[], boolean, boolean][] = [
  ["2-d", [7, 13], [13, 5], false, false],
  ["transA", [13, 7], [13, 5], true, false],
  ["transB", [7, 13], [5, 13], false, true],
  ["both transposed", [13, 7], [5, 13], true, true],
  ["batched", [3, 7, 13], [3, 13, 5], false, false],
  ["batch broadcast", [2, 1, 7, 13], [3, 13, 5], false, false],
  ["shared weight", [2, 9, 16], [16, 11], false, false],
  ["attention-shaped, transB", [2, 4, 16, 8], [2, 4, 16, 8], false, true],
  ["gpt-2 MLP shape", [128, 768], [768, 3072], false, false],
  ["size-1 dims", [1, 1, 5], [5, 1], false, false],
];

describe.each(["f32", "f64"] as const)("ort matmul vs ref (%s)", (dtype) => {
  for (const [name, sa, sb, tA, tB] of matmulCases) {
    it(name, () => {
      const a = T.randn(sa, 1, dtype);
      const b = T.randn(sb, 2, dtype);
      compare(`${dtype} matmul ${name}`, () => T.matmul(a, b, { transA: tA, transB: tB }), dtype === "f32" ? F32_TOL : F64_TOL);
    });
  }
});

describe("ort-backed composites vs ref", () => {
  it("attention forward and its gradients", () => {
    const q = T.randn([2, 3, 6, 8], 1);
    const k = T.randn([2, 3, 6, 8], 2);
    const v = T.randn([2, 3, 6, 8], 3);
    compare("attention out", () => T.attention(q, k, v, { causal: true }).out, F32_TOL);
    for (const i of [0, 1, 2]) {
      compare(
        `attention grad ${"qkv"[i]}`,
        () => T.grad((q, k, v) => T.sum(T.mul(T.attention(q, k, v, { causal: true }).out, v)))(q, k, v)[i] as Tensor,
        F32_TOL,
      );
    }
  });
});

describe("ort matmuls (one call for several products)", () => {
  it.each([
    ["f32", false],
    ["f32", true],
    ["f64", false],
    ["f64", true],
  ] as const)("%s, transB %s: the numbers of one matmul each, in one onnxruntime call", (dtype, transB) => {
    const x = T.randn([2, 6, 16], 1, dtype);
    // q, k and v of a grouped-query layer: the k and v projections are narrower than q
    const ws = [8, 4, 4].map((n, i) => T.randn(transB ? [n, 16] : [16, n], 2 + i, dtype));
    const separate = ws.map((w) => T.matmul(x, w, { transB }));
    const before = ort.stats.calls;
    const together = T.matmuls(x, ws, { transB });
    expect(ort.stats.calls - before).toBe(1);
    together.forEach((y, i) => {
      const s = separate[i] as Tensor;
      expect(y.shape).toEqual(s.shape);
      expect(y.dtype).toBe(dtype);
      // the same MLAS kernel for the same shapes: bit-identical, not merely close
      expect(Array.from(y.data)).toEqual(Array.from(s.data));
    });
    compare(`${dtype} matmuls[0]`, () => T.matmuls(x, ws, { transB })[0] as Tensor, dtype === "f32" ? F32_TOL : F64_TOL);
  });

  it("a product too small for onnxruntime sends each one alone, as matmul would", () => {
    ort.minMacs = 1000;
    try {
      const x = T.randn([2, 16], 1);
      const big = T.randn([16, 64], 2); // 2048 multiply-adds
      const small = T.randn([16, 4], 3); // 128: the ref kernel, as T.matmul would choose
      const before = ort.stats.calls;
      const [a, b] = T.matmuls(x, [big, small]) as [Tensor, Tensor];
      expect(ort.stats.calls - before).toBe(1);
      expect(Array.from(a.data)).toEqual(Array.from(T.matmul(x, big).data));
      expect(Array.from(b.data)).toEqual(Array.from(T.withBackend("ref", () => T.matmul(x, small)).data));
    } finally {
      ort.minMacs = 0;
    }
  });
});

describe("ort graphs", () => {
  it("one graph serves every size of a given rank and transposition", () => {
    const before = ort.graphCount;
    for (const [m, k, n] of [
      [5, 7, 3],
      [9, 2, 4],
      [1, 30, 6],
    ] as const) {
      const a = T.randn([m, k], m);
      const b = T.randn([k, n], n);
      compare(`matmul ${m}x${k}·${k}x${n}`, () => T.matmul(a, b), F32_TOL);
    }
    expect(ort.graphCount - before).toBeLessThanOrEqual(1);
  });
});

describe("ort buffer hand-over", () => {
  it("operands, views and aliased operands stay readable after a call", () => {
    const x = T.randn([16, 16], 4);
    const view = T.reshape(x, [256]);
    const before = x.toArray();
    const y = T.matmul(x, x, { transB: true }); // the same storage twice
    expect(x.toArray()).toEqual(before);
    expect(view.toArray()).toEqual(before);
    let s = 0;
    for (let k = 0; k < 16; k++) s += (before[k] as number) * (before[16 + k] as number);
    expect(y.data[1] as number).toBeCloseTo(s, 4);
  });
});
