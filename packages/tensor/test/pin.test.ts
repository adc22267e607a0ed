// Pinned tensors (weights resident in the onnxruntime worker) against the same computation on ordinary
// tensors: matmul results bit-identical in every form, reading `data` brings the values back, gathers from a
// resident table and their gradients, frees on dispose and on garbage collection, and `pin` inert on `ref`.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planMatmul } from "../src/kernels/matmul.js";
import type { Tensor } from "../src/node.js";
import * as T from "../src/node.js";
import type { Remote } from "../src/tensor.js";
import { gradcheck } from "./gradcheck.js";

let ort: T.OrtBackend;

beforeAll(() => {
  const be = T.useBackend("ort");
  expect(be.name).toBe("ort");
  ort = be as T.OrtBackend;
  ort.minMacs = 0; // every product goes to onnxruntime, so small operands are pinned too
});

afterAll(() => {
  ort.minMacs = 32 * 1024;
  T.useBackend("ref");
});

/** A separate copy (own storage), so pinning it leaves the original local. */
const copy = (t: Tensor): Tensor => T.tensor(t.toArray(), t.shape, t.dtype);
const resident = (t: Tensor): boolean => t.store.remote !== null;

function expectSameBits(a: Tensor, b: Tensor): void {
  expect(a.shape).toEqual(b.shape);
  expect(a.dtype).toBe(b.dtype);
  const x = new Uint8Array(a.data.slice().buffer);
  const y = new Uint8Array(b.data.slice().buffer);
  expect(Buffer.compare(x, y)).toBe(0);
}

const matmulCases: [string, number[], number[], boolean, boolean][] = [
  ["2-d", [7, 13], [13, 5], false, false],
  ["transA", [13, 7], [13, 5], true, false],
  ["transB", [7, 13], [5, 13], false, true],
  ["both transposed", [13, 7], [5, 13], true, true],
  ["batched", [3, 7, 13], [3, 13, 5], false, false],
  ["batch broadcast", [2, 1, 7, 13], [3, 13, 5], false, false],
  ["shared weight", [2, 9, 16], [16, 11], false, false],
  ["shared weight, transB", [2, 9, 16], [11, 16], false, true],
  ["attention-shaped, transB", [2, 4, 16, 8], [2, 4, 16, 8], false, true],
];

describe.each(["f32", "f64"] as const)("pinned matmul operands (%s)", (dtype) => {
  for (const [name, sa, sb, tA, tB] of matmulCases) {
    it(`${name}: bit-identical with b, a or both pinned`, () => {
      const a = T.randn(sa, 1, dtype);
      const b = T.randn(sb, 2, dtype);
      const opts = { transA: tA, transB: tB };
      const want = T.matmul(a, b, opts);
      const pa = T.pin(copy(a));
      const pb = T.pin(copy(b));
      // the first call moves the pinned buffer into the worker, the second sends only its id
      for (let i = 0; i < 2; i++) {
        expectSameBits(T.matmul(a, pb, opts), want);
        expect(resident(pb)).toBe(true);
        expectSameBits(T.matmul(pa, b, opts), want);
        expect(resident(pa)).toBe(true);
        expectSameBits(T.matmul(pa, pb, opts), want);
      }
      // and the operands themselves are untouched
      expectSameBits(pa, a);
      expectSameBits(pb, b);
    });
  }
});

describe("reading a pinned tensor", () => {
  it("data returns the original values; the tensor keeps working and moves back at its next matmul", () => {
    const w = T.randn([16, 24], 3);
    const orig = w.toArray();
    const x = T.randn([4, 16], 4);
    const want = T.matmul(x, w).toArray();
    T.pin(w);
    expect(resident(w)).toBe(false); // pinning alone moves nothing
    T.matmul(x, w);
    expect(resident(w)).toBe(true);
    const fetches = ort.stats.fetches;
    expect(w.toArray()).toEqual(orig);
    expect(resident(w)).toBe(false);
    expect(ort.stats.fetches).toBe(fetches + 1);
    expect(T.matmul(x, w).toArray()).toEqual(want);
    expect(resident(w)).toBe(true);
    expect(T.sum(w).item()).toBeCloseTo(
      orig.reduce((p, v) => p + v, 0),
      3,
    );
  });

  it("edits through data reach the worker copy", () => {
    const w = T.pin(T.randn([8, 8], 5));
    const x = T.randn([3, 8], 6);
    T.matmul(x, w);
    expect(resident(w)).toBe(true);
    w.data.fill(0); // fetches, then writes the local buffer
    expect(
      T.matmul(x, w)
        .toArray()
        .every((v) => v === 0),
    ).toBe(true);
    expect(resident(w)).toBe(true);
  });

  it("views share the resident buffer; a product too small for onnxruntime brings it back and runs on ref", () => {
    const w = T.pin(T.randn([6, 10], 7));
    const view = T.reshape(w, [10, 6]);
    const x = T.randn([2, 6], 8);
    T.matmul(x, w);
    expect(resident(view)).toBe(true);
    T.useBackend("ref");
    const want = T.matmul(x, copy(w)).toArray();
    T.useBackend("ort");
    ort.minMacs = 1e9;
    try {
      // the kernel is chosen by shape alone, wherever the buffer is, so results never depend on history
      expect(T.matmul(x, w).toArray()).toEqual(want);
      expect(resident(w)).toBe(false);
    } finally {
      ort.minMacs = 0;
    }
    expect(view.toArray()).toEqual(copy(w).toArray());
  });

  it("a pinned buffer under minMacs elements is never kept (any product with it may run on ref)", () => {
    const w = T.pin(T.randn([8, 8], 23));
    ort.minMacs = 65;
    try {
      T.matmul(T.randn([2, 8], 24), w); // 128 multiply-adds: onnxruntime, but w stays here
      expect(resident(w)).toBe(false);
    } finally {
      ort.minMacs = 0;
    }
  });

  it("unpin brings the buffer back and keeps it here", () => {
    const w = T.pin(T.randn([8, 8], 9));
    const x = T.randn([3, 8], 10);
    T.matmul(x, w);
    expect(resident(w)).toBe(true);
    T.unpin(w);
    expect(resident(w)).toBe(false);
    T.matmul(x, w);
    expect(resident(w)).toBe(false);
  });
});

describe("gather from a pinned table", () => {
  it("equals gather from a local table (axis 0 and 1, batched indices) without fetching the table", () => {
    const table = T.randn([50, 12], 11);
    const ids = T.tensor([3, 0, 49, 3, 17, 8], [2, 3], "i32"); // [batch, pos]
    const cols = T.tensor([11, 0, 5], [3], "i32");
    const want0 = T.gather(table, ids, 0); // [batch, pos, d]
    const want1 = T.gather(table, cols, 1); // [rows, 3]
    const p = T.pin(copy(table));
    T.matmul(T.randn([1, 12], 12), p, { transB: true }); // the unembedding moves it
    expect(resident(p)).toBe(true);
    const { fetches, gathers } = ort.stats;
    expectSameBits(T.gather(p, ids, 0), want0);
    expectSameBits(T.gather(p, cols, 1), want1);
    expect(ort.stats.gathers).toBe(gathers + 2);
    expect(ort.stats.fetches).toBe(fetches);
    expect(resident(p)).toBe(true);
    expect(() => T.gather(p, T.tensor([50], [1], "i32"), 0)).toThrow(/out of range/);
  });

  it("gradients of a tied embedding (gather + unembedding) match the unpinned ones and finite differences", () => {
    const f = (w: Tensor, x: Tensor) => {
      const ids = T.tensor([2, 5, 2, 0], [1, 4], "i32");
      const h = T.add(T.gather(w, ids, 0), x); // [batch, pos, d]
      return T.sum(T.tanh(T.matmul(h, w, { transB: true }))); // logits [batch, pos, vocab]
    };
    const w = T.randn([6, 5], 13, "f64");
    const x = T.randn([1, 4, 5], 14, "f64");
    const want = T.grad(f)(w, x);
    const pw = T.pin(copy(w));
    T.matmul(T.randn([1, 5], 15, "f64"), pw, { transB: true });
    expect(resident(pw)).toBe(true);
    const got = T.grad(f)(pw, x);
    expectSameBits(got[0] as Tensor, want[0] as Tensor);
    expectSameBits(got[1] as Tensor, want[1] as Tensor);
    const r = gradcheck(f, [pw, x]);
    console.log(`pinned tied embedding gradcheck: rel err ${r.relErr.toExponential(2)}`);
    expect(r.relErr).toBeLessThan(1e-8); // measured 3.3e-10, as the primitive checks (grad.test.ts)
  });
});

describe("lifetime of resident buffers", () => {
  it("dispose of the last view frees the worker buffer", () => {
    // by id: a collection may free buffers of earlier tests meanwhile, so counts would be fragile
    const w = T.pin(T.randn([32, 16], 16));
    const view = T.reshape(w, [16, 32]);
    T.matmul(T.randn([2, 32], 17), w);
    const id = (w.store.remote as Remote).id;
    const held = () => ort.resident().ids.includes(id);
    expect(held()).toBe(true);
    w.dispose();
    expect(held()).toBe(true); // the reshape still views it
    expect(view.toArray().length).toBe(512); // and reads it (which brings it back)
    expect(held()).toBe(false);
    T.matmul(T.randn([2, 16], 18), view);
    const id2 = (view.store.remote as Remote).id;
    const bytes = ort.resident().bytes;
    view.dispose();
    expect(ort.resident().ids).not.toContain(id2);
    expect(bytes - ort.resident().bytes).toBeGreaterThanOrEqual(32 * 16 * 4);
    expect(() => view.data).toThrow(/disposed/);
  });

  it("a pinned tensor dropped without dispose is freed in the worker after garbage collection", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const id = (() => {
      const w = T.pin(T.randn([64, 64], 19));
      T.matmul(T.randn([2, 64], 20), w);
      return (w.store.remote as Remote).id;
    })();
    expect(ort.resident().ids).toContain(id);
    let held = true;
    for (let i = 0; i < 100 && held; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10)); // finalizers run in a later task
      held = ort.resident().ids.includes(id);
    }
    expect(held).toBe(false);
  });
});

describe("a second ort backend", () => {
  it("takes a buffer resident in the other worker; close brings its resident buffers back", async () => {
    const other = new T.OrtBackend({ threads: 1, minMacs: 0 });
    const x = T.randn([3, 16], 25);
    const w = T.pin(T.randn([16, 8], 26));
    const orig = w.toArray();
    const want = T.matmul(x, copy(w));
    const plan = planMatmul(x.shape, w.shape, false, false);
    expectSameBits(other.matmul(x, w, false, false, plan), want);
    expect(w.store.remote?.home).toBe(other);
    expectSameBits(T.matmul(x, w), want); // the shared backend fetches it from `other` first
    expect(w.store.remote?.home).toBe(ort);
    other.matmul(x, w, false, false, plan);
    expect(w.store.remote?.home).toBe(other);
    await other.close();
    expect(resident(w)).toBe(false);
    expect(w.toArray()).toEqual(orig);
    expect(() => other.matmul(x, w, false, false, plan)).toThrow(/closed/);
  });
});

describe("pin on the ref backend", () => {
  it("is a no-op: nothing moves and results are unchanged", () => {
    T.useBackend("ref");
    try {
      const x = T.randn([3, 8], 21);
      const w = T.randn([8, 4], 22);
      const want = T.matmul(x, w).toArray();
      T.pin(w);
      expect(T.matmul(x, w).toArray()).toEqual(want);
      expect(resident(w)).toBe(false);
      expect(T.gather(w, T.tensor([1, 7], [2], "i32"), 0).toArray()).toEqual([
        ...w.toArray().slice(4, 8),
        ...w.toArray().slice(28, 32),
      ]);
    } finally {
      T.useBackend("ort");
    }
  });
});
