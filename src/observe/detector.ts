// What a series of procfs status reads means: events (xrun, stalls, owner
// open / close / change, state changes, disconnect) with their evidence, and
// the figures of one sample window. Pure: the poller feeds it reads and a
// monotonic clock; nothing here touches files or timers.

import type { Direction, HealthSample, PcmEvent, PcmEventType, PcmState } from '../types.js';
import type { ProcHwParams, ProcStatus, ProcSwParams } from './procfs.js';

export interface DetectorOptions {
  device: string;
  direction: Direction;
  /** Owner-stall warning when avail reaches this share of the buffer (0..1). Default 0.75. */
  ownerStallShare?: number;
  /** Device stall: RUNNING with hw_ptr frozen for more than this many periods. Default 2. */
  deviceStallPeriods?: number;
  /** CLOCK_MONOTONIC now, ns (default process.hrtime.bigint). */
  nowNs?: () => bigint;
  /** The poller's clock, ms (default performance.now): `update(..., nowMs)` is read from it. */
  nowMs?: () => number;
}

export type Emit = (e: PcmEvent) => void;

/** States in which hw_ptr moves by itself. */
const streaming = (s: PcmState | 'error'): boolean => s === 'running' || s === 'draining';

/** Owner-clock difference b - a in microseconds. */
const diffUs = (aSec: number, aNs: number, bSec: number, bNs: number): number => (bSec - aSec) * 1e6 + (bNs - aNs) / 1e3;

export class ObserveDetector {
  readonly device: string;
  readonly direction: Direction;
  private readonly share: number;
  private readonly stallPeriods: number;
  private readonly nowNs: () => bigint;
  private readonly nowMs: () => number;

  /** Last state seen ('closed' until a first open; 'disconnected' while the card is gone). */
  state: PcmState = 'closed';
  ownerPid: number | null = null;
  private lastOwnerPid: number | null = null;
  hw: ProcHwParams | null = null;
  sw: ProcSwParams | null = null;
  private trigSec = 0;
  private trigNsec = 0;
  private hwPtr = 0;
  private applPtr = 0;
  /** Trigger time at the XRUN we saw; the owner's restart renews it (then: recovered). */
  private xrunOpen = false;
  private xrunTrigSec = 0;
  private xrunTrigNsec = 0;
  private lastHwMoveMs = 0;
  private prevPollMs = 0;
  private deviceStalled = false;
  private deviceStallSinceMs = 0;
  private hwSinceAppl = 0;
  private applStillSinceMs = 0;
  private ownerStalled = false;

  // Window figures.
  private winStartNs: bigint;
  private frames = 0;
  private frameCarry = 0;
  private xruns = 0;
  private xrunUsMax = 0;
  private lostFrames = 0;
  private errors = 0;
  private lastErrno: string | null = null;
  private lastError: string | null = null;
  private delaySum = 0;
  private delayMax = 0;
  private availSum = 0;
  private availMax = 0;
  private reads = 0;
  private recoveryUsMax: number | null = null;

  constructor(opts: DetectorOptions) {
    this.device = opts.device;
    this.direction = opts.direction;
    this.share = opts.ownerStallShare ?? 0.75;
    this.stallPeriods = opts.deviceStallPeriods ?? 2;
    this.nowNs = opts.nowNs ?? (() => process.hrtime.bigint());
    this.nowMs = opts.nowMs ?? (() => performance.now());
    this.winStartNs = this.nowNs();
  }

  private event(emit: Emit, type: PcmEventType, extra: Partial<PcmEvent> = {}): void {
    emit({ type, device: this.device, direction: this.direction, tDetectNs: this.nowNs(), ...extra });
  }

  /** Whether the stream's figures (hw / sw params) must be read again before the next update. */
  needsParams = true;

  setParams(hw: ProcHwParams | null, sw: ProcSwParams | null): void {
    this.hw = hw;
    this.sw = sw;
    this.needsParams = hw === null;
  }

  /** The card's procfs directory is gone (until back()): the poller then only looks for the card. */
  cardGone = false;
  /** 'disconnect' was emitted for this removal (from the DISCONNECTED state or the directory's removal). */
  private disconnectReported = false;

  /** The card was absent when observing began: wait for it without an event. */
  missingAtStart(): void {
    this.cardGone = true;
    this.disconnectReported = true;
    this.state = 'disconnected';
  }

  private noteDisconnect(emit: Emit, message: string, evidence: Record<string, string | number | null>): void {
    this.disconnectReported = true;
    this.errors++;
    this.lastErrno = 'ENODEV';
    this.lastError = message;
    this.event(emit, 'disconnect', { errno: 'ENODEV', message, pid: this.ownerPid, evidence });
  }

  /** The card's procfs directory is gone. */
  gone(emit: Emit, path: string): void {
    if (this.cardGone) return;
    this.cardGone = true;
    const from = this.state;
    this.state = 'disconnected';
    if (from !== 'disconnected') this.event(emit, 'state', { evidence: { from, to: 'disconnected' }, pid: this.ownerPid });
    if (!this.disconnectReported) this.noteDisconnect(emit, `${path} disappeared: the card was removed`, { seen: 'procfs removed', path, lastState: from });
    this.ownerPid = null;
    this.resetStream();
  }

  /** The card's directory is back (the stream reads are about to resume). */
  back(emit: Emit, cardIndex: number, path: string): void {
    if (!this.cardGone) return;
    this.cardGone = false;
    this.disconnectReported = false;
    this.state = 'closed';
    this.needsParams = true;
    this.event(emit, 'reappeared', { evidence: { card: cardIndex, path } });
  }

  /** An unexpected read failure (not a removal). Counted once per distinct errno in a row. */
  readError(emit: Emit, errno: string, message: string): void {
    this.errors++;
    if (this.lastErrno === errno && this.lastError === message) return;
    this.lastErrno = errno;
    this.lastError = message;
    this.event(emit, 'error', { errno, message });
  }

  private resetStream(): void {
    this.xrunOpen = false;
    this.deviceStalled = false;
    this.ownerStalled = false;
    this.hwSinceAppl = 0;
    this.needsParams = true;
  }

  /** One successful read of status at monotonic `nowMs`. */
  update(st: ProcStatus, nowMs: number, emit: Emit): void {
    const prevState = this.state;
    if (st.state === 'error') {
      this.readError(emit, 'EIO', `status read "error ${st.error}"`);
      return;
    }
    let next: PcmState = st.state;
    // A RUNNING read with avail at the stop threshold: this very read (snd_pcm_status updates
    // hw_ptr after taking the state) stopped the stream; the next read says XRUN.
    const stop = this.sw?.stopThreshold ?? 0;
    const stoppedNow = next === 'running' && stop > 0 && stop < (this.sw?.boundary ?? Infinity) && st.avail >= stop;
    if (stoppedNow) next = 'xrun';
    // Open / close / owner.
    if (next === 'closed') {
      if (prevState !== 'closed') {
        this.state = 'closed';
        this.event(emit, 'state', { evidence: { from: prevState, to: 'closed' }, pid: this.ownerPid });
        this.event(emit, 'closed', { pid: this.ownerPid, evidence: { lastState: prevState } });
        this.ownerPid = null;
        this.resetStream();
      }
      this.state = 'closed';
      return;
    }
    const pid = st.ownerPid;
    const wasOpen = prevState !== 'closed';
    let fresh = !wasOpen;
    if (!wasOpen) {
      this.event(emit, 'opened', { pid, evidence: { state: next, previousPid: this.lastOwnerPid } });
      if (this.lastOwnerPid !== null && pid !== this.lastOwnerPid) {
        this.event(emit, 'ownerChanged', { pid, evidence: { from: this.lastOwnerPid, to: pid, whileOpen: false } });
      }
    } else if (pid !== this.ownerPid) {
      // Closed and reopened by another process between two polls.
      this.event(emit, 'ownerChanged', { pid, evidence: { from: this.ownerPid, to: pid, whileOpen: true } });
      this.resetStream();
      fresh = true;
    }
    this.ownerPid = pid;
    this.lastOwnerPid = pid;

    const trigChanged = !fresh && (st.triggerSec !== this.trigSec || st.triggerNsec !== this.trigNsec);
    if (next !== prevState) {
      this.state = next;
      this.event(emit, 'state', {
        pid,
        evidence: { from: prevState, to: next },
      });
      if (next === 'xrun') this.onXrunState(st, emit, fresh, stoppedNow);
      else if (next === 'disconnected' && !this.disconnectReported) {
        // The kernel marks the stream DISCONNECTED at unplug; the card's procfs stays until its owner closes.
        this.noteDisconnect(emit, 'state DISCONNECTED: the card is being removed', { seen: 'state', owner_pid: pid });
      }
      else if (next === 'suspended') this.event(emit, 'suspend', { pid, evidence: { trigger_time: fmtTime(st.triggerSec, st.triggerNsec) } });
      if (prevState === 'suspended' && next !== 'xrun') this.event(emit, 'resume', { pid, evidence: { to: next } });
      if (next === 'setup' || next === 'prepared' || next === 'open') this.needsParams = true;
    }
    // The XRUN read after the one that caused it: the kernel's own xrun time replaces our estimate.
    if (next === 'xrun' && prevState === 'xrun' && trigChanged && this.xrunOpen) {
      this.xrunTrigSec = st.triggerSec;
      this.xrunTrigNsec = st.triggerNsec;
    }
    // The owner restarted the stream: after an XRUN we saw, that is its recovery;
    // from RUNNING to RUNNING with nothing seen between, an xrun recovered between two polls.
    if (trigChanged && streaming(next)) {
      if (this.xrunOpen) {
        this.xrunOpen = false;
        const lengthUs = diffUs(this.xrunTrigSec, this.xrunTrigNsec, st.triggerSec, st.triggerNsec);
        this.noteXrunLength(lengthUs);
        this.recoveryUsMax = Math.max(this.recoveryUsMax ?? 0, lengthUs);
        const lost = this.hw ? Math.round((lengthUs * this.hw.rate) / 1e6) : 0;
        this.lostFrames += lost;
        this.event(emit, 'recovered', {
          pid,
          durationUs: Math.round(lengthUs),
          lostFrames: lost,
          evidence: {
            after: 'xrun',
            xrun_trigger_time: fmtTime(this.xrunTrigSec, this.xrunTrigNsec),
            trigger_time: fmtTime(st.triggerSec, st.triggerNsec),
          },
        });
      } else if (streaming(prevState) && prevState === next) {
        this.xruns++;
        this.event(emit, 'xrun', {
          pid,
          message: 'xrun recovered by the owner between two polls (trigger_time renewed by the same pid)',
          evidence: {
            seen: 'trigger_time',
            previous_trigger_time: fmtTime(this.trigSec, this.trigNsec),
            trigger_time: fmtTime(st.triggerSec, st.triggerNsec),
            owner_pid: pid,
          },
        });
        this.event(emit, 'recovered', { pid, evidence: { after: 'xrun', seen: 'trigger_time' } });
      }
    }
    if (next !== 'xrun' && !streaming(next)) this.xrunOpen = this.xrunOpen && next === 'prepared';

    this.pointers(st, nowMs, fresh, trigChanged, prevState, emit);
    this.prevPollMs = nowMs;
    this.trigSec = st.triggerSec;
    this.trigNsec = st.triggerNsec;
  }

  /**
   * An xrun seen in the state (or caused by this read: `stoppedNow`). Its length
   * "at least": from the kernel's xrun time (trigger_time) to now when the owner's
   * clock is ours (alsa-lib sets CLOCK_MONOTONIC) and that fits since the previous
   * read; for `stoppedNow`, the frames past the stop threshold.
   */
  private onXrunState(st: ProcStatus, emit: Emit, fresh: boolean, stoppedNow: boolean): void {
    this.xruns++;
    this.xrunOpen = true;
    const nowNs = this.nowNs();
    let atLeast: number | null;
    if (stoppedNow) {
      this.xrunTrigSec = Number(nowNs / 1_000_000_000n);
      this.xrunTrigNsec = Number(nowNs % 1_000_000_000n);
      const rate = this.hw?.rate ?? 0;
      atLeast = rate > 0 ? ((st.avail - (this.sw?.stopThreshold ?? st.avail)) * 1e6) / rate : null;
    } else {
      this.xrunTrigSec = st.triggerSec;
      this.xrunTrigNsec = st.triggerNsec;
      atLeast = Number(nowNs / 1000n) - (st.triggerSec * 1e6 + st.triggerNsec / 1e3);
      const sinceLastPollMs = fresh ? 3600e3 : this.nowMs() - this.prevPollMs;
      // Not plausible: the owner's timestamps are not CLOCK_MONOTONIC.
      if (!(atLeast >= 0 && atLeast <= (sinceLastPollMs + 1) * 1000)) atLeast = null;
    }
    if (atLeast !== null) this.noteXrunLength(atLeast);
    const buffer = this.hw?.bufferSize ?? null;
    this.event(emit, 'xrun', {
      pid: st.ownerPid,
      durationUs: atLeast === null ? undefined : Math.round(atLeast),
      message: `${stoppedNow ? `avail ${st.avail} >= stop_threshold ${this.sw?.stopThreshold}` : 'state XRUN'} (${this.direction === 'capture' ? 'overrun' : 'underrun'})`,
      evidence: {
        seen: stoppedNow ? 'avail>=stop_threshold' : 'state',
        avail: st.avail,
        buffer_size: buffer,
        stop_threshold: this.sw?.stopThreshold ?? null,
        hw_ptr: st.hwPtr,
        appl_ptr: st.applPtr,
        // The kernel's xrun time; for 'avail>=stop_threshold' the read did it, and trigger_time is still the start's.
        trigger_time: stoppedNow ? null : fmtTime(st.triggerSec, st.triggerNsec),
        owner_pid: st.ownerPid,
      },
    });
  }

  private noteXrunLength(us: number): void {
    if (us > this.xrunUsMax) this.xrunUsMax = us;
  }

  /**
   * Frames a pointer moved. The first read of an owner's stream is a baseline; a restart
   * through prepare (after an xrun, a stop) counts from 0 again; a pause release or a
   * resume keeps the pointers; a wrap at the boundary is progress.
   */
  private delta(now: number, prev: number, fresh: boolean, restarted: boolean, prevState: PcmState): number {
    if (fresh) return 0;
    if (restarted && prevState !== 'paused' && prevState !== 'suspended') return now;
    if (restarted && now < prev) return now;
    let d = now - prev;
    const boundary = this.sw?.boundary ?? 0;
    if (d < 0 && boundary > 0) d += boundary;
    return d < 0 ? 0 : d;
  }

  /** Pointer progress, stalls, delay / avail figures. */
  private pointers(st: ProcStatus, nowMs: number, fresh: boolean, restarted: boolean, prevState: PcmState, emit: Emit): void {
    const running = streaming(st.state);
    const hwD = running || st.state === 'xrun' ? this.delta(st.hwPtr, this.hwPtr, fresh, restarted, prevState) : 0;
    const applD = this.delta(st.applPtr, this.applPtr, fresh, restarted, prevState);
    this.hwPtr = st.hwPtr;
    this.applPtr = st.applPtr;
    if (!running) {
      this.deviceStalled = false;
      this.ownerStalled = false;
      this.hwSinceAppl = 0;
      this.lastHwMoveMs = nowMs;
      this.applStillSinceMs = nowMs;
      return;
    }
    if (!streaming(prevState) || restarted || fresh) {
      this.lastHwMoveMs = nowMs;
      this.applStillSinceMs = nowMs;
      this.hwSinceAppl = 0;
    }
    this.frames += applD;
    this.reads++;
    this.delaySum += st.delay;
    if (st.delay > this.delayMax) this.delayMax = st.delay;
    this.availSum += st.avail;
    if (st.avail > this.availMax) this.availMax = st.avail;
    const hw = this.hw;
    if (!hw) return;
    const periodMs = (hw.periodSize * 1000) / hw.rate;

    // Device stall: RUNNING, hw_ptr frozen for more than N periods.
    if (hwD > 0) {
      if (this.deviceStalled) {
        this.deviceStalled = false;
        const us = (nowMs - this.deviceStallSinceMs) * 1000;
        this.event(emit, 'recovered', { pid: st.ownerPid, durationUs: Math.round(us), evidence: { after: 'deviceStall', hw_ptr: st.hwPtr } });
      }
      this.lastHwMoveMs = nowMs;
    } else if (!this.deviceStalled && this.state === 'running' && nowMs - this.lastHwMoveMs > this.stallPeriods * periodMs) {
      this.deviceStalled = true;
      this.deviceStallSinceMs = this.lastHwMoveMs;
      this.event(emit, 'deviceStall', {
        pid: st.ownerPid,
        message: `RUNNING but hw_ptr has not moved for ${Math.round(nowMs - this.lastHwMoveMs)} ms (> ${this.stallPeriods} periods)`,
        evidence: { hw_ptr: st.hwPtr, frozen_ms: Math.round(nowMs - this.lastHwMoveMs), period_ms: periodMs },
      });
    }

    // Owner stall: hw_ptr moves, appl_ptr does not, or avail high. Not while draining (appl_ptr stops by design).
    if (applD > 0) {
      this.hwSinceAppl = 0;
      this.applStillSinceMs = nowMs;
    } else this.hwSinceAppl += hwD;
    const availMin = this.sw?.availMin ?? hw.periodSize;
    // appl_ptr still while hw_ptr moved half the buffer (at least 2 periods, and a period past
    // avail_min, when the owner is woken): less and an owner that is merely late reads as stalled.
    const frozenLimit = Math.max(2 * hw.periodSize, availMin + hw.periodSize, hw.bufferSize / 2);
    const availHigh = st.avail >= this.share * hw.bufferSize;
    const applFrozen = this.hwSinceAppl >= frozenLimit;
    if (this.state === 'running' && (availHigh || applFrozen)) {
      if (!this.ownerStalled) {
        this.ownerStalled = true;
        const ms = Math.round(nowMs - this.applStillSinceMs);
        this.event(emit, 'ownerStall', {
          pid: st.ownerPid,
          message: `owner pid ${st.ownerPid} is late: ${availHigh ? `avail ${st.avail} >= ${Math.round(this.share * 100)} % of the ${hw.bufferSize}-frame buffer` : `hw_ptr moved ${this.hwSinceAppl} frames while appl_ptr stood still`} (${ms} ms)`,
          evidence: {
            avail: st.avail,
            buffer_size: hw.bufferSize,
            hw_ptr: st.hwPtr,
            appl_ptr: st.applPtr,
            hw_frames_since_appl_moved: this.hwSinceAppl,
            appl_still_ms: ms,
            owner_pid: st.ownerPid,
          },
        });
      }
    } else if (applD > 0 && !availHigh) this.ownerStalled = false;
  }

  /** Close the window at `tEndNs` and start the next. */
  takeSample(): HealthSample {
    const tEndNs = this.nowNs();
    const hw = this.hw;
    const period = hw?.periodSize ?? 0;
    let periods = 0;
    if (period > 0) {
      const total = this.frameCarry + this.frames;
      periods = Math.floor(total / period);
      this.frameCarry = total - periods * period;
    }
    const rate = hw?.rate ?? 0;
    const us = (frames: number) => (rate > 0 ? (frames * 1e6) / rate : 0);
    const s: HealthSample = {
      device: this.device,
      direction: this.direction,
      tStartNs: this.winStartNs,
      tEndNs,
      periods,
      frames: this.frames,
      xruns: this.xruns,
      xrunUsMax: Math.round(this.xrunUsMax),
      lostFrames: this.lostFrames,
      errors: this.errors,
      lastErrno: this.errors > 0 ? this.lastErrno : null,
      lastError: this.errors > 0 ? this.lastError : null,
      state: this.state,
      latenessUsMean: null,
      latenessUsMax: null,
      delayUsMean: this.reads > 0 ? Math.round(us(this.delaySum / this.reads)) : 0,
      delayUsMax: Math.round(us(this.delayMax)),
      recoveryUsMax: this.recoveryUsMax === null ? null : Math.round(this.recoveryUsMax),
      consumerDropped: null,
      starved: null,
      deliveredFrames: null,
      discardedFrames: null,
      paddingFrames: null,
      pendingFrames: null,
      deviceFrames: null,
      availFramesMean: this.reads > 0 ? Math.round(this.availSum / this.reads) : null,
      availFramesMax: this.reads > 0 ? this.availMax : null,
      ownerPid: this.ownerPid,
    };
    this.winStartNs = tEndNs;
    this.frames = 0;
    this.xruns = 0;
    this.xrunUsMax = 0;
    this.lostFrames = 0;
    this.errors = 0;
    this.delaySum = 0;
    this.delayMax = 0;
    this.availSum = 0;
    this.availMax = 0;
    this.reads = 0;
    this.recoveryUsMax = null;
    return s;
  }
}

function fmtTime(sec: number, nsec: number): string {
  return `${sec}.${String(nsec).padStart(9, '0')}`;
}
