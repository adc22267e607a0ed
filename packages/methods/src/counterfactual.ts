// Counterfactual inputs: the input edited in ways that should not change its meaning, and what the prediction at
// the last position does on each. Two sources of edits:
//
//   word swaps   the user's groups of interchangeable words (he/she, red/green/blue): each whole-word occurrence
//                of a member becomes each other member, in the text, re-encoded by the tokenizer
//   neighbours   a token replaced by its nearest tokens by cosine similarity of the embedding rows (W_E), which
//                tend to be spelling variants and near-synonyms
//
// The robustness score is the share of these perturbations that keep the top prediction: a model that reads what
// the edits leave alone scores 1. Every counterfactual runs in batched forward passes (inputs of one length share
// a pass), logits of the last position only.
import type { TransformerModel } from "@llmdbg/core";
import type { Counterfactual, CounterfactualPrediction, CounterfactualRequest, CounterfactualResult } from "@llmdbg/protocol";
import { matmul, tensor } from "@llmdbg/tensor";
import { inputIds, type MethodOptions, MethodRequestError, resolvePosition, tokenRef } from "./common.js";
import {
  checkOutput,
  forEachOutput,
  insertableTokens,
  lastRow,
  logProbOf,
  positiveInt,
  rowStats,
  specialTokens,
  topScore,
} from "./token-search.js";

/** A word in a regular expression: its characters escaped, bounded by non-word characters (letters, digits, _). */
function wordPattern(word: string, capital: string): RegExp {
  const esc = (w: string) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const alt = capital === word ? esc(word) : `${esc(word)}|${esc(capital)}`;
  return new RegExp(`(?<![\\p{L}\\p{N}_])(?:${alt})(?![\\p{L}\\p{N}_])`, "gu");
}

const capitalize = (w: string) => (w.length === 0 ? w : (w[0] as string).toUpperCase() + w.slice(1));

/** One planned edit of the text: its occurrences of `from` (offsets and matched forms) become `to` (case kept). */
interface WordSwap {
  readonly from: string;
  readonly to: string;
  readonly at: readonly number[];
  readonly text: string;
}

/**
 * The word swaps of `text`: for each group and each ordered pair (w, u) of its members, the whole-word occurrences
 * of w (or of w capitalized, replaced by u capitalized) — each alone, or all at once with `swapAll`. Identical
 * edited texts are kept once.
 * @example wordSwaps("he said he", [["he", "she"]], false) // [{ from: "he", to: "she", at: [0], text: "she said he" }, …]
 */
export function wordSwaps(text: string, lists: readonly (readonly string[])[], swapAll: boolean): WordSwap[] {
  const out: WordSwap[] = [];
  const seen = new Set<string>([text]);
  for (const [g, group] of lists.entries()) {
    if (!Array.isArray(group) || group.length < 2)
      throw new MethodRequestError(`wordLists[${g}]`, "expected at least two interchangeable words");
    for (const [i, w] of group.entries())
      if (typeof w !== "string" || w.trim() === "" || w !== w.trim())
        throw new MethodRequestError(
          `wordLists[${g}][${i}]`,
          `expected a word without surrounding spaces, got ${JSON.stringify(w)}`,
        );
    for (const w of group) {
      const matches = [...text.matchAll(wordPattern(w, capitalize(w)))];
      if (matches.length === 0) continue;
      for (const u of group) {
        if (u === w) continue;
        const replace = (m: RegExpMatchArray) => (m[0] === w ? u : capitalize(u));
        const edits = swapAll ? [matches] : matches.map((m) => [m]);
        for (const ms of edits) {
          let edited = "";
          let last = 0;
          for (const m of ms) {
            edited += text.slice(last, m.index) + replace(m);
            last = (m.index as number) + m[0].length;
          }
          edited += text.slice(last);
          if (seen.has(edited)) continue;
          seen.add(edited);
          out.push({ from: w, to: u, at: ms.map((m) => m.index as number), text: edited });
        }
      }
    }
  }
  return out;
}

/**
 * The k nearest tokens to `id` by cosine similarity of the rows of W_E, among `allowed` tokens other than `id`
 * (rows of zero norm never), most similar first.
 * @example nearestTokens(model, 464, 5) // [{ id: 383, similarity: 0.71 }, …]
 */
export function nearestTokens(
  model: TransformerModel,
  ids: readonly number[],
  k: number,
  allowed: Uint8Array = insertableTokens(model, undefined, "exclude"),
): { id: number; similarity: number }[][] {
  const E = model.W_E; // [d_vocab, d_model]
  const [V, D] = E.shape as [number, number];
  const e = E.data;
  const norms = new Float64Array(V);
  for (let v = 0; v < V; v++) {
    let s = 0;
    for (let j = 0; j < D; j++) s += (e[v * D + j] as number) ** 2;
    norms[v] = Math.sqrt(s);
  }
  // the queries' rows against every row in one product: [n, d_model] · [d_vocab, d_model]ᵀ → [n, d_vocab]
  const q = tensor(
    ids.flatMap((id) => Array.from(e.subarray(id * D, (id + 1) * D))),
    [ids.length, D],
    E.dtype,
  );
  const dots = matmul(q, E, { transB: true }).data; // [n, d_vocab]
  return ids.map((id, r) => {
    const best: { id: number; similarity: number }[] = [];
    const qn = norms[id] as number;
    for (let v = 0; v < V; v++) {
      if (v === id || allowed[v] !== 1 || norms[v] === 0 || qn === 0) continue;
      const sim = (dots[r * V + v] as number) / (qn * (norms[v] as number));
      if (best.length === k && sim <= (best[k - 1] as { similarity: number }).similarity) continue;
      let j = best.length < k ? best.length : k - 1;
      while (j > 0 && sim > (best[j - 1] as { similarity: number }).similarity) j--;
      best.splice(j, 0, { id: v, similarity: sim });
      if (best.length > k) best.pop();
    }
    return best;
  });
}

/** A counterfactual before it runs. */
interface Planned {
  readonly source: "words" | "neighbours";
  readonly from: string;
  readonly to: string;
  readonly at: readonly number[];
  readonly swap: Counterfactual["swap"];
  readonly ids: number[];
  readonly text: string | null;
}

/**
 * Counterfactuals of the input by word swaps and embedding-neighbour swaps, each evaluated at the last position,
 * with the share that keeps the top prediction.
 * @example counterfactuals(model, { kind: "counterfactual", input: { text }, wordLists: [["he", "she"]], neighbours: { k: 3 } })
 */
export function counterfactuals(
  model: TransformerModel,
  req: CounterfactualRequest,
  opts: MethodOptions = {},
): CounterfactualResult {
  const ids = inputIds(model, req.input);
  const tok = model.tokenizer;
  const text = "text" in req.input ? req.input.text : tok === undefined ? null : tok.decode(ids);
  const batch = positiveInt(req.batch, 32, "batch");
  const sameLength = req.sameLength ?? false;
  if (req.wordLists === undefined && req.neighbours === undefined)
    throw new MethodRequestError("wordLists", "give wordLists or neighbours (or both): there is nothing to swap");
  const allowed = insertableTokens(model, req.exclude, "exclude");

  const planned: Planned[] = [];
  let skipped = 0;
  const sameLen = (cand: readonly number[]) => !sameLength || cand.length === ids.length;
  if (req.wordLists !== undefined) {
    if (!("text" in req.input) || tok === undefined)
      throw new MethodRequestError("wordLists", "word swaps edit text: pass input.text to a model with a tokenizer");
    for (const s of wordSwaps(req.input.text, req.wordLists, req.swapAll ?? false)) {
      const cand = tok.encode(s.text);
      if (cand.length === 0 || !sameLen(cand)) {
        skipped++;
        continue;
      }
      planned.push({ source: "words", from: s.from, to: s.to, at: s.at, swap: null, ids: cand, text: s.text });
    }
  }
  if (req.neighbours !== undefined) {
    const k = positiveInt(req.neighbours.k, 1, "neighbours.k");
    const special = specialTokens(model);
    const positions =
      req.neighbours.positions === undefined
        ? ids.flatMap((id, p) => (special.has(id) ? [] : [p]))
        : req.neighbours.positions.map((p, i) => resolvePosition(p, ids.length, `neighbours.positions[${i}]`));
    const near = nearestTokens(
      model,
      positions.map((p) => ids[p] as number),
      k,
      allowed,
    );
    const show = (id: number) => tokenRef(model, id).text ?? `<id ${id}>`;
    for (const [i, p] of positions.entries()) {
      const from = ids[p] as number;
      for (const n of near[i] ?? []) {
        const cand = [...ids];
        cand[p] = n.id;
        const candText = tok === undefined ? null : tok.decode(cand);
        // a token-level swap keeps the length of the ids; the text it decodes to may tokenize differently
        if (sameLength && candText !== null && tok !== undefined && tok.encode(candText).length !== ids.length) {
          skipped++;
          continue;
        }
        planned.push({
          source: "neighbours",
          from: show(from),
          to: show(n.id),
          at: [p],
          swap: { from, to: n.id, similarity: n.similarity },
          ids: cand,
          text: candText,
        });
      }
    }
  }

  // the input first, then every counterfactual: one row of logits each, at its last position
  const stats: (ReturnType<typeof rowStats> | undefined)[] = [];
  const seqs = [ids, ...planned.map((c) => c.ids)];
  forEachOutput(
    model,
    seqs,
    {
      batch,
      signal: opts.signal,
      last: true,
      onBatch: (done) => opts.onProgress?.({ done, total: seqs.length, what: "counterfactuals" }),
    },
    (i, logits, width) => {
      // a row's copy: the forward pass's buffer is not kept
      stats[i] = rowStats(Float64Array.from(lastRow(logits, width)));
    },
  );
  const base = stats[0] as ReturnType<typeof rowStats>;
  const width = base.row.length;
  const target = req.target ?? base.top;
  checkOutput(target, width, "target");
  const predict = (s: ReturnType<typeof rowStats>): CounterfactualPrediction => {
    const lp = logProbOf(s, target);
    return { top: topScore(model, s), targetLogProb: lp, targetProb: Math.exp(lp) };
  };
  const original = predict(base);
  const cfs: Counterfactual[] = planned.map((c, i) => {
    const s = stats[i + 1] as ReturnType<typeof rowStats>;
    const p = predict(s);
    return {
      source: c.source,
      from: c.from,
      to: c.to,
      at: c.at,
      swap: c.swap,
      tokens: c.ids.map((id) => tokenRef(model, id)),
      text: c.text,
      ...p,
      deltaLogProb: p.targetLogProb - original.targetLogProb,
      deltaProb: p.targetProb - original.targetProb,
      keepsTop: s.top === base.top,
    };
  });
  const share = (xs: readonly Counterfactual[]) => (xs.length === 0 ? null : xs.filter((c) => c.keepsTop).length / xs.length);
  return {
    kind: "counterfactual",
    tokens: ids.map((id) => tokenRef(model, id)),
    text,
    target: tokenRef(model, target),
    original,
    counterfactuals: cfs,
    robustness: {
      all: share(cfs),
      words: share(cfs.filter((c) => c.source === "words")),
      neighbours: share(cfs.filter((c) => c.source === "neighbours")),
    },
    sameLength,
    skipped,
  };
}
