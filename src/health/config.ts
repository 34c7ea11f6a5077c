// HealthMonitor settings: names and defaults from DESIGN.md "Defaults" (the
// seed's configuration). Every duration is in milliseconds and its name ends
// in `Ms` (seed defect 7: the seed cast a plain number to a Duration).

import { recoveryDefaults, resolveRecoveryConfig, type RecoveryConfig } from '../recovery/config.js';

export interface HealthMonitorConfig {
  /** Periodic assessment (besides the one after every event). */
  checkIntervalMs: number;
  /** Consecutive errors that make a device critical. */
  recoveryThreshold: number;
  /** Wake-up lateness (or recorded latency) at or above this counts as a latency spike. */
  latencyThresholdMs: number;
  /** Errors per minute, averaged over the window, above which a device is failing. */
  errorRateLimit: number;
  /** No good period for longer than this: critical. */
  supervisorTimeoutMs: number;
  /** Latency spikes in the window above which a device is failing (the seed's name). */
  maxDroppedFrames: number;
  /** The sliding window every status rule reads. */
  windowMs: number;
  /** The window is kept as this many fixed buckets: memory is bounded, resolution is windowMs / windowBuckets. */
  windowBuckets: number;
  /** A better status must hold this long before it is shown (a worse one is shown at once): no flapping. */
  hysteresisMs: number;
  recovery: RecoveryConfig;
}

export const healthDefaults: Readonly<HealthMonitorConfig> = Object.freeze({
  checkIntervalMs: 5000,
  recoveryThreshold: 3,
  latencyThresholdMs: 100,
  errorRateLimit: 6,
  supervisorTimeoutMs: 10_000,
  maxDroppedFrames: 10,
  windowMs: 60_000,
  windowBuckets: 60,
  hysteresisMs: 5000,
  recovery: recoveryDefaults,
});

/** What callers pass: any subset, recovery included. */
export type HealthMonitorConfigInput = Partial<Omit<HealthMonitorConfig, 'recovery'>> & {
  recovery?: Partial<RecoveryConfig>;
};

type Rule = { min: number; integer?: boolean; exclusive?: boolean };
const RULES: Record<Exclude<keyof HealthMonitorConfig, 'recovery'>, Rule> = {
  checkIntervalMs: { min: 0, exclusive: true },
  recoveryThreshold: { min: 1, integer: true },
  latencyThresholdMs: { min: 0, exclusive: true },
  errorRateLimit: { min: 0, exclusive: true },
  supervisorTimeoutMs: { min: 0, exclusive: true },
  maxDroppedFrames: { min: 0, integer: true },
  windowMs: { min: 0, exclusive: true },
  windowBuckets: { min: 1, integer: true },
  hysteresisMs: { min: 0 },
};

/**
 * Defaults overlaid with `input`. Throws a RangeError naming the first bad
 * key; an unknown key is an error too, so a seed-style `supervisorTimeout: 10`
 * (no unit) cannot slip through as something else.
 */
export function resolveHealthConfig(input: HealthMonitorConfigInput = {}): HealthMonitorConfig {
  const { recovery, ...rest } = input;
  const out: HealthMonitorConfig = { ...healthDefaults, recovery: resolveRecoveryConfig(recovery) };
  for (const [key, value] of Object.entries(rest)) {
    const rule = (RULES as Record<string, Rule | undefined>)[key];
    if (!rule) throw new RangeError(`${key}: unknown setting`);
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new RangeError(`${key}: must be a finite number`);
    if (rule.exclusive ? value <= rule.min : value < rule.min) {
      throw new RangeError(`${key}: must be ${rule.exclusive ? 'greater than' : 'at least'} ${rule.min}`);
    }
    if (rule.integer && !Number.isInteger(value)) throw new RangeError(`${key}: must be a whole number`);
    (out as unknown as Record<string, number>)[key] = value;
  }
  return out;
}
