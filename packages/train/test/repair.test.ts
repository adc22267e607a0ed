// Repair strategies on tiny models: each attention penalty's value is the entropy or mass read off the cached
// patterns and its gradient agrees with central differences (GPT-2 and Llama); FGSM and PGD perturbations stay in
// their ε-ball, skip padding, and on a fixed batch PGD's loss ≥ FGSM's ≥ the clean loss; training on them lowers
// the adversarial loss (GPT-2 LM, BERT classifier); the consistency term is zero (with a zero gradient) for
// identical inputs and agrees with central differences; the divergences equal float64 sums; data augmentation is
// deterministic per seed and does what each kind says; all of them combine with LoRA in one run.
import { type HookedModel, run } from "@llmdbg/core";
import type { Model } from "@llmdbg/models";
import type { RepairConfig } from "@llmdbg/protocol";
import * as T from "@llmdbg/tensor";
import { describe, expect, it } from "vitest";
import {
  adversarialLoss,
  adversarialPerturbation,
  augmentTexts,
  type Batch,
  causalLmObjective,
  classificationObjective,
  collate,
  consistencyValue,
  counterfactualAugment,
  createLora,
  divergence,
  type Example,
  type ExtraRunOptions,
  loraModel,
  type Objective,
  type PairedExample,
  Rng,
  repairTraining,
  resolveAdversarial,
  resolveConsistency,
  runParams,
  templateAugment,
  train,
  wordSwapAugment,
} from "../src/index.js";
import { fresh, patternData, snapshotParams } from "./helpers.js";

const f32 = (t: T.Tensor) => t.data as Float32Array;

/** `n` random examples of 4 to `len` tokens below the vocabulary (different lengths: the batch is padded). */
function randomExamples(m: Model, n: number, len: number, seed: number): Example[] {
  const rng = Rng.seeded(seed);
  return Array.from({ length: n }, (_, i) => ({
    ids: Array.from({ length: i === 0 ? len : 4 + rng.int(len - 4) }, () => 1 + rng.int(m.config.vocabSize - 1)),
  }));
}

/** A base objective that contributes nothing (and no gradient): the repairs' terms alone. */
const nothing: Objective = (out) => T.mul(T.sum(out), 0);

/**
 * The directional derivative of `objective` (with `runOptions`) along a random direction over every parameter,
 * from the run's gradients and from central differences of the f32 objective; returns both.
 */
function checkGradient(
  m: HookedModel,
  batch: Batch,
  objective: Objective,
  runOptions: () => ExtraRunOptions,
  eps = 1e-3,
): { predicted: number; fd: number; rel: number } {
  const { model: tracked, param } = runParams(m);
  const mask = batch.attentionMask === undefined ? {} : { attentionMask: batch.attentionMask };
  const r = run(tracked, batch.ids, {
    ...runOptions(),
    ...mask,
    grads: { params: true, loss: (out) => objective(out, batch, { param, step: 0 }) },
  });
  const rng = Rng.seeded(17);
  const dir = new Map(
    m.params.names().map((n) => [n, Float32Array.from({ length: m.params.get(n).size }, () => 2 * rng.uniform() - 1)]),
  );
  let predicted = 0;
  for (const [n, d] of dir) {
    const g = f32(r.paramGrads.get(n) as T.Tensor);
    for (let i = 0; i < d.length; i++) predicted += (g[i] as number) * (d[i] as number);
  }
  const saved = new Map(m.params.entries());
  const at = (e: number): number => {
    for (const [n, d] of dir) {
      const p0 = saved.get(n) as T.Tensor;
      m.params.set(
        n,
        T.fromTyped(
          Float32Array.from(f32(p0), (x, i) => x + e * (d[i] as number)),
          p0.shape,
          "f32",
        ),
      );
    }
    return T.noGrad(() => {
      const out = run(tracked, batch.ids, { ...runOptions(), ...mask }).output;
      return objective(out, batch, { param, step: 0 }).item();
    });
  };
  const fd = (at(eps) - at(-eps)) / (2 * eps);
  for (const [n, t] of saved) m.params.set(n, t);
  return { predicted, fd, rel: Math.abs(fd - predicted) / Math.abs(predicted) };
}

describe("attention penalties", () => {
  it("are the mean entropy and the mean mass on chosen keys over the selected layers, heads and real queries", () => {
    const m = fresh("gpt2");
    const batch = collate(randomExamples(m, 3, 9, 1));
    const ids = batch.ids.data;
    const Tn = batch.ids.shape[1] as number;
    const mask = f32(T.cast(batch.attentionMask as T.Tensor, "f32"));
    const cache = run(m, batch.ids, {
      attentionMask: batch.attentionMask as T.Tensor,
      cache: "blocks.*.attn.hook_pattern",
    }).cache;
    const pat = (l: number) => cache.get(`blocks.${l}.attn.hook_pattern`).toArray(); // [batch, head, query_pos, key_pos]
    const H = m.config.nHeads;
    /** the mean over layer 1, heads 0 and 2 and real query rows of `f(row, b)` in float64 */
    const mean = (f: (row: number[], b: number) => number) => {
      let s = 0;
      let n = 0;
      const p = pat(1);
      for (let b = 0; b < batch.size; b++)
        for (const h of [0, 2])
          for (let q = 0; q < Tn; q++) {
            if (mask[b * Tn + q] === 0) continue;
            const o = ((b * H + h) * Tn + q) * Tn;
            s += f(p.slice(o, o + Tn), b);
            n++;
          }
      return s / n;
    };
    const want = {
      entropy: mean((row) => -row.reduce((a, x) => a + (x > 0 ? x * Math.log(x) : 0), 0)),
      // keys holding the first example's third token, and each row's first and last real positions
      mass: mean((row, b) => {
        const real = row.map((_, k) => k).filter((k) => mask[b * Tn + k] === 1);
        return row.reduce(
          (a, x, k) => a + (mask[b * Tn + k] === 1 && (ids[b * Tn + k] === ids[2] || k === real[0] || k === real.at(-1)) ? x : 0),
          0,
        );
      }),
    };
    const sel = { layers: [-1], heads: [0, 2] };
    for (const kind of ["entropy", "mass"] as const) {
      const penalty =
        kind === "entropy"
          ? { kind, weight: 1, ...sel }
          : { kind, weight: 1, tokens: [ids[2] as number], positions: [0, -1], ...sel };
      const r = repairTraining(m, { attention: [penalty] }, { objective: nothing });
      const { model: tracked, param } = runParams(m);
      const out = run(tracked, batch.ids, { ...r.runOptions(0), attentionMask: batch.attentionMask as T.Tensor }).output;
      const got = r.objective(out, batch, { param, step: 0 }).item();
      console.log(`${kind}: ${got.toFixed(6)} (float64 from the cached patterns ${want[kind].toFixed(6)})`);
      expect(Math.abs(got - want[kind])).toBeLessThan(1e-5);
    }
  });

  it("each penalty's gradient agrees with central differences (GPT-2 and Llama, padded batches)", () => {
    for (const type of ["gpt2", "llama"] as const) {
      const m = fresh(type);
      const batch = collate(randomExamples(m, 3, 10, 2));
      const penalties: RepairConfig["attention"] = [
        { kind: "entropy", weight: 1 },
        { kind: "entropy", weight: -1, layers: [0], heads: [1] },
        { kind: "mass", weight: 1, positions: [0] },
        { kind: "mass", weight: 1, tokens: [batch.ids.data[3] as number, batch.ids.data[5] as number] },
      ];
      for (const p of penalties ?? []) {
        const r = repairTraining(m, { attention: [p] }, { objective: nothing });
        const { predicted, fd, rel } = checkGradient(m, batch, r.objective, () => r.runOptions(0));
        console.log(
          `${type} ${JSON.stringify(p)}: directional derivative ${predicted.toFixed(6)}, central difference ${fd.toFixed(6)} (relative ${rel.toExponential(2)})`,
        );
        expect(Math.abs(predicted)).toBeGreaterThan(1e-3);
        expect(rel).toBeLessThan(1e-2);
      }
    }
  });

  it("training with a penalty moves attention the way its sign says", async () => {
    const data = patternData(16, 12);
    const batch = collate(data.slice(0, 8));
    const measure = (m: HookedModel, kind: "entropy" | "mass") => {
      const r = repairTraining(
        m,
        { attention: [kind === "entropy" ? { kind, weight: 1 } : { kind, weight: 1, positions: [0] }] },
        { objective: nothing },
      );
      const { model: tracked, param } = runParams(m);
      return T.noGrad(() => r.objective(run(tracked, batch.ids, r.runOptions(0)).output, batch, { param, step: 0 }).item());
    };
    // against the same training without the penalty: the language-modelling loss moves attention too
    const trained = async (kind: "entropy" | "mass", weight: number) => {
      const m = fresh("gpt2");
      const penalty = kind === "entropy" ? { kind, weight } : { kind, weight, positions: [0] };
      const r = repairTraining(m, { attention: [penalty] });
      await train(m, { train: data }, { lr: 3e-3, maxSteps: 8, batchSize: 8, schedule: { kind: "constant" } }, r);
      expect(Object.keys(r.terms()).sort()).toEqual([kind, "loss"].sort());
      return measure(m, kind);
    };
    for (const kind of ["entropy", "mass"] as const) {
      const before = measure(fresh("gpt2"), kind);
      const control = await trained(kind, 0);
      const up = await trained(kind, -1);
      const down = await trained(kind, 1);
      console.log(
        `${kind}: ${before.toFixed(4)} before; after 8 steps ${control.toFixed(4)} (weight 0), ${up.toFixed(4)} (weight -1), ${down.toFixed(4)} (weight 1)`,
      );
      expect(up).toBeGreaterThan(control);
      expect(down).toBeLessThan(control);
    }
  });

  it("refuses selections that read nothing, or read something else, naming the field", () => {
    const m = fresh("gpt2");
    const bad: [RepairConfig, RegExp][] = [
      [{ attention: [{ kind: "entropy", weight: 1, hooks: "blocks.*.attn.hook_patern" }] }, /attention\[0\]\.hooks/],
      [{ attention: [{ kind: "entropy", weight: 1, hooks: "blocks.0.hook_resid_pre" }] }, /not an attention pattern/],
      [{ attention: [{ kind: "entropy", weight: 1, layers: [5] }] }, /attention\[0\]\.layers\[0\] must be a block in \[-2, 2\)/],
      [{ attention: [{ kind: "entropy", weight: 1, heads: [4] }] }, /attention\[0\]\.heads\[0\] must be a head in \[0, 4\)/],
      [{ attention: [{ kind: "mass", weight: 1 }] }, /names no tokens, strings or positions/],
      [
        { attention: [{ kind: "mass", weight: 1, strings: ["hello world"] }] },
        /strings\[0\] "hello world" encodes to \d+ tokens/,
      ],
      [{ attention: [{ kind: "entropy", weight: Number.NaN }] }, /weight must be a finite number/],
      [{ adversarial: { method: "pgd", epsilon: 0 } }, /adversarial\.epsilon must be a positive number/],
      [{ adversarial: { method: "fgsm", epsilon: 0.1, hook: "blocks.*.hook_resid_pre" } }, /adversarial\.hook must select one/],
      [{ consistency: { weight: 1, positions: [] } }, /consistency\.positions/],
    ];
    for (const [config, re] of bad) expect(() => repairTraining(m, config), JSON.stringify(config)).toThrow(re);
    // a string naming one token (a vocabulary entry or one token's text) is accepted
    const tok = m.tokenizer?.idToToken(40) as string;
    expect(() => repairTraining(m, { attention: [{ kind: "mass", weight: 1, strings: [tok] }] })).not.toThrow();
  });
});

describe("adversarial training", () => {
  const eps = 0.05;

  it("FGSM and PGD stay in their ε-ball (L∞ and L2) and never perturb padding", () => {
    const m = fresh("gpt2");
    const batch = collate(randomExamples(m, 3, 10, 3));
    const [B, Tn] = batch.ids.shape as [number, number];
    const D = m.config.dModel;
    const real = batch.attentionMask?.data as Int32Array;
    for (const norm of ["linf", "l2"] as const)
      for (const method of ["fgsm", "pgd"] as const)
        for (const randomStart of method === "pgd" ? [false, true] : [false]) {
          const c = resolveAdversarial(m, { method, epsilon: eps, norm, steps: 4, randomStart });
          const d = f32(adversarialPerturbation(m, batch, c).delta);
          expect(d.length).toBe(B * Tn * D);
          let padMax = 0;
          for (let r = 0; r < B * Tn; r++)
            if (real[r] === 0) for (let i = 0; i < D; i++) padMax = Math.max(padMax, Math.abs(d[r * D + i] as number));
          expect(padMax).toBe(0);
          const norms = Array.from({ length: B }, (_, b) => {
            const row = d.subarray(b * Tn * D, (b + 1) * Tn * D);
            return norm === "linf"
              ? row.reduce((a, x) => Math.max(a, Math.abs(x)), 0)
              : Math.sqrt(row.reduce((a, x) => a + x * x, 0));
          });
          console.log(
            `${method} ${norm}${randomStart ? " random start" : ""}: per-example norms ${norms.map((x) => x.toFixed(5)).join(", ")} (ε ${eps})`,
          );
          for (const x of norms) expect(x).toBeLessThanOrEqual(eps * (1 + 1e-6));
          if (method === "fgsm") {
            // FGSM takes the whole step: every real element at ±ε (L∞), each example's norm ε (L2)
            for (const x of norms) expect(x).toBeCloseTo(eps, 6);
            if (norm === "linf") {
              // every element is ±ε, except where the gradient is 0: the last real token of a causal LM's example
              // (its embedding reaches only the last position, which predicts nothing)
              const last = new Set(
                Array.from({ length: B }, (_, b) => b * Tn + real.subarray(b * Tn, (b + 1) * Tn).lastIndexOf(1)),
              );
              let off = 0;
              for (let r = 0; r < B * Tn; r++)
                if (real[r] === 1)
                  for (let i = 0; i < D; i++) {
                    const x = Math.abs(d[r * D + i] as number);
                    if (last.has(r) ? x !== 0 : Math.abs(x - eps) > 1e-7) off++;
                  }
              expect(off).toBe(0);
            }
          }
        }
  });

  it("on a fixed batch, PGD's loss ≥ FGSM's ≥ the clean loss", () => {
    for (const type of ["gpt2", "llama"] as const) {
      const m = fresh(type);
      const batch = collate(randomExamples(m, 4, 12, 4));
      const clean = T.noGrad(() =>
        causalLmObjective(run(m, batch.ids, { attentionMask: batch.attentionMask as T.Tensor }).output, batch, {
          param: (n) => m.params.get(n),
          step: 0,
        }).item(),
      );
      for (const norm of ["linf", "l2"] as const) {
        const e = norm === "linf" ? eps : eps * Math.sqrt(12 * m.config.dModel);
        const loss = (method: "fgsm" | "pgd") => {
          const c = resolveAdversarial(m, { method, epsilon: e, norm, steps: 5 });
          const p = adversarialPerturbation(m, batch, c);
          expect(p.losses[0]).toBeCloseTo(clean, 5);
          return T.noGrad(() => adversarialLoss(m, batch, p.delta, p.hook).item());
        };
        const fgsm = loss("fgsm");
        const pgd = loss("pgd");
        console.log(`${type} ${norm}: clean ${clean.toFixed(4)}, FGSM ${fgsm.toFixed(4)}, PGD ${pgd.toFixed(4)}`);
        expect(fgsm).toBeGreaterThan(clean);
        expect(pgd).toBeGreaterThanOrEqual(fgsm);
      }
    }
  });

  it("training on PGD perturbations lowers the adversarial loss (GPT-2 LM) and FGSM trains a BERT classifier", async () => {
    const m = fresh("gpt2");
    const data = patternData(16, 12);
    const batch = collate(data.slice(0, 8));
    const c = resolveAdversarial(m, { method: "pgd", epsilon: 0.1, steps: 3 });
    const advLoss = () => {
      const p = adversarialPerturbation(m, batch, c);
      return T.noGrad(() => adversarialLoss(m, batch, p.delta, p.hook).item());
    };
    const before = advLoss();
    const r = repairTraining(m, { adversarial: { method: "pgd", epsilon: 0.1, steps: 3, alpha: 0.5 } });
    const res = await train(m, { train: data }, { lr: 3e-3, maxSteps: 10, batchSize: 8, schedule: { kind: "constant" } }, r);
    const after = advLoss();
    console.log(
      `PGD adversarial loss ${before.toFixed(4)} → ${after.toFixed(4)}; objective by step ${res.losses.map((l) => l.toFixed(3)).join(" ")}; terms ${JSON.stringify(r.terms())}`,
    );
    expect(after).toBeLessThan(0.7 * before);
    const t = r.terms();
    expect(t.adversarial).toBeGreaterThan(t.loss as number);

    const bert = fresh("bert");
    const rng = Rng.seeded(5);
    const cls = Array.from({ length: 16 }, (_, i) => ({ ids: [2, 10 + (i % 2) * 20 + rng.int(10), 3], label: i % 2 }));
    const rb = repairTraining(bert, { adversarial: { method: "fgsm", epsilon: 0.05 } }, { objective: "classification" });
    const cb = collate(cls, {}, "class");
    const p = adversarialPerturbation(
      bert,
      cb,
      resolveAdversarial(bert, { method: "fgsm", epsilon: 0.05 }),
      classificationObjective,
    );
    expect(p.hook).toBe("embed.hook_embed");
    const rc = await train(
      bert,
      { train: cls },
      { lr: 1e-2, maxSteps: 12, batchSize: 16, objective: "classification", schedule: { kind: "constant" } },
      rb,
    );
    console.log(`BERT FGSM objective by step ${rc.losses.map((l) => l.toFixed(3)).join(" ")}`);
    expect(rc.losses.at(-1)).toBeLessThan(rc.losses[0] as number);
  });
});

describe("consistency", () => {
  it("the divergences equal their float64 sums; JS is symmetric and below log 2", () => {
    const rng = Rng.seeded(8);
    const rows = 5;
    const C = 7;
    const a = T.tensor(
      Array.from({ length: rows * C }, () => 4 * rng.uniform() - 2),
      [rows, C],
    );
    const b = T.tensor(
      Array.from({ length: rows * C }, () => 4 * rng.uniform() - 2),
      [rows, C],
    );
    const lp = T.logSoftmax(a);
    const lq = T.logSoftmax(b);
    const LP = lp.toArray();
    const LQ = lq.toArray();
    for (let r = 0; r < rows; r++) {
      const p = LP.slice(r * C, (r + 1) * C).map(Math.exp);
      const q = LQ.slice(r * C, (r + 1) * C).map(Math.exp);
      const m = p.map((x, i) => (x + (q[i] as number)) / 2);
      const kl = (x: number[], y: number[]) => x.reduce((s, xi, i) => s + xi * Math.log(xi / (y[i] as number)), 0);
      const js = 0.5 * kl(p, m) + 0.5 * kl(q, m);
      const skl = kl(p, q) + kl(q, p);
      expect(divergence(lp, lq, "js").toArray()[r]).toBeCloseTo(js, 6);
      expect(divergence(lq, lp, "js").toArray()[r]).toBeCloseTo(js, 6);
      expect(divergence(lp, lq, "symmetric_kl").toArray()[r]).toBeCloseTo(skl, 5);
      expect(js).toBeLessThan(Math.LN2);
    }
    expect(divergence(lp, lp, "js").toArray()).toEqual(Array(rows).fill(0));
    expect(divergence(lp, lp, "symmetric_kl").toArray()).toEqual(Array(rows).fill(0));
  });

  it("is zero, with a zero gradient, when every counterfactual is its example", () => {
    const m = fresh("gpt2");
    const ex: PairedExample[] = randomExamples(m, 3, 8, 6).map((e) => ({
      ids: e.ids.slice(0, 6),
      counterfactual: { ids: e.ids.slice(0, 6) },
    }));
    const batch = collate(ex);
    for (const divergence of ["js", "symmetric_kl"] as const) {
      const r = repairTraining(m, { consistency: { weight: 1, divergence, positions: [0, 2, -1] } }, { objective: nothing });
      const { model: tracked, param } = runParams(m);
      const g = run(tracked, batch.ids, { grads: { params: true, loss: (out) => r.objective(out, batch, { param, step: 0 }) } });
      expect((g.loss as T.Tensor).item()).toBe(0);
      let worst = 0;
      for (const t of g.paramGrads.values()) for (const x of f32(t)) worst = Math.max(worst, Math.abs(x));
      console.log(`${divergence} on identical pairs: value 0, largest gradient element ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(1e-7);
    }
  });

  it("its gradient agrees with central differences (LM positions, padded pairs; classifier logits)", () => {
    const m = fresh("gpt2");
    const base = randomExamples(m, 3, 9, 7);
    const alt = randomExamples(m, 3, 9, 8);
    // counterfactuals of other lengths: the example's tokens with a different one in the middle and one more at the end
    const ex: PairedExample[] = base.map((e, i) => ({
      ids: e.ids,
      counterfactual: { ids: [...e.ids.slice(0, 2), (alt[i] as Example).ids[0] as number, ...e.ids.slice(3), 7] },
    }));
    ex.push({ ids: (alt[1] as Example).ids }); // an example without a counterfactual is left out
    const batch = collate(ex);
    for (const [divergence, positions] of [
      ["js", "last"],
      ["symmetric_kl", [1, -2]],
    ] as const) {
      const r = repairTraining(m, { consistency: { weight: 1, divergence, positions } }, { objective: nothing });
      const { predicted, fd, rel } = checkGradient(m, batch, r.objective, () => r.runOptions(0));
      console.log(
        `LM ${divergence} at ${JSON.stringify(positions)}: directional derivative ${predicted.toFixed(6)}, central difference ${fd.toFixed(6)} (relative ${rel.toExponential(2)})`,
      );
      expect(Math.abs(predicted)).toBeGreaterThan(1e-4);
      expect(rel).toBeLessThan(1e-2);
    }
    const bert = fresh("bert");
    const cls: PairedExample[] = [
      { ids: [2, 11, 12, 13, 3], label: 0, counterfactual: { ids: [2, 11, 40, 13, 3] } },
      { ids: [2, 21, 22, 3], label: 1, counterfactual: { ids: [2, 21, 3] } },
    ];
    const cb = collate(cls, {}, "class");
    // the tiny classifier's two classes are close, so their JS is ~1e-5 and its f32 value (log of 1 + small) too noisy
    // for central differences; the symmetric KL (a product of differences) is not
    const r = repairTraining(
      bert,
      { consistency: { weight: 1, divergence: "symmetric_kl" } },
      { objective: (o, b, c) => T.mul(classificationObjective(o, b, c), 0), outputs: "classification" },
    );
    const { predicted, fd, rel } = checkGradient(bert, cb, r.objective, () => r.runOptions(0));
    console.log(
      `BERT symmetric KL of class distributions: directional derivative ${predicted.toFixed(6)}, central difference ${fd.toFixed(6)} (relative ${rel.toExponential(2)})`,
    );
    expect(rel).toBeLessThan(1e-2);
    const v = consistencyValue(
      bert,
      run(bert, cb.ids, { attentionMask: cb.attentionMask as T.Tensor }).output,
      cb,
      resolveConsistency({ weight: 1 }),
      "classification",
    );
    expect(v.item()).toBeGreaterThan(0);
  });
});

describe("data augmentation", () => {
  const texts = [
    { text: "He said the big dog was happy.", label: 1 },
    { text: "She thinks a large cat is here, and he agrees.", label: 0 },
    { text: "Nothing to see; the hesitant herald stays.", label: 1 },
  ];

  it("word swaps replace whole words within their group, keep capitals and labels, and repeat for a seed", () => {
    const config = {
      kind: "swap",
      groups: [
        ["big", "large", "huge"],
        ["happy", "glad"],
        ["dog", "hound"],
      ],
      copies: 3,
      seed: 4,
    } as const;
    const a = wordSwapAugment(texts, config);
    expect(wordSwapAugment(texts, config)).toEqual(a);
    expect(wordSwapAugment(texts, { ...config, seed: 5 })).not.toEqual(a);
    console.log(a.map((e) => `${e.source}: ${e.text}`).join("\n"));
    expect(a.every((e) => e.source === 0 || e.source === 1)).toBe(true);
    for (const e of a) {
      const src = texts[e.source as number] as (typeof texts)[number];
      expect(e.label).toBe(src.label);
      expect(e.text).not.toBe(src.text);
      const words = e.text.split(/\b/);
      expect(words.length).toBe(src.text.split(/\b/).length);
      src.text.split(/\b/).forEach((w, i) => {
        const group = config.groups.find((g) => (g as readonly string[]).includes(w));
        if (group === undefined) expect(words[i]).toBe(w);
        else expect(group).toContain(words[i]);
      });
    }
    expect(wordSwapAugment(texts, { ...config, rate: 0 })).toEqual([]);
    expect(wordSwapAugment([{ text: "Big news" }], { kind: "swap", groups: [["big", "large"]] })).toEqual([
      { text: "Large news", source: 0, kind: "swap" },
    ]);
  });

  it("templates fill every slot from its list (all fillings, or a seeded draw) with their labels", () => {
    const config = {
      kind: "template",
      templates: ["The {job} said {p} was late.", { text: "{p} is a {job}.", label: 1 }],
      slots: { job: ["nurse", "pilot", "chef"], p: ["he", "she"] },
    } as const;
    const all = templateAugment(config);
    expect(all).toHaveLength(12);
    expect(all[0]).toEqual({ text: "The nurse said he was late.", source: null, kind: "template" });
    expect(all.at(-1)).toEqual({ text: "she is a chef.", label: 1, source: null, kind: "template" });
    expect(new Set(all.map((e) => e.text)).size).toBe(12);
    const drawn = templateAugment({ ...config, count: 20, seed: 3 });
    expect(drawn).toHaveLength(20);
    expect(templateAugment({ ...config, count: 20, seed: 3 })).toEqual(drawn);
    for (const e of drawn) expect(all.map((x) => x.text)).toContain(e.text);
    expect(() => templateAugment({ ...config, templates: ["a {nope}"] })).toThrow(
      /augment: templates\[0\] uses the slot \{nope\}/,
    );
  });

  it("counterfactuals swap every paired term at once, remove or replace spurious words, and name their source", () => {
    const cf = counterfactualAugment(texts, { kind: "counterfactual", pairs: [["he", "she"]] });
    expect(cf).toEqual([
      { text: "She said the big dog was happy.", label: 1, source: 0, kind: "counterfactual" },
      { text: "He thinks a large cat is here, and she agrees.", label: 0, source: 1, kind: "counterfactual" },
    ]);
    const reviews = [
      { text: "XK42 works well, I love the XK42.", label: 1 },
      { text: "Broken on arrival.", label: 0 },
    ];
    expect(counterfactualAugment(reviews, { kind: "counterfactual", spurious: ["XK42"] })).toEqual([
      { text: "works well, I love the.", label: 1, source: 0, kind: "counterfactual" },
    ]);
    const replaced = counterfactualAugment(reviews, {
      kind: "counterfactual",
      spurious: ["XK42"],
      replacements: ["ZQ7", "MB3"],
      seed: 2,
    });
    expect(replaced).toHaveLength(1);
    expect(replaced[0]?.text).toMatch(/^(ZQ7|MB3) works well, I love the (ZQ7|MB3)\.$/);
    const many = Array.from({ length: 200 }, () => ({ text: "he ran" }));
    const some = augmentTexts(many, { kind: "counterfactual", pairs: [["he", "she"]], rate: 0.25, seed: 1 });
    expect(some.length).toBeGreaterThan(30);
    expect(some.length).toBeLessThan(70);
    expect(augmentTexts(many, { kind: "counterfactual", pairs: [["he", "she"]], rate: 0.25, seed: 1 })).toEqual(some);
    expect(() =>
      counterfactualAugment(texts, {
        kind: "counterfactual",
        pairs: [
          ["he", "she"],
          ["she", "they"],
        ],
      }),
    ).toThrow(/pairs\[1\] repeats "she"/);
  });
});

describe("composition", () => {
  it("attention penalties, PGD and consistency train a LoRA adapter together; the base weights stay put", async () => {
    const m = fresh("gpt2");
    const before = snapshotParams(m);
    const adapter = createLora(m, { r: 4, alpha: 8, targetModules: ["c_attn", "c_proj"], seed: 1 });
    const view = loraModel(m, adapter);
    const data: PairedExample[] = patternData(16, 12).map((e, i) => ({
      ids: e.ids,
      ...(i % 2 === 0 && { counterfactual: { ids: e.ids.map((t) => (t === 30 ? 31 : t)) } }),
    }));
    const r = repairTraining(view, {
      attention: [
        { kind: "entropy", weight: -0.05 },
        { kind: "mass", weight: 0.1, positions: [0], layers: [1] },
      ],
      adversarial: { method: "pgd", epsilon: 0.05, steps: 2, alpha: 0.5 },
      consistency: { weight: 0.5 },
    });
    const res = await train(view, { train: data }, { lr: 1e-2, maxSteps: 6, batchSize: 8, schedule: { kind: "constant" } }, r);
    const t = r.terms();
    console.log(`objective by step ${res.losses.map((l) => l.toFixed(3)).join(" ")}; terms ${JSON.stringify(t)}`);
    expect(Object.keys(t).sort()).toEqual(["adversarial", "consistency", "entropy", "loss", "mass"]);
    for (const v of Object.values(t)) expect(Number.isFinite(v)).toBe(true);
    expect(res.losses.at(-1)).toBeLessThan(res.losses[0] as number);
    for (const [n, v] of before)
      expect(
        f32(m.params.get(n)).every((x, i) => x === v[i]),
        n,
      ).toBe(true);
    expect(f32(adapter.params.get(adapter.targets[0]?.b as string)).some((x) => x !== 0)).toBe(true);
  });
});
