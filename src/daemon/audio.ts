// Where a device's audio goes (capture) or comes from (playback), per the config's `audio` key.
// Capture: discard | { file } | { fifo } | { socket }. Playback: silence | { file, loop? } | { fifo }.
// A sink that cannot keep up (no FIFO reader, socket down) drops audio itself, so the engine's
// consumerDropped keeps meaning "the daemon stalled", not "nobody listens".

import { execFileSync } from 'node:child_process';
import { constants, createReadStream, createWriteStream, existsSync, openSync } from 'node:fs';
import { connect, Socket } from 'node:net';
import { Readable, type Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { Direction } from '../types.js';
import type { AudioSpec } from './config-schema.js';

export interface AudioLink {
  /** Stop moving audio and release files and sockets. Idempotent. */
  close(): void;
}

export interface AudioEnds {
  direction: Direction;
  /** PcmStream.audio: Readable for capture, Writable for playback. */
  audio: Readable | Writable;
  /** Bytes per second of the negotiated stream, to size chunks. */
  bytesPerSecond: number;
  log: Logger;
}

export function defaultAudio(direction: Direction): AudioSpec {
  return direction === 'capture' ? 'discard' : 'silence';
}

export function describeAudio(spec: AudioSpec): string {
  if (typeof spec === 'string') return spec;
  if ('file' in spec) return `file ${spec.file}`;
  if ('fifo' in spec) return `fifo ${spec.fifo}`;
  return `socket ${spec.socket}`;
}

export function attachAudio(spec: AudioSpec, ends: AudioEnds): AudioLink {
  return ends.direction === 'capture'
    ? attachSink(spec, ends.audio as Readable, ends.log)
    : attachSource(spec, ends.audio as Writable, ends.bytesPerSecond, ends.log);
}

/** Open a FIFO without blocking for its peer: O_RDWR never waits and never gets EOF/EPIPE. */
function fifoSocket(path: string, readable: boolean): Socket {
  // Create it when missing: under systemd, /run/alsa-health (the unit's
  // RuntimeDirectory) starts empty at every start. Node has no mkfifo().
  if (!existsSync(path)) execFileSync('mkfifo', ['-m', '0660', path]);
  const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
  return new Socket({ fd, readable, writable: !readable });
}

/** Write when the peer keeps up; drop (and count) when it does not. */
function lossyWriter(out: Writable, log: Logger, what: string): (chunk: Buffer) => void {
  let dropped = 0;
  let waiting = false;
  out.on('drain', () => {
    waiting = false;
    if (dropped > 0) log.info({ droppedBytes: dropped }, `${what}: reader caught up`);
    dropped = 0;
  });
  return (chunk) => {
    if (waiting || out.destroyed || !out.writable) {
      if (dropped === 0) log.info(`${what}: reader is not keeping up, dropping audio`);
      dropped += chunk.length;
      return;
    }
    if (!out.write(chunk)) waiting = true;
  };
}

function attachSink(spec: AudioSpec, audio: Readable, log: Logger): AudioLink {
  if (spec === 'discard' || spec === 'silence') {
    audio.resume();
    return { close: () => undefined };
  }
  if ('file' in spec) {
    const file = createWriteStream(spec.file, { flags: 'a' });
    file.on('error', (err) => {
      log.error({ err, file: spec.file }, 'audio file write failed; discarding audio from now on');
      audio.unpipe(file);
      audio.resume();
    });
    // Backpressure from a slow disk shows up as consumerDropped in the engine.
    audio.pipe(file);
    return {
      close() {
        audio.unpipe(file);
        file.end();
        audio.resume();
      },
    };
  }
  if ('fifo' in spec) {
    const out = fifoSocket(spec.fifo, false);
    out.on('error', (err) => log.warn({ err, fifo: spec.fifo }, 'audio fifo error'));
    const write = lossyWriter(out, log, `fifo ${spec.fifo}`);
    audio.on('data', write);
    return {
      close() {
        audio.off('data', write);
        out.destroy();
        audio.resume();
      },
    };
  }
  return socketSink(spec.socket, audio, log);
}

/** Unix stream socket client: reconnects every second while down; audio is dropped meanwhile. */
function socketSink(path: string, audio: Readable, log: Logger): AudioLink {
  let sock: Socket | null = null;
  let write: ((c: Buffer) => void) | null = null;
  let retry: NodeJS.Timeout | null = null;
  let closed = false;
  let warned = false;
  const dial = () => {
    retry = null;
    const s = connect(path);
    s.on('connect', () => {
      warned = false;
      log.info({ socket: path }, 'audio socket connected');
      sock = s;
      write = lossyWriter(s, log, `socket ${path}`);
    });
    s.on('error', (err) => {
      if (!warned) log.warn({ err: err.message, socket: path }, 'audio socket unavailable; retrying every 1 s');
      warned = true;
    });
    s.on('close', () => {
      sock = null;
      write = null;
      if (!closed && !retry) retry = setTimeout(dial, 1000).unref();
    });
  };
  dial();
  const onData = (c: Buffer) => write?.(c);
  audio.on('data', onData);
  return {
    close() {
      closed = true;
      if (retry) clearTimeout(retry);
      audio.off('data', onData);
      sock?.destroy();
      audio.resume();
    },
  };
}

/** An endless stream of one zero buffer: paced by the PCM's backpressure, not by a timer. */
function silence(chunkBytes: number): Readable {
  const zero = Buffer.alloc(chunkBytes);
  return new Readable({
    read() {
      this.push(zero);
    },
  });
}

function attachSource(spec: AudioSpec, audio: Writable, bytesPerSecond: number, log: Logger): AudioLink {
  // 100 ms chunks: ten JS writes per second whatever the period size.
  const chunk = Math.max(64, Math.round(bytesPerSecond / 10));
  let src: Readable;
  if (spec === 'silence' || spec === 'discard') {
    src = silence(chunk);
  } else if ('file' in spec) {
    const loop = spec.loop ?? true;
    src = Readable.from(
      (async function* () {
        do {
          for await (const c of createReadStream(spec.file, { highWaterMark: chunk })) yield c as Buffer;
        } while (loop);
        log.info({ file: spec.file }, 'audio file played out; silence follows');
        const zero = Buffer.alloc(chunk);
        for (;;) yield zero;
      })(),
      { objectMode: false },
    );
  } else if ('fifo' in spec) {
    // No writer yet, or a slow one: the engine plays silence and counts it as starved.
    src = fifoSocket(spec.fifo, true);
  } else {
    throw new TypeError(`playback audio cannot come from socket ${spec.socket}`);
  }
  src.on('error', (err) => log.error({ err }, `audio source ${describeAudio(spec)} failed; the device starves`));
  src.pipe(audio, { end: false });
  return {
    close() {
      src.unpipe(audio);
      src.destroy();
    },
  };
}
