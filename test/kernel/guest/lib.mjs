// Helpers shared by the guest scripts (run inside the test VM, in the chroot of
// the host's root, by the host's own node). Plain ESM, no dependencies.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/** Monotonic ms (float). */
export const now = () => Number(process.hrtime.bigint()) / 1e6;

/** Print one result line (the host parses JSON lines from stdout). */
export function emit(obj) {
  process.stdout.write(JSON.stringify(obj, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) + '\n');
}

/** Run one scenario: its result or its error becomes one JSON line; never throws. */
export async function scenario(name, fn, timeoutMs = 20_000) {
  const t0 = now();
  let timer;
  try {
    const r = await Promise.race([
      fn(),
      new Promise((_, rej) => {
        timer = setTimeout(() => rej(new Error(`scenario timed out after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    emit({ scenario: name, ok: true, ms: Math.round(now() - t0), ...r });
  } catch (e) {
    emit({ scenario: name, ok: false, ms: Math.round(now() - t0), error: String(e?.stack ?? e) });
  } finally {
    clearTimeout(timer);
  }
}

/** /proc/asound/<card>/pcm<dev><c|p>/sub0/status as an object ({state:'closed'} when closed). */
export function pcmStatus(card, dev, dir) {
  const f = `/proc/asound/${card}/pcm${dev}${dir === 'capture' ? 'c' : 'p'}/sub0/status`;
  if (!existsSync(f)) return { state: 'absent' };
  const text = readFileSync(f, 'utf8');
  if (text.trim() === 'closed') return { state: 'closed' };
  const o = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+)\s*:\s*(.*)$/.exec(line);
    if (m) o[m[1]] = /^-?\d+$/.test(m[2]) ? Number(m[2]) : m[2];
  }
  if (typeof o.state === 'string') o.state = o.state.toLowerCase();
  return o;
}

/**
 * hw_ptr frames/s over `ms`, read from procfs (the kernel's own pointer) every
 * 50 ms and fitted by least squares, so one read delayed by a descheduled vCPU
 * does not skew the figure.
 */
export async function hwPtrRate(card, dev, dir, ms = 1500) {
  const pts = [];
  const t0 = now();
  let stateA = null;
  let stateB = null;
  while (now() - t0 <= ms) {
    const a = now();
    const st = pcmStatus(card, dev, dir);
    const b = now();
    stateA ??= st.state;
    stateB = st.state;
    if (typeof st.hw_ptr === 'number') pts.push([(a + b) / 2, st.hw_ptr]);
    await sleep(50);
  }
  if (pts.length < 3) return { error: `no hw_ptr (state ${stateA} -> ${stateB})`, framesPerSec: NaN, stateA, stateB };
  const n = pts.length;
  const mt = pts.reduce((s, p) => s + p[0], 0) / n;
  const mf = pts.reduce((s, p) => s + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [t, f] of pts) {
    num += (t - mt) * (f - mf);
    den += (t - mt) ** 2;
  }
  return { framesPerSec: (num / den) * 1000, points: n, stateA, stateB };
}

export function sndNodes() {
  try {
    return readdirSync('/dev/snd').sort();
  } catch {
    return [];
  }
}

export function cards() {
  try {
    return readFileSync('/proc/asound/cards', 'utf8');
  } catch {
    return '';
  }
}

/**
 * Spawn a child and track its stdout bytes over time.
 * Returns { child, bytes(), timeline, firstDataAt, exited: Promise<{code, signal, stderr, at}> }.
 */
export function track(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
  const st = { child, total: 0, timeline: [], firstDataAt: null, stderr: '', chunks: opts.keep ? [] : null };
  const t0 = now();
  st.startedAt = t0;
  child.stdout.on('data', (b) => {
    const t = now();
    if (st.firstDataAt === null) st.firstDataAt = t;
    st.total += b.length;
    st.timeline.push([t, st.total]);
    if (st.chunks) st.chunks.push(b);
  });
  child.stderr.on('data', (b) => {
    st.stderr += b.toString();
  });
  child.stdin.on('error', () => {});
  st.exited = new Promise((res) => {
    child.on('close', (code, signal) => res({ code, signal, stderr: st.stderr, at: now() }));
    child.on('error', (e) => res({ code: null, signal: null, stderr: st.stderr + String(e), at: now() }));
  });
  return st;
}

/** Bytes/s from a [t, cumulativeBytes] timeline, between fromMs and toMs after the first point. */
export function timelineRate(timeline, fromMs = 500, toMs = Infinity) {
  if (timeline.length < 2) return null;
  const t0 = timeline[0][0];
  const pts = timeline.filter(([t]) => t - t0 >= fromMs && t - t0 <= toMs);
  if (pts.length < 2) return null;
  const [ta, ba] = pts[0];
  const [tb, bb] = pts[pts.length - 1];
  return ((bb - ba) * 1000) / (tb - ta);
}

/** Deterministic stereo S16 pattern (xorshift32), never an all-zero frame. */
export function pattern(frames, seed = 0x2545f491) {
  const buf = Buffer.alloc(frames * 4);
  let x = seed >>> 0;
  for (let i = 0; i < frames * 2; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    let v = (x & 0xffff) - 0x8000;
    if (v === 0) v = 1;
    buf.writeInt16LE(v, i * 2);
  }
  return buf;
}

/** Find `pat` (frame aligned, 4 bytes/frame) in `hay`: {offsetFrames, matchedFrames, mismatches}. */
export function findPattern(hay, pat) {
  const first = pat.readUInt32LE(0);
  for (let off = 0; off + 4 <= hay.length; off += 4) {
    if (hay.readUInt32LE(off) !== first) continue;
    const avail = Math.min(pat.length, hay.length - off);
    let mismatches = 0;
    for (let i = 0; i < avail; i += 4) if (hay.readUInt32LE(off + i) !== pat.readUInt32LE(i)) mismatches++;
    return { offsetFrames: off / 4, matchedFrames: avail / 4 - mismatches, comparedFrames: avail / 4, mismatches };
  }
  return { offsetFrames: -1, matchedFrames: 0, comparedFrames: 0, mismatches: pat.length / 4 };
}

/**
 * Writes sysfs attributes from a worker thread: the write may block (an unbind
 * waits for every open file of the card) while the main thread stays free.
 * The worker is started once, ahead of time (a new isolate is slow under TCG),
 * so `write()` starts at once; it resolves { tStart, tEnd, ms, error } with
 * tStart/tEnd on the same monotonic clock as `now()`.
 */
export function sysfsWriter() {
  const code = `
    const { parentPort } = require('node:worker_threads');
    const fs = require('node:fs');
    const now = () => Number(process.hrtime.bigint()) / 1e6;
    parentPort.on('message', ({ path, value }) => {
      const tStart = now();
      let error = null;
      try { fs.writeFileSync(path, value); } catch (e) { error = String(e.code || e); }
      const tEnd = now();
      parentPort.postMessage({ tStart, tEnd, ms: tEnd - tStart, error });
    });
  `;
  const w = new Worker(code, { eval: true });
  const ready = new Promise((res) => w.once('online', res));
  return {
    async write(path, value) {
      await ready;
      return new Promise((res, rej) => {
        w.once('message', res);
        w.once('error', rej);
        w.postMessage({ path, value });
      });
    },
    ready,
    close: () => w.terminate(),
  };
}
