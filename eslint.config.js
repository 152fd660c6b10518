// ESLint (flat config): typescript-eslint's recommended rules everywhere, size limits on production code.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const production = [
  'apps',
  'cli',
  'config',
  'core',
  'datasets',
  'infra',
  'jobs',
  'platform',
  'processors',
  'schemas',
  'serving',
  'state',
  'streams',
];

export default tseslint.config(
  { ignores: ['node_modules/', '.rankstream/', 'dist/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        Buffer: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        performance: 'readonly',
        fetch: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        queueMicrotask: 'readonly',
        structuredClone: 'readonly',
        Response: 'readonly',
        Request: 'readonly',
        Headers: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
  {
    files: production.map((f) => `${f}/**/*.ts`),
    rules: { 'max-lines': ['error', { max: 400 }] },
  },
  {
    files: ['serving/**/*.ts', 'streams/**/*.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 80 }] },
  },
);
