import { describe, expect, it } from 'vitest';
import {
  healthDefaults,
  scoreOf,
  settleStatus,
  statusOf,
  type DeviceMetrics,
  type HealthStatus,
  type WindowFigures,
} from '../../src/health/index.js';

const cfg = healthDefaults;

type Over = Partial<Omit<DeviceMetrics, 'window'>> & { window?: Partial<WindowFigures> };

/** A device that streams cleanly, with `over` applied. */
function metrics(over: Over = {}): DeviceMetrics {
  const window: WindowFigures = {
    windowMs: 60_000,
    errors: 0,
    errorRatePerMin: 0,
    xruns: 0,
    underruns: 0,
    overruns: 0,
    lostFrames: 0,
    latencySpikes: 0,
    disconnects: 0,
    suspends: 0,
    goodPeriods: 3000,
    frames: 2_880_000,
    latenessMsMean: 0.3,
    latenessMsMax: 1,
    latenessMsP99: 1,
    delayMsMean: 20,
    delayMsMax: 40,
    xrunMsMax: null,
    consumerDropped: 0,
    starved: 0,
    ...over.window,
  };
  const { window: _w, ...rest } = over;
  return {
    device: 'hw:0,0',
    direction: 'capture',
    seen: true,
    consecutiveErrors: 0,
    disconnected: false,
    suspended: false,
    streaming: true,
    sinceGoodMs: 100,
    lastErrno: null,
    lastError: null,
    totals: {
      frames: 0, goodPeriods: 0, errors: 0, xruns: 0, underruns: 0, overruns: 0, lostFrames: 0, latencySpikes: 0,
      disconnects: 0, suspends: 0, recoveryAttempts: 0, recoveries: 0, recoveryFailures: 0, consumerDropped: 0,
      starved: 0, latenessMsMax: 0, xrunMsMax: 0,
    },
    window,
    ...rest,
  };
}

describe('statusOf: one row per rule', () => {
  it.each<[string, Over, HealthStatus, RegExp | null]>([
    ['nothing recorded yet', { seen: false }, 'unknown', null],
    ['clean streaming', {}, 'healthy', null],
    // critical
    ['consecutive errors = recoveryThreshold', { consecutiveErrors: 3, window: { errors: 3, errorRatePerMin: 3 } }, 'critical', /3 consecutive errors \(limit 3\)/],
    ['consecutive errors above recoveryThreshold', { consecutiveErrors: 7, window: { errors: 7, errorRatePerMin: 7 } }, 'critical', /7 consecutive errors/],
    ['disconnected', { disconnected: true, streaming: false }, 'critical', /^disconnected$/],
    ['no good period for more than supervisorTimeoutMs', { sinceGoodMs: 10_001 }, 'critical', /no good period for 10\.0 s \(limit 10 s\)/],
    ['no good period for exactly supervisorTimeoutMs (seed uses >)', { sinceGoodMs: 10_000 }, 'healthy', null],
    ['never expected to stream (manual feeding, no success yet)', { sinceGoodMs: null }, 'healthy', null],
    // failing
    ['error rate over the limit', { window: { errors: 7, errorRatePerMin: 7 } }, 'failing', /error rate 7\/min over the last 60 s \(limit 6\/min\)/],
    ['error rate at the limit is not over it', { window: { errors: 6, errorRatePerMin: 6 } }, 'degraded', /6 errors in the window/],
    ['latency spikes over maxDroppedFrames', { window: { latencySpikes: 11 } }, 'failing', /11 latency spikes in the window \(limit 10\)/],
    ['latency spikes at maxDroppedFrames', { window: { latencySpikes: 10 } }, 'degraded', /10 latency spikes ≥ 100 ms/],
    // degraded
    ['one error in the window', { window: { errors: 1, errorRatePerMin: 1 } }, 'degraded', /1 error in the window/],
    ['a consecutive error not yet cleared', { consecutiveErrors: 1, window: { errors: 1, errorRatePerMin: 1 } }, 'degraded', /1 consecutive error$/],
    ['one xrun in the window', { window: { xruns: 1, underruns: 1 } }, 'degraded', /1 xrun in the window/],
    ['one latency spike', { window: { latencySpikes: 1 } }, 'degraded', /1 latency spike ≥ 100 ms/],
    ['mean lateness over latencyThresholdMs', { window: { latenessMsMean: 150 } }, 'degraded', /mean lateness 150 ms \(limit 100 ms\)/],
    ['a disconnect earlier in the window, streaming again', { window: { disconnects: 1 } }, 'degraded', /1 disconnect in the window/],
    ['suspended now', { suspended: true, window: { suspends: 1 } }, 'degraded', /^suspended$/],
    ['a suspend earlier in the window', { window: { suspends: 2 } }, 'degraded', /2 suspends in the window/],
    // windowed: lifetime totals never decide (seed defect 6)
    ['huge lifetime totals, clean window', { totals: { ...metrics().totals, errors: 1e6, latencySpikes: 1e6, xruns: 1e6 } }, 'healthy', null],
    // dropped / starved frames are reported, not judged (a playback device nobody feeds would be "degraded" forever)
    ['consumer drops and starved frames', { window: { consumerDropped: 960, starved: 960 } }, 'healthy', null],
  ])('%s → %s', (_name, over, status, reason) => {
    const a = statusOf(metrics(over), cfg);
    expect(a.status).toBe(status);
    if (reason) expect(a.reasons.some((r) => reason.test(r))).toBe(true);
    else expect(a.reasons).toEqual([]);
  });

  it('lists every rule that fired, worst first', () => {
    const a = statusOf(metrics({ disconnected: true, window: { latencySpikes: 12, xruns: 2 } }), cfg);
    expect(a.status).toBe('critical');
    expect(a.reasons).toEqual(['disconnected', '12 latency spikes in the window (limit 10)', '2 xruns in the window']);
  });

  it('reads thresholds from the config', () => {
    const strict = { ...cfg, errorRateLimit: 0.5, recoveryThreshold: 1 };
    expect(statusOf(metrics({ consecutiveErrors: 1, window: { errors: 1, errorRatePerMin: 1 } }), strict).status).toBe('critical');
    expect(statusOf(metrics({ window: { errors: 1, errorRatePerMin: 1 } }), strict).status).toBe('failing');
  });
});

describe('scoreOf', () => {
  it.each<[string, Over, number]>([
    ['clean', {}, 1],
    ['unknown', { seen: false }, 1],
    ['disconnected', { disconnected: true }, 0],
    ['past the supervisor timeout', { sinceGoodMs: 20_000 }, 0],
    ['2 consecutive errors (and 2 in the window: rate 2/6 of the limit)', { consecutiveErrors: 2, window: { errors: 2, errorRatePerMin: 2 } }, 0.633],
    ['error rate at the limit', { window: { errors: 6, errorRatePerMin: 6 } }, 0.5],
    ['error rate far over the limit: capped penalty', { window: { errors: 600, errorRatePerMin: 600 } }, 0.5],
    ['mean lateness 150 ms (50 % over)', { window: { latenessMsMean: 150 } }, 0.85],
    ['5 latency spikes of 10 allowed', { window: { latencySpikes: 5 } }, 0.9],
    ['3 xruns', { window: { xruns: 3 } }, 0.97],
    ['1000 xruns: capped', { window: { xruns: 1000 } }, 0.8],
    ['everything at once, floored at 0', { consecutiveErrors: 9, window: { errors: 600, errorRatePerMin: 600, latenessMsMean: 1000, latencySpikes: 50, xruns: 1000 } }, 0],
  ])('%s → %f', (_name, over, score) => {
    expect(scoreOf(metrics(over), cfg)).toBeCloseTo(score, 3);
  });

  it('is a pure function: same figures, same score', () => {
    const m = metrics({ window: { xruns: 4, latencySpikes: 2 } });
    expect(scoreOf(m, cfg)).toBe(scoreOf(structuredClone(m), cfg));
  });

  it('only falls as each figure gets worse', () => {
    let prev = 1;
    for (let x = 0; x <= 30; x++) {
      const s = scoreOf(metrics({ window: { xruns: x, errors: x, errorRatePerMin: x } }), cfg);
      expect(s).toBeLessThanOrEqual(prev);
      expect(s).toBeGreaterThanOrEqual(0);
      prev = s;
    }
  });
});

describe('settleStatus (hysteresis)', () => {
  const hold = 5000;
  it.each<[string, HealthStatus, number | null, HealthStatus, number, HealthStatus, number | null]>([
    // name, shown, betterSince, computed, now, → shown, betterSince
    ['first assessment leaves unknown at once', 'unknown', null, 'critical', 0, 'critical', null],
    ['worse is shown at once', 'healthy', null, 'failing', 0, 'failing', null],
    ['worse cancels a pending improvement', 'degraded', 1000, 'failing', 2000, 'failing', null],
    ['better starts the hold', 'critical', null, 'healthy', 1000, 'critical', 1000],
    ['better, hold not over', 'critical', 1000, 'healthy', 5999, 'critical', 1000],
    ['better, hold over', 'critical', 1000, 'degraded', 6000, 'degraded', null],
    ['back to the shown status resets the hold', 'failing', 1000, 'failing', 3000, 'failing', null],
    ['computed unknown keeps what is shown', 'degraded', null, 'unknown', 0, 'degraded', null],
  ])('%s', (_n, shown, since, computed, now, toStatus, toSince) => {
    expect(settleStatus({ status: shown, betterSinceMs: since }, computed, now, hold)).toEqual({
      status: toStatus,
      betterSinceMs: toSince,
    });
  });

  it('a figure hovering on the failing boundary does not flap', () => {
    let shown = { status: 'degraded' as HealthStatus, betterSinceMs: null as number | null };
    const changes: HealthStatus[] = [];
    // error rate 6.0 / 6.5 /min alternating every second for a minute
    for (let t = 0; t < 60_000; t += 1000) {
      const rate = (t / 1000) % 2 === 0 ? 6.5 : 6;
      const computed = statusOf(metrics({ window: { errors: rate, errorRatePerMin: rate } }), cfg).status;
      const next = settleStatus(shown, computed, t, hold);
      if (next.status !== shown.status) changes.push(next.status);
      shown = next;
    }
    expect(changes).toEqual(['failing']);
  });
});
