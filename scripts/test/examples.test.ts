// The README's library example is examples/quickstart.ts, type-checked by `npm run check` and run here on the
// bundled model; the README shows exactly its lines.
import { readFileSync } from "node:fs";
import * as T from "@llmdbg/tensor";
import { describe, expect, it } from "vitest";
import { ablateExample } from "../../examples/ablate.js";
import { adversarialExample } from "../../examples/adversarial.js";
import { attentionExample } from "../../examples/attention.js";
import { attributeExample } from "../../examples/attribute.js";
import { dlaExample } from "../../examples/dla.js";
import { editExample } from "../../examples/edit.js";
import { lensExample } from "../../examples/lens.js";
import { neuronsExample } from "../../examples/neurons.js";
import { patchExample } from "../../examples/patch.js";
import { perturbationExample } from "../../examples/perturbation.js";
import { probeSteerExample } from "../../examples/probe-steer.js";
import { quickstart } from "../../examples/quickstart.js";
import { trainExample } from "../../examples/train.js";

const root = new URL("../../", import.meta.url).pathname;

describe("examples/quickstart.ts", () => {
  const r = quickstart(`${root}models/tiny-gpt2`);

  it("patching the last residual makes the last position's logits the clean run's", () => {
    const V = r.patched.shape[2] as number;
    const P = r.patched.shape[1] as number;
    const logits = r.clean.get("hook_logits").toArray();
    const cleanLast = logits.slice(logits.length - V);
    const got = r.patched.toArray().slice((P - 1) * V);
    const scale = Math.max(...cleanLast.map(Math.abs));
    const worst = got.reduce((m, v, i) => Math.max(m, Math.abs(v - (cleanLast[i] as number))), 0);
    // the clean run cached every hook (the primitive path), the patched one takes the fused final norm
    expect(worst / scale).toBeLessThanOrEqual(1e-6);
  });

  it("reads a gradient and a pattern whose rows are distributions", () => {
    expect(r.saliency.shape).toEqual(r.clean.get("hook_embed").shape);
    expect(r.saliency.toArray().some((x) => x !== 0)).toBe(true);
    const sums = T.sum(r.pattern, -1).toArray();
    for (const s of sums) expect(Math.abs(s - 1)).toBeLessThan(1e-6);
  });

  it("is the README's library example, line for line", () => {
    const src = readFileSync(`${root}examples/quickstart.ts`, "utf8");
    const body = src.slice(src.indexOf("// --- example start\n") + 21, src.indexOf("  // --- example end"));
    const lines = body.split("\n").map((l) => l.replace(/^ {2}/, ""));
    const readme = readFileSync(`${root}README.md`, "utf8");
    for (const l of lines.filter((x) => x.trim() !== "")) expect(readme, l).toContain(l);
  });
});

/** The lines between the example markers of an examples/ file, unindented. */
function exampleLines(file: string): string[] {
  const src = readFileSync(`${root}examples/${file}`, "utf8");
  const body = src.slice(src.indexOf("// --- example start\n") + 21, src.indexOf("  // --- example end"));
  return body
    .split("\n")
    .map((l) => l.replace(/^ {2}/, ""))
    .filter((x) => x.trim() !== "");
}

describe("examples of the methods: lens, dla, attribute, perturbation, patch, ablate", () => {
  it("the lens reads every layer and the last position's last row is the output's argmax", () => {
    const lens = lensExample(`${root}models/tiny-gpt2`);
    expect(lens.cells).toHaveLength(lens.layers.length);
    expect(lens.cells.at(-1)?.at(-1)?.top).toHaveLength(3);
    expect(lens.target).not.toBeNull();
  });

  it("the DLA components sum to the logit difference", () => {
    const dla = dlaExample(`${root}models/tiny-gpt2`);
    expect(dla.error).toBeLessThan(1e-4);
    expect(dla.foil).not.toBeNull();
  });

  it("integrated gradients explains f(input) − f(baseline) to within 1%", () => {
    const ig = attributeExample(`${root}models/tiny-gpt2`);
    expect(Math.abs(ig.delta ?? Number.NaN)).toBeLessThan(0.01 * Math.abs(ig.fInput - (ig.fBaseline ?? 0)));
  });

  it("KernelSHAP's scores sum to f(input) − f(all masked)", () => {
    const shap = perturbationExample(`${root}models/tiny-gpt2`);
    expect(Math.abs(shap.scores.reduce((a, b) => a + b, 0) - (shap.fInput - shap.fMasked))).toBeLessThan(1e-6);
  });

  it("patching the heads gives a layer × head grid with its attribution approximation", () => {
    const r = patchExample(`${root}models/tiny-gpt2`);
    expect(r.values?.length).toBe(r.rows.length);
    expect(r.attribution?.rankCorrelation).not.toBeNull();
  });

  it("mean ablation lists every head, largest effect first", () => {
    const r = ablateExample(`${root}models/tiny-gpt2`);
    const mags = r.effects.map((e) => Math.abs(e.effect));
    expect(mags).toEqual([...mags].sort((a, b) => b - a));
  });

  it("attention scores every head; the probe's direction steers; the ROME edit raises its target", async () => {
    const a = attentionExample(`${root}models/tiny-gpt2`);
    expect(a.scores?.induction).toHaveLength(a.layers.length);
    const { probes, steered } = probeSteerExample(`${root}models/tiny-gpt2`);
    expect(probes.probes.length).toBeGreaterThan(0);
    expect(steered.kl).toBeGreaterThan(0);
    const rome = editExample(`${root}models/tiny-gpt2`);
    expect(rome.checks[0]?.after).toBeGreaterThan(rome.checks[0]?.before ?? 1);
    const attack = adversarialExample(`${root}models/tiny-gpt2`);
    expect(attack.losses.length).toBeGreaterThan(0);
    expect(attack.losses.at(-1)).toBeLessThanOrEqual(attack.losses[0] as number);
    const neurons = await neuronsExample(`${root}models/tiny-gpt2`);
    expect(neurons.units).toHaveLength(2);
    expect(neurons.units[0]?.top).toHaveLength(5);
  });

  it("are in the README, line for line", () => {
    const readme = readFileSync(`${root}README.md`, "utf8");
    const files = ["lens.ts", "dla.ts", "attribute.ts", "perturbation.ts", "patch.ts", "ablate.ts", "attention.ts"];
    const lines = [...files, "probe-steer.ts", "edit.ts", "adversarial.ts", "neurons.ts"].flatMap(exampleLines);
    for (const l of lines) expect(readme, l).toContain(l);
  });
});

describe("examples/train.ts", () => {
  it("fine-tunes the bundled model: the loss falls, every event is reported, and it is in the README", async () => {
    const sink = await trainExample(`${root}models/tiny-gpt2`);
    const steps = sink.of("step");
    expect(steps).toHaveLength(20);
    expect((steps.at(-1) as { loss: number }).loss).toBeLessThan((steps[0] as { loss: number }).loss / 2);
    expect(sink.of("eval")).toHaveLength(2);
    const readme = readFileSync(`${root}README.md`, "utf8");
    for (const l of exampleLines("train.ts")) expect(readme, l).toContain(l);
  });
});
