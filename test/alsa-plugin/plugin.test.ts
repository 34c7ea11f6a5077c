/**
 * The test ALSA plugin (pcm_healthtest.c) driven by real alsa-utils
 * (arecord / aplay) as child processes: real alsa-lib, no sound card.
 *
 *   npx vitest run test/alsa-plugin
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePlugin, newSessionId, pluginDevice, readTrace, type PluginSetup, type TraceEvent } from './plugin.js';

const RATE = 48000;
const BYTES_PER_SECOND = RATE * 2 * 2; // S16_LE stereo

function missingTools(): string | null {
  for (const tool of ['arecord', 'aplay']) {
    const r = spawnSync(tool, ['--version'], { encoding: 'utf8' });
    if (r.error || r.status !== 0) return `${tool} not runnable (${r.error?.message ?? r.stderr}); install alsa-utils`;
  }
  if (spawnSync('cc', ['--version']).error) return 'no C compiler (cc); install gcc';
  if (!existsSync('/usr/include/alsa/pcm_ioplug.h') && spawnSync('pkg-config', ['--exists', 'alsa']).status !== 0)
    return 'alsa-lib headers missing (alsa/pcm_ioplug.h); install libasound2-dev';
  return null;
}
const skipReason = missingTools();
if (skipReason) console.warn(`[alsa-plugin tests] skipped: ${skipReason}`);

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdoutBytes: number;
  stderr: string;
  ms: number;
  t0: bigint;
}

let setup: PluginSetup;
let tmp: string;

function run(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; onSpawn?: (c: ChildProcess, t0: bigint) => void } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, {
      env: { ...process.env, ...setup.env, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdoutBytes = 0;
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdoutBytes += b.length));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 15_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      resolve({ code, signal, stdoutBytes, stderr, ms, t0 });
    });
    opts.onSpawn?.(child, t0);
  });
}

const fmt = ['-f', 'S16_LE', '-r', String(RATE), '-c', '2', '-t', 'raw'];
const arecord = (dev: string, extra: string[] = [], o?: Parameters<typeof run>[2]) =>
  run('arecord', ['-D', dev, ...fmt, ...extra], o);
const aplay = (dev: string, extra: string[] = [], o?: Parameters<typeof run>[2]) =>
  run('aplay', ['-D', dev, ...fmt, ...extra, '/dev/zero'], o);

let traceN = 0;
const traceFile = () => path.join(tmp, `trace-${traceN++}.jsonl`);
const ms = (ns: bigint) => Number(ns) / 1e6;
const only = (ev: TraceEvent[], name: TraceEvent['ev']) => ev.filter((e) => e.ev === name);

async function waitFor<T>(f: () => T | undefined, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function overrunMs(stderr: string): number[] {
  return [...stderr.matchAll(/(?:over|under)run!!! \(at least ([\d.]+) ms long\)/g)].map((m) => Number(m[1]));
}

describe.skipIf(skipReason !== null)('test ALSA plugin (healthtest) under alsa-utils', () => {
  beforeAll(async () => {
    setup = await ensurePlugin();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'alsa-healthtest-'));
  });
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("alsa-lib's null PCM works with arecord (unclocked: instant)", async () => {
    const r = await arecord('null', ['-d', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdoutBytes).toBe(BYTES_PER_SECOND);
    expect(r.ms).toBeLessThan(900);
    console.log(`null: arecord -d 1 took ${r.ms.toFixed(0)} ms, ${r.stdoutBytes} bytes`);
  });

  it('arecord -d 1 takes about 1 s of real time and yields 192000 bytes', async () => {
    const trace = traceFile();
    const r = await arecord(pluginDevice('', { trace }), ['-d', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdoutBytes).toBe(BYTES_PER_SECOND);
    expect(r.ms).toBeGreaterThanOrEqual(990);
    expect(r.ms).toBeLessThan(2000);
    const ev = readTrace(trace);
    const start = only(ev, 'start')[0]!;
    const stop = only(ev, 'stop')[0]!;
    const streamed = ms(stop.t - start.t);
    expect(streamed).toBeGreaterThanOrEqual(999);
    expect(streamed).toBeLessThan(1200);
    expect(only(ev, 'close')[0]!.frames).toBe(RATE);
    expect(only(ev, 'xrun')).toHaveLength(0);
    console.log(`arecord -d 1: ${r.ms.toFixed(0)} ms wall, ${streamed.toFixed(1)} ms start->stop, ${r.stdoutBytes} bytes`);
  });

  it('aplay -d 1 takes about 1 s and the plugin consumes 48000 frames (192000 bytes)', async () => {
    const trace = traceFile();
    const r = await aplay(pluginDevice('', { trace }), ['-d', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.ms).toBeGreaterThanOrEqual(990);
    expect(r.ms).toBeLessThan(2000);
    const ev = readTrace(trace);
    expect(only(ev, 'close')[0]!.frames).toBe(RATE);
    expect(only(ev, 'xrun')).toHaveLength(0);
    const streamed = ms(only(ev, 'stop')[0]!.t - only(ev, 'start')[0]!.t);
    expect(streamed).toBeGreaterThanOrEqual(999);
    console.log(`aplay -d 1: ${r.ms.toFixed(0)} ms wall, ${streamed.toFixed(1)} ms start->drained, ${RATE * 4} bytes consumed`);
  });

  it('SIGSTOP of arecord for 0.5 s with a 100 ms buffer gives a real overrun', async () => {
    const trace = traceFile();
    let tStop = 0n;
    let tCont = 0n;
    const r = await arecord(pluginDevice('', { trace }), ['-B', '100000', '-d', '2'], {
      onSpawn: (child) => {
        void (async () => {
          await waitFor(() => only(readTrace(trace), 'start')[0], 5000);
          await new Promise((res) => setTimeout(res, 200));
          tStop = process.hrtime.bigint();
          child.kill('SIGSTOP');
          await new Promise((res) => setTimeout(res, 500));
          tCont = process.hrtime.bigint();
          child.kill('SIGCONT');
        })();
      },
    });
    expect(r.code, r.stderr).toBe(0);
    const reported = overrunMs(r.stderr);
    const ev = readTrace(trace);
    const xruns = only(ev, 'xrun');
    // one message per xrun; on a loaded machine a 100 ms buffer may see more
    // than the one SIGSTOP causes, so pick that one: detected after SIGCONT
    expect(reported, r.stderr).toHaveLength(xruns.length);
    const i = xruns.findIndex((x) => x.t >= tCont);
    expect(i, r.stderr).toBeGreaterThanOrEqual(0);
    if (xruns.length > 1) console.warn(`SIGSTOP test: ${xruns.length - 1} extra xrun(s) from machine load`);
    const xr = xruns[i]!;
    expect(xr.cause).toBe('overrun');
    const hw = only(ev, 'hwParams')[0]!;
    const periodMs = ((hw.periodFrames as number) / RATE) * 1000;
    const bufferMs = ((hw.bufferFrames as number) / RATE) * 1000;
    expect(bufferMs).toBe(100);
    const start = only(ev, 'start').filter((e) => e.t <= xr.t).pop()!.t;
    const tXrun = xr.tXrunNs as bigint;
    const detected = xr.t;
    // the buffer overflowed at most one buffer after the stop (on a period boundary)
    expect(tXrun).toBeGreaterThanOrEqual(tStop);
    expect(ms(tXrun - tStop)).toBeLessThanOrEqual(bufferMs + periodMs + 1);
    // aplay measures "at least" from the status trigger timestamp, which
    // ioplug sets at start: it reports the time since the last start
    expect(reported[i]!).toBeGreaterThanOrEqual(400);
    expect(Math.abs(reported[i]! - ms(detected - start))).toBeLessThan(Math.max(periodMs, 50));
    const truth = ms(detected - tXrun);
    expect(truth).toBeGreaterThanOrEqual(500 - bufferMs - periodMs);
    console.log(
      `SIGSTOP 500 ms (${ms(tCont - tStop).toFixed(1)} ms measured), buffer ${bufferMs} ms, period ${periodMs} ms: ` +
        `arecord "overrun!!! (at least ${reported[i]} ms)"; overflow ${ms(tXrun - tStop).toFixed(1)} ms after SIGSTOP, ` +
        `detected ${ms(detected - tCont).toFixed(1)} ms after SIGCONT; xrun really lasted ${truth.toFixed(1)} ms; ` +
        `${r.stdoutBytes} bytes`,
    );
  });

  it('an injected xrun makes arecord report an overrun (exactly one)', async () => {
    const trace = traceFile();
    const r = await arecord(pluginDevice('xrun@500', { trace }), ['-d', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(overrunMs(r.stderr), r.stderr).toHaveLength(1);
    expect(r.stdoutBytes).toBe(BYTES_PER_SECOND);
    const x = only(readTrace(trace), 'xrun');
    expect(x).toHaveLength(1); // a 500 ms buffer: no xrun from machine load
    expect(x[0]!.cause).toBe('injected');
    const epoch = only(readTrace(trace), 'epoch')[0]!.t;
    expect(ms((x[0]!.tInjectNs as bigint) - epoch)).toBe(500);
    console.log(`xrun@500: detected ${ms(x[0]!.t - (x[0]!.tInjectNs as bigint)).toFixed(1)} ms after injection; ${r.stderr.match(/overrun.*/)![0]}`);
  });

  it('injected xruns repeat (*COUNT/EVERY), for arecord and aplay (underrun)', async () => {
    const t1 = traceFile();
    const rec = await arecord(pluginDevice('xrun@200*3/250', { trace: t1 }), ['-d', '1']);
    expect(rec.code, rec.stderr).toBe(0);
    const recX = only(readTrace(t1), 'xrun');
    expect(recX.filter((x) => x.cause === 'injected')).toHaveLength(3);
    expect(overrunMs(rec.stderr), rec.stderr).toHaveLength(recX.length);
    // aplay: a 100 ms buffer, so the stream runs again soon after each xrun
    // (an injected xrun waits for a RUNNING stream; draining does not count)
    const t2 = traceFile();
    const play = await aplay(pluginDevice('xrun@200*3/250', { trace: t2 }), ['-B', '100000', '-d', '2']);
    expect(play.code, play.stderr).toBe(0);
    const x = only(readTrace(t2), 'xrun');
    expect(x.filter((e) => e.cause === 'injected')).toHaveLength(3);
    expect(play.stderr.match(/underrun!!!/g), play.stderr).toHaveLength(x.length);
  });

  it('an injected disconnect fails arecord with "No such device"; reopen fails until it ends', async () => {
    const trace = traceFile();
    const dev = pluginDevice('disconnect@300+700', { trace });
    const r1 = await arecord(dev, ['-d', '2']);
    expect(r1.code).not.toBe(0);
    expect(r1.stderr).toMatch(/read error: No such device/);
    expect(r1.ms).toBeLessThan(700);
    // same session: the device is still gone
    const r2 = await arecord(dev, ['-d', '1']);
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toMatch(/audio open error: No such device/);
    const ev = readTrace(trace);
    const d = only(ev, 'disconnect')[0]!;
    await new Promise((res) => setTimeout(res, Math.max(0, ms((d.untilNs as bigint) - process.hrtime.bigint()) + 20)));
    const r3 = await arecord(dev, ['-d', '1']);
    expect(r3.code, r3.stderr).toBe(0);
    expect(r3.stdoutBytes).toBe(BYTES_PER_SECOND);
    const epoch = only(ev, 'epoch')[0]!.t;
    console.log(
      `disconnect@300+700: injected at +${ms((d.tInjectNs as bigint) - epoch).toFixed(1)} ms, seen ${ms(d.t - (d.tInjectNs as bigint)).toFixed(1)} ms later; ` +
        `arecord exited after ${r1.ms.toFixed(0)} ms: ${r1.stderr.trim().split('\n').pop()}; reopen: ${r2.stderr.trim().split('\n').pop()}; ` +
        `after the window: ${r3.stdoutBytes} bytes`,
    );
  });

  it('an open failure gives EBUSY for the next N opens', async () => {
    const dev = pluginDevice('openfail@0*2');
    for (let i = 0; i < 2; i++) {
      const r = await arecord(dev, ['-d', '1']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/audio open error: Device or resource busy/);
    }
    const ok = await arecord(dev, ['-d', '1']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdoutBytes).toBe(BYTES_PER_SECOND);
  });

  it('openfail takes another errno', async () => {
    const r = await arecord(pluginDevice('openfail@0=ENOENT'), ['-d', '1']);
    expect(r.stderr).toMatch(/audio open error: No such file or directory/);
  });

  it('suspend: arecord sees ESTRPIPE, resume waits for the end, the stream goes on', async () => {
    const trace = traceFile();
    const r = await arecord(pluginDevice('suspend@300+400', { trace }), ['-d', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.match(/Suspended\. Trying resume\. Done\./g), r.stderr).toHaveLength(1);
    expect(r.stdoutBytes).toBe(BYTES_PER_SECOND);
    const ev = readTrace(trace);
    const s = only(ev, 'suspend')[0]!;
    const res = only(ev, 'resume')[0]!;
    expect(ms(res.t - (s.tInjectNs as bigint))).toBeGreaterThanOrEqual(399);
    expect(r.ms).toBeGreaterThanOrEqual(1390);
    console.log(`suspend@300+400: resumed ${ms(res.t - (s.tInjectNs as bigint)).toFixed(1)} ms after the suspend; arecord -d 1 took ${r.ms.toFixed(0)} ms`);
  });

  it('a stall longer than the buffer gives a real overrun; a short one does not', async () => {
    const t1 = traceFile();
    const long = await arecord(pluginDevice('stall@300+250', { trace: t1 }), ['-B', '100000', '-d', '1']);
    expect(long.code, long.stderr).toBe(0);
    const stall = only(readTrace(t1), 'stall')[0]!;
    const x = only(readTrace(t1), 'xrun');
    expect(overrunMs(long.stderr)).toHaveLength(x.length);
    // the late wake-up comes at the stall's end and finds the buffer overflowed
    const late = x.filter((e) => e.t >= (stall.untilNs as bigint));
    expect(late.length, long.stderr).toBeGreaterThanOrEqual(1);
    expect(late[0]!.cause).toBe('overrun');
    expect(late[0]!.tXrunNs as bigint).toBeLessThan(stall.untilNs as bigint);
    expect(ms(late[0]!.t - (stall.untilNs as bigint))).toBeLessThan(100);

    const t2 = traceFile();
    // 40 ms late with a 300 ms buffer: no overrun
    const short = await arecord(pluginDevice('stall@300+40', { trace: t2 }), ['-B', '300000', '-d', '1']);
    expect(short.code, short.stderr).toBe(0);
    expect(overrunMs(short.stderr)).toHaveLength(0);
    expect(only(readTrace(t2), 'stall')).toHaveLength(1);
    expect(short.stdoutBytes).toBe(BYTES_PER_SECOND);
  });

  it('bad arguments: a clear message and EINVAL, no crash', async () => {
    for (const [faults, msg] of [
      ['bogus@1', /unknown kind/],
      ['xrun@', /AT must be/],
      ['disconnect@100', /needs \+DUR/],
      ['openfail@0=EWHAT', /unknown errno/],
      ['xrun@5x', /trailing/],
    ] as const) {
      const r = await arecord(pluginDevice(faults), ['-d', '1']);
      expect(r.signal).toBeNull();
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/healthtest: bad fault/);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).toMatch(/audio open error: Invalid argument/);
    }
    const badId = await arecord('healthtest:ID="../x"', ['-d', '1']);
    expect(badId.stderr).toMatch(/healthtest: bad id/);
    expect(badId.code).toBe(1);
  });

  describe('a poll-driven client (healthtest-probe)', () => {
    const probe = async (args: string[]) => {
      const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
        const c = spawn(setup.probePath, args, { env: { ...process.env, ...setup.env } });
        let out = '';
        let err = '';
        c.stdout.on('data', (b: Buffer) => (out += b.toString()));
        c.stderr.on('data', (b: Buffer) => (err += b.toString()));
        c.on('error', reject);
        c.on('close', (code) => resolve({ code, out, err }));
      });
      const lines = r.out
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as Record<string, string | number>);
      return { ...r, lines, summary: lines.find((l) => l.ev === 'summary') };
    };

    it('xrun: revents IN|ERR, state XRUN, EPIPE; disconnect: revents ERR|HUP, state DISCONNECTED, ENODEV', async () => {
      // 10 x 20 ms periods: no xrun from machine load
      const r = await probe(['stream', pluginDevice('xrun@300;disconnect@800+100'), 'capture', '1500', '960', '10']);
      const errs = r.lines.filter((l) => l.ev === 'pollError');
      expect(errs.map((l) => [l.revents, l.state]), r.out + r.err).toEqual([
        ['IN|ERR', 'XRUN'],
        ['ERR|HUP', 'DISCONNECTED'],
      ]);
      expect(r.lines.filter((l) => l.ev === 'error').map((l) => l.err)).toEqual(['EPIPE', 'ENODEV']);
      expect(r.summary).toMatchObject({ xruns: 1, errors: 1, state: 'DISCONNECTED', delayErr: 'ENODEV' });
      const start = BigInt(r.lines[0]!.tNs as string);
      const disc = BigInt(errs[1]!.tNs as string);
      expect(ms(disc - start)).toBeGreaterThanOrEqual(799);
      expect(ms(disc - start)).toBeLessThan(900);
      // 800 ms of 20 ms periods, less the one period lost in the xrun
      expect(r.summary!.frames as number).toBeGreaterThanOrEqual(37 * 960);
      expect(r.summary!.frames as number).toBeLessThanOrEqual(40 * 960);
      expect(r.code).toBe(1);
    });

    it('one wake-up per period, no busy polling', async () => {
      const r = await probe(['stream', pluginDevice(), 'capture', '1000', '960', '10']);
      expect(r.code, r.err).toBe(0);
      const s = r.summary!;
      expect(s.wakeups as number).toBeGreaterThanOrEqual(45);
      expect(s.wakeups as number).toBeLessThanOrEqual(51);
      expect(s.frames as number).toBe((s.wakeups as number) * 960);
    });

    it('suspend on a non-blocking PCM: resume returns 0 while SUSPENDED, then RUNNING after the window', async () => {
      const trace = traceFile();
      const r = await probe(['stream', pluginDevice('suspend@300+200', { trace }), 'playback', '800', '960', '10']);
      expect(r.code, r.err).toBe(0);
      const resumed = r.lines.find((l) => l.ev === 'resumed')!;
      expect(resumed.state).toBe('RUNNING');
      expect(resumed.tries as number).toBeGreaterThan(5);
      const err = r.lines.find((l) => l.ev === 'pollError')!;
      expect([err.revents, err.state]).toEqual(['OUT|ERR', 'SUSPENDED']);
      const ev = readTrace(trace);
      const susp = only(ev, 'suspend')[0]!;
      const res = only(ev, 'resume')[0]!;
      const gap = ms(res.t - (susp.tInjectNs as bigint));
      expect(gap).toBeGreaterThanOrEqual(200);
      expect(gap).toBeLessThan(400);
      expect(r.summary).toMatchObject({ suspends: 1, resumes: 1, xruns: 0 });
    });

    it('delay@T+D=X adds X ms to snd_pcm_delay() inside the window only', async () => {
      // a 200 ms buffer bounds the plain delay (no xrun); +200 ms is beyond it
      const plain = await probe(['stream', pluginDevice(), 'capture', '500', '960', '10']);
      const late = await probe(['stream', pluginDevice('delay@100+200=200'), 'capture', '500', '960', '10']);
      expect(plain.code, plain.err).toBe(0);
      expect(late.code, late.err).toBe(0);
      expect(plain.summary!.delayMaxFrames as number).toBeGreaterThanOrEqual(960);
      expect(plain.summary!.delayMaxFrames as number).toBeLessThanOrEqual(9600);
      expect(late.summary!.delayMaxFrames as number).toBeGreaterThanOrEqual(960 + 9600);
    });

    it('no fd or timer leak over 200 open/start/close cycles', async () => {
      const r = await probe(['leak', pluginDevice('', { id: newSessionId('leak') }), '200']);
      expect(r.code, r.out + r.err).toBe(0);
      const l = r.lines.find((x) => x.ev === 'leak')!;
      expect(l.fdsAfter).toBe(l.fdsBefore);
    });
  });
});
