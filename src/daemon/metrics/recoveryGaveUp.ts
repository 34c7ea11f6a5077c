// alsa_health_recovery_gave_up{device}: 1 once recovery stopped trying (the systemd watchdog then starves).

import { Gauge, type Registry } from 'prom-client';
import type { HealthView } from '../view.js';

export const NAME = 'alsa_health_recovery_gave_up';

export function recoveryGaveUp(registry: Registry, view: HealthView): Gauge<'device'> {
  return new Gauge<'device'>({
    name: NAME,
    help: '1 when recovery of the device gave up after its maximum attempts, else 0.',
    labelNames: ['device'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const d of view.devices()) this.set({ device: d.name }, d.gaveUp ? 1 : 0);
    },
  });
}
