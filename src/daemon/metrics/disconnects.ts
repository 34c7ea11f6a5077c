// alsa_health_disconnects_total: the device went away (ENODEV, unplug, card unbind).

import type { Registry } from 'prom-client';
import type { HealthView } from '../view.js';
import { lifetimeCounter } from './lifetimeCounter.js';

export function disconnects(registry: Registry, view: HealthView): void {
  lifetimeCounter(registry, view, 'alsa_health_disconnects_total', 'Times the device disconnected.', 'disconnects');
}
