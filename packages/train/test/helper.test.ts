// AdamW on two threads: the helper thread updates about half the parameters (by size) with the very kernel the
// calling thread runs, so a parallel step is the single-threaded step bit for bit — values, moments, update norms,
// exported state — and leaves the caller's gradient and parameter arrays as they were. A helper that fails hands
// the moments back, so the optimizer's state survives it.
import { fromTyped, type Tensor } from "@llmdbg/tensor";
import { afterAll, describe, expect, it } from "vitest";
import { stepHelper } from "../src/helper-node.js";
import { AdamW, type AdamWDone, helperShare, type StepHelper } from "../src/optim.js";

/** A parameter store over a map, as the trainer's model.params is. */
function store(seed: number) {
  const shapes: Record<string, number[]> = { "w.a": [64, 48], "w.b": [300], "w.c": [17, 9], "w.d": [1000], "w.e": [5, 5] };
  let s = seed;
  const rnd = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  const params = new Map<string, Tensor>();
  for (const [name, shape] of Object.entries(shapes)) {
    const n = shape.reduce((a, b) => a * b, 1);
    params.set(name, fromTyped(Float32Array.from({ length: n }, rnd), shape, "f32")); // [shape]
  }
  const grads = (step: number) =>
    new Map(
      [...params].map(([name, t]) => [name, Float32Array.from({ length: t.size }, (_, i) => Math.sin(i * 0.37 + step) * 0.1)]),
    );
  return {
    params,
    access: {
      get: (name: string) => params.get(name) as Tensor,
      set: (name: string, value: Tensor) => {
        params.set(name, value);
        return value;
      },
    },
    grads,
  };
}

const helper = stepHelper();
afterAll(() => helper.close());

describe("AdamW with a helper thread", () => {
  it("splits the parameters into two halves of about equal size", () => {
    const theirs = helperShare([1000, 3072, 300, 153, 25]);
    const sizes = [1000, 3072, 300, 153, 25];
    const t = [...theirs].reduce((s, i) => s + (sizes[i] as number), 0);
    expect(theirs.size).toBeGreaterThan(0);
    expect(Math.abs(4550 - 2 * t)).toBeLessThanOrEqual(3072); // the largest alone may tip it
    expect(theirs.has(1)).toBe(false); // the largest stays here
  });

  it("makes the single-threaded steps bit for bit, and leaves the caller's arrays alone", () => {
    const one = store(1);
    const two = store(1);
    const a = new AdamW({ weightDecay: 0.1, noDecay1d: true });
    const b = new AdamW({ weightDecay: 0.1, noDecay1d: true, helper, parallelFrom: 0 });
    for (let step = 0; step < 4; step++) {
      const ga = one.grads(step);
      const gb = two.grads(step);
      const before = new Map([...two.params].map(([n, t]) => [n, Float32Array.from(t.data as Float32Array)]));
      const held = new Map([...two.params]);
      const gCopy = new Map([...gb].map(([n, g]) => [n, Float32Array.from(g)]));
      const na = a.step(one.access, ga, 1e-2, 0.5);
      const nb = b.step(two.access, gb, 1e-2, 0.5);
      expect([...nb.keys()]).toEqual([...na.keys()]);
      expect([...nb.values()]).toEqual([...na.values()]);
      for (const [name, t] of one.params) expect(two.params.get(name)?.toArray()).toEqual(t.toArray());
      // the gradients and the tensors the parameters were before the step are unchanged
      for (const [name, g] of gb) expect(g).toEqual(gCopy.get(name));
      for (const [name, t] of held) expect(t.data).toEqual(before.get(name));
    }
    const sa = a.state();
    const sb = b.state();
    expect(sb.step).toBe(sa.step);
    expect(Object.keys(sb.tensors).sort()).toEqual(Object.keys(sa.tensors).sort());
    for (const [k, t] of Object.entries(sa.tensors)) expect(sb.tensors[k]?.toArray()).toEqual(t.toArray());
  });

  it("writes into consumed gradients the same values, on one thread and with the helper", () => {
    for (const [label, opt] of [
      ["one thread", new AdamW({ weightDecay: 0.1 })],
      ["helper", new AdamW({ weightDecay: 0.1, helper, parallelFrom: 0 })],
    ] as const) {
      const s = store(4);
      const r = store(4);
      const fresh = new AdamW({ weightDecay: 0.1 });
      let detached = 0;
      for (let step = 0; step < 3; step++) {
        const g = s.grads(step);
        const norms = opt.step(s.access, g, 1e-2, 0.7, true);
        const want = fresh.step(r.access, r.grads(step), 1e-2, 0.7);
        expect([...norms.entries()], label).toEqual([...want.entries()]);
        for (const [name, t] of r.params) {
          expect(s.params.get(name)?.toArray(), `${label} ${name}`).toEqual(t.toArray());
          // a gradient given up now holds the new values, or traveled to the helper and came back as them
          const given = g.get(name) as Float32Array;
          if (given.length === 0) detached++;
          else expect(Array.from(given), `${label} ${name}`).toEqual(t.toArray());
        }
      }
      if (label === "helper") expect(detached).toBeGreaterThan(0);
      else expect(detached).toBe(0);
      const sa = fresh.state();
      const sb = opt.state();
      for (const [k, t] of Object.entries(sa.tensors)) expect(sb.tensors[k]?.toArray(), label).toEqual(t.toArray());
    }
  });

  it("collects the helper's share when this thread's share fails, so the helper is free and the moments whole", () => {
    const s = store(5);
    const opt = new AdamW({ helper, parallelFrom: 0 });
    // the largest parameter is this thread's (helperShare); its update cannot be set
    const failing = { get: s.access.get, set: (name: string, t: Tensor) => (name === "w.a" ? fail() : s.access.set(name, t)) };
    const fail = (): never => {
      throw new Error("read-only");
    };
    expect(() => opt.step(failing, s.grads(0), 1e-3)).toThrow("read-only");
    // the next step runs (the helper was answered), and every parameter has its moments
    opt.step(s.access, s.grads(1), 1e-3);
    const names = Object.keys(opt.state().tensors).filter((k) => k.startsWith("exp_avg."));
    expect(names.sort()).toEqual(["exp_avg.w.a", "exp_avg.w.b", "exp_avg.w.c", "exp_avg.w.d", "exp_avg.w.e"]);
    for (const t of Object.values(opt.state().tensors)) expect(t.size).toBeGreaterThan(0);
  });

  it("keeps to one thread below parallelFrom", () => {
    let started = 0;
    const counting: StepHelper = {
      start: () => {
        started++;
      },
      finish: () => [],
    };
    const s = store(2);
    new AdamW({ helper: counting }).step(s.access, s.grads(0), 1e-3); // 4,000-odd elements < 4 Mi
    expect(started).toBe(0);
  });

  it("gets the moments back from a helper that fails, and the next step goes on from them", () => {
    const held: { name: string; m: Float32Array; v: Float32Array }[] = [];
    const failing: StepHelper = {
      start: (jobs) => {
        for (const j of jobs) held.push({ name: j.name, m: j.m, v: j.v });
      },
      finish: (): AdamWDone[] => {
        throw Object.assign(new Error("boom"), { moments: held });
      },
    };
    const s = store(3);
    const opt = new AdamW({ helper: failing, parallelFrom: 0 });
    expect(() => opt.step(s.access, s.grads(0), 1e-3)).toThrow("boom");
    const names = new Set(held.map((h) => h.name));
    expect(names.size).toBeGreaterThan(0);
    // the state names every parameter, the helper's among them, with its (returned) moments
    const st = opt.state();
    for (const h of held) expect(st.tensors[`exp_avg.${h.name}`]?.data).toBe(h.m);
  });
});
