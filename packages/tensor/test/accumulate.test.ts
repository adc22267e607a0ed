// Backprop adds a contribution into a gradient it owns in place (sums it made, fresh tensors of matmul, slice and
// gather rules), and a slice's block or a gather's rows straight into such a gradient. These cases mix every way a
// gradient reaches an input — a pass-through rule's cotangent (add's [g, g]), retained intermediates, q/k/v-style
// slices of one tensor, a table that is both gathered and multiplied (tied embeddings) — and check the result
// against float64 finite differences and against the same sums done out of place.
import { describe, expect, it } from "vitest";
import * as T from "../src/index.js";
import { gradcheck } from "./gradcheck.js";

const TOL = 1e-8;

describe("gradient accumulation in place", () => {
  it("three slices of one product (a q/k/v split) sum into the product's gradient", () => {
    const x = T.randn([2, 3, 4], 1, "f64");
    const w = T.randn([4, 9], 2, "f64");
    const c = [3, 4, 5].map((s) => T.randn([2, 3, 3], s, "f64"));
    const f = (x: T.Tensor, w: T.Tensor) => {
      const qkv = T.matmul(x, w); // [2, 3, 9]
      const parts = [0, 1, 2].map((i) => T.narrow(qkv, 2, 3 * i, 3)); // [2, 3, 3] each
      return parts.reduce((s, p, i) => T.add(s, T.sum(T.mul(p, c[i] as T.Tensor))), T.sum(T.mul(qkv, qkv)));
    };
    const r = gradcheck(f, [x, w]);
    console.log(`slices of a product: rel err ${r.relErr.toExponential(2)}`);
    expect(r.relErr).toBeLessThan(TOL);
  });

  it("a table both gathered and multiplied (tied embeddings) gets both contributions", () => {
    const table = T.randn([7, 4], 6, "f64");
    const ids = T.tensor([3, 1, 3, 6, 0], [5], "i32"); // a repeated row
    const c = T.randn([5, 7], 8, "f64");
    const f = (e: T.Tensor) => T.sum(T.mul(T.matmul(T.gather(e, ids, 0), e, { transB: true }), c)); // [5, 7] logits
    const r = gradcheck(f, [table]);
    console.log(`tied table: rel err ${r.relErr.toExponential(2)}`);
    expect(r.relErr).toBeLessThan(TOL);
  });

  it("a null cotangent is the same as zeros for that output, and the others' gradients are unchanged", () => {
    const x = T.randn([3, 5], 21, "f64");
    const w = T.randn([5, 4], 22, "f64");
    const f = (x: T.Tensor, w: T.Tensor) => {
      const logits = T.matmul(x, w); // [3, 4]
      return [logits, T.sum(T.mul(logits, logits))]; // a model's output beside its loss
    };
    const a = T.vjp(f, [x, w]).backward([T.zeros([3, 4], "f64"), T.ones([], "f64")]);
    const b = T.vjp(f, [x, w]).backward([null, T.ones([], "f64")]);
    for (const i of [0, 1]) expect(b.grads[i]?.toArray()).toEqual(a.grads[i]?.toArray());
    expect(b.grads[1]?.toArray()).not.toEqual(T.zeros([5, 4], "f64").toArray());
    // nothing flows at all: zero gradients, not a failure
    const c = T.vjp(f, [x, w]).backward([null, null]);
    expect(c.grads[0]?.toArray()).toEqual(T.zeros([3, 5], "f64").toArray());
    expect(() => T.vjp(f, [x, w]).backward([null])).toThrow(/2 outputs, 1 cotangents/);
  });

  it("a cotangent passed through to two inputs (add's rule) is never summed into in place", () => {
    const x = T.randn([3, 4], 9, "f64");
    const y = T.randn([3, 4], 10, "f64");
    const c = T.randn([3, 4], 11, "f64");
    const m4 = T.randn([4, 4], 17, "f64");
    let u: T.Tensor | undefined;
    const { backward } = T.vjp(
      (x, y) => {
        u = T.retainGrad(T.add(x, y)); // its rule hands one tensor to both x and y
        const v = T.add(T.sum(T.mul(u, c)), T.sum(T.narrow(T.matmul(x, m4), 1, 1, 2))); // and a slice of x's product
        return [T.add(v, T.sum(T.mul(x, x)))];
      },
      [x, y],
    );
    const b = backward([T.ones([], "f64")]);
    // d/dy = c (+ the narrow's column sum, which does not reach y); u's gradient is c itself
    expect(b.grads[1]?.toArray()).toEqual(c.toArray());
    const gu = b.gradOf(u as T.Tensor);
    expect(gu?.toArray()).toEqual(c.toArray());
    const r = gradcheck(
      (x, y) => {
        const w = T.add(x, y);
        return T.add(T.sum(T.mul(w, c)), T.add(T.sum(T.narrow(T.matmul(x, m4), 1, 1, 2)), T.sum(T.mul(x, x))));
      },
      [x, y],
    );
    expect(r.relErr).toBeLessThan(TOL);
  });

  it("agrees with the same graph written without slices (products with selection matrices)", () => {
    const x = T.randn([4, 6], 12, "f64");
    const w = T.randn([6, 6], 13, "f64");
    const cs = [14, 15, 16].map((s) => T.randn([4, 2], s, "f64"));
    const viaSlices = T.grad((x, w) => {
      const h = T.matmul(x, w);
      return [0, 1, 2].reduce((s, i) => T.add(s, T.sum(T.mul(T.narrow(h, 1, 2 * i, 2), cs[i] as T.Tensor))), T.sum(h));
    })(x, w);
    const sel = (i: number) => {
      const m = T.zeros([6, 2], "f64");
      m.data[2 * i * 2] = 1;
      m.data[(2 * i + 1) * 2 + 1] = 1;
      return m;
    };
    const viaProducts = T.grad((x, w) => {
      const h = T.matmul(x, w);
      return [0, 1, 2].reduce((s, i) => T.add(s, T.sum(T.mul(T.matmul(h, sel(i)), cs[i] as T.Tensor))), T.sum(h));
    })(x, w);
    for (const i of [0, 1]) {
      const a = viaSlices[i] as T.Tensor;
      const b = viaProducts[i] as T.Tensor;
      let d = 0;
      for (let k = 0; k < a.size; k++) d = Math.max(d, Math.abs((a.data[k] as number) - (b.data[k] as number)));
      expect(d).toBeLessThan(1e-12);
    }
  });
});
