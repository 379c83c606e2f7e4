import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

/**
 * `npm run soak`: the reliability scenarios at the full size (SOAK=1:
 * 500 churn cycles, 60 flaps over a chain with transactions, repeated floods,
 * 5,000 streams, ...). The same files run at a quick size in `npm test`.
 * Settings otherwise as the root vitest.config.ts.
 */
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: [
      'test/reliability/churn*.test.ts',
      'test/reliability/flood*.test.ts',
      'test/reliability/slow*.test.ts',
      'test/reliability/security*.test.ts',
    ],
    env: { SOAK: '1' },
    pool: 'forks',
    // The churn suites force collections for their heap and retention checks (test/utils/resources.ts).
    execArgv: ['--expose-gc'],
    setupFiles: ['test/setup.ts'],
    // One scenario at a time: they measure their own process's memory and resources and load the CPU.
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 300_000,
  },
})
