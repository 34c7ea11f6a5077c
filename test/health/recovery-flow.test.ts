// The monitor and the recovery controller together, on fake time.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HealthMonitor, type RecoveryActivity, type StatusChange } from '../../src/health/index.js';
import { FakeSource, fakeNow, memoryLogger, silent } from './helpers.js';

const unhandled: unknown[] = [];
const onUnhandled = (r: unknown): void => void unhandled.push(r);

beforeEach(() => {
  vi.useFakeTimers();
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
  vi.useRealTimers();
});

describe('critical → recovery → healthy', () => {
  it('3 consecutive errors: critical, one recovery at a time, backoff 250 → 500 → 1000 ms, success, healthy once the window clears', async () => {
    const m = new HealthMonitor({ checkIntervalMs: 100 }, { logger: silent(), now: fakeNow, random: () => 0.5 });
    const changes: StatusChange[] = [];
    const activity: RecoveryActivity[] = [];
    m.on('status', (c) => changes.push(c));
    m.on('recovery', (a) => activity.push(a));
    const src = new FakeSource('hw:0,0', 'capture');
    const t0 = Date.now();
    const order: string[] = [];
    let opens = 0;
    src.reopenImpl = async () => {
      order.push(`reopen@${Date.now() - t0}`);
      if (++opens <= 3) throw Object.assign(new Error('Device or resource busy'), { code: 'EBUSY' });
    };
    m.registerRecoveryCallback('notify', async (device) => void order.push(`notify:${device}`));
    m.watch(src);
    m.start();

    src.sample();
    let streaming = true;
    const feed = setInterval(() => {
      if (streaming) src.sample();
    }, 100);
    await vi.advanceTimersByTimeAsync(1000);

    streaming = false; // the device stops moving audio and reports errors
    for (let i = 0; i < 3; i++) src.event('error', { errno: 'EIO' });
    expect(m.status('hw:0,0')).toBe('critical');
    await vi.advanceTimersByTimeAsync(1750); // attempts at +0, +250, +750, +1750
    expect(order).toEqual([
      'reopen@1000', 'notify:hw:0,0',
      'reopen@1250', 'notify:hw:0,0',
      'reopen@1750', 'notify:hw:0,0',
      'reopen@2750', 'notify:hw:0,0',
    ]);
    expect(activity.map((a) => `${a.type}${a.type === 'failure' ? `(${a.nextDelayMs})` : ''}`)).toEqual([
      'attempt', 'failure(250)', 'attempt', 'failure(500)', 'attempt', 'failure(1000)', 'attempt', 'success',
    ]);

    streaming = true; // reopened: audio flows again
    await vi.advanceTimersByTimeAsync(100);
    const snap = m.snapshot().devices['hw:0,0']!;
    expect(snap.recovery).toMatchObject({ phase: 'idle', attempts: 0 }); // reset by the first good period
    expect(snap.totals).toMatchObject({ recoveryAttempts: 4, recoveryFailures: 3, recoveries: 1, errors: 3 });
    expect(snap.status).toBe('critical'); // hysteresis: better must hold 5 s

    await vi.advanceTimersByTimeAsync(5000);
    expect(m.status('hw:0,0')).toBe('degraded'); // the 3 errors are still in the 60 s window
    expect(m.snapshot().devices['hw:0,0']!.reasons).toEqual(['3 errors in the window']);

    await vi.advanceTimersByTimeAsync(60_000);
    expect(m.status('hw:0,0')).toBe('healthy');
    expect(changes.map((c) => `${c.from}->${c.to}`)).toEqual([
      'unknown->healthy', 'healthy->degraded', 'degraded->critical', 'critical->degraded', 'degraded->healthy',
    ]);
    expect(changes[2]!.reasons).toContain('3 consecutive errors (limit 3)');
    expect(changes[4]!.score).toBe(1);
    // no recovery ever started again
    expect(activity.filter((a) => a.type === 'attempt')).toHaveLength(4);
    clearInterval(feed);
    m.stop();
    expect(unhandled).toEqual([]);
  });

  it('a callback that never settles times out and the next attempt still runs', async () => {
    const m = new HealthMonitor(
      { checkIntervalMs: 1000, recovery: { attemptTimeoutMs: 2000 } },
      { logger: silent(), now: fakeNow, random: () => 0.5 },
    );
    const calls: number[] = [];
    const t0 = Date.now();
    m.registerRecoveryCallback('hangs-once', () => {
      calls.push(Date.now() - t0);
      return calls.length === 1 ? new Promise<void>(() => {}) : Promise.resolve();
    });
    const failures: RecoveryActivity[] = [];
    m.on('recovery', (a) => a.type === 'failure' && failures.push(a));
    m.start();
    m.recordDisconnect('usb');
    await vi.advanceTimersByTimeAsync(2000);
    expect(failures).toEqual([expect.objectContaining({ type: 'failure', timedOut: true, attempt: 1, error: 'timed out after 2000 ms' })]);
    await vi.advanceTimersByTimeAsync(250);
    expect(calls).toEqual([0, 2250]);
    expect(m.snapshot().devices['usb']!.recovery.phase).toBe('settled');
    m.stop();
  });

  it('after maxAttempts: gaveUp, escalate (once), and the reason says so; a good period clears it', async () => {
    const { logger, lines } = memoryLogger('info');
    const m = new HealthMonitor({ recovery: { maxAttempts: 2 } }, { logger, now: fakeNow, random: () => 0.5 });
    const src = new FakeSource('hw:1,0', 'playback');
    src.reopenImpl = () => Promise.reject(Object.assign(new Error('No such device'), { code: 'ENODEV' }));
    const escalations: unknown[] = [];
    m.on('escalate', (e) => escalations.push(e));
    m.watch(src);
    m.start();
    src.sample();
    src.event('disconnect');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(escalations).toEqual([{ device: 'hw:1,0', attempts: 2, lastError: 'reopen: ENODEV: No such device' }]);
    expect(src.reopenCalls).toBe(2);
    const snap = m.snapshot().devices['hw:1,0']!;
    expect(snap.recovery).toMatchObject({ gaveUp: true, attempts: 2 });
    expect(snap.reasons[0]).toBe('recovery gave up after 2 attempts');
    expect(lines.find((l) => l.msg === 'recovery gave up; escalating')).toMatchObject({ level: 50, component: 'recovery', device: 'hw:1,0' });
    src.event('reopened');
    src.sample();
    expect(m.snapshot().devices['hw:1,0']!.recovery).toMatchObject({ gaveUp: false, attempts: 0 });
    m.stop();
  });

  it('a source without reopen() (a PcmObserver) is recovered by callbacks only', async () => {
    const m = new HealthMonitor({}, { logger: silent(), now: fakeNow, random: () => 0.5 });
    const cb = vi.fn();
    m.registerRecoveryCallback('restart-producer', cb);
    const { ObserverSource } = await import('./helpers.js');
    const src = new ObserverSource('hw:1,0');
    m.watch(src);
    m.start();
    src.emit('event', { type: 'disconnect', device: 'hw:1,0', direction: 'playback', tDetectNs: 0n });
    await vi.advanceTimersByTimeAsync(0);
    expect(cb).toHaveBeenCalledWith('hw:1,0', expect.objectContaining({ attempt: 1 }));
    m.stop();
  });

  it('stop() cancels pending recovery', async () => {
    const m = new HealthMonitor({}, { logger: silent(), now: fakeNow, random: () => 0.5 });
    const cb = vi.fn(() => Promise.reject(new Error('no')));
    m.registerRecoveryCallback('cb', cb);
    m.start();
    m.recordDisconnect('usb');
    await vi.advanceTimersByTimeAsync(0);
    m.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(cb).toHaveBeenCalledTimes(1);
  });
});
