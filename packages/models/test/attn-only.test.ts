// Attention-only GPT-2 (`attn_only: true` in config.json, TransformerLens's option): blocks without ln_2 and
// MLP — not in the checkpoint, the parameters or the hook points — computing resid_post = resid_pre + attn_out.
// Held against a full GPT-2 with the same weights whose MLPs write exactly zero: the same numbers, bit for bit.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hfToGguf } from "@llmdbg/convert";
import { run } from "@llmdbg/core";
import { ModelFormatError, readSafetensors } from "@llmdbg/formats";
import * as T from "@llmdbg/tensor";
import { tinyModel } from "@llmdbg/testing";
import { PRE_NORM, weightAccessorDiffs } from "@llmdbg/testing/vitest";
import { afterAll, describe, expect, it } from "vitest";
import { memoryWeights } from "../src/arch/common.js";
import { gpt2HookPoints } from "../src/arch/gpt2.js";
import { buildModel } from "../src/architectures.js";
import { normalizeHfConfig } from "../src/config.js";
import { checkpointLayout, initModel } from "../src/index.js";
import { load, saveModel } from "../src/node.js";

const ids = T.tensor([3, 17, 42, 5, 99, 7, 3, 17], [1, 8], "i32");
const MLP_HALF = /\.(ln_2|mlp)\./;
const MLP_HOOKS = ["hook_resid_mid", "ln2.hook_scale", "ln2.hook_normalized", "mlp.hook_pre", "mlp.hook_post", "hook_mlp_out"];

/** A tiny GPT-2, attention-only (its MLP tensors dropped) and full with MLPs that write zero. */
function pair() {
  const m = tinyModel("gpt2", { seed: 4 });
  const attnWeights = Object.fromEntries(Object.entries(m.weights).filter(([k]) => !MLP_HALF.test(k)));
  const zeroed = Object.fromEntries(
    Object.entries(m.weights).map(([k, t]) => [k, /\.mlp\.c_proj\./.test(k) ? T.zeros(t.shape, "f32") : t]),
  );
  const attnConfig = { ...m.config, attn_only: true };
  const attnOnly = buildModel(normalizeHfConfig(attnConfig, "config.json"), memoryWeights(attnWeights), "model.safetensors");
  const full = buildModel(normalizeHfConfig(m.config, "config.json"), memoryWeights(zeroed), "model.safetensors");
  return { m, attnConfig, attnWeights, attnOnly, full };
}

describe("attention-only GPT-2", () => {
  const dir = mkdtempSync(join(tmpdir(), "llmdbg-attn-only-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads attn_only from config.json; its checkpoint layout is GPT-2's without ln_2 and the MLP", () => {
    const { m, attnConfig } = pair();
    const config = normalizeHfConfig(attnConfig, "config.json");
    expect(config.attnOnly).toBe(true);
    expect(normalizeHfConfig(m.config, "config.json").attnOnly).toBe(false);
    const layout = checkpointLayout(config).map((e) => `${e.stored} [${e.shape.join(",")}]`);
    const expected = Object.entries(m.weights)
      .filter(([k]) => !MLP_HALF.test(k))
      .map(([k, t]) => `${k} [${t.shape.join(",")}]`);
    expect(layout.sort()).toEqual(expected.sort());
    expect(layout.some((k) => /ln_2|mlp/.test(k))).toBe(false);
  });

  it("declares GPT-2's hook points but the MLP half's and hook_resid_mid, as TransformerLens does, and reports each", () => {
    const { attnOnly } = pair();
    const full = gpt2HookPoints(2).map((p) => p.name);
    const names = attnOnly.hookPoints.map((p) => p.name);
    expect(names).toEqual(full.filter((n) => !MLP_HOOKS.some((h) => n.endsWith(`.${h}`))));
    expect(names).toContain("blocks.1.hook_resid_post");
    const { cache } = run(attnOnly, ids, { cache: true });
    expect(cache.names().sort()).toEqual([...names].sort());
    expect(() => run(attnOnly, ids, { cache: "blocks.0.hook_mlp_out" })).toThrow(/hook_mlp_out/);
  });

  it("computes resid_post = resid_pre + attn_out: the logits and every shared hook of a full GPT-2 whose MLPs write zero", () => {
    const { attnOnly, full } = pair();
    const a = run(attnOnly, ids, { cache: true });
    const f = run(full, ids, { cache: true });
    expect(Array.from(a.output.data)).toEqual(Array.from(f.output.data));
    for (const name of a.cache.names())
      expect(Array.from(a.cache.get(name).data), name).toEqual(Array.from(f.cache.get(name).data));
    // the fused fast path (nothing observed) gives the numbers of the primitive path
    const fast = run(attnOnly, ids).output;
    let d = 0;
    for (let i = 0; i < fast.size; i++) d = Math.max(d, Math.abs((fast.data[i] as number) - (a.output.data[i] as number)));
    expect(d).toBeLessThan(1e-5);
    // and the MLP really matters in a model that has one: not a vacuous comparison
    const { m } = pair();
    const real = buildModel(normalizeHfConfig(m.config, "config.json"), memoryWeights(m.weights), "model.safetensors");
    expect(Array.from(run(real, ids).output.data)).not.toEqual(Array.from(a.output.data));
  });

  it("has TransformerLens accessors for attention, none for the MLP", () => {
    const { attnOnly } = pair();
    expect(attnOnly.mlp(0)).toBeNull();
    expect(attnOnly.outputParams(-1).mlp).toBeNull();
    expect(attnOnly.outputParams(-1).attn.param).toBe("h.1.attn.c_proj.weight");
    for (const [what, diff] of weightAccessorDiffs(attnOnly, ids, PRE_NORM)) expect(diff, what).toBeLessThan(1e-5);
  });

  it("initModel, saveModel and load round-trip it: no MLP tensor written, the same logits back", () => {
    const { attnConfig } = pair();
    const { config, model } = initModel(attnConfig, { seed: 7, std: 0.3 });
    writeFileSync(join(dir, "config.json"), JSON.stringify(attnConfig));
    writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tinyModel("gpt2").tokenizer));
    saveModel(config, model.params, join(dir, "model.safetensors"));
    const stored = readSafetensors(join(dir, "model.safetensors")).keys();
    expect(stored.length).toBe(checkpointLayout(config).length);
    expect(stored.some((k) => MLP_HALF.test(k))).toBe(false);
    const back = load(dir);
    expect(back.config.attnOnly).toBe(true);
    expect(Array.from(run(back, ids).output.data)).toEqual(Array.from(run(model, ids).output.data));
  });

  it("refuses a full checkpoint under attn_only (its MLP tensors unread) and attn_only where it is not implemented", () => {
    const { m, attnConfig } = pair();
    const config = normalizeHfConfig(attnConfig, "config.json");
    expect(() => buildModel(config, memoryWeights(m.weights), "model.safetensors")).toThrow(/does not read .*mlp/);
    const llama = tinyModel("llama");
    const refused = () =>
      buildModel(
        normalizeHfConfig({ ...llama.config, attn_only: true }, "config.json"),
        memoryWeights(llama.weights),
        "model.safetensors",
      );
    expect(refused).toThrow(ModelFormatError);
    expect(refused).toThrow(/config\.json: attn_only: llama \(attnOnly\)/);
    expect(() => normalizeHfConfig({ ...m.config, attn_only: "yes" }, "config.json")).toThrow(
      /attn_only: expected true or false/,
    );
    // llama.cpp has no attention-only layout
    const { attnWeights } = pair();
    expect(() => hfToGguf({ config: attnConfig, weights: attnWeights })).toThrow(/config\.json: attn_only: .*no GGUF layout/);
  });
});
