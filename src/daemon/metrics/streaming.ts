// alsa_health_frames_total, _consumer_dropped_frames_total, _starved_frames_total: audio moved and
// audio the daemon itself failed to drain / feed (not ALSA xruns).

import type { Registry } from 'prom-client';
import type { HealthView } from '../view.js';
import { lifetimeCounter } from './lifetimeCounter.js';

export function streaming(registry: Registry, view: HealthView): void {
  lifetimeCounter(registry, view, 'alsa_health_frames_total', 'Frames moved between the PCM and the daemon.', 'frames');
  lifetimeCounter(registry, view, 'alsa_health_latency_spikes_total', 'Period wake-ups later than latencyThresholdMs.', 'latencySpikes');
  lifetimeCounter(registry, view, 'alsa_health_consumer_dropped_frames_total', 'Capture frames the daemon did not drain in time.', 'consumerDropped');
  lifetimeCounter(registry, view, 'alsa_health_starved_frames_total', 'Playback frames the daemon did not feed in time (silence was played).', 'starved');
}
