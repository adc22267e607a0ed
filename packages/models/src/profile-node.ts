// Where a forward and a backward pass spend time and memory, per component (layer × attn / mlp / norm / resid,
// embed, unembed), per layer and per kind, and per op kind (matmul, softmax, layerNorm, …) forward and backward,
// with the backward pass per layer. `llmdbg profile` prints it; the server will stream it.
//
// Attribution needs no support from the models: a per-call hook function on every point ("*") runs as the
// forward pass reaches each point, in order, so the wall time between two consecutive hook points is the work
// that produced the second one (e.g. the span ending at `blocks.3.attn.hook_z` is that layer's attention). The
// hook returns the activation unchanged; observing every point keeps every region on its primitive path, so
// the spans are those of the hooked computation. Memory is process.memoryUsage() sampled at the same points;
// the samples are taken outside the timed spans. The ort backend's own counters split each span into matmul
// time (onnxruntime) and the rest (the TypeScript kernels).
//
// Op kinds come from the op profiler of @llmdbg/tensor (profileOps), which charges each op the wall time
// since the previous one ended. The same hook boundaries set its scope label to the component the coming
// span belongs to; the tape keeps each op's label, so the backward rule of an op made in layer 3 is charged
// to layer 3 — that is the per-layer backward split, which no hook point could give.
import { type HookedModel, run } from "@llmdbg/core";
import type { HookKind, HookPoint } from "@llmdbg/protocol";
import * as T from "@llmdbg/tensor";
import { getBackend, type OpRow, OrtBackend, type Prim, type Tensor } from "@llmdbg/tensor";

/** What the span ending at a hook point computed, grouped from the point's kind (not from the architecture). */
export type Kind = "embed" | "attn" | "mlp" | "norm" | "resid" | "unembed" | "other";

const KIND_GROUP: { readonly [K in HookKind]: Kind } = {
  embed: "embed",
  pos_embed: "embed",
  token_type_embed: "embed",
  full_embed: "norm", // BERT's embeddings after their LayerNorm: the span is that norm
  resid_pre: "resid",
  resid_mid: "resid",
  resid_post: "resid",
  resid_normalized: "norm",
  norm_scale: "norm",
  norm_out: "norm",
  q: "attn",
  k: "attn",
  v: "attn",
  rot_q: "attn",
  rot_k: "attn",
  attn_scores: "attn",
  attn_pattern: "attn",
  z: "attn",
  attn_out: "attn",
  mlp_pre: "mlp",
  mlp_pre_linear: "mlp",
  mlp_post: "mlp",
  mlp_out: "mlp",
  pooler_out: "other",
  logits: "unembed", // the head's output: its span is the unembedding
};

export interface Cost {
  ms: number;
  /** time inside onnxruntime matmuls; null on the ref backend, which keeps no counters */
  matmulMs: number | null;
  rssBytes: number;
  arrayBuffersBytes: number;
}

export interface ComponentCost extends Cost {
  /** `blocks.3.attn`; outside the blocks `embed`, `ln_final`, `unembed`, … */
  name: string;
  layer: number | null;
  kind: Kind;
}

function zero(): Cost {
  return { ms: 0, matmulMs: 0, rssBytes: 0, arrayBuffersBytes: 0 };
}

function addTo(into: Cost, c: Cost): void {
  into.ms += c.ms;
  into.matmulMs = into.matmulMs === null || c.matmulMs === null ? null : into.matmulMs + c.matmulMs;
  into.rssBytes += c.rssBytes;
  into.arrayBuffersBytes += c.arrayBuffersBytes;
}

/** onnxruntime's wall time as seen by this thread, or null on the ref backend. */
function matmulClock(): () => number | null {
  const b = getBackend();
  return b instanceof OrtBackend ? () => b.stats.waitMs : () => null;
}

/** The component a hook point's span is charged to: `blocks.3.attn`; outside the blocks `ln_final`, `embed`. */
function componentOf(
  points: ReadonlyMap<string, HookPoint>,
  name: string | "unembed",
): { key: string; layer: number | null; kind: Kind } {
  const p = points.get(name);
  const layer = p?.layer ?? null;
  const kind = p === undefined ? "unembed" : KIND_GROUP[p.kind];
  // outside the blocks a point's own prefix names it (`ln_final`); a bare `hook_embed` goes by its kind
  const key = layer !== null ? `blocks.${layer}.${kind}` : name.includes(".") ? name.slice(0, name.indexOf(".")) : kind;
  return { key, layer, kind };
}

/** Splits one pass into spans between consecutive hook points and charges each to a component. */
class SpanTimer {
  readonly costs = new Map<string, ComponentCost>();
  peakRss = 0;
  private t = 0;
  private mem = process.memoryUsage();
  private mm: number | null = null;
  private readonly matmul = matmulClock();

  constructor(private readonly points: ReadonlyMap<string, HookPoint>) {}

  start(): void {
    this.mem = process.memoryUsage();
    this.peakRss = Math.max(this.peakRss, this.mem.rss);
    this.mm = this.matmul();
    this.t = performance.now();
  }

  /** Ends the span that produced hook point `name` (or the output, for "unembed"). */
  mark(name: string | "unembed"): void {
    const now = performance.now();
    const mem = process.memoryUsage();
    const mm = this.matmul();
    const { key, layer, kind } = componentOf(this.points, name);
    let c = this.costs.get(key);
    if (c === undefined) this.costs.set(key, (c = { name: key, layer, kind, ...zero() }));
    addTo(c, {
      ms: now - this.t,
      matmulMs: mm === null || this.mm === null ? null : mm - this.mm,
      rssBytes: mem.rss - this.mem.rss,
      arrayBuffersBytes: mem.arrayBuffers - this.mem.arrayBuffers,
    });
    this.peakRss = Math.max(this.peakRss, mem.rss);
    this.mem = mem;
    this.mm = mm;
    this.t = performance.now();
  }
}

/** Mean next-token cross-entropy: the loss a fine-tune or an attribution would differentiate. */
function nextTokenLoss(ids: readonly number[]): (out: Tensor) => Tensor {
  return (out) => {
    const P = out.shape[1] as number;
    const V = out.shape[out.rank - 1] as number;
    // a classifier, or a single token, has no next token to predict; any scalar exercises the backward pass
    if (out.rank !== 3 || P < 2) return T.mean(out);
    const logp = T.logSoftmax(T.narrow(out, 1, 0, P - 1), -1); // [batch, pos-1, d_vocab]
    const target = new Float32Array((P - 1) * V); // [batch, pos-1, d_vocab] one-hot of the next tokens
    for (let i = 0; i + 1 < P; i++) target[i * V + (ids[i + 1] as number)] = 1;
    return T.div(T.neg(T.sum(T.mul(logp, T.fromTyped(target, [1, P - 1, V], "f32")))), P - 1); // []
  };
}

/**
 * Op-profiler labels from the order in which a forward pass fired its hook points: at each point the coming
 * span belongs to the next point's component (after the last one, to unembed), as SpanTimer charges it.
 * `layers` lists the layer rows the labels fold into, in forward order.
 */
function spanLabels(points: ReadonlyMap<string, HookPoint>, fired: readonly string[]) {
  const comps = [...fired, "unembed"].map((n) => componentOf(points, n));
  const after = new Map(fired.map((n, i) => [n, (comps[i + 1] as { key: string }).key]));
  const layerOf = new Map<string, { name: string; layer: number | null }>();
  for (const c of comps)
    layerOf.set(c.key, c.layer === null ? { name: c.key, layer: null } : { name: `blocks.${c.layer}`, layer: c.layer });
  layerOf.set(LOSS, { name: LOSS, layer: null });
  const layers = [...new Map([...layerOf.values()].map((l) => [l.name, l])).values()];
  return { first: (comps[0] as { key: string }).key, after, layerOf, layers };
}

/** The label of the loss's ops, which follow the model's output. */
const LOSS = "loss";

interface OpCost {
  op: Prim;
  /** forward: ops run; backward: rule runs */
  calls: number;
  ms: number;
  /** bytes of the outputs the ops allocated */
  bytesOut: number;
}

/** Forward ops by kind, per run, slowest first. */
function forwardByOp(rows: readonly OpRow[], repeat: number): OpCost[] {
  return [...T.sumRows(rows, (r) => r.op)]
    .flatMap(([op, s]) =>
      op === null ? [] : [{ op, calls: s.calls / repeat, ms: s.ms / repeat, bytesOut: s.bytesOut / repeat }],
    )
    .sort((a, b) => b.ms - a.ms);
}

/**
 * Backprop by the op kind whose rule ran ("the backward of matmul", its gradient accumulation included), per
 * run, slowest first; `ops` counts the ops the rules ran. Seeding the output gradients runs no rule.
 */
function backwardByOp(rows: readonly OpRow[], repeat: number): (OpCost & { ops: number })[] {
  const m = new Map<Prim, OpCost & { ops: number }>();
  for (const r of rows) {
    if (r.rule === null) continue;
    let e = m.get(r.rule);
    if (e === undefined) m.set(r.rule, (e = { op: r.rule, calls: 0, ops: 0, ms: 0, bytesOut: 0 }));
    // a rule's row without an op has one call per rule run (the time it spent outside ops)
    if (r.op === null) e.calls += r.calls;
    else e.ops += r.calls;
    e.ms += r.ms;
    e.bytesOut += r.bytesOut;
  }
  const per = (e: OpCost & { ops: number }) => ({
    ...e,
    calls: e.calls / repeat,
    ops: e.ops / repeat,
    ms: e.ms / repeat,
    bytesOut: e.bytesOut / repeat,
  });
  return [...m.values()].map(per).sort((a, b) => b.ms - a.ms);
}

/**
 * Profiles `warmup + repeat` forward and forward+backward passes on `ids` and averages the measured ones.
 * @example profileModel(loaded.model, tokenizer.encode("Hello"), 1, 3).forward.bottleneck // "blocks.11.mlp"
 */
export function profileModel(
  model: HookedModel,
  ids: readonly number[],
  warmup: number,
  repeat: number,
  /** called after each pass (forward, then forward + backward): `done` of `total` passes */
  onProgress?: (done: number, total: number) => void,
) {
  const points = new Map(model.hookPoints.map((p) => [p.name, p]));
  const x = T.tensor(ids, [1, ids.length], "i32"); // [batch, pos]
  const loss = nextTokenLoss(ids);
  const fwd = new SpanTimer(points);
  const bwd = {
    forwardMs: 0,
    lossMs: 0,
    backwardMs: 0,
    matmulMs: 0 as number | null,
    rssBytes: 0,
    arrayBuffersBytes: 0,
    loss: 0,
  };
  let forwardMs = 0;
  const matmul = matmulClock();
  const fwdOps: OpRow[] = [];
  const bwdOps: OpRow[] = [];
  let labels: ReturnType<typeof spanLabels> | null = null;
  for (let i = 0; i < warmup + repeat; i++) {
    const measured = i >= warmup;
    // forward only: spans between hook points, and ops by kind
    const timer = measured ? fwd : new SpanTimer(points);
    const fired: string[] = [];
    // the total spans the instrumented pass (its memory samples included), so the spans sum to at most it
    const t0 = performance.now();
    timer.start();
    const { result: out, profile: fp } = T.profileOps(
      () =>
        T.noGrad(() =>
          run(model, x, {
            hooks: {
              "*": (_x, p) => {
                // memory sampling is the profiler's own work, not the next op's
                T.unprofiled(() => {
                  timer.mark(p.name);
                  fired.push(p.name);
                });
                return undefined;
              },
            },
          }),
        ).output,
    );
    timer.mark("unembed");
    if (measured) forwardMs += performance.now() - t0;
    out.dispose();
    if (measured) fwdOps.push(...fp.rows);
    const lb = spanLabels(points, fired);
    labels = lb;
    // forward on the tape with gradients for every hook point, the loss, then the backward pass
    const mem0 = process.memoryUsage();
    let tLoss = 0;
    let tBackward = 0;
    let mmBackward: number | null = null;
    const b0 = performance.now();
    const { result: r, profile: bp } = T.profileOps(() => {
      T.setProfileLabel(lb.first);
      return run(model, x, {
        // the tape keeps each op's label, so the backward rules inherit the forward's layers
        hooks: {
          "*": (_x, p) => {
            T.setProfileLabel(lb.after.get(p.name) ?? null);
            return undefined;
          },
        },
        grads: {
          hooks: true,
          loss: (o) => {
            tLoss = performance.now();
            T.setProfileLabel(LOSS);
            const l = loss(o);
            mmBackward = matmul();
            tBackward = performance.now();
            return l;
          },
        },
      });
    });
    const b1 = performance.now();
    if (measured) bwdOps.push(...bp.rows.filter((o) => o.phase === "backward"));
    const mem1 = process.memoryUsage();
    const mm1 = matmul();
    if (measured) {
      bwd.forwardMs += tLoss - b0;
      bwd.lossMs += tBackward - tLoss;
      bwd.backwardMs += b1 - tBackward;
      bwd.matmulMs = mmBackward === null || mm1 === null || bwd.matmulMs === null ? null : bwd.matmulMs + mm1 - mmBackward;
      bwd.rssBytes += mem1.rss - mem0.rss;
      bwd.arrayBuffersBytes += mem1.arrayBuffers - mem0.arrayBuffers;
      bwd.loss = r.loss?.item() ?? Number.NaN;
    }
    r.cache.dispose();
    r.output.dispose();
    onProgress?.(i + 1, warmup + repeat);
  }
  const mean = (c: Cost): Cost => ({
    ms: c.ms / repeat,
    matmulMs: c.matmulMs === null ? null : c.matmulMs / repeat,
    rssBytes: c.rssBytes / repeat,
    arrayBuffersBytes: c.arrayBuffersBytes / repeat,
  });
  const components = [...fwd.costs.values()].map((c) => ({ ...c, ...mean(c) })).sort((a, b) => b.ms - a.ms);
  const group = <K>(key: (c: ComponentCost) => K) => {
    const m = new Map<K, Cost>();
    for (const c of components) {
      const k = key(c);
      const acc = m.get(k) ?? zero();
      addTo(acc, c);
      m.set(k, acc);
    }
    return m;
  };
  const layers = [...group((c) => c.layer ?? c.name)].map(([k, c]) =>
    typeof k === "number" ? { name: `blocks.${k}`, layer: k, ...c } : { name: k, layer: null, ...c },
  );
  const kinds = [...group((c) => c.kind)].map(([kind, c]) => ({ kind, ...c })).sort((a, b) => b.ms - a.ms);
  // backward per layer, in forward order; a label no hook point explains (none expected) goes to "other"
  const byLabel = T.sumRows(bwdOps, (o) => labels?.layerOf.get(o.label ?? "")?.name ?? "other");
  const backwardByLayer = [...(labels?.layers ?? []), { name: "other", layer: null }].flatMap((l) => {
    const s = byLabel.get(l.name);
    return s === undefined ? [] : [{ ...l, calls: s.calls / repeat, ms: s.ms / repeat, bytesOut: s.bytesOut / repeat }];
  });
  const opMs = (rows: readonly OpRow[]) => rows.reduce((a, o) => a + o.ms, 0) / repeat;
  return {
    tokens: [...ids],
    backend: getBackend().name,
    warmup,
    repeat,
    forward: {
      totalMs: forwardMs / repeat,
      /** the total less the components: the profiler's own memory sampling */
      unattributedMs: forwardMs / repeat - components.reduce((a, c) => a + c.ms, 0),
      peakRssBytes: fwd.peakRss,
      bottleneck: components[0]?.name ?? null,
      components,
      layers,
      kinds,
      /** ops by kind (matmul, softmax, …): ops run, ms, bytes allocated */
      byOp: forwardByOp(fwdOps, repeat),
    },
    backward: {
      /** forward on the tape + loss + backward */
      totalMs: (bwd.forwardMs + bwd.lossMs + bwd.backwardMs) / repeat,
      forwardMs: bwd.forwardMs / repeat,
      lossMs: bwd.lossMs / repeat,
      backwardMs: bwd.backwardMs / repeat,
      matmulMs: bwd.matmulMs === null ? null : bwd.matmulMs / repeat,
      rssBytes: bwd.rssBytes / repeat,
      arrayBuffersBytes: bwd.arrayBuffersBytes / repeat,
      loss: bwd.loss,
      /** backprop by the op kind whose backward rule ran; calls counts rule runs, ops the ops they ran */
      byOp: backwardByOp(bwdOps, repeat),
      /** backprop by the layer (or embed, ln_final, unembed, loss) where each rule's forward op ran */
      byLayer: backwardByLayer,
    },
    /** how much of the forward total and of backwardMs the op tables account for */
    opLevel: { forwardMs: opMs(fwdOps), backwardMs: opMs(bwdOps) },
    note: "op times are wall time since the previous op ended: TypeScript between two ops is charged to the next op",
  };
}
