// Principal components of many activation vectors, for the projector: the covariance (d × d, float64, from rows
// kept as float32 so 100,000 × d_model fits in memory) and its full eigen-decomposition (Householder, then QL).
// That is O(d³), well under the covariance's O(n·d²) for a hook's d_model of a few hundred, and it gives every
// eigenvalue (the explained variances) to full precision with orthonormal vectors, which power iteration would not
// without deflation's error build-up.
import { checkAborted, type MethodOptions } from "./common.js";

/** The eigenvalues (descending) and unit eigenvectors (vectors[k*d + j]: component k, entry j) of a symmetric matrix. */
export interface SymmetricEigen {
  readonly values: Float64Array;
  readonly vectors: Float64Array;
}

/**
 * Eigen-decomposition of the symmetric d × d matrix `a` (row-major; only read, never changed): Householder
 * reduction to tridiagonal form, then the implicit QL iteration (EISPACK's tred2 and tql2, as JAMA writes them),
 * in float64. O(d³) with a small constant: d = 768 takes seconds where cyclic Jacobi took over a minute.
 * @example symmetricEigen(Float64Array.of(2, 1, 1, 2), 2).values // [3, 1]
 */
export function symmetricEigen(a: Float64Array, n: number, opts: MethodOptions = {}): SymmetricEigen {
  if (a.length !== n * n) throw new RangeError(`symmetricEigen: ${a.length} entries, expected ${n} × ${n}`);
  const V = Float64Array.from(a); // V[i*n + j]
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  tred2(V, d, e, n);
  checkAborted(opts.signal);
  // QL works on columns of V; transposed, each is a contiguous row
  const W = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) W[j * n + i] = V[i * n + j] as number;
  tql2(W, d, e, n);
  opts.onProgress?.({ done: 1, total: 1, what: "eigen-decomposition" });
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => (d[j] as number) - (d[i] as number));
  const values = Float64Array.from(order, (i) => d[i] as number);
  const vectors = new Float64Array(n * n);
  order.forEach((col, k) => {
    // the sign is fixed so that the largest |entry| is positive (reproducible plots)
    let big = 0;
    for (let j = 0; j < n; j++) if (Math.abs(W[col * n + j] as number) > Math.abs(big)) big = W[col * n + j] as number;
    const sign = big < 0 ? -1 : 1;
    for (let j = 0; j < n; j++) vectors[k * n + j] = sign * (W[col * n + j] as number);
  });
  return { values, vectors };
}

/** Householder tridiagonalization of V in place: d the diagonal, e the subdiagonal (e[0] = 0), V the transform. */
function tred2(V: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  const at = (i: number, j: number) => V[i * n + j] as number;
  const set = (i: number, j: number, v: number) => {
    V[i * n + j] = v;
  };
  for (let j = 0; j < n; j++) d[j] = at(n - 1, j);
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k] as number);
    if (scale === 0) {
      e[i] = d[i - 1] as number;
      for (let j = 0; j < i; j++) {
        d[j] = at(i - 1, j);
        set(i, j, 0);
        set(j, i, 0);
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] = (d[k] as number) / scale;
        h += (d[k] as number) ** 2;
      }
      let f = d[i - 1] as number;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j] as number;
        set(j, i, f);
        g = (e[j] as number) + at(j, j) * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += at(k, j) * (d[k] as number);
          e[k] = (e[k] as number) + at(k, j) * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] = (e[j] as number) / h;
        f += (e[j] as number) * (d[j] as number);
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] = (e[j] as number) - hh * (d[j] as number);
      for (let j = 0; j < i; j++) {
        f = d[j] as number;
        g = e[j] as number;
        for (let k = j; k <= i - 1; k++) set(k, j, at(k, j) - (f * (e[k] as number) + g * (d[k] as number)));
        d[j] = at(i - 1, j);
        set(i, j, 0);
      }
    }
    d[i] = h;
  }
  // accumulate the transformations
  for (let i = 0; i < n - 1; i++) {
    set(n - 1, i, at(i, i));
    set(i, i, 1);
    const h = d[i + 1] as number;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = at(k, i + 1) / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += at(k, i + 1) * at(k, j);
        for (let k = 0; k <= i; k++) set(k, j, at(k, j) - g * (d[k] as number));
      }
    }
    for (let k = 0; k <= i; k++) set(k, i + 1, 0);
  }
  for (let j = 0; j < n; j++) {
    d[j] = at(n - 1, j);
    set(n - 1, j, 0);
  }
  set(n - 1, n - 1, 1);
  e[0] = 0;
}

/** The implicit QL iteration on the tridiagonal (d, e); W holds the eigenvectors as rows (W[i*n + k]). */
function tql2(W: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i] as number;
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l] as number) + Math.abs(e[l] as number));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m] as number) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60) throw new Error("symmetricEigen: the QL iteration did not converge");
        let g = d[l] as number;
        let p = ((d[l + 1] as number) - g) / (2 * (e[l] as number));
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = (e[l] as number) / (p + r);
        d[l + 1] = (e[l] as number) * (p + r);
        const dl1 = d[l + 1] as number;
        let h = g - (d[l] as number);
        for (let i = l + 2; i < n; i++) d[i] = (d[i] as number) - h;
        f += h;
        p = d[m] as number;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1] as number;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * (e[i] as number);
          h = c * p;
          r = Math.hypot(p, e[i] as number);
          e[i + 1] = s * r;
          s = (e[i] as number) / r;
          c = p / r;
          p = c * (d[i] as number) - s * g;
          d[i + 1] = h + s * (c * g + s * (d[i] as number));
          const ri = i * n;
          const rj = (i + 1) * n;
          for (let k = 0; k < n; k++) {
            const hk = W[rj + k] as number;
            const vk = W[ri + k] as number;
            W[rj + k] = s * vk + c * hk;
            W[ri + k] = c * vk - s * hk;
          }
        }
        p = (-s * s2 * c3 * el1 * (e[l] as number)) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l] as number) > eps * tst1);
    }
    d[l] = (d[l] as number) + f;
    e[l] = 0;
  }
}

export interface Pca {
  /** the mean row */
  readonly mean: Float64Array;
  /** every eigenvalue of the covariance, descending (variances along the components) */
  readonly variances: Float64Array;
  /** the first `k` components, unit length: components[c*d + j] */
  readonly components: Float64Array;
  /** the rows projected on the first `k` components: coords[i*k + c] */
  readonly coords: Float64Array;
}

/**
 * PCA of `n` rows of length `d` (row-major in `x`): the covariance (÷ n) in float64, its eigen-decomposition, and
 * each row's coordinates on the first `k` components.
 */
export function pca(x: Float32Array | Float64Array, n: number, d: number, k: number, opts: MethodOptions = {}): Pca {
  if (x.length !== n * d) throw new RangeError(`pca: ${x.length} values, expected ${n} rows × ${d}`);
  if (n < 1) throw new RangeError("pca: no rows");
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) + (x[i * d + j] as number);
  for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) / n;
  const cov = new Float64Array(d * d);
  const row = new Float64Array(d);
  const chunk = Math.max(1, Math.floor(4_000_000 / (d * d))); // rows between progress reports (and abort checks)
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = (x[i * d + j] as number) - (mean[j] as number);
    for (let p = 0; p < d; p++) {
      const rp = row[p] as number;
      if (rp === 0) continue;
      const base = p * d;
      for (let q = p; q < d; q++) cov[base + q] = (cov[base + q] as number) + rp * (row[q] as number);
    }
    if ((i + 1) % chunk === 0) {
      checkAborted(opts.signal);
      opts.onProgress?.({ done: i + 1, total: n, what: "covariance rows" });
    }
  }
  for (let p = 0; p < d; p++)
    for (let q = p; q < d; q++) {
      const v = (cov[p * d + q] as number) / n;
      cov[p * d + q] = v;
      cov[q * d + p] = v;
    }
  const eig = symmetricEigen(cov, d, opts);
  const kk = Math.min(k, d);
  const components = eig.vectors.slice(0, kk * d);
  const coords = new Float64Array(n * kk);
  for (let i = 0; i < n; i++)
    for (let c = 0; c < kk; c++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += ((x[i * d + j] as number) - (mean[j] as number)) * (components[c * d + j] as number);
      coords[i * kk + c] = s;
    }
  return { mean, variances: eig.values, components, coords };
}
