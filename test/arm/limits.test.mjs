// 32-bit limits of the engine on the board's build. The ring between the
// watcher thread and JS is sized from the options (two sample windows plus
// the device buffer) in 64-bit arithmetic, then passed to RingBuffer as a
// size_t: 32-bit on armhf. Options that are each within range can ask for
// more than the address space (or than the board's 256 MB), or, on armhf,
// a size past 2^32 that size_t truncates.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

import { ROOT } from './helpers.mjs';

/** Runs `code` in a fresh Node of this kind (under qemu-arm when we are emulated). */
function runChild(code) {
  const qemu = process.env.AH_ARM_QEMU; // no binfmt_misc: ARM children need qemu named explicitly
  const [cmd, args] = qemu ? [qemu, [process.execPath]] : [process.execPath, []];
  return spawnSync(cmd, [...args, '--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
}

const HUGE = { device: 'mock:huge', direction: 'capture', rate: 768000, channels: 64, format: 'FLOAT64_LE', sampleIntervalMs: 60000, periodFrames: 1 << 20, bufferPeriods: 1024 };
// Two 58 254 ms windows + a 5 568-frame buffer at 192 kHz, 48 ch S32_LE:
// 22 375 104 frames * 192 B = 2^32 + 1 052 672 bytes. On armhf the size_t
// keeps only the 1 MiB (28 ms of audio) instead of two windows (116 s).
const PAST_2_32 = { device: 'mock:wrap', direction: 'capture', rate: 192000, channels: 48, format: 'S32_LE', sampleIntervalMs: 58254, periodFrames: 48, bufferPeriods: 116 };

const openInChild = (options) =>
  runChild(
    `const { openPcm } = await import('./dist/index.js');
     try { const pcm = await openPcm(${JSON.stringify(options)}); console.log('opened'); await pcm.close(); }
     catch (e) { console.log('rejected', e.constructor.name, e.code ?? '', e.message); }`,
  );
const show = (what, r) =>
  console.log(`[arm] ${what}: exit ${r.status} signal ${r.signal}; stdout ${JSON.stringify(r.stdout.trim())}; stderr ${JSON.stringify(r.stderr.trim().split('\n').slice(0, 2).join(' | '))}`);

test('options whose ring cannot be allocated do not crash the process (no exception escapes the watcher thread)', () => {
  const r = openInChild(HUGE);
  show('huge ring', r);
  assert.equal(r.signal, null, 'the process was killed by a signal');
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^rejected /);
});

test(
  'a ring too big for the board is refused by name (RangeError from the options), not "EBADFD: the PCM is closed"',
  {
    todo:
      'WAITING for native/: watcher.cc OpenAndStart sizes the ring as frames * bytesPerFrame (uint64) and passes it to RingBuffer(size_t) ' +
      'unchecked; an allocation failure now stops the thread and open() rejects with EBADFD. Wanted: options.cc checks the ring bytes ' +
      '(e.g. <= 64 MiB, naming sampleIntervalMs) before any thread starts.',
  },
  () => {
    const r = openInChild(HUGE);
    assert.match(r.stdout, /rejected RangeError .*sampleIntervalMs/);
  },
);

test(
  '32-bit: a ring of 2^32 + 1 MiB bytes is refused, not truncated to 1 MiB by size_t on armhf',
  {
    todo:
      'WAITING for native/: the same unchecked uint64 -> size_t narrowing (watcher.cc OpenAndStart -> RingBuffer); on armhf these ' +
      'options open with a 1 MiB (28 ms) ring instead of two 58 s windows, so JS would lose almost all audio as consumerDropped.',
  },
  () => {
    const r = openInChild(PAST_2_32);
    show('ring 2^32 + 1 MiB', r);
    assert.match(r.stdout, /rejected RangeError/);
  },
);
