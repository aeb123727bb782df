import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The bench's own tests (harness logic, not performance): `npx vitest run --config bench/vitest.config.ts`.
// They assert behaviour only, never timing, and are kept out of `npm test`'s include on purpose.
export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['bench/test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
  },
});
