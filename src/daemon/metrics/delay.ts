// alsa_health_delay_seconds{device}: mean ALSA delay (snd_pcm_delay) of each sample window.

import { Histogram, type Registry } from 'prom-client';
import type { HealthSample } from '../../types.js';

export const NAME = 'alsa_health_delay_seconds';

export function delay(registry: Registry): Histogram<'device'> {
  return new Histogram<'device'>({
    name: NAME,
    help: 'Mean ALSA delay (frames queued between the application and the hardware) in each sample window.',
    labelNames: ['device'] as const,
    buckets: [0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.5, 1],
    registers: [registry],
  });
}

export function observeDelay(h: Histogram<'device'>, device: string, s: HealthSample): void {
  if (s.periods > 0) h.observe({ device }, s.delayUsMean / 1e6);
}
