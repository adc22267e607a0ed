// One-call runs as a user writes them: text in, globs and negative layers, per-call hook functions, patching from
// another run (also across prompt lengths), shapes checked against the declared axes, and the small metrics.
import type { HookPoint } from "@llmdbg/protocol";
import * as T from "@llmdbg/tensor";
import { describe, expect, it } from "vitest";
import {
  type ForwardContext,
  type HookedModel,
  hookShape,
  logitDiff,
  logitOf,
  logProb,
  run,
  type Tokenizer,
} from "../src/index.js";
import { toyModel, V } from "./toy.js";

const model = toyModel();
const ids = T.tensor([1, 2, 3, 4, 5], [1, 5], "i32");

/** A tokenizer over single characters a..k (ids 0..10), enough for `run` to take text. */
const letters: Tokenizer = {
  encode: (text) => [...text].map((ch) => ch.charCodeAt(0) - 97),
  decode: (xs) => xs.map((i) => String.fromCharCode(97 + i)).join(""),
  tokenStrings: (xs) => xs.map((i) => String.fromCharCode(97 + i)),
  idToToken: (i) => String.fromCharCode(97 + i),
  tokenToId: (t) => t.charCodeAt(0) - 97,
  vocabSize: V,
  bosTokenId: undefined,
  eosTokenId: undefined,
  padTokenId: undefined,
  unkTokenId: undefined,
};

describe("inputs", () => {
  it("text through the model's tokenizer, ids as a list, or a tensor: the same run", () => {
    const withTok: HookedModel = { ...model, tokenizer: letters };
    const fromText = run(withTok, "bcdef").output.toArray();
    expect(run(model, [1, 2, 3, 4, 5]).output.toArray()).toEqual(fromText);
    expect(run(model, ids).output.toArray()).toEqual(fromText);
    expect(() => run(model, "bcdef")).toThrow(/text input needs a model loaded with its tokenizer/);
    expect(() => run(model, [])).toThrow(/no token ids/);
  });
});

describe("selecting hook points", () => {
  it("globs, comma lists and negative layers select; a pattern that matches nothing is an error naming it", () => {
    const r = run(model, ids, { cache: "blocks.-1.attn.hook_*, hook_embed" });
    expect(r.cache.names()).toEqual([
      "hook_embed",
      "blocks.0.attn.hook_q",
      "blocks.0.attn.hook_k",
      "blocks.0.attn.hook_v",
      "blocks.0.attn.hook_attn_scores",
      "blocks.0.attn.hook_pattern",
      "blocks.0.attn.hook_z",
    ]);
    expect(r.cache.get("blocks.-1.attn.hook_z")).toBe(r.cache.get("blocks.0.attn.hook_z"));
    expect(r.cache.at("attn.hook_z", -1)).toBe(r.cache.get("blocks.0.attn.hook_z"));
    expect(() => run(model, ids, { cache: ["blocks.0.attn.hook_patern"] })).toThrow(
      /cache: "blocks.0.attn.hook_patern" matches nothing \(did you mean blocks.0.attn.hook_pattern\?\)/,
    );
    expect(() => run(model, ids, { grads: { hooks: "hook_embd", loss: (o) => T.sum(o) } })).toThrow(
      /grads.hooks: "hook_embd" matches nothing/,
    );
    expect(() => run(model, ids, { cache: "blocks.-2.hook_z" })).toThrow(/layer -2 is before the first of 1 blocks/);
    expect(() => run(model, ids, { interventions: [{ kind: "zero", hook: "blocks.-1.hook_mlp_out" }] })).not.toThrow();
  });
});

describe("per-call hook functions", () => {
  it("see each selected activation after the interventions, may replace it, and are gone after the call", () => {
    const seen: string[] = [];
    const zeroed = run(model, ids, {
      interventions: [{ kind: "scale", hook: "blocks.0.hook_mlp_out", factor: 2 }],
      hooks: {
        "blocks.*.hook_mlp_out": (x, p) => {
          seen.push(p.name);
          return T.mul(x, 0);
        },
        "hook_*embed": (_x, p: HookPoint) => {
          seen.push(p.name);
          return undefined;
        },
      },
    }).output.toArray();
    expect(seen).toEqual(["hook_embed", "hook_pos_embed", "blocks.0.hook_mlp_out"]);
    const viaIntervention = run(model, ids, {
      interventions: [{ kind: "zero", hook: "blocks.0.hook_mlp_out" }],
    }).output.toArray();
    expect(zeroed).toEqual(viaIntervention);
    expect(run(model, ids).output.toArray()).not.toEqual(zeroed);
    expect(() => run(model, ids, { hooks: { "blocks.0.hook_z": (x) => T.sum(x, -1) } })).toThrow(/matches nothing/);
    expect(() => run(model, ids, { hooks: { "blocks.0.attn.hook_z": (x) => T.sum(x, -1) } })).toThrow(
      /hooks\["blocks.0.attn.hook_z"\] returned \[1,5,2\], the activation is \[1,5,2,4\]/,
    );
  });
});

describe("patching from another run", () => {
  const clean = T.tensor([6, 7, 8, 9, 10], [1, 5], "i32");
  const hook = "blocks.0.hook_resid_mid";
  const source = run(model, clean, { cache: hook }).cache;
  const target = (input: T.Tensor, iv: Parameters<typeof run>[2]) =>
    run(model, input, { ...iv, cache: hook })
      .cache.get(hook)
      .toArray();

  it("the same length: every position by default, or the chosen ones", () => {
    const all = target(ids, { interventions: [{ kind: "patch", hook, from: source }] });
    expect(all).toEqual(source.get(hook).toArray());
    const last = target(ids, { interventions: [{ kind: "patch", hook, from: source, positions: [-1] }] });
    const plain = target(ids, {});
    const D = 8;
    expect(last.slice(0, 4 * D)).toEqual(plain.slice(0, 4 * D));
    expect(last.slice(4 * D)).toEqual(
      source
        .get(hook)
        .toArray()
        .slice(4 * D),
    );
  });

  it("different lengths align at the end by default; sourcePositions pair explicitly", () => {
    const short = T.tensor([2, 3, 4], [1, 3], "i32");
    const src = source.get(hook).toArray();
    const D = 8;
    const aligned = target(short, { interventions: [{ kind: "patch", hook, from: source }] });
    expect(aligned).toEqual(src.slice(2 * D)); // source positions 2, 3, 4 into target 0, 1, 2
    const paired = target(short, {
      interventions: [{ kind: "patch", hook, from: source, positions: [0], sourcePositions: [4] }],
    });
    expect(paired.slice(0, D)).toEqual(src.slice(4 * D));
    expect(() =>
      target(short, { interventions: [{ kind: "patch", hook, from: source, positions: [0, 1], sourcePositions: [4] }] }),
    ).toThrow(/2 target positions but 1 source positions/);
    const patterns = run(model, clean, { cache: "blocks.0.attn.hook_pattern" }).cache;
    expect(() =>
      run(model, short, { interventions: [{ kind: "patch", hook: "blocks.0.attn.hook_pattern", from: patterns }] }),
    ).toThrow(/differ on axis key_pos, which cannot be aligned/);
  });

  it("a tensor of the activation's shape patches too", () => {
    const values = T.ones([1, 5, 8], "f64");
    const r = target(ids, { interventions: [{ kind: "patch", hook, values, positions: [1] }] });
    expect(r.slice(8, 16)).toEqual(new Array(8).fill(1));
  });
});

describe("shapes", () => {
  it("every activation is checked against its declared axis sizes, and hookShape predicts them", () => {
    const r = run(model, ids, { cache: true });
    for (const p of model.hookPoints)
      expect(r.cache.get(p.name).shape, p.name).toEqual(hookShape(model, p, { batch: 1, pos: 5 }));
    const wrong: HookedModel = {
      ...model,
      axisSizes: { ...model.axisSizes, d_mlp: 15 },
    };
    expect(() => run(wrong, ids)).toThrow(
      /hook blocks.0.mlp.hook_pre: activation \[1,5,16\] has 16 along d_mlp \(axis 2\), expected 15/,
    );
    const lying: HookedModel = {
      ...model,
      forward: (_x: T.Tensor, ctx: ForwardContext) => ctx.hook("hook_embed", T.zeros([1, 4, 8], "f64")),
    };
    expect(() => run(lying, ids)).toThrow(/hook hook_embed: activation \[1,4,8\] has 4 along pos/);
  });
});

describe("metrics", () => {
  const out = run(model, ids).output; // [1, 5, V]
  const row = out.toArray().slice(4 * V, 5 * V);
  it("logitOf, logitDiff and logProb read the last position by default and take negative positions", () => {
    expect(logitOf(out, 3).item()).toBe(row[3]);
    expect(logitOf(out, 3, { position: 0 }).item()).toBe(out.toArray()[3]);
    expect(logitOf(out, 3, { position: -5 }).item()).toBe(out.toArray()[3]);
    expect(logitDiff(out, 3, 7).item()).toBeCloseTo((row[3] as number) - (row[7] as number), 12);
    const lse = Math.log(row.reduce((a, x) => a + Math.exp(x), 0));
    expect(logProb(out, 3).item()).toBeCloseTo((row[3] as number) - lse, 12);
    expect(() => logitOf(out, V)).toThrow(/token 11 out of range \[0, 11\)/);
    expect(() => logitOf(out, 0, { position: 5 })).toThrow(/position 5 out of range \[-5, 5\)/);
  });

  it("are differentiable: a loss for run's gradients", () => {
    const r = run(model, ids, { grads: { hooks: "blocks.0.hook_mlp_out", loss: (o) => logitDiff(o, 3, 7) } });
    const g = r.cache.grad("blocks.0.hook_mlp_out").toArray();
    expect(g.slice(0, 4 * 8).every((x) => x === 0)).toBe(true); // only the last position reaches the metric
    expect(g.slice(4 * 8).some((x) => x !== 0)).toBe(true);
  });
});
