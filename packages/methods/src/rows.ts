// Reading one row of logits in float64, the way every method scores a prediction without gradients: the top
// token, the log-softmax, and an objective (a logit, a log-probability or a probability).
import type { AttributionObjective } from "@llmdbg/protocol";

/** The index of the largest entry (the first of equal ones, as argmax does). */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let v = 1; v < row.length; v++) if ((row[v] as number) > (row[best] as number)) best = v;
  return best;
}

/** log-softmax of a row, in float64 (max-subtracted). */
export function logSoftmaxRow(row: ArrayLike<number>): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i] as number);
  let z = 0;
  for (let i = 0; i < row.length; i++) z += Math.exp((row[i] as number) - max);
  const lz = max + Math.log(z);
  return Float64Array.from(row, (v) => v - lz);
}

/** A token's logit, log-probability or probability in a row of logits. */
export function objectiveOfRow(row: ArrayLike<number>, token: number, kind: AttributionObjective): number {
  if (kind === "logit") return row[token] as number;
  const lp = logSoftmaxRow(row)[token] as number;
  return kind === "prob" ? Math.exp(lp) : lp;
}

/** KL(p ‖ q) of two log-distributions. */
export function klDivergence(logp: ArrayLike<number>, logq: ArrayLike<number>): number {
  let kl = 0;
  for (let i = 0; i < logp.length; i++) kl += Math.exp(logp[i] as number) * ((logp[i] as number) - (logq[i] as number));
  return kl;
}
