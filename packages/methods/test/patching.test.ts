import { logitDiff, run } from "@llmdbg/core";
import type { Model } from "@llmdbg/models";
import * as T from "@llmdbg/tensor";
import { expectMethodResult, expectRequestError, loadTiny } from "@llmdbg/testing/vitest";
import { describe, expect, it } from "vitest";
import { activationPatching } from "../src/index.js";

const tiny = (type: "gpt2" | "llama" | "qwen2" | "gpt_neox"): Model => loadTiny(type, { seed: 9, nLayers: 3 });

// prompts that differ at one position only (index 2)
const CLEAN = [5, 9, 14, 3, 7, 11];
const CORRUPT = [5, 9, 21, 3, 7, 11];

describe.each(["gpt2", "llama", "qwen2", "gpt_neox"] as const)("%s", (type) => {
  it("resid_pre: cells before the difference change nothing (0); the differing token at layer 0 restores all (1)", () => {
    const m = tiny(type);
    const r = activationPatching(m, {
      kind: "patch",
      clean: { ids: CLEAN },
      corrupted: { ids: CORRUPT },
      grid: "resid_pre",
      answer: 4,
      foil: 8,
    });
    expectMethodResult(r);
    const values = r.values as number[][];
    const raw = r.raw as number[][];
    // equal to the corrupted run up to summation order (a batch of k rows may take another matmul kernel than one)
    for (let l = 0; l < m.nLayers; l++)
      for (const p of [0, 1]) expect(Math.abs((raw[l]?.[p] as number) - r.corruptedMetric)).toBeLessThan(1e-5);
    // at layer 0 only position 2 differs: patching it makes the run the clean run
    expect(Math.abs((values[0]?.[2] as number) - 1)).toBeLessThan(1e-5);
    // positions after the difference at layer 0 hold the same embeddings in both runs: nothing to restore
    for (const p of [3, 4, 5]) expect(Math.abs((raw[0]?.[p] as number) - r.corruptedMetric)).toBeLessThan(1e-5);
  });

  it("prompts that differ in their last token: patching the clean resid_pre at the last position restores the clean metric at every layer", () => {
    const m = tiny(type);
    const clean = [5, 9, 14, 3, 7, 11];
    const corrupt = [5, 9, 14, 3, 7, 20];
    const r = activationPatching(m, {
      kind: "patch",
      clean: { ids: clean },
      corrupted: { ids: corrupt },
      grid: "resid_pre",
      answer: 4,
      foil: 8,
      method: "activation",
    });
    for (let l = 0; l < m.nLayers; l++) expect(Math.abs((r.values?.[l]?.[5] as number) - 1)).toBeLessThan(1e-5);
    // and nothing else restores anything: the other positions hold the same activations in both runs
    for (let l = 0; l < m.nLayers; l++)
      for (let p = 0; p < 5; p++) expect(Math.abs(r.values?.[l]?.[p] as number)).toBeLessThan(1e-5);
  });

  it("restarting at the patched layer equals patching in a full recomputation (within 1e-6)", () => {
    const m = tiny(type);
    const answer = 4;
    const foil = 8;
    for (const grid of ["resid_pre", "attn_out", "mlp_out", "z", "v"] as const) {
      const r = activationPatching(m, {
        kind: "patch",
        clean: { ids: CLEAN },
        corrupted: { ids: CORRUPT },
        grid,
        answer,
        foil,
        method: "activation",
      });
      const clean = run(m, CLEAN, { cache: true }).cache;
      const hook = {
        resid_pre: "hook_resid_pre",
        attn_out: "hook_attn_out",
        mlp_out: "hook_mlp_out",
        z: "attn.hook_z",
        v: "attn.hook_v",
      }[grid];
      const byHead = grid === "z" || grid === "v";
      let worst = 0;
      for (const [l, c] of [
        [1, 3],
        [2, 1],
        [m.nLayers - 1, 0],
      ] as const) {
        const col = Math.min(c, r.cols.length - 1); // k and v have as many columns as key/value heads
        const where = byHead ? { heads: [col] } : { positions: [col] };
        const out = run(m, CORRUPT, {
          interventions: [{ kind: "patch", hook: `blocks.${l}.${hook}`, from: clean, ...where }],
        }).output;
        worst = Math.max(worst, Math.abs(logitDiff(out, answer, foil).item() - (r.raw?.[l]?.[col] as number)));
      }
      console.log(`${type} ${grid}: restart vs full recomputation, max |Δmetric| ${worst.toExponential(2)} (bound 1e-6)`);
      expect(worst).toBeLessThanOrEqual(1e-6);
    }
  });

  it("attribution patching is (clean − corrupted activation) · ∂metric/∂activation at the corrupted run", () => {
    const m = tiny(type);
    const r = activationPatching(m, {
      kind: "patch",
      clean: { ids: CLEAN },
      corrupted: { ids: CORRUPT },
      grid: "z",
      answer: 4,
      foil: 8,
    });
    const a = r.attribution;
    expect(a).not.toBeNull();
    const g = run(m, CORRUPT, {
      cache: "blocks.1.attn.hook_z",
      grads: { hooks: "blocks.1.attn.hook_z", loss: (o) => logitDiff(o, 4, 8) },
    });
    const c = run(m, CLEAN, { cache: "blocks.1.attn.hook_z" }).cache.get("blocks.1.attn.hook_z"); // [1, pos, head, d_head]
    const [, P, H, Dh] = c.shape as [number, number, number, number];
    const x = g.cache.get("blocks.1.attn.hook_z").data;
    const d = g.cache.grad("blocks.1.attn.hook_z").data;
    const h = 1;
    let s = 0;
    for (let p = 0; p < P; p++)
      for (let j = 0; j < Dh; j++) {
        const i = (p * H + h) * Dh + j;
        s += ((c.data[i] as number) - (x[i] as number)) * (d[i] as number);
      }
    expect(a?.values[1]?.[h]).toBeCloseTo(s / (r.cleanMetric - r.corruptedMetric), 6);
    expect(a?.rankCorrelation).toBeGreaterThanOrEqual(-1);
    expect(a?.rankCorrelation).toBeLessThanOrEqual(1);
    expect(a?.topKAgreement?.k).toBeGreaterThan(0);
  });
});

describe("the mechanism", () => {
  it("a run restarted at a layer and patched with its own activations is bit-identical to the run", () => {
    const m = tiny("gpt2");
    const ids = T.tensor(CORRUPT, [1, CORRUPT.length], "i32");
    const own = run(m, ids, { cache: true });
    for (let l = 0; l < m.nLayers; l++) {
      const patched = run(m, ids, {
        startAt: { layer: l, resid: own.cache.get(`blocks.${l}.hook_resid_pre`) },
        interventions: [
          { kind: "patch", hook: `blocks.${l}.attn.hook_z`, from: own.cache, heads: [1] },
          { kind: "patch", hook: `blocks.${l}.hook_mlp_out`, from: own.cache, positions: [2] },
        ],
        cache: true,
      });
      expect(patched.output.toArray()).toEqual(own.output.toArray());
    }
  });
});

describe("grids, path patching and errors", () => {
  it("head grids have a column per head (key/value heads for k and v under grouped-query attention)", () => {
    const m = tiny("llama");
    const H = m.attn(0).W_Q.shape[0] as number;
    const Hkv = m.attn(0).W_K.shape[0] as number;
    expect(Hkv).toBeLessThan(H);
    const z = activationPatching(m, {
      kind: "patch",
      clean: { ids: CLEAN },
      corrupted: { ids: CORRUPT },
      grid: "z",
      metric: "prob",
    });
    expect(z.cols).toHaveLength(H);
    const k = activationPatching(m, {
      kind: "patch",
      clean: { ids: CLEAN },
      corrupted: { ids: CORRUPT },
      grid: "k",
      metric: "kl",
    });
    expect(k.cols).toEqual(Array.from({ length: Hkv }, (_, i) => `KV${i}`));
    const pattern = activationPatching(m, {
      kind: "patch",
      clean: { ids: CLEAN },
      corrupted: { ids: CORRUPT },
      grid: "pattern",
      answer: 4,
      foil: 8,
    });
    expect(pattern.values?.[0]).toHaveLength(H);
    expect(k.cleanMetric).toBe(0); // KL of the clean run from itself
  });

  it("path patching follows its definition: sender clean, the rest frozen corrupted, then only the receiver's input patched", () => {
    const m = tiny("gpt2");
    const receiver = { layer: 2, head: 1, input: "q" as const };
    const r = activationPatching(m, {
      kind: "patch",
      clean: { ids: CLEAN },
      corrupted: { ids: CORRUPT },
      grid: "path",
      receiver,
      answer: 4,
      foil: 8,
      method: "activation",
    });
    expectMethodResult(r);
    expect(r.values?.[2]?.every((v) => v === null)).toBe(true); // senders at the receiver's layer: no path
    // sender L0H3 by hand, with full runs and interventions
    const clean = run(m, CLEAN, { cache: true }).cache;
    const corrupt = run(m, CORRUPT, { cache: true }).cache;
    const frozen = [
      { kind: "patch" as const, hook: "blocks.0.attn.hook_z", from: clean, heads: [3] },
      { kind: "patch" as const, hook: "blocks.0.hook_mlp_out", from: corrupt },
      { kind: "patch" as const, hook: "blocks.1.attn.hook_z", from: corrupt },
      { kind: "patch" as const, hook: "blocks.1.hook_mlp_out", from: corrupt },
    ];
    const received = run(m, CORRUPT, { interventions: frozen, cache: "blocks.2.attn.hook_q" }).cache;
    const out = run(m, CORRUPT, {
      interventions: [{ kind: "patch", hook: "blocks.2.attn.hook_q", from: received, heads: [1] }],
    }).output;
    expect(r.raw?.[0]?.[3]).toBeCloseTo(logitDiff(out, 4, 8).item(), 5);
  });

  it("bad requests name their field", () => {
    const m = tiny("gpt2");
    const bad = expectRequestError;
    const req = { kind: "patch", clean: { ids: CLEAN }, corrupted: { ids: CORRUPT } } as const;
    bad(() => activationPatching(m, { ...req, corrupted: { ids: [1, 2] } }), "corrupted");
    bad(() => activationPatching(m, { ...req, answer: 4, foil: 4 }), "foil");
    bad(() => activationPatching(m, { ...req, clean: { ids: CORRUPT }, answer: 4, foil: 8 }), "corrupted"); // nothing to restore
    bad(() => activationPatching(m, { ...req, grid: "path" }), "receiver");
    bad(() => activationPatching(m, { ...req, grid: "path", receiver: { layer: 0, head: 0, input: "q" } }), "receiver.layer");
    bad(
      () => activationPatching(m, { ...req, grid: "path", method: "attribution", receiver: { layer: 1, head: 0, input: "q" } }),
      "method",
    );
    bad(() => activationPatching(m, { ...req, answer: 1e9 }), "answer");
  });
});
