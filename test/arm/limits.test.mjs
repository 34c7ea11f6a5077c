// 32-bit limits of the engine on the board's build. The ring between the
// watcher thread and JS is sized from the options (two sample windows plus
// the device buffer); options that are each within range can ask for more
// than the address space, or, on armhf, for a size past 2^32 that a size_t
// would truncate. Since 0f9d487 options.cc checks the product in 64 bits and
// refuses a ring past 64 MiB by name (before: an abort from std::bad_alloc on
// the watcher thread, and a silently truncated ring on armhf).
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

test('a ring no machine can hold: refused by name (RangeError), and never an abort of the process', () => {
  const r = openInChild(HUGE);
  show('huge ring', r);
  assert.equal(r.signal, null, 'the process was killed by a signal');
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^rejected RangeError .*the audio ring for these settings needs 596941733888 bytes.*sampleIntervalMs/);
});

test('32-bit: a ring of 2^32 + 1 MiB is refused with its full 64-bit size, not truncated to 1 MiB by size_t', () => {
  const r = openInChild(PAST_2_32);
  show('ring 2^32 + 1 MiB', r);
  assert.equal(r.signal, null);
  assert.match(r.stdout, /^rejected RangeError .*needs 4296019968 bytes/);
});

test("the board's largest window (sampleIntervalMs 60000 at 48 kHz S16_LE stereo: a 22 MiB ring) opens and streams on armhf", async () => {
  const { lib, record, until } = await import('./helpers.mjs');
  const pcm = await lib.openPcm({ device: 'mock:bigwindow', direction: 'capture', sampleIntervalMs: 60000 });
  const rec = record(pcm);
  let bytes = 0;
  pcm.audio.on('data', (c) => (bytes += c.length));
  await until(() => bytes > 0 || rec.samples.length > 0, 3000, 'audio').catch(() => {});
  await pcm.close();
  const frames = rec.total('frames');
  console.log(`[arm] sampleIntervalMs 60000: ${frames} frames in the closing window, ${bytes} bytes reached JS`);
  assert.ok(frames > 0);
  assert.equal(rec.total('xruns'), 0);
});
