// One test per seed defect (DESIGN.md "Seed defects to fix"). Each name cites
// the line of shared/seed/device_health.go.txt whose logic would fail it.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HealthMonitor, healthDefaults, scoreOf, type HealthMonitorConfigInput, type StatusChange } from '../../src/health/index.js';
import { FakeSource, fakeNow, silent } from './helpers.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function started(config: HealthMonitorConfigInput = {}): { m: HealthMonitor; changes: StatusChange[] } {
  const m = new HealthMonitor(config, { logger: silent(), now: fakeNow, random: () => 0.5 });
  const changes: StatusChange[] = [];
  m.on('status', (c) => changes.push(c));
  m.start();
  return { m, changes };
}

describe('seed defects', () => {
  it('defect 1 — seed :171-173 ErrorRate = TotalErrors / time.Since(LastErrorTime) right after setting it: one error is 1/min over the window, not an absurd rate', () => {
    const { m } = started();
    m.recordSuccess('hw:0,0');
    m.recordError('hw:0,0', new Error('EIO'));
    // The seed divides by the nanoseconds since the error it just stamped: a rate in the millions, "failing".
    expect(m.metrics('hw:0,0')!.window.errorRatePerMin).toBe(1);
    expect(m.status('hw:0,0')).toBe('degraded');
    // Six errors spread over the minute are at the limit (6/min), not over it; the seventh is.
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(9000);
      m.recordError('hw:0,0');
      m.recordSuccess('hw:0,0');
    }
    expect(m.metrics('hw:0,0')!.window.errorRatePerMin).toBe(6);
    expect(m.status('hw:0,0')).toBe('degraded');
    m.recordError('hw:0,0');
    expect(m.status('hw:0,0')).toBe('failing');
    m.stop();
  });

  it('defect 2 — seed :55 DeviceDisconnects is never incremented: disconnects are counted and the device stays critical until it streams again', () => {
    const { m } = started({ checkIntervalMs: 1000, hysteresisMs: 0, recovery: { maxAttempts: 1 } });
    const src = new FakeSource('hw:1,0', 'playback');
    src.reopenImpl = () => Promise.reject(Object.assign(new Error('No such device'), { code: 'ENODEV' }));
    m.watch(src);
    src.sample();
    src.event('disconnect', { errno: 'ENODEV' });
    m.recordDisconnect('hw:1,0'); // the seed-compatible way counts too
    expect(m.metrics('hw:1,0')!.totals.disconnects).toBe(2);
    vi.advanceTimersByTime(30_000); // 30 periodic checks
    expect(m.status('hw:1,0')).toBe('critical');
    src.sample(); // audio moves again
    expect(m.status('hw:1,0')).not.toBe('critical');
    expect(m.metrics('hw:1,0')).toMatchObject({ disconnected: false, streaming: true });
    m.stop();
  });

  it('defect 3 — seed :384-396 starts a goroutine per callback at every check while critical: recovery is single-flight with backoff and a give-up rule', async () => {
    const { m } = started({ checkIntervalMs: 100, recovery: { maxAttempts: 4, attemptTimeoutMs: 2000 } });
    let running = 0;
    let maxRunning = 0;
    const startedAt: number[] = [];
    const t0 = Date.now();
    m.registerRecoveryCallback('restart-gadget', async () => {
      startedAt.push(Date.now() - t0);
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((r) => setTimeout(r, 50));
      running--;
      throw new Error('still broken');
    });
    const escalations: string[] = [];
    m.on('escalate', (e) => escalations.push(e.device));
    for (let i = 0; i < 3; i++) m.recordError('usb', new Error('EIO'));
    await vi.advanceTimersByTimeAsync(120_000); // 1200 checks while critical
    expect(startedAt).toEqual([0, 300, 850, 1900]); // attempt + 50 ms, then 250 / 500 / 1000 ms waits
    expect(maxRunning).toBe(1);
    expect(escalations).toEqual(['usb']);
    const snap = m.snapshot().devices['usb']!;
    expect(snap.totals).toMatchObject({ recoveryAttempts: 4, recoveryFailures: 4, recoveries: 0 });
    expect(snap.recovery).toMatchObject({ phase: 'gaveUp', gaveUp: true });
    m.stop();
  });

  it('defect 4 — seed :206 bumps HealthScore +0.1 on success and :326 overwrites it: the score has one definition, scoreOf(window)', () => {
    const { m } = started();
    m.recordSuccess('hw:0,0');
    m.recordError('hw:0,0');
    m.recordError('hw:0,0');
    const after2 = m.snapshot().devices['hw:0,0']!;
    expect(after2.score).toBe(scoreOf(after2, healthDefaults));
    expect(after2.score).toBeCloseTo(0.633, 3);
    const scores: number[] = [];
    for (let i = 0; i < 5; i++) {
      m.recordSuccess('hw:0,0');
      const s = m.snapshot().devices['hw:0,0']!;
      expect(s.score).toBe(scoreOf(s, healthDefaults));
      scores.push(s.score);
    }
    // The seed would climb 0.1 per success; here successes only clear the consecutive-error penalty.
    expect(scores).toEqual([0.833, 0.833, 0.833, 0.833, 0.833]);
  });

  it('defect 5 — seed :158-163 knows only "capture" and "playback" and drops other devices: any number of named devices', () => {
    const { m } = started();
    const names = ['hw:0,0', 'hw:1,0', 'mock:hdmi', 'usb-gadget', 'capture', ...Array.from({ length: 60 }, (_, i) => `dev${i}`)];
    names.forEach((n, i) => {
      for (let k = 0; k <= i % 3; k++) m.recordError(n, new Error('EIO'));
    });
    const snap = m.snapshot();
    expect(Object.keys(snap.devices)).toHaveLength(65);
    names.forEach((n, i) => expect(snap.devices[n]!.totals.errors).toBe((i % 3) + 1));
    expect(snap.devices['capture']!.direction).toBe('capture');
    m.stop();
  });

  it('defect 6 — seed :341 and :345 judge lifetime LatencySpikes / TotalErrors, so "failing" is forever: status reads the window, totals are reported', () => {
    const { m, changes } = started({ checkIntervalMs: 1000 });
    const src = new FakeSource('hw:0,0');
    m.watch(src);
    const feed = setInterval(() => src.sample(), 100);
    for (let i = 0; i < 11; i++) {
      src.sample({ latenessUsMax: 150_000, latenessUsMean: 40_000 });
      m.recordError('hw:0,0');
    }
    expect(m.status('hw:0,0')).toBe('failing');
    vi.advanceTimersByTime(70_000); // window (60 s) + hysteresis (5 s) + a check
    expect(m.status('hw:0,0')).toBe('healthy');
    expect(m.metrics('hw:0,0')!.totals).toMatchObject({ latencySpikes: 11, errors: 11 });
    expect(m.metrics('hw:0,0')!.window).toMatchObject({ latencySpikes: 0, errors: 0 });
    expect(changes.map((c) => c.to)).toEqual(['degraded', 'failing', 'healthy']);
    clearInterval(feed);
    m.stop();
  });

  it('defect 7 — seed :138 and :337 cast a plain number to time.Duration (10000 = 10 µs): every duration is ms and named ...Ms', () => {
    const durationKeys = Object.keys(healthDefaults).filter((k) => /interval|timeout|window|hysteresis|threshold.*ms/i.test(k) && k !== 'windowBuckets');
    expect(durationKeys.every((k) => k.endsWith('Ms'))).toBe(true);
    expect(Object.keys(healthDefaults.recovery).filter((k) => /backoff|timeout/i.test(k) && k !== 'backoffFactor').every((k) => k.endsWith('Ms'))).toBe(true);
    expect(() => new HealthMonitor({ supervisorTimeout: 10_000 } as never)).toThrow(/unknown setting/);
    const { m } = started({ supervisorTimeoutMs: 10_000, checkIntervalMs: 500 });
    m.recordSuccess('hw:0,0');
    vi.advanceTimersByTime(1); // the seed is critical already: 1 ms > 10 µs
    expect(m.status('hw:0,0')).toBe('healthy');
    vi.advanceTimersByTime(9999);
    expect(m.status('hw:0,0')).toBe('healthy');
    vi.advanceTimersByTime(500);
    expect(m.status('hw:0,0')).toBe('critical');
    m.stop();
  });
});
