import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RecoveryController, type RecoveryControllerOptions } from '../../src/recovery/index.js';
import { memoryLogger, silent } from '../health/helpers.js';

const unhandled: unknown[] = [];
const onUnhandled = (r: unknown): void => {
  unhandled.push(r);
};

beforeEach(() => {
  vi.useFakeTimers();
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
  vi.useRealTimers();
});

function controller(opts: RecoveryControllerOptions = {}): RecoveryController {
  return new RecoveryController({ logger: silent(), now: () => Date.now(), random: () => 0.5, ...opts });
}

/** Lets timers and the promise chains they start run. */
const advance = (ms: number) => vi.advanceTimersByTimeAsync(ms);

describe('RecoveryController', () => {
  it('runs reopen first, then the callbacks in registration order, with the device name', async () => {
    const calls: string[] = [];
    const c = controller();
    c.registerCallback('b', (d) => void calls.push(`b:${d}`));
    c.registerCallback('a', async (d) => void calls.push(`a:${d}`));
    c.setReopen('hw:1,0', async () => void calls.push('reopen'));
    c.request('hw:1,0');
    expect(calls).toEqual([]); // never synchronously inside the caller (a PCM's own listener)
    await advance(0);
    expect(calls).toEqual(['reopen', 'b:hw:1,0', 'a:hw:1,0']);
    expect(c.snapshot('hw:1,0')).toMatchObject({ phase: 'settled', attempts: 1, gaveUp: false });
  });

  it('re-registering a name replaces the callback in place (seed map semantics)', async () => {
    const calls: string[] = [];
    const c = controller();
    c.registerCallback('first', () => void calls.push('old-first'));
    c.registerCallback('second', () => void calls.push('second'));
    c.registerCallback('first', () => void calls.push('new-first'));
    c.request('d');
    await advance(0);
    expect(calls).toEqual(['new-first', 'second']);
  });

  it('is single-flight: requests while an attempt runs or waits start nothing', async () => {
    let calls = 0;
    const c = controller();
    c.registerCallback('slow', () => {
      calls++;
      return new Promise<void>((r) => setTimeout(r, 3000));
    });
    c.request('d');
    for (let i = 0; i < 20; i++) {
      await advance(100);
      c.request('d');
    }
    expect(calls).toBe(1);
    expect(c.snapshot('d').phase).toBe('running');
    await advance(1000);
    expect(c.snapshot('d').phase).toBe('settled');
    expect(calls).toBe(1);
  });

  it('backs off 250 → 500 → 1000 ms between failed attempts, then succeeds', async () => {
    const at: number[] = [];
    const t0 = Date.now();
    let n = 0;
    const c = controller();
    c.registerCallback('cb', () => {
      at.push(Date.now() - t0);
      if (++n <= 3) throw new Error(`fail ${n}`);
    });
    const successes: number[] = [];
    c.on('success', (e) => successes.push(e.attempt));
    c.request('d');
    await advance(5000);
    expect(at).toEqual([0, 250, 750, 1750]);
    expect(successes).toEqual([4]);
  });

  it('a success while still critical keeps the backoff for the next request; a good period resets it', async () => {
    let calls = 0;
    const c = controller();
    c.registerCallback('cb', () => void calls++);
    c.request('d');
    await advance(0);
    expect(calls).toBe(1);
    c.request('d'); // still critical right after a "successful" attempt
    await advance(249);
    expect(calls).toBe(1);
    await advance(1);
    expect(calls).toBe(2);
    c.noteGood('d');
    expect(c.snapshot('d')).toMatchObject({ phase: 'idle', attempts: 0 });
    c.request('d');
    await advance(0);
    expect(calls).toBe(3);
  });

  it('a callback that never settles times out and the next attempt still runs', async () => {
    const c = controller({ config: { attemptTimeoutMs: 1000 } });
    let calls = 0;
    c.registerCallback('hang', () => {
      calls++;
      return calls === 1 ? new Promise<void>(() => {}) : undefined;
    });
    const failures: { timedOut: boolean; nextDelayMs: number | null }[] = [];
    c.on('failure', (e) => failures.push(e));
    c.request('d');
    await advance(999);
    expect(c.snapshot('d').phase).toBe('running');
    await advance(1);
    expect(failures).toEqual([expect.objectContaining({ timedOut: true, nextDelayMs: 250 })]);
    await advance(250);
    expect(calls).toBe(2);
    expect(c.snapshot('d').phase).toBe('settled');
  });

  it('the attempt signal aborts at the timeout, and actions after a hung one are skipped', async () => {
    const c = controller({ config: { attemptTimeoutMs: 500, maxAttempts: 1 } });
    let signal: AbortSignal | undefined;
    let release!: () => void;
    const after = vi.fn();
    c.registerCallback('hang', (_d, ctx) => {
      signal = ctx.signal;
      return new Promise<void>((r) => (release = r));
    });
    c.registerCallback('after', after);
    c.request('d');
    await advance(500);
    expect(signal?.aborted).toBe(true);
    release(); // the hung callback finally returns: too late, nothing more runs
    await advance(0);
    expect(after).not.toHaveBeenCalled();
    expect(c.snapshot('d').phase).toBe('gaveUp');
  });

  it('callbacks that throw, reject or reject late never become unhandled rejections', async () => {
    const { logger, lines } = memoryLogger('error');
    const c = controller({ logger, config: { attemptTimeoutMs: 100, maxAttempts: 3 } });
    let rejectLate!: (e: Error) => void;
    c.registerCallback('throws', () => {
      throw new Error('sync boom');
    });
    c.registerCallback('rejects', () => Promise.reject(new Error('async boom')));
    c.registerCallback('late', () => new Promise<void>((_r, j) => (rejectLate = j)));
    c.request('d');
    await advance(100); // times out waiting for 'late'
    rejectLate(new Error('late boom'));
    await advance(10_000);
    expect(unhandled).toEqual([]);
    const msgs = lines.map((l) => `${l.msg}|${String(l.err)}`);
    expect(msgs).toContain('recovery action failed|sync boom');
    expect(msgs).toContain('recovery action failed|async boom');
    expect(msgs).toContain('recovery action failed after its attempt ended|late boom');
  });

  it('after maxAttempts failures marks gaveUp and escalates once; requests then do nothing', async () => {
    const c = controller({ config: { maxAttempts: 3 } });
    const cb = vi.fn(() => Promise.reject(new Error('EBUSY')));
    c.registerCallback('cb', cb);
    const escalations: unknown[] = [];
    c.on('escalate', (e) => escalations.push(e));
    c.request('d');
    await advance(60_000);
    expect(cb).toHaveBeenCalledTimes(3);
    expect(escalations).toEqual([{ device: 'd', attempts: 3, lastError: 'cb: EBUSY' }]);
    expect(c.snapshot('d')).toMatchObject({ phase: 'gaveUp', gaveUp: true, attempts: 3 });
    c.request('d');
    await advance(60_000);
    expect(cb).toHaveBeenCalledTimes(3);
    expect(escalations).toHaveLength(1);
    c.noteGood('d'); // the device came back by itself
    expect(c.snapshot('d').gaveUp).toBe(false);
  });

  it('attempts that "succeed" but never bring the device back still count toward maxAttempts', async () => {
    const c = controller({ config: { maxAttempts: 3 } });
    const cb = vi.fn();
    c.registerCallback('noop', cb);
    const escalations = vi.fn();
    c.on('escalate', escalations);
    for (let i = 0; i < 100; i++) {
      c.request('d'); // the monitor asks at every assessment while the device stays critical
      await advance(100);
    }
    expect(cb).toHaveBeenCalledTimes(3);
    expect(escalations).toHaveBeenCalledTimes(1);
    expect(c.snapshot('d').gaveUp).toBe(true);
  });

  it('a scheduled retry is skipped when the device is no longer in trouble', async () => {
    let needed = true;
    const c = controller({ isNeeded: () => needed });
    const cb = vi.fn(() => Promise.reject(new Error('no')));
    c.registerCallback('cb', cb);
    c.request('d');
    await advance(0);
    needed = false;
    await advance(10_000);
    expect(cb).toHaveBeenCalledTimes(1);
    expect(c.snapshot('d').phase).toBe('settled');
  });

  it('devices recover independently', async () => {
    const seen: string[] = [];
    const c = controller();
    c.registerCallback('cb', (d) => {
      seen.push(d);
      return new Promise<void>((r) => setTimeout(r, 1000));
    });
    c.request('hw:0,0');
    c.request('hw:1,0');
    c.request('mock:x');
    await advance(0);
    expect(seen.sort()).toEqual(['hw:0,0', 'hw:1,0', 'mock:x']);
  });

  it('stop() cancels a pending retry and ignores the late result of an attempt in flight', async () => {
    const c = controller();
    let finish!: () => void;
    const cb = vi.fn(() => new Promise<void>((r) => (finish = r)));
    c.registerCallback('cb', cb);
    const successes = vi.fn();
    c.on('success', successes);
    c.request('d');
    await advance(0);
    c.stop();
    finish();
    await advance(60_000);
    expect(successes).not.toHaveBeenCalled();
    c.request('d'); // stopped: ignored
    await advance(1000);
    expect(cb).toHaveBeenCalledTimes(1);
  });

  it('a listener that throws does not break recovery', async () => {
    const { logger, lines } = memoryLogger('error');
    const c = controller({ logger });
    c.on('attempt', () => {
      throw new Error('listener bug');
    });
    const cb = vi.fn();
    c.registerCallback('cb', cb);
    c.request('d');
    await advance(0);
    expect(cb).toHaveBeenCalledTimes(1);
    expect(c.snapshot('d').phase).toBe('settled');
    expect(lines.some((l) => l.msg === 'recovery event listener threw')).toBe(true);
    expect(unhandled).toEqual([]);
  });

  it('logs attempts at warn and failures at error with { component, device }', async () => {
    const { logger, lines } = memoryLogger('info');
    const c = controller({ logger, config: { maxAttempts: 1 } });
    c.registerCallback('cb', () => Promise.reject(new Error('EIO')));
    c.request('hw:1,0');
    await advance(0);
    const attempt = lines.find((l) => l.msg === 'recovery attempt');
    const failed = lines.find((l) => l.msg === 'recovery attempt failed');
    expect(attempt).toMatchObject({ level: 40, component: 'recovery', device: 'hw:1,0' });
    expect(failed).toMatchObject({ level: 50, component: 'recovery', device: 'hw:1,0', err: 'cb: EIO' });
  });
});
