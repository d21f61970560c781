import { defineConfig } from 'vitest/config';

// chdb binds one data directory per process: every test file runs in its own forked process.
export default defineConfig({
  test: {
    pool: 'forks',
    include: [
      'packages/*/test/**/*.test.ts',
      'services/*/test/**/*.test.ts',
      'infra/*/test/**/*.test.ts',
      'cli/test/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
