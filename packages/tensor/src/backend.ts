// Backends supply the heavy kernels. `ref` is plain TypeScript (f32 and f64, the oracle and the fallback);
// `ort` runs matmuls on onnxruntime-node's MLAS. Every other op runs the shared TypeScript kernels.
import { type MatmulPlan, matmulRef } from "./kernels/matmul.js";
import type { Tensor } from "./tensor.js";
import { empty } from "./tensor.js";

export type BackendName = "ref" | "ort";

export interface Backend {
  readonly name: BackendName;
  /** out = op(a) · op(b) per `plan`; a and b share a dtype. */
  matmul(a: Tensor, b: Tensor, transA: boolean, transB: boolean, plan: MatmulPlan): Tensor;
}

export const refBackend: Backend = {
  name: "ref",
  matmul(a, b, transA, transB, plan) {
    const out = empty(plan.outShape, a.dtype); // [...batch, M, N]; the kernel writes every element
    matmulRef(a.data, a.shape, b.data, b.shape, transA, transB, plan, out.data);
    return out;
  },
};

type Loader = () => Backend;
let ortLoader: Loader | null = null;
let current: Backend | null = null;
let warned = false;

/** ort/backend.ts registers itself here so this module stays free of Node-only imports. */
export function registerOrtLoader(load: Loader): void {
  ortLoader = load;
}

function load(name: BackendName): Backend {
  if (name === "ref") return refBackend;
  try {
    if (ortLoader === null) throw new Error("the ort backend is not available in this environment");
    return ortLoader();
  } catch (e) {
    if (!warned) {
      warned = true;
      console.warn(`llmdbg: onnxruntime backend unavailable, using the slow 'ref' backend: ${(e as Error).message}`);
    }
    return refBackend;
  }
}

/**
 * The backend in use: chosen by `useBackend`, else `LLMDBG_BACKEND` (ref | ort), else ort (falling back to
 * ref with a warning) when the Node entry registered it, else ref.
 */
export function getBackend(): Backend {
  if (current === null) {
    const env = globalThis.process?.env?.LLMDBG_BACKEND;
    if (env !== undefined && env !== "" && env !== "ref" && env !== "ort") {
      throw new Error(`LLMDBG_BACKEND must be 'ref' or 'ort', got '${env}'`);
    }
    // without the Node entry there is no onnxruntime to try, so plain `ref` is the default, not a fallback
    current = load((env as BackendName | undefined) || (ortLoader ? "ort" : "ref"));
  }
  return current;
}

/**
 * Switches backend for all later ops and returns the one now in use (ref if ort cannot load).
 * @example useBackend("ref")
 */
export function useBackend(name: BackendName): Backend {
  current = load(name);
  return current;
}
