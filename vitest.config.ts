import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Training tests run real (small) GLO steps on the wasm backend: give them room, and run files in
    // separate forks so one file's tfjs backend state cannot leak into another's.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
