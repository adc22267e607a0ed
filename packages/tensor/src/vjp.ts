// The backward rules: one per primitive, in one exhaustive table. A primitive added to PrimAttrs without a
// rule here is a compile error. Rules run under noGrad and may use any op.
import type { TapeNode } from "./autodiff.js";
import { getBackend } from "./backend.js";
import { isFloat } from "./dtype.js";
import {
  attentionScoresBackward,
  crossEntropyBackward,
  crossEntropyExps,
  geluBackward,
  layerNormBackward,
  rmsNormBackward,
  ropeKernel,
  siluBackward,
  softmaxBackward,
} from "./fused.js";
import { arith } from "./kernels/arith.js";
import * as mv from "./kernels/movement.js";
import {
  broadcastTo,
  cast,
  div,
  eq,
  exp,
  gather,
  ge,
  gt,
  log,
  matmul,
  mul,
  neg,
  pad,
  permute,
  pow,
  reshape,
  scatterAdd,
  slice,
  sub,
  sum,
  where,
} from "./ops.js";
import type { Prim } from "./prims.js";
import { type Shape, sameShape, sizeOf } from "./shape.js";
import { empty, type Tensor } from "./tensor.js";

type Grads = (Tensor | null)[];
type Rule<P extends Prim> = (n: TapeNode<P>, g: Tensor) => Grads;

/** Sums a broadcast gradient back down to `shape`. */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  return reshape(sum(g, axes, true), shape);
}

const inp = (n: TapeNode, i: number): Tensor => n.inputs[i] as Tensor;

/**
 * Whether input `i` of the node needs a gradient: only inputs on the node's tape do (backprop drops the rest).
 * The costly rules skip the others, as torch's `needs_input_grad` lets them: a frozen weight's gradient (∂W of
 * every matmul, the embedding's scatter into [d_vocab, d_model]) is most of a backward pass that only wants
 * activations' gradients.
 */
const needs = (n: TapeNode, i: number): boolean => inp(n, i).tape === n.out.tape;

/** Re-expands a reduced gradient (or output) to the input's shape. */
function unreduce(t: Tensor, x: Tensor, axes: readonly number[], keepDims: boolean): Tensor {
  const kshape = keepDims ? t.shape : x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  return broadcastTo(reshape(t, kshape), x.shape);
}

/** matmul's backward when only one input needs a gradient (the same products as the two-sided rule). */
function matmulOneSide(n: TapeNode<"matmul">, g: Tensor): Grads {
  const a = inp(n, 0);
  const b = inp(n, 1);
  const { transA, transB } = n.attrs;
  if (needs(n, 0)) {
    const da = !transA
      ? matmul(g, b, { transB: !transB }) // [..., M, K]
      : transB
        ? matmul(b, g, { transA: true, transB: true }) // [..., K, M]
        : matmul(b, g, { transB: true }); // [..., K, M]
    return [sumTo(da, a.shape), null];
  }
  if (!needs(n, 1)) return [null, null];
  let db: Tensor;
  if (!transA && b.rank === 2 && a.rank > 2) {
    const K = a.shape[a.rank - 1] as number;
    const N = g.shape[g.rank - 1] as number;
    const a2 = reshape(a, [-1, K]); // [batch*M, K]
    const g2 = reshape(g, [-1, N]); // [batch*M, N]
    db = transB ? matmul(g2, a2, { transA: true }) : matmul(a2, g2, { transA: true }); // [N, K] | [K, N]
  } else if (!transA && !transB) db = matmul(a, g, { transA: true });
  else if (transA && !transB) db = matmul(a, g);
  else if (!transA && transB) db = matmul(g, a, { transA: true });
  else db = matmul(g, a, { transA: true, transB: true });
  return [null, sumTo(db, b.shape)];
}

const rules: { [P in Prim]: Rule<P> } = {
  program: () => {
    // runProgram refuses any input on a tape, so no program is ever recorded on one
    throw new Error("vjp: a program has no gradient; it runs only where no input carries gradient history");
  },
  add: (n, g) => [sumTo(g, inp(n, 0).shape), sumTo(g, inp(n, 1).shape)],
  sub: (n, g) => [sumTo(g, inp(n, 0).shape), sumTo(neg(g), inp(n, 1).shape)],
  mul: (n, g) => [
    needs(n, 0) ? sumTo(mul(g, inp(n, 1)), inp(n, 0).shape) : null,
    needs(n, 1) ? sumTo(mul(g, inp(n, 0)), inp(n, 1).shape) : null,
  ],
  div: (n, g) => [sumTo(div(g, inp(n, 1)), inp(n, 0).shape), sumTo(neg(mul(g, div(n.out, inp(n, 1)))), inp(n, 1).shape)],
  maximum: (n, g) => {
    const takeA = ge(inp(n, 0), inp(n, 1)); // ties send the whole gradient to a
    return [sumTo(where(takeA, g, 0), inp(n, 0).shape), sumTo(where(takeA, 0, g), inp(n, 1).shape)];
  },
  pow: (n, g) => {
    const a = inp(n, 0);
    const b = inp(n, 1);
    const da = mul(g, mul(b, pow(a, sub(b, 1)))); // b·a^(b-1), also right at a = 0
    const db = mul(g, mul(n.out, where(gt(a, 0), log(a), 0))); // a^b·ln a, taken as 0 where a <= 0
    return [sumTo(da, a.shape), sumTo(db, b.shape)];
  },
  neg: (_n, g) => [neg(g)],
  exp: (n, g) => [mul(g, n.out)],
  log: (n, g) => [div(g, inp(n, 0))],
  sqrt: (n, g) => [div(g, mul(n.out, 2))],
  rsqrt: (n, g) => [mul(g, mul(mul(n.out, mul(n.out, n.out)), -0.5))],
  tanh: (n, g) => [mul(g, sub(1, mul(n.out, n.out)))],
  erf: (n, g) => {
    const x = inp(n, 0);
    return [mul(g, mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI)))];
  },
  where: (n, g) => {
    const c = inp(n, 0);
    return [null, sumTo(where(c, g, 0), inp(n, 1).shape), sumTo(where(c, 0, g), inp(n, 2).shape)];
  },
  compare: () => [null, null],
  sum: (n, g) => [unreduce(g, inp(n, 0), n.attrs.axes, n.attrs.keepDims)],
  max: (n, g) => {
    const x = inp(n, 0);
    const { axes, keepDims } = n.attrs;
    const hit = cast(eq(x, unreduce(n.out, x, axes, keepDims)), x.dtype);
    const share = div(hit, sum(hit, axes, true)); // ties share the gradient equally
    return [mul(unreduce(g, x, axes, keepDims), share)];
  },
  argmax: () => [null],
  logsumexp: (n, g) => {
    const x = inp(n, 0);
    const { axes, keepDims } = n.attrs;
    return [mul(unreduce(g, x, axes, keepDims), exp(sub(x, unreduce(n.out, x, axes, keepDims))))];
  },
  reshape: (n, g) => [reshape(g, inp(n, 0).shape)],
  broadcastTo: (n, g) => [sumTo(g, inp(n, 0).shape)],
  permute: (n, g) => {
    const inv = new Array<number>(n.attrs.perm.length);
    n.attrs.perm.forEach((p, i) => {
      inv[p] = i;
    });
    return [permute(g, inv)];
  },
  slice: (n, g) => {
    const x = inp(n, 0);
    return [
      pad(
        g,
        n.attrs.begin,
        x.shape.map((d, i) => d - (n.attrs.end[i] as number)),
      ),
    ];
  },
  concat: (n, g) => {
    let off = 0;
    return n.inputs.map((x) => {
      const a = n.attrs.axis;
      const b = x.shape.map((_, i) => (i === a ? off : 0));
      const e = x.shape.map((d, i) => (i === a ? off + d : (g.shape[i] as number)));
      off += x.shape[a] as number;
      return slice(g, b, e);
    });
  },
  gather: (n, g) => [needs(n, 0) ? scatterAdd(g, inp(n, 1), n.attrs.axis, inp(n, 0).shape[n.attrs.axis] as number) : null, null],
  scatterAdd: (n, g) => [gather(g, inp(n, 1), n.attrs.axis), null],
  pad: (n, g) => {
    const x = inp(n, 0);
    return [
      slice(
        g,
        n.attrs.before,
        x.shape.map((d, i) => (n.attrs.before[i] as number) + d),
      ),
    ];
  },
  // the matmul's rule on (x, w), and the bias's gradient summed over every row
  linear: (n, g) => {
    const mm: TapeNode<"matmul"> = {
      prim: "matmul",
      attrs: { transA: false, transB: n.attrs.transB },
      inputs: [inp(n, 0), inp(n, 1)],
      out: n.out,
      label: n.label,
    };
    const [dx = null, dw = null] = rules.matmul(mm, g);
    return [dx, dw, needs(n, 2) ? sumTo(g, inp(n, 2).shape) : null];
  },
  matmul: (n, g) => {
    const a = inp(n, 0);
    const b = inp(n, 1);
    const { transA, transB } = n.attrs;
    // one side frozen (a weight, or the input of an activation gradient): compute only the other
    if (!needs(n, 0) || !needs(n, 1)) return matmulOneSide(n, g);
    let da: Tensor;
    let db: Tensor;
    if (!transA && b.rank === 2 && a.rank > 2) {
      // a shared weight: fold the batch into M so dW is one [K, N] product, not a batch of them summed
      const K = a.shape[a.rank - 1] as number;
      const N = g.shape[g.rank - 1] as number;
      const a2 = reshape(a, [-1, K]); // [batch*M, K]
      const g2 = reshape(g, [-1, N]); // [batch*M, N]
      da = matmul(g, b, { transB: !transB }); // [..., M, K]
      db = transB ? matmul(g2, a2, { transA: true }) : matmul(a2, g2, { transA: true }); // [N, K] | [K, N]
    } else if (!transA && !transB) {
      da = matmul(g, b, { transB: true }); // [..., M, N]·[..., N, K]
      db = matmul(a, g, { transA: true }); // [..., K, M]·[..., M, N]
    } else if (transA && !transB) {
      da = matmul(b, g, { transB: true }); // [..., K, N]·[..., N, M]
      db = matmul(a, g); // [..., K, M]·[..., M, N]
    } else if (!transA && transB) {
      da = matmul(g, b); // [..., M, N]·[..., N, K]
      db = matmul(g, a, { transA: true }); // [..., N, M]·[..., M, K]
    } else {
      da = matmul(b, g, { transA: true, transB: true }); // [..., K, N]·[..., N, M]
      db = matmul(g, a, { transA: true, transB: true }); // [..., N, M]·[..., M, K]
    }
    return [sumTo(da, a.shape), sumTo(db, b.shape)];
  },
  cast: (n, g) => [isFloat(inp(n, 0).dtype) && isFloat(g.dtype) ? cast(g, inp(n, 0).dtype) : null],
  softmax: (n, g) => [softmaxBackward(n.out, g, n.attrs.axis, false)],
  logSoftmax: (n, g) => [softmaxBackward(n.out, g, n.attrs.axis, true)],
  layerNorm: (n, g) => {
    const { hasWeight, hasBias, mean, rstd } = n.attrs;
    const w = hasWeight ? inp(n, 1) : undefined;
    const r = layerNormBackward(inp(n, 0), w, g, mean, rstd, hasBias);
    return [
      r.dx,
      ...(hasWeight ? [needs(n, 1) ? r.dw : null] : []),
      ...(hasBias ? [needs(n, hasWeight ? 2 : 1) ? r.db : null] : []),
    ];
  },
  rmsNorm: (n, g) => {
    const w = n.attrs.hasWeight ? inp(n, 1) : undefined;
    const r = rmsNormBackward(inp(n, 0), w, g, n.attrs.rstd);
    return w ? [r.dx, r.dw] : [r.dx];
  },
  crossEntropy: (n, g) => {
    const { targets, weights, spent } = n.attrs;
    // the first pass takes the forward's exps and writes dx over them (nothing else reads them); a second pass
    // over the same tape finds them spent and computes them again, the same way the forward did
    const first = !spent.value;
    spent.value = true;
    const e = first ? n.attrs : crossEntropyExps(inp(n, 0), targets, weights);
    return [crossEntropyBackward(inp(n, 0), g, targets, weights, e.exps, e.invSum, first)];
  },
  gelu: (n, g) => [
    geluBackward(inp(n, 0), g, n.attrs.approximate, n.attrs.rounded ? n.out : undefined, n.attrs.gate ?? undefined),
  ],
  silu: (n, g) => [siluBackward(inp(n, 0), g)],
  rope: (n, g) => {
    const x = inp(n, 0);
    const dx = empty(x.shape, x.dtype); // same as x (ropeKernel writes every element)
    const D = x.shape[x.rank - 1] as number;
    const cos = inp(n, 1);
    const cosRows = cos.size / (n.attrs.rotaryDim / 2);
    ropeKernel(g.data, cos.data, inp(n, 2).data, dx.data, cosRows, D, n.attrs.rotaryDim, n.attrs.interleaved, -1);
    return [dx, null, null];
  },
  attention: (n, g) => {
    const p = n.attrs.pattern as Tensor; // [batch, head, T, S]
    const { scale, tokenMajor, hasMask } = n.attrs;
    const fast = getBackend().attentionBackward?.(inp(n, 0), inp(n, 1), inp(n, 2), p, g, scale, tokenMajor) ?? null;
    if (fast !== null) return hasMask ? [...fast, null] : fast;
    // token-major operands ([batch, pos, head, d]) are made head-major for the products, and their gradients back
    const hm = (t: Tensor) => (n.attrs.tokenMajor ? permute(t, [0, 2, 1, 3]) : t); // swaps pos and head
    const [q, k, v, gh] = [hm(inp(n, 0)), hm(inp(n, 1)), hm(inp(n, 2)), hm(g)]; // [batch, head, pos, d]
    const dv = matmul(p, gh, { transA: true }); // [batch, head, S, Dv]
    const dp = matmul(gh, v, { transB: true }); // [batch, head, T, S]
    const ds = attentionScoresBackward(p, dp, scale); // [batch, head, T, S]
    const dq = matmul(ds, k); // [batch, head, T, D]
    const dk = matmul(ds, q, { transA: true }); // [batch, head, S, D]
    const grads = [hm(dq), hm(dk), hm(dv)]; // the operands' layout
    return hasMask ? [...grads, null] : grads;
  },
};

/**
 * The gradient a slice or a gather sends its input, kept sparse — a block at `begin`, or rows at `idx` along
 * `axis` — for backprop to add into a gradient it already holds instead of materializing a dense one of the
 * input's size (zeros, then the block or rows) and summing the two: a q/k/v split is three slices of one
 * tensor, and the token embedding a gather from a table that the tied unembedding also reaches. Null for
 * every other node.
 */
export type SparseGrad =
  | { readonly kind: "block"; readonly g: Tensor; readonly begin: readonly number[] }
  | { readonly kind: "rows"; readonly g: Tensor; readonly idx: Int32Array; readonly axis: number };

export function sparseGrad(node: TapeNode, g: Tensor): SparseGrad | null {
  if (node.prim === "slice") return { kind: "block", g, begin: (node as TapeNode<"slice">).attrs.begin };
  if (node.prim === "gather")
    return { kind: "rows", g, idx: inp(node, 1).data as Int32Array, axis: (node as TapeNode<"gather">).attrs.axis };
  return null;
}

/** dst += the sparse gradient, in place; dst is the dense gradient of the sliced or gathered tensor. */
export function addSparseInto(dst: Tensor, sp: SparseGrad): void {
  const { shape } = dst;
  if (sp.kind === "block") mv.placeAdd(sp.g.data, sp.g.shape, dst.data, shape, sp.begin);
  else {
    const a = sp.axis;
    mv.scatterAdd(sp.g.data, sp.idx, sizeOf(shape.slice(0, a)), shape[a] as number, sizeOf(shape.slice(a + 1)), dst.data);
  }
}

/** dst += src elementwise, in place (one shape, one dtype). */
export function addInto(dst: Tensor, src: Tensor): void {
  arith("add", dst.data, dst.shape, src.data, src.shape, dst.data, dst.shape);
}

/**
 * Whether the rule of `prim` returns, for each input, a tensor of its own making that nothing else holds (the
 * products of matmul's rule, slice's padded block, gather's scatter): backprop may then add into it in place.
 * Rules that pass their cotangent through (add's, reshape's) do not.
 */
export function freshGrads(prim: Prim): boolean {
  return prim === "matmul" || prim === "linear" || prim === "slice" || prim === "gather";
}

/**
 * The gradients of one tape node's inputs given its output's cotangent (autodiff's backward pass calls it; the
 * import cycle ops → autodiff → vjp → ops resolves because both sides only call each other after loading).
 */
export function vjpRule(node: TapeNode, g: Tensor): Grads {
  return (rules[node.prim] as (n: TapeNode, g: Tensor) => Grads)(node, g);
}
