import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests share one Docker engine and one machine of 2 cores: files run one after another,
    // so timing-sensitive container tests don't starve each other.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 600_000,
    globalSetup: ['test/world/global-setup.ts'],
    reporters: ['default'],
  },
});
