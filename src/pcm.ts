// PcmStream: the typed face of one PCM owned by a native watcher thread.
// Samples and events arrive through one callback per message; audio moves
// through the native ring in chunks, drained or filled at each wake-up.
import { EventEmitter } from 'node:events';
import { Readable, Writable } from 'node:stream';

import { native, type NativeParams, type NativePcmHandle } from './native.js';
import type {
  Direction,
  HealthSample,
  PcmEvent,
  PcmInfo,
  PcmOptions,
  PcmParams,
  PcmSource,
} from './types.js';

export interface PcmStreamEvents {
  sample: [HealthSample];
  event: [PcmEvent];
  /** A listener of yours threw; it is reported here instead of crashing the thread's callback. */
  error: [Error];
  close: [];
}

export class PcmStream extends EventEmitter<PcmStreamEvents> implements PcmSource {
  readonly device: string;
  readonly direction: Direction;
  /** Capture: a Readable of interleaved PCM bytes. Playback: a Writable. */
  readonly audio: Readable | Writable;
  #params: PcmParams | undefined;
  readonly #handle: NativePcmHandle;
  readonly #sampleIntervalMs: number;
  #wantRead = false;
  #pending: { chunk: Buffer; cb: (err?: Error | null) => void } | null = null;
  #carry: Buffer = Buffer.alloc(0);
  #closed: Promise<void> | null = null;

  /** Use openPcm(). Throws TypeError / RangeError for bad options. */
  constructor(options: PcmOptions) {
    super();
    this.#handle = new native.PcmHandle(options, (kind, payload) => this.#dispatch(kind, payload));
    this.device = options.device;
    this.direction = options.direction;
    this.#sampleIntervalMs = options.sampleIntervalMs ?? 100;
    this.audio =
      this.direction === 'capture'
        ? new Readable({
            read: () => {
              this.#wantRead = true;
              this.#pump();
            },
          })
        : new Writable({
            write: (chunk: Buffer, _enc, cb) => {
              this.#pending = { chunk: this.#carry.length ? Buffer.concat([this.#carry, chunk]) : chunk, cb };
              this.#carry = Buffer.alloc(0);
              this.#feed();
            },
          });
  }

  /** What the device chose (valid once opened). */
  get params(): PcmParams {
    if (!this.#params) throw new Error(`${this.device}: not opened yet`);
    return this.#params;
  }

  /** Native handle state: 'opening' | 'open' | 'closing' | 'closed'. */
  get state(): NativePcmHandle['state'] {
    return this.#handle.state;
  }

  /** @internal used by openPcm */
  async open(): Promise<this> {
    this.#setParams(await this.#handle.open());
    return this;
  }

  /** Close and open again with the same parameters, on the watcher thread. Rejects with PcmError. */
  async reopen(): Promise<void> {
    this.#setParams(await this.#handle.reopen());
  }

  /** Stops and joins the watcher thread; idempotent. */
  close(): Promise<void> {
    this.#closed ??= this.#handle.close().then(() => {
      if (this.audio instanceof Readable) {
        // Whatever the thread captured before it stopped still reaches the reader.
        for (let chunk = this.#handle.read(); chunk; chunk = this.#handle.read()) this.audio.push(chunk);
        this.audio.push(null);
      } else this.#dropPending();
      this.emit('close');
    });
    return this.#closed;
  }

  /** Keep (default) or stop keeping the event loop alive while the PCM is open. */
  ref(): this {
    this.#handle.ref();
    return this;
  }
  unref(): this {
    this.#handle.unref();
    return this;
  }

  #setParams(p: NativeParams): void {
    if (p.warning) process.emitWarning(`${this.device}: ${p.warning}`, { code: 'ALSA_HEALTH_RT_PRIORITY' });
    this.#params = {
      device: this.device,
      direction: this.direction,
      rate: p.rate,
      channels: p.channels,
      format: p.format,
      periodFrames: p.periodFrames,
      bufferFrames: p.bufferFrames,
      bytesPerFrame: p.bytesPerFrame,
      sampleIntervalMs: this.#sampleIntervalMs,
    };
  }

  // Called by the addon on the main thread. Nothing may escape from here.
  #dispatch(kind: string, payload: unknown): void {
    try {
      if (kind === 'sample') this.emit('sample', payload as HealthSample);
      else if (kind === 'event') this.emit('event', payload as PcmEvent);
    } catch (err) {
      this.#reportListenerError(err);
    }
    try {
      if (this.audio instanceof Readable) this.#pump();
      else this.#feed();
    } catch (err) {
      this.#reportListenerError(err);
    }
  }

  #reportListenerError(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    if (this.listenerCount('error') > 0) this.emit('error', e);
    else process.emitWarning(e);
  }

  #pump(): void {
    const readable = this.audio as Readable;
    while (this.#wantRead) {
      const chunk = this.#handle.read();
      if (!chunk) return;
      this.#wantRead = readable.push(chunk);
    }
  }

  #feed(): void {
    const p = this.#pending;
    if (!p) return;
    const taken = this.#handle.write(p.chunk);
    const rest = p.chunk.subarray(taken);
    if (rest.length >= (this.#params?.bytesPerFrame ?? 1)) {
      p.chunk = rest;
      return;  // the ring is full: the next wake-up feeds the rest
    }
    this.#carry = Buffer.from(rest);  // a partial frame waits for the next chunk
    this.#pending = null;
    p.cb();
  }

  #dropPending(): void {
    const p = this.#pending;
    this.#pending = null;
    p?.cb();
  }
}

/** Opens a PCM and starts streaming it on its own native thread. */
export async function openPcm(options: PcmOptions): Promise<PcmStream> {
  return new PcmStream(options).open();
}

/** The PCMs alsa-lib knows, from its device name hints. */
export function listPcms(): Promise<PcmInfo[]> {
  return native.listPcms();
}

/**
 * systemd's notify protocol ('READY=1', 'WATCHDOG=1', 'STATUS=...') to
 * $NOTIFY_SOCKET. Returns false when the variable is unset; throws PcmError
 * when the socket cannot be reached.
 */
export function sdNotify(message: string): boolean {
  return native.sdNotify(message);
}
