// alsa_health_device_info{device,pcm,direction} 1: joins our device names to ALSA PCM names.

import { Gauge, type Registry } from 'prom-client';
import type { HealthView } from '../view.js';

export const NAME = 'alsa_health_device_info';

export function deviceInfo(registry: Registry, view: HealthView): Gauge<'device' | 'pcm' | 'direction'> {
  return new Gauge<'device' | 'pcm' | 'direction'>({
    name: NAME,
    help: 'Configured devices: the ALSA PCM and direction of each device name. Always 1.',
    labelNames: ['device', 'pcm', 'direction'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const d of view.devices()) this.set({ device: d.name, pcm: d.pcm, direction: d.direction }, 1);
    },
  });
}
