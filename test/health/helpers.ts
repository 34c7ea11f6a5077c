// Test doubles: a PcmSource driven by hand, sample/event builders, a log sink.

import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { Direction, HealthSample, PcmEvent, PcmEventType, PcmSource } from '../../src/types.js';

export class FakeSource extends EventEmitter implements PcmSource {
  reopenCalls = 0;
  reopenImpl: (() => Promise<void>) | null = async () => {};
  constructor(
    readonly device: string,
    readonly direction: Direction = 'capture',
  ) {
    super();
  }
  reopen(): Promise<void> {
    this.reopenCalls++;
    return this.reopenImpl ? this.reopenImpl() : Promise.resolve();
  }
  sample(over: Partial<HealthSample> = {}): void {
    this.emit('sample', sample(this.device, this.direction, over));
  }
  event(type: PcmEventType, over: Partial<PcmEvent> = {}): void {
    this.emit('event', { type, device: this.device, direction: this.direction, tDetectNs: 0n, ...over });
  }
}

/** A source without reopen(), like a PcmObserver. */
export class ObserverSource extends EventEmitter implements PcmSource {
  constructor(
    readonly device: string,
    readonly direction: Direction = 'playback',
  ) {
    super();
  }
}

/** A clean 100 ms window: 5 periods of 960 frames, on time. */
export function sample(device: string, direction: Direction, over: Partial<HealthSample> = {}): HealthSample {
  return {
    device,
    direction,
    tStartNs: 0n,
    tEndNs: 100_000_000n,
    periods: 5,
    frames: 4800,
    xruns: 0,
    xrunUsMax: 0,
    lostFrames: 0,
    errors: 0,
    lastErrno: null,
    lastError: null,
    state: 'running',
    latenessUsMean: 200,
    latenessUsMax: 400,
    delayUsMean: 20_000,
    delayUsMax: 40_000,
    recoveryUsMax: 0,
    consumerDropped: 0,
    starved: 0,
    ...over,
  };
}

export interface LogLine {
  level: number;
  msg: string;
  component?: string;
  device?: string;
  [k: string]: unknown;
}

/** A pino logger that keeps its JSON lines in memory. */
export function memoryLogger(level = 'debug'): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as LogLine);
      cb();
    },
  });
  return { logger: pino({ level }, sink), lines };
}

export const silent = (): Logger => pino({ level: 'silent' });

/** Fake-timer clock for the monitor: Date.now() moves with vi.advanceTimersByTime. */
export const fakeNow = (): number => Date.now();
