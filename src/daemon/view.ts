// What /metrics, /health and `alsa-health status` read: one flat record per
// configured device, built from the monitor's snapshot at request time.

import type { Direction } from '../types.js';

export const STATUSES = ['unknown', 'healthy', 'degraded', 'failing', 'critical'] as const;
export type Status = (typeof STATUSES)[number];

/** Lifetime totals, monotonic while the daemon runs (reset when a device is removed from the config). */
export interface DeviceTotals {
  frames: number;
  xruns: number;
  lostFrames: number;
  errors: number;
  disconnects: number;
  recoveryAttempts: number;
  recoveries: number;
  recoveryFailures: number;
  latencySpikes: number;
  consumerDropped: number;
  starved: number;
}

export interface DeviceView {
  /** The config's name for the device. */
  name: string;
  pcm: string;
  direction: Direction;
  status: Status;
  score: number;
  reasons: string[];
  /** The PCM is open and moved frames in its last sample window. */
  up: boolean;
  /** Recovery gave up on it (the watchdog is no longer fed). */
  gaveUp: boolean;
  totals: DeviceTotals;
  /** The monitor's own snapshot entry for the device, passed through to /health. */
  detail?: unknown;
}

export interface HealthView {
  devices(): DeviceView[];
}

/** /health answers 200 only while every device is healthy or degraded. */
export function isServing(d: DeviceView): boolean {
  return !d.gaveUp && (d.status === 'healthy' || d.status === 'degraded');
}

export const emptyTotals = (): DeviceTotals => ({
  frames: 0,
  xruns: 0,
  lostFrames: 0,
  errors: 0,
  disconnects: 0,
  recoveryAttempts: 0,
  recoveries: 0,
  recoveryFailures: 0,
  latencySpikes: 0,
  consumerDropped: 0,
  starved: 0,
});
