import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// npm run test:kernel = vitest run --config test/kernel/vitest.config.ts
// Each test file boots its own QEMU VM (TCG) and runs guest scripts there.
// One file at a time: two TCG guests on a 2-vCPU host would steal each
// other's CPU and distort the timing the tests measure (xrun lengths, rates).
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/kernel/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    poolOptions: { forks: { singleFork: true } },
    testTimeout: 180_000,
    hookTimeout: 300_000,
    reporters: ['verbose'],
  },
});
