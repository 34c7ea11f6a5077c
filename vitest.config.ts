import { defineConfig } from 'vitest/config';

// Each test file runs in its own child process: the native addon owns
// threads and ALSA state, and a crash must not take the whole run down.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    exclude: ['test/kernel/**', 'test/systemd/**', 'node_modules/**', 'dist/**'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
