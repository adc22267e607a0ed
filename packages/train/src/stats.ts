// What the trainer reports about a model besides its loss: gradient norms and update ratios per layer, residual
// stream statistics, and neurons that never fire. All of it is read from names and hook-point kinds, never from
// an architecture's name, and computed in one pass over arrays the step has anyway.
import type { HookFn } from "@llmdbg/core";
import type { ActivationStat, HookKind, HookPoint } from "@llmdbg/protocol";
import type { Tensor } from "@llmdbg/tensor";
import type { UpdateNorms } from "./optim.js";

/**
 * The layer a parameter belongs to: its first numeric path segment (`h.3.attn.c_attn.weight` → "3",
 * `model.layers.0.mlp.up_proj.weight` → "0"), otherwise its first segment (`wte.weight` → "wte").
 */
export function layerKey(name: string): string {
  const parts = name.split(".");
  return parts.find((p) => /^\d+$/.test(p)) ?? (parts[0] as string);
}

/** √(Σ sums) per layer, from per-parameter sums of squares. */
export function layerNorms(sumsByParam: ReadonlyMap<string, number>): Record<string, number> {
  const by: Record<string, number> = {};
  for (const [name, s] of sumsByParam) {
    const k = layerKey(name);
    by[k] = (by[k] ?? 0) + s;
  }
  for (const k of Object.keys(by)) by[k] = Math.sqrt(by[k] as number);
  return by;
}

/** ‖Δw‖ / ‖w‖ per layer (a layer whose weights are all zero reports ‖Δw‖ / 1e-12, finite). */
export function updateRatios(norms: ReadonlyMap<string, UpdateNorms>): Record<string, number> {
  const d: Record<string, number> = {};
  const w: Record<string, number> = {};
  for (const [name, n] of norms) {
    const k = layerKey(name);
    d[k] = (d[k] ?? 0) + n.delta2;
    w[k] = (w[k] ?? 0) + n.norm2;
  }
  const out: Record<string, number> = {};
  for (const k of Object.keys(d)) out[k] = Math.sqrt(d[k] as number) / Math.max(Math.sqrt(w[k] as number), 1e-12);
  return out;
}

/** The hook points whose activations are a block's output stream, per layer. */
const STREAM_KINDS: ReadonlySet<HookKind> = new Set(["resid_post", "resid_normalized"]);

/** Calls `fn` on each real token's feature vector (the trailing axes) of x [batch, pos, …]. */
function forRealTokens(
  x: Tensor,
  mask: Tensor | undefined,
  fn: (data: ArrayLike<number>, offset: number, width: number) => void,
): void {
  const [B, P] = x.shape as [number, number];
  const width = x.size / (B * P);
  const d = x.data;
  const m = mask?.data;
  for (let i = 0; i < B * P; i++) if (m === undefined || m[i] !== 0) fn(d, i * width, width);
}

/**
 * Hook functions that gather mean, standard deviation and max |x| of every block's output stream over a batch's
 * real tokens; `read()` gives the statistics once the forward pass has run.
 */
export function streamStats(
  points: readonly HookPoint[],
  mask: Tensor | undefined,
): { hooks: Record<string, HookFn>; read: () => ActivationStat[] } {
  const acc = new Map<string, { layer: number | null; n: number; s: number; s2: number; maxAbs: number }>();
  const hooks: Record<string, HookFn> = {};
  for (const p of points) {
    if (!STREAM_KINDS.has(p.kind) || p.axes[0] !== "batch" || p.axes[1] !== "pos") continue;
    hooks[p.name] = (x) => {
      const a = { layer: p.layer, n: 0, s: 0, s2: 0, maxAbs: 0 };
      forRealTokens(x, mask, (d, off, w) => {
        for (let j = off; j < off + w; j++) {
          const v = d[j] as number;
          a.s += v;
          a.s2 += v * v;
          const av = Math.abs(v);
          if (av > a.maxAbs || Number.isNaN(av)) a.maxAbs = av;
        }
        a.n += w;
      });
      acc.set(p.name, a);
      return undefined;
    };
  }
  const read = (): ActivationStat[] =>
    [...acc].map(([hook, a]) => {
      const mean = a.n === 0 ? 0 : a.s / a.n;
      return {
        hook,
        layer: a.layer,
        mean,
        std: Math.sqrt(Math.max(0, a.n === 0 ? 0 : a.s2 / a.n - mean * mean)),
        maxAbs: a.maxAbs,
      };
    });
  return { hooks, read };
}

/**
 * Tracks, over any number of batches, each MLP neuron's largest post-activation value at a real token; a neuron
 * whose largest value is not above 0 never fired. `hooks(mask)` gives the hook functions for one batch.
 */
export class DeadNeuronTracker {
  private readonly max = new Map<string, Float32Array>();
  private readonly points: readonly HookPoint[];

  constructor(points: readonly HookPoint[]) {
    this.points = points.filter((p) => p.kind === "mlp_post" && p.axes[0] === "batch" && p.axes[1] === "pos");
  }

  hooks(mask: Tensor | undefined): Record<string, HookFn> {
    const out: Record<string, HookFn> = {};
    for (const p of this.points) {
      out[p.name] = (x) => {
        let mx = this.max.get(p.name);
        if (mx === undefined)
          this.max.set(
            p.name,
            (mx = new Float32Array(x.size / ((x.shape[0] as number) * (x.shape[1] as number))).fill(-Infinity)),
          );
        const m = mx;
        forRealTokens(x, mask, (d, off, w) => {
          for (let j = 0; j < w; j++) if ((d[off + j] as number) > (m[j] as number)) m[j] = d[off + j] as number;
        });
        return undefined;
      };
    }
    return out;
  }

  /** Per hook: the neurons never above 0 (their indices and count), and neurons in all. */
  read(): { hook: string; dead: number[]; count: number; total: number }[] {
    return [...this.max].map(([hook, m]) => {
      const dead: number[] = [];
      m.forEach((v, j) => {
        if (!(v > 0)) dead.push(j);
      });
      return { hook, dead, count: dead.length, total: m.length };
    });
  }
}

/** Hook functions of `b` added after those of `a` (both run when they select the same point). */
export function mergeHooks(
  a: Readonly<Record<string, HookFn>> | undefined,
  b: Readonly<Record<string, HookFn>>,
): Record<string, HookFn> {
  const out: Record<string, HookFn> = { ...(a ?? {}) };
  for (const [k, fn] of Object.entries(b)) {
    const first = out[k];
    out[k] =
      first === undefined
        ? fn
        : (x, p) => {
            const y = first(x, p) ?? x;
            return fn(y, p) ?? (y === x ? undefined : y);
          };
  }
  return out;
}
