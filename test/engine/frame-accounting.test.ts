// Frame accounting against the mock card's own count: every frame the card
// clocked must show up as delivered, dropped, lost, discarded or in flight,
// at every window, through xruns, stalls, suspends, I/O errors, disconnects,
// reopens, a slow reader / a starving writer, and close.
import { describe, expect, it } from 'vitest';

import { frameBalance, HealthMonitor, openPcm, type HealthSample, type MockFault } from '../../src/index.js';
import { record, sleep, until } from '../helpers/recorder.js';

const RATE = 48_000;
const PERIOD = 240; // 5 ms
const FAULTS: MockFault[] = [
  { at: 300, type: 'xrun' },
  { at: 600, type: 'stall', durationMs: 150 }, // > the 20 ms buffer: a real overrun / underrun
  { at: 1000, type: 'suspend', durationMs: 80 }, // resumed in place
  { at: 1400, type: 'ioError', errno: 'EIO' }, // prepare + restart: the buffer is discarded
  { at: 1700, type: 'xrun', count: 3, everyMs: 50 },
  { at: 2000, type: 'disconnect', durationMs: 200 }, // closed at once, reopened when it ends
  { at: 2600, type: 'suspend', durationMs: 1500 }, // too long to resume: prepared afresh
];

const sum = (samples: HealthSample[], k: keyof HealthSample): number => samples.reduce((a, s) => a + Number(s[k] ?? 0), 0);

/** The first prefix of samples that does not balance, or null. */
function firstImbalance(samples: HealthSample[]): { window: number; unaccounted: number | null } | null {
  for (let i = 1; i <= samples.length; i++) {
    const u = frameBalance(samples.slice(0, i)).unaccountedFrames;
    if (u !== 0) return { window: i, unaccounted: u };
  }
  return null;
}

describe('frame accounting on the mock card', () => {
  it('capture: delivered + dropped + lost + discarded + pending = produced, at every window', async () => {
    const pcm = await openPcm({ device: 'mock:acc-cap', direction: 'capture', periodFrames: PERIOD, bufferPeriods: 4, sampleIntervalMs: 50, mock: { faults: FAULTS } });
    const rec = record(pcm);
    const monitor = new HealthMonitor();
    monitor.watch(pcm);
    let bytesRead = 0;
    pcm.audio.on('data', (chunk: Buffer) => (bytesRead += chunk.length));
    setTimeout(() => pcm.audio.pause(), 800); // a reader that falls 500 ms behind: the ring drops the oldest
    setTimeout(() => pcm.audio.resume(), 1300);
    await until(() => rec.ofType('reopened').length >= 1, 5000, 'the reopen after the disconnect');
    await pcm.reopen(); // an explicit reopen discards what the buffer held
    await until(() => rec.ofType('resume').length >= 2, 6000, 'the long suspend to end');
    await sleep(300);
    await pcm.close();
    await sleep(50); // the final drain reaches the 'data' listener

    const b = frameBalance(rec.samples);
    const bpf = pcm.params.bytesPerFrame;
    const terms = {
      device: b.deviceFrames, delivered: sum(rec.samples, 'deliveredFrames'), dropped: sum(rec.samples, 'consumerDropped'),
      lost: sum(rec.samples, 'lostFrames'), discarded: sum(rec.samples, 'discardedFrames'), pending: b.pendingFrames, readByJs: bytesRead / bpf,
    };
    console.log(`[accounting] capture: ${JSON.stringify(terms)}; events ${rec.events.map((e) => e.type).join(' ')}`);
    expect(firstImbalance(rec.samples)).toBeNull();
    expect(b.unaccountedFrames).toBe(0);
    // Each term was really exercised, so a missing one would have shown.
    expect(terms.lost).toBeGreaterThan(RATE * 0.05); // the stall's overrun alone is > 100 ms
    expect(terms.dropped).toBeGreaterThan(0);
    expect(terms.discarded).toBeGreaterThan(0);
    // What the engine calls delivered is what the Readable gave us (the last
    // window's pending frames are the ones drained at close).
    expect(terms.readByJs).toBe(terms.delivered + terms.pending);
    expect(terms.device!).toBeGreaterThanOrEqual(sum(rec.samples, 'frames'));
    // The monitor's snapshot carries the same terms.
    const totals = monitor.snapshot().devices['mock:acc-cap']!.totals;
    expect(totals.deliveredFrames).toBe(terms.delivered);
    expect(totals.discardedFrames).toBe(terms.discarded);
    expect(totals.deviceFrames).toBe(terms.device);
    expect(totals.pendingFrames).toBe(terms.pending);
    expect(totals.lostFrames).toBe(terms.lost);
    monitor.stop();
  });

  it('playback: delivered + starved + padding + lost − discarded − pending = played, at every window', async () => {
    const pcm = await openPcm({ device: 'mock:acc-play', direction: 'playback', periodFrames: PERIOD, bufferPeriods: 4, sampleIntervalMs: 50, mock: { faults: FAULTS } });
    const rec = record(pcm);
    const audio = pcm.audio as import('node:stream').Writable;
    const chunk = Buffer.alloc(PERIOD * pcm.params.bytesPerFrame * 8);
    let feeding = true;
    const feeder = setInterval(() => feeding && audio.write(chunk), 30); // ahead of the device, then nothing
    setTimeout(() => (feeding = false), 1200);
    await until(() => rec.ofType('reopened').length >= 1, 5000, 'the reopen after the disconnect');
    await pcm.reopen();
    await until(() => rec.ofType('resume').length >= 2, 6000, 'the long suspend to end');
    await sleep(300);
    clearInterval(feeder);
    await pcm.close();

    const b = frameBalance(rec.samples);
    const terms = {
      device: b.deviceFrames, delivered: sum(rec.samples, 'deliveredFrames'), starved: sum(rec.samples, 'starved'),
      padding: sum(rec.samples, 'paddingFrames'), lost: sum(rec.samples, 'lostFrames'), discarded: sum(rec.samples, 'discardedFrames'), pending: b.pendingFrames,
    };
    console.log(`[accounting] playback: ${JSON.stringify(terms)}; events ${rec.events.map((e) => e.type).join(' ')}`);
    expect(firstImbalance(rec.samples)).toBeNull();
    expect(b.unaccountedFrames).toBe(0);
    expect(terms.delivered).toBeGreaterThan(RATE * 0.5);
    expect(terms.starved).toBeGreaterThan(RATE * 0.5);
    expect(terms.padding).toBeGreaterThan(0);
    expect(terms.lost).toBeGreaterThan(RATE * 0.05);
    expect(terms.discarded).toBeGreaterThan(0);
    expect(terms.pending).toBe(0); // closed: nothing is left in a device buffer
  });

  it('an alsa-lib-style sample (no deviceFrames) balances to null, not to a made-up 0', async () => {
    const pcm = await openPcm({ device: 'mock:acc-null', direction: 'capture', periodFrames: PERIOD, sampleIntervalMs: 50 });
    const rec = record(pcm);
    pcm.audio.resume();
    await until(() => rec.samples.length >= 2, 2000, 'two windows');
    await pcm.close();
    const stripped = rec.samples.map((s) => ({ ...s, deviceFrames: null }));
    expect(frameBalance(stripped).unaccountedFrames).toBeNull();
    expect(frameBalance(rec.samples).unaccountedFrames).toBe(0);
  });
});
