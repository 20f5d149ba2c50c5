import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'tmp/**', '.quotaclock-demo/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  {
    // A function longer than a screenful hides parts that deserve a name (issue #13).
    files: ['src/**/*.ts'],
    rules: {
      'max-lines-per-function': ['error', { max: 100, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    // The core decides; it must not reach for I/O.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['node:*', 'fs', 'path', 'better-sqlite3', 'pg', '../store/*', '../jobs/*'] },
      ],
    },
  },
  {
    // The client is bundled into apps and edge functions: fetch only, nothing else from src/.
    files: ['src/client/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: builtinModules, patterns: ['node:*', '../*'] }],
    },
  },
);
