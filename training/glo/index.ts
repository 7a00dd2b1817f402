// The browser-safe GLO core: the site and the trainer import from here.
export * from './config.ts';
export * from './gaussian.ts';
export * from './generator.ts';
export * from './imle.ts';
export * from './inversion.ts';
export * from './laplacian.ts';
export * from './latent-codec.ts';
export * from './latent-optimizer.ts';
export * from './latent.ts';
export * from './linalg.ts';
export * from './manifest.ts';
export * from './metrics.ts';
export * from './pca.ts';
export * from './pixels.ts';
export * from './random.ts';
export * from './step.ts';
export * from './runs-index.ts';
