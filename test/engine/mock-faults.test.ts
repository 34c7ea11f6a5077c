// The real watcher thread over the mock card: every injected fault is seen exactly.
import { describe, expect, it } from 'vitest';

import { openPcm, PcmError } from '../../src/index.js';
import { record, sleep, until } from '../helpers/recorder.js';

describe('fault script through the watcher', () => {
  it('reports 5 xruns, 1 disconnect, a 40 ms stall, 2 failed reopens then a good one', async () => {
    const pcm = await openPcm({
      device: 'mock:script',
      direction: 'capture',
      autoReopen: false, // this test drives the reopens itself
      periodFrames: 480, // 10 ms
      bufferPeriods: 8, // 80 ms: the 40 ms stall is late, not an xrun
      sampleIntervalMs: 50,
      mock: {
        faults: [
          { at: 150, type: 'xrun', count: 5, everyMs: 100 },
          { at: 750, type: 'stall', durationMs: 40 },
          { at: 1000, type: 'disconnect', durationMs: 300 },
          { at: 1000, type: 'openFail', count: 2, errno: 'EBUSY' },
        ],
      },
    });
    pcm.audio.resume();
    const rec = record(pcm);

    await until(() => rec.ofType('disconnect').length === 1, 3000, 'the disconnect');
    const failures: string[] = [];
    for (let i = 0; i < 40; i++) {
      try {
        await pcm.reopen();
        break;
      } catch (err) {
        expect(err).toBeInstanceOf(PcmError);
        failures.push((err as PcmError).code);
        await sleep(50);
      }
    }
    await until(() => rec.samples.some((s) => s.periods > 0 && s.tStartNs > rec.ofType('reopened')[0]!.tDetectNs), 2000, 'streaming after reopen');
    await pcm.close();

    expect(rec.ofType('xrun')).toHaveLength(5);
    expect(rec.total('xruns')).toBe(5);
    expect(rec.ofType('recovered')).toHaveLength(5);
    for (const x of rec.ofType('xrun')) {
      expect(x.errno).toBe('EPIPE');
      expect(x.tInjectNs).toBeTypeOf('bigint');
      expect(x.tDetectNs).toBeGreaterThanOrEqual(x.tInjectNs!);
    }
    const disconnects = rec.ofType('disconnect');
    expect(disconnects).toHaveLength(1);
    expect(disconnects[0]!.errno).toBe('ENODEV');

    // ENODEV while the card is gone, then exactly the two scripted EBUSY, then success.
    expect(failures.filter((c) => c === 'EBUSY')).toEqual(['EBUSY', 'EBUSY']);
    expect(failures.every((c) => c === 'ENODEV' || c === 'EBUSY')).toBe(true);
    expect(failures.lastIndexOf('ENODEV')).toBeLessThan(failures.indexOf('EBUSY'));
    expect(rec.ofType('reopenFailed')).toHaveLength(failures.length);
    expect(rec.ofType('reopened')).toHaveLength(1);

    // The stall shows as lateness >= 40 ms in the window that holds t = 700 ms + 40 ms.
    const start = rec.samples[0]!.tStartNs;
    const late = rec.samples.filter((s) => s.latenessUsMax >= 40_000);
    expect(late.length).toBeGreaterThanOrEqual(1);
    const lateAtMs = Number(late[0]!.tEndNs - start) / 1e6;
    expect(lateAtMs).toBeGreaterThan(750);
    expect(lateAtMs).toBeLessThan(900);
    // ...and is not an xrun.
    expect(rec.samples.filter((s) => s.xruns > 0 && s.latenessUsMax >= 40_000)).toHaveLength(0);
  });

  it('a stall longer than the buffer is a real xrun, reported "at least" its overflow time', async () => {
    const pcm = await openPcm({
      device: 'mock:longstall',
      direction: 'capture',
      periodFrames: 480,
      bufferPeriods: 4, // 40 ms
      sampleIntervalMs: 50,
      mock: { faults: [{ at: 100, type: 'stall', durationMs: 200 }] },
    });
    pcm.audio.resume();
    const rec = record(pcm);
    await until(() => rec.ofType('recovered').length === 1, 2000, 'recovery');
    await pcm.close();
    const [x] = rec.ofType('xrun');
    expect(rec.ofType('xrun')).toHaveLength(1);
    // The buffer (40 ms) overflowed 40 ms after the last read, which came
    // at most one 10 ms period (plus scheduling) before the stall began;
    // "at least" runs from the overflow to the detection.
    const sinceInjectUs = Number(x!.tDetectNs - x!.tInjectNs!) / 1000;
    expect(sinceInjectUs).toBeGreaterThanOrEqual(200_000);
    expect(x!.durationUs!).toBeGreaterThanOrEqual(sinceInjectUs - 40_000 - 500);
    expect(x!.durationUs!).toBeLessThanOrEqual(sinceInjectUs - 25_000);
    expect(x!.lostFrames!).toBeCloseTo((x!.durationUs! * 48000) / 1e6, -1);
    expect(rec.total('lostFrames')).toBe(x!.lostFrames);
  });

  it('suspend is resumed in place; an I/O error is counted and recovered', async () => {
    const pcm = await openPcm({
      device: 'mock:suspend',
      direction: 'playback',
      periodFrames: 480,
      bufferPeriods: 8,
      sampleIntervalMs: 50,
      mock: {
        faults: [
          { at: 100, type: 'suspend', durationMs: 100 },
          { at: 400, type: 'ioError', errno: 'EIO' },
          { at: 500, type: 'delay', extraMs: 30, durationMs: 100 },
        ],
      },
    });
    const rec = record(pcm);
    await sleep(800);
    await pcm.close();
    expect(rec.ofType('suspend')).toHaveLength(1);
    expect(rec.ofType('resume')).toHaveLength(1);
    const resumeAfterMs = Number(rec.ofType('resume')[0]!.tDetectNs - rec.ofType('suspend')[0]!.tDetectNs) / 1e6;
    expect(resumeAfterMs).toBeGreaterThanOrEqual(99);
    expect(resumeAfterMs).toBeLessThan(160);
    const errors = rec.ofType('error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.errno).toBe('EIO');
    expect(rec.total('errors')).toBe(1);
    expect(rec.total('xruns')).toBe(0);
    // The delay spike adds 30 ms to the ALSA delay of every other window.
    const spikeAt = rec.samples.findIndex((s) => s.delayUsMax > 0 && Number(s.tEndNs - rec.samples[0]!.tStartNs) / 1e6 > 520);
    const quiet = rec.samples.filter((s, i) => s.delayUsMax > 0 && (i < spikeAt - 3 || i > spikeAt + 4));
    const baseline = Math.max(...quiet.map((s) => s.delayUsMax));
    expect(rec.samples[spikeAt]!.delayUsMax).toBeGreaterThan(baseline + 25_000);
    expect(rec.ofType('recovered').length).toBeGreaterThanOrEqual(2);
  });

  it('a disconnect closes the PCM at once and samples say so until a reopen', async () => {
    const pcm = await openPcm({
      device: 'mock:gone',
      direction: 'capture',
      sampleIntervalMs: 20,
      mock: { faults: [{ at: 50, type: 'disconnect', durationMs: 100_000 }] },
    });
    const rec = record(pcm);
    await until(() => rec.samples.filter((s) => s.state === 'disconnected').length >= 3, 2000, 'disconnected samples');
    const after = rec.samples.filter((s) => s.state === 'disconnected');
    expect(after.slice(1).every((s) => s.periods === 0)).toBe(true);
    await expect(pcm.reopen()).rejects.toMatchObject({ code: 'ENODEV', device: 'mock:gone' });
    await pcm.close();
    expect(rec.ofType('disconnect')).toHaveLength(1);
  });
});

describe('hot-plug', () => {
  it('a device that comes back is reopened at once, without a reopen() call', async () => {
    const pcm = await openPcm({
      device: 'mock:hotplug',
      direction: 'capture',
      sampleIntervalMs: 20,
      mock: { faults: [{ at: 100, type: 'disconnect', durationMs: 300 }] },
    });
    pcm.audio.resume();
    const rec = record(pcm);
    await until(() => rec.ofType('reopened').length === 1, 3000, 'the automatic reopen');
    await until(() => rec.samples.some((s) => s.periods > 0 && s.tStartNs > rec.ofType('reopened')[0]!.tDetectNs), 2000, 'streaming again');
    await pcm.close();
    const [gone] = rec.ofType('disconnect');
    const [back] = rec.ofType('reopened');
    const afterMs = Number(back!.tDetectNs - gone!.tInjectNs!) / 1e6;
    console.log(`disconnect 300 ms -> reopened after ${afterMs.toFixed(1)} ms`);
    expect(afterMs).toBeGreaterThanOrEqual(300);
    expect(afterMs).toBeLessThan(350);
    expect(back!.message).toBe('the device came back');
    expect(rec.ofType('reopenFailed')).toHaveLength(0);
  });
});
