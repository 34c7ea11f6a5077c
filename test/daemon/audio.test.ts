// Audio sinks and sources against plain node streams standing in for PcmStream.audio.

import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attachAudio } from '../../src/daemon/audio.js';

const log = pino({ level: 'silent' });
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A Writable that takes `limit` bytes, then applies backpressure forever. */
function sinkPcm(limit: number): Writable & { got: Buffer[] } {
  const got: Buffer[] = [];
  let total = 0;
  const w = new Writable({
    highWaterMark: 4096,
    write(chunk: Buffer, _enc, cb) {
      got.push(chunk);
      total += chunk.length;
      if (total < limit) cb();
    },
  });
  return Object.assign(w, { got });
}

describe('audio links', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'alsa-health-audio-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('capture discard drains the stream', async () => {
    const audio = new PassThrough();
    const link = attachAudio('discard', { direction: 'capture', audio, bytesPerSecond: 192000, log });
    for (let i = 0; i < 100; i++) audio.write(Buffer.alloc(4096));
    await tick(10);
    expect(audio.readableLength).toBe(0);
    link.close();
  });

  it('capture to a file appends the bytes', async () => {
    const file = join(dir, 'out.raw');
    writeFileSync(file, 'x');
    const audio = new PassThrough();
    const link = attachAudio({ file }, { direction: 'capture', audio, bytesPerSecond: 192000, log });
    audio.write(Buffer.from('abc'));
    audio.write(Buffer.from('def'));
    await tick(50);
    link.close();
    await tick(20);
    expect(readFileSync(file, 'utf8')).toBe('xabcdef');
  });

  it('capture to a FIFO: drops while no reader, delivers to a reader', async () => {
    const fifo = join(dir, 'cap.fifo');
    execFileSync('mkfifo', [fifo]);
    const audio = new PassThrough();
    const link = attachAudio({ fifo }, { direction: 'capture', audio, bytesPerSecond: 192000, log });
    // 1 MB with nobody reading: must neither block nor grow without bound.
    for (let i = 0; i < 256; i++) audio.write(Buffer.alloc(4096, 1));
    await tick(50);
    expect(audio.readableLength).toBe(0);
    const reader = createReadStream(fifo);
    const got: Buffer[] = [];
    reader.on('data', (c) => got.push(c as Buffer));
    await tick(50);
    got.length = 0;
    audio.write(Buffer.from('hello'));
    await tick(50);
    expect(Buffer.concat(got).toString().endsWith('hello')).toBe(true);
    reader.destroy();
    link.close();
  });

  it('a FIFO that does not exist yet is created (systemd empties /run/alsa-health at each start)', async () => {
    const fifo = join(dir, 'new.fifo');
    const audio = new PassThrough();
    const link = attachAudio({ fifo }, { direction: 'capture', audio, bytesPerSecond: 192000, log });
    expect(statSync(fifo).isFIFO()).toBe(true);
    link.close();
  });

  it('capture to a unix socket: connects, sends, survives the server going away', async () => {
    const path = join(dir, 'cap.sock');
    const got: Buffer[] = [];
    const server = createServer((s) => s.on('data', (c) => got.push(c)));
    await new Promise<void>((r) => server.listen(path, r));
    const audio = new PassThrough();
    const link = attachAudio({ socket: path }, { direction: 'capture', audio, bytesPerSecond: 192000, log });
    await tick(50);
    audio.write(Buffer.from('pcm!'));
    await tick(50);
    expect(Buffer.concat(got).toString()).toBe('pcm!');
    server.close();
    server.unref();
    link.close();
  });

  it('playback silence is paced by backpressure', async () => {
    const pcm = sinkPcm(64 * 1024);
    const link = attachAudio('silence', { direction: 'playback', audio: pcm, bytesPerSecond: 192000, log });
    await tick(50);
    const total = pcm.got.reduce((n, c) => n + c.length, 0);
    expect(total).toBeGreaterThanOrEqual(64 * 1024);
    expect(total).toBeLessThan(64 * 1024 + 19200 * 3); // the limit + a few chunks in flight
    expect(pcm.got.every((c) => c.every((b) => b === 0))).toBe(true);
    link.close();
  });

  it('playback from a file loops it', async () => {
    const file = join(dir, 'in.raw');
    writeFileSync(file, Buffer.from('0123456789'));
    const pcm = sinkPcm(100);
    const link = attachAudio({ file }, { direction: 'playback', audio: pcm, bytesPerSecond: 192000, log });
    await tick(50);
    expect(Buffer.concat(pcm.got).subarray(0, 30).toString()).toBe('012345678901234567890123456789');
    link.close();
  });
});
