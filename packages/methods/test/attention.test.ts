// The attention method, proven where the answer is known. A tiny GPT-2 whose weights are set by hand holds a
// previous-token head (L0H0, by its positional embeddings) and an induction head (L1H1, K-composition with
// L0H0's output): the head scores name them, and zero-ablating either one (hook_z) takes the model's induction
// accuracy on repeated random sequences from 100% to 0%. Attention that only looks at its own position rolls out
// to the identity; uniform attention has the entropy and sinks computed by hand; the copying score equals the
// full d_vocab × d_vocab OV circuit's (grouped-query heads included); the result has its schema on every
// architecture; bad requests name their field. The pure helpers are proven in attention-helpers.test.ts.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run, type TransformerModel } from "@llmdbg/core";
import { load, type Model } from "@llmdbg/models";
import { tensor } from "@llmdbg/tensor";
import { writeTinyModel } from "@llmdbg/testing";
import { expectMethodResult } from "@llmdbg/testing/vitest";
import { afterAll, describe, expect, it } from "vitest";
import { attentionAnalysis, eigenvalues, MethodRequestError, rng } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "llmdbg-attention-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const models = new Map<string, Model>();
/** A tiny model of `type` (seed 5), loaded once per `name`: the tests that overwrite weights use their own name. */
function tiny(type: "gpt2" | "llama" | "qwen2" | "gpt_neox" | "bert", name: string = type): Model {
  const hit = models.get(name);
  if (hit !== undefined) return hit;
  const folder = join(dir, name);
  writeTinyModel(folder, type, { seed: 5 });
  const m = load(folder);
  models.set(name, m);
  return m;
}

// ——— a hand-built previous-token + induction circuit in the tiny GPT-2 ———

const D = 32;
const H = 4;
const DH = 8;
/** the residual stream's abstract coordinates: token identity, the previous token (written by L0H0), position */
const TOK = 0;
const PREV = 8;
const POS = 16;
/** rotation frequencies of the positional code: mean cos(Δω) ≤ 0.45 for every Δ ∈ [−1, 62] but 0 */
const OMEGA = [1.3, 1.9, 2.3, 2.4];
/** attention logit of a perfect match, for the previous-token and the induction head */
const BETA0 = 30;
const BETA1 = 40;
/** how strongly the induction head writes the attended token into the stream the unembedding reads */
const ALPHA = 20;

/**
 * 31 orthonormal directions of R^32, all orthogonal to the all-ones vector: LayerNorm's centring leaves vectors
 * in their span unchanged, so the circuit below is built in these coordinates and LayerNorm only rescales it.
 */
function meanFreeBasis(seed: number): Float64Array[] {
  const rand = rng(seed);
  const basis: Float64Array[] = [Float64Array.from({ length: D }, () => 1 / Math.sqrt(D))];
  while (basis.length < D) {
    const v = Float64Array.from({ length: D }, () => rand() - 0.5);
    for (const b of basis) {
      const d = v.reduce((s, x, i) => s + x * (b[i] as number), 0);
      for (let i = 0; i < D; i++) v[i] = (v[i] as number) - d * (b[i] as number);
    }
    const n = Math.hypot(...v);
    basis.push(v.map((x) => x / n));
  }
  return basis.slice(1);
}

/** Unit token vectors in 8 dimensions (the head dimension: a head's OV circuit passes at most 8). */
function tokenCode(V: number, seed: number): Float64Array[] {
  const rand = rng(seed);
  return Array.from({ length: V }, () => {
    const v = Float64Array.from({ length: 8 }, () => {
      const u = Math.max(rand(), 1e-12);
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand()); // Box–Muller
    });
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  });
}

/**
 * Overwrites a tiny GPT-2's parameters so that L0H0 attends to the previous position and copies that token's
 * vector into PREV, and L1H1 matches the current token (TOK) against each key's PREV and copies the key's token
 * into TOK ×ALPHA (read by the tied unembedding). LayerNorms are identities up to scale (weight 1, bias 0), MLPs
 * are zero; the other six heads keep their random queries and keys, with their OV circuits scaled by 0.1.
 */
function plantInduction(model: Model): void {
  const p = model.params;
  const basis = meanFreeBasis(11);
  const dirOf = (c: number) => basis[c] as Float64Array; // the actual d_model vector of abstract coordinate c
  const V = p.get("wte.weight").shape[0] as number;
  const code = tokenCode(V, 12);
  const set = (name: string, fill: (data: Float32Array) => void) => {
    const old = p.get(name);
    const data = new Float32Array(old.size);
    fill(data);
    p.set(name, tensor(data, old.shape));
  };
  const addDir = (data: Float32Array, offset: number, stride: number, c: number, scale: number) => {
    const d = dirOf(c);
    for (let i = 0; i < D; i++) data[offset + i * stride] = (data[offset + i * stride] as number) + scale * (d[i] as number);
  };
  set("wte.weight", (w) => {
    // [d_vocab, d_model]: token v is code[v] in TOK
    for (let v = 0; v < V; v++) for (let c = 0; c < 8; c++) addDir(w, v * D, 1, TOK + c, (code[v] as Float64Array)[c] as number);
  });
  set("wpe.weight", (w) => {
    // [n_ctx, d_model]: position n is (cos nω_j, sin nω_j)/2 in POS, norm 1
    const rows = w.length / D;
    for (let n = 0; n < rows; n++)
      OMEGA.forEach((om, j) => {
        addDir(w, n * D, 1, POS + 2 * j, Math.cos(n * om) / 2);
        addDir(w, n * D, 1, POS + 2 * j + 1, Math.sin(n * om) / 2);
      });
  });
  for (const ln of ["h.0.ln_1", "h.0.ln_2", "h.1.ln_1", "h.1.ln_2", "ln_f"]) {
    set(`${ln}.weight`, (w) => w.fill(1));
    set(`${ln}.bias`, () => {});
  }
  for (let l = 0; l < 2; l++) {
    for (const n of ["mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias", "attn.c_proj.bias"])
      set(`h.${l}.${n}`, () => {});
    const attn = p.get(`h.${l}.attn.c_attn.weight`).data; // [d_model, 3·d_model]: q | k | v, head h at 8h..8h+8
    const attnBias = p.get(`h.${l}.attn.c_attn.bias`).data; // [3·d_model]
    const proj = p.get(`h.${l}.attn.c_proj.weight`).data; // [d_model (z: head h at rows 8h..8h+8), d_model]
    const planted = l === 0 ? 0 : 1;
    // LayerNorm scales the stream to norm √32: it holds TOK + POS (norm √2) at layer 0, + PREV (√3) at layer 1
    const lnScale = Math.sqrt(D / (l === 0 ? 2 : 3));
    set(`h.${l}.attn.c_attn.weight`, (w) => {
      for (let r = 0; r < D; r++)
        for (let c = 0; c < 3 * D; c++) {
          const head = Math.floor((c % D) / DH);
          if (head !== planted) w[r * 3 * D + c] = (attn[r * 3 * D + c] as number) * (c >= 2 * D ? 0.1 : 1);
        }
      const col = (part: number, d: number) => part * D + planted * DH + d;
      if (l === 0) {
        // q·k/√8 = BETA0 · mean_j cos((q − 1 − k) ω_j): the query is the position rotated back by one step
        const a = Math.sqrt((BETA0 * Math.sqrt(DH)) / lnScale ** 2);
        OMEGA.forEach((om, j) => {
          const [c, s] = [Math.cos(om), Math.sin(om)];
          addDir(w, col(0, 2 * j), 3 * D, POS + 2 * j, a * c);
          addDir(w, col(0, 2 * j), 3 * D, POS + 2 * j + 1, a * s);
          addDir(w, col(0, 2 * j + 1), 3 * D, POS + 2 * j, -a * s);
          addDir(w, col(0, 2 * j + 1), 3 * D, POS + 2 * j + 1, a * c);
        });
        for (let d = 0; d < DH; d++) {
          addDir(w, col(1, d), 3 * D, POS + d, a);
          addDir(w, col(2, d), 3 * D, TOK + d, 1 / lnScale); // v: the key's token vector
        }
      } else {
        // q·k/√8 = BETA1 · (current token · key's previous token)
        const a = Math.sqrt((BETA1 * Math.sqrt(DH)) / lnScale ** 2);
        for (let d = 0; d < DH; d++) {
          addDir(w, col(0, d), 3 * D, TOK + d, a);
          addDir(w, col(1, d), 3 * D, PREV + d, a);
          addDir(w, col(2, d), 3 * D, TOK + d, 1 / lnScale);
        }
      }
    });
    set(`h.${l}.attn.c_attn.bias`, (b) => {
      for (let c = 0; c < 3 * D; c++)
        if (Math.floor((c % D) / DH) !== planted) b[c] = (attnBias[c] as number) * (c >= 2 * D ? 0.1 : 1);
    });
    set(`h.${l}.attn.c_proj.weight`, (w) => {
      for (let r = 0; r < D; r++)
        if (Math.floor(r / DH) !== planted) for (let c = 0; c < D; c++) w[r * D + c] = (proj[r * D + c] as number) * 0.1;
      for (let d = 0; d < DH; d++) addDir(w, (planted * DH + d) * D, 1, l === 0 ? PREV + d : TOK + d, l === 0 ? 1 : ALPHA);
    });
  }
}

/**
 * Overwrites a tiny GPT-2's attention so that every head attends to its own position only (queries and keys read
 * the positional code, logit 200 for a match against ≤ 90 for any other position) and writes nothing.
 */
function plantSelfAttention(model: Model): void {
  const p = model.params;
  const basis = meanFreeBasis(11);
  const a = Math.sqrt((200 * Math.sqrt(DH)) / 16); // the stream holds TOK + POS at every layer: LayerNorm scales by 4
  const fill = (name: string, f: (w: Float32Array) => void) => {
    const old = p.get(name);
    const w = new Float32Array(old.size);
    f(w);
    p.set(name, tensor(w, old.shape));
  };
  plantInduction(model);
  for (let l = 0; l < 2; l++) {
    fill(`h.${l}.attn.c_attn.bias`, () => {});
    fill(`h.${l}.attn.c_proj.weight`, () => {});
    fill(`h.${l}.attn.c_attn.weight`, (w) => {
      for (let h = 0; h < H; h++)
        for (let d = 0; d < DH; d++)
          for (let i = 0; i < D; i++) {
            const v = a * ((basis[POS + d] as Float64Array)[i] as number);
            w[i * 3 * D + h * DH + d] = v; // q
            w[i * 3 * D + D + h * DH + d] = v; // k
          }
    });
  }
}

/** Seeded repeated random sequences (the test's own, not the method's): [BOS, r, r], r of n distinct tokens. */
function repeated(seed: number, rows: number, n: number, bos: number, vocab: number): number[][] {
  const rand = rng(seed);
  return Array.from({ length: rows }, () => {
    const r: number[] = [];
    while (r.length < n) {
      const t = Math.floor(rand() * vocab);
      if (!r.includes(t)) r.push(t);
    }
    return [bos, ...r, ...r];
  });
}

/** The share of the second copy's positions (but the last) whose top prediction is the next token. */
function inductionAccuracy(model: TransformerModel, seqs: number[][], opts: Parameters<typeof run>[2] = {}): number {
  const B = seqs.length;
  const T = (seqs[0] as number[]).length;
  const n = (T - 1) / 2;
  const { output } = run(model, tensor(seqs.flat(), [B, T], "i32"), opts); // [batch, pos, d_vocab]
  const V = output.shape[2] as number;
  let hit = 0;
  let total = 0;
  seqs.forEach((s, b) => {
    for (let q = 1 + n; q < T - 1; q++) {
      const row = output.data.subarray((b * T + q) * V, (b * T + q + 1) * V);
      let arg = 0;
      for (let v = 1; v < V; v++) if ((row[v] as number) > (row[arg] as number)) arg = v;
      if (arg === s[q + 1]) hit++;
      total++;
    }
  });
  return hit / total;
}

/** [layer][head] → "L0H0 1.000 …", and the argmax head. */
const grid = (m: readonly (readonly number[])[]) =>
  m.flatMap((row, l) => row.map((x, h) => `L${l}H${h} ${x.toFixed(3)}`)).join("  ");
function argmaxHead(m: readonly (readonly number[])[]): [number, number] {
  let best: [number, number] = [0, 0];
  m.forEach((row, l) => {
    row.forEach((x, h) => {
      if (x > (m[best[0]]?.[best[1]] as number)) best = [l, h];
    });
  });
  return best;
}
const others = (m: readonly (readonly number[])[], l0: number, h0: number) =>
  m.flatMap((row, l) => row.filter((_, h) => l !== l0 || h !== h0));

describe("a hand-built previous-token + induction circuit (tiny GPT-2)", () => {
  const model = tiny("gpt2", "gpt2-induction");
  plantInduction(model);
  const bos = model.tokenizer?.bosTokenId as number;
  const request = { kind: "attention", input: { text: "the quick brown fox" }, scores: true, seed: 3, batch: 8 } as const;

  it("the head scores name the planted heads: L0H0 previous-token, L1H1 induction and copying", () => {
    const s = attentionAnalysis(model, request).scores;
    if (s === null || s.copying === null) throw new Error("no scores");
    console.log(
      `planted circuit, head scores:\n previous-token ${grid(s.previousToken)}\n induction      ${grid(s.induction)}\n` +
        ` duplicate      ${grid(s.duplicateToken)}\n copying        ${grid(s.copying)}`,
    );
    expect(argmaxHead(s.previousToken)).toEqual([0, 0]);
    expect(argmaxHead(s.induction)).toEqual([1, 1]);
    expect(argmaxHead(s.copying)).toEqual([1, 1]);
    expect(s.previousToken[0]?.[0]).toBeGreaterThan(0.99);
    expect(s.induction[1]?.[1]).toBeGreaterThan(0.95);
    expect(s.copying[1]?.[1]).toBeGreaterThan(0.9999); // its OV circuit is ALPHA · W_E W_Eᵀ: positive semidefinite
    expect(s.copying[0]?.[0]).toBe(0); // L0H0 writes PREV, which the unembedding does not read
    expect(Math.max(...others(s.previousToken, 0, 0))).toBeLessThan(0.2);
    expect(Math.max(...others(s.induction, 1, 1))).toBeLessThan(0.2);
    // nobody attends to the first occurrence itself
    expect(Math.max(...s.duplicateToken.flat())).toBeLessThan(0.2);
  });

  it("zero-ablating either planted head removes induction; ablating another head does not", () => {
    const seqs = repeated(7, 8, 20, bos, bos);
    const zero = (l: number, h: number) => ({
      interventions: [{ kind: "zero", hook: `blocks.${l}.attn.hook_z`, heads: [h] }] as const,
    });
    const acc = {
      clean: inductionAccuracy(model, seqs),
      ablateL0H0: inductionAccuracy(model, seqs, zero(0, 0)),
      ablateL1H1: inductionAccuracy(model, seqs, zero(1, 1)),
      ablateL0H2: inductionAccuracy(model, seqs, zero(0, 2)),
      ablateL1H0: inductionAccuracy(model, seqs, zero(1, 0)),
    };
    console.log(`induction accuracy on 8 × [BOS, 20 tokens, the same 20]: ${JSON.stringify(acc)}`);
    expect(acc.clean).toBeGreaterThan(0.95);
    expect(acc.ablateL0H0).toBeLessThan(0.1);
    expect(acc.ablateL1H1).toBeLessThan(0.1);
    expect(acc.ablateL0H2).toBeGreaterThan(0.95);
    expect(acc.ablateL1H0).toBeGreaterThan(0.95);
    // without the previous-token head's output (its rows of c_proj zeroed), the induction head finds nothing to match
    const edit = model.params.apply([
      { kind: "scale", param: "h.0.attn.c_proj.weight", factor: 0, rows: Array.from({ length: DH }, (_, i) => i) },
    ]);
    try {
      const s = attentionAnalysis(model, request).scores;
      console.log(`with L0H0's output removed: induction ${grid(s?.induction ?? [])}`);
      expect(s?.induction[1]?.[1]).toBeLessThan(0.2);
      expect(s?.previousToken[0]?.[0]).toBeGreaterThan(0.99); // its pattern is untouched
    } finally {
      edit.revert();
    }
  });
});

describe("rollout and flow", () => {
  it("an attention that only looks at its own position rolls out to the identity", () => {
    const m = tiny("gpt2", "gpt2-self");
    plantSelfAttention(m);
    const r = attentionAnalysis(m, { kind: "attention", input: { text: "the quick brown fox jumps" }, includePatterns: true });
    const P = r.tokens.length;
    let worst = 0;
    r.rollout.forEach((row, i) => {
      row.forEach((x, j) => {
        worst = Math.max(worst, Math.abs(x - (i === j ? 1 : 0)));
      });
    });
    for (const layer of r.patterns ?? [])
      for (const head of layer)
        head.forEach((row, q) => {
          expect(row[q]).toBeGreaterThan(1 - 1e-6);
        });
    console.log(`identity attention: max |rollout − I| ${worst.toExponential(2)} over ${P} positions`);
    expect(worst).toBeLessThan(1e-6);
    expect(r.flow.map((f) => Math.round(f * 1e6) / 1e6)).toEqual(Array.from({ length: P }, (_, j) => (j === P - 1 ? 1 : 0)));
    for (const row of r.entropy) for (const e of row) expect(e).toBeLessThan(1e-5);
    for (const row of r.firstToken) for (const f of row) expect(f).toBeCloseTo(1 / P, 6);
  });

  it("uniform attention: entropy is the mean log(q + 1) and the first token the top sink, with mass H_P / P", () => {
    const m = tiny("gpt2", "gpt2-uniform");
    for (let l = 0; l < 2; l++)
      for (const name of [`h.${l}.attn.c_attn.weight`, `h.${l}.attn.c_attn.bias`]) {
        // queries and keys zero (the first 2·d_model of each row of q | k | v): every query spreads evenly
        const w = Float32Array.from(m.params.get(name).data);
        for (let r = 0; r < w.length / (3 * D); r++) w.fill(0, r * 3 * D, r * 3 * D + 2 * D);
        m.params.set(name, tensor(w, m.params.get(name).shape));
      }
    const r = attentionAnalysis(m, { kind: "attention", input: { ids: [5, 9, 2, 77, 31, 8] } });
    const P = 6;
    const entropy = Array.from({ length: P }, (_, q) => Math.log(q + 1)).reduce((a, b) => a + b) / P;
    const first = Array.from({ length: P }, (_, q) => 1 / (q + 1)).reduce((a, b) => a + b) / P;
    for (let l = 0; l < 2; l++)
      for (let h = 0; h < H; h++) {
        expect(r.entropy[l]?.[h]).toBeCloseTo(entropy, 5);
        expect(r.firstToken[l]?.[h]).toBeCloseTo(first, 5);
        expect(r.sinks[l]?.[h]?.map((s) => s.position)).toEqual([0, 1, 2]);
      }
    // rollout of the uniform causal matrix, by hand for two positions' rows: Ã = 0.5·U + 0.5·I
    const U = Array.from({ length: P }, (_, q) => Array.from({ length: P }, (_, k) => (k <= q ? 1 / (q + 1) : 0)));
    const A = U.map((row, q) => row.map((x, k) => 0.5 * x + (q === k ? 0.5 : 0)));
    const A2 = A.map((row) => A[0]?.map((_, j) => row.reduce((s, x, k) => s + x * (A[k]?.[j] as number), 0)) ?? []);
    for (let i = 0; i < P; i++) for (let j = 0; j < P; j++) expect(r.rollout[i]?.[j]).toBeCloseTo(A2[i]?.[j] as number, 5);
  });
});

// ——— copying: the d_head × d_head shortcut against the full d_vocab × d_vocab OV circuit ———

describe.each(["gpt2", "llama"] as const)("%s: the copying score", (type) => {
  it("equals Σλ / Σ|λ| of the full OV circuit W_E W_V W_O W_U, each query head with its key/value head", () => {
    const m = tiny(type);
    const r = attentionAnalysis(m, { kind: "attention", input: { ids: [1, 2, 3] }, layers: [1], scores: true, batch: 1 });
    const got = r.scores?.copying?.[0] ?? [];
    const [V, Dm] = m.W_E.shape as [number, number];
    const { W_V, W_O } = m.attn(1); // [kv_head, d_model, d_head], [head, d_head, d_model]
    const [Hq, Dh] = W_O.shape as [number, number, number];
    const Hkv = W_V.shape[0] as number;
    const E = m.W_E.data; // [d_vocab, d_model]
    const U = m.W_U.data; // [d_model, d_vocab]
    const score = (h: number, kv: number) => {
      const EV = Array.from({ length: V }, (_, v) =>
        Array.from({ length: Dh }, (_, j) => {
          let s = 0;
          for (let d = 0; d < Dm; d++) s += (E[v * Dm + d] as number) * (W_V.data[(kv * Dm + d) * Dh + j] as number);
          return s;
        }),
      ); // [d_vocab, d_head]
      const OU = Array.from({ length: Dh }, (_, i) =>
        Array.from({ length: V }, (_, u) => {
          let s = 0;
          for (let d = 0; d < Dm; d++) s += (W_O.data[(h * Dh + i) * Dm + d] as number) * (U[d * V + u] as number);
          return s;
        }),
      ); // [d_head, d_vocab]
      const full = EV.map((row) =>
        Array.from({ length: V }, (_, u) => row.reduce((s, x, i) => s + x * (OU[i]?.[u] as number), 0)),
      ); // [d_vocab, d_vocab]
      const ev = eigenvalues(full);
      return ev.reduce((s, e) => s + e.re, 0) / ev.reduce((s, e) => s + Math.hypot(e.re, e.im), 0);
    };
    const group = Hq / Hkv;
    const want = Array.from({ length: Hq }, (_, h) => score(h, Math.floor(h / group)));
    console.log(
      `${type} L1 copying: method ${got.map((x) => x.toFixed(5)).join(" ")}; full circuit ${want.map((x) => x.toFixed(5)).join(" ")}`,
    );
    want.forEach((w, h) => {
      expect(got[h]).toBeCloseTo(w, 4);
    });
    if (Hkv < Hq) {
      // the test can tell a wrong grouping: head 1 read with key/value head 1 instead of 0
      expect(Math.abs(score(1, 1 % Hkv) - (got[1] as number))).toBeGreaterThan(1e-3);
    }
  });
});

// ——— every architecture: consistency, schema, requests ———

const TEXT = "the quick brown fox jumps over the lazy dog";

describe.each(["gpt2", "llama", "qwen2", "gpt_neox", "bert"] as const)("%s", (type) => {
  it("patterns are the model's own, the statistics and rollout follow from them, and the result has its schema", () => {
    const m = tiny(type);
    const progress: number[] = [];
    const r = attentionAnalysis(
      m,
      { kind: "attention", input: { text: TEXT }, includePatterns: true, scores: true, repeatLength: 6, batch: 2, heads: [3, 0] },
      { onProgress: (p) => progress.push(p.done / p.total) },
    );
    expectMethodResult(r);
    expect(progress.at(-1)).toBe(1);
    expect(r.heads).toEqual([3, 0]);
    expect(r.repeatLength).toBe(6);
    expect(r.scores?.copying === null).toBe(type === "bert"); // the tiny BERT is a classifier: no unembedding
    const ids = r.tokens.map((t) => t.id);
    const P = ids.length;
    const { cache } = run(m, ids, { cache: "blocks.*.attn.hook_pattern" });
    const Hn = m.axisSizes.head as number;
    r.layers.forEach((l, li) => {
      const A = cache.get(`blocks.${l}.attn.hook_pattern`).data; // [1, head, query_pos, key_pos]
      r.heads.forEach((h, hi) => {
        const pat = r.patterns?.[li]?.[hi] ?? [];
        let worst = 0;
        for (let q = 0; q < P; q++)
          for (let k = 0; k < P; k++)
            worst = Math.max(worst, Math.abs((pat[q]?.[k] as number) - (A[(h * P + q) * P + k] as number)));
        expect(worst).toBeLessThan(1e-6);
        const sinks = r.sinks[li]?.[hi] ?? [];
        expect(sinks.map((s) => s.mass)).toEqual([...sinks.map((s) => s.mass)].sort((a, b) => b - a));
        const first = sinks.find((s) => s.position === 0);
        if (first !== undefined) expect(first.mass).toBeCloseTo(r.firstToken[li]?.[hi] as number, 12);
        expect(r.entropy[li]?.[hi]).toBeGreaterThanOrEqual(0);
        expect(r.entropy[li]?.[hi]).toBeLessThanOrEqual(Math.log(P) + 1e-9);
      });
      expect(Hn).toBeGreaterThan(Math.max(...r.heads));
    });
    // rollout is row-stochastic; the flow into the last position is at most its row's capacity, 1
    for (const row of r.rollout) expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    for (const f of r.flow) {
      expect(f).toBeGreaterThanOrEqual(0);
      expect(f).toBeLessThanOrEqual(1 + 1e-9);
    }
    for (const s of Object.values(r.scores ?? {}))
      for (const x of (s ?? []).flat()) {
        expect(x).toBeGreaterThanOrEqual(-1 - 1e-9);
        expect(x).toBeLessThanOrEqual(1 + 1e-9);
      }
    // the same seed draws the same sequences, hence the same scores
    const again = attentionAnalysis(m, {
      kind: "attention",
      input: { text: TEXT },
      scores: true,
      repeatLength: 6,
      batch: 2,
      heads: [3, 0],
    });
    expect(again.scores).toEqual(r.scores);
  });
});

describe("bad requests name their field", () => {
  const cases: [string, Record<string, unknown>][] = [
    ["input.ids", { input: { ids: [] } }],
    ["layers[0]", { layers: [2] }],
    ["layers[1]", { layers: [0, -2] }],
    ["layers", { layers: [] }],
    ["heads[1]", { heads: [0, 4] }],
    ["heads[0]", { heads: [1.5] }],
    ["repeatLength", { scores: true, repeatLength: 40 }],
    ["repeatLength", { scores: true, repeatLength: 1 }],
    ["batch", { scores: true, batch: 0 }],
    ["seed", { scores: true, seed: 0.5 }],
  ];
  it.each(cases)("%s", (field, extra) => {
    const m = tiny("gpt2");
    const req = { kind: "attention", input: { ids: [1, 2, 3] }, ...extra } as Parameters<typeof attentionAnalysis>[1];
    let err: unknown;
    try {
      attentionAnalysis(m, req);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MethodRequestError);
    expect((err as MethodRequestError).field).toBe(field);
  });

  it("an aborted signal stops the method", () => {
    const ctl = new AbortController();
    ctl.abort(new Error("stop"));
    expect(() => attentionAnalysis(tiny("gpt2"), { kind: "attention", input: { ids: [1, 2] } }, { signal: ctl.signal })).toThrow(
      "stop",
    );
  });
});
