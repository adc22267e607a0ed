// Backends supply the heavy kernels. `ref` is plain TypeScript (f32 and f64, the oracle and the fallback);
// `ort` runs matmuls on onnxruntime-node's MLAS, and, for large f32 tensors, the GELU, the softmax of attention
// and of the cross-entropy (vectorized, on every thread: the costliest elementwise work of a batched forward pass,
// ~10–25 ns an element in JavaScript). Every other op runs the shared TypeScript kernels.
import { type MatmulPlan, matmulRef } from "./kernels/matmul.js";
import type { Program } from "./program.js";
import type { Tensor } from "./tensor.js";
import { empty } from "./tensor.js";

export type BackendName = "ref" | "ort";

export interface Backend {
  readonly name: BackendName;
  /** out = op(a) · op(b) per `plan`; a and b share a dtype. */
  matmul(a: Tensor, b: Tensor, transA: boolean, transB: boolean, plan: MatmulPlan): Tensor;
  /**
   * op(a) · op(b_i) for each b_i, the same numbers as that many `matmul` calls; a backend whose calls carry a
   * fixed cost (`ort`: one worker round trip each) runs them as one.
   */
  matmuls(a: Tensor, bs: readonly Tensor[], transA: boolean, transB: boolean, plans: readonly MatmulPlan[]): Tensor[];
  /**
   * x·op(w) + bias in one call (the bias added to each product once, as a separate add would), or null where the
   * backend leaves it to `matmul` and an add (too small a product).
   */
  linear?(x: Tensor, w: Tensor, bias: Tensor, transB: boolean, plan: MatmulPlan): Tensor | null;
  /**
   * GELU of `x` ("tanh": GPT-2's gelu_new; "none": the erf form), or null where the backend leaves it to the
   * TypeScript kernel (a dtype or a size it does not take). Within a few float32 ulps of that kernel. With
   * `withGate` also the gate g, out = x·g (σ(2u) of the tanh form, Φ(x) of the erf form), which the backward
   * pass reads instead of computing an exp or an erf per element.
   */
  gelu?(x: Tensor, approximate: "tanh" | "none", withGate: boolean): { out: Tensor; gate: Tensor | null } | null;
  /**
   * Softmax over the last axis, or null (the TypeScript kernel then runs). Within a few float32 ulps of that
   * kernel; a row whose every entry is −∞ comes back NaN, so callers that can meet one check first.
   */
  softmax?(x: Tensor): Tensor | null;
  /**
   * softmax(q·kᵀ·scale + mask)·v and the pattern, q [batch, head, T, d], k and v [batch, head, S, ·] (token-major:
   * [batch, pos, head, ·], the output too), the mask broadcasting to [batch, head, T, S] and hiding no row whole;
   * or null (the TypeScript kernel then runs).
   */
  attention?(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor,
    scale: number,
    tokenMajor: boolean,
  ): { out: Tensor; pattern: Tensor } | null;
  /**
   * A program (program.ts) in one call, its inputs untaped and its attention masks hiding no row; or null where
   * the backend does not run this one (a dtype it does not take), and the caller runs it op by op.
   */
  program?(program: Program, inputs: Readonly<Record<string, Tensor>>): Tensor | null;
  /** The gradients (dq, dk, dv) of `attention` from its saved pattern and the output's cotangent g, or null. */
  attentionBackward?(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    pattern: Tensor,
    g: Tensor,
    scale: number,
    tokenMajor: boolean,
  ): [Tensor, Tensor, Tensor] | null;
}

export const refBackend: Backend = {
  name: "ref",
  matmul(a, b, transA, transB, plan) {
    const out = empty(plan.outShape, a.dtype); // [...batch, M, N]; the kernel writes every element
    matmulRef(a.data, a.shape, b.data, b.shape, transA, transB, plan, out.data);
    return out;
  },
  matmuls(a, bs, transA, transB, plans) {
    return bs.map((b, i) => this.matmul(a, b, transA, transB, plans[i] as MatmulPlan));
  },
};

type Loader = () => Backend;
let ortLoader: Loader | null = null;
let current: Backend | null = null;

/** A backend was asked for by name (`useBackend`, `LLMDBG_BACKEND`) and cannot run here. */
export class BackendUnavailableError extends Error {
  constructor(name: BackendName, reason: string) {
    super(`the '${name}' backend is not available: ${reason}`);
    this.name = "BackendUnavailableError";
  }
}

/** ort/backend.ts registers itself here so this module stays free of Node-only imports. */
export function registerOrtLoader(load: Loader): void {
  ortLoader = load;
}

/** The backend called `name`, or a BackendUnavailableError that says why not (and `hint`). */
function load(name: BackendName, hint = ""): Backend {
  if (name === "ref") return refBackend;
  if (ortLoader === null) {
    throw new BackendUnavailableError(
      name,
      `onnxruntime-node is not loaded in this environment (the package's Node entry registers it)${hint}`,
    );
  }
  try {
    return ortLoader();
  } catch (e) {
    throw new BackendUnavailableError(name, `${(e as Error).message}${hint}`);
  }
}

/**
 * The backend in use: chosen by `useBackend`, else `LLMDBG_BACKEND` (ref | ort), else ort when the Node entry
 * registered it, else ref. A backend that cannot load is an error, never a silent switch to another: results
 * and timings would otherwise come from a backend nobody chose.
 */
export function getBackend(): Backend {
  if (current === null) {
    const env = globalThis.process?.env?.LLMDBG_BACKEND;
    if (env !== undefined && env !== "" && env !== "ref" && env !== "ort") {
      throw new Error(`LLMDBG_BACKEND must be 'ref' or 'ort', got '${env}'`);
    }
    if (env === "ref" || env === "ort") current = load(env);
    else if (ortLoader === null) current = refBackend;
    else current = load("ort", "; set LLMDBG_BACKEND=ref to use the plain-TypeScript backend instead");
  }
  return current;
}

/**
 * Sets the process's default backend for all later ops and returns it; throws BackendUnavailableError when it
 * cannot load. Code that serves several callers uses `withBackend`, which restores the previous one.
 * @example useBackend("ref")
 */
export function useBackend(name: BackendName): Backend {
  current = load(name);
  return current;
}

/**
 * Runs `fn` with `backend` (a name or an instance) and restores the backend in use before, even if `fn` throws.
 * @example const exact = withBackend("ref", () => matmul(a, b))
 */
export function withBackend<T>(backend: BackendName | Backend, fn: () => T): T {
  const prev = current;
  current = typeof backend === "string" ? load(backend) : backend;
  try {
    return fn();
  } finally {
    current = prev;
  }
}
