// The real watcher thread over the mock card, on the board's build: every
// injected fault is counted exactly. Timing bounds are looser than on the
// host (test/engine): qemu-arm translates both the engine and V8's JIT code.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { lib, msBetween, record, sleep, until } from './helpers.mjs';

test('fault script: 5 xruns, 1 disconnect, 2 scripted EBUSY reopens then a good one', async () => {
  const pcm = await lib.openPcm({
    device: 'mock:script',
    direction: 'capture',
    autoReopen: false,
    periodFrames: 480,
    bufferPeriods: 8,
    sampleIntervalMs: 50,
    mock: {
      faults: [
        { at: 150, type: 'xrun', count: 5, everyMs: 100 },
        { at: 1000, type: 'disconnect', durationMs: 300 },
        { at: 1000, type: 'openFail', count: 2, errno: 'EBUSY' },
      ],
    },
  });
  pcm.audio.resume();
  const rec = record(pcm);
  await until(() => rec.ofType('disconnect').length === 1, 5000, 'the disconnect');
  const failures = [];
  for (let i = 0; i < 60; i++) {
    try {
      await pcm.reopen();
      break;
    } catch (err) {
      assert.ok(err instanceof lib.PcmError);
      failures.push(err.code);
      await sleep(50);
    }
  }
  const reopenedAt = () => rec.ofType('reopened')[0]?.tDetectNs;
  await until(() => reopenedAt() !== undefined && rec.samples.some((s) => s.periods > 0 && s.tStartNs > reopenedAt()), 4000, 'streaming after reopen');
  await pcm.close();
  console.log(`[arm] events: ${JSON.stringify(Object.fromEntries(['xrun', 'recovered', 'disconnect', 'reopenFailed', 'reopened'].map((t) => [t, rec.ofType(t).length])))}; reopen failures ${failures.join(',')}`);

  assert.equal(rec.ofType('xrun').length, 5);
  assert.equal(rec.total('xruns'), 5);
  assert.equal(rec.ofType('recovered').length, 5);
  for (const x of rec.ofType('xrun')) {
    assert.equal(x.errno, 'EPIPE');
    assert.equal(typeof x.tInjectNs, 'bigint');
    assert.ok(x.tDetectNs >= x.tInjectNs);
  }
  const disconnects = rec.ofType('disconnect');
  assert.equal(disconnects.length, 1);
  assert.equal(disconnects[0].errno, 'ENODEV');
  assert.deepEqual(failures.filter((c) => c === 'EBUSY'), ['EBUSY', 'EBUSY']);
  assert.ok(failures.every((c) => c === 'ENODEV' || c === 'EBUSY'));
  assert.ok(failures.lastIndexOf('ENODEV') < failures.indexOf('EBUSY'));
  assert.equal(rec.ofType('reopenFailed').length, failures.length);
  assert.equal(rec.ofType('reopened').length, 1);
});

test('a stall longer than the buffer is one real xrun with its lost frames', async () => {
  const pcm = await lib.openPcm({
    device: 'mock:longstall',
    direction: 'capture',
    periodFrames: 480,
    bufferPeriods: 4,
    sampleIntervalMs: 50,
    mock: { faults: [{ at: 100, type: 'stall', durationMs: 200 }] },
  });
  pcm.audio.resume();
  const rec = record(pcm);
  await until(() => rec.ofType('recovered').length === 1, 4000, 'recovery');
  await pcm.close();
  const xruns = rec.ofType('xrun');
  assert.equal(xruns.length, 1);
  const x = xruns[0];
  const sinceInjectUs = Number(x.tDetectNs - x.tInjectNs) / 1000;
  console.log(`[arm] stall 200 ms: xrun "at least" ${(x.durationUs / 1000).toFixed(1)} ms, ${x.lostFrames} frames lost, detected ${(sinceInjectUs / 1000).toFixed(1)} ms after the stall began`);
  assert.ok(sinceInjectUs >= 200_000);
  assert.ok(x.durationUs >= sinceInjectUs - 40_000 - 500);
  assert.ok(Math.abs(x.lostFrames - (x.durationUs * 48000) / 1e6) < 50);
  assert.equal(rec.total('lostFrames'), x.lostFrames);
});

test('suspend is resumed in place; an I/O error is counted once', async () => {
  const pcm = await lib.openPcm({
    device: 'mock:suspend',
    direction: 'playback',
    periodFrames: 480,
    bufferPeriods: 8,
    sampleIntervalMs: 50,
    mock: { faults: [{ at: 100, type: 'suspend', durationMs: 100 }, { at: 400, type: 'ioError', errno: 'EIO' }] },
  });
  const rec = record(pcm);
  await until(() => rec.ofType('error').length === 1 && rec.samples.some((s) => s.errors > 0), 4000, 'the I/O error');
  await sleep(200);
  await pcm.close();
  assert.equal(rec.ofType('suspend').length, 1);
  assert.equal(rec.ofType('resume').length, 1);
  const resumeAfterMs = msBetween(rec.ofType('suspend')[0].tDetectNs, rec.ofType('resume')[0].tDetectNs);
  console.log(`[arm] suspend 100 ms: resumed after ${resumeAfterMs.toFixed(1)} ms`);
  assert.ok(resumeAfterMs >= 99);
  assert.equal(rec.ofType('error').length, 1);
  assert.equal(rec.ofType('error')[0].errno, 'EIO');
  assert.equal(rec.total('errors'), 1);
  assert.equal(rec.total('xruns'), 0);
});

test('hot-plug: a device that comes back is reopened by itself', async () => {
  const pcm = await lib.openPcm({
    device: 'mock:hotplug',
    direction: 'capture',
    sampleIntervalMs: 20,
    mock: { faults: [{ at: 100, type: 'disconnect', durationMs: 300 }] },
  });
  pcm.audio.resume();
  const rec = record(pcm);
  await until(() => rec.ofType('reopened').length === 1, 5000, 'the automatic reopen');
  await pcm.close();
  const afterMs = msBetween(rec.ofType('disconnect')[0].tInjectNs, rec.ofType('reopened')[0].tDetectNs);
  console.log(`[arm] disconnect 300 ms -> reopened after ${afterMs.toFixed(1)} ms`);
  assert.equal(rec.ofType('disconnect').length, 1);
  assert.ok(afterMs >= 300);
  assert.ok(afterMs < 500, `reopened ${afterMs} ms after the disconnect (host bound: 350)`);
  assert.equal(rec.ofType('reopenFailed').length, 0);
});

test('reopen() on a healthy stream: close + open with the same params, streaming again', async () => {
  const pcm = await lib.openPcm({ device: 'mock:reopen', direction: 'capture', sampleIntervalMs: 50 });
  pcm.audio.resume();
  const rec = record(pcm);
  await until(() => rec.total('frames') > 0, 3000, 'first frames');
  await pcm.reopen();
  const at = rec.ofType('reopened')[0]?.tDetectNs;
  assert.ok(at !== undefined);
  await until(() => rec.samples.some((s) => s.tStartNs > at && s.periods > 0), 3000, 'frames after the reopen');
  await pcm.close();
  assert.equal(rec.ofType('reopened').length, 1);
  assert.equal(rec.total('xruns'), 0);
});
