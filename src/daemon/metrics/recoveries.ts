// alsa_health_recovery_{attempts,successes,failures}_total: what the recovery controller did.

import type { Registry } from 'prom-client';
import type { HealthView } from '../view.js';
import { lifetimeCounter } from './lifetimeCounter.js';

export function recoveries(registry: Registry, view: HealthView): void {
  lifetimeCounter(registry, view, 'alsa_health_recovery_attempts_total', 'Recovery attempts (reopen + callbacks).', 'recoveryAttempts');
  lifetimeCounter(registry, view, 'alsa_health_recovery_successes_total', 'Recovery attempts that succeeded.', 'recoveries');
  lifetimeCounter(registry, view, 'alsa_health_recovery_failures_total', 'Recovery attempts that failed or timed out.', 'recoveryFailures');
}
