// Recovery settings and their defaults. Every duration is in milliseconds and
// its name ends in `Ms` (the seed cast a bare number to a Duration: seed defect 7).

export interface RecoveryConfig {
  /** Wait after the first failed attempt; doubles (backoffFactor) after each further failure. */
  initialBackoffMs: number;
  /** Cap of the wait between attempts. */
  maxBackoffMs: number;
  /** Growth of the wait per failed attempt. */
  backoffFactor: number;
  /** Random spread of each wait, as a fraction: 0.2 = ±20 %. Spreads devices that failed together. */
  jitter: number;
  /** An attempt (reopen + every callback) that takes longer counts as failed; the next one is scheduled. */
  attemptTimeoutMs: number;
  /** Failed attempts before the device is marked gaveUp and `escalate` fires. */
  maxAttempts: number;
}

export const recoveryDefaults: Readonly<RecoveryConfig> = Object.freeze({
  initialBackoffMs: 250,
  maxBackoffMs: 30_000,
  backoffFactor: 2,
  jitter: 0.2,
  attemptTimeoutMs: 10_000,
  maxAttempts: 10,
});

const INTEGER_KEYS: ReadonlySet<keyof RecoveryConfig> = new Set(['maxAttempts']);

/** Defaults overlaid with `input`; throws a RangeError naming the first bad or unknown key. */
export function resolveRecoveryConfig(input: Partial<RecoveryConfig> = {}): RecoveryConfig {
  const out: RecoveryConfig = { ...recoveryDefaults };
  for (const [key, value] of Object.entries(input)) {
    if (!(key in recoveryDefaults)) throw new RangeError(`recovery.${key}: unknown setting`);
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new RangeError(`recovery.${key}: must be a finite number`);
    (out as unknown as Record<string, number>)[key] = value;
  }
  for (const key of Object.keys(out) as (keyof RecoveryConfig)[]) {
    const v = out[key];
    if (key === 'jitter') {
      if (v < 0 || v > 1) throw new RangeError('recovery.jitter: must be between 0 and 1');
    } else if (key === 'backoffFactor') {
      if (v < 1) throw new RangeError('recovery.backoffFactor: must be at least 1');
    } else if (v <= 0) {
      throw new RangeError(`recovery.${key}: must be greater than 0`);
    }
    if (INTEGER_KEYS.has(key) && !Number.isInteger(v)) throw new RangeError(`recovery.${key}: must be a whole number`);
  }
  if (out.maxBackoffMs < out.initialBackoffMs) {
    throw new RangeError(`recovery.maxBackoffMs: must be at least initialBackoffMs (${out.initialBackoffMs})`);
  }
  return out;
}
