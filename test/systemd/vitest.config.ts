import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// vitest run --config test/systemd/vitest.config.ts
// One QEMU VM (TCG) with systemd as PID 1; see test/systemd/README.md.
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/systemd/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 480_000,
    hookTimeout: 300_000,
    reporters: ['verbose'],
  },
});
