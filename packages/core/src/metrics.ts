// Small, differentiable readings of a model's output, the losses of attribution and patching: a token's logit,
// the difference of two logits, a token's log-probability. Each returns a one-element tensor, so it can be a
// `grads.loss` directly.
import { fmt, logSoftmax, narrow, reshape, ShapeError, sub, type Tensor } from "@llmdbg/tensor";

export interface At {
  /** the position (default −1, the last; negative counts from the end); ignored for [batch, label] outputs */
  readonly position?: number;
  /** the batch row (default 0) */
  readonly batch?: number;
}

/** The row of logits [d_vocab] (or [label]) at `at`, from [batch, pos, d_vocab] or [batch, label]. */
function row(logits: Tensor, at: At): Tensor {
  if (logits.rank !== 2 && logits.rank !== 3)
    throw new ShapeError(`expected logits [batch, pos, d_vocab] or [batch, label], got ${fmt(logits.shape)}`);
  const pick = (t: Tensor, axis: number, i: number, what: string): Tensor => {
    const n = t.shape[axis] as number;
    if (!Number.isInteger(i) || i < -n || i >= n) throw new RangeError(`${what} ${i} out of range [-${n}, ${n})`);
    return narrow(t, axis, i < 0 ? n + i : i, 1);
  };
  let r = pick(logits, 0, at.batch ?? 0, "batch"); // [1, pos, d_vocab] or [1, label]
  if (logits.rank === 3) r = pick(r, 1, at.position ?? -1, "position"); // [1, 1, d_vocab]
  return reshape(r, [-1]); // [d_vocab]
}

function entry(v: Tensor, token: number): Tensor {
  const n = v.shape[0] as number;
  if (!Number.isInteger(token) || token < 0 || token >= n) throw new RangeError(`token ${token} out of range [0, ${n})`);
  return reshape(narrow(v, 0, token, 1), []); // []
}

/**
 * The logit of `token` at the last position (or `at`).
 * @example run(model, ids, { grads: { hooks: "hook_embed", loss: (out) => logitOf(out, paris) } })
 */
export function logitOf(logits: Tensor, token: number, at: At = {}): Tensor {
  return entry(row(logits, at), token);
}

/**
 * logit(a) − logit(b) at the last position (or `at`): the usual metric of activation patching.
 * @example logitDiff(output, tokenizer.encode(" Mary")[0], tokenizer.encode(" John")[0])
 */
export function logitDiff(logits: Tensor, a: number, b: number, at: At = {}): Tensor {
  const r = row(logits, at);
  return sub(entry(r, a), entry(r, b)); // []
}

/** log p(token) at the last position (or `at`), from the log-softmax of that row. */
export function logProb(logits: Tensor, token: number, at: At = {}): Tensor {
  return entry(logSoftmax(row(logits, at)), token);
}

/**
 * The k largest entries of one row of logits with their softmax probabilities (in f64), best first; ties
 * keep vocabulary order, as argmax does.
 * @example topK(logits.data.subarray(0, V), 5) // [{ id, logit, prob }, …]
 */
export function topK(row: ArrayLike<number>, k: number): { id: number; logit: number; prob: number }[] {
  let mx = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < row.length; i++) mx = Math.max(mx, row[i] as number);
  let total = 0;
  for (let i = 0; i < row.length; i++) total += Math.exp((row[i] as number) - mx);
  // a sorted window of the best k: O(V·k) with k small beats sorting a 150k vocabulary per position
  const best: number[] = [];
  for (let i = 0; i < row.length; i++) {
    const v = row[i] as number;
    if (best.length === k && v <= (row[best[k - 1] as number] as number)) continue;
    let j = best.length < k ? best.length : k - 1;
    while (j > 0 && v > (row[best[j - 1] as number] as number)) j--;
    best.splice(j, 0, i);
    if (best.length > k) best.pop();
  }
  return best.map((id) => ({ id, logit: row[id] as number, prob: Math.exp((row[id] as number) - mx) / total }));
}
