// A minimal ONNX ModelProto encoder for the small graphs the `ort` backend runs (an op, a fused op, a program), and
// the node helpers they share. Hand-written because the graphs are small and fixed; a protobuf library would add a dependency and code generation for ~60 lines.
// Field numbers follow onnx/onnx.proto (IR version 8, opset 17).

const utf8 = new TextEncoder();

function varint(n: number, out: number[]): void {
  let v = n;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

function tag(field: number, wire: number, out: number[]): void {
  varint((field << 3) | wire, out);
}

function bytes(field: number, b: readonly number[] | Uint8Array, out: number[]): void {
  tag(field, 2, out);
  varint(b.length, out);
  for (const x of b) out.push(x);
}

const str = (field: number, s: string, out: number[]): void => bytes(field, utf8.encode(s), out);

function int(field: number, v: number, out: number[]): void {
  tag(field, 0, out);
  varint(v, out);
}

function float32(field: number, v: number, out: number[]): void {
  tag(field, 5, out);
  const b = new Uint8Array(new Float32Array([v]).buffer); // little-endian, as protobuf's fixed32
  for (const x of b) out.push(x);
}

/** ONNX TensorProto.DataType codes. */
export const ONNX_FLOAT = 1;
export const ONNX_DOUBLE = 11;

export interface ValueInfo {
  name: string;
  elemType: number;
  /** Each dimension fixed (a number) or symbolic (a name): symbolic dims let one session serve every size. */
  shape: readonly (number | string)[];
}

export interface NodeSpec {
  op: string;
  /** operator domain: "" is standard ONNX; "com.microsoft" holds onnxruntime's documented contrib ops */
  domain?: string;
  inputs: string[];
  outputs: string[];
  /** integer-list attributes (perm), integer and float attributes: all these graphs need */
  ints?: Record<string, number[]>;
  int?: Record<string, number>;
  float?: Record<string, number>;
}

function valueInfo(v: ValueInfo): number[] {
  const dims: number[] = [];
  for (const d of v.shape) {
    const dim: number[] = [];
    if (typeof d === "number")
      int(1, d, dim); // Dimension.dim_value
    else str(2, d, dim); // Dimension.dim_param
    bytes(1, dim, dims); // TensorShapeProto.dim
  }
  const tensorType: number[] = [];
  int(1, v.elemType, tensorType); // TypeProto.Tensor.elem_type
  bytes(2, dims, tensorType); // TypeProto.Tensor.shape
  const type: number[] = [];
  bytes(1, tensorType, type); // TypeProto.tensor_type
  const out: number[] = [];
  str(1, v.name, out);
  bytes(2, type, out);
  return out;
}

function node(n: NodeSpec): number[] {
  const out: number[] = [];
  for (const i of n.inputs) str(1, i, out);
  for (const o of n.outputs) str(2, o, out);
  str(4, n.op, out);
  if (n.domain) str(7, n.domain, out);
  for (const [name, vals] of Object.entries(n.ints ?? {})) {
    const a: number[] = [];
    str(1, name, a);
    int(20, 7, a); // AttributeProto.type = INTS
    for (const v of vals) int(8, v, a);
    bytes(5, a, out);
  }
  for (const [name, v] of Object.entries(n.int ?? {})) {
    const a: number[] = [];
    str(1, name, a);
    int(20, 2, a); // AttributeProto.type = INT
    int(3, v, a);
    bytes(5, a, out);
  }
  for (const [name, v] of Object.entries(n.float ?? {})) {
    const a: number[] = [];
    str(1, name, a);
    int(20, 1, a); // AttributeProto.type = FLOAT
    float32(2, v, a);
    bytes(5, a, out);
  }
  return out;
}

/** Encodes a graph of `nodes` with typed, fully static inputs and outputs. */
export function encodeModel(nodes: NodeSpec[], inputs: ValueInfo[], outputs: ValueInfo[]): Uint8Array {
  const graph: number[] = [];
  for (const n of nodes) bytes(1, node(n), graph);
  str(2, "llmdbg", graph);
  for (const i of inputs) bytes(11, valueInfo(i), graph);
  for (const o of outputs) bytes(12, valueInfo(o), graph);
  const model: number[] = [];
  int(1, 8, model); // ir_version
  bytes(7, graph, model);
  const domains = new Set(["", ...nodes.map((n) => n.domain ?? "")]);
  for (const d of domains) {
    const opset: number[] = [];
    str(1, d, opset);
    int(2, d === "" ? 17 : 1, opset);
    bytes(8, opset, model); // ModelProto.opset_import
  }
  return Uint8Array.from(model);
}

/**
 * a·b with either operand read transposed in place and the product scaled by `alpha` (onnxruntime's documented
 * FusedMatMul contrib op: a Transpose node would copy the operand first).
 */
export function fusedMatMul(a: string, b: string, out: string, transA: 0 | 1, transB: 0 | 1, alpha = 1): NodeSpec {
  return {
    op: "FusedMatMul",
    domain: "com.microsoft",
    inputs: [a, b],
    outputs: [out],
    int: { transA, transB },
    float: { alpha },
  };
}
