// `alsa-health probe DEVICE`: open one PCM, stream it for N seconds, judge it.
// Exit codes: 0 healthy, 1 not healthy, 2 could not open.

import type { Readable, Writable } from 'node:stream';
import type { HealthSample, PcmEvent, PcmOptions, PcmParams } from '../types.js';
import { table } from './table.js';

export interface ProbeReport {
  params: PcmParams;
  seconds: number;
  frames: number;
  expectedFrames: number;
  xruns: number;
  xrunMsMax: number;
  lostFrames: number;
  errors: number;
  lastErrno: string | null;
  events: Record<string, number>;
  /** Percentiles of the worst period wake-up lateness of each sample window, ms. */
  latenessMs: { p50: number; p99: number; max: number } | null;
  delayMs: { mean: number; max: number } | null;
  consumerDropped: number;
  starved: number;
  healthy: boolean;
  reasons: string[];
}

export const PROBE_OK = 0;
export const PROBE_UNHEALTHY = 1;
export const PROBE_CANNOT_OPEN = 2;

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? 0;
}

const round = (x: number) => Math.round(x * 100) / 100;

/** Pure: fold the samples and events of a probe run into a report and a verdict. */
export function judgeProbe(
  params: PcmParams,
  seconds: number,
  samples: readonly HealthSample[],
  events: readonly PcmEvent[],
  latencyThresholdMs: number,
): ProbeReport {
  const sum = (f: (s: HealthSample) => number) => samples.reduce((n, s) => n + f(s), 0);
  const moving = samples.filter((s) => s.periods > 0);
  const late = moving.map((s) => (s.latenessUsMax ?? 0) / 1000).sort((a, b) => a - b);
  const frames = sum((s) => s.frames);
  const expectedFrames = Math.round(params.rate * seconds);
  const count: Record<string, number> = {};
  for (const e of events) count[e.type] = (count[e.type] ?? 0) + 1;
  const xruns = sum((s) => s.xruns);
  const errors = sum((s) => s.errors);
  const lastErrno = [...samples].reverse().find((s) => s.errors > 0 && s.lastErrno)?.lastErrno ?? null;
  const latenessMs = late.length ? { p50: round(percentile(late, 50)), p99: round(percentile(late, 99)), max: round(late[late.length - 1] ?? 0) } : null;
  const delayMs = moving.length
    ? {
        mean: round(moving.reduce((n, s) => n + s.delayUsMean, 0) / moving.length / 1000),
        max: round(Math.max(...moving.map((s) => s.delayUsMax)) / 1000),
      }
    : null;

  const reasons: string[] = [];
  // The first period needs a buffer's worth of lead-in: allow 10 % plus one buffer.
  if (frames < expectedFrames * 0.9 - params.bufferFrames) reasons.push(`moved ${frames} of ${expectedFrames} expected frames`);
  if (xruns > 0) reasons.push(`${xruns} xrun${xruns > 1 ? 's' : ''} (longest at least ${round(Math.max(...samples.map((s) => s.xrunUsMax)) / 1000)} ms)`);
  if (errors > 0) reasons.push(`${errors} error${errors > 1 ? 's' : ''}${lastErrno ? ` (last ${lastErrno})` : ''}`);
  for (const t of ['disconnect', 'suspend', 'reopenFailed', 'error'] as const) {
    if (count[t]) reasons.push(`${count[t]} ${t} event${count[t] > 1 ? 's' : ''}`);
  }
  if (latenessMs && latenessMs.max >= latencyThresholdMs) reasons.push(`a period woke ${latenessMs.max} ms late (threshold ${latencyThresholdMs} ms)`);

  return {
    params,
    seconds,
    frames,
    expectedFrames,
    xruns,
    xrunMsMax: round(Math.max(0, ...samples.map((s) => s.xrunUsMax)) / 1000),
    lostFrames: sum((s) => s.lostFrames),
    errors,
    lastErrno,
    events: count,
    latenessMs,
    delayMs,
    consumerDropped: sum((s) => s.consumerDropped ?? 0),
    starved: sum((s) => s.starved ?? 0),
    healthy: reasons.length === 0,
    reasons,
  };
}

export function formatProbe(r: ProbeReport): string {
  const p = r.params;
  const rows: [string, string][] = [
    ['device', `${p.device} (${p.direction})`],
    ['params', `${p.rate} Hz, ${p.channels} ch, ${p.format}, period ${p.periodFrames} frames, buffer ${p.bufferFrames} frames`],
    ['streamed', `${r.seconds} s, ${r.frames} of ${r.expectedFrames} frames`],
    ['xruns', `${r.xruns}${r.xruns ? ` (longest at least ${r.xrunMsMax} ms, ${r.lostFrames} frames lost)` : ''}`],
    ['errors', `${r.errors}${r.lastErrno ? ` (last ${r.lastErrno})` : ''}`],
    ['events', Object.entries(r.events).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'],
    ['lateness', r.latenessMs ? `p50 ${r.latenessMs.p50} ms, p99 ${r.latenessMs.p99} ms, max ${r.latenessMs.max} ms (worst per window)` : 'no periods'],
    ['delay', r.delayMs ? `mean ${r.delayMs.mean} ms, max ${r.delayMs.max} ms` : 'no periods'],
    ['verdict', r.healthy ? 'healthy' : `NOT healthy: ${r.reasons.join('; ')}`],
  ];
  return table(['', ''], rows).split('\n').slice(1).join('\n');
}

export interface ProbeDeps {
  openPcm(options: PcmOptions): Promise<{
    params: PcmParams;
    audio: Readable | Writable;
    on(event: 'sample', l: (s: HealthSample) => void): unknown;
    on(event: 'event', l: (e: PcmEvent) => void): unknown;
    close(): Promise<void>;
  }>;
}

export type ProbeOutcome = { exitCode: number; report?: ProbeReport; error?: Error };

/** Open, stream `seconds`, close. Capture audio is discarded; playback gets silence. */
export async function runProbe(
  deps: ProbeDeps,
  options: PcmOptions,
  seconds: number,
  latencyThresholdMs: number,
  feed: (pcm: { audio: Readable | Writable; params: PcmParams }) => { close(): void },
): Promise<ProbeOutcome> {
  let pcm: Awaited<ReturnType<ProbeDeps['openPcm']>>;
  try {
    pcm = await deps.openPcm(options);
  } catch (err) {
    return { exitCode: PROBE_CANNOT_OPEN, error: err as Error };
  }
  const samples: HealthSample[] = [];
  const events: PcmEvent[] = [];
  pcm.on('sample', (s) => samples.push(s));
  pcm.on('event', (e) => events.push(e));
  const link = feed(pcm);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  link.close();
  await pcm.close();
  const report = judgeProbe(pcm.params, seconds, samples, events, latencyThresholdMs);
  return { exitCode: report.healthy ? PROBE_OK : PROBE_UNHEALTHY, report };
}
