// `datasets.predict` on a worker thread: the model over every example of a dataset, in batches, each batch's
// predictions streamed as a `partial` reply. Examples of one token length share a forward pass, so no padding
// enters any computation and each prediction is what `run` gives on that text alone. A language model's gold is a
// continuation: its tokens are appended to the text's and read off the same pass (the probability the product of
// theirs; correct when each is the top prediction where it stands, i.e. greedy decoding yields it). A classifier's
// gold is a label, by name or index.
import { run } from "@llmdbg/core";
import type { LoadedModel } from "@llmdbg/models";
import type { PredictionsResult, RowPrediction } from "@llmdbg/protocol";
import * as T from "@llmdbg/tensor";
import { tokenDisplay } from "@llmdbg/tokenizers";
import { type JobContext, ParamsError } from "./handlers.js";

/** What the main thread sends a worker: the examples' texts and golds, not the dataset's id. */
export interface PredictJob {
  readonly dataset: string;
  readonly rows: readonly { readonly text: string; readonly gold: string | null }[];
  readonly batch?: number;
}

export const DEFAULT_BATCH = 32;
const MAX_BATCH = 1024;

/** log-softmax of one entry of a row of logits, and the row's arg max. */
function rowStats(row: Float32Array): { max: number; argmax: number; logZ: number } {
  let max = Number.NEGATIVE_INFINITY;
  let argmax = 0;
  for (let i = 0; i < row.length; i++) {
    const v = row[i] as number;
    if (v > max) {
      max = v;
      argmax = i;
    }
  }
  let total = 0;
  for (let i = 0; i < row.length; i++) total += Math.exp((row[i] as number) - max);
  return { max, argmax, logZ: max + Math.log(total) };
}

interface Encoded {
  readonly index: number;
  readonly ids: number[];
  /** the text's tokens (a language model's continuation follows them) */
  readonly textLen: number;
  readonly gold: { readonly text: string; readonly ids: number[] } | null;
}

function encodeRows(m: LoadedModel, job: PredictJob): Encoded[] {
  const tok = m.tokenizer;
  if (tok === undefined) throw new ParamsError("model: it was loaded without a tokenizer, so it cannot read a dataset's texts");
  const labels = m.config.classifier?.labels;
  return job.rows.map((r, index) => {
    const ids = tok.encode(r.text);
    const at = `dataset ${job.dataset}, example ${index}`;
    if (ids.length === 0) throw new ParamsError(`${at}: its text encodes to no tokens`);
    let gold: Encoded["gold"] = null;
    if (r.gold !== null && labels !== undefined) {
      // a label by name, else by index
      const byName = labels.indexOf(r.gold);
      const byIndex = /^[0-9]+$/.test(r.gold) && Number(r.gold) < labels.length ? Number(r.gold) : -1;
      const id = byName >= 0 ? byName : byIndex;
      if (id >= 0) gold = { text: labels[id] as string, ids: [id] };
    } else if (r.gold !== null) gold = { text: r.gold, ids: tok.encode(r.gold, { addSpecialTokens: false }) };
    const all = labels === undefined && gold !== null ? [...ids, ...gold.ids] : ids;
    if (all.length > m.config.maxPositions)
      throw new ParamsError(
        `${at}: ${all.length} tokens with its gold; the model supports at most ${m.config.maxPositions} positions`,
      );
    return { index, ids: all, textLen: ids.length, gold: gold !== null && gold.ids.length > 0 ? gold : null };
  });
}

/** Index lists of equal token length, at most `batch` each. */
export function batchesByLength(lengths: readonly number[], batch: number): number[][] {
  const groups = new Map<number, number[]>();
  for (const [i, n] of lengths.entries()) {
    const g = groups.get(n);
    if (g === undefined) groups.set(n, [i]);
    else g.push(i);
  }
  const out: number[][] = [];
  for (const g of groups.values()) for (let i = 0; i < g.length; i += batch) out.push(g.slice(i, i + batch));
  return out;
}

function topText(m: LoadedModel, id: number): string | null {
  const labels = m.config.classifier?.labels;
  if (labels !== undefined) return labels[id] ?? null;
  const tok = m.tokenizer;
  return tok === undefined || tok.idToToken(id) === undefined ? null : tokenDisplay(tok, id);
}

/**
 * Predictions on every example; `ctx.onPartial` gets each batch's, `ctx.signal` stops it between batches.
 * @example predictHandler(m, "stories", { dataset: "tales", rows: [{ text: "Once upon a", gold: " time" }] }, {})
 */
export function predictHandler(m: LoadedModel, id: string, job: PredictJob, ctx: JobContext): PredictionsResult {
  if (typeof job !== "object" || job === null || !Array.isArray(job.rows)) throw new ParamsError("rows: expected the examples");
  const batch = job.batch ?? DEFAULT_BATCH;
  if (!Number.isInteger(batch) || batch < 1 || batch > MAX_BATCH)
    throw new ParamsError(`batch: expected an integer in [1, ${MAX_BATCH}], got ${JSON.stringify(job.batch)}`);
  const all = encodeRows(m, job);
  const classifier = m.config.classifier?.labels !== undefined;
  // examples whose tokens (with their gold) are the same are computed once: templated datasets repeat themselves
  const twins = new Map<string, number[]>();
  const rows: Encoded[] = [];
  for (const r of all) {
    const key = `${r.textLen}:${r.ids.join(",")}`;
    const same = twins.get(key);
    if (same !== undefined) same.push(r.index);
    else {
      twins.set(key, [r.index]);
      rows.push(r);
    }
  }
  const out: RowPrediction[] = new Array(all.length);
  let done = 0;
  for (const group of batchesByLength(
    rows.map((r) => r.ids.length),
    batch,
  )) {
    if (ctx.signal?.aborted) throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error("cancelled");
    const len = (rows[group[0] as number] as Encoded).ids.length;
    const flat = new Int32Array(group.length * len);
    for (const [b, i] of group.entries()) flat.set((rows[i] as Encoded).ids, b * len);
    const x = T.fromTyped(flat, [group.length, len], "i32");
    const { output } = T.noGrad(() => run(m.model, x, {}));
    const data = output.data as Float32Array;
    const width = output.shape[output.rank - 1] as number;
    const perRow = classifier ? 1 : len;
    const made: RowPrediction[] = [];
    for (const [b, i] of group.entries()) {
      const r = rows[i] as Encoded;
      // the row of logits that predicts what follows token p of this example
      const logits = (p: number) => data.subarray((b * perRow + p) * width, (b * perRow + p + 1) * width);
      const at = classifier ? 0 : r.textLen - 1;
      const first = logits(at);
      const s = rowStats(first);
      const top = { id: s.argmax, text: topText(m, s.argmax), prob: Math.exp((first[s.argmax] as number) - s.logZ) };
      let gold: RowPrediction["gold"] = null;
      let correct: boolean | null = null;
      if (r.gold !== null) {
        let logp = 0;
        let greedy = true;
        for (const [k, t] of r.gold.ids.entries()) {
          const row = k === 0 ? first : logits(at + k);
          const st = k === 0 ? s : rowStats(row);
          logp += (row[t] as number) - st.logZ;
          if (st.argmax !== t) greedy = false;
        }
        gold = { text: r.gold.text, id: r.gold.ids[0] as number, prob: Math.exp(logp), tokens: r.gold.ids.length };
        correct = greedy;
      }
      const p: RowPrediction = { index: r.index, position: at, top, gold, correct };
      for (const index of twins.get(`${r.textLen}:${r.ids.join(",")}`) ?? [r.index]) {
        const q = index === r.index ? p : { ...p, index };
        out[index] = q;
        made.push(q);
      }
    }
    done += made.length;
    ctx.onPartial?.({ kind: "predictions", rows: made });
    ctx.onProgress?.({ done, total: all.length, what: "examples" });
  }
  return { kind: "predictions", model: id, dataset: job.dataset, rows: out, metrics: metricsOf(out), cached: false };
}

/** Accuracy over the examples with a gold, and the mean probabilities. */
export function metricsOf(rows: readonly RowPrediction[]): PredictionsResult["metrics"] {
  const withGold = rows.filter((r) => r.gold !== null);
  const mean = (xs: number[]) => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length);
  return {
    accuracy: mean(withGold.map((r) => (r.correct === true ? 1 : 0))),
    meanTopProb: mean(rows.map((r) => r.top.prob)) ?? 0,
    meanGoldProb: mean(withGold.map((r) => (r.gold as { prob: number }).prob)),
  };
}
