// Standalone config for the mirror's own tests: no global world build, no container-leak teardown (which would
// remove other suites' containers if they run at the same time). From the repo root:
//   npx vitest run --config test/world/mirror/vitest.config.mts
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: new URL('../../..', import.meta.url).pathname,
  test: {
    include: ['test/world/mirror/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 1_200_000,
    reporters: ['default'],
  },
});
