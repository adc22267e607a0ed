// The attention method's pure helpers against answers known without them: rollout and flow on hand-computed
// examples, flow against a brute-force minimum cut, and the eigenvalue solver against matrices whose eigenvalues
// are known (diagonal, triangular, defective, rotations, companion matrices of known roots, Jacobi's method on
// symmetric matrices, power iteration, trace and determinant).
import { describe, expect, it } from "vitest";
import { attentionFlow, type Complex, eigenvalues, type Matrix, maxFlow, rng, rollout } from "../src/index.js";

describe("rollout and flow", () => {
  it("rollout and flow on hand-computed examples", () => {
    const A = [
      [1, 0],
      [0.5, 0.5],
    ];
    // one layer: Ã = 0.5·A + 0.5·I = [[1, 0], [0.25, 0.75]]; two: Ã² = [[1, 0], [0.4375, 0.5625]]
    expect(rollout([A])).toEqual([
      [1, 0],
      [0.25, 0.75],
    ]);
    expect(rollout([A, A])).toEqual([
      [1, 0],
      [0.4375, 0.5625],
    ]);
    expect(attentionFlow([A])).toEqual([0.25, 0.75]);
    // two layers: from position 0, the paths 0→0→1 (min(1, 0.25)) and 0→1→1 (min(0.25, 0.75)) share no edge: 0.5;
    // from position 1 only 1→1→1 (0.75) — flow is not rollout (0.4375, 0.5625)
    expect(attentionFlow([A, A]).map((x) => Math.round(x * 1e12) / 1e12)).toEqual([0.5, 0.75]);
    expect(rollout([A], 0)).toEqual(A);
    expect(attentionFlow([A], 0.5, 0)).toEqual([1, 0]);
    // CLRS's network (figure 26.1): maximum flow 23
    const clrs = [
      [0, 1, 16],
      [0, 2, 13],
      [1, 3, 12],
      [2, 1, 4],
      [2, 4, 14],
      [3, 2, 9],
      [3, 5, 20],
      [4, 3, 7],
      [4, 5, 4],
    ].map(([from, to, capacity]) => ({ from: from as number, to: to as number, capacity: capacity as number }));
    expect(maxFlow(6, clrs, 0, 5)).toBe(23);
  });

  it("flow equals the minimum cut, found by brute force, on random layered attention graphs", () => {
    const rand = rng(4);
    for (let trial = 0; trial < 6; trial++) {
      const n = 3;
      const L = 3;
      const layers = Array.from({ length: L }, () =>
        Array.from({ length: n }, (_, q) => {
          const row = Array.from({ length: n }, (_, k) => (k <= q ? rand() + 0.05 : 0));
          const s = row.reduce((a, b) => a + b);
          return row.map((x) => x / s);
        }),
      );
      const flow = attentionFlow(layers);
      // the same graph, built here: capacities 0.5·A + 0.5·I (rows already sum to 1)
      const edges: { from: number; to: number; capacity: number }[] = [];
      layers.forEach((A, l) => {
        A.forEach((row, i) => {
          row.forEach((a, j) => {
            const c = 0.5 * a + (i === j ? 0.5 : 0);
            if (c > 0) edges.push({ from: l * n + j, to: (l + 1) * n + i, capacity: c });
          });
        });
      });
      const V = (L + 1) * n;
      const t = L * n + n - 1;
      for (let s = 0; s < n; s++) {
        // every cut: the source's side is s plus a subset of the other nodes (not t)
        const free = Array.from({ length: V }, (_, v) => v).filter((v) => v !== s && v !== t);
        let minCut = Number.POSITIVE_INFINITY;
        for (let bits = 0; bits < 2 ** free.length; bits++) {
          const side = new Set([s, ...free.filter((_, i) => (bits >> i) & 1)]);
          const cut = edges.filter((e) => side.has(e.from) && !side.has(e.to)).reduce((a, e) => a + e.capacity, 0);
          minCut = Math.min(minCut, cut);
        }
        expect(flow[s]).toBeLessThanOrEqual(minCut + 1e-12);
        expect(flow[s]).toBeCloseTo(minCut, 12);
        expect(maxFlow(V, edges, s, t)).toBeCloseTo(minCut, 12);
      }
    }
  });
});

// ——— eigenvalues ———

/** Sorted by real part (to 1e-6, so that rounding does not reorder a conjugate pair), then imaginary part. */
const byValue = (xs: readonly Complex[]) =>
  [...xs].sort((a, b) => Math.round(a.re * 1e6) - Math.round(b.re * 1e6) || a.im - b.im);
function expectSpectrum(got: readonly Complex[], want: readonly Complex[], tol: number): void {
  expect(got).toHaveLength(want.length);
  const g = byValue(got);
  byValue(want).forEach((w, i) => {
    expect(Math.abs((g[i]?.re as number) - w.re)).toBeLessThan(tol);
    expect(Math.abs((g[i]?.im as number) - w.im)).toBeLessThan(tol);
  });
}

/** Symmetric eigenvalues by cyclic Jacobi rotations: an independent method. */
function jacobi(a: Matrix): number[] {
  const n = a.length;
  const A = a.map((r) => [...r]);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += (A[p]?.[q] as number) ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = A[p]?.[q] as number;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = ((A[q]?.[q] as number) - (A[p]?.[p] as number)) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k]?.[p] as number;
          const akq = A[k]?.[q] as number;
          (A[k] as number[])[p] = c * akp - s * akq;
          (A[k] as number[])[q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p]?.[k] as number;
          const aqk = A[q]?.[k] as number;
          (A[p] as number[])[k] = c * apk - s * aqk;
          (A[q] as number[])[k] = s * apk + c * aqk;
        }
      }
  }
  return A.map((r, i) => r[i] as number);
}

describe("eigenvalues", () => {
  const real = (xs: number[]) => xs.map((re) => ({ re, im: 0 }));

  it("diagonal, triangular, defective and rotation matrices", () => {
    expectSpectrum(
      eigenvalues([
        [3, 0, 0],
        [0, -1, 0],
        [0, 0, 2],
      ]),
      real([3, -1, 2]),
      1e-14,
    );
    expectSpectrum(
      eigenvalues([
        [1, 5, 7],
        [0, 4, 2],
        [0, 0, -3],
      ]),
      real([1, 4, -3]),
      1e-12,
    );
    expectSpectrum(
      eigenvalues([
        [2, 1],
        [0, 2],
      ]),
      real([2, 2]),
      1e-12,
    );
    const th = 0.7;
    expectSpectrum(
      eigenvalues([
        [Math.cos(th), -Math.sin(th)],
        [Math.sin(th), Math.cos(th)],
      ]),
      [
        { re: Math.cos(th), im: -Math.sin(th) },
        { re: Math.cos(th), im: Math.sin(th) },
      ],
      1e-14,
    );
    expect(eigenvalues([])).toEqual([]);
    expect(eigenvalues([[4]])).toEqual([{ re: 4, im: 0 }]);
    expectSpectrum(eigenvalues(Array.from({ length: 5 }, () => new Array(5).fill(0))), real([0, 0, 0, 0, 0]), 1e-300);
  });

  it("the roots of a characteristic polynomial: a companion matrix, complex pairs included", () => {
    // (x − 1)(x + 2)(x − 3)(x² − 2x + 5)(x² + 1): roots 1, −2, 3, 1 ± 2i, ±i
    const roots = [...real([1, -2, 3]), { re: 1, im: 2 }, { re: 1, im: -2 }, { re: 0, im: 1 }, { re: 0, im: -1 }];
    let poly: Complex[] = [{ re: 1, im: 0 }]; // coefficients, highest degree first
    for (const r of roots)
      poly = [...poly, { re: 0, im: 0 }].map((c, i) => {
        const prev = poly[i - 1] ?? { re: 0, im: 0 };
        return { re: c.re - (prev.re * r.re - prev.im * r.im), im: c.im - (prev.re * r.im + prev.im * r.re) };
      });
    const n = roots.length;
    const companion = Array.from({ length: n }, (_, i) =>
      Array.from({ length: n }, (_, j) => (i === 0 ? -(poly[j + 1]?.re as number) : i === j + 1 ? 1 : 0)),
    );
    expectSpectrum(eigenvalues(companion), roots, 1e-9);
  });

  it("random symmetric matrices: Jacobi's eigenvalues, and power iteration's largest", () => {
    const rand = rng(9);
    for (const n of [2, 5, 8, 16]) {
      const B = Array.from({ length: n }, () => Array.from({ length: n }, () => rand() - 0.5));
      const S = B.map((row, i) => row.map((x, j) => x + (B[j]?.[i] as number)));
      const got = eigenvalues(S);
      expectSpectrum(got, real(jacobi(S)), 1e-10);
      // power iteration on S + c·I (all eigenvalues shifted positive): the largest
      const c = 2 * n;
      let v = Array.from({ length: n }, () => 1);
      let lambda = 0;
      for (let it = 0; it < 5000; it++) {
        const w = S.map((row, i) => row.reduce((s, x, j) => s + x * (v[j] as number), 0) + c * (v[i] as number));
        lambda = Math.hypot(...w);
        v = w.map((x) => x / lambda);
      }
      expect(Math.max(...got.map((e) => e.re))).toBeCloseTo(lambda - c, 6);
    }
  });

  it("random nonsymmetric matrices: Σλ is the trace and Πλ the determinant", () => {
    const rand = rng(10);
    for (const n of [3, 7, 12, 40]) {
      const A = Array.from({ length: n }, () => Array.from({ length: n }, () => rand() * 2 - 1));
      const ev = eigenvalues(A);
      const trace = A.reduce((s, row, i) => s + (row[i] as number), 0);
      expect(ev.reduce((s, e) => s + e.re, 0)).toBeCloseTo(trace, 9);
      expect(Math.abs(ev.reduce((s, e) => s + e.im, 0))).toBeLessThan(1e-9);
      // the product, in log magnitude, against Gaussian elimination with partial pivoting
      const M = A.map((r) => [...r]);
      let logDet = 0;
      for (let k = 0; k < n; k++) {
        let piv = k;
        for (let i = k + 1; i < n; i++) if (Math.abs(M[i]?.[k] as number) > Math.abs(M[piv]?.[k] as number)) piv = i;
        [M[k], M[piv]] = [M[piv] as number[], M[k] as number[]];
        const d = M[k]?.[k] as number;
        logDet += Math.log(Math.abs(d));
        for (let i = k + 1; i < n; i++) {
          const f = (M[i]?.[k] as number) / d;
          for (let j = k; j < n; j++) (M[i] as number[])[j] = (M[i]?.[j] as number) - f * (M[k]?.[j] as number);
        }
      }
      const logProd = ev.reduce((s, e) => s + Math.log(Math.hypot(e.re, e.im)), 0);
      expect(logProd).toBeCloseTo(logDet, 8);
      // complex eigenvalues come in conjugate pairs
      const ims = ev.map((e) => e.im).filter((x) => x !== 0);
      expect(ims.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 9);
    }
  });
});
