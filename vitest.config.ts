import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default', './scripts/vitest-summary-reporter.ts'],
    include: ['*/test/**/*.test.ts'],
    // Integration tests start real processes (kube-apiserver, etcd, Envoy): give them room on 2 cores.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // One file at a time per worker keeps port and CPU contention predictable on small machines.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
