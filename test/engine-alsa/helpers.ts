// Shared bits of the engine-over-alsa-lib tests (test/engine-alsa/*.test.ts):
// the healthtest plugin's environment, trace files, figures, pairing of the
// engine's events with the plugin's trace.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ensurePlugin, readTrace, type PluginSetup, type TraceEvent } from '../alsa-plugin/plugin.js';
import type { HealthSample, PcmEvent } from '../../src/types.js';

export const RATE = 48000;
export const BYTES_PER_FRAME = 4; // S16_LE stereo
export const BYTES_PER_SECOND = RATE * BYTES_PER_FRAME;

/**
 * Builds the plugin and puts ALSA_CONFIG_PATH / HEALTHTEST_STATE_DIR into this
 * process's environment. Call at the top of a test file (top-level await),
 * before anything opens a healthtest PCM: alsa-lib reads the variable at open.
 */
export async function usePlugin(): Promise<PluginSetup> {
  const setup = await ensurePlugin();
  Object.assign(process.env, setup.env);
  return setup;
}

let tmpDir: string | undefined;
let traceN = 0;

/** A fresh trace file path (the plugin appends JSON lines to it). */
export function traceFile(tag: string): string {
  tmpDir ??= mkdtempSync(path.join(os.tmpdir(), 'ah-engine-alsa-'));
  return path.join(tmpDir, `${tag}-${traceN++}.jsonl`);
}

export function traceOf(file: string, ev?: TraceEvent['ev']): TraceEvent[] {
  const all = readTrace(file);
  return ev ? all.filter((e) => e.ev === ev) : all;
}

/** bigint ns difference in ms / us */
export const ms = (ns: bigint): number => Number(ns) / 1e6;
export const us = (ns: bigint): number => Number(ns) / 1e3;
export const f1 = (x: number): string => x.toFixed(1);

/** The sample window that holds time t (ns), if any. */
export function windowAt(samples: readonly HealthSample[], t: bigint): HealthSample | undefined {
  return samples.find((s) => s.tStartNs <= t && t < s.tEndNs);
}

/** Short text for a log line: an event relative to t0. */
export function describeEvent(e: PcmEvent, t0: bigint): string {
  const parts = [`${e.type}@${f1(ms(e.tDetectNs - t0))}ms`];
  if (e.durationUs !== undefined) parts.push(`durationUs=${f1(e.durationUs)}`);
  if (e.lostFrames !== undefined) parts.push(`lost=${e.lostFrames}`);
  if (e.errno) parts.push(e.errno);
  return parts.join(' ');
}

/** Counts of events by type, e.g. { xrun: 3, recovered: 3 }. */
export function countByType(events: readonly PcmEvent[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) out[e.type] = (out[e.type] ?? 0) + 1;
  return out;
}

/**
 * Pairs the engine's xrun events with the plugin's traced xruns, in order,
 * and checks they agree one to one: the same number, each event detected
 * after the plugin entered XRUN and before its next xrun. The host is a busy
 * shared machine (seen: 100-160 ms when no thread of any process ran), so a
 * stream can really overrun with no fault injected; such an xrun is in the
 * trace (cause overrun/underrun) and the engine must report it too.
 */
export function pairXruns(events: readonly PcmEvent[], trace: readonly TraceEvent[]): { event: PcmEvent; truth: TraceEvent }[] {
  const xruns = events.filter((e) => e.type === 'xrun');
  const truths = realXruns(trace);
  if (xruns.length !== truths.length)
    throw new Error(`engine reported ${xruns.length} xruns, the plugin had ${truths.length}: ${truths.map((t) => t.cause).join(',')}`);
  return xruns.map((event, i) => {
    const truth = truths[i]!;
    const next = truths[i + 1];
    if (event.tDetectNs < truth.t) throw new Error(`xrun ${i + 1} detected before the plugin's xrun`);
    if (next && event.tDetectNs >= next.t) throw new Error(`xrun ${i + 1} detected after the plugin's next xrun`);
    return { event, truth };
  });
}

/**
 * The plugin's xruns less its phantoms: snd_pcm_prepare() of a RUNNING
 * stream (the engine's in-place restart after an I/O error) reaches the
 * plugin's prepare callback after ioplug has reset appl_ptr to 0 while the
 * plugin's clock still runs; its service() then traces an "underrun" whose
 * tXrunNs is the stream's start. No stream was ever in XRUN for it.
 */
export function realXruns(trace: readonly TraceEvent[]): TraceEvent[] {
  return trace.filter((t, i) => t.ev === 'xrun' && !isPhantomXrun(trace, i));
}

export function phantomXruns(trace: readonly TraceEvent[]): TraceEvent[] {
  return trace.filter((t, i) => t.ev === 'xrun' && isPhantomXrun(trace, i));
}

function isPhantomXrun(trace: readonly TraceEvent[], i: number): boolean {
  const x = trace[i]!;
  if (x.cause === 'injected') return false;
  const lastStart = trace.slice(0, i).filter((t) => t.ev === 'start' && t.stream === x.stream && t.pid === x.pid).pop();
  return lastStart !== undefined && (x.tXrunNs as bigint) <= lastStart.t;
}

/** Plugin xruns nobody injected (the host starved the stream), for the log. */
export function hostXruns(trace: readonly TraceEvent[]): TraceEvent[] {
  return realXruns(trace).filter((t) => t.cause !== 'injected');
}
