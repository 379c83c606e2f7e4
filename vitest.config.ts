import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Networking suites open real sockets on 127.0.0.1; forks isolate their handles.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 30_000,
    setupFiles: ['test/setup.ts'],
  },
})
