// Frame accounting over a stream's samples: does every frame the device
// clocked show up as delivered, dropped, lost, discarded or still in flight?
// A pure sum over the terms each HealthSample carries (see src/types.ts).

import type { Direction, HealthSample } from './types.js';

export interface FrameBalance {
  direction: Direction | null;
  /** Σ deviceFrames; null when any sample could not know it (alsa-lib PCMs, observers). */
  deviceFrames: number | null;
  /** What the engine says became of the frames: the right-hand side of the invariant. */
  accountedFrames: number;
  /** deviceFrames − accountedFrames: 0 when every frame is accounted for; null when deviceFrames is. */
  unaccountedFrames: number | null;
  /** pendingFrames of the last sample: still in flight when the run ended. */
  pendingFrames: number;
}

const n = (v: number | null | undefined): number => v ?? 0;

/**
 * Balances consecutive samples of one stream (from its first sample, or
 * after one whose pendingFrames is passed as `pendingBefore`).
 */
export function frameBalance(samples: readonly HealthSample[], pendingBefore = 0): FrameBalance {
  const direction = samples[0]?.direction ?? null;
  let device: number | null = 0;
  let accounted = 0;
  for (const s of samples) {
    if (s.direction !== direction) throw new RangeError(`frameBalance: ${s.device} mixes capture and playback samples`);
    device = device === null || s.deviceFrames === null || s.deviceFrames === undefined ? null : device + s.deviceFrames;
    accounted +=
      direction === 'capture'
        ? n(s.deliveredFrames) + n(s.consumerDropped) + s.lostFrames + n(s.discardedFrames)
        : n(s.deliveredFrames) + n(s.starved) + n(s.paddingFrames) + s.lostFrames - n(s.discardedFrames);
  }
  const pendingEnd = samples.length > 0 ? n(samples[samples.length - 1]!.pendingFrames) : pendingBefore;
  accounted += direction === 'playback' ? -(pendingEnd - pendingBefore) : pendingEnd - pendingBefore;
  if (samples.length === 0) device = null;
  return {
    direction,
    deviceFrames: device,
    accountedFrames: accounted,
    unaccountedFrames: device === null ? null : device - accounted,
    pendingFrames: pendingEnd,
  };
}
