// Finite-difference gradient checking in float64: compares the tape's vector-Jacobian product against
// central differences of <cotangent, f(x)>, and reports the relative error so failures print a number.
import { randn, type Tensor, vjp } from "../src/index.js";

export interface GradReport {
  /** worst relative error over the inputs: ||analytic - numeric|| / max(||analytic||, ||numeric||, 1e-12) */
  relErr: number;
  perInput: number[];
}

function dot(a: Tensor, b: Tensor): number {
  let s = 0;
  for (let i = 0; i < a.size; i++) s += (a.data[i] as number) * (b.data[i] as number);
  return s;
}

/** Checks the gradient of `f` at `inputs` (f64) with respect to the inputs listed in `wrt` (default: all floats). */
export function gradcheck(
  f: (...xs: Tensor[]) => Tensor,
  inputs: Tensor[],
  opts: { wrt?: number[]; h?: number; seed?: number } = {},
): GradReport {
  const h = opts.h ?? 1e-6;
  const wrt = opts.wrt ?? inputs.map((x, i) => (x.dtype === "f64" ? i : -1)).filter((i) => i >= 0);
  const { out, backward } = vjp((...xs) => [f(...xs)], inputs);
  const y = out[0] as Tensor;
  const ct = randn(y.shape, opts.seed ?? 7, "f64");
  const { grads } = backward([ct]);
  const perInput = wrt.map((i) => {
    const x = inputs[i] as Tensor;
    const g = grads[i] as Tensor;
    if (g.shape.join() !== x.shape.join()) throw new Error(`gradient shape [${g.shape}] != input shape [${x.shape}]`);
    let num2 = 0;
    let ana2 = 0;
    let diff2 = 0;
    for (let k = 0; k < x.size; k++) {
      const orig = x.data[k] as number;
      x.data[k] = orig + h;
      const fp = dot(f(...inputs), ct);
      x.data[k] = orig - h;
      const fm = dot(f(...inputs), ct);
      x.data[k] = orig;
      const num = (fp - fm) / (2 * h);
      const ana = g.data[k] as number;
      num2 += num * num;
      ana2 += ana * ana;
      diff2 += (num - ana) ** 2;
    }
    return Math.sqrt(diff2) / Math.max(Math.sqrt(ana2), Math.sqrt(num2), 1e-12);
  });
  return { relErr: Math.max(0, ...perInput), perInput };
}
