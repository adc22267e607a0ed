// Backward rules skip the gradients of inputs that are not traced (a frozen weight): the traced input's gradient
// must be exactly what the two-sided rule gives, for every matmul layout, and for mul, gather and layerNorm.
import { describe, expect, it } from "vitest";
import { gather, layerNorm, matmul, mul, sum, type Tensor, tensor, vjp } from "../src/index.js";

const rand = (shape: number[], seed: number) => {
  let s = seed;
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(
    Array.from({ length: n }, () => {
      s = (s * 1103515245 + 12345) % 2 ** 31;
      return s / 2 ** 31 - 0.5;
    }),
    shape,
  );
};

/** The gradient of sum(f(a, b)) w.r.t. the inputs at `which`, with the other inputs constants. */
function gradOf(f: (a: Tensor, b: Tensor) => Tensor, a: Tensor, b: Tensor, which: readonly number[]): Tensor[] {
  const inputs = [a, b];
  const traced = which.map((i) => inputs[i] as Tensor);
  const { backward } = vjp((...xs) => {
    const args = [...inputs];
    which.forEach((i, k) => {
      args[i] = xs[k] as Tensor;
    });
    return [sum(f(args[0] as Tensor, args[1] as Tensor))];
  }, traced);
  return backward([tensor([1], [])]).grads;
}

describe("one-sided backward", () => {
  it.each([
    [false, false, [2, 3, 4], [4, 5]],
    [false, false, [3, 4], [4, 5]],
    [true, false, [4, 3], [4, 5]],
    [false, true, [3, 4], [5, 4]],
    [true, true, [4, 3], [5, 4]],
    [false, true, [2, 3, 4], [5, 4]],
  ] as const)("matmul transA %s transB %s %j·%j: each side alone equals the two-sided gradient", (transA, transB, sa, sb) => {
    const a = rand([...sa], 1);
    const b = rand([...sb], 2);
    const f = (x: Tensor, y: Tensor) => matmul(x, y, { transA, transB });
    const both = gradOf(f, a, b, [0, 1]);
    expect(gradOf(f, a, b, [0])[0]?.toArray()).toEqual(both[0]?.toArray());
    expect(gradOf(f, a, b, [1])[0]?.toArray()).toEqual(both[1]?.toArray());
  });

  it("mul, gather and layerNorm: the traced input's gradient is unchanged when the other is a constant", () => {
    const a = rand([3, 4], 3);
    const b = rand([3, 4], 4);
    const both = gradOf(mul, a, b, [0, 1]);
    expect(gradOf(mul, a, b, [0])[0]?.toArray()).toEqual(both[0]?.toArray());
    expect(gradOf(mul, a, b, [1])[0]?.toArray()).toEqual(both[1]?.toArray());
    const table = rand([6, 4], 5);
    const ids = tensor([1, 3, 3, 0], [4], "i32");
    const g = gradOf((t) => gather(t, ids, 0), table, table, [0]);
    expect(g[0]?.shape).toEqual([6, 4]);
    const w = rand([4], 6);
    const ln = (x: Tensor, weight: Tensor) => mul(layerNorm(x, weight, undefined, 1e-5), x);
    const lnBoth = gradOf(ln, a, w, [0, 1]);
    expect(gradOf(ln, a, w, [0])[0]?.toArray()).toEqual(lnBoth[0]?.toArray());
    expect(gradOf(ln, a, w, [1])[0]?.toArray()).toEqual(lnBoth[1]?.toArray());
  });
});
