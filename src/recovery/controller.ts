// RecoveryController: heals one device at a time per device (single flight),
// with backoff, a timeout per attempt and a give-up rule. Replaces the seed's
// fire-and-forget goroutines (seed defect 3).

import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import { backoffDelayMs } from './backoff.js';
import { resolveRecoveryConfig, type RecoveryConfig } from './config.js';
import type { RecoveryCallback, RecoveryEvents, RecoveryPhase, RecoveryState } from './types.js';

export interface RecoveryControllerOptions {
  config?: Partial<RecoveryConfig>;
  logger?: Logger;
  /** Monotonic milliseconds; injectable for tests. */
  now?: () => number;
  /** [0, 1) for the jitter; injectable so tests see the exact schedule. */
  random?: () => number;
  /**
   * Asked when a scheduled retry comes due: is the device still in trouble?
   * Without it every scheduled retry runs.
   */
  isNeeded?: (device: string) => boolean;
}

type Action = { name: string; run: RecoveryCallback };

interface DeviceState {
  phase: RecoveryPhase;
  attempts: number;
  /** Bumped whenever an in-flight attempt must be forgotten (finish, stop, reset). */
  token: number;
  timer: NodeJS.Timeout | null;
  abort: AbortController | null;
  nextAt: number | null;
  /** A retry requested after a success still waits this long since the success. */
  earliestNextAt: number;
  lastError: string | null;
  reopen: (() => Promise<void>) | null;
  log: Logger;
}

export class RecoveryController extends EventEmitter<RecoveryEvents> {
  readonly config: RecoveryConfig;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly isNeeded: (device: string) => boolean;
  private readonly callbacks = new Map<string, RecoveryCallback>();
  private readonly devices = new Map<string, DeviceState>();
  private stopped = false;

  constructor(opts: RecoveryControllerOptions = {}) {
    super();
    this.config = resolveRecoveryConfig(opts.config);
    this.log = (opts.logger ?? pino({ level: 'warn' })).child({ component: 'recovery' });
    this.now = opts.now ?? (() => performance.now());
    this.random = opts.random ?? Math.random;
    this.isNeeded = opts.isNeeded ?? (() => true);
  }

  /** Same name again replaces the callback and keeps its place in the order (the seed's map semantics). */
  registerCallback(name: string, callback: RecoveryCallback): void {
    this.callbacks.set(name, callback);
    this.log.info({ callback: name }, 'registered recovery callback');
  }

  unregisterCallback(name: string): boolean {
    return this.callbacks.delete(name);
  }

  /** The device's own reopen (a PcmStream's), run before the callbacks; null when the source cannot reopen. */
  setReopen(device: string, reopen: (() => Promise<void>) | null): void {
    this.state(device).reopen = reopen;
  }

  /** The device is critical. Starts or schedules an attempt unless one is already running or due. */
  request(device: string): void {
    if (this.stopped) return;
    const st = this.state(device);
    if (st.phase === 'running' || st.phase === 'waiting' || st.phase === 'gaveUp') return;
    if (st.attempts >= this.config.maxAttempts) {
      this.giveUp(device, st);
      return;
    }
    const wait = st.attempts === 0 ? 0 : Math.max(0, st.earliestNextAt - this.now());
    this.schedule(device, st, wait);
  }

  /**
   * The device moved audio again. Clears the attempt count, a pending retry
   * and a give-up; an attempt in flight is left to finish.
   */
  noteGood(device: string): void {
    const st = this.devices.get(device);
    if (!st || st.phase === 'running' || (st.phase === 'idle' && st.attempts === 0)) return;
    const attempts = st.attempts;
    this.cancel(st);
    st.phase = 'idle';
    st.attempts = 0;
    st.earliestNextAt = 0;
    st.lastError = null;
    if (attempts > 0) st.log.info({ attempts }, 'device streams again; recovery reset');
    this.safeEmit('reset', { device, attempts });
  }

  snapshot(device: string): RecoveryState {
    const st = this.devices.get(device);
    if (!st) return { phase: 'idle', attempts: 0, gaveUp: false, nextAttemptInMs: null, lastError: null };
    return {
      phase: st.phase,
      attempts: st.attempts,
      gaveUp: st.phase === 'gaveUp',
      nextAttemptInMs: st.phase === 'waiting' && st.nextAt !== null ? Math.max(0, st.nextAt - this.now()) : null,
      lastError: st.lastError,
    };
  }

  /** Forgets a device: cancels its timers; a late result of its attempt is ignored. */
  forget(device: string): void {
    const st = this.devices.get(device);
    if (!st) return;
    this.cancel(st);
    this.devices.delete(device);
  }

  start(): void {
    this.stopped = false;
  }

  /** Cancels every pending retry and aborts attempts in flight; their late results are ignored. */
  stop(): void {
    this.stopped = true;
    for (const st of this.devices.values()) {
      this.cancel(st);
      if (st.phase === 'running' || st.phase === 'waiting') st.phase = 'idle';
    }
  }

  private state(device: string): DeviceState {
    let st = this.devices.get(device);
    if (!st) {
      st = {
        phase: 'idle',
        attempts: 0,
        token: 0,
        timer: null,
        abort: null,
        nextAt: null,
        earliestNextAt: 0,
        lastError: null,
        reopen: null,
        log: this.log.child({ device }),
      };
      this.devices.set(device, st);
    }
    return st;
  }

  private cancel(st: DeviceState): void {
    if (st.timer) clearTimeout(st.timer);
    st.timer = null;
    st.nextAt = null;
    st.abort?.abort();
    st.abort = null;
    st.token++;
  }

  private schedule(device: string, st: DeviceState, waitMs: number): void {
    st.phase = 'waiting';
    st.nextAt = this.now() + waitMs;
    // Even a zero wait goes through a timer: the request usually comes from
    // inside the source's own event listener, and reopening the PCM from
    // within its callback is asking for trouble.
    st.timer = setTimeout(() => {
      st.timer = null;
      st.nextAt = null;
      if (this.stopped) return;
      if (!this.isNeeded(device)) {
        st.phase = st.attempts > 0 ? 'settled' : 'idle';
        return;
      }
      this.runAttempt(device, st);
    }, waitMs);
    st.timer.unref?.();
  }

  private runAttempt(device: string, st: DeviceState): void {
    st.phase = 'running';
    st.attempts++;
    const attempt = st.attempts;
    const token = ++st.token;
    const abort = new AbortController();
    st.abort = abort;
    const started = this.now();
    st.log.warn({ attempt, maxAttempts: this.config.maxAttempts }, 'recovery attempt');
    this.safeEmit('attempt', { device, attempt });

    const finish = (error: string | null, timedOut: boolean): void => {
      if (st.token !== token) return; // stale: timed out, stopped or reset meanwhile
      clearTimeout(timeout);
      st.token++;
      st.abort = null;
      abort.abort();
      if (error === null) this.succeeded(device, st, attempt, this.now() - started);
      else this.failed(device, st, attempt, error, timedOut);
    };
    const timeout = setTimeout(
      () => finish(`timed out after ${this.config.attemptTimeoutMs} ms`, true),
      this.config.attemptTimeoutMs,
    );
    timeout.unref?.();
    void this.runActions(device, st, attempt, abort.signal).then(
      (errors) => finish(errors.length === 0 ? null : errors.join('; '), false),
      (err: unknown) => finish(`recovery controller: ${describe(err)}`, false),
    );
  }

  /** Every action in order; one failing does not skip the rest (a callback may be what lets the next reopen work). */
  private async runActions(device: string, st: DeviceState, attempt: number, signal: AbortSignal): Promise<string[]> {
    const actions: Action[] = [];
    const reopen = st.reopen;
    if (reopen) actions.push({ name: 'reopen', run: () => reopen() });
    for (const [name, run] of this.callbacks) actions.push({ name, run });
    const errors: string[] = [];
    for (const action of actions) {
      if (signal.aborted) break;
      try {
        // Inside .then so that a callback that throws synchronously is caught like a rejection.
        await Promise.resolve().then(() => action.run(device, { attempt, signal }));
        st.log.debug({ attempt, action: action.name }, 'recovery action done');
      } catch (err) {
        const msg = `${action.name}: ${describe(err)}`;
        if (signal.aborted) {
          st.log.error({ attempt, action: action.name, err: describe(err) }, 'recovery action failed after its attempt ended');
        } else {
          st.log.error({ attempt, action: action.name, err: describe(err) }, 'recovery action failed');
          errors.push(msg);
        }
      }
    }
    return errors;
  }

  private succeeded(device: string, st: DeviceState, attempt: number, durationMs: number): void {
    st.phase = 'settled';
    st.lastError = null;
    // If the device is still critical later (reopened but not streaming), the
    // retry keeps the backoff instead of hammering it.
    st.earliestNextAt = this.now() + backoffDelayMs(attempt, this.config, this.random());
    st.log.warn({ attempt, durationMs }, 'recovery attempt succeeded');
    this.safeEmit('success', { device, attempt, durationMs });
  }

  private failed(device: string, st: DeviceState, attempt: number, error: string, timedOut: boolean): void {
    st.lastError = error;
    if (attempt >= this.config.maxAttempts) {
      st.log.error({ attempt, err: error, timedOut }, 'recovery attempt failed');
      this.safeEmit('failure', { device, attempt, error, timedOut, nextDelayMs: null });
      this.giveUp(device, st);
      return;
    }
    const delay = backoffDelayMs(attempt, this.config, this.random());
    st.log.error({ attempt, err: error, timedOut, nextDelayMs: delay }, 'recovery attempt failed');
    this.safeEmit('failure', { device, attempt, error, timedOut, nextDelayMs: delay });
    if (!this.stopped && st.phase === 'running') this.schedule(device, st, delay);
  }

  private giveUp(device: string, st: DeviceState): void {
    this.cancel(st);
    st.phase = 'gaveUp';
    st.log.error({ attempts: st.attempts, err: st.lastError }, 'recovery gave up; escalating');
    this.safeEmit('escalate', { device, attempts: st.attempts, lastError: st.lastError });
  }

  /** A listener that throws must not break the controller's state machine nor become an unhandled rejection. */
  private safeEmit<K extends keyof RecoveryEvents>(event: K, ...args: RecoveryEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: RecoveryEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      this.log.error({ event, err: describe(err) }, 'recovery event listener threw');
    }
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
