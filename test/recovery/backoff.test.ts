import { describe, expect, it } from 'vitest';
import { backoffDelayMs, recoveryDefaults } from '../../src/recovery/index.js';

const exact = 0.5; // random = 0.5 means no jitter

describe('backoffDelayMs (pure schedule)', () => {
  it.each([
    [0, 0],
    [1, 250],
    [2, 500],
    [3, 1000],
    [4, 2000],
    [5, 4000],
    [6, 8000],
    [7, 16_000],
    [8, 30_000], // 32 000 capped
    [9, 30_000],
    [50, 30_000],
    [100_000, 30_000], // no overflow to Infinity / NaN
  ])('after %i failures waits %i ms with the defaults', (failures, ms) => {
    expect(backoffDelayMs(failures, recoveryDefaults, exact)).toBe(ms);
  });

  it.each([
    [1, 0, 200],
    [1, 0.999_999, 300],
    [3, 0, 800],
    [3, 0.999_999, 1200],
  ])('after %i failures with random %f spreads to %i ms (±20 %%)', (failures, r, ms) => {
    expect(backoffDelayMs(failures, recoveryDefaults, r)).toBe(ms);
  });

  it('never exceeds maxBackoffMs even with the largest jitter', () => {
    for (let f = 1; f < 20; f++) {
      expect(backoffDelayMs(f, recoveryDefaults, 0.999_999)).toBeLessThanOrEqual(recoveryDefaults.maxBackoffMs);
    }
    expect(backoffDelayMs(8, recoveryDefaults, 0.999_999)).toBe(30_000);
    expect(backoffDelayMs(8, recoveryDefaults, 0)).toBe(24_000);
  });

  it('honours a custom factor, base and cap', () => {
    const cfg = { initialBackoffMs: 100, maxBackoffMs: 1000, backoffFactor: 3, jitter: 0 };
    expect([1, 2, 3, 4, 5].map((f) => backoffDelayMs(f, cfg, Math.random()))).toEqual([100, 300, 900, 1000, 1000]);
  });

  it('with jitter, different random draws give different waits (devices do not retry in lockstep)', () => {
    const waits = new Set([0, 0.25, 0.5, 0.75].map((r) => backoffDelayMs(4, recoveryDefaults, r)));
    expect(waits.size).toBe(4);
  });
});
