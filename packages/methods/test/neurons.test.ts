// Neurons and directions proven on models set by hand. In the tiny GPT-2, block 0's attention writes nothing and
// token 77's embedding is 10 on dimension 0 (every other token and position 0 there), and MLP neuron 5 reads
// dimension 0 with a bias of −2: it fires (≈ +3) on token 77 and nowhere else (≈ −0.05). The top examples must be
// the texts holding 77, at 77, with the window and the activations the cached hook holds; the histogram must match
// a direct computation; batching, the corpus's form and its length must not change the answer; and on hook_embed,
// whose activation is a row of W_E, 20,000 streamed texts must give what a brute-force pass over W_E gives.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "@llmdbg/core";
import { load, type Model } from "@llmdbg/models";
import type { NeuronsRequest, NeuronsResult } from "@llmdbg/protocol";
import * as T from "@llmdbg/tensor";
import { writeTinyModel } from "@llmdbg/testing";
import { expectMethodResult } from "@llmdbg/testing/vitest";
import { afterAll, describe, expect, it } from "vitest";
import { MethodRequestError, NeuronAccumulator, type NeuronCorpus, neuronActivations, rng } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "llmdbg-neurons-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Unit = NeuronsResult["units"][number];

const X = 77; // the token neuron 5 fires on
const N = 5;
const HOOK = "blocks.0.mlp.hook_post";

// ——— the models and corpora ———

/** The tiny GPT-2 with neuron 5 of block 0's MLP firing on token 77 alone (see the top of the file). */
function handMade(): Model {
  const folder = join(dir, "gpt2");
  writeTinyModel(folder, "gpt2", { seed: 11 });
  const m = load(folder);
  const edit = (name: string, f: (data: Float32Array, shape: readonly number[]) => void) => {
    const t = m.params.get(name);
    const data = Float32Array.from(t.data as Float32Array);
    f(data, t.shape);
    m.params.set(name, T.tensor(data, t.shape));
  };
  edit("wte.weight", (d, [V, D]) => {
    // [d_vocab, d_model]
    for (let t = 0; t < (V as number); t++) d[t * (D as number)] = t === X ? 10 : 0;
  });
  edit("wpe.weight", (d, [P, D]) => {
    // [n_ctx, d_model]
    for (let p = 0; p < (P as number); p++) d[p * (D as number)] = 0;
  });
  edit("h.0.attn.c_proj.weight", (d) => d.fill(0)); // [d_model, d_model]
  edit("h.0.attn.c_proj.bias", (d) => d.fill(0));
  edit("h.0.ln_2.weight", (d) => void (d[0] = 1));
  edit("h.0.ln_2.bias", (d) => void (d[0] = 0));
  edit("h.0.mlp.c_fc.weight", (d, [, F]) => {
    // [d_model, d_mlp] (Conv1D: in, out): neuron N reads dimension 0 alone
    for (let i = 0; i < d.length / (F as number); i++) d[i * (F as number) + N] = i === 0 ? 1 : 0;
  });
  edit("h.0.mlp.c_fc.bias", (d) => void (d[N] = -2));
  return m;
}

const m = handMade();

/** Random id sequences of 3–8 tokens in [40, 100) without 77; every 7th holds 77 once or (every 21st) twice. */
function corpus(n: number, seed: number): number[][] {
  const rand = rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const len = 3 + Math.floor(rand() * 6);
    const ids = Array.from({ length: len }, () => {
      const t = 40 + Math.floor(rand() * 59);
      return t >= X ? t + 1 : t;
    });
    if (i % 7 === 3) ids[Math.floor(rand() * len)] = X;
    if (i % 21 === 3) ids[(ids.indexOf(X) + 2) % len] = X;
    return ids;
  });
}

/** The hook's activation at each token of each text, one unbatched run per text, and a unit's value from it. */
function direct(ids: readonly number[][], hook: string, unit: (row: Float32Array) => number): number[][] {
  return ids.map((s) => {
    const a = run(m, [...s], { cache: hook }).cache.get(hook); // [1, pos, features]
    const F = a.size / s.length;
    return s.map((_, p) => unit((a.data as Float32Array).subarray(p * F, (p + 1) * F)));
  });
}

const asInputs = (ids: readonly number[][]) => ids.map((s) => ({ ids: s }));

function sameResult(a: NeuronsResult, b: NeuronsResult, tol = 1e-5): void {
  expect(a.tokens).toBe(b.tokens);
  expect(a.units.length).toBe(b.units.length);
  for (const [u, ua] of a.units.entries()) {
    const ub = b.units[u] as Unit;
    expect(ua.top.map((e) => [e.text, e.position, e.start, e.tokens.map((t) => t.id)])).toEqual(
      ub.top.map((e) => [e.text, e.position, e.start, e.tokens.map((t) => t.id)]),
    );
    for (const [i, e] of ua.top.entries()) {
      expect(Math.abs(e.value - (ub.top[i]?.value as number))).toBeLessThan(tol);
      for (const [j, v] of e.activations.entries()) expect(Math.abs(v - (ub.top[i]?.activations[j] as number))).toBeLessThan(tol);
    }
    expect(ua.histogram.counts).toEqual(ub.histogram.counts);
    expect([ua.histogram.below, ua.histogram.above]).toEqual([ub.histogram.below, ub.histogram.above]);
    expect(Math.abs(ua.stats.mean - ub.stats.mean)).toBeLessThan(tol);
  }
}

describe("neurons and directions", () => {
  const ids = corpus(84, 1);
  const holding = ids.flatMap((s, i) => (s.includes(X) ? [i] : []));

  it("a neuron set to fire on one token: its top examples are the texts holding it, at it, with the cached values", async () => {
    const W = 2;
    const r = await neuronActivations(m, { kind: "neurons", hook: HOOK, neurons: [N, 6], topK: 20, window: W }, asInputs(ids));
    expectMethodResult(r);
    expect(holding).toHaveLength(12);
    expect([r.texts, r.tokens, r.features]).toEqual([84, ids.reduce((s, x) => s + x.length, 0), 128]);
    const unit = r.units[0] as Unit;
    expect([unit.name, unit.neuron, unit.norm]).toEqual(["neuron 5", 5, null]);
    expect(unit.top).toHaveLength(20);
    const firing = unit.top.filter((e) => e.value > 1);
    // exactly the 12 texts with token 77 fire, and they rank above every other text
    expect(firing.map((e) => e.text).sort((a, b) => a - b)).toEqual(holding);
    expect(unit.top.slice(0, 12)).toEqual(firing);
    for (const e of unit.top.slice(12)) expect(e.value).toBeLessThan(0);
    const acts = direct(ids, HOOK, (row) => row[N] as number);
    for (const e of firing) {
      const s = ids[e.text] as number[];
      expect(s[e.position]).toBe(X);
      expect(e.value).toBeGreaterThan(2.5);
      expect(e.start).toBe(Math.max(0, e.position - W));
      const end = Math.min(s.length, e.position + W + 1);
      expect(e.tokens.map((t) => t.id)).toEqual(s.slice(e.start, end));
      const cached = (acts[e.text] as number[]).slice(e.start, end);
      for (const [j, v] of e.activations.entries()) expect(Math.abs(v - (cached[j] as number))).toBeLessThan(1e-5);
      // the peak is the highest activation of its text (a text holding 77 twice peaks at the higher one)
      expect(Math.abs(e.value - Math.max(...(acts[e.text] as number[])))).toBeLessThan(1e-6);
    }
    // sorted: highest first
    for (let i = 1; i < unit.top.length; i++) expect(unit.top[i - 1]?.value).toBeGreaterThanOrEqual(unit.top[i]?.value as number);
    // the firing rate: positive exactly at the 77s
    expect(unit.stats.positive).toBe(ids.flat().filter((t) => t === X).length);
  });

  it("the histogram counts every token and matches a direct computation; quantiles within a bin", async () => {
    const acts = direct(ids, HOOK, (row) => row[N] as number).flat();
    const bins = 12;
    const range: [number, number] = [-0.5, 3.5];
    const r = await neuronActivations(m, { kind: "neurons", hook: HOOK, neurons: [N], bins, range, batch: 8 }, asInputs(ids));
    const h = (r.units[0] as Unit).histogram;
    expect(h.range).toBe("given");
    expect(h.counts.reduce((s, c) => s + c, 0) + h.below + h.above).toBe(acts.length);
    const counts = new Array(bins).fill(0);
    let outside = 0;
    for (const v of acts) {
      if (v < range[0] || v > range[1]) outside++;
      else counts[Math.min(bins - 1, Math.floor(((v - range[0]) / (range[1] - range[0])) * bins))]++;
    }
    expect(h.counts).toEqual(counts);
    expect(h.below + h.above).toBe(outside);
    const s = (r.units[0] as Unit).stats;
    const mean = acts.reduce((a, b) => a + b, 0) / acts.length;
    const std = Math.sqrt(acts.reduce((a, b) => a + (b - mean) ** 2, 0) / acts.length);
    expect(s.count).toBe(acts.length);
    expect(Math.abs(s.mean - mean)).toBeLessThan(1e-6);
    expect(Math.abs(s.std - std)).toBeLessThan(1e-6);
    expect(Math.abs(s.min - Math.min(...acts))).toBeLessThan(1e-6);
    expect(Math.abs(s.max - Math.max(...acts))).toBeLessThan(1e-6);
    const sorted = [...acts].sort((a, b) => a - b);
    const width = (range[1] - range[0]) / bins;
    for (const { q, value } of (r.units[0] as Unit).quantiles) {
      const exact = sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
      expect(Math.abs(value - exact), `quantile ${q}`).toBeLessThanOrEqual(width + 1e-9);
    }

    // without a range: a sample of every token sets it to [min, max]; a sample of 10 leaves the rest outside it
    const all = await neuronActivations(m, { kind: "neurons", hook: HOOK, neurons: [N], bins, sample: 10_000 }, asInputs(ids));
    const ha = (all.units[0] as Unit).histogram;
    expect(ha.range).toBe("sample");
    expect([ha.below, ha.above]).toEqual([0, 0]);
    expect(Math.abs(ha.lo - Math.min(...acts))).toBeLessThan(1e-6);
    expect(Math.abs(ha.hi - Math.max(...acts))).toBeLessThan(1e-6);
    expect(ha.counts.reduce((a, b) => a + b, 0)).toBe(acts.length);
    const few = await neuronActivations(m, { kind: "neurons", hook: HOOK, neurons: [N], bins, sample: 10 }, asInputs(ids));
    const hf = (few.units[0] as Unit).histogram;
    const first = acts.slice(0, 10);
    const [lo, hi] = [Math.min(...first), Math.max(...first)];
    expect(Math.abs(hf.lo - lo)).toBeLessThan(1e-6);
    expect(hf.above).toBe(acts.filter((v) => v > hi + 1e-6).length);
    expect(hf.below).toBe(acts.filter((v) => v < lo - 1e-6).length);
    expect(hf.counts.reduce((a, b) => a + b, 0) + hf.below + hf.above).toBe(acts.length);
  });

  it("a direction is the dot product with the activation, checked by hand", async () => {
    const hook = "blocks.0.hook_resid_post";
    const rand = rng(4);
    const values = Array.from({ length: 32 }, () => rand() * 2 - 1);
    const r = await neuronActivations(
      m,
      { kind: "neurons", hook, directions: [{ name: "d", values }], topK: 5, window: 1 },
      asInputs(ids),
    );
    expectMethodResult(r);
    const unit = r.units[0] as Unit;
    expect([unit.name, unit.neuron]).toEqual(["d", null]);
    expect(Math.abs((unit.norm as number) - Math.hypot(...values))).toBeLessThan(1e-12);
    const acts = direct(ids, hook, (row) => values.reduce((s, v, j) => s + v * (row[j] as number), 0));
    const peaks = acts.map((a, i) => ({ i, v: Math.max(...a) })).sort((a, b) => b.v - a.v);
    expect(unit.top.map((e) => e.text)).toEqual(peaks.slice(0, 5).map((p) => p.i));
    for (const e of unit.top) {
      for (const [j, v] of e.activations.entries())
        expect(Math.abs(v - ((acts[e.text] as number[])[e.start + j] as number))).toBeLessThan(1e-5);
    }
  });

  it("batching and the corpus's form (array, generator, async, chunks, a function) do not change the result", async () => {
    // block 1, where attention mixes the context: block 0's neurons depend on (token, position) alone, so texts tie
    const req: NeuronsRequest = {
      kind: "neurons",
      hook: "blocks.1.mlp.hook_post",
      neurons: [3, 9],
      topK: 6,
      window: 3,
      range: [-1, 4],
    };
    const inputs = asInputs(ids);
    const one = await neuronActivations(m, { ...req, batch: 1 }, inputs);
    const whole = await neuronActivations(m, { ...req, batch: ids.length }, inputs);
    sameResult(one, whole);
    const forms: NeuronCorpus[] = [
      (function* () {
        yield* inputs;
      })(),
      (async function* () {
        for (const x of inputs) yield x;
      })(),
      [inputs.slice(0, 10), inputs.slice(10, 11), inputs.slice(11)],
      () => inputs.values(),
    ];
    for (const c of forms)
      expect(await neuronActivations(m, { ...req, batch: 7 }, c)).toEqual(
        await neuronActivations(m, { ...req, batch: 7 }, inputs),
      );
  });

  it("20,000 streamed texts: bounded state, lazy reading, and the same answer as a brute-force pass over W_E", async () => {
    // hook_embed's activation is the token's row of W_E, so the brute force needs no forward pass
    const WE = Float32Array.from(m.W_E.data as Float32Array); // [d_vocab, d_model], copied: a kernel may move the buffer
    const D = m.W_E.shape[1] as number;
    const rand = rng(8);
    const direction = Array.from({ length: D }, () => rand() * 2 - 1);
    const n = 20_000;
    const text = (i: number) => {
      const r = rng(1000 + i);
      return Array.from({ length: 2 + Math.floor(r() * 4) }, () => 3 + Math.floor(r() * 290));
    };
    const batch = 250;
    let yielded = 0;
    let processed = 0;
    let ahead = 0;
    function* texts() {
      for (let i = 0; i < n; i++) {
        ahead = Math.max(ahead, yielded - processed);
        yielded++;
        yield { ids: text(i) };
      }
    }
    const k = 7;
    const W = 2;
    const range: [number, number] = [-0.1, 0.1];
    const t0 = performance.now();
    const r = await neuronActivations(
      m,
      {
        kind: "neurons",
        hook: "hook_embed",
        neurons: [1, 30],
        directions: [{ name: "dir", values: direction }],
        topK: k,
        window: W,
        range,
        bins: 16,
        batch,
      },
      texts(),
      { onProgress: (p) => void (processed = p.done) },
    );
    console.log(`neurons: ${n} texts, ${r.tokens} tokens in ${(performance.now() - t0).toFixed(0)} ms`);
    expect(r.texts).toBe(n);
    // the method holds at most one batch of texts it has pulled and not yet processed
    expect(ahead).toBeLessThanOrEqual(batch);

    const unitValue = [
      (id: number) => WE[id * D + 1] as number,
      (id: number) => WE[id * D + 30] as number,
      (id: number) => direction.reduce((s, v, j) => s + v * (WE[id * D + j] as number), 0),
    ];
    for (const [u, value] of unitValue.entries()) {
      const unit = r.units[u] as Unit;
      expect(unit.top).toHaveLength(k);
      // brute force: every text's peak (first position of the maximum), best first, the earlier text on ties
      const peaks: { text: number; position: number; value: number }[] = [];
      const counts = new Array(16).fill(0);
      let [below, above, tokens] = [0, 0, 0];
      for (let i = 0; i < n; i++) {
        const s = text(i);
        const vs = s.map(value);
        let p = 0;
        for (let j = 1; j < vs.length; j++) if ((vs[j] as number) > (vs[p] as number)) p = j;
        peaks.push({ text: i, position: p, value: vs[p] as number });
        for (const v of vs) {
          tokens++;
          if (v < range[0]) below++;
          else if (v > range[1]) above++;
          else counts[Math.min(15, Math.floor(((v - range[0]) / (range[1] - range[0])) * 16))]++;
        }
      }
      peaks.sort((a, b) => b.value - a.value || a.text - b.text);
      expect(unit.top.map((e) => [e.text, e.position])).toEqual(peaks.slice(0, k).map((p) => [p.text, p.position]));
      for (const [i, e] of unit.top.entries()) {
        expect(Math.abs(e.value - (peaks[i]?.value as number))).toBeLessThan(1e-6);
        const s = text(e.text);
        expect(e.tokens.map((t) => t.id)).toEqual(s.slice(Math.max(0, e.position - W), e.position + W + 1));
      }
      expect(r.tokens).toBe(tokens);
      expect(unit.histogram.counts).toEqual(counts);
      expect([unit.histogram.below, unit.histogram.above]).toEqual([below, above]);
    }
  });

  it("the accumulator's state does not grow with the corpus", () => {
    const settings = { topK: 5, window: 3, bins: 20, range: null, sample: 100 };
    const acc = new NeuronAccumulator(2, settings);
    const rand = rng(2);
    // k examples of at most 2W+1 ids and activations (+4 fields), the bins and the sample buffer, per unit
    const bound = 2 * (5 * (2 * 7 + 4) + 20 + 100);
    let largest = 0;
    for (let i = 0; i < 20_000; i++) {
      const len = 1 + Math.floor(rand() * 12);
      const ids = Array.from({ length: len }, (_, p) => p);
      acc.add(i, ids, [Float64Array.from(ids, () => rand()), Float64Array.from(ids, () => -rand())]);
      largest = Math.max(largest, acc.size);
    }
    expect(acc.tokens).toBeGreaterThan(100_000);
    expect(largest).toBeLessThanOrEqual(bound);
    const units = acc.units((id) => ({ id, text: null }), [0.5]);
    expect(units[0]?.top).toHaveLength(5);
    expect(units[0]?.stats.count).toBe(acc.tokens);
    expect(Math.abs((units[0]?.quantiles[0]?.value as number) - 0.5)).toBeLessThan(0.06); // uniform on [0, 1)
  });

  it("maxTexts stops an endless corpus; progress counts texts and tokens; an abort stops it", async () => {
    function* endless() {
      for (let i = 0; ; i++) yield { ids: [40 + (i % 50), X] };
    }
    const seen: { done: number; tokens: number }[] = [];
    const r = await neuronActivations(m, { kind: "neurons", hook: HOOK, neurons: [N], maxTexts: 50, batch: 16 }, endless(), {
      onProgress: (p) => void seen.push({ done: p.done, tokens: p.tokens }),
    });
    expect(r.texts).toBe(50);
    expect(seen.map((s) => s.done)).toEqual([16, 32, 48, 50]);
    expect(seen.at(-1)?.tokens).toBe(100);
    // an abort from a timer lands between batches, even while a sync generator feeds it
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error("stop reading")), 20);
    await expect(
      neuronActivations(m, { kind: "neurons", hook: HOOK, neurons: [N], batch: 4 }, endless(), { signal: ac.signal }),
    ).rejects.toThrow("stop reading");
  });

  it("cuts texts at maxLength, counts blank texts as empty, and names the field of a bad request", async () => {
    const r = await neuronActivations(m, { kind: "neurons", hook: "blocks.-1.mlp.hook_post", neurons: [0], maxLength: 4 }, [
      { ids: [40, 41, 42, 43, 44, 45] },
      "",
      { ids: [50] },
    ]);
    expect([r.hook, r.texts, r.empty, r.truncated, r.tokens]).toEqual(["blocks.1.mlp.hook_post", 3, 1, 1, 5]);
    const bad = async (req: Partial<NeuronsRequest>, field: string, c: NeuronCorpus = asInputs(ids.slice(0, 5))) => {
      try {
        await neuronActivations(m, { kind: "neurons", hook: HOOK, neurons: [N], ...req }, c);
      } catch (e) {
        expect(e).toBeInstanceOf(MethodRequestError);
        expect((e as MethodRequestError).field).toBe(field);
        return;
      }
      expect.fail(`expected a MethodRequestError on ${field}`);
    };
    await bad({ hook: "blocks.0.mlp.hook_pots" }, "hook");
    await bad({ hook: "blocks.*.mlp.hook_post" }, "hook");
    await bad({ hook: "blocks.0.attn.hook_pattern" }, "hook");
    await bad({ neurons: [N, 128] }, "neurons[1]");
    await bad({ neurons: [] }, "neurons");
    await bad({ neurons: [], directions: [{ name: "short", values: [1, 2, 3] }] }, "directions[0].values");
    await bad({ range: [1, 0] }, "range");
    await bad({ topK: 0 }, "topK");
    await bad({ quantiles: [1.5] }, "quantiles[0]");
    await bad({ maxLength: 10_000 }, "maxLength");
    await bad({}, "corpus", []);
    await bad({}, "corpus", ["", ""]);
    await bad({}, "corpus", "one text" as unknown as NeuronCorpus);
    await bad({}, "corpus[1].ids[1]", [{ ids: [1] }, { ids: [2, 1e6] }]);
  });
});
