// Bad arguments give errors that name the op and the shapes or dtypes involved.
import { describe, expect, it } from "vitest";
import type { Tensor } from "../src/index.js";
import * as T from "../src/index.js";

describe("error messages", () => {
  const a = T.zeros([2, 3]);
  const b = T.zeros([4]);
  it("shape mismatch names the op and both shapes", () => {
    expect(() => T.add(a, b)).toThrow(/add: shapes \[2,3\] and \[4\] cannot be broadcast/);
    expect(() => T.matmul(a, T.zeros([4, 5]))).toThrow(/matmul: inner dimensions differ: \[2,3\] · \[4,5\]/);
    expect(() => T.matmul(T.zeros([3]), a)).toThrow(/matmul: both operands need rank >= 2, got \[3\] and \[2,3\]/);
    expect(() => T.concat([a, T.zeros([3, 3])], 1)).toThrow(/concat: shapes \[2,3\] and \[3,3\] differ outside axis 1/);
    expect(() => T.layerNorm(a, T.zeros([2]))).toThrow(/layerNorm: weight shape \[2\] must be \[3\] for input \[2,3\]/);
  });
  it("dtype mismatch names both dtypes", () => {
    expect(() => T.mul(a, T.zeros([2, 3], "f64"))).toThrow(/mul: dtype mismatch: f32 and f64/);
    expect(() => T.matmul(a, T.zeros([3, 2], "f64"))).toThrow(/matmul: dtype mismatch: f32 and f64/);
    expect(() => T.exp(T.zeros([2], "i32"))).toThrow(/exp: expected a float dtype \(f32 or f64\), got i32/);
    expect(() => T.gather(a, T.zeros([1], "f32"))).toThrow(/gather: indices must be i32, got f32/);
  });
  it("bad reshapes, axes, indices and slices", () => {
    expect(() => T.reshape(a, [4, 2])).toThrow(/reshape: cannot reshape \[2,3\] \(6\) to \[4,2\]/);
    expect(() => T.sum(a, 2)).toThrow(/sum: axis 2 is out of range for rank 2/);
    expect(() => T.gather(a, T.tensor([5], [1], "i32"))).toThrow(/gather: index 5 out of range \[0, 2\)/);
    expect(() => T.slice(a, [0, 2], [2, 5])).toThrow(/slice: bounds 2:5 out of range for axis 1/);
    expect(() => T.permute(a, [0, 0])).toThrow(/permute: \[0,0\] is not a permutation/);
    expect(() => T.zeros([2, -1])).toThrow(/zeros: invalid dimension -1/);
  });
  it("a disposed tensor refuses reads, other views stay valid", () => {
    const x = T.tensor([1, 2, 3, 4], [2, 2]);
    const v = T.reshape(x, [4]);
    x.dispose();
    expect(() => x.data).toThrow(/was disposed/);
    expect(v.toArray()).toEqual([1, 2, 3, 4]);
  });
});

describe("forward semantics", () => {
  it("matches hand-computed values", () => {
    const x = T.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(T.sum(x, 1).toArray()).toEqual([6, 15]);
    expect(T.mean(x, 0).toArray()).toEqual([2.5, 3.5, 4.5]);
    expect(T.argmax(x, 1).toArray()).toEqual([2, 2]);
    expect(T.transpose(x).toArray()).toEqual([1, 4, 2, 5, 3, 6]);
    expect(T.slice(x, [0, 1]).toArray()).toEqual([2, 3, 5, 6]);
    expect(T.pad(x, [0, 1], [0, 0], 9).toArray()).toEqual([9, 1, 2, 3, 9, 4, 5, 6]);
    expect(T.gather(x, T.tensor([2, 0], [2], "i32"), 1).toArray()).toEqual([3, 1, 6, 4]);
    expect(T.where(T.gt(x, 3), x, 0).toArray()).toEqual([0, 0, 0, 4, 5, 6]);
    const sm = T.softmax(T.tensor([0, Math.log(3)], [2], "f64"));
    expect(sm.toArray()[1]).toBeCloseTo(0.75, 12);
    const p = T.attention(T.zeros([1, 1, 3, 2]), T.zeros([1, 1, 3, 2]), T.zeros([1, 1, 3, 2]), { causal: true }).pattern;
    expect(p.toArray().map((v) => Math.round(v * 1e6) / 1e6)).toEqual([1, 0, 0, 0.5, 0.5, 0, 0.333333, 0.333333, 0.333333]);
  });
  it("GELU and SiLU match their textbook formulas in f64", () => {
    const xs = [-30, -5, -1.3, -0.2, 0, 0.4, 1, 2.7, 8, 40];
    const x = T.tensor(xs, [xs.length], "f64");
    const k = Math.sqrt(2 / Math.PI);
    const tanhRef = xs.map((v) => 0.5 * v * (1 + Math.tanh(k * (v + 0.044715 * v ** 3))));
    // from Python: 0.5 * v * (1 + math.erf(v / math.sqrt(2)))
    const erfRef = [
      -0, -1.4332578593401202e-6, -0.12584062996129347, -0.0841480581121794, 0, 0.2621686966441297, 0.8413447460685429,
      2.6906391707317905, 7.999999999999995, 40,
    ];
    const siluRef = xs.map((v) => v / (1 + Math.exp(-v)));
    const worst = (got: Tensor, want: number[]): number =>
      Math.max(...got.toArray().map((v, i) => Math.abs(v - (want[i] as number))));
    expect(worst(T.gelu(x, "tanh"), tanhRef)).toBeLessThan(1e-13);
    expect(worst(T.gelu(x, "none"), erfRef)).toBeLessThan(1e-12);
    expect(worst(T.silu(x), siluRef)).toBeLessThan(1e-13);
  });
  it("crossEntropy equals Σ w·(logsumexp − x[target]) of the primitives, skips weight-0 rows, refuses bad targets", () => {
    const x = T.mul(T.randn([5, 7], 3, "f64"), 4); // [5, 7]
    const targets = Int32Array.of(6, 0, 3, -100, 2);
    const weights = Float64Array.of(0.25, 0.25, 0.25, 0, 0.25);
    const lse = T.logsumexp(x, 1).data; // [5]
    let want = 0;
    for (let i = 0; i < 5; i++)
      if (weights[i] !== 0)
        want += (weights[i] as number) * ((lse[i] as number) - (x.data[i * 7 + (targets[i] as number)] as number));
    const got = T.crossEntropy(x, targets, weights);
    expect(got.shape).toEqual([]);
    expect(Math.abs((got.data[0] as number) - want)).toBeLessThan(1e-14);
    expect(() => T.crossEntropy(x, Int32Array.of(7, 0, 0, 0, 0), weights)).toThrow(
      /crossEntropy: target 7 of row 0 is not in \[0, 7\)/,
    );
    expect(() => T.crossEntropy(x, Int32Array.of(0), weights)).toThrow(/crossEntropy: 5 rows but 1 targets and 5 weights/);
    expect(() => T.crossEntropy(T.reshape(x, [35]), targets, weights)).toThrow(/crossEntropy: x must be \[n, classes\]/);
  });
  it("fully masked attention rows give zeros, not NaN", () => {
    const mask = T.full([1, 1, 1, 2], Number.NEGATIVE_INFINITY);
    const { out } = T.attention(T.ones([1, 1, 1, 2]), T.ones([1, 1, 2, 2]), T.ones([1, 1, 2, 2]), { mask });
    expect(out.toArray()).toEqual([0, 0]);
  });
  it("erf matches reference values to 1e-15", () => {
    const xs = [-3, -0.5, 0, 0.1, 1, 2.5, 4];
    const ref = [
      -0.9999779095030014, -0.5204998778130465, 0, 0.1124629160182849, 0.8427007929497149, 0.999593047982555, 0.9999999845827421,
    ];
    T.erf(T.tensor(xs, [7], "f64"))
      .toArray()
      .forEach((v, i) => {
        expect(Math.abs(v - (ref[i] as number))).toBeLessThan(1e-15);
      });
  });
  it("gradcheck catches a wrong gradient", async () => {
    const { gradcheck } = await import("./gradcheck.js");
    // stopGradient hides one factor: the tape's gradient is x, the true one 2x
    const rep = gradcheck((x) => T.mul(x, T.stopGradient(x)), [T.randn([5], 3, "f64")]);
    expect(rep.relErr).toBeGreaterThan(0.1);
  });
});

describe("backends in the platform-neutral entry", () => {
  it("ref is the default, and asking for ort (which only the Node entry registers) is an error", () => {
    expect(T.getBackend().name).toBe("ref");
    expect(() => T.useBackend("ort")).toThrow(/the 'ort' backend is not available: onnxruntime-node is not loaded/);
    expect(T.getBackend().name).toBe("ref");
  });
});
