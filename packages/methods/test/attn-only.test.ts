// The methods on an attention-only model (no MLP hook points, no MLP weights): direct logit attribution adds up
// from embeddings and heads alone, layer ablation ablates the attention outputs only, path patching has no MLP to
// freeze, and a rank-one MLP edit is refused naming the layer.
import { run } from "@llmdbg/core";
import { initModel } from "@llmdbg/models";
import { tinyModel } from "@llmdbg/testing";
import { expectMethodResult, expectRequestError } from "@llmdbg/testing/vitest";
import { describe, expect, it } from "vitest";
import { ablate, activationPatching, directLogitAttribution, romeEdit } from "../src/index.js";

const { model } = initModel({ ...tinyModel("gpt2").config, attn_only: true, n_layer: 3 }, { seed: 9, std: 0.3 });
const IDS = [5, 9, 23, 40, 5, 9];

describe("methods on an attention-only GPT-2", () => {
  it("direct logit attribution: embeddings, heads and biases sum to the logit; no MLP component", () => {
    const r = directLogitAttribution(model, { kind: "dla", input: { ids: IDS }, target: 23 });
    expectMethodResult(r);
    expect(r.components.some((c) => c.kind === "mlp")).toBe(false);
    expect(r.components.filter((c) => c.kind === "head")).toHaveLength(3 * 4);
    expect(r.error).toBeLessThan(1e-4 * Math.max(1, Math.abs(r.logit)));
  });

  it("layer ablation ablates each attention output, and its effect is the zeroed run's", () => {
    const r = ablate(model, { kind: "ablate", input: { ids: IDS }, components: "layers", ablation: "zero" });
    expectMethodResult(r);
    expect(r.effects.map((e) => e.kind)).toEqual(["attn", "attn", "attn"]);
    const l1 = r.effects.find((e) => e.layer === 1);
    const out = run(model, IDS, { interventions: [{ kind: "zero", hook: "blocks.1.hook_attn_out" }] }).output;
    const V = out.shape[2] as number;
    const row = Array.from(out.data.subarray((IDS.length - 1) * V, IDS.length * V));
    const max = Math.max(...row);
    const logp = (row[r.answer.id] as number) - max - Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    expect(Math.abs((l1?.metric ?? Number.NaN) - logp)).toBeLessThan(1e-4);
    expectRequestError(
      () => ablate(model, { kind: "ablate", input: { ids: IDS }, components: "neurons", ablation: "zero" }),
      "components",
      /no neurons/,
    );
  });

  it("path patching runs with heads alone", () => {
    const r = activationPatching(model, {
      kind: "patch",
      clean: { ids: IDS },
      corrupted: { ids: [7, 11, 23, 40, 7, 11] },
      grid: "path",
      receiver: { layer: 2, head: 1, input: "q" },
      answer: 9,
      foil: 5,
      method: "activation",
    });
    expectMethodResult(r);
    expect(r.values?.[0]?.every((v) => v !== null && Number.isFinite(v))).toBe(true);
  });

  it("a rank-one MLP edit is refused: the block has no MLP", () => {
    expectRequestError(
      () => romeEdit(model, { kind: "rome", prompt: { ids: IDS }, subjectPosition: -1, target: 3, layer: 1 }),
      "layer",
      /no MLP/,
    );
  });
});
