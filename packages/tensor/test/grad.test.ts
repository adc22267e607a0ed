// Every primitive and fused composite passes a float64 finite-difference check, including broadcasting,
// size-1 and empty dimensions and non-default axes. The case table is an exhaustive mapped type over Prim:
// a primitive without a gradient test is a compile error. The cases whose forward or backward multiplies
// matrices (matmul, attention) run again on the onnxruntime backend, with its size threshold lowered to zero
// so that every product goes to onnxruntime, asserting that some did.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setRawAllocator } from "../src/dtype.js";
import type { Prim, Tensor } from "../src/node.js";
import * as T from "../src/node.js";
import { gradcheck } from "./gradcheck.js";

// measured worst 1.7e-9 (attention, logsumexp, permute: central differences at h = 1e-6 in f64 carry ~1e-10 of
// rounding and truncation); 1e-8 leaves a 6× margin. A wrong rule is off by O(1).
const TOL = 1e-8;
const r = (shape: number[], seed: number): Tensor => T.randn(shape, seed, "f64");
const pos = (shape: number[], seed: number): Tensor => T.randu(shape, seed, 0.5, 2, "f64");
const idx = (vals: number[], shape?: number[]): Tensor => T.tensor(vals, shape ?? [vals.length], "i32");

interface Case {
  name: string;
  inputs: () => Tensor[];
  f: (...xs: Tensor[]) => Tensor;
  wrt?: number[];
}

const cases: { [P in Prim]: Case[] } = {
  // a program runs off the tape only and has no gradient (program.test.ts: it refuses taped inputs)
  program: [],
  add: [
    { name: "same shape", inputs: () => [r([2, 3], 1), r([2, 3], 2)], f: T.add },
    { name: "broadcast bias", inputs: () => [r([2, 3, 4], 1), r([4], 2)], f: T.add },
    { name: "broadcast both ways", inputs: () => [r([3, 1], 1), r([1, 4], 2)], f: T.add },
    { name: "middle axis of size 1", inputs: () => [r([2, 1, 3], 1), r([2, 5, 3], 2)], f: T.add },
    { name: "empty dim", inputs: () => [r([0, 3], 1), r([3], 2)], f: T.add },
  ],
  sub: [{ name: "broadcast", inputs: () => [r([2, 3], 1), r([2, 1], 2)], f: T.sub }],
  mul: [
    { name: "broadcast", inputs: () => [r([2, 3, 4], 1), r([3, 1], 2)], f: T.mul },
    { name: "scalar operand", inputs: () => [r([5], 1)], f: (x) => T.mul(x, 3) },
  ],
  div: [{ name: "broadcast", inputs: () => [r([2, 3], 1), pos([3], 2)], f: T.div }],
  maximum: [{ name: "broadcast", inputs: () => [r([4, 3], 1), r([3], 2)], f: T.maximum }],
  pow: [
    { name: "positive base", inputs: () => [pos([2, 3], 1), r([3], 2)], f: T.pow },
    { name: "integer exponent, any base", inputs: () => [r([6], 1)], f: (x) => T.pow(x, 3) },
  ],
  neg: [{ name: "basic", inputs: () => [r([2, 3], 1)], f: T.neg }],
  exp: [{ name: "basic", inputs: () => [r([2, 3], 1)], f: T.exp }],
  log: [{ name: "basic", inputs: () => [pos([2, 3], 1)], f: T.log }],
  sqrt: [{ name: "basic", inputs: () => [pos([2, 3], 1)], f: T.sqrt }],
  rsqrt: [{ name: "basic", inputs: () => [pos([2, 3], 1)], f: T.rsqrt }],
  tanh: [{ name: "basic", inputs: () => [r([2, 3], 1)], f: T.tanh }],
  erf: [{ name: "basic", inputs: () => [T.mul(r([3, 4], 1), 2)], f: T.erf }],
  where: [
    {
      name: "broadcast condition",
      inputs: () => [r([2, 3], 1), r([2, 3], 2), r([3], 3)],
      f: (c, a, b) => T.where(T.gt(c, 0), a, b),
    },
  ],
  compare: [
    // no gradient flows through a comparison; the mask times x differentiates to the mask
    { name: "mask", inputs: () => [r([3, 4], 1)], f: (x) => T.mul(x, T.cast(T.gt(x, 0), "f64")) },
  ],
  sum: [
    { name: "all", inputs: () => [r([2, 3, 4], 1)], f: (x) => T.sum(x) },
    { name: "axis 1 keepDims", inputs: () => [r([2, 3, 4], 1)], f: (x) => T.sum(x, 1, true) },
    { name: "non-contiguous axes", inputs: () => [r([2, 3, 4], 1)], f: (x) => T.sum(x, [0, 2]) },
    { name: "empty axis", inputs: () => [r([2, 0, 3], 1)], f: (x) => T.sum(x, 1) },
  ],
  max: [
    { name: "last axis", inputs: () => [r([3, 5], 1)], f: (x) => T.max(x, -1) },
    { name: "axis 0 keepDims", inputs: () => [r([4, 3], 1)], f: (x) => T.max(x, 0, true) },
  ],
  argmax: [{ name: "gather at argmax", inputs: () => [r([4, 6], 1)], f: (x) => T.mul(x, T.cast(T.argmax(x, 0, true), "f64")) }],
  logsumexp: [
    { name: "last axis", inputs: () => [r([3, 5], 1)], f: (x) => T.logsumexp(x, -1) },
    { name: "two axes keepDims", inputs: () => [r([2, 3, 4], 1)], f: (x) => T.logsumexp(x, [0, 2], true) },
  ],
  reshape: [{ name: "with -1", inputs: () => [r([2, 3, 4], 1)], f: (x) => T.mul(T.reshape(x, [6, -1]), r([6, 4], 9)) }],
  broadcastTo: [{ name: "expand", inputs: () => [r([3, 1], 1)], f: (x) => T.broadcastTo(x, [2, 3, 4]) }],
  permute: [{ name: "4-d", inputs: () => [r([2, 3, 4, 5], 1)], f: (x) => T.permute(x, [0, 2, 3, 1]) }],
  slice: [
    { name: "middle block", inputs: () => [r([4, 5], 1)], f: (x) => T.slice(x, [1, -3], [3, 5]) },
    { name: "empty", inputs: () => [r([4, 5], 1)], f: (x) => T.slice(x, [2, 0], [2, 5]) },
  ],
  concat: [
    { name: "axis 1", inputs: () => [r([2, 3], 1), r([2, 1], 2), r([2, 0], 3)], f: (a, b, c) => T.concat([a, b, c], 1) },
    { name: "axis 0", inputs: () => [r([1, 3], 1), r([2, 3], 2)], f: (a, b) => T.concat([a, b], 0) },
  ],
  gather: [
    { name: "embedding rows with repeats", inputs: () => [r([5, 3], 1)], f: (w) => T.gather(w, idx([4, 0, 4, 2], [2, 2]), 0) },
    { name: "axis 1", inputs: () => [r([2, 5, 3], 1)], f: (w) => T.gather(w, idx([1, 1, 3]), 1) },
  ],
  scatterAdd: [{ name: "repeats", inputs: () => [r([2, 4, 3], 1)], f: (u) => T.scatterAdd(u, idx([0, 2, 2, 1]), 1, 5) }],
  pad: [{ name: "both sides", inputs: () => [r([2, 3], 1)], f: (x) => T.pad(x, [1, 0], [2, 3], 0.5) }],
  linear: [
    { name: "2-d", inputs: () => [r([3, 4], 1), r([4, 5], 2), r([5], 3)], f: (x, w, b) => T.linear(x, w, b) },
    {
      name: "batched, transB",
      inputs: () => [r([2, 3, 4], 1), r([5, 4], 2), r([5], 3)],
      f: (x, w, b) => T.linear(x, w, b, { transB: true }),
    },
  ],
  matmul: [
    { name: "2-d", inputs: () => [r([3, 4], 1), r([4, 5], 2)], f: (a, b) => T.matmul(a, b) },
    { name: "transA", inputs: () => [r([4, 3], 1), r([4, 5], 2)], f: (a, b) => T.matmul(a, b, { transA: true }) },
    { name: "transB", inputs: () => [r([3, 4], 1), r([5, 4], 2)], f: (a, b) => T.matmul(a, b, { transB: true }) },
    { name: "both", inputs: () => [r([4, 3], 1), r([5, 4], 2)], f: (a, b) => T.matmul(a, b, { transA: true, transB: true }) },
    { name: "batched broadcast", inputs: () => [r([2, 1, 3, 4], 1), r([3, 4, 2], 2)], f: (a, b) => T.matmul(a, b) },
    { name: "weight shared over batch", inputs: () => [r([2, 3, 4], 1), r([4, 5], 2)], f: (a, b) => T.matmul(a, b) },
    {
      name: "weight shared over batch, transB",
      inputs: () => [r([2, 3, 4], 1), r([5, 4], 2)],
      f: (a, b) => T.matmul(a, b, { transB: true }),
    },
    { name: "empty K", inputs: () => [r([3, 0], 1), r([0, 2], 2)], f: (a, b) => T.matmul(a, b) },
    {
      // matmuls records one matmul per weight: the input's gradient sums the three products' contributions
      name: "matmuls: one input, three weights (transB), outputs multiplied",
      inputs: () => [r([2, 3, 4], 1), r([5, 4], 2), r([5, 4], 3), r([2, 4], 4)],
      f: (x, wq, wk, wv) => {
        const [q, k, v] = T.matmuls(x, [wq, wk, wv], { transB: true }) as [Tensor, Tensor, Tensor];
        return T.add(T.mul(q, k), T.sum(v, -1, true));
      },
    },
  ],
  // f64 → f64 here; the f32 ↔ f64 casts, whose finite differences need a wider step, are checked below
  cast: [{ name: "f64 identity", inputs: () => [r([3], 1)], f: (x) => T.mul(T.cast(x, "f64"), x) }],
  softmax: [
    { name: "last axis", inputs: () => [r([3, 5], 1)], f: (x) => T.softmax(x) },
    { name: "axis 0", inputs: () => [r([4, 3], 1)], f: (x) => T.softmax(x, 0) },
  ],
  logSoftmax: [
    { name: "last axis", inputs: () => [r([3, 5], 1)], f: (x) => T.logSoftmax(x) },
    { name: "axis 1 of 3", inputs: () => [r([2, 4, 3], 1)], f: (x) => T.logSoftmax(x, 1) },
  ],
  layerNorm: [
    {
      name: "weight and bias",
      inputs: () => [r([2, 3, 8], 1), r([8], 2), r([8], 3)],
      f: (x, w, b) => T.layerNorm(x, w, b, 1e-5),
    },
    { name: "no affine", inputs: () => [r([4, 6], 1)], f: (x) => T.layerNorm(x, undefined, undefined, 1e-5) },
  ],
  rmsNorm: [
    { name: "weight", inputs: () => [r([2, 3, 8], 1), r([8], 2)], f: (x, w) => T.rmsNorm(x, w, 1e-6) },
    { name: "no weight", inputs: () => [r([4, 6], 1)], f: (x) => T.rmsNorm(x, undefined, 1e-6) },
  ],
  gelu: [
    { name: "tanh", inputs: () => [T.mul(r([3, 7], 1), 2)], f: (x) => T.gelu(x, "tanh") },
    { name: "erf", inputs: () => [T.mul(r([3, 7], 1), 2)], f: (x) => T.gelu(x, "none") },
  ],
  crossEntropy: [
    {
      name: "weighted rows, one skipped",
      inputs: () => [T.mul(r([4, 6], 1), 3)],
      f: (x) => T.crossEntropy(x, Int32Array.of(2, 0, 99, 5), Float64Array.of(0.5, 0.25, 0, 0.25)),
    },
  ],
  silu: [{ name: "basic", inputs: () => [T.mul(r([3, 7], 1), 2)], f: T.silu }],
  rope: [
    {
      name: "rotate_half, partial rotary",
      inputs: () => [r([2, 3, 5, 8], 1), r([5, 2], 2), r([5, 2], 3)],
      f: (x, c, s) => T.rope(x, c, s, { rotaryDim: 4 }),
      wrt: [0],
    },
    {
      name: "per-row angles [B, H, T, R/2]",
      inputs: () => [r([2, 3, 5, 8], 1), r([2, 3, 5, 3], 2), r([2, 3, 5, 3], 3)],
      f: (x, c, s) => T.rope(x, c, s, { rotaryDim: 6 }),
      wrt: [0],
    },
    {
      name: "interleaved",
      inputs: () => [r([1, 2, 4, 6], 1), r([4, 3], 2), r([4, 3], 3)],
      f: (x, c, s) => T.rope(x, c, s, { interleaved: true }),
      wrt: [0],
    },
  ],
  attention: [
    {
      name: "causal",
      inputs: () => [r([2, 2, 4, 3], 1), r([2, 2, 4, 3], 2), r([2, 2, 4, 5], 3)],
      f: (q, k, v) => T.attention(q, k, v, { causal: true }).out,
    },
    {
      name: "causal with KV offset and additive mask",
      inputs: () => [r([1, 2, 2, 3], 1), r([1, 2, 5, 3], 2), r([1, 2, 5, 3], 3)],
      f: (q, k, v) =>
        T.attention(q, k, v, { causal: true, scale: 0.7, mask: T.tensor([0, -1e9, 0, 0, 0], [1, 1, 1, 5], "f64") }).out,
    },
    {
      name: "bidirectional",
      inputs: () => [r([1, 1, 3, 4], 1), r([1, 1, 6, 4], 2), r([1, 1, 6, 2], 3)],
      f: (q, k, v) => T.attention(q, k, v).out,
    },
  ],
};

// Outputs are allocated uninitialized; poisoning every fresh buffer with NaN makes a kernel that leaves an
// element unwritten fail its gradient check instead of passing on memory that happened to be zero.
let restore: ReturnType<typeof setRawAllocator> | undefined;
beforeAll(() => {
  restore = setRawAllocator((bytes) => new Uint8Array(bytes).fill(0xff).buffer, 0);
});
afterAll(() => {
  if (restore) setRawAllocator(restore.fn, restore.minBytes);
});

describe("finite-difference gradients (f64, ref backend)", () => {
  for (const [prim, list] of Object.entries(cases) as [Prim, Case[]][]) {
    for (const c of list) {
      it(`${prim}: ${c.name}`, () => {
        T.useBackend("ref");
        const rep = gradcheck(c.f, c.inputs(), c.wrt ? { wrt: c.wrt } : {});
        console.log(`[ref] ${prim}: ${c.name}: rel err ${rep.relErr.toExponential(2)}`);
        expect(rep.relErr).toBeLessThanOrEqual(TOL);
      });
    }
  }
});

// Only matmul and the products inside attention reach the backend; the other primitives run the same
// TypeScript kernels on both, so checking them again would repeat the ref cases.
const ortPrims = ["matmul", "attention"] as const satisfies readonly Prim[];

describe("finite-difference gradients (f64, ort backend: every product in onnxruntime)", () => {
  let ort: T.OrtBackend;
  let minMacs = 0;
  beforeAll(() => {
    ort = T.useBackend("ort") as T.OrtBackend;
    expect(ort).toBeInstanceOf(T.OrtBackend);
    minMacs = ort.minMacs;
    ort.minMacs = 0; // products of any size go to onnxruntime (a product with no multiply-adds still does not)
  });
  afterAll(() => {
    ort.minMacs = minMacs;
    T.useBackend("ref");
  });
  for (const prim of ortPrims) {
    for (const c of cases[prim]) {
      it(`${prim}: ${c.name}`, () => {
        T.useBackend("ort");
        const before = ort.stats.calls;
        const inputs = c.inputs();
        const rep = gradcheck(c.f, inputs, c.wrt ? { wrt: c.wrt } : {});
        const calls = ort.stats.calls - before;
        console.log(`[ort] ${prim}: ${c.name}: rel err ${rep.relErr.toExponential(2)}, ${calls} onnxruntime calls`);
        expect(rep.relErr).toBeLessThanOrEqual(TOL);
        const hasMacs = !inputs.some((x) => x.size === 0);
        if (hasMacs) expect(calls).toBeGreaterThan(0);
        else expect(calls).toBe(0);
      });
    }
  }
});

describe("cast between f32 and f64", () => {
  // Inputs on a grid of 1/64 and a step of 1/64 keep every perturbed value exact in float32, and a quadratic has
  // no truncation error under central differences, so the finite differences are exact; the gradient (times the
  // random cotangent) passes through float32 and carries its rounding, 2^-24 relative: measured 3.6e-8, bound
  // 2e-7. A rule that dropped, doubled or mis-cast the gradient is off by O(1) or fails the dtype check.
  const quad = (x: Tensor) => T.sum(T.mul(T.mul(x, x), 0.5)); // Σ x²/2: gradient x
  const dyadic = (seed: number) =>
    T.tensor(
      T.randn([6], seed, "f64")
        .toArray()
        .map((v) => Math.round(v * 64) / 64),
      [6],
      "f64",
    );
  const H = 1 / 64;

  it("f32 input → f64: the gradient is f32 and equals x", () => {
    const x = T.cast(dyadic(3), "f32");
    const f = (x: Tensor) => quad(T.cast(x, "f64"));
    const g = T.grad(f)(x)[0] as Tensor;
    expect(g.dtype).toBe("f32");
    expect(g.toArray()).toEqual(x.toArray());
    const rep = gradcheck(f, [x], { wrt: [0], h: H });
    console.log(`cast f32 -> f64: rel err ${rep.relErr.toExponential(2)} (tol 2e-7)`);
    expect(rep.relErr).toBeLessThanOrEqual(2e-7);
  });

  it("f64 input → f32 and back: the gradient is f64 and equals x", () => {
    const x = dyadic(4);
    const f = (x: Tensor) => T.cast(quad(T.cast(x, "f32")), "f64");
    const g = T.grad(f)(x)[0] as Tensor;
    expect(g.dtype).toBe("f64");
    expect(g.toArray()).toEqual(x.toArray());
    const rep = gradcheck(f, [x], { wrt: [0], h: H });
    console.log(`cast f64 -> f32 -> f64: rel err ${rep.relErr.toExponential(2)} (tol 2e-7)`);
    expect(rep.relErr).toBeLessThanOrEqual(2e-7);
  });
});

describe("autodiff API", () => {
  it("gradients of intermediates via retainGrad", () => {
    T.useBackend("ref");
    const x = T.tensor([1, 2, 3], [3], "f64");
    let mid: Tensor | undefined;
    const { grads, gradOf } = T.valueAndGrad((x) => {
      mid = T.retainGrad(T.mul(x, x)); // x²
      return T.sum(T.mul(mid, 3));
    })(x);
    expect(gradOf(mid as Tensor)?.toArray()).toEqual([3, 3, 3]);
    expect(grads[0]?.toArray()).toEqual([6, 12, 18]);
  });

  it("watch makes a leaf of an untracked tensor and keeps tracked ones connected", () => {
    const w = T.tensor([2, 3], [2], "f64"); // a frozen weight: not an input of vjp
    let h1: Tensor | undefined;
    let h2: Tensor | undefined;
    const { out, backward } = T.vjp(() => {
      h1 = T.watch(T.mul(w, 1)); // not on the tape yet: becomes a leaf
      h2 = T.watch(T.mul(h1, h1)); // on the tape: stays connected to h1
      return [T.sum(T.mul(h2, 5))];
    }, []);
    const b = backward([T.ones((out[0] as Tensor).shape, "f64")]);
    expect(b.gradOf(h2 as Tensor)?.toArray()).toEqual([5, 5]);
    expect(b.gradOf(h1 as Tensor)?.toArray()).toEqual([20, 30]); // 5 · 2·h1
  });

  it("stopGradient and noGrad cut the tape", () => {
    const x = T.tensor([1, 2], [2], "f64");
    const g1 = T.grad((x) => T.sum(T.mul(x, T.stopGradient(x))))(x)[0] as Tensor;
    expect(g1.toArray()).toEqual([1, 2]);
    const g2 = T.grad((x) =>
      T.add(
        T.sum(x),
        T.noGrad(() => T.sum(T.mul(x, x))),
      ),
    )(x)[0] as Tensor;
    expect(g2.toArray()).toEqual([1, 1]);
  });

  it("an input used twice accumulates both paths; an unused input gets zeros", () => {
    const x = T.tensor([3], [1], "f64");
    const y = T.tensor([5, 6], [2], "f64");
    const [gx, gy] = T.grad((x, _y) => T.sum(T.add(T.mul(x, x), x)))(x, y);
    expect(gx?.toArray()).toEqual([7]);
    expect(gy?.toArray()).toEqual([0, 0]);
  });

  it("ops outside the traced function are not recorded", () => {
    const x = T.tensor([1, 2], [2], "f64");
    const { value } = T.valueAndGrad((x) => T.sum(x))(x);
    const later = T.mul(value, 2);
    expect(later.tape).toBeNull();
  });
});
