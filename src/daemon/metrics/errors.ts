// alsa_health_errors_total: PCM errors other than xruns (EIO, EBADFD, failed opens, ...).

import type { Registry } from 'prom-client';
import type { HealthView } from '../view.js';
import { lifetimeCounter } from './lifetimeCounter.js';

export function errors(registry: Registry, view: HealthView): void {
  lifetimeCounter(registry, view, 'alsa_health_errors_total', 'PCM errors seen by the monitor.', 'errors');
}
