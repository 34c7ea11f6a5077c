// A `mode: observe` device in the daemon: a PcmObserver on a PCM another
// process owns, as the PcmSource the monitor watches. No reopen(): the daemon
// cannot reopen what it does not own, so recovery runs the callbacks (the
// device's `recovery.exec`) only. A card that is absent at start is watched
// until it appears.

import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { observePcm, type PcmObserver } from '../observe/index.js';
import type { Direction, HealthSample, PcmEvent, PcmSource } from '../types.js';
import type { DeviceConfig } from './config.js';

interface SlotEvents {
  sample: [HealthSample];
  event: [PcmEvent];
}

export class ObserverSlot extends EventEmitter<SlotEvents> implements PcmSource {
  readonly device: string;
  readonly direction: Direction;
  /** The observer once started (named like DeviceSlot.pcm: "up" reads it). */
  pcm: PcmObserver | null = null;
  /** Monotonic ms of the last sample in which the owner moved frames. */
  lastMovedMs: number;
  private closed = false;
  private readonly log: Logger;

  constructor(
    readonly cfg: DeviceConfig,
    logger: Logger,
    private readonly now: () => number = () => performance.now(),
    private readonly procRoot?: string,
  ) {
    super();
    this.device = cfg.name;
    this.direction = cfg.direction;
    this.lastMovedMs = now();
    this.log = logger.child({ component: 'observer', device: cfg.name });
  }

  async open(): Promise<void> {
    if (this.closed) throw new Error(`device ${this.device} was removed`);
    const o = await observePcm({
      device: this.cfg.pcm,
      direction: this.direction,
      name: this.device,
      pollIntervalMs: this.cfg.pollIntervalMs,
      sampleIntervalMs: this.cfg.sampleIntervalMs,
      ownerStallShare: this.cfg.ownerStallShare,
      allowMissing: true,
      ...(this.procRoot ? { procRoot: this.procRoot } : {}),
    });
    if (this.closed) {
      await o.close();
      return;
    }
    this.pcm = o;
    o.on('sample', (s) => {
      if (s.frames > 0) this.lastMovedMs = this.now();
      this.emit('sample', s);
    });
    o.on('event', (e) => {
      if (e.type !== 'state') {
        const level = e.type === 'xrun' || e.type === 'ownerStall' || e.type === 'deviceStall' || e.type === 'disconnect' || e.type === 'error' ? 'warn' : 'info';
        this.log[level]({ event: e.type, pid: e.pid, durationUs: e.durationUs, errno: e.errno, evidence: e.evidence }, e.message ?? `observed ${e.type}`);
      }
      this.emit('event', e);
    });
    o.on('error', (err) => this.log.error({ err }, 'observer listener failed'));
    this.log.info({ pcm: this.cfg.pcm, direction: this.direction, pollIntervalMs: o.pollIntervalMs, state: o.state }, 'observing device');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const o = this.pcm;
    this.pcm = null;
    if (o) await o.close();
  }
}
