import { describe, expect, it } from 'vitest';
import { healthDefaults, resolveHealthConfig } from '../../src/health/index.js';
import { recoveryDefaults } from '../../src/recovery/index.js';

describe('health config', () => {
  it('defaults are the DESIGN.md table (the seed configuration)', () => {
    expect(healthDefaults).toMatchObject({
      checkIntervalMs: 5000,
      recoveryThreshold: 3,
      latencyThresholdMs: 100,
      errorRateLimit: 6,
      supervisorTimeoutMs: 10_000,
      maxDroppedFrames: 10,
      windowMs: 60_000,
    });
    expect(healthDefaults.recovery).toBe(recoveryDefaults);
    expect(resolveHealthConfig()).toEqual(healthDefaults);
  });

  it('overlays partial settings, recovery included', () => {
    const c = resolveHealthConfig({ windowMs: 10_000, recovery: { maxAttempts: 2 } });
    expect(c.windowMs).toBe(10_000);
    expect(c.checkIntervalMs).toBe(5000);
    expect(c.recovery).toEqual({ ...recoveryDefaults, maxAttempts: 2 });
  });

  it.each([
    [{ checkIntervalMs: 0 }, /checkIntervalMs/],
    [{ recoveryThreshold: 0 }, /recoveryThreshold/],
    [{ recoveryThreshold: 2.5 }, /whole number/],
    [{ windowMs: -5 }, /windowMs/],
    [{ windowBuckets: 0 }, /windowBuckets/],
    [{ errorRateLimit: Infinity }, /finite/],
    [{ latencyThresholdMs: '100' }, /finite/],
    [{ recovery: { maxAttempts: 0 } }, /recovery.maxAttempts/],
  ])('rejects %j', (input, msg) => {
    expect(() => resolveHealthConfig(input as never)).toThrow(msg);
  });
});
