// Shared bits of the board tests (test/arm/*.test.mjs). They run on the
// armv7l Node 20.11 under qemu-arm (scripts/test-arm.sh), so: plain ESM +
// node:test, no vitest, no TypeScript; the library comes from dist/.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const lib = await import(new URL('../../dist/index.js', import.meta.url).href);
/** The binary node-gyp-build picks in this process (PREBUILDS_ONLY=1 under test:arm). */
export const addonPath = createRequire(import.meta.url)('node-gyp-build').path(ROOT);
/** Set by scripts/test-arm.sh: we are the emulated board. */
export const onBoard = process.env.AH_ARM_EXPECT === '1';

export const RATE = 48000;
export const BYTES_PER_FRAME = 4; // S16_LE stereo

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves when `check` holds (polls every 10 ms); rejects after timeoutMs. */
export async function until(check, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Collects a PcmStream's samples and events. */
export function record(pcm) {
  const samples = [];
  const events = [];
  pcm.on('sample', (s) => samples.push(s));
  pcm.on('event', (e) => events.push(e));
  return {
    samples,
    events,
    ofType: (type) => events.filter((e) => e.type === type),
    total: (field) => samples.reduce((sum, s) => sum + s[field], 0),
  };
}

/** ms between two bigint ns stamps */
export const msBetween = (a, b) => Number(b - a) / 1e6;

/** A healthtest plugin device (scripts/test-arm.sh writes its conf). */
let session = 0;
export function pluginDevice(faults) {
  return `healthtest:FAULTS="${faults}",ID="arm${process.pid}-${Date.now()}-${session++}"`;
}
