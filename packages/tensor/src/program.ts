// Programs: a short chain of the fused ops (layer norm, linear, an equal split, token-major multi-head attention,
// GELU, add) that a backend may run in one call. A batched forward pass with nothing observed inside a
// transformer block spends a third of its time outside the matmuls, in single-threaded TypeScript kernels and one
// worker round trip per op; the `ort` backend runs a whole block as one onnxruntime session instead, every
// elementwise op vectorized on every thread. Programs run off the tape only (no input may carry gradient history),
// so they have no backward rule: an architecture asks for one where a block is forward-only and unobserved, and
// runs its ordinary ops where `runProgram` returns null (the `ref` backend, a tape, a mask that hides a row).
import { record } from "./autodiff.js";
import { getBackend } from "./backend.js";
import { hidesRow } from "./fused.js";
import { type Shape, ShapeError } from "./shape.js";
import type { Tensor } from "./tensor.js";

/** One step: reads named values (inputs or earlier outputs), writes named values. */
export type ProgramStep =
  /** layer norm over the last axis (biased variance, two passes), then weight and bias */
  | {
      readonly op: "layerNorm";
      readonly x: string;
      readonly weight: string;
      readonly bias: string;
      readonly eps: number;
      readonly out: string;
    }
  /** x·w + bias; w [in, out], or [out, in] with transB */
  | {
      readonly op: "linear";
      readonly x: string;
      readonly weight: string;
      readonly bias: string;
      readonly transB: boolean;
      readonly out: string;
    }
  /** the last axis cut into `outs.length` equal parts */
  | { readonly op: "split"; readonly x: string; readonly outs: readonly string[] }
  /**
   * softmax(q·kᵀ·scale + mask)·v per head, q, k, v and the output token-major [batch, pos, heads·d_head]; the mask
   * [batch or 1, 1, T, S] additive, hiding no row whole
   */
  | {
      readonly op: "attention";
      readonly q: string;
      readonly k: string;
      readonly v: string;
      readonly mask: string;
      readonly heads: number;
      readonly scale: number;
      readonly out: string;
    }
  | { readonly op: "gelu"; readonly x: string; readonly approximate: "tanh" | "none"; readonly out: string }
  | { readonly op: "add"; readonly a: string; readonly b: string; readonly out: string };

export interface Program {
  readonly steps: readonly ProgramStep[];
  /** the value returned, and its shape */
  readonly output: string;
  readonly outShape: Shape;
}

/**
 * Runs `program` on `inputs` in one backend call, or returns null where it cannot: the backend runs no programs,
 * an input carries gradient history (a tape is recording through it), or an attention mask hides a whole row.
 * The caller then runs the same computation op by op.
 * @example const out = runProgram(block, { x, mask, ln1_w, ... }) ?? blockOpByOp(x) // [batch, pos, d_model]
 */
export function runProgram(program: Program, inputs: Readonly<Record<string, Tensor>>): Tensor | null {
  const be = getBackend();
  if (be.program === undefined) return null;
  const ts = Object.values(inputs);
  if (ts.some((t) => t.tape !== null)) return null;
  for (const s of program.steps) {
    if (s.op !== "attention") continue;
    const mask = inputs[s.mask];
    if (mask === undefined) throw new ShapeError(`runProgram: the attention mask '${s.mask}' is not an input`);
    if (hidesRow(mask)) return null;
  }
  const out = be.program(program, inputs);
  // no tape can hold it (no input is on one); recorded so that a profile sees its time as the program's
  return out === null ? null : record("program", { steps: program.steps.length }, ts, out);
}
