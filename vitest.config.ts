import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // better-sqlite3 is a native addon: separate processes keep each file's handles to itself.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
