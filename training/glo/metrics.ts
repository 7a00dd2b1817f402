/**
 * Reconstruction quality in the units people quote: MSE on pixels scaled to [0, 1] and PSNR = 10
 * log10(1 / MSE) dB. Inputs are in the generator's [-1, 1] range.
 */
export function psnrFromMse(mse: number): number {
  return mse <= 0 ? Infinity : 10 * Math.log10(1 / mse);
}

/**
 * Mean PSNR over images (each image's own PSNR, capped at 100 dB, then averaged): the per-image figure
 * the site shows. Also returns the mean MSE. Both in [-1, 1]; predictions are clipped to that range
 * first, as displaying them does (this matters for PCA reconstructions, which can overshoot).
 */
export function meanImageMetrics(predicted: ArrayLike<number>, target: ArrayLike<number>, pixelsPerImage: number) {
  const count = target.length / pixelsPerImage;
  let mse = 0;
  let psnr = 0;
  for (let n = 0; n < count; n++) {
    let s = 0;
    for (let i = n * pixelsPerImage; i < (n + 1) * pixelsPerImage; i++) {
      const p = Math.min(1, Math.max(-1, predicted[i]));
      const d = (p - target[i]) * 0.5;
      s += d * d;
    }
    const m = s / pixelsPerImage;
    mse += m / count;
    psnr += Math.min(psnrFromMse(m), 100) / count;
  }
  return { mse, psnr };
}
