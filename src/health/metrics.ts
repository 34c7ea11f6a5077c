// Per-device metrics: lifetime totals plus the same figures over a sliding
// window of fixed buckets. Records facts only; statusOf / scoreOf judge them.

import type { Direction, HealthSample } from '../types.js';
import type { DeviceMetrics, LifetimeTotals, WindowFigures } from './types.js';
import { BucketWindow } from './window.js';

/** Columns of the bucket window. */
const F = {
  errors: 0,
  underruns: 1,
  overruns: 2,
  lostFrames: 3,
  spikes: 4,
  goodPeriods: 5,
  frames: 6,
  disconnects: 7,
  suspends: 8,
  latSumUs: 9,
  latCount: 10,
  latMaxUs: 11,
  delaySumUs: 12,
  delayCount: 13,
  delayMaxUs: 14,
  xrunMaxUs: 15,
  consumerDropped: 16,
  starved: 17,
} as const;
const FIELD_COUNT = 18;
const MAX_FIELDS = [F.latMaxUs, F.delayMaxUs, F.xrunMaxUs];

export interface MetricsSettings {
  windowMs: number;
  windowBuckets: number;
  latencyThresholdMs: number;
}

const zeroTotals = (): LifetimeTotals => ({
  frames: 0,
  goodPeriods: 0,
  errors: 0,
  xruns: 0,
  underruns: 0,
  overruns: 0,
  lostFrames: 0,
  latencySpikes: 0,
  disconnects: 0,
  suspends: 0,
  recoveryAttempts: 0,
  recoveries: 0,
  recoveryFailures: 0,
  consumerDropped: 0,
  starved: 0,
  deliveredFrames: 0,
  discardedFrames: 0,
  paddingFrames: 0,
  deviceFrames: 0,
  pendingFrames: 0,
  latenessMsMax: 0,
  xrunMsMax: 0,
});

export class DeviceRecorder {
  readonly device: string;
  direction: Direction | null;
  readonly totals: LifetimeTotals = zeroTotals();
  private readonly win: BucketWindow;
  private readonly windowMs: number;
  private readonly spikeUs: number;
  private seen = false;
  private consecutiveErrors = 0;
  private disconnected = false;
  private suspended = false;
  private streaming = false;
  private lastGoodMs: number | null = null;
  /**
   * Whether "no good period for supervisorTimeoutMs" applies: while a source
   * is watched, or once a good period was recorded by hand (the seed's rule).
   */
  private supervised = false;
  /** When watching began: the supervisor timeout runs from here until the first good period. */
  private expectSinceMs: number | null = null;
  private lastErrno: string | null = null;
  private lastError: string | null = null;

  constructor(device: string, direction: Direction | null, s: MetricsSettings) {
    this.device = device;
    this.direction = direction;
    this.windowMs = s.windowMs;
    this.spikeUs = s.latencyThresholdMs * 1000;
    this.win = new BucketWindow(s.windowMs, s.windowBuckets, FIELD_COUNT, MAX_FIELDS);
  }

  get footprintBytes(): number {
    return this.win.footprintBytes;
  }

  get consecutive(): number {
    return this.consecutiveErrors;
  }

  /** A source began feeding the device: from now on, no good period for too long is a problem. */
  expectStreaming(now: number): void {
    this.supervised = true;
    this.expectSinceMs ??= now;
  }

  /** No source any more: silence is no longer a fault. */
  stopExpecting(): void {
    this.supervised = false;
    this.expectSinceMs = null;
  }

  error(now: number, errno: string | null, message: string | null): void {
    this.seen = true;
    this.consecutiveErrors++;
    this.totals.errors++;
    this.win.add(now, F.errors, 1);
    if (errno !== null) this.lastErrno = errno;
    if (message !== null) this.lastError = message;
  }

  /** Periods moved without error: the device works (the seed's RecordSuccess). */
  good(now: number, periods: number, frames: number): void {
    this.seen = true;
    this.consecutiveErrors = 0;
    this.disconnected = false;
    this.suspended = false;
    this.streaming = true;
    this.supervised = true;
    this.lastGoodMs = now;
    this.totals.goodPeriods += periods;
    this.totals.frames += frames;
    this.win.add(now, F.goodPeriods, periods);
    this.win.add(now, F.frames, frames);
  }

  /** Frames moved in a window that also had errors: progress, but not a clean period. */
  moved(now: number, frames: number): void {
    this.seen = true;
    this.totals.frames += frames;
    this.win.add(now, F.frames, frames);
  }

  /** A sample that moved nothing. */
  idle(): void {
    this.seen = true;
    this.streaming = false;
  }

  /** `count` wake-ups with mean lateness `meanUs`, the worst `maxUs`. */
  lateness(now: number, meanUs: number, maxUs: number, count: number): void {
    this.seen = true;
    if (count > 0) {
      this.win.add(now, F.latSumUs, meanUs * count);
      this.win.add(now, F.latCount, count);
    }
    this.win.max(now, F.latMaxUs, maxUs);
    this.win.observeLateness(now, maxUs);
    if (maxUs / 1000 > this.totals.latenessMsMax) this.totals.latenessMsMax = maxUs / 1000;
    if (maxUs >= this.spikeUs) {
      this.totals.latencySpikes++;
      this.win.add(now, F.spikes, 1);
    }
  }

  delay(now: number, meanUs: number, maxUs: number, count: number): void {
    if (count > 0) {
      this.win.add(now, F.delaySumUs, meanUs * count);
      this.win.add(now, F.delayCount, count);
    }
    this.win.max(now, F.delayMaxUs, maxUs);
  }

  xrun(now: number, kind: 'underrun' | 'overrun', durationUs: number | null): void {
    this.seen = true;
    this.totals.xruns++;
    if (kind === 'underrun') {
      this.totals.underruns++;
      this.win.add(now, F.underruns, 1);
    } else {
      this.totals.overruns++;
      this.win.add(now, F.overruns, 1);
    }
    if (durationUs !== null) {
      this.win.max(now, F.xrunMaxUs, durationUs);
      if (durationUs / 1000 > this.totals.xrunMsMax) this.totals.xrunMsMax = durationUs / 1000;
    }
  }

  lost(now: number, lostFrames: number, consumerDropped: number, starved: number): void {
    if (lostFrames > 0) {
      this.totals.lostFrames += lostFrames;
      this.win.add(now, F.lostFrames, lostFrames);
    }
    if (consumerDropped > 0) {
      this.totals.consumerDropped += consumerDropped;
      this.win.add(now, F.consumerDropped, consumerDropped);
    }
    if (starved > 0) {
      this.totals.starved += starved;
      this.win.add(now, F.starved, starved);
    }
  }

  /** Frame-accounting terms of one sample: lifetime sums only (they decide nothing). */
  account(s: Pick<HealthSample, 'deliveredFrames' | 'discardedFrames' | 'paddingFrames' | 'pendingFrames' | 'deviceFrames'>): void {
    const t = this.totals;
    t.deliveredFrames += s.deliveredFrames ?? 0;
    t.discardedFrames += s.discardedFrames ?? 0;
    t.paddingFrames += s.paddingFrames ?? 0;
    t.pendingFrames = s.pendingFrames ?? 0;
    t.deviceFrames = t.deviceFrames === null || s.deviceFrames === null || s.deviceFrames === undefined ? null : t.deviceFrames + s.deviceFrames;
  }

  disconnect(now: number): void {
    this.seen = true;
    this.disconnected = true;
    this.streaming = false;
    this.totals.disconnects++;
    this.win.add(now, F.disconnects, 1);
  }

  /** The PCM was opened again: no longer disconnected, though not streaming until a good period. */
  reconnected(): void {
    this.disconnected = false;
  }

  suspend(now: number): void {
    this.seen = true;
    this.suspended = true;
    this.totals.suspends++;
    this.win.add(now, F.suspends, 1);
  }

  resumed(): void {
    this.suspended = false;
  }

  noteErrno(errno: string | null, message: string | null): void {
    if (errno !== null) this.lastErrno = errno;
    if (message !== null) this.lastError = message;
  }

  read(now: number): DeviceMetrics {
    const w = this.win;
    const t = (f: number): number => w.total(now, f);
    const latCount = t(F.latCount);
    const delayCount = t(F.delayCount);
    const latSeen = latCount > 0 || t(F.latMaxUs) > 0;
    const errors = t(F.errors);
    const p99 = w.quantileUs(now, 0.99, F.latMaxUs);
    const window: WindowFigures = {
      windowMs: this.windowMs,
      errors,
      errorRatePerMin: (errors * 60_000) / this.windowMs,
      xruns: t(F.underruns) + t(F.overruns),
      underruns: t(F.underruns),
      overruns: t(F.overruns),
      lostFrames: t(F.lostFrames),
      latencySpikes: t(F.spikes),
      disconnects: t(F.disconnects),
      suspends: t(F.suspends),
      goodPeriods: t(F.goodPeriods),
      frames: t(F.frames),
      latenessMsMean: latCount > 0 ? t(F.latSumUs) / latCount / 1000 : null,
      latenessMsMax: latSeen ? t(F.latMaxUs) / 1000 : null,
      latenessMsP99: p99 === null ? null : p99 / 1000,
      delayMsMean: delayCount > 0 ? t(F.delaySumUs) / delayCount / 1000 : null,
      delayMsMax: delayCount > 0 || t(F.delayMaxUs) > 0 ? t(F.delayMaxUs) / 1000 : null,
      xrunMsMax: t(F.xrunMaxUs) > 0 ? t(F.xrunMaxUs) / 1000 : null,
      consumerDropped: t(F.consumerDropped),
      starved: t(F.starved),
    };
    const since = this.supervised ? (this.lastGoodMs ?? this.expectSinceMs) : null;
    return {
      device: this.device,
      direction: this.direction,
      seen: this.seen,
      consecutiveErrors: this.consecutiveErrors,
      disconnected: this.disconnected,
      suspended: this.suspended,
      streaming: this.streaming,
      sinceGoodMs: since === null ? null : Math.max(0, now - since),
      lastErrno: this.lastErrno,
      lastError: this.lastError,
      totals: { ...this.totals },
      window,
    };
  }
}
