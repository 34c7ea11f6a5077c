// Collects what a PcmStream reports, for assertions.
import type { HealthSample, PcmEvent } from '../../src/types.js';
import type { PcmStream } from '../../src/pcm.js';

export interface Recording {
  samples: HealthSample[];
  events: PcmEvent[];
  ofType(type: PcmEvent['type']): PcmEvent[];
  total(field: 'xruns' | 'frames' | 'periods' | 'errors' | 'consumerDropped' | 'starved' | 'lostFrames'): number;
}

export function record(pcm: PcmStream): Recording {
  const samples: HealthSample[] = [];
  const events: PcmEvent[] = [];
  pcm.on('sample', (s) => samples.push(s));
  pcm.on('event', (e) => events.push(e));
  return {
    samples,
    events,
    ofType: (type) => events.filter((e) => e.type === type),
    total: (field) => samples.reduce((sum, s) => sum + s[field], 0),
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves when `check` holds, polling every 10 ms; rejects after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}
