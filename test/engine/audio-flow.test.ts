// Audio moves at the device's rate; a slow consumer or a starving producer is
// counted as such, never as an ALSA xrun.
import { describe, expect, it } from 'vitest';
import { Readable, Writable } from 'node:stream';

import { openPcm } from '../../src/index.js';
import { record, sleep } from '../helpers/recorder.js';

const RATE = 48000;
const BYTES_PER_SECOND = RATE * 2 * 2; // S16_LE stereo

describe('audio flow', () => {
  it('capture delivers the configured byte rate (±2 % over 2 s), frames in order', async () => {
    const pcm = await openPcm({ device: 'mock:cap', direction: 'capture', rate: RATE, periodFrames: 240, bufferPeriods: 40 });
    const rec = record(pcm);
    let bytes = 0;
    let expectedIndex = -1;
    let gaps = 0;
    const audio = pcm.audio as Readable;
    audio.on('data', (chunk: Buffer) => {
      // The mock stamps each frame with its index: check continuity.
      for (let off = 0; off < chunk.length; off += 4) {
        const idx = chunk.readUInt32LE(off);
        if (expectedIndex >= 0 && idx !== expectedIndex) gaps++;
        expectedIndex = idx + 1;
      }
      bytes += chunk.length;
    });
    await sleep(2000);
    await pcm.close();
    await new Promise((r) => audio.once('end', r));
    // Rate from the engine's own window timestamps; bytes: every frame reached JS.
    const frames = rec.total('frames');
    const seconds = Number(rec.samples.at(-1)!.tEndNs - rec.samples[0]!.tStartNs) / 1e9;
    const rate = (frames * 4) / seconds;
    console.log(`capture: ${bytes} bytes to JS, ${frames} frames in ${seconds.toFixed(3)} s = ${rate.toFixed(0)} B/s (expected ${BYTES_PER_SECOND})`);
    expect(Math.abs(rate - BYTES_PER_SECOND) / BYTES_PER_SECOND).toBeLessThan(0.02);
    expect(bytes).toBe(frames * 4);
    expect(gaps).toBe(0);
    expect(rec.total('consumerDropped')).toBe(0);
    expect(rec.total('xruns')).toBe(0);
    // Wake-ups into JS: one sample per 100 ms window, whatever the 5 ms period.
    expect(rec.samples.length).toBeLessThanOrEqual(22);
  });

  it('capture nobody drains: oldest audio dropped and counted as consumerDropped, not xruns', async () => {
    const pcm = await openPcm({ device: 'mock:slow', direction: 'capture', rate: RATE, sampleIntervalMs: 50 });
    const rec = record(pcm);
    await sleep(1000);
    await pcm.close();
    const produced = rec.total('frames');
    expect(produced).toBeGreaterThan(RATE * 0.9);
    expect(rec.total('consumerDropped')).toBeGreaterThan(0);
    // Readable buffered up to its highWaterMark, the ring held the rest; everything else was dropped.
    expect(rec.total('consumerDropped')).toBeGreaterThan(produced / 2);
    expect(rec.total('xruns')).toBe(0);
    expect(rec.ofType('xrun')).toHaveLength(0);
  });

  it('playback consumes what JS writes at the device rate; a starved stream plays silence and counts it', async () => {
    const pcm = await openPcm({ device: 'mock:play', direction: 'playback', rate: RATE, bufferPeriods: 8, sampleIntervalMs: 50 });
    const rec = record(pcm);
    const audio = pcm.audio as Writable;
    const chunk = Buffer.alloc(BYTES_PER_SECOND / 50); // 20 ms
    let written = 0;
    const t0 = process.hrtime.bigint();
    // Write 1.5 s of audio as fast as backpressure allows.
    while (written < BYTES_PER_SECOND * 1.5) {
      if (!audio.write(chunk)) await new Promise((r) => audio.once('drain', r));
      written += chunk.length;
    }
    const writeSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const starvedBefore = rec.total('starved');
    await sleep(600); // nothing more is written: the device plays silence
    await pcm.close();
    console.log(`playback: ${written} bytes accepted in ${writeSeconds.toFixed(3)} s; starved ${rec.total('starved')} frames`);
    // Backpressure: 1.5 s of audio cannot be taken much faster than it plays
    // (the ring and the stream buffer hold a few hundred ms at most).
    expect(writeSeconds).toBeGreaterThan(1.0);
    expect(starvedBefore).toBe(0);
    expect(rec.total('starved')).toBeGreaterThan(RATE * 0.2);
    expect(rec.total('xruns')).toBe(0);
    // The device took frames at its rate the whole time, fed or starved.
    const seconds = Number(rec.samples.at(-1)!.tEndNs - rec.samples[0]!.tStartNs) / 1e9;
    expect(Math.abs(rec.total('frames') / seconds - RATE) / RATE).toBeLessThan(0.02);
  });
});

describe('long runs', () => {
  it('frame counters past 2^32 (by a start offset) keep exact rates and continuity', async () => {
    const start = 2 ** 32 - RATE / 2; // crosses 2^32 half a second in
    const pcm = await openPcm({ device: 'mock:long', direction: 'capture', rate: RATE, bufferPeriods: 10, mock: { startFrame: start } });
    const rec = record(pcm);
    const stamps: number[] = [];
    (pcm.audio as Readable).on('data', (chunk: Buffer) => {
      for (let off = 0; off < chunk.length; off += 4) stamps.push(chunk.readUInt32LE(off));
    });
    await sleep(1200);
    await pcm.close();
    await new Promise((r) => (pcm.audio as Readable).once('end', r));
    // Each frame carries its card index mod 2^32: it must wrap once, in order.
    expect(stamps[0]).toBe(start);
    let wraps = 0;
    for (let i = 1; i < stamps.length; i++) {
      const expected = (stamps[i - 1]! + 1) % 2 ** 32;
      expect(stamps[i]).toBe(expected);
      if (stamps[i] === 0) wraps++;
    }
    expect(wraps).toBe(1);
    expect(stamps.length).toBe(rec.total('frames'));
    expect(rec.total('xruns')).toBe(0);
    expect(rec.total('consumerDropped')).toBe(0);
  });
});
