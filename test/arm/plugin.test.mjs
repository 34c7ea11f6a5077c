// Real alsa-lib (armhf, emulated) through the AlsaBackend: the healthtest
// ioplug plugin, cross-built by scripts/test-arm.sh, clocks a fake card and
// injects faults. Counts must be exact, as on the host (test/engine-alsa).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { BYTES_PER_FRAME, lib, pluginDevice, RATE, record, sleep, until } from './helpers.mjs';

const haveConf = (process.env.ALSA_CONFIG_PATH ?? '').includes('healthtest');
const opts = (device, direction) => ({ device, direction, rate: RATE, periodFrames: 480, bufferPeriods: 10, sampleIntervalMs: 50 });

test('capture: byte rate and 3 injected xruns, exactly', { skip: !haveConf && 'ALSA_CONFIG_PATH has no healthtest conf (run through scripts/test-arm.sh)' }, async () => {
  const pcm = await lib.openPcm(opts(pluginDevice('xrun@300*3/300'), 'capture'));
  pcm.audio.resume();
  const rec = record(pcm);
  await until(() => rec.ofType('recovered').length >= 3, 6000, '3 recoveries');
  await sleep(400); // a made-up fourth xrun would show
  await pcm.close();
  const frames = rec.total('frames');
  const seconds = Number(rec.samples.at(-1).tEndNs - rec.samples[0].tStartNs) / 1e9;
  const rate = (frames * BYTES_PER_FRAME) / seconds;
  console.log(`[arm] plugin capture: ${frames} frames in ${seconds.toFixed(3)} s = ${rate.toFixed(0)} B/s; xruns ${rec.ofType('xrun').length} (samples ${rec.total('xruns')}), recovered ${rec.ofType('recovered').length}`);
  assert.equal(rec.ofType('xrun').length, 3);
  assert.equal(rec.total('xruns'), 3);
  assert.equal(rec.ofType('recovered').length, 3);
  for (const x of rec.ofType('xrun')) assert.equal(x.errno, 'EPIPE');
  assert.equal(rec.total('errors'), 0);
  // Three injected xruns cost at most a few periods each: the rest is the card's rate.
  assert.ok(rate > RATE * BYTES_PER_FRAME * 0.9 && rate < RATE * BYTES_PER_FRAME * 1.02, `rate ${rate}`);
});

test('playback: a disconnect is one disconnect event (ENODEV); reopen fails ENODEV until the card is back', { skip: !haveConf && 'no healthtest conf' }, async () => {
  const device = pluginDevice('disconnect@300+600');
  const pcm = await lib.openPcm({ ...opts(device, 'playback'), autoReopen: false });
  const rec = record(pcm);
  await until(() => rec.ofType('disconnect').length === 1, 4000, 'the disconnect');
  const codes = [];
  for (let i = 0; i < 80; i++) {
    try {
      await pcm.reopen();
      break;
    } catch (err) {
      codes.push(err.code);
      await sleep(50);
    }
  }
  await until(() => rec.ofType('reopened').length === 1, 2000, 'reopened');
  await pcm.close();
  console.log(`[arm] plugin disconnect: ${rec.ofType('disconnect').length} disconnect event(s), reopen failures ${codes.length} (${[...new Set(codes)].join(',')}), then reopened`);
  assert.equal(rec.ofType('disconnect').length, 1);
  assert.equal(rec.ofType('disconnect')[0].errno, 'ENODEV');
  assert.ok(codes.length >= 1);
  assert.ok(codes.every((c) => c === 'ENODEV'));
  assert.equal(rec.ofType('reopened').length, 1);
});
