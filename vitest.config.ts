import { defineConfig } from 'vitest/config';

/**
 * Two projects (README "Development: tests"):
 *  - unit:  test/**\/*.unit.test.ts — no Docker engine, no test world (pure code, and the built CLI on its own);
 *  - world: every other test/**\/*.test.ts — the engine and the offline test world (built or checked first), and a
 *           leak check after the run.
 * `npm run test:unit` / `npm run test:world` run one; `npm test` runs both, unit first.
 */
const UNIT = 'test/**/*.unit.test.ts';

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 600_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: [UNIT],
          // Some unit tests run the built CLI: dist/ is rebuilt first when a source is newer.
          globalSetup: ['test/support/unit-setup.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'world',
          include: ['test/**/*.test.ts'],
          exclude: [UNIT, '**/node_modules/**'],
          // Tests share one Docker engine and one machine of 2 cores: files run one after another,
          // so timing-sensitive container tests don't starve each other.
          fileParallelism: false,
          globalSetup: ['test/world/global-setup.ts'],
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
