// frameBalance is a plain sum; these tables show it catches each kind of hole.
import { describe, expect, it } from 'vitest';

import { frameBalance, type HealthSample } from '../../src/index.js';

function s(direction: 'capture' | 'playback', over: Partial<HealthSample>): HealthSample {
  return {
    device: 'x', direction, tStartNs: 0n, tEndNs: 1n, periods: 1, frames: 0, xruns: 0, xrunUsMax: 0, lostFrames: 0, errors: 0,
    lastErrno: null, lastError: null, state: 'running', latenessUsMean: 0, latenessUsMax: 0, delayUsMean: 0, delayUsMax: 0,
    recoveryUsMax: 0, consumerDropped: 0, starved: 0, deliveredFrames: 0, discardedFrames: 0, paddingFrames: 0, pendingFrames: 0,
    deviceFrames: 0, ...over,
  };
}

describe('frameBalance', () => {
  const cap = [
    s('capture', { deviceFrames: 1000, deliveredFrames: 700, pendingFrames: 300 }),
    s('capture', { deviceFrames: 1000, deliveredFrames: 700, consumerDropped: 100, lostFrames: 150, discardedFrames: 50, pendingFrames: 300 }),
  ];
  const play = [
    s('playback', { deviceFrames: 500, deliveredFrames: 400, paddingFrames: 960, pendingFrames: 860 }),
    s('playback', { deviceFrames: 1000, deliveredFrames: 600, starved: 260, lostFrames: 40, discardedFrames: 200, pendingFrames: 560 }),
  ];
  it.each([
    ['capture, balanced', cap, 0],
    ['capture, a dropped frame not counted', [cap[0]!, { ...cap[1]!, consumerDropped: 99 }], 1],
    ['capture, the first sample missing (its pending frames come from nowhere)', [cap[1]!], -300],
    ['playback, balanced', play, 0],
    ['playback, discarded frames not subtracted', [play[0]!, { ...play[1]!, discardedFrames: 0 }], -200],
    ['playback, padding ignored', [{ ...play[0]!, paddingFrames: 0 }, play[1]!], 960],
  ] as const)('%s → unaccounted %d', (_name, samples, unaccounted) => {
    expect(frameBalance(samples).unaccountedFrames).toBe(unaccounted);
  });

  it('a run after a known point takes the pending frames before it', () => {
    expect(frameBalance([cap[1]!], 300).unaccountedFrames).toBe(0);
  });

  it('unknown device frames give null, mixed directions a RangeError, no samples null', () => {
    expect(frameBalance([cap[0]!, { ...cap[1]!, deviceFrames: null }]).unaccountedFrames).toBeNull();
    expect(() => frameBalance([cap[0]!, play[0]!])).toThrow(RangeError);
    expect(frameBalance([]).unaccountedFrames).toBeNull();
  });
});
