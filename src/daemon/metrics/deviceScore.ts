// alsa_health_device_score{device}: the monitor's health score, 0..1.

import { Gauge, type Registry } from 'prom-client';
import type { HealthView } from '../view.js';

export const NAME = 'alsa_health_device_score';

export function deviceScore(registry: Registry, view: HealthView): Gauge<'device'> {
  return new Gauge<'device'>({
    name: NAME,
    help: 'Health score of the device, 0 (dead) to 1 (perfect), over the monitor window.',
    labelNames: ['device'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const d of view.devices()) this.set({ device: d.name }, d.score);
    },
  });
}
