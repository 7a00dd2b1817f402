/**
 * Optimizers for the latent table that touch only the rows of the current batch. A dense optimizer over
 * a full-table variable would move every code on every step (Adam's momentum keeps pushing rows that
 * were not in the batch): wrong for GLO, where z_i should change only when image i is seen.
 */
export interface LatentOptimizerState {
  kind: 'sgd' | 'adam';
  /** Adam only: first and second moments [count, dim] and each row's own step count. */
  m?: Float32Array;
  v?: Float32Array;
  rowSteps?: Int32Array;
}

export interface LatentOptimizer {
  /** table[rows[r]] -= step(gradient[r]) for each batch row r; other rows are not read or written. */
  update(table: Float32Array, dim: number, rows: ArrayLike<number>, gradient: Float32Array): void;
  state(): LatentOptimizerState;
}

export function latentSgd(learningRate: number): LatentOptimizer {
  return {
    update(table, dim, rows, gradient) {
      for (let r = 0; r < rows.length; r++) {
        const offset = rows[r] * dim;
        for (let i = 0; i < dim; i++) table[offset + i] -= learningRate * gradient[r * dim + i];
      }
    },
    state: () => ({ kind: 'sgd' }),
  };
}

/**
 * "Lazy" Adam (as TensorFlow's LazyAdamOptimizer for embeddings): moments and bias correction per row,
 * advanced only when the row is in the batch.
 */
export function latentLazyAdam(
  learningRate: number,
  count: number,
  dim: number,
  saved?: LatentOptimizerState,
  beta1 = 0.9,
  beta2 = 0.999,
  epsilon = 1e-8,
): LatentOptimizer {
  const m = saved?.m ?? new Float32Array(count * dim);
  const v = saved?.v ?? new Float32Array(count * dim);
  const rowSteps = saved?.rowSteps ?? new Int32Array(count);
  return {
    update(table, d, rows, gradient) {
      for (let r = 0; r < rows.length; r++) {
        const row = rows[r];
        const t = ++rowSteps[row];
        const c1 = 1 - beta1 ** t;
        const c2 = 1 - beta2 ** t;
        for (let i = 0; i < d; i++) {
          const k = row * d + i;
          const g = gradient[r * d + i];
          m[k] = beta1 * m[k] + (1 - beta1) * g;
          v[k] = beta2 * v[k] + (1 - beta2) * g * g;
          table[k] -= (learningRate * (m[k] / c1)) / (Math.sqrt(v[k] / c2) + epsilon);
        }
      }
    },
    state: () => ({ kind: 'adam', m, v, rowSteps }),
  };
}
