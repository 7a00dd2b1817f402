// Lint runs inside `npm test`. typescript-eslint's recommended rules, plus the one boundary the design
// cares about most: the GLO core (training/glo) must stay browser-safe, so it may not import node:*.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['.tmp/**', '**/*.scratch.*', 'node_modules/**', 'runs/**', 'dist/**', 'site/dist/**', 'site/.astro/**', 'cdk.out/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['training/glo/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'path', 'os', 'sharp', '@aws-sdk/*', '@tensorflow/tfjs-node*', '@tensorflow/tfjs-backend-*'],
            message: 'training/glo is browser-safe: only @tensorflow/tfjs-core, @tensorflow/tfjs-layers and zod.' },
        ],
      }],
    },
  },
  {
    files: ['bin/**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
