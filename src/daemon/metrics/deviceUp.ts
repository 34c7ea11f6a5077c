// alsa_health_device_up{device}: 1 while the PCM is open and moving frames.

import { Gauge, type Registry } from 'prom-client';
import type { HealthView } from '../view.js';

export const NAME = 'alsa_health_device_up';

export function deviceUp(registry: Registry, view: HealthView): Gauge<'device'> {
  return new Gauge<'device'>({
    name: NAME,
    help: '1 while the device is open and moved frames in its last sample window, else 0.',
    labelNames: ['device'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const d of view.devices()) this.set({ device: d.name }, d.up ? 1 : 0);
    },
  });
}
