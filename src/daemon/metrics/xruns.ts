// alsa_health_xruns_total and alsa_health_lost_frames_total: ALSA over/underruns and the frames they cost.

import type { Registry } from 'prom-client';
import type { HealthView } from '../view.js';
import { lifetimeCounter } from './lifetimeCounter.js';

export function xruns(registry: Registry, view: HealthView): void {
  lifetimeCounter(registry, view, 'alsa_health_xruns_total', 'ALSA xruns (capture overruns, playback underruns).', 'xruns');
  lifetimeCounter(registry, view, 'alsa_health_lost_frames_total', 'Frames lost to xruns.', 'lostFrames');
}
