// Public shapes of the health layer: statuses, metrics, snapshot, events.

import type { Direction } from '../types.js';
import type { RecoveryState } from '../recovery/types.js';

export type HealthStatus = 'unknown' | 'healthy' | 'degraded' | 'failing' | 'critical';

/** Monotonic since the device was first seen; reported, never used to decide a status (seed defect 6). */
export interface LifetimeTotals {
  frames: number;
  goodPeriods: number;
  errors: number;
  /** underruns + overruns */
  xruns: number;
  underruns: number;
  overruns: number;
  lostFrames: number;
  latencySpikes: number;
  disconnects: number;
  suspends: number;
  recoveryAttempts: number;
  /** Recovery attempts that succeeded. */
  recoveries: number;
  recoveryFailures: number;
  /** Capture frames JS did not drain in time. */
  consumerDropped: number;
  /** Playback frames JS did not feed in time. */
  starved: number;
  /** Frame accounting terms summed over every sample (see HealthSample); deviceFrames null unless every source knew it (mock). */
  deliveredFrames: number;
  discardedFrames: number;
  paddingFrames: number;
  deviceFrames: number | null;
  /** The last sample's frames in flight. */
  pendingFrames: number;
  /** Worst wake-up lateness / recorded latency ever seen, ms. */
  latenessMsMax: number;
  /** Longest xrun ever seen ("at least"), ms. */
  xrunMsMax: number;
}

/** Figures over the sliding window (the last windowMs, at windowMs / windowBuckets resolution). */
export interface WindowFigures {
  windowMs: number;
  errors: number;
  /** errors in the window × 60000 / windowMs: a plain average, never a division by a tiny interval (seed defect 1). */
  errorRatePerMin: number;
  xruns: number;
  underruns: number;
  overruns: number;
  lostFrames: number;
  latencySpikes: number;
  disconnects: number;
  suspends: number;
  goodPeriods: number;
  frames: number;
  /** Period wake-up lateness, ms: mean over periods, max, p99 of per-sample worst values (bucketed, rounded up). null: no data. */
  latenessMsMean: number | null;
  latenessMsMax: number | null;
  latenessMsP99: number | null;
  /** ALSA delay, ms. */
  delayMsMean: number | null;
  delayMsMax: number | null;
  xrunMsMax: number | null;
  consumerDropped: number;
  starved: number;
}

/** Everything statusOf / scoreOf read: plain data, no clock. */
export interface DeviceMetrics {
  device: string;
  direction: Direction | null;
  /** Anything recorded yet? A device with no data is `unknown`. */
  seen: boolean;
  consecutiveErrors: number;
  disconnected: boolean;
  suspended: boolean;
  /** The last sample moved frames. */
  streaming: boolean;
  /** Since the last good period (or since watching began, if none yet); null when not expected to stream. */
  sinceGoodMs: number | null;
  lastErrno: string | null;
  lastError: string | null;
  totals: LifetimeTotals;
  window: WindowFigures;
}

export interface Assessment {
  status: HealthStatus;
  /** Why the device is not healthy; empty when healthy or unknown. */
  reasons: string[];
}

export interface StatusChange {
  device: string;
  from: HealthStatus;
  to: HealthStatus;
  score: number;
  reasons: string[];
}

export interface DeviceSnapshot extends DeviceMetrics {
  status: HealthStatus;
  score: number;
  reasons: string[];
  /** How long the current status has been shown. */
  statusForMs: number;
  watched: boolean;
  recovery: RecoveryState;
}

export interface HealthSnapshot {
  running: boolean;
  devices: Record<string, DeviceSnapshot>;
}
