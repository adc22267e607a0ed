// The operator-specialized add/sub/mul/div loops against the generic broadcasting kernel, on random shapes
// in every layout they claim (full, scalar, trailing block, per-row) and some they must decline.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { arith } from "../src/kernels/arith.js";
import { binary } from "../src/kernels/elementwise.js";

const fns = {
  add: (x: number, y: number) => x + y,
  sub: (x: number, y: number) => x - y,
  mul: (x: number, y: number) => x * y,
  div: (x: number, y: number) => x / y,
};
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const fill = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.3 + i * 1.7) * 3 + 0.1);

/** A shape broadcastable to `out` of one of the layouts, or an arbitrary broadcastable one. */
const partner = (out: number[]) =>
  fc.oneof(
    fc.constant(out),
    fc.constant([1]),
    fc.integer({ min: 0, max: out.length }).map((k) => out.slice(out.length - k)),
    fc.constant([...out.slice(0, -1), 1]),
    fc.constant([1, ...out.slice(0, -1), 1]),
    fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }).map((ones) => out.map((d, i) => (ones[i] ? 1 : d))),
  );

describe("arith", () => {
  it("equals the generic kernel whenever it takes a layout, for both operand orders", () => {
    fc.assert(
      fc.property(
        fc
          .array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 })
          .chain((out) => fc.tuple(fc.constant(out), partner(out), fc.boolean())),
        fc.constantFrom("add", "sub", "mul", "div" as const),
        ([out, small, swap], op) => {
          const [aShape, bShape] = swap ? [small, out] : [out, small];
          const a = fill(size(aShape), 1);
          const b = fill(size(bShape), 2);
          const want = new Float32Array(size(out));
          binary(fns[op], a, aShape, b, bShape, want, out);
          const got = new Float32Array(size(out)).fill(Number.NaN);
          if (arith(op, a, aShape, b, bShape, got, out)) expect(Array.from(got)).toEqual(Array.from(want));
          else expect(got.every(Number.isNaN)).toBe(true); // declined: wrote nothing
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("takes the layouts transformer code uses", () => {
    const o = new Float32Array(24);
    expect(arith("add", fill(24, 1), [2, 3, 4], fill(4, 2), [4], o, [2, 3, 4])).toBe(true); // bias
    expect(arith("sub", fill(24, 1), [2, 3, 4], fill(6, 2), [2, 3, 1], o, [2, 3, 4])).toBe(true); // per-row mean
    expect(arith("div", fill(6, 2), [2, 3, 1], fill(24, 1), [2, 3, 4], o, [2, 3, 4])).toBe(true); // swapped
    expect(arith("mul", fill(24, 1), [2, 3, 4], fill(8, 2), [2, 1, 4], o, [2, 3, 4])).toBe(false); // middle broadcast
  });
});
