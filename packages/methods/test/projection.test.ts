// The projector's methods: PCA against planted decompositions, the packed columns against the model's own run,
// UMAP's determinism under a seed and its separation of two far-apart clusters, and the region probe's direction
// recovering the planted one. The clusters are planted in a tiny GPT-2's embedding: dimension 0 of every even token
// id is +10 and of every odd one −10, so hook_embed's points fall in two groups by the parity of their token.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "@llmdbg/core";
import { load, type Model } from "@llmdbg/models";
import type { ProjectionExample } from "@llmdbg/protocol";
import * as T from "@llmdbg/tensor";
import { writeTinyModel } from "@llmdbg/testing";
import { expectMethodResult, expectRequestError } from "@llmdbg/testing/vitest";
import { afterAll, describe, expect, it } from "vitest";
import { base64, packFloat32, packInt32, pca, projection, projectionProbe, rng, symmetricEigen } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "llmdbg-projection-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let cached: Model | null = null;
/** The tiny GPT-2 with dimension 0 of its embedding +10 for even token ids and −10 for odd ones. */
function parityModel(): Model {
  if (cached !== null) return cached;
  const folder = join(dir, "gpt2");
  writeTinyModel(folder, "gpt2", { seed: 5 });
  const m = load(folder);
  const wte = m.params.get("wte.weight");
  const D = wte.shape[1] as number;
  const data = Float32Array.from(wte.data as Float32Array);
  for (let t = 0; t < (wte.shape[0] as number); t++) data[t * D] = t % 2 === 0 ? 10 : -10;
  m.params.set("wte.weight", T.tensor(data, wte.shape));
  cached = m;
  return m;
}

const WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "hello", "world", "big", "red"];
function dataset(n: number, seed: number): ProjectionExample[] {
  const rand = rng(seed);
  return Array.from({ length: n }, (_, i) => ({
    text: Array.from({ length: 2 + Math.floor(rand() * 4) }, () => WORDS[Math.floor(rand() * WORDS.length)]).join(" "),
    ...(i % 3 !== 2 && { label: i % 3 === 0 ? "x" : "y" }),
  }));
}

const f32 = (s: string) => {
  const b = Buffer.from(s, "base64");
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
};
const i32 = (s: string) => {
  const b = Buffer.from(s, "base64");
  return new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
};

/** A random orthonormal basis of R^d (Gram–Schmidt on Gaussian-ish vectors), rows. */
function orthonormal(d: number, seed: number): Float64Array[] {
  const rand = rng(seed);
  const out: Float64Array[] = [];
  while (out.length < d) {
    const v = Float64Array.from({ length: d }, () => rand() - 0.5);
    for (const u of out) {
      const dot = v.reduce((s, x, j) => s + x * (u[j] as number), 0);
      for (let j = 0; j < d; j++) v[j] = (v[j] as number) - dot * (u[j] as number);
    }
    const norm = Math.hypot(...v);
    out.push(v.map((x) => x / norm));
  }
  return out;
}
const cosine = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let [ab, aa, bb] = [0, 0, 0];
  for (let j = 0; j < a.length; j++) {
    ab += (a[j] as number) * (b[j] as number);
    aa += (a[j] as number) ** 2;
    bb += (b[j] as number) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
};

describe("PCA", () => {
  it("symmetricEigen recovers a planted decomposition Q diag(λ) Qᵀ", () => {
    const d = 12;
    const Q = orthonormal(d, 1);
    const lambda = Array.from({ length: d }, (_, i) => (i === 5 ? -2 : 20 - 1.5 * i));
    const A = new Float64Array(d * d);
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++)
        A[i * d + j] = Q.reduce((s, q, k) => s + (lambda[k] as number) * (q[i] as number) * (q[j] as number), 0);
    const { values, vectors } = symmetricEigen(A, d);
    const sorted = [...lambda].sort((a, b) => b - a);
    values.forEach((v, i) => {
      expect(v).toBeCloseTo(sorted[i] as number, 10);
    });
    // each eigenvector is ± the planted one for that eigenvalue
    for (let k = 0; k < d; k++) {
      const planted = Q[lambda.indexOf(sorted[k] as number)] as Float64Array;
      expect(Math.abs(cosine(vectors.subarray(k * d, (k + 1) * d), planted))).toBeCloseTo(1, 10);
    }
  });

  it("symmetricEigen: A v = λ v with orthonormal vectors on a larger matrix with repeated eigenvalues, and a zero matrix", () => {
    const d = 60;
    const Q = orthonormal(d, 2);
    const lambda = Array.from({ length: d }, (_, i) => (i < 3 ? 7 : i < 10 ? -1.5 : (i % 5) * 0.3));
    const A = new Float64Array(d * d);
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++)
        A[i * d + j] = Q.reduce((s, q, k) => s + (lambda[k] as number) * (q[i] as number) * (q[j] as number), 0);
    const { values, vectors } = symmetricEigen(A, d);
    const sorted = [...lambda].sort((a, b) => b - a);
    values.forEach((v, i) => {
      expect(v).toBeCloseTo(sorted[i] as number, 10);
    });
    for (let k = 0; k < d; k++) {
      const v = vectors.subarray(k * d, (k + 1) * d);
      for (let i = 0; i < d; i++) {
        let av = 0;
        for (let j = 0; j < d; j++) av += (A[i * d + j] as number) * (v[j] as number);
        expect(av).toBeCloseTo((values[k] as number) * (v[i] as number), 10);
      }
      for (let l = 0; l <= k; l++) expect(cosine(v, vectors.subarray(l * d, (l + 1) * d))).toBeCloseTo(l === k ? 1 : 0, 10);
    }
    const zero = symmetricEigen(new Float64Array(9), 3);
    expect([...zero.values]).toEqual([0, 0, 0]);
    expect(Math.abs(cosine(zero.vectors.subarray(0, 3), zero.vectors.subarray(3, 6)))).toBeLessThan(1e-12);
  });

  it("finds the two planted directions of a rank-2 set and their variances", () => {
    const [n, d] = [2000, 16];
    const [u1, u2] = orthonormal(d, 7) as [Float64Array, Float64Array];
    const rand = rng(3);
    const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    const x = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      const [a, b] = [3 * gauss(), gauss()];
      for (let j = 0; j < d; j++) x[i * d + j] = 5 + a * (u1[j] as number) + b * (u2[j] as number) + 0.01 * gauss();
    }
    const p = pca(x, n, d, 2);
    expect(Math.abs(cosine(p.components.subarray(0, d), u1))).toBeGreaterThan(0.9999);
    expect(Math.abs(cosine(p.components.subarray(d, 2 * d), u2))).toBeGreaterThan(0.9999);
    expect(p.variances[0]).toBeGreaterThan(7.5);
    expect(p.variances[0]).toBeLessThan(10.5);
    expect(p.variances[1]).toBeGreaterThan(0.8);
    expect(p.variances[1]).toBeLessThan(1.2);
    expect(p.variances[2]).toBeLessThan(2e-4);
    expect(p.mean[0]).toBeCloseTo(5, 1);
    // the coordinates are the centred rows on the components: their variance is the component's
    const varOf = (c: number) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += (p.coords[i * 2 + c] as number) ** 2 / n;
      return s;
    };
    expect(varOf(0)).toBeCloseTo(p.variances[0] as number, 6);
    expect(varOf(1)).toBeCloseTo(p.variances[1] as number, 6);
  });

  it("packs columns as little-endian base64", () => {
    for (const len of [0, 1, 2, 3, 4, 5, 100]) {
      const bytes = Uint8Array.from({ length: len }, (_, i) => (i * 37 + 11) & 255);
      expect(base64(bytes)).toBe(Buffer.from(bytes).toString("base64"));
    }
    expect([...f32(packFloat32([1.5, -2, 3.25]))]).toEqual([1.5, -2, 3.25]);
    expect([...i32(packInt32([-1, 0, 2 ** 31 - 1]))]).toEqual([-1, 0, 2 ** 31 - 1]);
  });
});

describe("projection", () => {
  it("PCA of every token: one point per token with its example, position, token, label and the model's prediction", () => {
    const m = parityModel();
    const data = dataset(30, 1);
    const r = projection(m, { kind: "projection", hook: "blocks.0.hook_resid_post", dataset: data });
    expectMethodResult(r);
    const seqs = data.map((e) => m.tokenizer?.encode(e.text) as number[]);
    const total = seqs.reduce((s, q) => s + q.length, 0);
    expect([r.count, r.total, r.dim, r.method, r.points]).toEqual([total, total, 32, "pca", "tokens"]);
    const [xy, ex, pos, tok, pred, lab] = [
      f32(r.xy),
      i32(r.example),
      i32(r.position),
      i32(r.token),
      i32(r.prediction),
      i32(r.label),
    ];
    expect([xy.length, ex.length, pos.length, tok.length, pred.length, lab.length]).toEqual([
      2 * total,
      total,
      total,
      total,
      total,
      total,
    ]);
    expect(r.labels).toEqual(["x", "y"]);
    let i = 0;
    seqs.forEach((s, e) => {
      const logits = run(m, s).output; // [1, pos, vocab]
      const V = logits.shape[2] as number;
      s.forEach((id, p) => {
        expect([ex[i], pos[i], tok[i]]).toEqual([e, p, id]);
        const row = Array.from(logits.data.subarray(p * V, (p + 1) * V) as Float32Array);
        expect(pred[i]).toBe(row.indexOf(Math.max(...row)));
        expect(lab[i]).toBe(e % 3 === 2 ? -1 : e % 3 === 0 ? 0 : 1);
        i++;
      });
    });
    // every named token has its text
    for (const id of [...tok, ...pred]) expect(r.vocab.find((v) => v.id === id)?.text).toBe(m.tokenizer?.decode([id]));
    // the explained variances are shares, descending, and the x axis carries the larger one
    const ev = r.explainedVariance as number[];
    expect(ev.length).toBe(10);
    expect(ev.every((v, k) => v >= 0 && v <= 1 && (k === 0 || v <= (ev[k - 1] as number)))).toBe(true);
    const spread = (c: number) => xy.filter((_, k) => k % 2 === c).reduce((s, v) => s + v * v, 0);
    expect(spread(0)).toBeGreaterThan(spread(1));
    // the planted ±10 along dimension 0 is by far the largest variance of hook_embed
    const e = projection(m, { kind: "projection", hook: "hook_embed", dataset: data });
    expect((e.explainedVariance as number[])[0]).toBeGreaterThan(0.9);
  });

  it("samples down to maxPoints (seeded) and reads last tokens or means", () => {
    const m = parityModel();
    const data = dataset(40, 2);
    const a = projection(m, { kind: "projection", hook: "hook_embed", dataset: data, maxPoints: 25, seed: 4 });
    const b = projection(m, { kind: "projection", hook: "hook_embed", dataset: data, maxPoints: 25, seed: 4 });
    expect(a.count).toBe(25);
    expect(a.total).toBeGreaterThan(25);
    expect(a.example).toBe(b.example);
    expect(a.position).toBe(b.position);
    const last = projection(m, { kind: "projection", hook: "hook_embed", dataset: data, points: "last" });
    expect([last.count, last.total]).toEqual([40, 40]);
    const lastPos = i32(last.position);
    data.forEach((e, k) => {
      expect(lastPos[k]).toBe((m.tokenizer?.encode(e.text).length as number) - 1);
    });
    const mean = projection(m, { kind: "projection", hook: "hook_embed", dataset: data, points: "mean" });
    expect([...i32(mean.position)].every((p) => p === -1)).toBe(true);
    expect([...i32(mean.token)].every((p) => p === -1)).toBe(true);
  });

  it("UMAP is deterministic under a seed and separates two far-apart clusters", () => {
    const m = parityModel();
    const data = dataset(60, 3);
    const req = {
      kind: "projection",
      hook: "hook_embed",
      dataset: data,
      method: "umap",
      umap: { seed: 9, nNeighbors: 8, epochs: 150 },
    } as const;
    const a = projection(m, req);
    const b = projection(m, req);
    expectMethodResult(a);
    expect(a.xy).toBe(b.xy);
    expect(a.umap?.seed).toBe(9);
    expect(a.explainedVariance).toBeNull();
    // each point's nearest neighbour in the plot has a token of the same parity
    const xy = f32(a.xy);
    const tok = i32(a.token);
    let same = 0;
    for (let i = 0; i < a.count; i++) {
      let best = -1;
      let bestD = Number.POSITIVE_INFINITY;
      for (let j = 0; j < a.count; j++) {
        if (j === i) continue;
        const dd =
          ((xy[2 * i] as number) - (xy[2 * j] as number)) ** 2 + ((xy[2 * i + 1] as number) - (xy[2 * j + 1] as number)) ** 2;
        if (dd < bestD) [best, bestD] = [j, dd];
      }
      if ((tok[i] as number) % 2 === (tok[best] as number) % 2) same++;
    }
    expect(same / a.count).toBeGreaterThanOrEqual(0.98);
    const c = projection(m, { ...req, umap: { seed: 10, nNeighbors: 8, epochs: 150 } });
    expect(c.xy).not.toBe(a.xy);
  });

  it("stops on an aborted signal, and bad requests name their field", () => {
    const m = parityModel();
    const data = dataset(10, 4);
    const ctl = new AbortController();
    ctl.abort(new Error("stop here"));
    expect(() => projection(m, { kind: "projection", hook: "hook_embed", dataset: data }, { signal: ctl.signal })).toThrow(
      "stop here",
    );
    const bad = expectRequestError;
    const base = { kind: "projection", hook: "hook_embed", dataset: data } as const;
    bad(() => projection(m, { ...base, hook: "hook_embedd" }), "hook");
    bad(() => projection(m, { ...base, hook: "blocks.0.attn.hook_pattern" }), "hook", /\[batch, pos/);
    bad(() => projection(m, { ...base, points: "all" as "tokens" }), "points");
    bad(() => projection(m, { ...base, method: "tsne" as "pca" }), "method");
    bad(() => projection(m, { ...base, method: "umap", maxPoints: 5001 }), "maxPoints", /5000/);
    bad(() => projection(m, { ...base, dataset: [] }), "dataset");
    bad(() => projection(m, { ...base, dataset: [...data, { text: 3 as unknown as string }] }), "dataset[10].text");
    bad(() => projection(m, { ...base, dataset: [...data, { text: "" }] }), "dataset[10].text");
    bad(() => projection(m, { ...base, dataset: [{ text: "a", label: 1 as unknown as string }] }), "dataset[0].label");
    bad(() => projection(m, { ...base, method: "umap", umap: { minDist: 2 } }), "umap.minDist");
    bad(() => projection(m, { ...base, method: "umap", points: "last", dataset: data.slice(0, 3) }), "dataset", /four or more/);
  });
});

describe("region probe", () => {
  it("inside vs outside by token parity: accurate, and its direction is the planted dimension", () => {
    const m = parityModel();
    const data = dataset(40, 5);
    const inside: number[] = [];
    const outside: number[] = [];
    data.forEach((e, ex) => {
      for (const [p, id] of (m.tokenizer?.encode(e.text) ?? []).entries()) (id % 2 === 0 ? inside : outside).push(ex, p);
    });
    const r = projectionProbe(m, { kind: "projection_probe", hook: "hook_embed", dataset: data, inside, outside });
    expectMethodResult(r);
    expect(r.insideCount + r.outsideCount).toBe((inside.length + outside.length) / 2);
    expect(r.trainAccuracy).toBeGreaterThanOrEqual(0.95);
    expect(r.validationAccuracy).toBeGreaterThanOrEqual(0.95);
    expect(r.direction.length).toBe(32);
    expect(Math.hypot(...r.direction)).toBeCloseTo(1, 9);
    // points from outside (−10) towards inside (+10) along dimension 0
    expect(r.direction[0]).toBeGreaterThan(0.8);
    expect(r.gap).toBeGreaterThan(10);
    const bad = expectRequestError;
    const base = { kind: "projection_probe", hook: "hook_embed", dataset: data, inside, outside } as const;
    bad(() => projectionProbe(m, { ...base, inside: [0, 0] }), "inside");
    bad(() => projectionProbe(m, { ...base, inside: [0, 0, 0] }), "inside");
    bad(() => projectionProbe(m, { ...base, inside: [0, 0, 99, 0] }), "inside[2]");
    bad(() => projectionProbe(m, { ...base, outside: [0, 0, 1, 999] }), "outside[3]");
    bad(() => projectionProbe(m, { ...base, points: "mean" }), "inside[1]");
  });
});
