// The probe verdict is a pure fold of samples and events.

import { describe, expect, it } from 'vitest';
import { formatProbe, judgeProbe } from '../../src/daemon/probe.js';
import type { HealthSample, PcmEvent, PcmParams } from '../../src/types.js';
import { sample as cleanSample } from '../health/helpers.js';

const params: PcmParams = {
  device: 'hw:0,0',
  direction: 'capture',
  rate: 48000,
  channels: 2,
  format: 'S16_LE',
  periodFrames: 960,
  bufferFrames: 3840,
  bytesPerFrame: 4,
  sampleIntervalMs: 100,
};

const sample = (extra: Partial<HealthSample> = {}): HealthSample => cleanSample('hw:0,0', 'capture', extra);
const ten = (extra: Partial<HealthSample> = {}, at = -1) =>
  Array.from({ length: 10 }, (_, i) => (i === at ? sample(extra) : sample()));
const ev = (type: PcmEvent['type']): PcmEvent => ({ type, device: 'hw:0,0', direction: 'capture', tDetectNs: 0n });

describe('judgeProbe', () => {
  it('a clean second is healthy, with lateness percentiles and delay', () => {
    const r = judgeProbe(params, 1, ten({ latenessUsMax: 3000 }, 9), [], 100);
    expect(r.healthy).toBe(true);
    expect(r.frames).toBe(48000);
    expect(r.latenessMs).toEqual({ p50: 0.4, p99: 3, max: 3 });
    expect(r.delayMs).toEqual({ mean: 20, max: 40 });
    expect(formatProbe(r)).toMatch(/verdict\s+healthy/);
  });

  it.each([
    ['xruns', ten({ xruns: 2, xrunUsMax: 25000, lostFrames: 1200 }, 3), [], '2 xruns (longest at least 25 ms)'],
    ['errors', ten({ errors: 1, lastErrno: 'EIO' }, 3), [ev('error')], '1 error (last EIO); 1 error event'],
    ['disconnect', ten(), [ev('disconnect')], '1 disconnect event'],
    ['a late wake-up', ten({ latenessUsMax: 150_000 }, 2), [], 'a period woke 150 ms late (threshold 100 ms)'],
    ['too few frames', ten().slice(0, 5), [], 'moved 24000 of 48000 expected frames'],
  ])('%s: not healthy, and says why', (_n, samples, events, reason) => {
    const r = judgeProbe(params, 1, samples, events, 100);
    expect(r.healthy).toBe(false);
    expect(r.reasons.join('; ')).toContain(reason);
  });

  it('no periods at all: no lateness figures, and not healthy', () => {
    const r = judgeProbe(params, 1, [sample({ periods: 0, frames: 0 })], [], 100);
    expect(r.latenessMs).toBeNull();
    expect(r.healthy).toBe(false);
    expect(formatProbe(r)).toMatch(/lateness\s+no periods/);
  });
});
