// PcmObserver: watches a PCM another process owns through the kernel's procfs
// (no open, so no reopen: a monitor heals it through recovery callbacks only)
// and emits the same 'sample' and 'event' as a PcmStream. A timer polls one
// status file into a preallocated buffer; hw_params / sw_params are read only
// when the stream is (re)configured.

import { EventEmitter } from 'node:events';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PcmError } from '../errors.js';
import type { Direction, HealthSample, PcmEvent, PcmSource, PcmState } from '../types.js';
import { ObserveDetector, type Emit } from './detector.js';
import { ProcFile } from './procfile.js';
import { emptyStatus, parseHwParams, parsePcmList, parseStatus, parseSwParams, type ProcHwParams } from './procfs.js';
import { hwName, parsePcmSpec, pcmDir, resolveCardIndex, type PcmAddress, type PcmSpec } from './resolve.js';

export const DEFAULT_PROC_ROOT = '/proc/asound';

export interface ObserveOptions {
  /** 'hw:0,0', 'hw:Dummy', 'hw:CARD=Loopback,DEV=0', or { card, device, subdevice }. No subdevice: the lowest open one. */
  device: PcmSpec;
  direction: Direction;
  /** Default 10 ms. */
  pollIntervalMs?: number;
  /** One HealthSample per window. Default 100 ms. */
  sampleIntervalMs?: number;
  /** Owner-stall warning when avail reaches this share of the buffer. Default 0.75. */
  ownerStallShare?: number;
  /** Device stall after this many periods of frozen hw_ptr while RUNNING. Default 2. */
  deviceStallPeriods?: number;
  /** Name in samples and events; default the device string (or hw:C,D[,S] for an object). */
  name?: string;
  /** Start even if the card is absent (then: 'reappeared' when it comes). Default false: reject ENODEV. */
  allowMissing?: boolean;
  /** Where the ALSA procfs is (tests: a temp tree). Default /proc/asound. */
  procRoot?: string;
}

interface ObserverEvents {
  sample: [HealthSample];
  event: [PcmEvent];
  error: [Error];
}

function pcmError(message: string, code: string, errno: number, device: string): PcmError {
  const e = new PcmError(message);
  Object.defineProperties(e, {
    code: { value: code, enumerable: true },
    errno: { value: errno, enumerable: true },
    device: { value: device, enumerable: true },
  });
  return e;
}

const NOT_VERBOSE =
  'has no per-PCM status files: the kernel was built without CONFIG_SND_VERBOSE_PROCFS, so a PCM another process owns cannot be observed';

/**
 * A PCM owned by another process, seen through /proc/asound. Emits 'sample'
 * every sampleIntervalMs and 'event' at once. Obligations: call close() to stop
 * the timer; the timer keeps the event loop alive until then (unref() to not).
 * It never opens the PCM, so it has no reopen(): recovery is callbacks only.
 */
export class PcmObserver extends EventEmitter<ObserverEvents> implements PcmSource {
  readonly device: string;
  readonly direction: Direction;
  readonly address: PcmAddress;
  readonly pollIntervalMs: number;
  readonly sampleIntervalMs: number;
  /** Polls done (for cost figures). */
  polls = 0;
  private readonly procRoot: string;
  private readonly det: ObserveDetector;
  private readonly buf = Buffer.allocUnsafe(1024);
  private readonly st = emptyStatus();
  private readonly emitEvent: Emit;
  private cardIndex: number | null = null;
  /** Status files of the substreams followed (one when the subdevice is fixed). */
  private files: ProcFile[] = [];
  /** Index in `files` of the substream now open, or -1. */
  private current = -1;
  private timer: NodeJS.Timeout | null = null;
  private nextSampleMs = 0;
  private closed = false;

  constructor(opts: ObserveOptions) {
    super();
    this.address = parsePcmSpec(opts.device);
    this.direction = opts.direction;
    this.pollIntervalMs = opts.pollIntervalMs ?? 10;
    this.sampleIntervalMs = opts.sampleIntervalMs ?? 100;
    if (!(this.pollIntervalMs >= 1)) throw new RangeError('pollIntervalMs must be at least 1');
    if (!(this.sampleIntervalMs >= this.pollIntervalMs)) throw new RangeError('sampleIntervalMs must be at least pollIntervalMs');
    this.procRoot = opts.procRoot ?? DEFAULT_PROC_ROOT;
    this.device =
      opts.name ??
      (typeof opts.device === 'string'
        ? opts.device
        : `hw:${this.address.card},${this.address.device}${this.address.subdevice === null ? '' : `,${this.address.subdevice}`}`);
    this.det = new ObserveDetector({
      device: this.device,
      direction: this.direction,
      ...(opts.ownerStallShare !== undefined ? { ownerStallShare: opts.ownerStallShare } : {}),
      ...(opts.deviceStallPeriods !== undefined ? { deviceStallPeriods: opts.deviceStallPeriods } : {}),
    });
    this.emitEvent = (e) => this.deliver('event', e);
  }

  /** Last state read ('closed' when no process has it open; 'disconnected' from the kernel at unplug and while the card is gone). */
  get state(): PcmState {
    return this.det.state;
  }

  /** The owning process now, or null. */
  get ownerPid(): number | null {
    return this.det.ownerPid;
  }

  /** The owner's hw_params, once read. */
  get params(): ProcHwParams | null {
    return this.det.hw;
  }

  /** hw:C,D,S of the substream followed now (null while none is open). */
  get substream(): string | null {
    if (this.cardIndex === null || this.current < 0) return null;
    return hwName(this.cardIndex, this.address.device, this.subOf(this.current));
  }

  /** Checks the procfs, then starts polling. observePcm() calls it. */
  start(allowMissing = false): void {
    const problem = this.locate();
    if (problem) {
      if (!allowMissing || problem.code !== 'ENODEV') throw problem;
      this.det.missingAtStart();
    }
    this.nextSampleMs = performance.now() + this.sampleIntervalMs;
    // First poll right after the caller's `await` (its listeners attached): an already-open PCM gives 'opened'.
    setImmediate(() => this.poll());
    this.timer = setInterval(() => this.poll(), this.pollIntervalMs);
  }

  ref(): this {
    this.timer?.ref();
    return this;
  }

  unref(): this {
    this.timer?.unref();
    return this;
  }

  /** Stop polling. Idempotent; emits nothing afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const f of this.files) f.close();
    this.files = [];
  }

  private subOf(i: number): number {
    return this.address.subdevice ?? i;
  }

  /**
   * Find the card, the PCM and its status files. Returns the error when the
   * card is absent (ENODEV), the PCM has no such stream (ENOENT) or the kernel
   * has no verbose procfs (ENOTSUP).
   */
  private locate(): PcmError | null {
    const a = this.address;
    if (!existsSync(this.procRoot)) {
      return pcmError(`${this.procRoot} does not exist: no ALSA procfs (CONFIG_SND_PROC_FS) or no sound driver; ${this.device} ${NOT_VERBOSE}`, 'ENOTSUP', -95, this.device);
    }
    const idx = resolveCardIndex(this.procRoot, a.card);
    if (idx === null) return pcmError(`card ${JSON.stringify(a.card)} not found in ${this.procRoot}/cards (${this.device})`, 'ENODEV', -19, this.device);
    const dir = pcmDir(this.procRoot, idx, a.device, this.direction);
    let subs: number[];
    try {
      subs = readdirSync(dir)
        .filter((f) => /^sub\d+$/.test(f))
        .map((f) => Number(f.slice(3)))
        .sort((x, y) => x - y);
    } catch {
      // No pcmDc directory: either no such PCM, or no verbose procfs (the PCM is listed in /proc/asound/pcm).
      let listed = false;
      try {
        listed = parsePcmList(readFileSync(join(this.procRoot, 'pcm'), 'utf8')).some(
          (p) => p.card === idx && p.device === a.device && (this.direction === 'capture' ? p.capture : p.playback) > 0,
        );
      } catch {
        /* no list */
      }
      if (listed) return pcmError(`${this.device} (${dir}) ${NOT_VERBOSE}`, 'ENOTSUP', -95, this.device);
      return pcmError(`${this.device}: card ${idx} has no ${this.direction} PCM device ${a.device} (${dir} missing)`, 'ENOENT', -2, this.device);
    }
    if (a.subdevice !== null) {
      if (!subs.includes(a.subdevice)) return pcmError(`${this.device}: no subdevice ${a.subdevice} in ${dir}`, 'ENOENT', -2, this.device);
      subs = [a.subdevice];
    }
    if (subs.length === 0 || !existsSync(join(dir, `sub${subs[0]}`, 'status'))) {
      return pcmError(`${this.device} (${dir}/sub*/status missing) ${NOT_VERBOSE}`, 'ENOTSUP', -95, this.device);
    }
    for (const f of this.files) f.close();
    this.files = subs.map((s) => new ProcFile(join(dir, `sub${s}`, 'status'), this.buf));
    if (a.subdevice === null) {
      // files[i] is sub i only when numbered 0..n-1 (always so in the kernel).
      this.files = this.files.filter((_f, i) => subs[i] === i);
    }
    this.cardIndex = idx;
    this.current = this.files.length === 1 ? 0 : -1;
    return null;
  }

  private deliver<K extends 'sample' | 'event'>(name: K, payload: ObserverEvents[K][0]): void {
    if (this.closed) return;
    try {
      (this.emit as (n: string, p: unknown) => boolean)(name, payload);
    } catch (err) {
      // A listener's exception must not stop the poller.
      if (this.listenerCount('error') > 0) this.emit('error', err as Error);
    }
  }

  /** One poll: read, detect, maybe close the window. */
  poll(): void {
    if (this.closed) return;
    this.polls++;
    const now = performance.now();
    if (this.det.cardGone) this.lookForCard();
    if (!this.det.cardGone) this.readStatus(now);
    if (now >= this.nextSampleMs) {
      this.nextSampleMs += this.sampleIntervalMs;
      if (this.nextSampleMs < now) this.nextSampleMs = now + this.sampleIntervalMs;
      this.deliver('sample', this.det.takeSample());
    }
  }

  private lookForCard(): void {
    const idx = resolveCardIndex(this.procRoot, this.address.card);
    if (idx === null) return;
    if (this.locate() !== null) return; // card back but its PCM files not yet
    this.det.back(this.emitEvent, idx, pcmDir(this.procRoot, idx, this.address.device, this.direction));
  }

  private readStatus(now: number): void {
    const files = this.files;
    let n = -1;
    if (this.current >= 0) {
      n = files[this.current]!.read();
      if (n > 0 && files.length > 1 && this.buf[0] === 0x63 /* 'c'losed */) {
        // The followed substream closed: report it, then look for another open one.
        if (parseStatus(this.buf, n, this.st)) this.det.update(this.st, now, this.emitEvent);
        this.current = -1;
      }
    }
    if (this.current < 0) {
      for (let i = 0; i < files.length; i++) {
        n = files[i]!.read();
        if (n <= 0) break;
        if (this.buf[0] !== 0x63) {
          this.current = i;
          this.det.needsParams = true;
          break;
        }
      }
      if (this.current < 0 && n > 0) return; // all closed
    }
    if (n <= 0) {
      this.onReadFailure(files[Math.max(this.current, 0)]!);
      return;
    }
    if (!parseStatus(this.buf, n, this.st)) {
      this.det.readError(this.emitEvent, 'EPROTO', `unexpected status text in ${files[this.current]!.path}`);
      return;
    }
    if (this.det.needsParams && this.st.state !== 'closed') this.readParams();
    this.det.update(this.st, now, this.emitEvent);
    if (this.det.needsParams && this.st.state !== 'closed') this.readParams();
  }

  private readParams(): void {
    const sub = this.files[this.current]!.path.replace(/\/status$/, '');
    const read = (f: string) => {
      try {
        return readFileSync(join(sub, f), 'utf8');
      } catch {
        return '';
      }
    };
    this.det.setParams(parseHwParams(read('hw_params')), parseSwParams(read('sw_params')));
  }

  private onReadFailure(f: ProcFile): void {
    const card = this.cardIndex === null ? null : join(this.procRoot, `card${this.cardIndex}`);
    if (card === null || !existsSync(card) || !existsSync(f.path)) {
      this.current = this.files.length === 1 ? 0 : -1;
      this.det.gone(this.emitEvent, card ?? this.procRoot);
      return;
    }
    this.det.readError(this.emitEvent, f.lastError || 'EIO', `cannot read ${f.path}`);
  }
}

/**
 * Start observing a PCM another process owns. Rejects with a PcmError: ENOTSUP
 * when the kernel has no verbose procfs (CONFIG_SND_VERBOSE_PROCFS), ENODEV when
 * the card is absent (unless allowMissing), ENOENT when it has no such PCM;
 * TypeError for a name that is not hw:/plughw:.
 */
export async function observePcm(options: ObserveOptions): Promise<PcmObserver> {
  const o = new PcmObserver(options);
  o.start(options.allowMissing ?? false);
  return o;
}
