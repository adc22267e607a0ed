import { logProb, run } from "@llmdbg/core";
import type { Model } from "@llmdbg/models";
import * as T from "@llmdbg/tensor";
import { expectMethodResult, expectRequestError, loadTiny } from "@llmdbg/testing/vitest";
import { describe, expect, it } from "vitest";
import { ablate } from "../src/index.js";

const tiny = (type: "gpt2" | "llama"): Model => loadTiny(type, { seed: 10 });
const TEXT = "the quick brown fox jumps";
const DATA = ["hello there world", "a b c d e f", "the cat"];

describe.each(["gpt2", "llama"] as const)("%s", (type) => {
  it("zero-ablating each head equals a full run with that head's z zeroed", () => {
    const m = tiny(type);
    const r = ablate(m, { kind: "ablate", input: { text: TEXT }, components: "heads", ablation: "zero", answer: 7 });
    expectMethodResult(r);
    const ids = r.tokens.map((t) => t.id);
    const H = m.attn(0).W_Q.shape[0] as number;
    expect(r.effects).toHaveLength(m.nLayers * H);
    let worst = 0;
    for (const e of r.effects) {
      const out = run(m, ids, {
        interventions: [{ kind: "zero", hook: `blocks.${e.layer}.attn.hook_z`, heads: [e.index as number] }],
      }).output;
      worst = Math.max(worst, Math.abs(logProb(out, 7).item() - e.metric));
    }
    console.log(`${type}: head zero-ablation vs full runs, max |Δ| ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-5);
    // sorted by |effect|
    const mags = r.effects.map((e) => Math.abs(e.effect));
    expect(mags).toEqual([...mags].sort((a, b) => b - a));
  });

  it("mean ablation of a layer's MLP output uses the mean over every dataset token", () => {
    const m = tiny(type);
    const r = ablate(m, {
      kind: "ablate",
      input: { text: TEXT },
      components: "layers",
      ablation: "mean",
      dataset: DATA,
      answer: 7,
    });
    const ids = r.tokens.map((t) => t.id);
    const hook = "blocks.1.hook_mlp_out";
    const rows: number[][] = [];
    for (const t of DATA) {
      const a = run(m, t, { cache: hook }).cache.get(hook); // [1, pos, d_model]
      const D = a.shape[2] as number;
      for (let p = 0; p < (a.shape[1] as number); p++) rows.push(Array.from(a.data.subarray(p * D, (p + 1) * D)));
    }
    const D = rows[0]?.length ?? 0;
    const mean = Array.from({ length: D }, (_, j) => rows.reduce((s, r) => s + (r[j] as number), 0) / rows.length);
    const out = run(m, ids, { interventions: [{ kind: "meanAblate", hook, mean: { shape: [D], data: mean } }] }).output;
    const e = r.effects.find((x) => x.name === "L1 mlp");
    expect(e?.metric).toBeCloseTo(logProb(out, 7).item(), 4);
    expect(r.effects.map((x) => x.name).sort()).toEqual(
      Array.from({ length: m.nLayers }, (_, l) => [`L${l} attn`, `L${l} mlp`])
        .flat()
        .sort(),
    );
  });

  it("zero-ablating a neuron equals a full run with that neuron zeroed; resampling is fixed by its seed", () => {
    const m = tiny(type);
    const r = ablate(m, {
      kind: "ablate",
      input: { text: TEXT },
      components: "neurons",
      ablation: "zero",
      layers: [0],
      answer: 7,
    });
    const ids = r.tokens.map((t) => t.id);
    const e = r.effects[0];
    const n = e?.index as number;
    const out = run(m, ids, {
      hooks: {
        "blocks.0.mlp.hook_post": (x) => {
          const d = Float32Array.from(x.data as Float32Array);
          const M = x.shape[2] as number;
          for (let i = n; i < d.length; i += M) d[i] = 0;
          return T.tensor(d, x.shape, x.dtype);
        },
      },
    }).output;
    expect(e?.metric).toBeCloseTo(logProb(out, 7).item(), 4);
    const req = {
      kind: "ablate",
      input: { text: TEXT },
      components: "heads",
      ablation: "resample",
      dataset: DATA,
      samples: 3,
    } as const;
    const a = ablate(m, { ...req, seed: 1 });
    const b = ablate(m, { ...req, seed: 1 });
    const c = ablate(m, { ...req, seed: 2 });
    expectMethodResult(a);
    expect(b.effects).toEqual(a.effects);
    expect(c.effects).not.toEqual(a.effects);
    expect(a.samples).toBe(3);
  });
});

describe("bad requests", () => {
  it("name their field", () => {
    const m = tiny("gpt2");
    const bad = expectRequestError;
    const req = { kind: "ablate", input: { text: TEXT }, components: "heads", ablation: "zero" } as const;
    bad(() => ablate(m, { ...req, ablation: "mean" }), "dataset");
    bad(() => ablate(m, { ...req, ablation: "mean", dataset: [] }), "dataset");
    bad(() => ablate(m, { ...req, metric: "logit_diff" }), "foil");
    bad(() => ablate(m, { ...req, components: "neurons", layers: [5] }), "layers[0]");
    bad(() => ablate(m, { ...req, ablation: "resample", dataset: DATA, samples: 0 }), "samples");
  });
});
