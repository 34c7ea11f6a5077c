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

  /** The card's procfs directory is gone. */
  gone(emit: Emit, path: string): void {
    if (this.state === 'disconnected') return;
    const from = this.state;
    this.state = 'disconnected';
    this.errors++;
    this.lastErrno = 'ENODEV';
    this.lastError = 'card removed';
    this.event(emit, 'state', { evidence: { from, to: 'disconnected' }, pid: this.ownerPid });
    this.event(emit, 'disconnect', {
      errno: 'ENODEV',
      message: `${path} disappeared: the card was removed`,
      pid: this.ownerPid,
      evidence: { path, lastState: from },
    });
    this.ownerPid = null;
    this.resetStream();
  }

  /** The card's directory is back (the stream reads are about to resume). */
  back(emit: Emit, cardIndex: number, path: string): void {
    if (this.state !== 'disconnected') return;
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
    const next = st.state;
    // Open / close / owner.
    if (next === 'closed') {
      if (prevState !== 'closed' && prevState !== 'disconnected') {
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
    const wasOpen = prevState !== 'closed' && prevState !== 'disconnected';
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
      if (next === 'xrun') this.onXrunState(st, emit, fresh ? null : nowMs - this.prevPollMs);
      else if (next === 'suspended') this.event(emit, 'suspend', { pid, evidence: { trigger_time: fmtTime(st.triggerSec, st.triggerNsec) } });
      if (prevState === 'suspended' && next !== 'xrun') this.event(emit, 'resume', { pid, evidence: { to: next } });
      if (next === 'setup' || next === 'prepared' || next === 'open') this.needsParams = true;
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

  /** `sinceLastPollMs`: the xrun began after the previous read (which did not show it). */
  private onXrunState(st: ProcStatus, emit: Emit, sinceLastPollMs: number | null): void {
    this.xruns++;
    this.xrunOpen = true;
    this.xrunTrigSec = st.triggerSec;
    this.xrunTrigNsec = st.triggerNsec;
    // "At least": from the xrun (its trigger_time) to now, if the owner's clock is ours (alsa-lib: monotonic).
    const nowUs = Number(this.nowNs() / 1000n);
    const trigUs = st.triggerSec * 1e6 + st.triggerNsec / 1e3;
    const atLeast = nowUs - trigUs;
    // Only if that fits between the previous read and now: else the owner's clock is not CLOCK_MONOTONIC.
    const plausible = atLeast >= 0 && atLeast <= (sinceLastPollMs === null ? 3600e3 : sinceLastPollMs + 2) * 1000;
    if (plausible) this.noteXrunLength(atLeast);
    const buffer = this.hw?.bufferSize ?? null;
    this.event(emit, 'xrun', {
      pid: st.ownerPid,
      durationUs: plausible ? Math.round(atLeast) : undefined,
      message: `state XRUN (${this.direction === 'capture' ? 'overrun' : 'underrun'})`,
      evidence: {
        seen: 'state',
        avail: st.avail,
        buffer_size: buffer,
        hw_ptr: st.hwPtr,
        appl_ptr: st.applPtr,
        trigger_time: fmtTime(st.triggerSec, st.triggerNsec),
        owner_pid: st.ownerPid,
      },
    });
  }

  private noteXrunLength(us: number): void {
    if (us > this.xrunUsMax) this.xrunUsMax = us;
  }

  /** Pointer progress, stalls, delay / avail figures. */
  private pointers(st: ProcStatus, nowMs: number, fresh: boolean, restarted: boolean, prevState: PcmState, emit: Emit): void {
    const boundary = this.sw?.boundary ?? 0;
    const delta = (now: number, prev: number): number => {
      // First read of this owner's stream: a baseline. A restart through prepare (after an
      // xrun, a stop) counts from 0 again; a pause release or a resume keeps the pointers.
      if (fresh) return 0;
      if (restarted && prevState !== 'paused' && prevState !== 'suspended') return now;
      if (restarted && now < prev) return now;
      let d = now - prev;
      if (d < 0 && boundary > 0) d += boundary;
      return d < 0 ? 0 : d;
    };
    const running = streaming(st.state);
    const hwD = running || st.state === 'xrun' ? delta(st.hwPtr, this.hwPtr) : 0;
    const applD = delta(st.applPtr, this.applPtr);
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
    } else if (!this.deviceStalled && st.state === 'running' && nowMs - this.lastHwMoveMs > this.stallPeriods * periodMs) {
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
    const frozenLimit = Math.max(2 * hw.periodSize, availMin + hw.periodSize);
    const availHigh = st.avail >= this.share * hw.bufferSize;
    const applFrozen = this.hwSinceAppl >= frozenLimit;
    if (st.state === 'running' && (availHigh || applFrozen)) {
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
