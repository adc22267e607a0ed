// Principal components of many activation vectors, for the projector: the covariance (d × d, float64, from rows
// kept as float32 so 100,000 × d_model fits in memory) and its eigen-decomposition by the cyclic Jacobi method.
// Jacobi is O(d³) per sweep and converges in a handful of sweeps; for a hook's d_model of a few hundred that is well
// under the covariance's O(n·d²), and it gives every eigenvalue (the explained variances) to full precision with
// orthonormal vectors, which power iteration would not without deflation's error build-up.
import { checkAborted, type MethodOptions } from "./common.js";

/** The eigenvalues (descending) and unit eigenvectors (vectors[k*d + j]: component k, entry j) of a symmetric matrix. */
export interface SymmetricEigen {
  readonly values: Float64Array;
  readonly vectors: Float64Array;
}

/**
 * Eigen-decomposition of the symmetric d × d matrix `a` (row-major; only read, never changed) by cyclic Jacobi
 * rotations until the off-diagonal mass is below 1e-15 of the total (or 50 sweeps).
 * @example symmetricEigen(Float64Array.of(2, 1, 1, 2), 2).values // [3, 1]
 */
export function symmetricEigen(a: Float64Array, d: number, opts: MethodOptions = {}): SymmetricEigen {
  if (a.length !== d * d) throw new RangeError(`symmetricEigen: ${a.length} entries, expected ${d} × ${d}`);
  const A = Float64Array.from(a);
  const V = new Float64Array(d * d);
  for (let i = 0; i < d; i++) V[i * d + i] = 1;
  let total = 0;
  for (let i = 0; i < d * d; i++) total += (A[i] as number) ** 2;
  for (let sweep = 0; sweep < 50; sweep++) {
    checkAborted(opts.signal);
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += (A[p * d + q] as number) ** 2;
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < d - 1; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = A[p * d + q] as number;
        if (apq === 0) continue;
        const app = A[p * d + p] as number;
        const aqq = A[q * d + q] as number;
        // the rotation that zeroes A[p][q] (Numerical Recipes' jacobi: t = sgn(θ)/(|θ| + √(θ² + 1)))
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          // columns p and q of A
          const akp = A[k * d + p] as number;
          const akq = A[k * d + q] as number;
          A[k * d + p] = c * akp - s * akq;
          A[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          // rows p and q
          const apk = A[p * d + k] as number;
          const aqk = A[q * d + k] as number;
          A[p * d + k] = c * apk - s * aqk;
          A[q * d + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = V[k * d + p] as number;
          const vkq = V[k * d + q] as number;
          V[k * d + p] = c * vkp - s * vkq;
          V[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
    opts.onProgress?.({ done: sweep + 1, total: 50, what: "jacobi sweeps" });
  }
  const order = Array.from({ length: d }, (_, i) => i).sort((i, j) => (A[j * d + j] as number) - (A[i * d + i] as number));
  const values = Float64Array.from(order, (i) => A[i * d + i] as number);
  const vectors = new Float64Array(d * d);
  order.forEach((col, k) => {
    // V's columns are the eigenvectors; the sign is fixed so that the largest |entry| is positive (reproducible plots)
    let big = 0;
    for (let j = 0; j < d; j++) if (Math.abs(V[j * d + col] as number) > Math.abs(big)) big = V[j * d + col] as number;
    const sign = big < 0 ? -1 : 1;
    for (let j = 0; j < d; j++) vectors[k * d + j] = sign * (V[j * d + col] as number);
  });
  return { values, vectors };
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
