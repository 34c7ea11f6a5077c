// A counter family that mirrors one lifetime total of every device at scrape time.

import { Counter, type Registry } from 'prom-client';
import type { DeviceTotals, HealthView } from '../view.js';

export function lifetimeCounter(
  registry: Registry,
  view: HealthView,
  name: `alsa_health_${string}_total`,
  help: string,
  field: keyof DeviceTotals,
): Counter<'device'> {
  return new Counter<'device'>({
    name,
    help,
    labelNames: ['device'] as const,
    registers: [registry],
    collect() {
      // The monitor owns the totals; the counter shows them as they are now.
      this.reset();
      for (const d of view.devices()) this.inc({ device: d.name }, d.totals[field]);
    },
  });
}
