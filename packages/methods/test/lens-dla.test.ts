// The logit lens and direct logit attribution on every tiny architecture, proven by their axioms: the lens's last
// row is the model's own output; the DLA components sum to the model's logit, and each equals the component's
// write dotted with the head's direction computed independently here from the final norm's weights (frozen scale).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "@llmdbg/core";
import { load, type Model } from "@llmdbg/models";
import { writeTinyModel } from "@llmdbg/testing";
import { expectRequestError } from "@llmdbg/testing/vitest";
import { afterAll, describe, expect, it } from "vitest";
import { directLogitAttribution, logitLens } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "llmdbg-methods-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const models = new Map<string, Model>();
function tiny(type: "gpt2" | "llama" | "qwen2" | "gpt_neox" | "bert"): Model {
  const hit = models.get(type);
  if (hit !== undefined) return hit;
  const folder = join(dir, type);
  writeTinyModel(folder, type, { seed: 5 });
  const m = load(folder);
  models.set(type, m);
  return m;
}

const TEXT = "the quick brown fox jumps over the lazy dog";
const DECODERS = ["gpt2", "llama", "qwen2", "gpt_neox"] as const;

/** The final norm's weight (and bias) in each checkpoint's names: the test's own knowledge, not the method's. */
const FINAL_NORM: Record<(typeof DECODERS)[number], { w: string; b: string | null; kind: "layernorm" | "rmsnorm" }> = {
  gpt2: { w: "ln_f.weight", b: "ln_f.bias", kind: "layernorm" },
  llama: { w: "norm.weight", b: null, kind: "rmsnorm" },
  qwen2: { w: "norm.weight", b: null, kind: "rmsnorm" },
  gpt_neox: { w: "final_layer_norm.weight", b: "final_layer_norm.bias", kind: "layernorm" },
};

describe.each(DECODERS)("%s", (type) => {
  it("the logit lens's last row is the model's own output, at every position", () => {
    const m = tiny(type);
    const lens = logitLens(m, { kind: "lens", input: { text: TEXT }, topK: 3, target: 7 });
    const { output } = run(
      m,
      lens.tokens.map((t) => t.id),
    );
    const V = output.shape[2] as number;
    expect(lens.layers).toHaveLength(m.nLayers + 1);
    expect(lens.cells).toHaveLength(m.nLayers + 1);
    const last = lens.cells[m.nLayers] ?? [];
    let worst = 0;
    lens.positions.forEach((p, i) => {
      const row = output.data.subarray(p * V, (p + 1) * V);
      const cell = last[i];
      worst = Math.max(worst, Math.abs((cell?.target?.logit ?? Number.NaN) - (row[7] as number)));
      for (const t of cell?.top ?? []) worst = Math.max(worst, Math.abs(t.logit - (row[t.id] as number)));
      // the top prediction is the argmax of the output
      let arg = 0;
      for (let v = 1; v < V; v++) if ((row[v] as number) > (row[arg] as number)) arg = v;
      expect(cell?.top[0]?.id).toBe(arg);
      expect(cell?.target?.rank).toBe(Array.from(row).filter((x) => x > (row[7] as number)).length);
    });
    console.log(`${type}: lens last row vs output, max |Δlogit| ${worst.toExponential(2)} (bound 1e-5)`);
    expect(worst).toBeLessThan(1e-5);
    // probabilities in each cell are a softmax: the top-3 sum to at most 1 and are sorted
    for (const row of lens.cells)
      for (const c of row) {
        expect(c.top.map((t) => t.prob)).toEqual([...c.top.map((t) => t.prob)].sort((a, b) => b - a));
        expect(c.top.reduce((a, t) => a + t.prob, 0)).toBeLessThanOrEqual(1 + 1e-6);
      }
  });

  it("direct logit attribution: the components sum to the model's logit (and to a logit difference) within 1e-4", () => {
    const m = tiny(type);
    for (const [target, foil, position] of [
      [7, undefined, -1],
      [42, 3, 2],
      [100, 11, -3],
    ] as const) {
      const r = directLogitAttribution(m, {
        kind: "dla",
        input: { text: TEXT },
        target,
        ...(foil !== undefined && { foil }),
        position,
      });
      console.log(
        `${type}: DLA target ${target} foil ${foil ?? "-"}: sum ${r.sum.toFixed(6)} vs logit ${r.logit.toFixed(6)}, |Δ| ${r.error.toExponential(2)} (bound 1e-4)`,
      );
      expect(r.error).toBeLessThan(1e-4);
      const heads = r.components.filter((c) => c.kind === "head");
      expect(heads).toHaveLength(m.nLayers * (m.attn(0).W_O.shape[0] as number));
      expect(r.components.filter((c) => c.kind === "mlp")).toHaveLength(m.nLayers);
    }
  });

  it("each component is its write dotted with the head's direction at the frozen final-norm scale (computed here)", () => {
    const m = tiny(type);
    const target = 42;
    const r = directLogitAttribution(m, { kind: "dla", input: { text: TEXT }, target });
    const ids = r.tokens.map((t) => t.id);
    const { cache, output } = run(m, ids, { cache: ["hook_embed", "ln_final.hook_scale", "blocks.0.hook_mlp_out"] });
    const p = ids.length - 1;
    const D = m.W_U.shape[0] as number;
    const V = m.W_U.shape[1] as number;
    const norm = FINAL_NORM[type];
    const w = m.params.get(norm.w).data;
    const s = cache.get("ln_final.hook_scale").data[p] as number; // [batch, pos, 1]
    const wu = m.W_U.data; // [d_model, d_vocab]
    // u = (w ⊙ W_U[:, t]) / s, centred for LayerNorm (its mean subtraction is part of the linear map)
    const u = Array.from({ length: D }, (_, i) => ((w[i] as number) * (wu[i * V + target] as number)) / s);
    if (norm.kind === "layernorm") {
      const mean = u.reduce((a, b) => a + b, 0) / D;
      for (let i = 0; i < D; i++) u[i] = (u[i] as number) - mean;
    }
    const dot = (name: string) => {
      const v = cache.get(name).data;
      return u.reduce((a, ui, i) => a + ui * (v[p * D + i] as number), 0);
    };
    const embed = r.components.find((c) => c.kind === "embed")?.value ?? Number.NaN;
    const mlp0 = r.components.find((c) => c.name === "L0 mlp")?.value ?? Number.NaN;
    expect(Math.abs(embed - dot("hook_embed"))).toBeLessThan(1e-4 * Math.max(1, Math.abs(embed)));
    expect(Math.abs(mlp0 - dot("blocks.0.hook_mlp_out"))).toBeLessThan(1e-4 * Math.max(1, Math.abs(mlp0)));
    // the bias term: the norm's bias through W_U, plus b_U
    const b = norm.b === null ? null : m.params.get(norm.b).data;
    let bias = m.b_U.data[target] as number;
    if (b !== null) for (let i = 0; i < D; i++) bias += (b[i] as number) * (wu[i * V + target] as number);
    expect(r.components.at(-1)?.value).toBeCloseTo(bias, 5);
    expect(r.logit).toBeCloseTo(output.data[p * V + target] as number, 5);
  });
});

describe("requests the methods cannot run", () => {
  it("names the field at fault", () => {
    const m = tiny("gpt2");
    const bad = expectRequestError;
    const V = m.W_U.shape[1] as number;
    bad(() => directLogitAttribution(m, { kind: "dla", input: { text: "ab" }, target: V }), "target", /not in \[0, \d+\)/);
    bad(() => directLogitAttribution(m, { kind: "dla", input: { text: "ab" }, target: 1, foil: -1 }), "foil", /not in/);
    bad(
      () => directLogitAttribution(m, { kind: "dla", input: { ids: [1, 2] }, target: 1, position: 5 }),
      "position",
      /not in \[-2, 2\)/,
    );
    bad(() => logitLens(m, { kind: "lens", input: { ids: [] } }), "input.ids", /is empty/);
    bad(() => logitLens(m, { kind: "lens", input: { ids: [1, V + 3] } }), "input.ids[1]", /not in/);
    bad(() => logitLens(m, { kind: "lens", input: { text: "a" }, topK: 0 }), "topK", /positive integer/);
    bad(() => directLogitAttribution(tiny("bert"), { kind: "dla", input: { text: "a b" }, target: 1 }), "model", /post-norm/);
  });

  it("stops when its signal is aborted, with the signal's reason", () => {
    const m = tiny("llama");
    const ac = new AbortController();
    ac.abort(new Error("stopped by the user"));
    expect(() => logitLens(m, { kind: "lens", input: { text: TEXT } }, { signal: ac.signal })).toThrow("stopped by the user");
    const seen: number[] = [];
    logitLens(m, { kind: "lens", input: { text: TEXT } }, { onProgress: (p) => seen.push(p.done) });
    expect(seen).toEqual(Array.from({ length: m.nLayers + 1 }, (_, i) => i + 1));
  });
});
