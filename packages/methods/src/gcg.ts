// Greedy coordinate gradient (Zou et al. 2023): a suffix of k tokens appended to the prompt, optimized so that the
// model produces a target string. The loss is Σ_j −log p(t_j | prompt, suffix, t_<j), the target teacher-forced
// after the suffix. Each step:
//
//   1. the gradient of the loss w.r.t. the one-hot suffix tokens, g_i·E[v] for position i and token v (one
//      forward and backward pass);
//   2. the top-k tokens per position by the most negative gradient (the largest first-order decrease);
//   3. `candidates` single-token substitutions, positions spread evenly over the suffix (as the reference
//      implementation does) and tokens drawn from that position's top-k by the seeded generator;
//   4. all evaluated by batched forward passes; the best becomes the suffix, even when it is worse (the
//      reference's rule: the search must be able to leave a local minimum), the best ever seen is reported.
//
// It stops when greedy decoding produces the target (every teacher-forced argmax is the next target token, which
// is exactly greedy decoding's path), after `steps`, or when `timeMs` has passed (checked between steps).
import { logProb, type TransformerModel } from "@llmdbg/core";
import type { AdversarialRequest, AdversarialResult, TokenInput } from "@llmdbg/protocol";
import { add, neg, type Tensor } from "@llmdbg/tensor";
import { checkAborted, checkToken, inputIds, type MethodOptions, MethodRequestError, tokenRef } from "./common.js";
import { rng } from "./perturbation.js";
import {
  embeddingGradient,
  forEachOutput,
  insertableTokens,
  oneHotGradient,
  positiveInt,
  type RowStats,
  rowStats,
  topScore,
} from "./token-search.js";

/** The target string's ids: text encoded without special tokens, or ids checked against the vocabulary. */
function targetIds(model: TransformerModel, t: TokenInput | undefined): number[] {
  if (t === undefined) throw new MethodRequestError("targetString", "gcg needs the string the model should produce");
  if ("text" in t) {
    const tok = model.tokenizer;
    if (tok === undefined) throw new MethodRequestError("targetString.text", "the model has no tokenizer; pass targetString.ids");
    const ids = tok.encode(t.text, { addSpecialTokens: false });
    if (ids.length === 0) throw new MethodRequestError("targetString.text", `${JSON.stringify(t.text)} encodes to no tokens`);
    return ids;
  }
  if (t.ids.length === 0) throw new MethodRequestError("targetString.ids", "is empty");
  for (const [i, id] of t.ids.entries()) checkToken(model, id, `targetString.ids[${i}]`);
  return [...t.ids];
}

/** A suffix and what the model does with it: the loss, each target position's row, and whether greedy decoding follows the target. */
interface Scored {
  readonly suffix: readonly number[];
  readonly loss: number;
  readonly rows: readonly RowStats[];
  readonly greedy: boolean;
}

/** Scores prompt + suffix + target from its logits [pos, d_vocab]: the rows P+k−1 … P+k+m−2 predict the target. */
function score(
  logits: ArrayLike<number>,
  width: number,
  first: number,
  target: readonly number[],
  suffix: readonly number[],
): Scored {
  const rows: RowStats[] = [];
  let loss = 0;
  let greedy = true;
  for (const [j, t] of target.entries()) {
    const at = (first + j) * width;
    const s = rowStats(Float64Array.from({ length: width }, (_, v) => logits[at + v] as number));
    rows.push(s);
    loss -= (s.row[t] as number) - s.logZ;
    if (s.top !== t) greedy = false;
  }
  return { suffix, loss, rows, greedy };
}

/**
 * GCG: a suffix optimized so that prompt + suffix makes the model produce the target string.
 * @example gcg(model, { kind: "adversarial", method: "gcg", input: { text }, targetString: { text: " Sure" }, steps: 50 })
 */
export function gcg(model: TransformerModel, req: AdversarialRequest, opts: MethodOptions = {}): AdversarialResult {
  const prompt = inputIds(model, req.input);
  const target = targetIds(model, req.targetString);
  const allowed = insertableTokens(model, req.exclude, "exclude");
  const V = allowed.length;
  const batch = positiveInt(req.batch, 32, "batch");
  const steps = positiveInt(req.steps, 100, "steps");
  const B = positiveInt(req.candidates, 128, "candidates");
  const topK = positiveInt(req.topK, 64, "topK");
  const seed = req.seed ?? 0;
  if (!Number.isInteger(seed)) throw new MethodRequestError("seed", `expected an integer, got ${seed}`);
  if (req.timeMs !== undefined && !(req.timeMs > 0))
    throw new MethodRequestError("timeMs", `expected a positive number, got ${req.timeMs}`);
  let init: number[];
  if (req.suffixInit !== undefined) {
    if (req.suffixInit.length === 0) throw new MethodRequestError("suffixInit", "is empty");
    for (const [i, id] of req.suffixInit.entries()) checkToken(model, id, `suffixInit[${i}]`, "input");
    init = [...req.suffixInit];
  } else {
    const k = positiveInt(req.suffixLength, 10, "suffixLength");
    // the reference starts from "! ! ! …"; a tokenizer without a one-token "!" starts from the first insertable token
    const bang = model.tokenizer?.encode("!", { addSpecialTokens: false });
    const filler = bang?.length === 1 && allowed[bang[0] as number] === 1 ? (bang[0] as number) : Math.max(0, allowed.indexOf(1));
    init = Array.from({ length: k }, () => filler);
  }
  const P = prompt.length;
  const k = init.length;
  const first = P + k - 1; // the position whose logits predict the first target token
  const seqOf = (suffix: readonly number[]) => [...prompt, ...suffix, ...target];

  let evaluated = 0;
  const evaluate = (suffixes: readonly (readonly number[])[]): Scored[] => {
    const out: Scored[] = [];
    forEachOutput(model, suffixes.map(seqOf), { batch, signal: opts.signal, last: false }, (i, logits, w) => {
      if (logits.length === w) throw new MethodRequestError("method", "gcg needs a language model's logits at every position");
      out[i] = score(logits, w, first, target, suffixes[i] as number[]);
    });
    evaluated += suffixes.length;
    return out;
  };
  const lossTensor = (out: Tensor): Tensor => {
    let total: Tensor | undefined;
    for (const [j, t] of target.entries()) {
      const l = neg(logProb(out, t, { position: first + j })); // []
      total = total === undefined ? l : add(total, l);
    }
    return total as Tensor;
  };

  const start = evaluate([init])[0] as Scored;
  let current = start;
  let best = start;
  const losses: number[] = [];
  const rand = rng(seed);
  const began = performance.now();
  let stopped: AdversarialResult["stopped"] = start.greedy ? "success" : "steps";
  let step = 0;
  while (stopped !== "success" && step < steps) {
    checkAborted(opts.signal);
    if (req.timeMs !== undefined && performance.now() - began >= req.timeMs) {
      stopped = "time";
      break;
    }
    step++;
    // 1–2: the one-hot gradient at the suffix positions and each position's top-k tokens
    const { grad } = embeddingGradient(model, [seqOf(current.suffix)], lossTensor, "all"); // [1, pos, d_model]
    const D = model.W_E.shape[1] as number; // W_E [d_vocab, d_model]
    const ge = oneHotGradient(model, grad.subarray(P * D, (P + k) * D), k); // [k, d_vocab]
    const top: number[][] = Array.from({ length: k }, (_, i) => {
      const here = current.suffix[i] as number;
      const ids: number[] = [];
      for (let v = 0; v < V; v++) if (allowed[v] === 1 && v !== here) ids.push(v);
      ids.sort((a, b) => (ge[i * V + a] as number) - (ge[i * V + b] as number) || a - b);
      return ids.slice(0, topK);
    });
    // 3: single-token substitutions, positions spread evenly, tokens drawn from the position's top-k
    const seen = new Set<string>();
    const cands: number[][] = [];
    for (let c = 0; c < B; c++) {
      const i = Math.floor((c * k) / B);
      const pool = top[i] as number[];
      for (let attempt = 0; attempt < 4 && pool.length > 0; attempt++) {
        const next = [...current.suffix];
        next[i] = pool[Math.floor(rand() * pool.length)] as number;
        const key = next.join(",");
        if (seen.has(key)) continue;
        seen.add(key);
        cands.push(next);
        break;
      }
    }
    if (cands.length === 0) {
      stopped = "exhausted";
      break;
    }
    // 4: evaluate them all, keep the best
    const scored = evaluate(cands);
    let stepBest = scored[0] as Scored;
    for (const s of scored) if (s.loss < stepBest.loss) stepBest = s;
    current = stepBest;
    if (stepBest.loss < best.loss || (stepBest.greedy && !best.greedy)) best = stepBest;
    losses.push(stepBest.loss);
    opts.onProgress?.({ done: step, total: steps, what: "steps" });
    if (stepBest.greedy) stopped = "success";
  }

  const tok = model.tokenizer;
  const adversarial = [...prompt, ...best.suffix];
  return {
    kind: "adversarial",
    method: "gcg",
    tokens: prompt.map((id) => tokenRef(model, id)),
    adversarial: adversarial.map((id) => tokenRef(model, id)),
    text: tok === undefined ? null : tok.decode(adversarial),
    objective: "target",
    target: target.map((id) => tokenRef(model, id)),
    lossBefore: start.loss,
    loss: best.loss,
    targetProbs: best.rows.map((s, j) => Math.exp((s.row[target[j] as number] as number) - s.logZ)),
    before: topScore(model, start.rows[0] as RowStats),
    after: topScore(model, best.rows[0] as RowStats),
    success: best.greedy,
    flips: null,
    suffix: best.suffix.map((id) => tokenRef(model, id)),
    losses,
    steps: step,
    evaluated,
    stopped,
    seed,
  };
}
