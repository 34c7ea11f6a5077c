import { describe, expect, it } from 'vitest';
import { recoveryDefaults, resolveRecoveryConfig } from '../../src/recovery/index.js';

describe('recovery config', () => {
  it('defaults: 250 ms doubling to 30 s, ±20 % jitter, 10 s per attempt, 10 attempts', () => {
    expect(recoveryDefaults).toEqual({
      initialBackoffMs: 250,
      maxBackoffMs: 30_000,
      backoffFactor: 2,
      jitter: 0.2,
      attemptTimeoutMs: 10_000,
      maxAttempts: 10,
    });
    expect(Object.isFrozen(recoveryDefaults)).toBe(true);
  });

  it('overlays a partial config', () => {
    expect(resolveRecoveryConfig({ maxAttempts: 3 })).toEqual({ ...recoveryDefaults, maxAttempts: 3 });
  });

  it.each([
    [{ maxAttempts: 0 }, /maxAttempts/],
    [{ maxAttempts: 1.5 }, /whole number/],
    [{ attemptTimeoutMs: -1 }, /attemptTimeoutMs/],
    [{ jitter: 1.5 }, /jitter/],
    [{ backoffFactor: 0.5 }, /backoffFactor/],
    [{ initialBackoffMs: 5000, maxBackoffMs: 1000 }, /maxBackoffMs/],
    [{ initialBackoffMs: Number.NaN }, /finite/],
    [{ attemptTimeout: 10 }, /unknown/],
  ])('rejects %j', (input, msg) => {
    expect(() => resolveRecoveryConfig(input as never)).toThrow(msg);
  });
});
