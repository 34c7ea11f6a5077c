// alsa_health_period_lateness_seconds{device}: the worst period wake-up of each sample window.
// Observed once per HealthSample (not per period), so it costs one call per window.

import { Histogram, type Registry } from 'prom-client';
import type { HealthSample } from '../../types.js';

export const NAME = 'alsa_health_period_lateness_seconds';

export function lateness(registry: Registry): Histogram<'device'> {
  return new Histogram<'device'>({
    name: NAME,
    help: 'Worst period wake-up lateness (against the ideal schedule) in each sample window.',
    labelNames: ['device'] as const,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
}

export function observeLateness(h: Histogram<'device'>, device: string, s: HealthSample): void {
  // A PcmObserver cannot know the owner's wake-ups: its lateness is null.
  if (s.periods > 0 && s.latenessUsMax !== null) h.observe({ device }, s.latenessUsMax / 1e6);
}
