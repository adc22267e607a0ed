// A program (../program.ts) lowered to onnxruntime nodes for one session: layer norm as two-pass ReduceMean nodes
// (onnxruntime's LayerNormalization takes E[x²] − E[x]² in float32, which cancels where a residual stream's mean is
// large), linear as MatMul (FusedMatMul when transposed) and Add, split as Split, attention as the documented
// contrib MultiHeadAttention with the mask as its attention_bias, GELU as FastGelu or Gelu.
import type { Program } from "../program.js";
import { fusedMatMul, type NodeSpec } from "./onnx.js";

/**
 * The nodes computing `program` from inputs of the given ranks, and the scalar constants the graph reads as
 * extra inputs (epsilons), by name.
 */
export function lowerProgram(
  program: Program,
  inputs: readonly { readonly name: string; readonly rank: number }[],
): { nodes: NodeSpec[]; consts: { name: string; value: number }[] } {
  const rank = new Map(inputs.map(({ name, rank }) => [name, rank]));
  const rankOf = (v: string) => {
    const r = rank.get(v);
    if (r === undefined) throw new Error(`ort program: reads '${v}' before any step writes it`);
    return r;
  };
  const consts: { name: string; value: number }[] = [];
  const konst = (value: number): string => {
    const name = `_c${consts.length}`;
    consts.push({ name, value }); // a scalar input of the graph
    return name;
  };
  const nodes: NodeSpec[] = [];
  for (const st of program.steps) {
    switch (st.op) {
      case "layerNorm": {
        const r = rankOf(st.x);
        const o = st.out;
        const axes = { axes: [r - 1] };
        nodes.push(
          { op: "ReduceMean", inputs: [st.x], outputs: [`${o}_m`], ints: axes, int: { keepdims: 1 } },
          { op: "Sub", inputs: [st.x, `${o}_m`], outputs: [`${o}_c`] },
          { op: "Mul", inputs: [`${o}_c`, `${o}_c`], outputs: [`${o}_c2`] },
          { op: "ReduceMean", inputs: [`${o}_c2`], outputs: [`${o}_v`], ints: axes, int: { keepdims: 1 } },
          { op: "Add", inputs: [`${o}_v`, konst(st.eps)], outputs: [`${o}_ve`] },
          { op: "Sqrt", inputs: [`${o}_ve`], outputs: [`${o}_sd`] },
          { op: "Div", inputs: [`${o}_c`, `${o}_sd`], outputs: [`${o}_n`] },
          { op: "Mul", inputs: [`${o}_n`, st.weight], outputs: [`${o}_w`] },
          { op: "Add", inputs: [`${o}_w`, st.bias], outputs: [o] },
        );
        rank.set(o, r);
        break;
      }
      case "linear": {
        const mm: NodeSpec = st.transB
          ? fusedMatMul(st.x, st.weight, `${st.out}_mm`, 0, 1)
          : { op: "MatMul", inputs: [st.x, st.weight], outputs: [`${st.out}_mm`] };
        nodes.push(mm, { op: "Add", inputs: [`${st.out}_mm`, st.bias], outputs: [st.out] });
        rank.set(st.out, rankOf(st.x));
        break;
      }
      case "split": {
        const r = rankOf(st.x);
        // no `split` input: equal parts, one per output (Split-13)
        nodes.push({ op: "Split", inputs: [st.x], outputs: [...st.outs], int: { axis: r - 1 } });
        for (const o of st.outs) rank.set(o, r);
        break;
      }
      case "attention": {
        const attn: NodeSpec = {
          op: "MultiHeadAttention",
          domain: "com.microsoft",
          // query, key, value, (bias), (key_padding_mask), attention_bias
          inputs: [st.q, st.k, st.v, "", "", st.mask],
          outputs: [st.out],
          int: { num_heads: st.heads },
          float: { scale: st.scale },
        };
        nodes.push(attn);
        rank.set(st.out, rankOf(st.q));
        break;
      }
      case "gelu":
        nodes.push({
          op: st.approximate === "tanh" ? "FastGelu" : "Gelu",
          domain: "com.microsoft",
          inputs: [st.x],
          outputs: [st.out],
        });
        rank.set(st.out, rankOf(st.x));
        break;
      case "add":
        nodes.push({ op: "Add", inputs: [st.a, st.b], outputs: [st.out] });
        rank.set(st.out, Math.max(rankOf(st.a), rankOf(st.b)));
        break;
    }
  }
  return { nodes, consts };
}
