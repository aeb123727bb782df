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
    // Type tests of the public API (expectTypeOf): vitest runs tsc and reports them as tests.
    // Type errors elsewhere are `npm run typecheck`'s job (it runs before the tests).
    typecheck: { enabled: true, include: ['test/types/**/*.test-d.ts'], ignoreSourceErrors: true },
  },
});
