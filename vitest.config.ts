import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Networking suites open real sockets on 127.0.0.1; forks isolate their handles.
    pool: 'forks',
    // The churn suites force collections for their heap and retention checks (test/utils/resources.ts).
    execArgv: ['--expose-gc'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    setupFiles: ['test/setup.ts'],
  },
})
