// Attention analysis, as TransformerLens and the literature define its pieces:
//
//   patterns    blocks.L.attn.hook_pattern [batch, head, query_pos, key_pos] on the input; per head the mean
//               entropy of a query's attention (nats), and the mass each key receives averaged over queries (the
//               first token's share, and the top "sinks")
//   rollout     Abnar & Zuidema 2020: each layer's head-averaged attention mixed with the residual connection
//               (0.5·A + 0.5·I, rows renormalized), multiplied through the layers
//   flow        Abnar & Zuidema 2020: the maximum flow from each input position to the last position's output
//               through the layered graph whose capacities are those mixed matrices (Dinic's algorithm)
//   scores      on synthetic sequences of N random tokens repeated twice (seeded; distinct tokens, special ones
//               avoided; the BOS token first where the tokenizer has one): previous-token (attention to position i − 1), induction
//               (from the second copy to the token after the first occurrence, offset −N+1), duplicate-token (to
//               the first occurrence, offset −N); copying from the weights alone: Σλ / Σ|λ| over the eigenvalues
//               of the full OV circuit W_E W_V W_O W_U (Elhage et al. 2021; TransformerLens's OV.eigenvalues)
//
// The full OV circuit is d_vocab × d_vocab, but a product's nonzero eigenvalues are invariant under cyclic
// permutation, so they are those of the d_head × d_head matrix W_O (W_U W_E) W_V, found by Hessenberg reduction
// and the shifted (Francis double-shift) QR iteration (eigenvalues.ts). A grouped-query model's query head h reads key/value
// head ⌊h / (heads / kv_heads)⌋, as its forward pass repeats them.
import { run, type TransformerModel } from "@llmdbg/core";
import type { AttentionHeadScores, AttentionRequest, AttentionResult, AttentionSink } from "@llmdbg/protocol";
import { matmul, reshape, type Tensor, tensor } from "@llmdbg/tensor";
import { checkAborted, inputIds, type MethodOptions, MethodRequestError, tokenRef } from "./common.js";
import { eigenvalues, type Matrix } from "./eigenvalues.js";
import { rng } from "./perturbation.js";

export { type Complex, eigenvalues, type Matrix } from "./eigenvalues.js";

/** Sinks reported per head. */
const SINKS = 3;
/** Below this share of ‖W_O‖‖W_U W_E‖‖W_V‖, Σ|λ| is rounding and the OV circuit counts as zero (copying 0). */
const ZERO_CIRCUIT = 1e-5;

/**
 * Per-head attention statistics, rollout and flow on the input; with `scores`, the four head scores.
 * @example attentionAnalysis(model, { kind: "attention", input: { text: "When Mary and John went to the store" }, scores: true })
 */
export function attentionAnalysis(model: TransformerModel, req: AttentionRequest, opts: MethodOptions = {}): AttentionResult {
  const ids = inputIds(model, req.input);
  const L = model.nLayers;
  const H = model.axisSizes.head;
  if (H === undefined || !model.hookPoints.some((p) => p.name === "blocks.0.attn.hook_pattern"))
    throw new MethodRequestError("model", "this model declares no attention patterns (blocks.L.attn.hook_pattern)");
  const layers = listIndices(req.layers, L, "layers", "layer");
  const heads = listIndices(req.heads, H, "heads", "head");
  const wantScores = req.scores ?? false;
  const seq = wantScores ? syntheticPlan(model, req) : null;
  const total = L + 1 + (wantScores ? 1 : 0);

  // every layer's pattern: rollout and flow go through all of them, whatever `layers` reports
  const { cache } = run(model, ids, { cache: "blocks.*.attn.hook_pattern" });
  const P = ids.length;
  const perLayer: number[][][] = []; // [layer][query][key], averaged over heads
  const entropy: number[][] = [];
  const firstToken: number[][] = [];
  const sinks: AttentionSink[][][] = [];
  const patterns: number[][][][] = [];
  for (let l = 0; l < L; l++) {
    checkAborted(opts.signal);
    const A = cache.get(`blocks.${l}.attn.hook_pattern`).data; // [1, head, query_pos, key_pos]
    const avg = Array.from({ length: P }, (_, q) =>
      Array.from({ length: P }, (_, k) => {
        let s = 0;
        for (let h = 0; h < H; h++) s += A[(h * P + q) * P + k] as number;
        return s / H;
      }),
    );
    perLayer.push(avg);
    const li = layers.indexOf(l);
    if (li >= 0) {
      entropy[li] = [];
      firstToken[li] = [];
      sinks[li] = [];
      patterns[li] = [];
      for (const h of heads) {
        const stats = headStats(A, h, P);
        entropy[li]?.push(stats.entropy);
        firstToken[li]?.push(stats.mass[0] as number);
        sinks[li]?.push(topSinks(stats.mass));
        if (req.includePatterns === true)
          patterns[li]?.push(Array.from({ length: P }, (_, q) => Array.from(A.subarray((h * P + q) * P, (h * P + q + 1) * P))));
      }
    }
    opts.onProgress?.({ done: l + 1, total, what: `blocks.${l}.attn.hook_pattern` });
  }
  checkAborted(opts.signal);
  const rolled = rollout(perLayer);
  const flow = attentionFlow(perLayer);
  opts.onProgress?.({ done: L + 1, total, what: "rollout and flow" });

  let scores: AttentionHeadScores | null = null;
  if (seq !== null) {
    checkAborted(opts.signal);
    scores = headScores(model, seq, layers, heads);
    opts.onProgress?.({ done: total, total, what: "head scores" });
  }
  return {
    kind: "attention",
    tokens: ids.map((id) => tokenRef(model, id)),
    layers,
    heads,
    entropy,
    firstToken,
    sinks,
    rollout: rolled,
    flow,
    patterns: req.includePatterns === true ? patterns : null,
    scores,
    seed: seq?.seed ?? null,
    repeatLength: seq?.N ?? null,
    batch: seq?.batch ?? null,
  };
}

/** The request's layers or heads as non-negative indices (all when absent); negative counts from the end. */
export function listIndices(list: readonly number[] | undefined, n: number, field: string, what: string): number[] {
  if (list === undefined) return Array.from({ length: n }, (_, i) => i);
  if (list.length === 0) throw new MethodRequestError(field, "is empty (leave it out for all)");
  const out: number[] = [];
  for (const [i, x] of list.entries()) {
    if (!Number.isInteger(x) || x < -n || x >= n)
      throw new MethodRequestError(`${field}[${i}]`, `${what} ${x} is not in [-${n}, ${n}) (the model has ${n})`);
    const v = x < 0 ? n + x : x;
    if (out.includes(v)) throw new MethodRequestError(`${field}[${i}]`, `${what} ${v} is listed twice`);
    out.push(v);
  }
  return out;
}

/** One head's mean row entropy (nats) and the mean attention each key position receives. */
export function headStats(A: ArrayLike<number>, h: number, P: number): { entropy: number; mass: number[] } {
  let entropy = 0;
  const mass = new Array<number>(P).fill(0);
  for (let q = 0; q < P; q++) {
    const row = (h * P + q) * P;
    for (let k = 0; k < P; k++) {
      const a = A[row + k] as number;
      if (a > 0) entropy -= a * Math.log(a);
      mass[k] = (mass[k] as number) + a / P;
    }
  }
  return { entropy: entropy / P, mass };
}

export function topSinks(mass: readonly number[]): AttentionSink[] {
  return mass
    .map((m, position) => ({ position, mass: m }))
    .sort((a, b) => b.mass - a.mass || a.position - b.position)
    .slice(0, SINKS);
}

// ——— rollout and flow ———

/** (1 − residual)·A + residual·I with rows renormalized: one layer's attention with its residual connection. */
function withResidual(A: Matrix, residual: number): number[][] {
  if (!(residual >= 0 && residual <= 1)) throw new RangeError(`residual ${residual} is not in [0, 1]`);
  return A.map((row, i) => {
    if (row.length !== A.length)
      throw new RangeError(`attention matrix row ${i} has ${row.length} entries, expected ${A.length}`);
    const mixed = row.map((a, j) => (1 - residual) * a + (i === j ? residual : 0));
    const s = mixed.reduce((x, y) => x + y, 0);
    return s > 0 ? mixed.map((v) => v / s) : mixed;
  });
}

/**
 * Attention rollout over layers of [query][key] attention (first layer first): the product Ã_L ⋯ Ã_1 of the
 * residual-mixed matrices; entry [i][j] is how much of output position i traces back to input position j.
 * @example rollout([[[1, 0], [0.5, 0.5]]]) // [[1, 0], [0.25, 0.75]]
 */
export function rollout(layers: readonly Matrix[], residual = 0.5): number[][] {
  const n = layers[0]?.length ?? 0;
  let R: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  for (const A of layers) {
    if (A.length !== n) throw new RangeError(`rollout: layers of ${n} and ${A.length} positions`);
    const M = withResidual(A, residual);
    R = M.map((row) => Array.from({ length: n }, (_, j) => row.reduce((s, m, k) => s + m * (R[k]?.[j] as number), 0)));
  }
  return R;
}

/** A directed edge of a flow network. */
export interface FlowEdge {
  readonly from: number;
  readonly to: number;
  readonly capacity: number;
}

/** Residual capacity below this counts as saturated (capacities are attention weights, O(1)). */
const FLOW_EPS = 1e-12;

/** A flow network in adjacency arrays, with Dinic's algorithm; `reset` restores the capacities for another run. */
class FlowNetwork {
  private readonly first: Int32Array;
  private readonly next: number[] = [];
  private readonly to: number[] = [];
  private readonly capacity: number[] = [];
  private residual: number[] = [];

  constructor(readonly n: number) {
    this.first = new Int32Array(n).fill(-1);
  }

  add(from: number, to: number, capacity: number): void {
    for (const v of [from, to])
      if (!Number.isInteger(v) || v < 0 || v >= this.n) throw new RangeError(`flow: node ${v} is not in [0, ${this.n})`);
    if (!(capacity >= 0)) throw new RangeError(`flow: capacity ${capacity} of edge ${from} → ${to} is not ≥ 0`);
    // each edge is stored with its reverse (capacity 0) at index ^ 1
    for (const [a, b, c] of [
      [from, to, capacity],
      [to, from, 0],
    ] as const) {
      this.to.push(b);
      this.capacity.push(c);
      this.next.push(this.first[a] as number);
      this.first[a] = this.to.length - 1;
    }
  }

  /** The maximum flow from `s` to `t` (Dinic: BFS levels, then blocking flows by DFS), from fresh capacities. */
  maxFlow(s: number, t: number): number {
    this.residual = [...this.capacity];
    if (s === t) throw new RangeError("flow: source and sink are the same node");
    const level = new Int32Array(this.n);
    const cursor = new Int32Array(this.n);
    let total = 0;
    for (;;) {
      level.fill(-1);
      level[s] = 0;
      const queue = [s];
      for (let qi = 0; qi < queue.length; qi++) {
        const u = queue[qi] as number;
        for (let e = this.first[u] as number; e >= 0; e = this.next[e] as number) {
          const v = this.to[e] as number;
          if (level[v] === -1 && (this.residual[e] as number) > FLOW_EPS) {
            level[v] = (level[u] as number) + 1;
            queue.push(v);
          }
        }
      }
      if (level[t] === -1) return total;
      cursor.set(this.first);
      for (
        let f = this.push(s, t, Number.POSITIVE_INFINITY, level, cursor);
        f > FLOW_EPS;
        f = this.push(s, t, Number.POSITIVE_INFINITY, level, cursor)
      )
        total += f;
    }
  }

  /** One augmenting path in the level graph from u, at most `limit`; advances the cursors past dead edges. */
  private push(u: number, t: number, limit: number, level: Int32Array, cursor: Int32Array): number {
    if (u === t) return limit;
    for (; (cursor[u] as number) >= 0; cursor[u] = this.next[cursor[u] as number] as number) {
      const e = cursor[u] as number;
      const v = this.to[e] as number;
      const r = this.residual[e] as number;
      if (r <= FLOW_EPS || level[v] !== (level[u] as number) + 1) continue;
      const f = this.push(v, t, Math.min(limit, r), level, cursor);
      if (f > FLOW_EPS) {
        this.residual[e] = r - f;
        this.residual[e ^ 1] = (this.residual[e ^ 1] as number) + f;
        return f;
      }
    }
    return 0;
  }
}

/**
 * The maximum flow from `source` to `sink` over directed edges with capacities (Dinic's algorithm).
 * @example maxFlow(3, [{ from: 0, to: 1, capacity: 2 }, { from: 1, to: 2, capacity: 1 }], 0, 2) // 1
 */
export function maxFlow(n: number, edges: readonly FlowEdge[], source: number, sink: number): number {
  const g = new FlowNetwork(n);
  for (const e of edges) g.add(e.from, e.to, e.capacity);
  return g.maxFlow(source, sink);
}

/**
 * Attention flow over layers of [query][key] attention (first layer first): node (l, i) is position i after
 * layer l (l = 0: the input), and an edge (l − 1, j) → (l, i) has capacity Ã_l[i][j], the residual-mixed
 * attention of rollout. Returns the maximum flow from each input position to position `target` (default the
 * last) after the last layer.
 * @example attentionFlow([[[1, 0], [0.5, 0.5]]]) // [0.25, 0.75]
 */
export function attentionFlow(layers: readonly Matrix[], residual = 0.5, target?: number): number[] {
  const n = layers[0]?.length ?? 0;
  const L = layers.length;
  const t = target ?? n - 1;
  if (n === 0) return [];
  if (!Number.isInteger(t) || t < 0 || t >= n) throw new RangeError(`attentionFlow: target ${t} is not in [0, ${n})`);
  const node = (l: number, i: number) => l * n + i;
  const g = new FlowNetwork((L + 1) * n);
  layers.forEach((A, l) => {
    if (A.length !== n) throw new RangeError(`attentionFlow: layers of ${n} and ${A.length} positions`);
    withResidual(A, residual).forEach((row, i) => {
      row.forEach((c, j) => {
        if (c > 0) g.add(node(l, j), node(l + 1, i), c); // a causal mask's zeros are no edge at all
      });
    });
  });
  return Array.from({ length: n }, (_, j) => (L === 0 ? (j === t ? 1 : 0) : g.maxFlow(node(0, j), node(L, t))));
}

// ——— head scores ———

/** The synthetic batch: `batch` rows of [BOS?] + r + r, r being N tokens drawn uniformly by `seed`. */
export interface SyntheticPlan {
  readonly seed: number;
  readonly N: number;
  readonly batch: number;
  /** 1 when each row starts with the BOS token */
  readonly prefix: number;
  readonly rows: readonly (readonly number[])[];
}

export function syntheticPlan(
  model: TransformerModel,
  req: Pick<AttentionRequest, "seed" | "batch" | "repeatLength">,
): SyntheticPlan {
  const seed = req.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new MethodRequestError("seed", `expected an integer, got ${seed}`);
  const batch = req.batch ?? 4;
  if (!Number.isInteger(batch) || batch < 1) throw new MethodRequestError("batch", `expected a positive integer, got ${batch}`);
  const tok = model.tokenizer;
  const bos = tok?.bosTokenId;
  const prefix = bos === undefined ? 0 : 1;
  // learned positions bound the sequence; rotary ones do not (the model refuses what it cannot run)
  const maxLen = model.W_pos === null ? Number.POSITIVE_INFINITY : (model.W_pos.shape[0] as number); // W_pos [n_ctx, d_model]
  const N = req.repeatLength ?? Math.min(20, Math.floor((maxLen - prefix) / 2));
  if (!Number.isInteger(N) || N < 2) throw new MethodRequestError("repeatLength", `expected an integer ≥ 2, got ${N}`);
  if (prefix + 2 * N > maxLen)
    throw new MethodRequestError("repeatLength", `${prefix + 2 * N} tokens exceed the model's ${maxLen} positions`);
  const special = new Set([bos, tok?.eosTokenId, tok?.padTokenId, tok?.unkTokenId].filter((x) => x !== undefined));
  const rows = Math.min(model.W_E.shape[0] as number, tok?.vocabSize ?? Number.POSITIVE_INFINITY); // W_E [d_vocab, d_model]
  const candidates = Array.from({ length: rows }, (_, i) => i).filter((i) => !special.has(i));
  if (candidates.length === 0) throw new MethodRequestError("scores", "the vocabulary has no ordinary tokens to draw");
  const rand = rng(seed);
  const seqs = Array.from({ length: batch }, () => {
    const r = draw(candidates, N, rand);
    return [...(bos === undefined ? [] : [bos]), ...r, ...r];
  });
  return { seed, N, batch, prefix, rows: seqs };
}

/**
 * n tokens of `pool`: distinct while the pool allows (a partial Fisher–Yates shuffle), so that each token of the
 * first copy occurs once and "the same token's first occurrence" is one position; with replacement otherwise.
 */
function draw(pool: readonly number[], n: number, rand: () => number): number[] {
  if (pool.length < n) return Array.from({ length: n }, () => pool[Math.floor(rand() * pool.length)] as number);
  const a = [...pool];
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(rand() * (a.length - i));
    [a[i], a[j]] = [a[j] as number, a[i] as number];
  }
  return a.slice(0, n);
}

export function headScores(
  model: TransformerModel,
  plan: SyntheticPlan,
  layers: readonly number[],
  heads: readonly number[],
): AttentionHeadScores {
  const { N, batch: B, prefix } = plan;
  const T = prefix + 2 * N;
  const ids = tensor(plan.rows.flat(), [B, T], "i32"); // [batch, pos]
  const { cache } = run(model, ids, { cache: layers.map((l) => `blocks.${l}.attn.hook_pattern`) });
  const H = model.axisSizes.head as number;
  const previousToken: number[][] = [];
  const induction: number[][] = [];
  const duplicateToken: number[][] = [];
  for (const l of layers) {
    const A = cache.get(`blocks.${l}.attn.hook_pattern`).data; // [batch, head, query_pos, key_pos]
    // the mean of A[b, h, q, q + offset] over the batch and the queries in [from, T)
    const stripe = (h: number, from: number, offset: number) => {
      let s = 0;
      for (let b = 0; b < B; b++) for (let q = from; q < T; q++) s += A[((b * H + h) * T + q) * T + q + offset] as number;
      return s / (B * (T - from));
    };
    previousToken.push(heads.map((h) => stripe(h, 1, -1)));
    induction.push(heads.map((h) => stripe(h, prefix + N, -N + 1)));
    duplicateToken.push(heads.map((h) => stripe(h, prefix + N, -N)));
  }
  return { previousToken, induction, duplicateToken, copying: copyingScores(model, layers, heads) };
}

/** Σλ / Σ|λ| of each head's full OV circuit, or null when the model has no unembedding (a classifier). */
function copyingScores(model: TransformerModel, layers: readonly number[], heads: readonly number[]): number[][] | null {
  let G: Tensor;
  try {
    G = matmul(model.W_U, model.W_E); // [d_model, d_vocab] · [d_vocab, d_model] → [d_model, d_model]
  } catch {
    return null;
  }
  const D = G.shape[0] as number;
  const gNorm = frobenius(G.data);
  return layers.map((l) => {
    const { W_V, W_O } = model.attn(l); // [kv_head, d_model, d_head], [head, d_head, d_model]
    const [H, Dh] = W_O.shape as [number, number, number];
    const group = H / (W_V.shape[0] as number);
    const OG = matmul(reshape(W_O, [H * Dh, D]), G).data; // [head·d_head, d_model]
    return heads.map((h) => {
      const kv = Math.floor(h / group);
      const v = W_V.data.subarray(kv * D * Dh, (kv + 1) * D * Dh); // [d_model, d_head]
      // M = W_O[h] (W_U W_E) W_V[kv]: [d_head, d_head], whose eigenvalues are the full circuit's nonzero ones
      const M = Array.from({ length: Dh }, (_, i) =>
        Array.from({ length: Dh }, (_, j) => {
          let s = 0;
          for (let d = 0; d < D; d++) s += (OG[(h * Dh + i) * D + d] as number) * (v[d * Dh + j] as number);
          return s;
        }),
      );
      const lambda = eigenvalues(M);
      const sum = lambda.reduce((a, e) => a + e.re, 0);
      const abs = lambda.reduce((a, e) => a + Math.hypot(e.re, e.im), 0);
      const scale = frobenius(W_O.data.subarray(h * Dh * D, (h + 1) * Dh * D)) * gNorm * frobenius(v);
      return abs <= ZERO_CIRCUIT * scale ? 0 : sum / abs;
    });
  });
}

function frobenius(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] as number) ** 2;
  return Math.sqrt(s);
}
