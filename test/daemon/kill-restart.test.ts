// Kill -9 and restart (issue 8, part 6): a daemon killed mid-stream is started
// again on the same config at once, as systemd's Restart= would, and streams
// again at its first open: the kernel released what the dead process held.
//
// The real daemon (node dist/daemon/cli.js run) as a child process, in two cases:
//  - mock: devices. A mock card lives inside its process, so there is no device
//    to be released; what can trip a restart is what the process held outside
//    itself: its HTTP port (a connection of the dead server sits in TIME_WAIT)
//    and its audio FIFO (it stays behind, with a reader still attached).
//  - the healthtest ALSA plugin in exclusive mode (`lock`: flock at open, EBUSY
//    while held): a second daemon beside a live first one gets EBUSY, and after
//    kill -9 of the first a restart opens the devices at its first try.
//
//   npx vitest run test/daemon/kill-restart.test.ts

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ensurePlugin, pluginDevice, readTrace, type PluginSetup } from '../alsa-plugin/plugin.js';
import { cliMissing, Child, NotifyReceiver, type LogLine } from './child.js';
import { descendants, FifoReader, freePort, procState, timeWaitOn } from './proc-state.js';

// CI (.ci/run) sets these: a case that cannot run is then a failure, not a skip.
const REQUIRE = Boolean(process.env.ALSA_HEALTH_REQUIRE_CLI || process.env.AH_KERNEL_REQUIRE);
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The recovery controller's first backoff (README, recovery.initialBackoffMs; the
// configs below keep the default). A first open that failed would show up as a
// recovery attempt in the new daemon; its first open must also be quick, well
// under one backoff step.
const FIRST_BACKOFF_MS = 250;
const OPEN_TO_STREAM_BOUND_MS = FIRST_BACKOFF_MS / 2;
// Spawn to every device streaming: node's start (zod, prom-client, pino, yaml
// load in ~0.5 s idle) on a shared, loaded 2-CPU host; a few seconds.
const RESTART_BOUND_MS = 6000;


const why = cliMissing({ python: true });
let plugin: PluginSetup | null = null;
let pluginWhy: string | null = why;
if (!why) {
  try {
    plugin = await ensurePlugin();
  } catch (err) {
    pluginWhy = `the healthtest ALSA plugin does not build: ${(err as Error).message}`;
  }
}
const cannot = [...new Set([why, pluginWhy])].filter((w): w is string => w !== null);
for (const w of cannot) console.warn(`kill-restart: ${REQUIRE ? 'cannot run' : 'skipped'}: ${w}`);

interface DeviceView {
  name: string;
  up: boolean;
  status: string;
  totals: { frames: number; errors: number; recoveryAttempts: number; recoveries: number; disconnects: number };
  detail?: { lastError?: string | null; recovery?: { phase: string; attempts?: number } };
}

async function deviceView(port: number, name: string): Promise<DeviceView | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/health/${name}`);
    return (await r.json()) as DeviceView;
  } catch {
    return null; // not listening yet, or gone
  }
}

/** performance.now() at the first poll (every 10 ms) that saw frames moved on every device. */
async function streamingAt(port: number, names: string[], timeoutMs: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  const end = performance.now() + timeoutMs;
  while (seen.size < names.length) {
    if (performance.now() > end) throw new Error(`not streaming within ${timeoutMs} ms: ${names.filter((n) => !seen.has(n)).join(', ')}`);
    await Promise.all(
      names
        .filter((n) => !seen.has(n))
        .map(async (n) => {
          const v = await deviceView(port, n);
          if (v && v.totals.frames > 0) seen.set(n, performance.now());
        }),
    );
    await tick(10);
  }
  return seen;
}

/** Epoch ms of a log line (pino's `time`). */
const timeOf = (l: LogLine): number => l.time as number;

const ofDevice = (name: string) => (l: LogLine) => l.device === name;
const isRecoveryLine = (l: LogLine) => /^recovery (attempt|gave up)/.test(l.msg) || l.msg === 'reopening device';

/** What the new daemon must not have done if its first open succeeded. */
function expectFirstOpenClean(c: Child, names: string[]): void {
  for (const name of names) expect(c.count((l) => l.msg === 'device opened' && ofDevice(name)(l)), `${name} opened once`).toBe(1);
  expect(c.lines.filter((l) => l.msg.startsWith('cannot open device')), 'no failed open').toEqual([]);
  expect(c.lines.filter(isRecoveryLine), 'no recovery').toEqual([]);
}

/** A keep-alive HTTP connection: when its server dies, the server's side goes to TIME_WAIT. */
async function keepAlive(port: number): Promise<{ sock: Socket; closed: Promise<{ epoch: number; timeWait: number }> }> {
  const sock = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  const answered = new Promise<void>((resolve) => sock.once('data', () => resolve()));
  sock.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
  await answered;
  sock.on('data', () => undefined);
  // The dead server's FIN arrives (the kernel closes its files); we close our
  // end after it, so theirs is the side that waits in TIME_WAIT.
  sock.on('end', () => sock.end());
  const closed = new Promise<{ epoch: number; timeWait: number }>((resolve) =>
    sock.once('close', () => resolve({ epoch: Date.now(), timeWait: timeWaitOn(port) })),
  );
  return { sock, closed };
}

/** The killed process: reaped (no zombie), and nothing it started outlives it. */
function expectNothingLeft(pid: number, childrenBefore: number[]): void {
  expect(procState(pid), `pid ${pid} reaped, not a zombie`).toBeNull();
  expect(descendants(pid), 'no process of the killed daemon').toEqual([]);
  for (const c of childrenBefore) expect(procState(c), `its child ${c} is gone`).toBeNull();
}

const f0 = (x: number) => x.toFixed(0);

describe('kill -9 and restart', () => {
  let dir: string;
  const children: Child[] = [];
  const cleanups: (() => void)[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'alsa-health-kill-'));
  });
  afterEach(() => {
    for (const c of children.splice(0)) c.kill();
    for (const f of cleanups.splice(0)) f();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  if (REQUIRE && cannot.length > 0) {
    it('can run (ALSA_HEALTH_REQUIRE_CLI / AH_KERNEL_REQUIRE is set)', () => {
      throw new Error(`kill-restart cases cannot run: ${cannot.join('; ')}`);
    });
  }

  const daemon = (file: string, env: NodeJS.ProcessEnv = {}) => {
    const t = { perf: performance.now(), epoch: Date.now(), hr: process.hrtime.bigint() };
    const c = new Child(['run', '--config', file], env);
    children.push(c);
    return { c, t };
  };
  const config = (name: string, cfg: object): string => {
    const file = join(dir, name);
    writeFileSync(file, stringify(cfg));
    return file;
  };
  const base = (listen: string) => ({
    logLevel: 'info',
    http: { listen },
    // default recovery settings on purpose: the first backoff is the 250 ms the bound refers to
  });

  it.skipIf(why !== null)(
    'mock: a restart binds the same HTTP port beside the dead one\'s TIME_WAIT, reuses its audio FIFO, says READY=1 and streams at its first open',
    async () => {
      const port = await freePort();
      const fifo = join(dir, 'cap.fifo'); // the daemon creates it (as under systemd's RuntimeDirectory)
      const names = ['m-cap', 'm-play'];
      const file = config('mock.yaml', {
        ...base(`127.0.0.1:${port}`),
        devices: [
          { name: 'm-cap', pcm: 'mock:kr-cap', direction: 'capture', sampleIntervalMs: 20, audio: { fifo } },
          { name: 'm-play', pcm: 'mock:kr-play', direction: 'playback', sampleIntervalMs: 20 },
        ],
      });

      const a = daemon(file);
      expect(await a.c.port()).toBe(port);
      await streamingAt(port, names, 20_000);
      const reader = new FifoReader(fifo);
      cleanups.push(() => reader.close());
      await tick(300); // mid-stream: audio flowing through the FIFO
      expect(reader.bytes()).toBeGreaterThan(0);
      const conn = await keepAlive(port);
      cleanups.push(() => conn.sock.destroy());
      const childrenBefore = descendants(a.c.proc.pid!).map((s) => s.pid);

      // kill -9, and the new daemon at once: the old one is not waited for
      const notify = new NotifyReceiver(join(dir, 'mock-notify.sock'));
      cleanups.push(() => notify.close());
      await notify.listening;
      const chunksAtKill = reader.chunks.length;
      const tKill = performance.now();
      a.c.proc.kill('SIGKILL');
      const c = daemon(file, { NOTIFY_SOCKET: notify.path });

      const killed = await a.c.exited;
      expect(killed.signal).toBe('SIGKILL');
      expectNothingLeft(a.c.proc.pid!, childrenBefore);
      const { epoch: tConnClosed, timeWait } = await conn.closed;
      const listening = await c.c.waitLog('HTTP listening', (l) => l.msg === 'HTTP listening', 20_000);
      // The dead server's side of the connection was in TIME_WAIT before the new one bound the port.
      expect(timeWait, `TIME_WAIT on :${port} after the kill`).toBeGreaterThanOrEqual(1);
      expect(tConnClosed).toBeLessThanOrEqual(timeOf(listening));
      expect(listening.port).toBe(port);
      expect(c.c.lines.filter((l) => l.level >= 50 && /listen|EADDRINUSE/i.test(JSON.stringify(l)))).toEqual([]);

      const streaming = await streamingAt(port, names, RESTART_BOUND_MS + 10_000);
      const ready = await (async () => {
        const end = performance.now() + 10_000;
        while (notify.messages('READY=1').length === 0 && performance.now() < end) await tick(10);
        return notify.messages('READY=1')[0];
      })();
      expect(ready, 'READY=1 from the new daemon').toBeDefined();
      const tFrame0 = await (async () => {
        const end = performance.now() + 5000;
        for (;;) {
          const t = reader.firstFrameZeroAfter(chunksAtKill);
          if (t !== null || performance.now() > end) return t;
          await tick(10);
        }
      })();
      expect(tFrame0, "the new daemon's frame 0 through the FIFO the dead one left").not.toBeNull();

      expectFirstOpenClean(c.c, names);
      for (const n of names) {
        const v = (await deviceView(port, n))!;
        expect(v.totals.recoveryAttempts, `${n} recovery attempts`).toBe(0);
        expect(v.totals.errors, `${n} errors`).toBe(0);
        expect(v.totals.frames).toBeGreaterThan(0);
      }

      // Figures. The mock opens with no kernel involved: 'starting' -> 'device
      // opened' bounds the open (it includes the HTTP listen before it).
      const starting = timeOf(await c.c.waitLog('starting', (l) => l.msg === 'starting'));
      const opened = names.map((n) => timeOf(c.c.lines.find((l) => l.msg === 'device opened' && ofDevice(n)(l))!));
      const openMs = Math.max(...opened) - starting;
      const spawnToStream = Math.max(...streaming.values()) - c.t.perf;
      const readyMs = Number(BigInt(Math.round(ready!.t * 1e9)) - c.t.hr) / 1e6;
      console.log(
        `mock kill -9 -> restart: kill->old reaped ${f0(killed.at - tKill)} ms; spawn->HTTP listening on the same port ${f0(timeOf(listening) - c.t.epoch)} ms ` +
          `(TIME_WAIT sockets on it: ${timeWait}); spawn->READY=1 ${f0(readyMs)} ms; starting->both devices opened ${f0(openMs)} ms; ` +
          `spawn->frames in /health: ${names.map((n) => `${n} ${f0(streaming.get(n)! - c.t.perf)} ms`).join(', ')}; ` +
          `spawn->frame 0 out of the old FIFO ${f0(tFrame0! - c.t.perf)} ms`,
      );
      expect(openMs).toBeLessThan(OPEN_TO_STREAM_BOUND_MS);
      expect(spawnToStream).toBeLessThan(RESTART_BOUND_MS);

      c.c.proc.kill('SIGTERM');
      expect((await c.c.exited).code).toBe(0);
      // Why the bind above worked: TIME_WAIT (60 s; the dead server's among
      // them) refuses the port to a socket without SO_REUSEADDR; libuv sets it
      // on every TCP listener, so node's does not trip.
      expect(timeWaitOn(port)).toBeGreaterThanOrEqual(1);
      const naive = spawnSync('python3', ['-c', `import socket; socket.socket().bind(('127.0.0.1', ${port}))`], { encoding: 'utf8' });
      expect(naive.status, 'a bind without SO_REUSEADDR').not.toBe(0);
      expect(naive.stderr).toMatch(/Address already in use/);
    },
    90_000,
  );

  it.skipIf(pluginWhy !== null)(
    'healthtest plugin, exclusive: a second daemon gets EBUSY while the first lives; after kill -9 a restart opens capture and playback at its first try',
    async () => {
      const env = plugin!.env;
      const trace = join(dir, 'plugin.jsonl');
      const id = `kr${process.pid}-${Date.now().toString(36)}`;
      const lockCap = join(dir, 'cap.lock');
      const lockPlay = join(dir, 'play.lock');
      const names = ['p-cap', 'p-play'];
      const devices = [
        { name: 'p-cap', pcm: pluginDevice('', { id: `${id}-c`, trace, lock: lockCap }), direction: 'capture', sampleIntervalMs: 20 },
        { name: 'p-play', pcm: pluginDevice('', { id: `${id}-p`, trace, lock: lockPlay }), direction: 'playback', sampleIntervalMs: 20 },
      ];
      const port = await freePort();
      const file = config('plugin.yaml', { ...base(`127.0.0.1:${port}`), devices });
      // same devices, another port: the HTTP port is not what this part is about
      const fileB = config('plugin-b.yaml', { ...base('127.0.0.1:0'), devices });
      const ofPid = (pid: number) => readTrace(trace).filter((e) => e.pid === pid);

      const a = daemon(file, env);
      await a.c.port();
      await streamingAt(port, names, 20_000);
      const pidA = a.c.proc.pid!;

      // B, beside a live A: both opens fail EBUSY, named in its log and its /health.
      const b = daemon(fileB, env);
      const portB = await b.c.port();
      const busy = await Promise.all(
        devices.map((d) => b.c.waitLog(`${d.name} EBUSY`, (l) => l.msg === 'cannot open device; handing it to recovery' && l.pcm === d.pcm, 20_000)),
      );
      for (const l of busy) expect(l.code).toBe('EBUSY');
      for (const n of names) {
        const v = (await deviceView(portB, n))!;
        expect(v.up).toBe(false);
        expect(v.totals.frames).toBe(0);
        expect(v.totals.errors).toBeGreaterThanOrEqual(1);
        expect(v.detail?.lastError ?? '').toMatch(/EBUSY/);
      }
      expect(b.c.stderr).toContain(`held by pid ${pidA}`);
      const bFails = ofPid(b.c.proc.pid!).filter((e) => e.ev === 'openFail');
      expect(bFails.map((e) => [e.stream, e.errno, e.lock, e.holder]).sort()).toEqual([
        ['capture', 'EBUSY', true, String(pidA)],
        ['playback', 'EBUSY', true, String(pidA)],
      ]);
      const lastError = (await deviceView(portB, 'p-cap'))!.detail?.lastError;
      b.c.proc.kill('SIGTERM'); // before A dies: B's recovery must not take the devices from the restart
      expect((await b.c.exited).code).toBe(0);
      for (const n of names) expect((await deviceView(port, n))!.up, `A's ${n} streams on beside B`).toBe(true);

      const childrenBefore = descendants(pidA).map((s) => s.pid);
      const tKill = performance.now();
      const hrKill = process.hrtime.bigint();
      a.c.proc.kill('SIGKILL');
      const c = daemon(file, env);

      const killed = await a.c.exited;
      expect(killed.signal).toBe('SIGKILL');
      expectNothingLeft(pidA, childrenBefore);
      // A never closed its PCMs: the kernel dropped its locks with its files
      expect(ofPid(pidA).filter((e) => e.ev === 'close')).toEqual([]);

      expect(await c.c.port()).toBe(port);
      const streaming = await streamingAt(port, names, RESTART_BOUND_MS + 10_000);
      const pidC = c.c.proc.pid!;
      const tr = ofPid(pidC);
      expect(tr.filter((e) => e.ev === 'openFail'), 'no failed open in the restart').toEqual([]);
      expectFirstOpenClean(c.c, names);
      const figures: string[] = [];
      for (const [n, stream] of [['p-cap', 'capture'], ['p-play', 'playback']] as const) {
        const opens = tr.filter((e) => e.stream === stream && e.ev === 'open');
        const starts = tr.filter((e) => e.stream === stream && e.ev === 'start');
        expect(opens, `${n}: one open`).toHaveLength(1);
        expect(starts.length, `${n}: started`).toBeGreaterThanOrEqual(1);
        const openToStart = Number(starts[0]!.t - opens[0]!.t) / 1e6;
        const v = (await deviceView(port, n))!;
        expect(v.totals.recoveryAttempts, `${n} recovery attempts`).toBe(0);
        expect(v.totals.errors, `${n} errors`).toBe(0);
        figures.push(
          `${n}: kill->open ${f0(Number(opens[0]!.t - hrKill) / 1e6)} ms, open->start ${openToStart.toFixed(1)} ms, spawn->frames in /health ${f0(streaming.get(n)! - c.t.perf)} ms`,
        );
        expect(openToStart).toBeLessThan(OPEN_TO_STREAM_BOUND_MS);
      }
      const spawnToStream = Math.max(...streaming.values()) - c.t.perf;
      console.log(
        `plugin kill -9 -> restart: second daemon beside the first: EBUSY on both ("${lastError}"; plugin: ${[...new Set(b.c.stderr.match(/lock \S+ held by pid \d+/g))].join(', ')}); ` +
          `kill->old reaped ${f0(killed.at - tKill)} ms; ${figures.join('; ')}; spawn->both streaming ${f0(spawnToStream)} ms`,
      );
      expect(spawnToStream).toBeLessThan(RESTART_BOUND_MS);

      // A clean stop closes the PCMs (and so releases the locks) itself.
      c.c.proc.kill('SIGTERM');
      expect((await c.c.exited).code).toBe(0);
      expect(ofPid(pidC).filter((e) => e.ev === 'close').length).toBe(2);
    },
    120_000,
  );
});
