// Public data types shared by every layer: the engine's samples and events,
// the options of openPcm. Lower layers (pcm, health, recovery, daemon) all
// import from here; this file imports nothing.

export type Direction = 'capture' | 'playback';

/** Stream state as the engine last saw it. ALSA names, lower case. */
export type PcmState =
  | 'open'
  | 'setup'
  | 'prepared'
  | 'running'
  | 'xrun'
  | 'draining'
  | 'paused'
  | 'suspended'
  | 'disconnected'
  | 'closed';

/** One per device per `sampleIntervalMs` window. Times: CLOCK_MONOTONIC ns. */
export interface HealthSample {
  device: string;
  direction: Direction;
  tStartNs: bigint;
  tEndNs: bigint;
  /** Periods and frames moved between the PCM and the ring in the window. */
  periods: number;
  frames: number;
  /** ALSA xruns (overrun for capture, underrun for playback) in the window. */
  xruns: number;
  /** The longest xrun of the window, "at least X us" (trigger tstamp to detection). */
  xrunUsMax: number;
  lostFrames: number;
  errors: number;
  /** 'EPIPE' | 'ENODEV' | ... of the last error in the window, or null. */
  lastErrno: string | null;
  lastError: string | null;
  state: PcmState;
  /** Period wake-up minus its ideal time (us); null from a PcmObserver (it cannot know). */
  latenessUsMean: number | null;
  latenessUsMax: number | null;
  /** ALSA delay (us). */
  delayUsMean: number;
  delayUsMax: number;
  /** Longest in-place recovery (xrun/suspend detected -> next good period), us; null when unknown. */
  recoveryUsMax: number | null;
  /** Capture frames JS did not drain in time (dropped, oldest first); null from a PcmObserver. */
  consumerDropped: number | null;
  /** Playback frames JS did not feed in time (silence was written instead); null from a PcmObserver. */
  starved: number | null;
  /*
   * Frame accounting (null from a PcmObserver). Over any run of consecutive
   * samples of one stream (pending = pendingFrames at the run's end minus the
   * one before it; frameBalance() does the sums):
   *   capture:  deviceFrames = deliveredFrames + consumerDropped + lostFrames + discardedFrames + Δpending
   *   playback: deviceFrames = deliveredFrames + starved + paddingFrames + lostFrames − discardedFrames − Δpending
   * `lostFrames` is the device's time from each xrun to the restart that ended it.
   */
  /** Capture: frames JS took from the ring. Playback: frames of JS audio written to the PCM. */
  deliveredFrames: number | null;
  /** Frames the device buffer held when a prepare or close threw them away (captured and never read, or written and never played). */
  discardedFrames: number | null;
  /** Playback: silence written while priming the buffer at a start or restart, before JS had queued audio (not starvation). */
  paddingFrames: number | null;
  /** At the window's end, frames in flight: capture, in the device buffer and the ring; playback, written to the device and not yet played. */
  pendingFrames: number | null;
  /**
   * Frames the device's own clock produced (capture) or played (playback) in
   * the window, xrun gaps included. Only the mock backend knows it (its card
   * counts); null for alsa-lib PCMs, where the engine could only derive it
   * from its own transfers.
   */
  deviceFrames: number | null;
  /** PcmObserver: ALSA avail (frames) over the window's polls, and the owner's pid (null when closed). */
  availFramesMean?: number | null;
  availFramesMax?: number | null;
  ownerPid?: number | null;
}

export type PcmEventType =
  | 'xrun'
  | 'suspend'
  | 'resume'
  | 'disconnect'
  | 'recovered'
  | 'reopened'
  | 'reopenFailed'
  | 'error'
  // From a PcmObserver only (a PCM another process owns, seen through /proc/asound):
  | 'opened' // the owner opened the PCM (pid)
  | 'closed' // the owner closed it
  | 'ownerChanged' // a different pid holds it now
  | 'state' // any state change (evidence.from -> evidence.to)
  | 'ownerStall' // hw_ptr moves, appl_ptr does not / avail high: the owner is late (early warning)
  | 'deviceStall' // RUNNING but hw_ptr frozen for more than 2 periods
  | 'reappeared'; // the card's procfs directory is back after a disconnect

/** Delivered at once, not batched. */
export interface PcmEvent {
  type: PcmEventType;
  device: string;
  direction: Direction;
  tDetectNs: bigint;
  /** Set by the mock backend: when the fault that caused this event was injected. */
  tInjectNs?: bigint;
  /** xrun: its length ("at least"); recovered: detection -> next good period. */
  durationUs?: number;
  lostFrames?: number;
  /** 'EPIPE', 'ENODEV', ... */
  errno?: string;
  message?: string;
  /** PcmObserver: the owning process, when known. */
  pid?: number | null;
  /** PcmObserver: what was read that made the event (procfs figures, states, times). */
  evidence?: Readonly<Record<string, string | number | boolean | null>>;
}

export type MockFault =
  | { at: number; type: 'xrun'; count?: number; everyMs?: number }
  | { at: number; type: 'stall'; durationMs: number }
  | { at: number; type: 'delay'; extraMs: number; durationMs: number }
  | { at: number; type: 'suspend'; durationMs: number }
  | { at: number; type: 'disconnect'; durationMs: number }
  | { at: number; type: 'openFail'; count: number; errno: string }
  | { at: number; type: 'ioError'; errno: string };

export interface MockOptions {
  faults?: MockFault[];
  /** The card's frame counter after each prepare (default 0): tests long runs without waiting. */
  startFrame?: number;
}

export interface PcmOptions {
  /** Any ALSA PCM name (`hw:1,0`, `default`, `null`, a plugin); `mock:<name>` selects the mock backend. */
  device: string;
  direction: Direction;
  rate?: number; // default 48000
  channels?: number; // default 2
  format?: string; // default 'S16_LE'
  periodFrames?: number; // default rate / 50 (20 ms)
  bufferPeriods?: number; // default 4
  sampleIntervalMs?: number; // default 100
  /** SCHED_FIFO priority for the watcher thread; refused -> a warning, not a failure. */
  rtPriority?: number;
  /**
   * After a disconnect, reopen as soon as the device is back (a /dev/snd
   * node appears or changes; a mock's disconnect ends) and emit `reopened`.
   * Default true. Off: only reopen() brings it back.
   */
  autoReopen?: boolean;
  mock?: MockOptions;
}

/** What the device actually chose. */
export interface PcmParams {
  device: string;
  direction: Direction;
  rate: number;
  channels: number;
  format: string;
  periodFrames: number;
  bufferFrames: number;
  bytesPerFrame: number;
  sampleIntervalMs: number;
}

export interface PcmInfo {
  name: string;
  description: string;
  /** Directions the hint names; both when the hint gives no IOID. */
  directions: Direction[];
}

/**
 * What the health monitor needs from a source of samples and events: a
 * PcmStream (src/pcm.ts) or a PcmObserver. `reopen` is absent when the
 * source does not own the PCM (recovery is then callbacks only).
 */
export interface PcmSource {
  readonly device: string;
  readonly direction: Direction;
  on(event: 'sample', listener: (s: HealthSample) => void): this;
  on(event: 'event', listener: (e: PcmEvent) => void): this;
  off(event: 'sample', listener: (s: HealthSample) => void): this;
  off(event: 'event', listener: (e: PcmEvent) => void): this;
  reopen?(): Promise<void>;
}
