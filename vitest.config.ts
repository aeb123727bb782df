import { defineConfig } from 'vitest/config';

// Each test file runs in its own forked process: SharedArrayBuffers, Workers and child
// processes stay isolated, and a test that kills a worker cannot take the runner down.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    reporters: ['default'],
  },
});
