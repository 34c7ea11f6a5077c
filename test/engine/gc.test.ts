// A closed (or never opened) PcmStream must be collectable: the native handle
// once kept its callback in a persistent reference, a GC root that held the
// stream, its ring and its watcher forever (found by the fault soak as fds
// that never came back).
import { readdirSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect, it } from 'vitest';

import { openPcm, PcmStream } from '../../src/index.js';
import { sleep } from '../helpers/recorder.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const fds = () => readdirSync('/proc/self/fd').length;

it('closed and never-opened streams are garbage-collected; a disconnected mock leaves no fd behind', async () => {
  let collected = 0;
  const registry = new FinalizationRegistry(() => collected++);
  const before = fds();
  const N = 40;
  for (let i = 0; i < N; i++) {
    const pcm = await openPcm({
      device: `mock:gc${i}`,
      direction: i % 2 ? 'capture' : 'playback',
      periodFrames: 480,
      // Disconnected for good: the mock's presence timer is armed when the stream closes.
      mock: { faults: [{ at: 10, type: 'disconnect', durationMs: 100_000 }] },
    });
    await sleep(30);
    await pcm.close();
    registry.register(pcm, i);
  }
  const afterClose = fds();
  for (let i = 0; i < N; i++) registry.register(new PcmStream({ device: 'mock:never', direction: 'capture' }), i);
  for (let i = 0; i < 20 && collected < 2 * N - 1; i++) {
    gc();
    await sleep(20);
  }
  console.log(`[gc] ${collected} of ${2 * N} streams collected; fds ${before} -> ${afterClose} after close -> ${fds()} after GC`);
  expect(afterClose).toBe(before); // fds go with the thread, not with GC
  // All but possibly the last one, which the loop's scope may still hold.
  expect(collected).toBeGreaterThanOrEqual(2 * N - 1);
});
