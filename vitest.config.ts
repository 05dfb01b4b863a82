import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Backends set up before the run (scripts/backends.sh where needed), leak check after it.
    globalSetup: ['test/global-setup.ts'],
    setupFiles: ['test/setup-worker.ts'],
  },
});
