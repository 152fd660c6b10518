import { defineConfig } from 'vitest/config';

// Two projects: fast unit tests of the pure core, and integration tests against real Kafka, schema registry,
// Redis and ClickHouse (started by test/setup/services.ts when not already reachable).
export default defineConfig({
  test: {
    reporters: ['default', './test/setup/count-reporter.ts'],
    projects: [
      {
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'] },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/setup/services.ts'],
          setupFiles: ['test/setup/isolated-cleanup.ts'],
          testTimeout: 120_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
