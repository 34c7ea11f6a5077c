// HealthMonitor: keeps metrics per device, judges them on every event and
// every checkIntervalMs, emits `status` on each change and drives recovery.

import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import type { Direction, HealthSample, PcmEvent, PcmSource } from '../types.js';
import { RecoveryController } from '../recovery/controller.js';
import type { AttemptEvent, EscalateEvent, FailureEvent, RecoveryCallback, SuccessEvent } from '../recovery/types.js';
import { resolveHealthConfig, type HealthMonitorConfig, type HealthMonitorConfigInput } from './config.js';
import { DeviceRecorder } from './metrics.js';
import { applyEvent, applySample } from './feed.js';
import { scoreOf, settleStatus, statusOf, type ShownStatus } from './assess.js';
import type { DeviceMetrics, DeviceSnapshot, HealthSnapshot, HealthStatus, StatusChange } from './types.js';

export interface HealthMonitorOptions {
  /** Parent logger; the monitor logs through children `{ component, device }`. Default: pino at 'warn'. */
  logger?: Logger;
  /** Monotonic milliseconds. Default performance.now(); tests inject a fake clock. */
  now?: () => number;
  /** [0, 1) for the backoff jitter. */
  random?: () => number;
}

export interface WatchOptions {
  /** Key for the device in the monitor (snapshot, events, record*); default: the source's device name. */
  name?: string;
}

export type RecoveryActivity =
  | ({ type: 'attempt' } & AttemptEvent)
  | ({ type: 'success' } & SuccessEvent)
  | ({ type: 'failure' } & FailureEvent);

export interface HealthMonitorEvents {
  status: [StatusChange];
  recovery: [RecoveryActivity];
  escalate: [EscalateEvent];
}

interface Device {
  rec: DeviceRecorder;
  shown: ShownStatus;
  computed: HealthStatus;
  score: number;
  reasons: string[];
  changedAtMs: number;
  watchers: number;
  log: Logger;
}

export class HealthMonitor extends EventEmitter<HealthMonitorEvents> {
  readonly config: HealthMonitorConfig;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly recovery: RecoveryController;
  private readonly devices = new Map<string, Device>();
  private timer: NodeJS.Timeout | null = null;

  constructor(config: HealthMonitorConfigInput = {}, opts: HealthMonitorOptions = {}) {
    super();
    this.config = resolveHealthConfig(config);
    const root = opts.logger ?? pino({ level: 'warn' });
    this.log = root.child({ component: 'health' });
    this.now = opts.now ?? (() => performance.now());
    this.recovery = new RecoveryController({
      config: this.config.recovery,
      logger: root,
      now: this.now,
      ...(opts.random ? { random: opts.random } : {}),
      // A scheduled retry runs only if the device is still critical by its figures.
      isNeeded: (device) => this.running && this.devices.get(device)?.computed === 'critical',
    });
    this.recovery.stop(); // recovery runs only between start() and stop()
    this.recovery.on('attempt', (e) => this.onRecovery({ type: 'attempt', ...e }));
    this.recovery.on('success', (e) => this.onRecovery({ type: 'success', ...e }));
    this.recovery.on('failure', (e) => this.onRecovery({ type: 'failure', ...e }));
    this.recovery.on('escalate', (e) => {
      const dev = this.devices.get(e.device);
      if (dev) this.assess(dev, this.now());
      this.safeEmit('escalate', e);
    });
  }

  get running(): boolean {
    return this.timer !== null;
  }

  /**
   * Begins assessing (now and every checkIntervalMs) and recovering. Before
   * start() and after stop() metrics are still recorded, but nothing is
   * judged or healed. Starting twice is an error, as in the seed.
   */
  start(): void {
    if (this.timer) throw new Error('health monitor already running');
    this.timer = setInterval(() => this.checkAll(), this.config.checkIntervalMs);
    this.timer.unref?.();
    this.recovery.start();
    this.log.info({ checkIntervalMs: this.config.checkIntervalMs }, 'health monitor started');
    this.checkAll();
  }

  /** Stops assessing and cancels pending recovery. Stopping twice is harmless. */
  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
    this.recovery.stop();
    this.log.info('health monitor stopped');
  }

  /**
   * Feeds the device from a PcmStream or PcmObserver. Its reopen(), when it
   * has one, becomes the first recovery action. Returns the unwatch function;
   * call it before closing the source, or its silence will read as a fault.
   */
  watch(source: PcmSource, opts: WatchOptions = {}): () => void {
    const name = opts.name ?? source.device;
    const dev = this.device(name, source.direction);
    dev.rec.direction = source.direction;
    dev.rec.expectStreaming(this.now());
    dev.watchers++;
    const onSample = (s: HealthSample): void => {
      this.guarded(dev, 'sample', () => {
        const now = this.now();
        if (applySample(dev.rec, now, s)) this.recovery.noteGood(name);
        this.assess(dev, now);
      });
    };
    const onEvent = (e: PcmEvent): void => {
      this.guarded(dev, 'event', () => {
        const now = this.now();
        applyEvent(dev.rec, now, e);
        dev.log.debug({ event: e.type, errno: e.errno, durationUs: e.durationUs }, 'pcm event');
        this.assess(dev, now);
      });
    };
    source.on('sample', onSample);
    source.on('event', onEvent);
    if (typeof source.reopen === 'function') this.recovery.setReopen(name, () => source.reopen!());
    let watching = true;
    return () => {
      if (!watching) return;
      watching = false;
      source.off('sample', onSample);
      source.off('event', onEvent);
      if (--dev.watchers === 0) {
        dev.rec.stopExpecting();
        this.recovery.setReopen(name, null);
      }
    };
  }

  /** Called with the device name at each attempt, after the source's reopen(), in registration order. */
  registerRecoveryCallback(name: string, callback: RecoveryCallback): void {
    this.recovery.registerCallback(name, callback);
  }

  unregisterRecoveryCallback(name: string): boolean {
    return this.recovery.unregisterCallback(name);
  }

  // Seed-compatible manual feeding, for sources other than a PcmStream. Any device name works (seed defect 5).

  recordError(device: string, err?: unknown): void {
    const dev = this.device(device);
    const now = this.now();
    const code = typeof (err as { code?: unknown } | null)?.code === 'string' ? (err as { code: string }).code : null;
    const message = err instanceof Error ? err.message : err === undefined ? null : String(err);
    dev.rec.error(now, code, message);
    dev.log.debug({ err: message, consecutiveErrors: dev.rec.consecutive }, 'recorded error');
    this.assess(dev, now);
  }

  recordSuccess(device: string): void {
    const dev = this.device(device);
    const now = this.now();
    dev.rec.good(now, 1, 0);
    this.recovery.noteGood(device);
    this.assess(dev, now);
  }

  /** One latency / wake-up lateness observation, in milliseconds. */
  recordLatency(device: string, latencyMs: number): void {
    const dev = this.device(device);
    const now = this.now();
    dev.rec.lateness(now, latencyMs * 1000, latencyMs * 1000, 1);
    this.assess(dev, now);
  }

  recordUnderrun(device: string): void {
    const dev = this.device(device);
    const now = this.now();
    dev.rec.xrun(now, 'underrun', null);
    this.assess(dev, now);
  }

  recordOverrun(device: string): void {
    const dev = this.device(device);
    const now = this.now();
    dev.rec.xrun(now, 'overrun', null);
    this.assess(dev, now);
  }

  /** The device went away: critical until it streams again (recordSuccess or a good sample). */
  recordDisconnect(device: string): void {
    const dev = this.device(device);
    const now = this.now();
    dev.rec.disconnect(now);
    dev.log.debug('recorded disconnect');
    this.assess(dev, now);
  }

  status(device: string): HealthStatus {
    return this.devices.get(device)?.shown.status ?? 'unknown';
  }

  metrics(device: string): DeviceMetrics | undefined {
    return this.devices.get(device)?.rec.read(this.now());
  }

  /**
   * Every device as JSON-safe data: fresh metrics, and the status, score and
   * reasons of the last assessment.
   */
  snapshot(): HealthSnapshot {
    const now = this.now();
    const devices: Record<string, DeviceSnapshot> = {};
    for (const [name, dev] of this.devices) {
      devices[name] = {
        ...dev.rec.read(now),
        status: dev.shown.status,
        score: dev.score,
        reasons: [...dev.reasons],
        statusForMs: now - dev.changedAtMs,
        watched: dev.watchers > 0,
        recovery: this.recovery.snapshot(name),
      };
    }
    return { running: this.running, devices };
  }

  /** Drops a device and its metrics (e.g. removed from the config). Watchers should be removed first. */
  forget(device: string): void {
    this.devices.delete(device);
    this.recovery.forget(device);
  }

  private device(name: string, direction?: Direction): Device {
    let dev = this.devices.get(name);
    if (!dev) {
      const dir = direction ?? (name === 'capture' || name === 'playback' ? name : null);
      dev = {
        rec: new DeviceRecorder(name, dir, this.config),
        shown: { status: 'unknown', betterSinceMs: null },
        computed: 'unknown',
        score: 1,
        reasons: [],
        changedAtMs: this.now(),
        watchers: 0,
        log: this.log.child({ device: name }),
      };
      this.devices.set(name, dev);
    }
    return dev;
  }

  private checkAll(): void {
    const now = this.now();
    for (const dev of this.devices.values()) this.assess(dev, now);
  }

  private assess(dev: Device, now: number): void {
    if (!this.running) return;
    const m = dev.rec.read(now);
    const judged = statusOf(m, this.config);
    const next = settleStatus(dev.shown, judged.status, now, this.config.hysteresisMs);
    const from = dev.shown.status;
    dev.shown = next;
    dev.computed = judged.status;
    dev.score = scoreOf(m, this.config);
    const reasons = [...judged.reasons];
    if (next.status !== judged.status && next.betterSinceMs !== null) {
      const heldS = ((now - next.betterSinceMs) / 1000).toFixed(1);
      reasons.unshift(`still ${next.status}: ${judged.status} for ${heldS} s of the ${this.config.hysteresisMs / 1000} s needed`);
    }
    const rec = this.recovery.snapshot(dev.rec.device);
    if (rec.gaveUp) reasons.unshift(`recovery gave up after ${rec.attempts} attempts`);
    dev.reasons = reasons;
    if (next.status !== from) {
      dev.changedAtMs = now;
      const change: StatusChange = { device: dev.rec.device, from, to: next.status, score: dev.score, reasons: [...reasons] };
      dev.log.info({ from, to: next.status, score: dev.score, reasons }, 'device health status changed');
      this.safeEmit('status', change);
    }
    // Recovery follows the figures, not the shown status: a device that streams
    // again must not be "healed" again while hysteresis still shows it critical.
    if (judged.status === 'critical') this.recovery.request(dev.rec.device);
  }

  private onRecovery(a: RecoveryActivity): void {
    const dev = this.devices.get(a.device);
    if (dev) {
      if (a.type === 'attempt') dev.rec.totals.recoveryAttempts++;
      else if (a.type === 'success') dev.rec.totals.recoveries++;
      else dev.rec.totals.recoveryFailures++;
    }
    this.safeEmit('recovery', a);
  }

  /** A throw here would land in the source's emit (for a PcmStream: a native callback); log it instead. */
  private guarded(dev: Device, what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      dev.log.error({ err, what }, 'health monitor failed to process a source update');
    }
  }

  private safeEmit<K extends keyof HealthMonitorEvents>(event: K, ...args: HealthMonitorEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: HealthMonitorEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      this.log.error({ err, event }, 'health monitor listener threw');
    }
  }
}
