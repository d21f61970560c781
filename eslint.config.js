import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['node_modules', '.data', '.scratch', 'infra/kafka/lib', 'bench/results'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  {
    // Command-line entry points and benchmarks talk to a terminal.
    files: [
      'cli/**',
      'bench/**',
      'infra/kafka/src/cli.ts',
      'infra/chdb-server/src/cli.ts',
      'scripts/**',
      '**/scripts/**',
      '**/test/**',
      'test/**',
    ],
    rules: { 'no-console': 'off' },
  },
);
