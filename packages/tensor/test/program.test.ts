// Programs (program.ts): a chain of fused ops in one backend call. On `ort` each step is lowered to onnxruntime
// nodes; here a block-shaped program against the same ops run one by one on `ref`, and the cases where
// runProgram must decline (the ref backend, a taped input, a mask hiding a row).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Tensor } from "../src/node.js";
import * as T from "../src/node.js";
import { relDiff } from "./diff.js";

let ort: T.OrtBackend;
beforeAll(() => {
  ort = T.useBackend("ort") as T.OrtBackend;
  ort.minElements = 0; // this block is small: run the program anyway
});
afterAll(() => {
  ort.minElements = 16 * 1024;
  T.useBackend("ref");
});

const [B, P, H, Dh] = [2, 7, 3, 4];
const D = H * Dh;
const block: T.Program = {
  steps: [
    { op: "layerNorm", x: "x", weight: "ln_w", bias: "ln_b", eps: 1e-5, out: "a" },
    { op: "linear", x: "a", weight: "qkv_w", bias: "qkv_b", transB: false, out: "qkv" },
    { op: "split", x: "qkv", outs: ["q", "k", "v"] },
    { op: "attention", q: "q", k: "k", v: "v", mask: "mask", heads: H, scale: 0.4, out: "z" },
    { op: "linear", x: "z", weight: "o_w", bias: "o_b", transB: true, out: "o" },
    { op: "gelu", x: "o", approximate: "tanh", out: "g" },
    { op: "add", a: "x", b: "g", out: "out" },
  ],
  output: "out",
  outShape: [B, P, D],
};

function inputs(mask = T.causalMask(P)): Record<string, Tensor> {
  return {
    x: T.mul(T.randn([B, P, D], 1), 2),
    ln_w: T.randn([D], 2),
    ln_b: T.randn([D], 3),
    qkv_w: T.mul(T.randn([D, 3 * D], 4), 0.3),
    qkv_b: T.randn([3 * D], 5),
    o_w: T.mul(T.randn([D, D], 6), 0.3), // [out, in]: transB
    o_b: T.randn([D], 7),
    mask: T.reshape(mask, [1, 1, P, P]),
  };
}

/** The program's ops one by one (the architecture's own path when it gets null). */
function opByOp(i: Record<string, Tensor>): Tensor {
  const t = (n: string) => i[n] as Tensor;
  const a = T.layerNorm(t("x"), t("ln_w"), t("ln_b"), 1e-5); // [B, P, D]
  const qkv = T.linear(a, t("qkv_w"), t("qkv_b")); // [B, P, 3D]
  const [q, k, v] = [0, 1, 2].map((j) => T.reshape(T.narrow(qkv, 2, j * D, D), [B, P, H, Dh])) as [Tensor, Tensor, Tensor];
  const z = T.reshape(T.attention(q, k, v, { mask: t("mask"), scale: 0.4, tokenMajor: true }).out, [B, P, D]); // [B, P, D]
  return T.add(t("x"), T.gelu(T.linear(z, t("o_w"), t("o_b"), { transB: true }), "tanh")); // [B, P, D]
}

describe("programs", () => {
  it("run as one onnxruntime call, within float32 rounding of the same ops one by one", () => {
    const i = inputs();
    const calls = ort.stats.calls;
    const got = T.runProgram(block, i);
    expect(ort.stats.calls - calls).toBe(1);
    expect(got).not.toBeNull();
    const want = T.withBackend("ref", () => opByOp(i));
    const d = relDiff(got as Tensor, want);
    console.log(`program vs op by op: max |Δ| ${d.toExponential(2)} of the scale`);
    expect(d).toBeLessThan(2e-6);
  });

  it("decline where they cannot run: the ref backend, an input on a tape, a mask hiding a row", () => {
    expect(T.withBackend("ref", () => T.runProgram(block, inputs()))).toBeNull();
    const i = inputs();
    T.vjp(
      (x) => {
        expect(T.runProgram(block, { ...i, x })).toBeNull();
        return [T.sum(x)];
      },
      [i.x as Tensor],
    );
    const hidden = T.causalMask(P);
    hidden.data.fill(Number.NEGATIVE_INFINITY, 0, P); // query 0 sees nothing
    expect(T.runProgram(block, inputs(hidden))).toBeNull();
  });

  it("show in a profile as one op", () => {
    const { result, profile } = T.profileOps(() => T.runProgram(block, inputs()));
    expect(result).not.toBeNull();
    expect(profile.forward.program?.calls).toBe(1);
  });
});
