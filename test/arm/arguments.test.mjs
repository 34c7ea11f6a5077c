// Bad arguments are TypeError / RangeError naming the option, on the board's
// build too (32-bit: option ranges, 2^53 limits, integer checks).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { lib } from './helpers.mjs';

const base = { device: 'mock:args', direction: 'capture' };
const cases = [
  ['options not an object', 42, TypeError, /options must be an object, got 42/],
  ['device missing', { direction: 'capture' }, TypeError, /options\.device must be a string, got undefined/],
  ['device empty', { ...base, device: '' }, RangeError, /options\.device must be a non-empty ALSA PCM name/],
  ['direction wrong', { ...base, direction: 'sideways' }, RangeError, /options\.direction must be "capture" or "playback"/],
  ['rate 0', { ...base, rate: 0 }, RangeError, /options\.rate must be between 1000 and 768000, got 0/],
  ['rate 2^32 + 48000 (no 32-bit wrap to 48000)', { ...base, rate: 2 ** 32 + 48000 }, RangeError, /options\.rate must be between 1000 and 768000/],
  ['rate fractional', { ...base, rate: 44100.5 }, RangeError, /options\.rate must be an integer/],
  ['channels 0', { ...base, channels: 0 }, RangeError, /options\.channels must be between 1 and 64/],
  ['unknown format', { ...base, format: 'S17_XX' }, RangeError, /options\.format "S17_XX" is not a known linear or float PCM format/],
  ['periodFrames 2^32 + 960', { ...base, periodFrames: 2 ** 32 + 960 }, RangeError, /options\.periodFrames must be between 16 and 1048576/],
  ['bufferPeriods 1', { ...base, bufferPeriods: 1 }, RangeError, /options\.bufferPeriods must be between 2 and 1024/],
  ['sampleIntervalMs huge', { ...base, sampleIntervalMs: 1e12 }, RangeError, /options\.sampleIntervalMs must be between 10 and 60000/],
  ['mock on a real device', { device: 'hw:0,0', direction: 'capture', mock: { faults: [] } }, TypeError, /options\.mock is only for mock:<name> devices/],
  ['fault type unknown', { ...base, mock: { faults: [{ at: 1, type: 'explode' }] } }, RangeError, /faults\[0\]\.type "explode" is not one of/],
  ['fault errno unknown', { ...base, mock: { faults: [{ at: 1, type: 'openFail', count: 1, errno: 'EWHAT' }] } }, RangeError, /errno "EWHAT" is not a known errno name/],
  ['startFrame past 2^53', { ...base, mock: { startFrame: 2 ** 54 } }, RangeError, /options\.mock\.startFrame/],
];

for (const [name, options, cls, message] of cases) {
  test(name, async () => {
    assert.throws(() => new lib.PcmStream(options), cls);
    const err = await lib.openPcm(options).catch((e) => e);
    assert.ok(err instanceof cls, `${err}`);
    assert.match(err.message, message);
  });
}

test('a scripted open failure rejects with that errno; close is idempotent; reopen after close is EBADFD', async () => {
  const busy = { ...base, device: 'mock:busy', mock: { faults: [{ at: 0, type: 'openFail', count: 1, errno: 'EBUSY' }] } };
  const err = await lib.openPcm(busy).catch((e) => e);
  assert.ok(err instanceof lib.PcmError);
  assert.equal(err.code, 'EBUSY');
  assert.equal(err.errno, -16);
  const pcm = await lib.openPcm(base);
  await pcm.close();
  await pcm.close();
  await assert.rejects(pcm.reopen(), { code: 'EBADFD' });
});
