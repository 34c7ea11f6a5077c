// One configured device in the daemon: owns its PcmStream (when open) and its audio link,
// and is the PcmSource the monitor watches. It outlives failed opens, so a device that was
// missing at start is still watched and handed to recovery: reopen() opens it.

import { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { Direction, HealthSample, PcmEvent, PcmOptions, PcmParams, PcmSource } from '../types.js';
import { attachAudio, defaultAudio, describeAudio, type AudioLink } from './audio.js';
import { pcmOptionsOf, type DeviceConfig } from './config.js';

/** What the daemon needs of a PcmStream (src/pcm.ts). */
export interface PcmStreamLike extends PcmSource {
  readonly params: PcmParams;
  readonly audio: Readable | Writable;
  reopen(): Promise<void>;
  close(): Promise<void>;
}

export type OpenPcm = (options: PcmOptions) => Promise<PcmStreamLike>;

interface SlotEvents {
  sample: [HealthSample];
  event: [PcmEvent];
}

export class DeviceSlot extends EventEmitter<SlotEvents> implements PcmSource {
  readonly device: string;
  readonly direction: Direction;
  pcm: PcmStreamLike | null = null;
  /** Monotonic ms of the last sample that moved frames (creation time until then). */
  lastMovedMs: number;
  /** Successful opens and reopens, for logs and tests. */
  opens = 0;
  private link: AudioLink | null = null;
  private closed = false;
  private readonly log: Logger;

  constructor(
    readonly cfg: DeviceConfig,
    private readonly openPcm: OpenPcm,
    logger: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {
    super();
    this.device = cfg.name;
    this.direction = cfg.direction;
    this.lastMovedMs = now();
    this.log = logger.child({ component: 'device', device: cfg.name });
  }

  /** Open the PCM and start its audio. Rejects with the engine's error (errno in `code`). */
  async open(): Promise<void> {
    if (this.closed) throw new Error(`device ${this.device} was removed`);
    const pcm = await this.openPcm(pcmOptionsOf(this.cfg));
    if (this.closed) {
      await pcm.close();
      throw new Error(`device ${this.device} was removed while opening`);
    }
    this.pcm = pcm;
    this.opens++;
    pcm.on('sample', (s) => {
      if (s.frames > 0) this.lastMovedMs = this.now();
      this.emit('sample', s);
    });
    pcm.on('event', (e) => this.emit('event', e));
    // A PcmStream may emit 'error'; without a listener that would kill the daemon.
    (pcm as unknown as EventEmitter).on('error', (err: Error) => this.log.error({ err }, 'pcm stream error'));
    const spec = this.cfg.audio ?? defaultAudio(this.direction);
    const p = pcm.params;
    this.link = attachAudio(spec, {
      direction: this.direction,
      audio: pcm.audio,
      bytesPerSecond: p.rate * p.bytesPerFrame,
      log: this.log,
    });
    this.log.info(
      { pcm: this.cfg.pcm, direction: this.direction, params: p, audio: describeAudio(spec), opens: this.opens },
      'device opened',
    );
  }

  /** The recovery action: reopen an open PCM in place, or open one that never opened. */
  async reopen(): Promise<void> {
    if (this.pcm) {
      this.log.warn({ pcm: this.cfg.pcm }, 'reopening device');
      await this.pcm.reopen();
      this.opens++;
      this.log.info({ opens: this.opens }, 'device reopened');
    } else {
      await this.open();
    }
  }

  /** Stop audio and close the PCM. Idempotent; never rejects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.link?.close();
    this.link = null;
    const pcm = this.pcm;
    this.pcm = null;
    if (pcm) {
      try {
        await pcm.close();
        this.log.info('device closed');
      } catch (err) {
        this.log.error({ err }, 'closing the device failed');
      }
    }
  }
}
