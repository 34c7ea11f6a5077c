// How a PcmSource's samples and events map onto a device's metrics. The
// engine reports each xrun twice (an event at once, then in the window's
// sample), so each fact is taken from one place only:
//   events  -> xruns (count and length), errors, disconnect, suspend, reopen
//   samples -> good periods, frames, lateness, delay, lost / dropped / starved frames

import type { HealthSample, PcmEvent } from '../types.js';
import type { DeviceRecorder } from './metrics.js';

/**
 * Audio moved with no error in the window. The window in which a device
 * vanished can still hold a few periods; its state says it is gone.
 */
export function isGoodSample(s: HealthSample): boolean {
  return s.periods > 0 && s.errors === 0 && s.state !== 'disconnected' && s.state !== 'suspended';
}

/** Returns whether the sample was a good one. */
export function applySample(rec: DeviceRecorder, now: number, s: HealthSample): boolean {
  const good = isGoodSample(s);
  if (good) rec.good(now, s.periods, s.frames);
  else if (s.frames > 0) rec.moved(now, s.frames);
  else rec.idle();
  // A PcmObserver cannot know the owner's wake-ups (null): no lateness figures, not zeros.
  const lateMax = s.latenessUsMax;
  if (lateMax !== null && (s.periods > 0 || lateMax > 0)) rec.lateness(now, s.latenessUsMean ?? lateMax, lateMax, s.periods);
  if (s.periods > 0 || s.delayUsMax > 0) rec.delay(now, s.delayUsMean, s.delayUsMax, s.periods);
  rec.lost(now, s.lostFrames, s.consumerDropped ?? 0, s.starved ?? 0);
  rec.account(s);
  // Errors are counted from 'error' events; the sample only keeps the last errno for the snapshot.
  if (s.errors > 0) rec.noteErrno(s.lastErrno, s.lastError);
  return good;
}

/** What the event means for recovery: 'good' lets a finished recovery reset. */
export type EventEffect = 'none' | 'trouble' | 'good';

export function applyEvent(rec: DeviceRecorder, now: number, e: PcmEvent): EventEffect {
  switch (e.type) {
    case 'xrun':
      rec.xrun(now, e.direction === 'playback' ? 'underrun' : 'overrun', e.durationUs ?? null);
      return 'trouble';
    case 'error':
      rec.error(now, e.errno ?? null, e.message ?? null);
      return 'trouble';
    case 'disconnect':
      rec.disconnect(now);
      rec.noteErrno(e.errno ?? 'ENODEV', e.message ?? null);
      return 'trouble';
    case 'suspend':
      rec.suspend(now);
      return 'trouble';
    case 'resume':
    case 'recovered':
      rec.resumed();
      return 'none';
    case 'reopened':
    case 'reappeared': // a PcmObserver's card is back (its owner has yet to stream again)
      // Open again, but "streams again" (and the recovery reset) waits for a good period.
      rec.reconnected();
      return 'none';
    case 'reopenFailed':
      // The recovery controller counts the failed reopen (it awaited it); counting here too would double it.
      rec.noteErrno(e.errno ?? null, e.message ?? null);
      return 'none';
    default:
      return 'none';
  }
}
