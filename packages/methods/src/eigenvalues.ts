// The eigenvalues of a small real matrix, for the copying score of a head's OV circuit (attention.ts): Householder
// reduction to upper Hessenberg form, then the Francis double-shift QR iteration to real Schur form (EISPACK's
// orthes and hqr, as JAMA writes them), in float64. Complex eigenvalues come in conjugate pairs.

/** A dense matrix, rows first. */
export type Matrix = readonly (readonly number[])[];

/** A complex number (an eigenvalue of a real matrix: complex ones come in conjugate pairs). */
export interface Complex {
  readonly re: number;
  readonly im: number;
}

/**
 * The eigenvalues of a real square matrix (complex ones in conjugate pairs): Householder reduction to upper
 * Hessenberg form, then the Francis double-shift QR iteration to real Schur form (EISPACK's orthes and hqr, as
 * JAMA writes them), in float64.
 * @example eigenvalues([[0, -1], [1, 0]]) // [{ re: 0, im: 1 }, { re: 0, im: -1 }]
 */
export function eigenvalues(a: Matrix): Complex[] {
  const n = a.length;
  const H = a.map((row, i) => {
    if (row.length !== n) throw new RangeError(`eigenvalues: row ${i} has ${row.length} entries, expected ${n}`);
    return Float64Array.from(row);
  });
  hessenberg(H);
  return schurEigenvalues(H);
}

/** Reduces H in place to upper Hessenberg form by Householder similarity transforms (zeros below the subdiagonal). */
function hessenberg(H: Float64Array[]): void {
  const n = H.length;
  const at = (i: number, j: number) => (H[i] as Float64Array)[j] as number;
  const set = (i: number, j: number, v: number) => {
    (H[i] as Float64Array)[j] = v;
  };
  const ort = new Float64Array(n);
  for (let m = 1; m < n - 1; m++) {
    let scale = 0;
    for (let i = m; i < n; i++) scale += Math.abs(at(i, m - 1));
    if (scale === 0) continue;
    let h = 0;
    for (let i = n - 1; i >= m; i--) {
      ort[i] = at(i, m - 1) / scale;
      h += (ort[i] as number) ** 2;
    }
    let g = Math.sqrt(h);
    if ((ort[m] as number) > 0) g = -g;
    h -= (ort[m] as number) * g;
    ort[m] = (ort[m] as number) - g;
    // H = (I − u uᵀ/h) H (I − u uᵀ/h)
    for (let j = m; j < n; j++) {
      let f = 0;
      for (let i = n - 1; i >= m; i--) f += (ort[i] as number) * at(i, j);
      f /= h;
      for (let i = m; i < n; i++) set(i, j, at(i, j) - f * (ort[i] as number));
    }
    for (let i = 0; i < n; i++) {
      let f = 0;
      for (let j = n - 1; j >= m; j--) f += (ort[j] as number) * at(i, j);
      f /= h;
      for (let j = m; j < n; j++) set(i, j, at(i, j) - f * (ort[j] as number));
    }
    set(m, m - 1, scale * g);
    for (let i = m + 1; i < n; i++) set(i, m - 1, 0);
  }
}

/** The eigenvalues of an upper Hessenberg matrix by the Francis double-shift QR iteration (H is overwritten). */
function schurEigenvalues(H: Float64Array[]): Complex[] {
  const nn = H.length;
  const at = (i: number, j: number) => (H[i] as Float64Array)[j] as number;
  const set = (i: number, j: number, v: number) => {
    (H[i] as Float64Array)[j] = v;
  };
  const re = new Float64Array(nn);
  const im = new Float64Array(nn);
  const eps = 2 ** -52;
  let norm = 0;
  for (let i = 0; i < nn; i++) for (let j = Math.max(i - 1, 0); j < nn; j++) norm += Math.abs(at(i, j));
  let n = nn - 1;
  let exshift = 0;
  let iter = 0;
  let p = 0;
  let q = 0;
  let r = 0;
  let s = 0;
  let z = 0;
  let w = 0;
  let x = 0;
  let y = 0;
  while (n >= 0) {
    // a negligible subdiagonal entry splits the matrix
    let l = n;
    while (l > 0) {
      s = Math.abs(at(l - 1, l - 1)) + Math.abs(at(l, l));
      if (s === 0) s = norm;
      if (Math.abs(at(l, l - 1)) <= eps * s) break; // ≤: an exactly zero block (s = norm = 0) splits too
      l--;
    }
    if (l === n) {
      // one root
      re[n] = at(n, n) + exshift;
      im[n] = 0;
      n--;
      iter = 0;
    } else if (l === n - 1) {
      // two roots: the trailing 2×2 block's eigenvalues
      w = at(n, n - 1) * at(n - 1, n);
      p = (at(n - 1, n - 1) - at(n, n)) / 2;
      q = p * p + w;
      z = Math.sqrt(Math.abs(q));
      x = at(n, n) + exshift;
      if (q >= 0) {
        z = p >= 0 ? p + z : p - z;
        re[n - 1] = x + z;
        re[n] = z !== 0 ? x - w / z : x + z;
        im[n - 1] = 0;
        im[n] = 0;
      } else {
        re[n - 1] = x + p;
        re[n] = x + p;
        im[n - 1] = z;
        im[n] = -z;
      }
      n -= 2;
      iter = 0;
    } else {
      // the shift: the trailing 2×2 block's eigenvalues (with the exceptional shifts of EISPACK at 10 and 30)
      x = at(n, n);
      y = at(n - 1, n - 1);
      w = at(n, n - 1) * at(n - 1, n);
      if (iter === 10) {
        exshift += x;
        for (let i = 0; i <= n; i++) set(i, i, at(i, i) - x);
        s = Math.abs(at(n, n - 1)) + Math.abs(at(n - 1, n - 2));
        x = 0.75 * s;
        y = x;
        w = -0.4375 * s * s;
      }
      if (iter === 30) {
        s = (y - x) / 2;
        s = s * s + w;
        if (s > 0) {
          s = Math.sqrt(s);
          if (y < x) s = -s;
          s = x - w / ((y - x) / 2 + s);
          for (let i = 0; i <= n; i++) set(i, i, at(i, i) - s);
          exshift += s;
          x = 0.964;
          y = x;
          w = x;
        }
      }
      if (++iter > 100 * nn) throw new Error(`eigenvalues: the QR iteration did not converge (${nn}×${nn})`);
      // two consecutive small subdiagonal entries: start the bulge there
      let m = n - 2;
      for (;;) {
        z = at(m, m);
        r = x - z;
        s = y - z;
        p = (r * s - w) / at(m + 1, m) + at(m, m + 1);
        q = at(m + 1, m + 1) - z - r - s;
        r = at(m + 2, m + 1);
        s = Math.abs(p) + Math.abs(q) + Math.abs(r);
        p /= s;
        q /= s;
        r /= s;
        if (m === l) break;
        if (
          Math.abs(at(m, m - 1)) * (Math.abs(q) + Math.abs(r)) <
          eps * (Math.abs(p) * (Math.abs(at(m - 1, m - 1)) + Math.abs(z) + Math.abs(at(m + 1, m + 1))))
        )
          break;
        m--;
      }
      for (let i = m + 2; i <= n; i++) {
        set(i, i - 2, 0);
        if (i > m + 2) set(i, i - 3, 0);
      }
      // the double QR step on rows l..n and columns m..n, chasing the bulge down
      for (let k = m; k <= n - 1; k++) {
        const notlast = k !== n - 1;
        if (k !== m) {
          p = at(k, k - 1);
          q = at(k + 1, k - 1);
          r = notlast ? at(k + 2, k - 1) : 0;
          x = Math.abs(p) + Math.abs(q) + Math.abs(r);
          if (x === 0) continue;
          p /= x;
          q /= x;
          r /= x;
        }
        s = Math.sqrt(p * p + q * q + r * r);
        if (p < 0) s = -s;
        if (s === 0) continue;
        if (k !== m) set(k, k - 1, -s * x);
        else if (l !== m) set(k, k - 1, -at(k, k - 1));
        p += s;
        x = p / s;
        y = q / s;
        z = r / s;
        q /= p;
        r /= p;
        for (let j = k; j <= n; j++) {
          p = at(k, j) + q * at(k + 1, j);
          if (notlast) {
            p += r * at(k + 2, j);
            set(k + 2, j, at(k + 2, j) - p * z);
          }
          set(k, j, at(k, j) - p * x);
          set(k + 1, j, at(k + 1, j) - p * y);
        }
        for (let i = l; i <= Math.min(n, k + 3); i++) {
          p = x * at(i, k) + y * at(i, k + 1);
          if (notlast) {
            p += z * at(i, k + 2);
            set(i, k + 2, at(i, k + 2) - p * r);
          }
          set(i, k, at(i, k) - p);
          set(i, k + 1, at(i, k + 1) - p * q);
        }
      }
    }
  }
  return Array.from(re, (v, i) => ({ re: v, im: im[i] as number }));
}
