// The attention view's requests at long inputs against the attention method's full result: every thumbnail is the
// max-pool of its head's pattern and the single-head request is that head's pattern, both within the sqrt8
// quantization step; the statistics, scores and flow equal attentionAnalysis's exactly and the rollout within its
// quantization; the residual mix equals `rollout`'s; quantization round-trips within its bound; bad fields are
// named. The inputs are long enough that the thumbnails pool (64 positions at 16-entry thumbnails: blocks of 4).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { load, type Model } from "@llmdbg/models";
import { writeTinyModel } from "@llmdbg/testing";
import { expectMethodResult } from "@llmdbg/testing/vitest";
import { afterAll, describe, expect, it } from "vitest";
import { withResidualFlat } from "../src/attention-view.js";
import {
  attentionAnalysis,
  attentionHead,
  attentionOverview,
  dequantizeSqrt8,
  MethodRequestError,
  quantizeSqrt8,
  rollout,
} from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "llmdbg-attention-view-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeTinyModel(join(dir, "gpt2"), "gpt2", { seed: 7 });
const model: Model = load(join(dir, "gpt2"));
const P = 64; // the tiny GPT-2's positions
const ids = Array.from({ length: P }, (_, i) => (i * 7 + 3) % 50);

/** The bound on |v − decoded| of the sqrt8 encoding (protocol's QuantizedMatrix). */
const step = (v: number) => (Math.sqrt(Math.max(v, 0)) + 0.001) / 255 + 1e-7;

describe("attention at long inputs", () => {
  const full = attentionAnalysis(model, { kind: "attention", input: { ids }, includePatterns: true, scores: true });
  const patterns = full.patterns as number[][][][];

  it("thumbnails max-pool every head's pattern; statistics, scores and flow equal the attention method's", () => {
    const o = attentionOverview(model, { kind: "attention_overview", input: { ids }, thumbnail: 16, scores: true });
    expectMethodResult(o);
    expect(o.pool).toBe(4);
    expect(o.entropy).toEqual(full.entropy);
    expect(o.firstToken).toEqual(full.firstToken);
    expect(o.sinks).toEqual(full.sinks);
    expect(o.scores).toEqual(full.scores);
    expect(o.flow).toEqual(full.flow);
    expect(o.thumbnails).toHaveLength(2);
    let checked = 0;
    o.thumbnails.forEach((row, li) => {
      expect(row).toHaveLength(4);
      row.forEach((t, hi) => {
        expect([t.rows, t.cols]).toEqual([16, 16]);
        const got = dequantizeSqrt8(t);
        const p = patterns[li]?.[hi] as number[][];
        for (let i = 0; i < 16; i++)
          for (let j = 0; j < 16; j++) {
            let max = 0;
            for (let q = 4 * i; q < 4 * i + 4; q++) for (let k = 4 * j; k < 4 * j + 4; k++) max = Math.max(max, p[q]?.[k] ?? 0);
            expect(Math.abs((got[i * 16 + j] as number) - max)).toBeLessThanOrEqual(step(max));
            checked++;
          }
        // causal: the blocks above the diagonal are empty, the diagonal ones are not
        expect(got[15]).toBe(0);
        expect(got[0]).toBeGreaterThan(0);
      });
    });
    expect(checked).toBe(2 * 4 * 256);
    const roll = dequantizeSqrt8(o.rollout);
    expect([o.rollout.rows, o.rollout.cols]).toEqual([P, P]);
    let worst = 0;
    full.rollout.forEach((row, i) => {
      row.forEach((v, j) => {
        worst = Math.max(worst, Math.abs((roll[i * P + j] as number) - v) - step(v));
      });
    });
    expect(worst).toBeLessThanOrEqual(1e-6); // f32 products: a value on a byte's edge may round either way
  });

  it("the single-head request is that head's full pattern, negative indices counted from the end", () => {
    for (const [layer, head] of [
      [0, 0],
      [1, 2],
      [-1, -1],
    ] as const) {
      const r = attentionHead(model, { kind: "attention_head", input: { ids }, layer, head });
      expectMethodResult(r);
      const l = layer < 0 ? 2 + layer : layer;
      const h = head < 0 ? 4 + head : head;
      expect([r.layer, r.head, r.tokens.length]).toEqual([l, h, P]);
      const got = dequantizeSqrt8(r.pattern);
      const p = patterns[l]?.[h] as number[][];
      let worst = -1;
      for (let q = 0; q < P; q++)
        for (let k = 0; k < P; k++) {
          const v = p[q]?.[k] ?? Number.NaN;
          worst = Math.max(worst, Math.abs((got[q * P + k] as number) - v) - step(v));
        }
      expect(worst).toBeLessThanOrEqual(0);
      // the first query attends to itself alone
      expect(got[0]).toBe(1);
    }
  });

  it("the overview leaves every layer's patterns on a shelf, and a head request takes its head from there", () => {
    const kept = new Map<string, Uint8Array>();
    const shelf = {
      put: (at: readonly number[], layer: number, bytes: Uint8Array) => kept.set(`${at.join(",")}/${layer}`, bytes),
      get: (at: readonly number[], layer: number) => kept.get(`${at.join(",")}/${layer}`),
    };
    attentionOverview(model, { kind: "attention_overview", input: { ids }, layers: [1] }, { shelf });
    expect([...kept.keys()]).toEqual([`${ids.join(",")}/0`, `${ids.join(",")}/1`]); // every layer, all heads
    expect(kept.get(`${ids.join(",")}/1`)?.length).toBe(4 * P * P);
    const fresh = attentionHead(model, { kind: "attention_head", input: { ids }, layer: 1, head: 2 });
    const shelved = attentionHead(model, { kind: "attention_head", input: { ids }, layer: 1, head: 2 }, { shelf });
    expect(shelved).toEqual(fresh);
    // it is read, not recomputed: a planted layer comes back
    kept.set(`${ids.join(",")}/1`, new Uint8Array(4 * P * P).fill(7));
    const planted = attentionHead(model, { kind: "attention_head", input: { ids }, layer: 1, head: 2 }, { shelf });
    expect([...new Set(dequantizeSqrt8(planted.pattern))]).toEqual([Math.fround((7 / 255) ** 2)]);
    // another input misses the shelf and is computed
    const other = attentionHead(model, { kind: "attention_head", input: { ids: ids.slice(1) }, layer: 1, head: 2 }, { shelf });
    expect(other.pattern.rows).toBe(P - 1);
    expect(dequantizeSqrt8(other.pattern)[0]).toBe(1);
  });

  it("skips flow beyond its limit only: a short input has it", () => {
    const o = attentionOverview(model, { kind: "attention_overview", input: { ids: ids.slice(0, 5) } });
    expect(o.pool).toBe(1);
    expect(o.flow).toHaveLength(5);
    expect(o.flowMaxPositions).toBeGreaterThanOrEqual(P);
  });

  it("names the bad field", () => {
    const bad = (f: () => unknown, field: string) => {
      try {
        f();
        throw new Error("no error");
      } catch (e) {
        expect(e).toBeInstanceOf(MethodRequestError);
        expect((e as MethodRequestError).field).toBe(field);
      }
    };
    bad(() => attentionHead(model, { kind: "attention_head", input: { ids }, layer: 2, head: 0 }), "layer");
    bad(() => attentionHead(model, { kind: "attention_head", input: { ids }, layer: 0, head: 4 }), "head");
    bad(() => attentionHead(model, { kind: "attention_head", input: { ids }, layer: 0.5, head: 0 }), "layer");
    bad(() => attentionOverview(model, { kind: "attention_overview", input: { ids }, thumbnail: 0 }), "thumbnail");
    bad(() => attentionOverview(model, { kind: "attention_overview", input: { ids }, thumbnail: 1e9 }), "thumbnail");
    bad(() => attentionOverview(model, { kind: "attention_overview", input: { ids }, heads: [9] }), "heads[0]");
  });
});

describe("the pieces", () => {
  it("the residual mix equals rollout's one-layer step on random causal and full matrices", () => {
    let seed = 1;
    const rand = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    for (const causal of [true, false]) {
      const n = 9;
      const A = Array.from({ length: n }, (_, i) => {
        const row = Array.from({ length: n }, (_, j) => (causal && j > i ? 0 : rand()));
        const s = row.reduce((x, y) => x + y, 0);
        return row.map((v) => v / s);
      });
      const got = withResidualFlat(Float64Array.from(A.flat()), n);
      const want = rollout([A]).flat(); // one layer: the mixed matrix itself
      for (let i = 0; i < n * n; i++) expect(got[i]).toBeCloseTo(want[i] as number, 6);
    }
  });

  it("sqrt8 round-trips within its bound, clamps, and spends its levels near zero", () => {
    const values = [0, 1, 0.5, 1e-5, 2e-5, 0.001, 0.25, 0.9999, -0.2, 1.5, Number.NaN];
    const q = quantizeSqrt8(values, 1, values.length);
    expect(q.data).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const back = dequantizeSqrt8(q);
    for (const [i, v] of values.slice(0, 8).entries()) expect(Math.abs((back[i] as number) - v)).toBeLessThanOrEqual(step(v));
    expect([back[8], back[9], back[10]]).toEqual([0, 1, 0]);
    expect(back[4]).toBeGreaterThan(0); // 2e-5 is not rounded away, as a linear byte would
    expect(() => quantizeSqrt8([1, 2], 2, 2)).toThrow(RangeError);
    // every length's padding decodes back (base64 of 1, 2 and 3 bytes)
    for (const n of [1, 2, 3, 4, 5]) {
      const vals = Array.from({ length: n }, (_, i) => ((i + 1) / 6) ** 2);
      const d = dequantizeSqrt8(quantizeSqrt8(vals, 1, n));
      expect(Array.from(d, (v) => Math.round(Math.sqrt(v) * 255))).toEqual(vals.map((v) => Math.round(Math.sqrt(v) * 255)));
    }
  });
});
