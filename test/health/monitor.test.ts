import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HealthMonitor, type HealthMonitorConfigInput, type StatusChange } from '../../src/health/index.js';
import { FakeSource, ObserverSource, fakeNow, memoryLogger, silent } from './helpers.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function monitor(config: HealthMonitorConfigInput = {}, logger = silent()): { m: HealthMonitor; changes: StatusChange[] } {
  const m = new HealthMonitor(config, { logger, now: fakeNow, random: () => 0.5 });
  const changes: StatusChange[] = [];
  m.on('status', (c) => changes.push(c));
  return { m, changes };
}

describe('HealthMonitor lifecycle', () => {
  it('starting twice is an error, stopping twice is not (seed Start/Stop)', () => {
    const { m } = monitor();
    m.start();
    expect(m.running).toBe(true);
    expect(() => m.start()).toThrow(/already running/);
    m.stop();
    m.stop();
    expect(m.running).toBe(false);
    m.start(); // and it can start again
    expect(m.running).toBe(true);
    m.stop();
  });

  it('records while stopped but judges nothing until start()', () => {
    const { m, changes } = monitor();
    m.recordError('hw:0,0', new Error('EIO'));
    expect(m.status('hw:0,0')).toBe('unknown');
    expect(changes).toEqual([]);
    expect(m.snapshot().devices['hw:0,0']?.totals.errors).toBe(1);
    m.start();
    expect(m.status('hw:0,0')).toBe('degraded');
    expect(changes).toEqual([
      { device: 'hw:0,0', from: 'unknown', to: 'degraded', score: expect.any(Number), reasons: ['1 consecutive error', '1 error in the window'] },
    ]);
    m.stop();
  });

  it('re-assesses every checkIntervalMs without new events', () => {
    const { m } = monitor({ supervisorTimeoutMs: 2000, checkIntervalMs: 1000 });
    m.start();
    m.recordSuccess('usb');
    expect(m.status('usb')).toBe('healthy');
    vi.advanceTimersByTime(2000);
    expect(m.status('usb')).toBe('healthy'); // exactly 2 s: not over the timeout
    vi.advanceTimersByTime(1000);
    expect(m.status('usb')).toBe('critical');
    m.stop();
  });
});

describe('HealthMonitor.watch', () => {
  it('good samples make a device healthy and count periods and frames', () => {
    const { m, changes } = monitor();
    const src = new FakeSource('hw:0,0', 'capture');
    m.watch(src);
    m.start();
    src.sample();
    src.sample();
    expect(changes.map((c) => `${c.from}->${c.to}`)).toEqual(['unknown->healthy']);
    const d = m.snapshot().devices['hw:0,0']!;
    expect(d.totals).toMatchObject({ goodPeriods: 10, frames: 9600 });
    expect(d.window).toMatchObject({ goodPeriods: 10, latenessMsMean: 0.2, latenessMsMax: 0.4, delayMsMean: 20, delayMsMax: 40 });
    expect(d).toMatchObject({ direction: 'capture', streaming: true, watched: true, score: 1, reasons: [] });
    m.stop();
  });

  it('counts an xrun once although both the event and the sample report it', () => {
    const { m } = monitor();
    const cap = new FakeSource('hw:0,0', 'capture');
    const play = new FakeSource('hw:1,0', 'playback');
    m.watch(cap);
    m.watch(play);
    m.start();
    cap.event('xrun', { durationUs: 12_000, lostFrames: 576 });
    cap.sample({ xruns: 1, xrunUsMax: 12_000, lostFrames: 576 });
    play.event('xrun', { durationUs: 3000 });
    play.sample({ xruns: 1, xrunUsMax: 3000, lostFrames: 144 });
    const s = m.snapshot().devices;
    expect(s['hw:0,0']!.totals).toMatchObject({ xruns: 1, overruns: 1, underruns: 0, lostFrames: 576, xrunMsMax: 12 });
    expect(s['hw:1,0']!.totals).toMatchObject({ xruns: 1, overruns: 0, underruns: 1, lostFrames: 144 });
    expect(s['hw:0,0']!.window).toMatchObject({ xruns: 1, xrunMsMax: 12 });
    expect(s['hw:0,0']!.status).toBe('degraded');
    m.stop();
  });

  it('a sample whose worst wake-up is ≥ latencyThresholdMs counts one latency spike', () => {
    const { m } = monitor();
    const src = new FakeSource('hw:0,0');
    m.watch(src);
    m.start();
    src.sample({ latenessUsMax: 99_999 });
    expect(m.metrics('hw:0,0')!.window.latencySpikes).toBe(0);
    src.sample({ latenessUsMax: 100_000, latenessUsMean: 30_000 });
    expect(m.metrics('hw:0,0')!.window.latencySpikes).toBe(1);
    expect(m.metrics('hw:0,0')!.totals.latenessMsMax).toBe(100);
    expect(m.status('hw:0,0')).toBe('degraded');
    m.stop();
  });

  it("'error' events count as errors; three in a row make the device critical", () => {
    const { m } = monitor({ recovery: { maxAttempts: 1 } });
    const src = new FakeSource('hw:0,0');
    src.reopenImpl = () => new Promise(() => {});
    m.watch(src);
    m.start();
    src.sample();
    for (let i = 0; i < 3; i++) src.event('error', { errno: 'EIO', message: 'Input/output error' });
    const d = m.snapshot().devices['hw:0,0']!;
    expect(d).toMatchObject({ status: 'critical', consecutiveErrors: 3, lastErrno: 'EIO', lastError: 'Input/output error' });
    expect(d.totals.errors).toBe(3);
    src.sample(); // periods flow again: the errors stop being consecutive
    expect(m.metrics('hw:0,0')!.consecutiveErrors).toBe(0);
    m.stop();
  });

  it("'disconnect' → critical until streaming resumes; 'reopened' alone clears disconnected, not the wait for audio", () => {
    const { m } = monitor({ hysteresisMs: 0 });
    const src = new FakeSource('hw:1,0', 'playback');
    src.reopenImpl = () => new Promise(() => {}); // keep recovery out of the way
    m.watch(src);
    m.start();
    src.sample();
    src.event('disconnect', { errno: 'ENODEV' });
    expect(m.status('hw:1,0')).toBe('critical');
    src.sample({ periods: 0, frames: 0, state: 'disconnected', latenessUsMax: 0, latenessUsMean: 0, delayUsMax: 0, delayUsMean: 0 });
    expect(m.status('hw:1,0')).toBe('critical');
    src.event('reopened');
    expect(m.metrics('hw:1,0')).toMatchObject({ disconnected: false, streaming: false });
    src.sample();
    expect(m.status('hw:1,0')).toBe('degraded'); // streams again; the disconnect stays in the window
    expect(m.snapshot().devices['hw:1,0']!.reasons).toEqual(['1 disconnect in the window']);
    expect(m.metrics('hw:1,0')!.totals.disconnects).toBe(1);
    m.stop();
  });

  it('a sample that moved periods but reports the device disconnected does not clear the disconnect', () => {
    const { m } = monitor({ hysteresisMs: 0 });
    const src = new FakeSource('hw:1,0');
    src.reopenImpl = () => new Promise(() => {});
    m.watch(src);
    m.start();
    src.sample();
    src.event('disconnect', { errno: 'ENODEV' });
    src.sample({ periods: 3, frames: 2880, state: 'disconnected' }); // the window the device vanished in
    expect(m.metrics('hw:1,0')!.disconnected).toBe(true);
    expect(m.status('hw:1,0')).toBe('critical');
    m.stop();
  });

  it('after unwatch, silence is no longer a fault', () => {
    const { m } = monitor({ checkIntervalMs: 1000 });
    const src = new FakeSource('hw:0,0');
    const unwatch = m.watch(src);
    m.start();
    src.sample();
    unwatch();
    vi.advanceTimersByTime(60_000);
    expect(m.status('hw:0,0')).toBe('healthy');
    expect(m.metrics('hw:0,0')!.sinceGoodMs).toBeNull();
    m.stop();
  });

  it("'suspend' is degraded and counted; 'resume' clears it", () => {
    const { m } = monitor();
    const src = new FakeSource('hw:0,0');
    m.watch(src);
    m.start();
    src.sample();
    src.event('suspend');
    expect(m.snapshot().devices['hw:0,0']).toMatchObject({ status: 'degraded', suspended: true, reasons: ['suspended'] });
    src.event('resume');
    expect(m.metrics('hw:0,0')).toMatchObject({ suspended: false, totals: expect.objectContaining({ suspends: 1 }) });
    m.stop();
  });

  it("'reopenFailed' is not counted a second time (the recovery controller counts the failed attempt)", () => {
    const { m } = monitor();
    const src = new FakeSource('hw:0,0');
    m.watch(src);
    m.start();
    src.sample();
    src.event('reopenFailed', { errno: 'EBUSY' });
    expect(m.metrics('hw:0,0')).toMatchObject({ lastErrno: 'EBUSY', consecutiveErrors: 0, totals: expect.objectContaining({ errors: 0 }) });
    m.stop();
  });

  it('a watched source silent for supervisorTimeoutMs → critical, even if it never reported anything', () => {
    const { m, changes } = monitor({ checkIntervalMs: 1000, recovery: { maxAttempts: 1 } });
    const src = new ObserverSource('hw:1,0');
    m.watch(src);
    m.start();
    vi.advanceTimersByTime(10_000);
    expect(m.status('hw:1,0')).toBe('unknown'); // nothing seen yet: no verdict
    vi.advanceTimersByTime(1000);
    expect(m.status('hw:1,0')).toBe('critical');
    expect(changes).toEqual([expect.objectContaining({ from: 'unknown', to: 'critical', score: 0, reasons: ['no good period for 11 s (limit 10 s)'] })]);
    m.stop();
  });

  it('unwatch removes the listeners and the reopen action', async () => {
    const { m } = monitor();
    const src = new FakeSource('hw:0,0');
    const unwatch = m.watch(src, { name: 'hdmi' });
    expect(src.listenerCount('sample')).toBe(1);
    m.start();
    src.sample();
    expect(m.status('hdmi')).toBe('healthy');
    unwatch();
    unwatch();
    expect(src.listenerCount('sample')).toBe(0);
    expect(src.listenerCount('event')).toBe(0);
    m.recordDisconnect('hdmi');
    await vi.advanceTimersByTimeAsync(1000);
    expect(src.reopenCalls).toBe(0);
    expect(m.snapshot().devices['hdmi']!.watched).toBe(false);
    m.stop();
  });

  it('a status listener that throws does not escape into the source', () => {
    const { logger, lines } = memoryLogger('error');
    const { m } = monitor({}, logger);
    m.on('status', () => {
      throw new Error('listener bug');
    });
    const src = new FakeSource('hw:0,0');
    m.watch(src);
    m.start();
    expect(() => src.sample()).not.toThrow();
    expect(m.status('hw:0,0')).toBe('healthy');
    expect(lines.some((l) => l.msg === 'health monitor listener threw')).toBe(true);
    m.stop();
  });
});

describe('HealthMonitor snapshot and logs', () => {
  it('snapshot() is plain JSON for every device', () => {
    const { m } = monitor();
    const src = new FakeSource('mock:hdmi');
    m.watch(src);
    m.start();
    src.sample();
    m.recordLatency('usb-gadget', 12);
    const snap = m.snapshot();
    expect(Object.keys(snap.devices).sort()).toEqual(['mock:hdmi', 'usb-gadget']);
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
    expect(snap.running).toBe(true);
    expect(snap.devices['usb-gadget']).toMatchObject({ direction: null, recovery: { phase: 'idle', attempts: 0, gaveUp: false } });
    m.stop();
  });

  it('logs status changes at info through a child logger { component, device }; no line per sample', () => {
    const { logger, lines } = memoryLogger('info');
    const { m } = monitor({}, logger);
    const src = new FakeSource('hw:0,0');
    m.watch(src);
    m.start();
    for (let i = 0; i < 100; i++) src.sample();
    const change = lines.filter((l) => l.msg === 'device health status changed');
    expect(change).toEqual([expect.objectContaining({ level: 30, component: 'health', device: 'hw:0,0', from: 'unknown', to: 'healthy' })]);
    expect(lines.length).toBeLessThan(5);
    m.stop();
  });
});
