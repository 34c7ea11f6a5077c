// Threads and fds on the board's build: nothing leaks over open/close cycles,
// one named watcher thread per open PCM.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';

import { lib } from './helpers.mjs';

const fdCount = () => readdirSync('/proc/self/fd').length;
const threadNames = () =>
  readdirSync('/proc/self/task').map((t) => {
    try {
      return readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim();
    } catch {
      return '';
    }
  });

test('200 open/close cycles leave fds and threads as they were', async () => {
  for (let i = 0; i < 5; i++) await (await lib.openPcm({ device: 'mock:warm', direction: 'playback' })).close();
  const fds = fdCount();
  const threads = threadNames().length;
  const t0 = Date.now();
  for (let i = 0; i < 200; i++) {
    const pcm = await lib.openPcm({ device: `mock:cycle${i}`, direction: i % 2 ? 'capture' : 'playback', periodFrames: 48 });
    await pcm.close();
  }
  console.log(`[arm] 200 cycles in ${Date.now() - t0} ms: fds ${fds} -> ${fdCount()}, threads ${threads} -> ${threadNames().length}`);
  assert.equal(fdCount(), fds);
  assert.equal(threadNames().length, threads);
});

test('an open PCM runs one thread named after it, gone after close', async () => {
  const before = threadNames().length;
  const pcm = await lib.openPcm({ device: 'mock:named', direction: 'capture' });
  const names = threadNames();
  await pcm.close();
  assert.equal(names.length, before + 1);
  assert.ok(names.includes('ah:mock:named'), names.join(','));
  assert.equal(threadNames().length, before);
});

test('reopen and close racing each other settle every promise', async () => {
  const pcm = await lib.openPcm({ device: 'mock:race', direction: 'capture' });
  const results = await Promise.allSettled([pcm.reopen(), pcm.reopen(), pcm.reopen(), pcm.close()]);
  assert.equal(results[3].status, 'fulfilled');
  for (const r of results.slice(0, 3)) if (r.status === 'rejected') assert.equal(r.reason.code, 'EBADFD');
});
