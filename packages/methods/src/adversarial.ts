// Adversarial inputs by gradient-guided token search.
//
//   hotflip  (Ebrahimi et al. 2018) flips input tokens. The loss's change when position i's token x_i becomes v
//            is estimated to first order through the one-hot input: ∂L/∂onehot · (onehot_v − onehot_x_i) =
//            g_i·(E[v] − E[x_i]), with g_i the gradient at the token embedding. A beam search over flips: each
//            depth, every beam entry's best-scored flips are verified by real forward passes (batched) and the
//            `beamWidth` lowest real losses go on, up to `maxFlips` flips.
//   gcg      (Zou et al. 2023, gcg.ts) optimizes a suffix appended to the prompt.
//
// The objective is the target's negative log-probability at the last position, or — without a target — the
// log-probability of the input's own top prediction, pushed down until another token overtakes it.
import { logProb, type TransformerModel } from "@llmdbg/core";
import type { AdversarialFlip, AdversarialRequest, AdversarialResult } from "@llmdbg/protocol";
import { add, neg, type Tensor } from "@llmdbg/tensor";
import { checkAborted, inputIds, type MethodOptions, MethodRequestError, resolvePosition, tokenRef } from "./common.js";
import { gcg } from "./gcg.js";
import {
  checkOutput,
  embeddingGradient,
  forEachOutput,
  insertableTokens,
  lastRow,
  logProbOf,
  oneHotGradient,
  positiveInt,
  type RowStats,
  rowStats,
  specialTokens,
  topScore,
} from "./token-search.js";

export { gcg };

/**
 * An adversarial input: HotFlip's token flips or GCG's suffix, by `req.method`.
 * @example adversarialAttack(model, { kind: "adversarial", method: "gcg", input: { text }, targetString: { text: " Paris" } })
 */
export function adversarialAttack(model: TransformerModel, req: AdversarialRequest, opts: MethodOptions = {}): AdversarialResult {
  switch (req.method) {
    case "hotflip":
      return hotflip(model, req, opts);
    case "gcg":
      return gcg(model, req, opts);
    default:
      throw new MethodRequestError("method", `expected "hotflip" or "gcg", got ${JSON.stringify(req.method)}`);
  }
}

/** What HotFlip minimizes: −log p(token) (`target`) or log p(token) (`away`), at the last position. */
interface FlipObjective {
  readonly kind: "target" | "away";
  readonly token: number;
}

const lossOfRow = (o: FlipObjective, s: RowStats) => (o.kind === "target" ? -logProbOf(s, o.token) : logProbOf(s, o.token));
const succeeds = (o: FlipObjective, s: RowStats) => (o.kind === "target" ? s.top === o.token : s.top !== o.token);

/** The loss of each row of a batch as one scalar, the sum over rows (rows are independent). */
function flipLoss(o: FlipObjective, rows: number) {
  return (out: Tensor): Tensor => {
    let total: Tensor | undefined;
    for (let r = 0; r < rows; r++) {
      const lp = logProb(out, o.token, { batch: r }); // []
      const l = o.kind === "target" ? neg(lp) : lp;
      total = total === undefined ? l : add(total, l);
    }
    return total as Tensor;
  };
}

/**
 * HotFlip's first-order scores of each sequence: scores[s][p·d_vocab + v] = g_p·(E[v] − E[x_p]), the estimated
 * change of the loss when position p's token becomes v. Sequences of one length, in one backward pass.
 */
function flipScores(model: TransformerModel, seqs: readonly (readonly number[])[], o: FlipObjective): Float64Array[] {
  const P = (seqs[0] as readonly number[]).length;
  const V = model.W_E.shape[0] as number; // W_E [d_vocab, d_model]
  const { grad } = embeddingGradient(model, seqs, flipLoss(o, seqs.length), "last"); // [batch, pos, d_model]
  const ge = oneHotGradient(model, grad, seqs.length * P); // [batch·pos, d_vocab]
  return seqs.map((seq, b) => {
    const s = new Float64Array(P * V);
    for (let p = 0; p < P; p++) {
      const row = (b * P + p) * V;
      const here = ge[row + (seq[p] as number)] as number; // g_p·E[x_p]
      for (let v = 0; v < V; v++) s[p * V + v] = (ge[row + v] as number) - here;
    }
    return s;
  });
}

/**
 * HotFlip's first-order scores on one input: the loss (−log p(target) at the last position, or log p of the top
 * prediction when `target` is null) and, for every position p and token v, g_p·(E[v] − E[x_p]) as [pos, d_vocab].
 * @example hotflipScores(model, ids, paris).scores[3 * V + 42] // the estimated loss change of token 42 at position 3
 */
export function hotflipScores(
  model: TransformerModel,
  ids: readonly number[],
  target: number | null,
): { objective: "target" | "away"; token: number; loss: number; scores: Float64Array } {
  let stats: RowStats | undefined;
  forEachOutput(model, [ids], { batch: 1, last: true }, (_, logits, width) => {
    stats = rowStats(Float64Array.from(lastRow(logits, width)));
  });
  const s = stats as RowStats;
  const o: FlipObjective = target === null ? { kind: "away", token: s.top } : { kind: "target", token: target };
  checkOutput(o.token, s.row.length, "target");
  return { objective: o.kind, token: o.token, loss: lossOfRow(o, s), scores: flipScores(model, [ids], o)[0] as Float64Array };
}

/** One input of the beam: its tokens, loss, last-position prediction and the flips that made it. */
interface Entry {
  readonly ids: readonly number[];
  readonly loss: number;
  readonly stats: RowStats;
  readonly flips: readonly AdversarialFlip[];
}

/** The `k` smallest entries of scores restricted by `ok`, as (index, score), smallest first. */
function smallest(scores: Float64Array, k: number, ok: (i: number) => boolean): { i: number; s: number }[] {
  const best: { i: number; s: number }[] = [];
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i] as number;
    if (best.length === k && s >= (best[k - 1] as { s: number }).s) continue;
    if (!ok(i)) continue;
    let j = best.length < k ? best.length : k - 1;
    while (j > 0 && s < (best[j - 1] as { s: number }).s) j--;
    best.splice(j, 0, { i, s });
    if (best.length > k) best.pop();
  }
  return best;
}

function hotflip(model: TransformerModel, req: AdversarialRequest, opts: MethodOptions): AdversarialResult {
  const ids = inputIds(model, req.input);
  const P = ids.length;
  const V = model.W_E.shape[0] as number; // W_E [d_vocab, d_model]
  const batch = positiveInt(req.batch, 32, "batch");
  const beamWidth = positiveInt(req.beamWidth, 4, "beamWidth");
  const maxFlips = positiveInt(req.maxFlips, 3, "maxFlips");
  const perEntry = positiveInt(req.candidates, 16, "candidates");
  const allowed = insertableTokens(model, req.exclude, "exclude");
  const special = specialTokens(model);
  const positions =
    req.positions === undefined
      ? ids.flatMap((id, p) => (special.has(id) ? [] : [p]))
      : req.positions.map((p, i) => resolvePosition(p, P, `positions[${i}]`));
  if (positions.length === 0) throw new MethodRequestError("positions", "no position may be flipped");
  const flippable = new Uint8Array(P);
  for (const p of positions) flippable[p] = 1;

  let evaluated = 0;
  /** The loss and prediction of each sequence, by batched forward passes of the last position. */
  const evaluate = (seqs: readonly (readonly number[])[]): RowStats[] => {
    const out: RowStats[] = [];
    forEachOutput(model, seqs, { batch, signal: opts.signal, last: true }, (i, logits, width) => {
      out[i] = rowStats(Float64Array.from(lastRow(logits, width)));
    });
    evaluated += seqs.length;
    return out;
  };
  const baseStats = evaluate([ids])[0] as RowStats;
  const width = baseStats.row.length;
  if (req.target !== undefined) checkOutput(req.target, width, "target");
  const o: FlipObjective =
    req.target === undefined ? { kind: "away", token: baseStats.top } : { kind: "target", token: req.target };
  const start: Entry = { ids, loss: lossOfRow(o, baseStats), stats: baseStats, flips: [] };

  let beam: Entry[] = [start];
  let best = start;
  const losses: number[] = [];
  const seen = new Set<string>([ids.join(",")]);
  let stopped: AdversarialResult["stopped"] = succeeds(o, baseStats) && o.kind === "target" ? "success" : "steps";
  let depth = 0;
  while (stopped !== "success" && depth < maxFlips) {
    checkAborted(opts.signal);
    depth++;
    const scores = flipScores(
      model,
      beam.map((e) => e.ids),
      o,
    );
    // the best-scored unseen flips of every beam entry
    const cands: { parent: Entry; p: number; v: number; predicted: number; ids: number[] }[] = [];
    for (const [b, parent] of beam.entries()) {
      const s = scores[b] as Float64Array;
      const ok = (i: number) => {
        const p = Math.floor(i / V);
        const v = i % V;
        if (flippable[p] !== 1 || allowed[v] !== 1 || v === parent.ids[p]) return false;
        const next = [...parent.ids];
        next[p] = v;
        return !seen.has(next.join(","));
      };
      for (const { i, s: predicted } of smallest(s, perEntry, ok)) {
        const p = Math.floor(i / V);
        const v = i % V;
        const next = [...parent.ids];
        next[p] = v;
        const key = next.join(",");
        if (seen.has(key)) continue; // two beam entries can propose the same input
        seen.add(key);
        cands.push({ parent, p, v, predicted, ids: next });
      }
    }
    if (cands.length === 0) {
      stopped = "exhausted";
      break;
    }
    const stats = evaluate(cands.map((c) => c.ids));
    const entries: Entry[] = cands.map((c, i) => {
      const st = stats[i] as RowStats;
      const loss = lossOfRow(o, st);
      const flip: AdversarialFlip = {
        position: c.p,
        from: tokenRef(model, c.parent.ids[c.p] as number),
        to: tokenRef(model, c.v),
        predicted: c.predicted,
        actual: loss - c.parent.loss,
      };
      return { ids: c.ids, loss, stats: st, flips: [...c.parent.flips, flip] };
    });
    entries.sort((a, b) => a.loss - b.loss);
    beam = entries.slice(0, beamWidth);
    const winner = entries.find((e) => succeeds(o, e.stats));
    if (winner !== undefined) {
      best = winner;
      stopped = "success";
    } else if ((beam[0] as Entry).loss < best.loss) best = beam[0] as Entry;
    losses.push((beam[0] as Entry).loss);
    opts.onProgress?.({ done: depth, total: maxFlips, what: "flips" });
  }

  const tok = model.tokenizer;
  return {
    kind: "adversarial",
    method: "hotflip",
    tokens: ids.map((id) => tokenRef(model, id)),
    adversarial: best.ids.map((id) => tokenRef(model, id)),
    text: tok === undefined ? null : tok.decode([...best.ids]),
    objective: o.kind,
    target: [tokenRef(model, o.token)],
    lossBefore: start.loss,
    loss: best.loss,
    targetProbs: [Math.exp(logProbOf(best.stats, o.token))],
    before: topScore(model, baseStats),
    after: topScore(model, best.stats),
    success: succeeds(o, best.stats),
    flips: best.flips,
    suffix: null,
    losses,
    steps: depth,
    evaluated,
    stopped,
    seed: null,
  };
}
