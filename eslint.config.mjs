// `npm run lint`: ESLint (flat config) with the recommended rules of ESLint and typescript-eslint
// (syntactic only: no type information, so it stays fast), warnings included (--max-warnings 0).
// Formatting is Prettier's (.prettierrc.json, `npm run format:check`), not ESLint's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/', '.train/', 'models/kjv-tiny/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // A leading underscore marks a value kept on purpose (a skipped tuple slot, an unused parameter).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          caughtErrors: 'none',
        },
      ],
    },
  },
  {
    // The library prints nothing; the CLI is where output belongs.
    files: ['lib/**/*.ts'],
    ignores: ['lib/cli/**'],
    rules: { 'no-console': 'error' },
  },
  {
    // Tests stay quiet but for console.warn (a loud skip); a test that reports numbers says so.
    files: ['__tests__/**/*.ts'],
    rules: {
      'no-console': ['error', { allow: ['warn'] }],
      // Tests poke at untyped JSON (model files, traces) and look for control characters (ANSI
      // colours, XML escaping) on purpose.
      '@typescript-eslint/no-explicit-any': 'off',
      'no-control-regex': 'off',
    },
  },
  {
    // The examples are plain CommonJS scripts, as a user would copy them.
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
