/**
 * Small dense linear algebra in float64 on plain arrays: the d x d and N x k pieces of PCA and of the
 * Gaussian prior. (tfjs has no eigendecomposition or Cholesky; the large products go through tfjs.)
 * Matrices are row-major Float64Array with explicit sizes.
 */

/** Orthonormalizes the columns of a row-major [rows, cols] matrix in place (modified Gram-Schmidt, twice for stability). */
export function orthonormalizeColumns(a: Float64Array, rows: number, cols: number): void {
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < cols; j++) {
      for (let p = 0; p < j; p++) {
        let dot = 0;
        for (let i = 0; i < rows; i++) dot += a[i * cols + j] * a[i * cols + p];
        for (let i = 0; i < rows; i++) a[i * cols + j] -= dot * a[i * cols + p];
      }
      let n = 0;
      for (let i = 0; i < rows; i++) n += a[i * cols + j] ** 2;
      n = Math.sqrt(n);
      // A (numerically) dependent column becomes zero rather than noise.
      for (let i = 0; i < rows; i++) a[i * cols + j] = n > 1e-12 ? a[i * cols + j] / n : 0;
    }
  }
}

/** The product of row-major [rows, inner] and [inner, cols] matrices; zero entries of `a` are skipped (sparse covariances). */
export function multiplyMatrices(a: Float64Array, b: Float64Array, rows: number, inner: number, cols: number): Float64Array<ArrayBuffer> {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let p = 0; p < inner; p++) {
      const aip = a[i * inner + p];
      if (aip === 0) continue;
      for (let j = 0; j < cols; j++) out[i * cols + j] += aip * b[p * cols + j];
    }
  }
  return out;
}

/**
 * Eigendecomposition of a symmetric [n, n] matrix by cyclic Jacobi rotations: accurate to machine
 * precision, simple, and fast enough for the n <= ~600 this project needs. Returns eigenvalues in
 * descending order and the eigenvectors as the COLUMNS of a row-major [n, n] matrix.
 */
export function symmetricEigen(matrix: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let total = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        total += a[i * n + j] ** 2;
        if (i !== j) off += a[i * n + j] ** 2;
      }
    }
    if (off <= 1e-30 * Math.max(total, 1e-300)) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[j * n + j] - a[i * n + i]);
  const values = Float64Array.from(order, (i) => a[i * n + i]);
  const vectors = new Float64Array(n * n);
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) vectors[r * n + c] = v[r * n + order[c]];
  return { values, vectors };
}

/**
 * Lower-triangular L with L L^T = A for a symmetric positive-definite [n, n] matrix. A covariance of
 * codes can be singular (fewer codes than dimensions, or codes on the sphere), so a growing multiple of
 * the mean diagonal is added until the factorization succeeds; the jitter used is returned.
 */
export function cholesky(matrix: Float64Array, n: number): { factor: Float64Array; jitter: number } {
  let meanDiagonal = 0;
  for (let i = 0; i < n; i++) meanDiagonal += matrix[i * n + i] / n;
  // An all-zero covariance (every code the same) has no scale of its own: jitter relative to 1 then.
  const scale = meanDiagonal > 0 ? meanDiagonal : 1;
  for (let attempt = 0; attempt < 12; attempt++) {
    const jitter = attempt === 0 ? 0 : scale * 1e-10 * 10 ** attempt;
    const l = tryCholesky(matrix, n, jitter);
    if (l) return { factor: l, jitter };
  }
  throw new Error('Cholesky factorization failed: the matrix is not positive semi-definite.');
}

function tryCholesky(a: Float64Array, n: number, jitter: number): Float64Array | undefined {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * n + j] + (i === j ? jitter : 0);
      for (let k = 0; k < j; k++) sum -= l[i * n + k] * l[j * n + k];
      if (i === j) {
        if (!(sum > 0)) return undefined;
        l[i * n + i] = Math.sqrt(sum);
      } else {
        l[i * n + j] = sum / l[j * n + j];
      }
    }
  }
  return l;
}
