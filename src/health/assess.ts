// Pure judgement of a device's metrics: status with reasons, score, and the
// hysteresis that keeps a status from flapping. Every rule reads the window
// (seed defect 6: lifetime counters made a device "failing" forever).

import type { Assessment, DeviceMetrics, HealthStatus } from './types.js';

export type AssessConfig = {
  recoveryThreshold: number;
  latencyThresholdMs: number;
  errorRateLimit: number;
  supervisorTimeoutMs: number;
  maxDroppedFrames: number;
};

export const SEVERITY: Readonly<Record<HealthStatus, number>> = {
  unknown: 0,
  healthy: 1,
  degraded: 2,
  failing: 3,
  critical: 4,
};

const fmt = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(1));
const plural = (n: number, word: string): string => `${fmt(n)} ${word}${n === 1 ? '' : 's'}`;

/**
 * critical: consecutive errors ≥ recoveryThreshold, disconnected, or no good
 *           period for more than supervisorTimeoutMs;
 * failing:  error rate over errorRateLimit (per minute, over the window) or
 *           more than maxDroppedFrames latency spikes in the window;
 * degraded: any error, xrun, latency spike, disconnect or suspend in the
 *           window, or errors not yet cleared by a good period;
 * healthy:  none of these. Reasons list every rule that fired, worst first.
 * A device with no data yet is unknown, unless a watched source has been
 * silent past the supervisor timeout.
 */
export function statusOf(m: DeviceMetrics, c: AssessConfig): Assessment {
  const w = m.window;
  const critical: string[] = [];
  const failing: string[] = [];
  const degraded: string[] = [];

  if (m.consecutiveErrors >= c.recoveryThreshold) {
    critical.push(`${m.consecutiveErrors} consecutive errors (limit ${c.recoveryThreshold})`);
  }
  if (m.disconnected) critical.push('disconnected');
  if (m.sinceGoodMs !== null && m.sinceGoodMs > c.supervisorTimeoutMs) {
    critical.push(`no good period for ${fmt(m.sinceGoodMs / 1000)} s (limit ${fmt(c.supervisorTimeoutMs / 1000)} s)`);
  }
  // A watched source that never reported anything is unknown, until the supervisor timeout says it is dead.
  if (!m.seen) return critical.length > 0 ? { status: 'critical', reasons: critical } : { status: 'unknown', reasons: [] };

  if (w.errorRatePerMin > c.errorRateLimit) {
    failing.push(`error rate ${fmt(w.errorRatePerMin)}/min over the last ${fmt(w.windowMs / 1000)} s (limit ${fmt(c.errorRateLimit)}/min)`);
  }
  if (w.latencySpikes > c.maxDroppedFrames) {
    failing.push(`${plural(w.latencySpikes, 'latency spike')} in the window (limit ${c.maxDroppedFrames})`);
  }

  if (m.consecutiveErrors > 0 && m.consecutiveErrors < c.recoveryThreshold) {
    degraded.push(`${plural(m.consecutiveErrors, 'consecutive error')}`);
  }
  if (w.errors > 0 && failing.length === 0) degraded.push(`${plural(w.errors, 'error')} in the window`);
  if (w.xruns > 0) degraded.push(`${plural(w.xruns, 'xrun')} in the window`);
  if (w.latencySpikes > 0 && w.latencySpikes <= c.maxDroppedFrames) {
    degraded.push(`${plural(w.latencySpikes, 'latency spike')} ≥ ${c.latencyThresholdMs} ms in the window`);
  }
  if (w.latenessMsMean !== null && w.latenessMsMean > c.latencyThresholdMs) {
    degraded.push(`mean lateness ${fmt(w.latenessMsMean)} ms (limit ${c.latencyThresholdMs} ms)`);
  }
  if (w.disconnects > 0 && !m.disconnected) degraded.push(`${plural(w.disconnects, 'disconnect')} in the window`);
  if (m.suspended) degraded.push('suspended');
  else if (w.suspends > 0) degraded.push(`${plural(w.suspends, 'suspend')} in the window`);

  const reasons = [...critical, ...failing, ...degraded];
  const status: HealthStatus =
    critical.length > 0 ? 'critical' : failing.length > 0 ? 'failing' : degraded.length > 0 ? 'degraded' : 'healthy';
  return { status, reasons };
}

/**
 * 0 (dead) .. 1 (perfect), from the same figures as the status and nothing
 * else (seed defect 4: the seed bumped the score on success, then overwrote
 * it). 0 while disconnected or past the supervisor timeout; otherwise
 * penalties, each capped, as in the seed but over the window:
 * consecutive errors 0.1 each (max 0.3), error rate up to 0.5 at the limit,
 * mean lateness over the threshold up to 0.3 at twice it, latency spikes up
 * to 0.2 at maxDroppedFrames, xruns 0.01 each (max 0.2).
 */
export function scoreOf(m: DeviceMetrics, c: AssessConfig): number {
  if (m.disconnected) return 0;
  if (m.sinceGoodMs !== null && m.sinceGoodMs > c.supervisorTimeoutMs) return 0;
  if (!m.seen) return 1;
  const w = m.window;
  let score = 1;
  score -= Math.min(0.3, m.consecutiveErrors * 0.1);
  score -= Math.min(0.5, (w.errorRatePerMin / c.errorRateLimit) * 0.5);
  if (w.latenessMsMean !== null && w.latenessMsMean > c.latencyThresholdMs) {
    score -= Math.min(0.3, ((w.latenessMsMean - c.latencyThresholdMs) / c.latencyThresholdMs) * 0.3);
  }
  score -= Math.min(0.2, (w.latencySpikes / Math.max(1, c.maxDroppedFrames)) * 0.2);
  score -= Math.min(0.2, w.xruns * 0.01);
  // Rounded so that the score does not jitter in the last digits between equal states.
  return Math.round(Math.max(0, Math.min(1, score)) * 1000) / 1000;
}

/** The shown status plus, while a better one is pending, since when it has held. */
export interface ShownStatus {
  status: HealthStatus;
  betterSinceMs: number | null;
}

/**
 * Hysteresis: a worse status is shown at once (trouble must not wait); a
 * better one only after it has held for `holdMs` without the device getting
 * worse again, so a figure hovering on a boundary does not flap.
 */
export function settleStatus(shown: ShownStatus, computed: HealthStatus, nowMs: number, holdMs: number): ShownStatus {
  if (computed === 'unknown') return shown;
  if (shown.status === 'unknown' || SEVERITY[computed] > SEVERITY[shown.status]) {
    return { status: computed, betterSinceMs: null };
  }
  if (computed === shown.status) return { status: shown.status, betterSinceMs: null };
  const since = shown.betterSinceMs ?? nowMs;
  if (nowMs - since >= holdMs) return { status: computed, betterSinceMs: null };
  return { status: shown.status, betterSinceMs: since };
}
