// Reachable parameters: every architecture's params are its checkpoint's tensors under their keys (prefix
// stripped), its TransformerLens accessors reproduce the activations of the forward pass, edits apply for one run
// or permanently and revert, and gradients reach any parameter through run().
import { run, type TransformerModel } from "@llmdbg/core";
import { encodeGguf, ggufTensor, parseGguf } from "@llmdbg/formats";
import * as T from "@llmdbg/tensor";
import { ggufFromTiny, type TinyModelType, tinyModel } from "@llmdbg/testing";
import { type AccessorInputs, PRE_NORM, weightAccessorDiffs } from "@llmdbg/testing/vitest";
import { describe, expect, it } from "vitest";
import { memoryWeights } from "../src/arch/common.js";
import { buildModel } from "../src/architectures.js";
import { normalizeHfConfig } from "../src/config.js";
import { normalizeGgufConfig } from "../src/config-gguf.js";
import { ggufWeightSource } from "../src/gguf-names.js";

const ids = T.tensor([3, 17, 42, 5, 99, 7], [1, 6], "i32");

function tiny(type: TinyModelType, opts: Parameters<typeof tinyModel>[1] = {}) {
  const m = tinyModel(type, { seed: 2, ...opts });
  const config = normalizeHfConfig(m.config, "config.json");
  const model = buildModel(config, memoryWeights(m.weights), "model.safetensors");
  return { m, config, model };
}

/** The same tiny model read from its llama.cpp layout (out_in weights, permuted q/k rows, fused q/k/v). */
function tinyGguf(type: TinyModelType) {
  const m = tinyModel(type, { seed: 2 });
  const bytes = encodeGguf(ggufFromTiny(m));
  const g = parseGguf(bytes, "tiny.gguf");
  const names = new Set(g.tensors.map((t) => t.name));
  const config = normalizeGgufConfig(g.metadata, "tiny.gguf", names);
  if (config.source.format !== "gguf") throw new Error("unreachable");
  const source = ggufWeightSource(config.source.architecture, names, (n) => ggufTensor(g, bytes, n, "tiny.gguf"));
  return buildModel(config, source, "tiny.gguf");
}

const BERT_MLM: AccessorInputs = {
  attnIn: (l) => `blocks.${l}.hook_resid_pre`,
  mlpIn: (l) => `blocks.${l}.ln1.hook_normalized`,
  unembedIn: "mlm_head.ln.hook_normalized",
  lastResid: "blocks.-1.hook_normalized_resid_post",
};

describe("TransformerLens accessors reproduce the forward pass", () => {
  const cases: [string, TransformerModel, AccessorInputs][] = [
    ["gpt2", tiny("gpt2").model, PRE_NORM],
    ["gpt2 untied", tiny("gpt2", { tieEmbeddings: false }).model, PRE_NORM],
    ["llama (GQA)", tiny("llama").model, PRE_NORM],
    ["qwen2 (q/k/v biases)", tiny("qwen2").model, PRE_NORM],
    ["gpt_neox", tiny("gpt_neox").model, PRE_NORM],
    ["bert (masked-LM)", tiny("bert", { bertHead: "mlm" }).model, BERT_MLM],
    ["gpt2 from GGUF", tinyGguf("gpt2"), PRE_NORM],
    ["llama from GGUF", tinyGguf("llama"), PRE_NORM],
    ["gpt_neox from GGUF (fused [q; k; v])", tinyGguf("gpt_neox"), PRE_NORM],
  ];
  it.each(cases)("%s", (name, model, inputs) => {
    const diffs = weightAccessorDiffs(model, ids, inputs);
    const worst = Math.max(...diffs.values());
    console.log(`${name} accessors: ${[...diffs].map(([k, v]) => `${k} ${v.toExponential(1)}`).join(", ")}`);
    expect(worst).toBeLessThanOrEqual(1e-6); // measured ≤ 1.1e-7 (W_O sums heads in another order), else 0
    expect(diffs.size).toBeGreaterThanOrEqual(8);
  });
});

describe("params", () => {
  it("are the checkpoint's tensors, under their keys without the prefix, in f32", () => {
    for (const type of ["gpt2", "llama", "gpt_neox", "bert"] as const) {
      const { m, model } = tiny(type);
      const stripped = new Map(
        Object.entries(m.weights).map(([k, t]) => [k.replace(/^(transformer|model|gpt_neox|bert|roberta)\./, ""), t]),
      );
      expect(model.params.names().sort(), type).toEqual([...stripped.keys()].sort());
      for (const [k, t] of stripped) expect(model.params.get(k).toArray(), k).toEqual(t.toArray());
      expect(model.params.count()).toBe([...stripped.values()].reduce((a, t) => a + t.size, 0));
    }
  });

  it("an unknown name or a wrong shape is an error that names it", () => {
    const { model } = tiny("gpt2");
    expect(() => model.params.get("h.0.mlp.c_fc.weigth")).toThrow(
      /no parameter "h.0.mlp.c_fc.weigth"; did you mean "h.0.mlp.c_fc.weight"/,
    );
    expect(() => model.params.set("h.0.mlp.c_fc.bias", T.zeros([3]))).toThrow(
      /params.set h.0.mlp.c_fc.bias: expected f32 \[\d+\], got f32 \[3\]/,
    );
    expect(() => run(model, ids, { edits: [{ kind: "scale", param: "nope", factor: 2 }] })).toThrow(/no parameter "nope"/);
    expect(() => run(model, ids, { grads: { params: "h.9.*", loss: (o) => T.sum(o) } })).toThrow(
      /grads.params: "h.9.\*" matches nothing/,
    );
  });
});

describe("weight edits", () => {
  const { model } = tiny("gpt2");
  const plain = () => run(model, ids).output.toArray();
  const before = plain();
  const edit = { kind: "scale", param: "h.1.mlp.c_proj.weight", factor: 0 } as const;

  it("for one run: changes that run only", () => {
    const edited = run(model, ids, { edits: [edit] }).output.toArray();
    expect(edited).not.toEqual(before);
    expect(plain()).toEqual(before);
    // the MLP's output is then its bias alone
    const r = run(model, ids, { edits: [edit], cache: "blocks.1.hook_mlp_out" });
    const bias = model.params.get("h.1.mlp.c_proj.bias").toArray();
    const out = r.cache.get("blocks.1.hook_mlp_out").toArray();
    out.forEach((v, i) => {
      expect(v).toBe(bias[i % bias.length]);
    });
  });

  it("made permanent, the same as for one run, and reverted exactly", () => {
    const once = run(model, ids, { edits: [edit] }).output.toArray();
    const h = model.params.apply([
      edit,
      { kind: "add", param: "h.0.ln_1.bias", delta: T.ones([model.axisSizes.d_model as number]) },
    ]);
    expect(h.params).toEqual(["h.1.mlp.c_proj.weight", "h.0.ln_1.bias"]);
    expect(plain()).not.toEqual(once); // the second edit too
    h.revert();
    expect(plain()).toEqual(before);
    const h2 = model.params.apply([edit]);
    expect(plain()).toEqual(once);
    h2.revert();
    expect(plain()).toEqual(before);
  });

  it("rank-one and row edits compute W + u vᵀ and scale rows; a failed batch changes nothing", () => {
    const name = "h.0.mlp.c_fc.weight";
    const W = model.params.get(name);
    const [R, C] = W.shape as [number, number];
    const u = Array.from({ length: R }, (_, i) => (i % 3) - 1);
    const v = Array.from({ length: C }, (_, j) => (j % 5) / 10);
    const h = model.params.apply([{ kind: "rankOne", param: name, u, v, coeff: 2 }]);
    const got = model.params.get(name).toArray();
    const w0 = W.toArray();
    for (let i = 0; i < R; i++)
      for (let j = 0; j < C; j++)
        expect(got[i * C + j]).toBeCloseTo((w0[i * C + j] as number) + 2 * (u[i] as number) * (v[j] as number), 6);
    h.revert();
    const rows = model.params.apply([{ kind: "scale", param: name, factor: 0, rows: [0, -1] }]);
    const z = model.params.get(name).toArray();
    expect(z.slice(0, C).every((x) => x === 0) && z.slice((R - 1) * C).every((x) => x === 0)).toBe(true);
    expect(z.slice(C, 2 * C)).toEqual(w0.slice(C, 2 * C));
    rows.revert();
    // a slice: columns (a head's inputs in a [out, in] layout), and rows × columns; set a slice to given values
    const cols = model.params.apply([{ kind: "scale", param: name, factor: 0, cols: [1, 2] }]);
    const zc = model.params.get(name).toArray();
    for (let i = 0; i < R; i++) {
      expect(Math.abs(zc[i * C + 1] as number)).toBe(0);
      expect(Math.abs(zc[i * C + 2] as number)).toBe(0);
      expect(zc[i * C]).toBe(w0[i * C]);
    }
    cols.revert();
    const set = model.params.apply([
      { kind: "set", param: name, rows: [1], cols: [0, -1], values: { shape: [1, 2], data: [7, 8] } },
    ]);
    const zs = model.params.get(name).toArray();
    expect([zs[C], zs[2 * C - 1]]).toEqual([7, 8]);
    expect(zs.filter((x, i) => x !== w0[i]).length).toBe(2);
    set.revert();
    expect(() => model.params.apply([{ kind: "scale", param: name, factor: 0, cols: [C] }])).toThrow(/col \d+ out of range/);
    expect(() => model.params.apply([edit, { kind: "rankOne", param: name, u: [1], v }])).toThrow(/u has 1 entries/);
    expect(plain()).toEqual(before);
  });
});

describe("gradients with respect to parameters", () => {
  it("a bias's gradient is its pre-activation's gradient summed over batch and positions", () => {
    const { model } = tiny("gpt2");
    const loss = (o: T.Tensor) => T.sum(T.mul(o, o));
    const r = run(model, ids, { grads: { hooks: "blocks.0.mlp.hook_pre", params: "h.0.mlp.c_fc.bias", loss } });
    const viaHook = T.sum(r.cache.grad("blocks.0.mlp.hook_pre"), [0, 1]).toArray();
    const direct = (r.paramGrads.get("h.0.mlp.c_fc.bias") as T.Tensor).toArray();
    const worst = direct.reduce((m, g, i) => Math.max(m, Math.abs(g - (viaHook[i] as number))), 0);
    const scale = Math.max(...direct.map(Math.abs));
    console.log(`gpt2 dL/d c_fc.bias vs Σ dL/d hook_pre: max |Δ| ${(worst / scale).toExponential(2)} of the gradient's scale`);
    expect(worst / scale).toBeLessThanOrEqual(1e-6);
  });

  it.each([
    ["gpt2", "wte.weight"], // tied: both the embedding and the unembedding paths
    ["gpt2", "h.1.attn.c_attn.weight"],
    ["llama", "layers.0.self_attn.k_proj.weight"],
    ["gpt_neox", "layers.1.attention.query_key_value.weight"],
    ["bert", "encoder.layer.0.output.LayerNorm.weight"],
  ] as const)("%s %s matches directional finite differences (edits as the perturbation)", (type, param) => {
    const { model } = tiny(type);
    const target = type === "bert" ? 1 : 5; // the tiny BERT is a two-label classifier
    const loss = (o: T.Tensor) => T.sum(T.narrow(T.logSoftmax(T.reshape(o, [-1, o.shape[o.rank - 1] as number])), 1, target, 1));
    const g = run(model, ids, { grads: { params: param, loss } }).paramGrads.get(param) as T.Tensor;
    const W = model.params.get(param);
    const gNorm = Math.sqrt(g.toArray().reduce((a, x) => a + x * x, 0));
    // along the gradient itself (⟨g, d⟩ = ‖g‖) and along a random unit direction; float32: a wide step
    const random = T.randn([...W.shape], 11, "f32");
    const rNorm = Math.sqrt(random.toArray().reduce((a, x) => a + x * x, 0));
    let worst = 0;
    for (const d of [T.div(g, gNorm), T.div(random, rNorm)]) {
      const h = 1e-2;
      const at = (s: number) => loss(run(model, ids, { edits: [{ kind: "add", param, delta: T.mul(d, s) }] }).output).item();
      const num = (at(h) - at(-h)) / (2 * h);
      const ana = T.sum(T.mul(g, d)).item();
      worst = Math.max(worst, Math.abs(num - ana) / gNorm);
    }
    console.log(`${type} ${param}: directional derivative vs finite differences, worst |Δ| / ‖g‖ ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(5e-4); // measured ≤ 7.0e-5 (float32 finite differences)
  });
});
