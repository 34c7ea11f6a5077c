// Shared helpers of the benchmarks: arguments, statistics, CPU / memory of a
// process, and the result hand-off to bench/run.mjs. Plain ESM over dist/.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = path.resolve(BENCH_DIR, '..');
export const DIST = path.join(ROOT, 'dist');

export const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
export const RATE = 48000;
export const BYTES_PER_FRAME = 4; // S16_LE stereo

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const nowNs = () => process.hrtime.bigint();
export const nsToMs = (ns) => Number(ns) / 1e6;
export const log = (...a) => process.stderr.write(`[${path.basename(process.argv[1], '.mjs')}] ${a.join(' ')}\n`);

/** Nearest-rank percentile of numbers (NaN when empty). */
export function pct(values, p) {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** { n, p50, p99, max } of values (ms or whatever unit they are in). */
export function summary(values) {
  return { n: values.length, p50: pct(values, 50), p99: pct(values, 99), max: values.length ? Math.max(...values) : NaN };
}

/** Least-squares slope of y over x. */
export function slope(xs, ys) {
  const n = xs.length;
  if (n < 2) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den ? num / den : NaN;
}

/** A seeded PRNG (mulberry32): the same fault times on every run. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * CPU seconds a process (every thread, not its children) has used, from
 * /proc/PID/task/TID/schedstat (ns precision); falls back to /proc/PID/stat
 * utime+stime (clock ticks) when schedstat is absent.
 */
export function cpuSecondsOf(pid) {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        /* the thread ended meanwhile */
      }
    }
    if (ns > 0) return ns / 1e9;
  } catch {
    /* no schedstat */
  }
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime (fields 14, 15); CLK_TCK 100
}

/**
 * CPU seconds of this process by thread group: `main` (the JS thread),
 * `watcher` (the engine's threads, named "ah:<device>"), `other` (libuv pool,
 * V8 workers). From /proc/self/task/TID/schedstat.
 */
export function threadCpuSeconds() {
  const out = { main: 0, watcher: 0, other: 0 };
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      const comm = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      const k = Number(tid) === process.pid ? 'main' : comm.startsWith('ah:') ? 'watcher' : 'other';
      out[k] += ns / 1e9;
    } catch {
      /* ended meanwhile */
    }
  }
  return out;
}

/** This process's CPU seconds (getrusage: every thread, children excluded). */
export function selfCpuSeconds() {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
}

/** VmRSS of a process in KB. */
export function rssKbOf(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

export function cpuModel() {
  try {
    const m = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return m ? m[1].trim() : 'unknown';
  } catch {
    return 'unknown';
  }
}

export function loadAvg() {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  } catch {
    return [];
  }
}

/**
 * Runs a benchmark body and hands its result to the runner: written as JSON
 * to $BENCH_OUT (or stdout). A throw exits 1 with the message on stderr.
 */
export async function main(fn) {
  const t0 = Date.now();
  try {
    const result = await fn();
    result.wallS = (Date.now() - t0) / 1000;
    const text = JSON.stringify(result, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2);
    if (process.env.BENCH_OUT) writeFileSync(process.env.BENCH_OUT, text);
    else process.stdout.write(text + '\n');
    process.exit(0);
  } catch (err) {
    process.stderr.write(`benchmark failed: ${err?.stack ?? err}\n`);
    process.exit(1);
  }
}

/** Promise of the next event of `type` on a PcmStream that `pred` accepts, or null after timeoutMs. */
export function nextEvent(pcm, pred, timeoutMs) {
  return new Promise((resolve) => {
    const on = (e) => {
      if (!pred(e)) return;
      clearTimeout(t);
      pcm.off('event', on);
      resolve(e);
    };
    const t = setTimeout(() => {
      pcm.off('event', on);
      resolve(null);
    }, timeoutMs);
    pcm.on('event', on);
  });
}

/** Drains a capture stream / feeds a playback stream with silence, as a real client would. */
export function attachAudio(pcm, periodBytes) {
  if (pcm.direction === 'capture') {
    pcm.audio.on('data', () => {});
    pcm.audio.on('error', () => {});
    return;
  }
  const chunk = Buffer.alloc(Math.max(periodBytes * 4, 4096));
  const w = pcm.audio;
  w.on('error', () => {});
  const feed = () => {
    while (!w.destroyed && !w.writableEnded && w.write(chunk));
    if (!w.destroyed && !w.writableEnded) w.once('drain', feed);
  };
  feed();
}
