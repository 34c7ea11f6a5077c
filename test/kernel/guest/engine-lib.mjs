// Guest side: load the built engine (dist/index.js + build/Release/*.node of the
// repo, seen read-only through the host's root) and small helpers around a PcmStream.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { now } from './lib.mjs';

export const REPO = fileURLToPath(new URL('../../..', import.meta.url));
export const ENGINE = process.env.AH_ENGINE ?? `${REPO}dist/index.js`;

export async function engine() {
  return import(pathToFileURL(ENGINE).href);
}

/** ns (bigint or numeric string) -> ms on the now() clock (both CLOCK_MONOTONIC). */
export const nsToMs = (ns) => Number(BigInt(ns)) / 1e6;

/** The errno name an engine error carries, however it is spelled. */
export function errnoOf(e) {
  if (!e) return null;
  for (const k of ['errno', 'code', 'errnoName']) if (typeof e[k] === 'string' && /^E[A-Z]+$/.test(e[k])) return e[k];
  const m = /\b(E[A-Z]{2,})\b/.exec(String(e.message ?? e));
  if (m) return m[1];
  if (/No such device/i.test(String(e.message ?? e))) return 'ENODEV';
  return null;
}

/**
 * Watch a PcmStream: events (with their JS arrival time), samples, audio bytes
 * over time (capture). `firstGood(after)` resolves with the time (now() ms) of
 * the first sample window after `after` that moved frames.
 */
export function observe(pcm, { keepAudio = false } = {}) {
  const o = { events: [], samples: [], bytes: 0, timeline: [], chunks: keepAudio ? [] : null, waiters: [], dataWaiters: [] };
  pcm.on('event', (e) => {
    o.events.push({ ...e, tRecvMs: now() });
  });
  pcm.on('sample', (s) => {
    const rec = { ...s, tRecvMs: now() };
    o.samples.push(rec);
    for (const w of [...o.waiters]) {
      if (rec.frames > 0 && rec.tRecvMs > w.after) {
        o.waiters.splice(o.waiters.indexOf(w), 1);
        w.resolve(rec);
      }
    }
  });
  if (pcm.direction === 'capture' || pcm.audio?.readable) {
    pcm.audio.on('data', (b) => {
      const t = now();
      o.bytes += b.length;
      o.timeline.push([t, o.bytes]);
      if (o.chunks) o.chunks.push(b);
      for (const w of [...o.dataWaiters]) {
        if (t > w.after) {
          o.dataWaiters.splice(o.dataWaiters.indexOf(w), 1);
          w.resolve(t);
        }
      }
    });
  }
  o.firstGood = (after, timeoutMs = 5000) =>
    new Promise((resolve, reject) => {
      const w = { after, resolve };
      o.waiters.push(w);
      setTimeout(() => {
        const i = o.waiters.indexOf(w);
        if (i >= 0) {
          o.waiters.splice(i, 1);
          reject(new Error(`no sample with frames within ${timeoutMs} ms`));
        }
      }, timeoutMs).unref();
    });
  /** Time (now() ms) of the first audio chunk after `after` (capture only). */
  o.firstData = (after, timeoutMs = 5000) =>
    new Promise((resolve, reject) => {
      const w = { after, resolve };
      o.dataWaiters.push(w);
      setTimeout(() => {
        const i = o.dataWaiters.indexOf(w);
        if (i >= 0) {
          o.dataWaiters.splice(i, 1);
          reject(new Error(`no audio within ${timeoutMs} ms`));
        }
      }, timeoutMs).unref();
    });
  o.count = (type) => o.events.filter((e) => e.type === type).length;
  /** Frames/s from the sample windows whose end lies in [fromMs, toMs] (now() clock). */
  o.sampleRate = (fromMs = -Infinity, toMs = Infinity) => {
    const ss = o.samples.filter((s) => s.tRecvMs >= fromMs && s.tRecvMs <= toMs && s.frames > 0);
    if (ss.length < 2) return null;
    const frames = ss.slice(1).reduce((n, s) => n + s.frames, 0);
    const ms = nsToMs(ss[ss.length - 1].tEndNs) - nsToMs(ss[0].tEndNs);
    return (frames * 1000) / ms;
  };
  return o;
}

/** Compact view of an event for the report. */
export function ev(e) {
  const out = { type: e.type };
  for (const k of ['errno', 'durationUs', 'lostFrames', 'message']) if (e[k] !== undefined) out[k] = e[k];
  out.tDetectMs = e.tDetectNs !== undefined ? nsToMs(e.tDetectNs) : null;
  out.tRecvMs = e.tRecvMs;
  return out;
}
