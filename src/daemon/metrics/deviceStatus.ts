// alsa_health_device_status{device,status}: one series per status, 1 for the current one.

import { Gauge, type Registry } from 'prom-client';
import { STATUSES, type HealthView } from '../view.js';

export const NAME = 'alsa_health_device_status';

export function deviceStatus(registry: Registry, view: HealthView): Gauge<'device' | 'status'> {
  return new Gauge<'device' | 'status'>({
    name: NAME,
    help: 'Health status of the device: 1 for the current status, 0 for the others.',
    labelNames: ['device', 'status'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const d of view.devices()) {
        for (const s of STATUSES) this.set({ device: d.name, status: s }, d.status === s ? 1 : 0);
      }
    },
  });
}
