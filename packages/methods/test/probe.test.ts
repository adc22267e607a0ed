// Probes proven on a model set by hand: its token embedding writes ±3 on one dimension for two sets of tokens,
// so hook_embed at the last token encodes the label linearly (the probe must reach ≥ 95%), while the control task
// (shuffled labels) stays near chance; the logistic regression itself recovers a separable problem.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "@llmdbg/core";
import { load, type Model } from "@llmdbg/models";
import type { ProbeExample } from "@llmdbg/protocol";
import * as T from "@llmdbg/tensor";
import { writeTinyModel } from "@llmdbg/testing";
import { expectMethodResult, expectRequestError } from "@llmdbg/testing/vitest";
import { afterAll, describe, expect, it } from "vitest";
import { fitLogistic, probe, rng } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "llmdbg-probe-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The tiny GPT-2 with dimension 0 of its embedding +3 for tokens 10–19 and −3 for tokens 20–29. */
function handMade(): Model {
  const folder = join(dir, "gpt2");
  writeTinyModel(folder, "gpt2", { seed: 11 });
  const m = load(folder);
  const wte = m.params.get("wte.weight"); // [d_vocab, d_model]
  const D = wte.shape[1] as number;
  const data = Float32Array.from(wte.data as Float32Array);
  for (let t = 0; t < (wte.shape[0] as number); t++) data[t * D] = t >= 10 && t < 20 ? 3 : t >= 20 && t < 30 ? -3 : 0;
  m.params.set("wte.weight", T.tensor(data, wte.shape));
  return m;
}

/** Random sequences whose label is the set of their last token. */
function dataset(n: number, seed: number): ProbeExample[] {
  const rand = rng(seed);
  return Array.from({ length: n }, () => {
    const len = 3 + Math.floor(rand() * 4);
    const ids = Array.from({ length: len - 1 }, () => 40 + Math.floor(rand() * 60));
    const label = rand() < 0.5 ? "a" : "b";
    ids.push((label === "a" ? 10 : 20) + Math.floor(rand() * 10));
    return { input: { ids }, label };
  });
}

describe("linear probes", () => {
  it("logistic regression separates a separable problem and generalizes", () => {
    const rand = rng(3);
    const x = Array.from({ length: 200 }, () => Float64Array.from({ length: 5 }, () => rand() * 2 - 1));
    const y = x.map((r) => ((r[0] as number) + 0.5 * (r[3] as number) > 0 ? 1 : 0));
    const fit = fitLogistic(x.slice(0, 150), y.slice(0, 150), 2, { l2: 1e-3, steps: 400 });
    const right = x.slice(150).filter((r, i) => {
      const z = (c: number) => (fit.b[c] as number) + r.reduce((s, v, j) => s + v * (fit.w[c]?.[j] as number), 0);
      return (z(1) > z(0) ? 1 : 0) === y[150 + i];
    }).length;
    expect(right / 50).toBeGreaterThanOrEqual(0.94);
  });

  it("on a hand-made model, a hook that encodes the label linearly probes at ≥ 95%, the control task at chance", () => {
    const m = handMade();
    const r = probe(m, {
      kind: "probe",
      hooks: ["hook_embed", "blocks.0.hook_resid_pre", "blocks.1.hook_resid_post"],
      dataset: dataset(200, 5),
      seed: 2,
    });
    expectMethodResult(r);
    expect(r.labels).toEqual(["a", "b"]);
    expect(r.validationSize).toBe(40);
    const embed = r.probes[0];
    console.log(
      r.probes
        .map(
          (p) =>
            `${p.hook}: validation ${(100 * p.validationAccuracy).toFixed(1)}%, control ${(100 * p.controlAccuracy).toFixed(1)}%`,
        )
        .join("; "),
    );
    expect(embed?.validationAccuracy).toBeGreaterThanOrEqual(0.95);
    expect(embed?.controlAccuracy).toBeLessThanOrEqual(0.75);
    expect(embed?.selectivity).toBeGreaterThan(0.2);
    // the exported direction separates the classes in activation space: projecting each example's activation on
    // label b's direction and splitting at the midpoint of the class means classifies them
    const [, db] = r.best.directions as [number[], number[]];
    expect(r.best.hook).toBe("hook_embed");
    const data = dataset(100, 9);
    const proj = data.map((e) => {
      const ids = (e.input as { ids: number[] }).ids;
      const a = run(m, ids, { cache: "hook_embed" }).cache.get("hook_embed");
      const D = a.shape[2] as number;
      return db.reduce((s, v, j) => s + v * (a.data[(ids.length - 1) * D + j] as number), 0);
    });
    const meanOf = (label: string) => {
      const xs = proj.filter((_, i) => data[i]?.label === label);
      return xs.reduce((s, v) => s + v, 0) / xs.length;
    };
    const [ma, mb] = [meanOf("a"), meanOf("b")];
    expect(mb).toBeGreaterThan(ma);
    const right = proj.filter((v, i) => (v > (ma + mb) / 2 ? "b" : "a") === data[i]?.label).length;
    expect(right / data.length).toBeGreaterThanOrEqual(0.95);
  });

  it("mean over tokens, a glob for the curve across layers, and bad requests naming their field", () => {
    const m = handMade();
    const r = probe(m, { kind: "probe", hooks: "blocks.*.hook_resid_post", dataset: dataset(40, 6), reduce: "mean", steps: 50 });
    expect(r.probes.map((p) => p.hook)).toEqual(["blocks.0.hook_resid_post", "blocks.1.hook_resid_post"]);
    const bad = expectRequestError;
    const d = dataset(20, 7);
    bad(() => probe(m, { kind: "probe", hooks: "hook_embedd", dataset: d }), "hooks");
    bad(() => probe(m, { kind: "probe", hooks: "blocks.0.attn.hook_pattern", dataset: d }), "hooks");
    bad(() => probe(m, { kind: "probe", hooks: "hook_embed", dataset: d.slice(0, 3) }), "dataset");
    bad(() => probe(m, { kind: "probe", hooks: "hook_embed", dataset: d.map((e) => ({ ...e, label: "x" })) }), "dataset");
    bad(
      () => probe(m, { kind: "probe", hooks: "hook_embed", dataset: [...d, { input: { ids: [] }, label: "a" }] }),
      "dataset[20].input.ids",
    );
    bad(() => probe(m, { kind: "probe", hooks: "hook_embed", dataset: d, validation: 1 }), "validation");
  });
});
