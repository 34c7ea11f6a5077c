// Audio through real alsa-lib: the healthtest plugin is clocked at the stream's
// rate, so capture and playback move 192000 B/s (48 kHz S16_LE stereo); and
// alsa-lib's own `null` PCM (unclocked) opens, moves frames and closes cleanly
// in both directions.
//
//   npm run build:native && npx vitest run test/engine-alsa
import { describe, expect, it } from 'vitest';
import type { Readable, Writable } from 'node:stream';

import { pluginDevice } from '../alsa-plugin/plugin.js';
import { openPcm } from '../../src/index.js';
import type { HealthSample } from '../../src/types.js';
import { record, sleep, until } from '../helpers/recorder.js';
import { BYTES_PER_FRAME, BYTES_PER_SECOND, countByType, f1, ms, RATE, traceFile, traceOf, usePlugin } from './helpers.js';

await usePlugin(); // ALSA_CONFIG_PATH before the first healthtest open of this process

const PERIOD = 960; // 20 ms
const BUFFER_PERIODS = 25; // 500 ms: the host has starved every thread for 100-160 ms at times
const MEASURE_MS = 2000;
const WARMUP_MS = 300;

/** Least-squares slope of y over t (ns): units of y per second. */
function slopePerSecond(points: readonly { t: bigint; y: number }[]): number {
  const t0 = points[0]!.t;
  const xs = points.map((p) => Number(p.t - t0) / 1e9);
  const ys = points.map((p) => p.y);
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  return sxy / sxx;
}

/** Frames per second the engine moved, from the complete windows inside [from, to]. */
function sampleRate(samples: readonly HealthSample[], from: bigint, to: bigint): { fps: number; windows: number } {
  const ws = samples.filter((s) => s.tStartNs >= from && s.tEndNs <= to && s.state === 'running');
  const frames = ws.reduce((a, s) => a + s.frames, 0);
  const ns = ws.reduce((a, s) => a + Number(s.tEndNs - s.tStartNs), 0);
  return { fps: (frames * 1e9) / ns, windows: ws.length };
}

const within2 = (x: number, target: number) => expect(Math.abs(x - target) / target).toBeLessThan(0.02);
const pct = (x: number, target: number) => `${x >= target ? '+' : ''}${f1(((x - target) / target) * 100)} %`;

describe('engine over alsa-lib: byte rates through the healthtest plugin', () => {
  it('capture delivers 192000 B/s (±2 % over 2 s): JS bytes, engine samples and the plugin clock agree', async () => {
    const trace = traceFile('rate-capture');
    const device = pluginDevice('', { trace });
    const pcm = await openPcm({ device, direction: 'capture', rate: RATE, periodFrames: PERIOD, bufferPeriods: BUFFER_PERIODS, sampleIntervalMs: 100 });
    const rec = record(pcm);
    const tOpen = process.hrtime.bigint();
    const points: { t: bigint; y: number }[] = [];
    let bytes = 0;
    (pcm.audio as Readable).on('data', (b: Buffer) => {
      bytes += b.length;
      points.push({ t: process.hrtime.bigint(), y: bytes });
    });
    await until(() => points.some((p) => p.t > tOpen + BigInt((WARMUP_MS + MEASURE_MS) * 1e6)), 10_000, '2 s of audio after the warm-up');
    await pcm.close();

    // JS side: bytes between the first delivery after the warm-up and the last of the 2 s.
    const from = tOpen + BigInt(WARMUP_MS * 1e6);
    const to = from + BigInt(MEASURE_MS * 1e6);
    const inRange = points.filter((p) => p.t >= from && p.t <= to);
    const first = inRange[0]!;
    const last = inRange[inRange.length - 1]!;
    const jsRate = ((last.y - first.y) * 1e9) / Number(last.t - first.t);
    const fitRate = slopePerSecond(inRange);
    const eng = sampleRate(rec.samples, from, to);
    const start = traceOf(trace, 'start')[0]!;
    const stop = traceOf(trace, 'stop')[0]!;
    const pluginRate = ((stop.frames as number) * BYTES_PER_FRAME * 1e9) / Number(stop.t - start.t);
    console.log(
      `[engine-alsa] capture rate over ${f1(ms(last.t - first.t))} ms: JS ${jsRate.toFixed(0)} B/s (${pct(jsRate, BYTES_PER_SECOND)}), ` +
        `least squares over ${inRange.length} deliveries ${fitRate.toFixed(0)} B/s (${pct(fitRate, BYTES_PER_SECOND)}); ` +
        `engine samples ${(eng.fps * BYTES_PER_FRAME).toFixed(0)} B/s over ${eng.windows} windows (${pct(eng.fps * BYTES_PER_FRAME, BYTES_PER_SECOND)}); ` +
        `plugin ${stop.frames} frames start->stop = ${pluginRate.toFixed(0)} B/s (${pct(pluginRate, BYTES_PER_SECOND)}); events ${JSON.stringify(countByType(rec.events))}`,
    );
    for (const e of rec.events) console.log(`[engine-alsa]   capture event ${e.type} at +${f1(ms(e.tDetectNs - tOpen))} ms ${e.durationUs ?? ''}`);
    for (const x of traceOf(trace, 'xrun')) console.log(`[engine-alsa]   plugin xrun ${x.cause} at +${f1(ms((x.tXrunNs as bigint) - tOpen))} ms, seen +${f1(ms(x.t - tOpen))} ms`);
    within2(jsRate, BYTES_PER_SECOND);
    within2(fitRate, BYTES_PER_SECOND);
    within2(eng.fps * BYTES_PER_FRAME, BYTES_PER_SECOND);
    within2(pluginRate, BYTES_PER_SECOND);
    expect(rec.total('xruns')).toBe(0);
    expect(rec.total('consumerDropped')).toBe(0);
    expect(rec.events).toHaveLength(0);
  });

  it('playback consumes 192000 B/s (±2 % over 2 s) of what JS writes, no starvation, no xrun', async () => {
    const trace = traceFile('rate-playback');
    const device = pluginDevice('', { trace });
    const pcm = await openPcm({ device, direction: 'playback', rate: RATE, periodFrames: PERIOD, bufferPeriods: BUFFER_PERIODS, sampleIntervalMs: 100 });
    const rec = record(pcm);
    const audio = pcm.audio as Writable;
    const tOpen = process.hrtime.bigint();
    const end = tOpen + BigInt((WARMUP_MS + MEASURE_MS + 200) * 1e6);
    const chunk = Buffer.alloc(BYTES_PER_SECOND / 100, 0x11); // 10 ms
    const points: { t: bigint; y: number }[] = [];
    let accepted = 0;
    while (process.hrtime.bigint() < end) {
      const ok = audio.write(chunk, () => {
        accepted += chunk.length;
        points.push({ t: process.hrtime.bigint(), y: accepted });
      });
      if (!ok) await new Promise((r) => audio.once('drain', r));
    }
    const starvedWhileFed = rec.total('starved');
    await pcm.close();

    const from = tOpen + BigInt(WARMUP_MS * 1e6);
    const to = from + BigInt(MEASURE_MS * 1e6);
    const inRange = points.filter((p) => p.t >= from && p.t <= to);
    const fitRate = slopePerSecond(inRange);
    const eng = sampleRate(rec.samples, from, to);
    const start = traceOf(trace, 'start')[0]!;
    const stop = traceOf(trace, 'stop')[0]!;
    const params = pcm.params;
    // The plugin counts what was written: the prefill (one buffer) is ahead of the clock.
    const pluginRate = (((stop.frames as number) - params.bufferFrames) * BYTES_PER_FRAME * 1e9) / Number(stop.t - start.t);
    console.log(
      `[engine-alsa] playback rate: JS accepted ${fitRate.toFixed(0)} B/s by least squares over ${inRange.length} writes in 2 s (${pct(fitRate, BYTES_PER_SECOND)}); ` +
        `engine samples ${(eng.fps * BYTES_PER_FRAME).toFixed(0)} B/s over ${eng.windows} windows (${pct(eng.fps * BYTES_PER_FRAME, BYTES_PER_SECOND)}); ` +
        `plugin ${stop.frames} frames - prefill ${params.bufferFrames}, start->stop = ${pluginRate.toFixed(0)} B/s (${pct(pluginRate, BYTES_PER_SECOND)}); ` +
        `starved while fed ${starvedWhileFed}; events ${JSON.stringify(countByType(rec.events))}`,
    );
    within2(fitRate, BYTES_PER_SECOND);
    within2(eng.fps * BYTES_PER_FRAME, BYTES_PER_SECOND);
    within2(pluginRate, BYTES_PER_SECOND);
    expect(starvedWhileFed).toBe(0);
    expect(rec.total('xruns')).toBe(0);
    expect(rec.events).toHaveLength(0);
  });
});

describe("engine over alsa-lib: alsa-lib's null PCM", () => {
  for (const direction of ['capture', 'playback'] as const) {
    it(`${direction}: opens, frames move, closes cleanly`, async () => {
      const cpu0 = process.cpuUsage();
      const pcm = await openPcm({ device: 'null', direction, rate: RATE, periodFrames: PERIOD, bufferPeriods: BUFFER_PERIODS, sampleIntervalMs: 50 });
      const rec = record(pcm);
      let bytes = 0;
      if (direction === 'capture') (pcm.audio as Readable).on('data', (b: Buffer) => (bytes += b.length));
      else {
        const w = pcm.audio as Writable;
        const chunk = Buffer.alloc(PERIOD * BYTES_PER_FRAME);
        const feed = (): void => {
          while (w.write(chunk)) bytes += chunk.length;
          bytes += chunk.length;
        };
        w.on('drain', feed);
        feed();
      }
      expect(pcm.state).toBe('open');
      expect(pcm.params).toMatchObject({ rate: RATE, channels: 2, format: 'S16_LE', periodFrames: PERIOD });
      await until(() => rec.total('frames') >= RATE / 10 && rec.samples.length >= 3, 5000, 'frames to move');
      const tClose = process.hrtime.bigint();
      await pcm.close();
      const closeMs = ms(process.hrtime.bigint() - tClose);
      const cpu = process.cpuUsage(cpu0);
      const last = rec.samples[rec.samples.length - 1]!;
      const seconds = ms(last.tEndNs - rec.samples[0]!.tStartNs) / 1000;
      console.log(
        `[engine-alsa] null ${direction}: ${rec.total('frames')} frames in ${rec.samples.length} windows (${f1(seconds * 1000)} ms; unclocked: ${(rec.total('frames') / seconds).toFixed(0)} frames/s), ` +
          `JS bytes ${bytes}; close took ${f1(closeMs)} ms; process CPU ${f1((cpu.user + cpu.system) / 1000)} ms; events ${JSON.stringify(countByType(rec.events))}; last state ${last.state}`,
      );
      expect(rec.total('frames')).toBeGreaterThan(0);
      expect(rec.total('errors')).toBe(0);
      expect(rec.total('xruns')).toBe(0);
      expect(rec.events).toHaveLength(0);
      expect(last.state).toBe('closed');
      expect(pcm.state).toBe('closed');
      expect(bytes).toBeGreaterThan(0);
      // Closed means closed: no sample or event after close() resolved.
      const n = rec.samples.length + rec.events.length;
      await sleep(150);
      expect(rec.samples.length + rec.events.length).toBe(n);
    });
  }
});
