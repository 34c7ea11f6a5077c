// The wait between recovery attempts, as a pure function of the failure count.

import type { RecoveryConfig } from './config.js';

export type BackoffConfig = Pick<RecoveryConfig, 'initialBackoffMs' | 'maxBackoffMs' | 'backoffFactor' | 'jitter'>;

/**
 * Milliseconds to wait after `failures` failed attempts (1 = after the
 * first): initial × factor^(failures−1), capped at maxBackoffMs, then spread
 * by ±jitter. `random` is a number in [0, 1): 0.5 gives the exact schedule
 * (250, 500, 1000, ... with the defaults). The result never exceeds
 * maxBackoffMs, so the cap is a promise a user can plan around.
 */
export function backoffDelayMs(failures: number, cfg: BackoffConfig, random: number): number {
  if (failures <= 0) return 0;
  // Math.min before the power would be wrong for factor < 2; the exponent is
  // bounded so that a huge failure count cannot overflow to Infinity*0 = NaN.
  const exp = Math.min(failures - 1, 1024);
  const base = Math.min(cfg.maxBackoffMs, cfg.initialBackoffMs * Math.pow(cfg.backoffFactor, exp));
  const r = Math.min(Math.max(random, 0), 1);
  const spread = 1 + cfg.jitter * (2 * r - 1);
  return Math.round(Math.min(cfg.maxBackoffMs, Math.max(0, base * spread)));
}
