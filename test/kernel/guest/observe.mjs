// Guest side: the observer (dist/observe) watching PCMs that arecord / aplay own,
// on the VM's real snd-dummy / snd-aloop. One JSON line per scenario on stdout.
//   node test/kernel/guest/observe.mjs [scenario ...]
import { pathToFileURL, fileURLToPath } from 'node:url';
import { closeSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cards, emit, now, scenario, sleep, sndNodes, sysfsWriter, track } from './lib.mjs';

/** utime + stime of a process, ms (USER_HZ 100). */
function ownerCpuMs(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return null;
  }
}

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const { observePcm, listOpenPcms, parseStatus, emptyStatus } = await import(pathToFileURL(`${REPO}dist/observe/index.js`).href);

const PERIOD = 480; // 10 ms
const BUFFER = 4800; // 100 ms (TCG: a descheduled vCPU must not xrun by itself)
const fmt = ['-f', 'S16_LE', '-r', '48000', '-c', '2', '-t', 'raw', `--period-size=${PERIOD}`, `--buffer-size=${BUFFER}`];
const UNBIND = '/sys/bus/platform/drivers/snd_dummy/unbind';
const BIND = '/sys/bus/platform/drivers/snd_dummy/bind';
const only = new Set(process.argv.slice(2));
const want = (n) => only.size === 0 || only.has(n);

/** "12.325455045" (the kernel's CLOCK_MONOTONIC, as alsa-lib sets it) -> ms on the now() clock. */
const trigMs = (s) => (typeof s === 'string' ? Number(s.split('.')[0]) * 1000 + Number(s.split('.')[1]) / 1e6 : null);
const ms = (ns) => Number(BigInt(ns)) / 1e6;

/** Record an observer's events and samples with their arrival time. */
function record(o) {
  const r = { events: [], samples: [] };
  o.on('event', (e) => r.events.push({ ...e, t: ms(e.tDetectNs), tDetectNs: undefined }));
  o.on('sample', (s) => r.samples.push({ frames: s.frames, xruns: s.xruns, state: s.state, t: ms(s.tEndNs), delayUsMean: s.delayUsMean, availFramesMax: s.availFramesMax, ownerPid: s.ownerPid }));
  r.of = (type, after = -Infinity) => r.events.filter((e) => e.type === type && e.t >= after);
  r.waitFor = async (type, after = -Infinity, timeoutMs = 3000) => {
    const t0 = now();
    while (now() - t0 < timeoutMs) {
      const e = r.of(type, after)[0];
      if (e) return e;
      await sleep(5);
    }
    return null;
  };
  r.types = (after = -Infinity) => r.events.filter((e) => e.t >= after && e.type !== 'state').map((e) => e.type);
  return r;
}

/** frames/s over samples between two times. */
function rate(samples, from, to) {
  const s = samples.filter((x) => x.t > from && x.t <= to);
  if (s.length < 2) return null;
  const frames = s.slice(1).reduce((n, x) => n + x.frames, 0);
  return (frames * 1000) / (s[s.length - 1].t - s[0].t);
}

emit({ scenario: 'env', ok: true, node: process.version, cards: cards(), dev: sndNodes() });

/** SIGSTOP the owner 0.5 s while the observer watches: stall warning, one xrun, recovery; then kill -> closed. */
async function sigstop({ device, direction, owner }) {
  const o = await observePcm({ device, direction });
  const r = record(o);
  const tSpawn = now();
  const own = owner();
  const opened = await r.waitFor('opened', -Infinity, 5000);
  await sleep(700);
  const tRun0 = now();
  await sleep(600);
  const steadyRate = rate(r.samples, tRun0, now());
  const eventsBefore = r.types(tRun0);
  const tStop = now();
  own.child.kill('SIGSTOP');
  await sleep(500);
  const tCont = now();
  own.child.kill('SIGCONT');
  await sleep(600);
  const stall = r.of('ownerStall', tStop)[0] ?? null;
  const xruns = r.of('xrun', tStop);
  const rec = r.of('recovered', tStop).find((e) => e.evidence?.after === 'xrun') ?? null;
  const x = xruns[0] ?? null;
  const tKill = now();
  own.child.kill('SIGTERM');
  own.child.stdin?.destroy();
  const closed = await r.waitFor('closed', tKill, 3000);
  const ex = await own.exited;
  await o.close();
  const arecordXrun = /at least ([\d.]+) ms/.exec(ex.stderr)?.[1];
  return {
    device, direction, pid: own.child.pid, openedPid: opened?.pid ?? null, openedAfterSpawnMs: opened ? opened.t - tSpawn : null,
    steadyFramesPerSec: steadyRate, eventsWhileSteady: eventsBefore,
    stopMs: tCont - tStop,
    ownerStall: stall && { afterStopMs: stall.t - tStop, evidence: stall.evidence, pid: stall.pid },
    xrunCount: xruns.length,
    xrun: x && {
      // From the kernel's xrun (trigger_time) to the event; when our read stopped the stream,
      // from the moment the buffer was full (the frames past stop_threshold) to the event.
      afterStopMs: x.t - tStop, afterXrunMs: x.evidence?.trigger_time ? x.t - trigMs(x.evidence.trigger_time) : x.durationUs / 1000, atLeastMs: x.durationUs / 1000,
      evidence: x.evidence, stallCameFirst: stall ? stall.t < x.t : null,
    },
    recovered: rec && { afterRestartMs: rec.t - trigMs(rec.evidence?.trigger_time), xrunLengthMs: rec.durationUs / 1000, lostFrames: rec.lostFrames },
    ownerSaysXrunMs: arecordXrun ? Number(arecordXrun) : null,
    closed: closed && { afterKillMs: closed.t - tKill, pid: closed.pid },
    deviceStalls: r.of('deviceStall', tStop).map((e) => e.evidence),
    types: r.types(tStop), states: r.events.filter((e) => e.type === 'state').map((e) => `${e.evidence.from}->${e.evidence.to}`),
    ownerExit: ex.code ?? ex.signal, ownerStderr: ex.stderr.trim().slice(-300),
  };
}

if (want('dummy-capture-sigstop'))
  await scenario('dummy-capture-sigstop', () =>
    sigstop({ device: 'hw:Dummy', direction: 'capture', owner: () => track('arecord', ['-D', 'hw:Dummy', ...fmt]) }), 30_000);

if (want('loopback-playback-sigstop'))
  await scenario('loopback-playback-sigstop', () =>
    sigstop({
      device: 'hw:CARD=Loopback,DEV=0', direction: 'playback',
      owner: () => {
        const p = track('aplay', ['-D', 'hw:Loopback,0,0', ...fmt]);
        // Feed silence faster than real time; the pipe's back-pressure paces it.
        const chunk = Buffer.alloc(48000 * 4 / 50);
        let stop = false;
        const pump = () => {
          while (!stop && p.child.stdin.write(chunk));
          if (!stop) p.child.stdin.once('drain', pump);
        };
        p.child.stdin.on('error', () => { stop = true; });
        p.child.on('close', () => { stop = true; });
        pump();
        return p;
      },
    }), 30_000);

// An xrun the owner recovers between two reads: XRUN is never seen, the renewed
// trigger_time of the same pid tells it (polled by hand: one read before, one after).
if (want('between-polls'))
  await scenario('between-polls', async () => {
    const o = await observePcm({ device: 'hw:Dummy,0,0', direction: 'capture', pollIntervalMs: 1e6, sampleIntervalMs: 1e6 });
    const r = record(o);
    const a = track('arecord', ['-D', 'hw:Dummy', ...fmt]);
    while (a.firstDataAt === null && now() - a.startedAt < 5000) await sleep(20);
    await sleep(300);
    o.poll();
    const stateBefore = o.state;
    a.child.kill('SIGSTOP');
    await sleep(300);
    a.child.kill('SIGCONT');
    await sleep(200);
    o.poll();
    a.child.kill('SIGTERM');
    const ex = await a.exited;
    await o.close();
    return {
      stateBefore, types: r.types(), xrun: r.of('xrun')[0] ?? null, states: r.events.filter((e) => e.type === 'state').map((e) => `${e.evidence.from}->${e.evidence.to}`),
      ownerSaysXrunMs: Number(/at least ([\d.]+) ms/.exec(ex.stderr)?.[1] ?? NaN) || null,
    };
  });

if (want('loopback-draining'))
  await scenario('loopback-draining', async () => {
    const o = await observePcm({ device: 'hw:Loopback,0,0', direction: 'playback' });
    const r = record(o);
    const p = track('aplay', ['-D', 'hw:Loopback,0,0', '-f', 'S16_LE', '-r', '48000', '-c', '2', '-t', 'raw', '--period-size=4800', '--buffer-size=24000']);
    p.child.stdin.end(Buffer.alloc(48000 * 4)); // 1 s, then EOF: aplay drains its 0.5 s buffer
    await p.exited;
    await sleep(100);
    await o.close();
    return { types: r.types(), states: r.events.filter((e) => e.type === 'state').map((e) => `${e.evidence.from}->${e.evidence.to}`) };
  });

if (want('unplug'))
  await scenario('unplug', async () => {
    const w = sysfsWriter();
    await w.ready;
    const o = await observePcm({ device: 'hw:Dummy', direction: 'capture' });
    const r = record(o);
    const a = track('arecord', ['-D', 'hw:Dummy', ...fmt]);
    await r.waitFor('opened', -Infinity, 5000);
    await sleep(400);
    const u = await w.write(UNBIND, 'snd_dummy.0');
    const disc = await r.waitFor('disconnect', u.tStart, 3000);
    const ex = await a.exited;
    await sleep(100);
    const stateUnbound = o.state;
    const b = await w.write(BIND, 'snd_dummy.0');
    const back = await r.waitFor('reappeared', b.tStart, 3000);
    const a2 = track('arecord', ['-D', 'hw:Dummy', ...fmt, '-d', '1']);
    const reopened = await r.waitFor('opened', b.tEnd, 5000);
    await a2.exited;
    await sleep(100);
    await o.close();
    w.close();
    return {
      unbindMs: u.ms, unbindError: u.error, bindError: b.error, ownerExit: ex.code, ownerStderr: ex.stderr.trim().slice(-200),
      disconnect: disc && { afterUnbindStartMs: disc.t - u.tStart, afterUnbindEndMs: disc.t - u.tEnd, errno: disc.errno, pid: disc.pid, seen: disc.evidence?.seen },
      stateUnbound,
      reappeared: back && { afterBindEndMs: back.t - b.tEnd, afterBindStartMs: back.t - b.tStart, evidence: back.evidence },
      reopenedPid: reopened?.pid ?? null, secondOwnerPid: a2.child.pid,
      states: r.events.filter((e) => e.type === 'state').map((e) => `${e.evidence.from}->${e.evidence.to}`),
      types: r.types(),
    };
  }, 30_000);

if (want('list'))
  await scenario('list', async () => {
    const a = track('arecord', ['-D', 'hw:Dummy', ...fmt]);
    await sleep(800);
    const l = listOpenPcms();
    a.child.kill('SIGTERM');
    await a.exited;
    return { verbose: l.verbose, pcms: l.pcms, ownerPid: a.child.pid };
  });

if (want('cost'))
  await scenario('cost', async () => {
    const a = track('arecord', ['-D', 'hw:Dummy', ...fmt]);
    await sleep(800);
    // (1) Polls back to back on a RUNNING substream: CPU per poll.
    const m = await observePcm({ device: 'hw:Dummy,0,0', direction: 'capture', pollIntervalMs: 1e6, sampleIntervalMs: 1e6 });
    await sleep(20);
    for (let i = 0; i < 5000; i++) m.poll(); // warm-up: let V8 optimize the poll path (slow under TCG)
    const N = 3000;
    const c0 = process.cpuUsage();
    const t0 = now();
    for (let i = 0; i < N; i++) m.poll();
    const c1 = process.cpuUsage(c0);
    const perPollUs = (c1.user + c1.system) / N;
    const wallPerPollUs = ((now() - t0) * 1000) / N;
    const heap0 = process.memoryUsage().heapUsed;
    for (let i = 0; i < N; i++) m.poll();
    const heapGrowthPerPoll = (process.memoryUsage().heapUsed - heap0) / N;
    await m.close();
    // The kernel's share: the same pread of the status file alone, no parsing.
    const fd = openSync('/proc/asound/card0/pcm0c/sub0/status', 'r');
    const raw = Buffer.alloc(1024);
    const r0 = process.cpuUsage();
    for (let i = 0; i < N; i++) readSync(fd, raw, 0, 1024, 0);
    const r1 = process.cpuUsage(r0);
    closeSync(fd);
    const preadOnlyUs = (r1.user + r1.system) / N;
    // JS alone under TCG: the status parser on a buffer, no I/O.
    const text = Buffer.from(readFileSync('/proc/asound/card0/pcm0c/sub0/status', 'utf8'));
    const out = emptyStatus();
    const p0 = process.cpuUsage();
    for (let i = 0; i < N; i++) parseStatus(text, text.length, out);
    const p1 = process.cpuUsage(p0);
    const parseOnlyUs = (p1.user + p1.system) / N;
    // A clock read (one per poll): under TCG without a TSC clocksource it is an emulated device read.
    const k0 = process.cpuUsage();
    let sink = 0;
    for (let i = 0; i < N; i++) sink += performance.now();
    const k1 = process.cpuUsage(k0);
    const clockReadUs = (k1.user + k1.system) / N + (sink < 0 ? 1 : 0);
    let clocksource = null;
    try { clocksource = readFileSync('/sys/devices/system/clocksource/clocksource0/current_clocksource', 'utf8').trim(); } catch { /* none */ }
    // (2) The timer at 10 ms for 3 s, minus an idle 3 s of the same process.
    const idle0 = process.cpuUsage();
    await sleep(3000);
    const idle = process.cpuUsage(idle0);
    const o = await observePcm({ device: 'hw:Dummy', direction: 'capture' });
    let samples = 0;
    o.on('sample', () => samples++);
    await sleep(200);
    const u0 = process.cpuUsage();
    const polls0 = o.polls;
    const ownerCpu0 = ownerCpuMs(a.child.pid);
    await sleep(3000);
    const u = process.cpuUsage(u0);
    const polls = o.polls - polls0;
    const ownerCpu1 = ownerCpuMs(a.child.pid);
    const ownerCpuPercent = ownerCpu0 !== null && ownerCpu1 !== null ? ((ownerCpu1 - ownerCpu0) / 3000) * 100 : null;
    await o.close();
    a.child.kill('SIGTERM');
    await a.exited;
    const idleUs = idle.user + idle.system;
    const busyUs = u.user + u.system;
    return {
      perPollCpuUs: perPollUs, preadOnlyCpuUs: preadOnlyUs, parseOnlyCpuUs: parseOnlyUs, clockReadCpuUs: clockReadUs, clocksource, ownerArecordCpuPercent: ownerCpuPercent, perPollWallUs: wallPerPollUs, heapGrowthPerPollBytes: heapGrowthPerPoll,
      pollsIn3s: polls, samplesIn3s: samples,
      timerCpuPercent: ((busyUs - idleUs) / 3e6) * 100, timerCpuPercentRaw: (busyUs / 3e6) * 100, idleCpuPercent: (idleUs / 3e6) * 100,
      pollOnlyCpuPercentAt10ms: (perPollUs / 10_000) * 100,
    };
  }, 30_000);

// The daemon in `mode: observe`: the owner is killed (scripted failure) -> critical ->
// its recovery.exec runs once and starts a new owner -> healthy again.
if (want('daemon'))
  await scenario('daemon', async () => {
    const dir = process.env.AH_RUN_DIR ?? '/tmp';
    const marker = join(dir, 'exec-runs');
    const script = join(dir, 'restart-owner.mjs');
    writeFileSync(script, `
      import { spawn } from 'node:child_process';
      import { appendFileSync } from 'node:fs';
      const c = spawn('arecord', ${JSON.stringify(['-D', 'hw:Dummy', ...fmt, '-d', '4'])}, { detached: true, stdio: 'ignore' });
      c.unref();
      appendFileSync(${JSON.stringify(marker)}, process.env.ALSA_HEALTH_DEVICE + ' ' + c.pid + '\\n');
    `);
    const cfg = join(dir, 'observe.json');
    writeFileSync(cfg, JSON.stringify({
      http: { listen: 'off' },
      monitor: { checkIntervalMs: 100, supervisorTimeoutMs: 500, hysteresisMs: 300 },
      recovery: { initialBackoffMs: 100, maxAttempts: 3, attemptTimeoutMs: 5000 },
      devices: [{ name: 'hdmi-in', pcm: 'hw:Dummy', direction: 'capture', mode: 'observe', recovery: { exec: [process.execPath, script], timeoutMs: 5000 } }],
    }));
    const own = track('arecord', ['-D', 'hw:Dummy', ...fmt]);
    await sleep(300);
    const d = track(process.execPath, [`${REPO}dist/daemon/cli.js`, 'run', '--config', cfg]);
    const logs = [];
    let buf = '';
    d.child.stdout.on('data', (b) => {
      buf += b.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try { logs.push({ ...JSON.parse(line), t: now() }); } catch { /* not JSON */ }
      }
    });
    const waitLog = async (pred, timeoutMs) => {
      const t0 = now();
      while (now() - t0 < timeoutMs) {
        const l = logs.find(pred);
        if (l) return l;
        await sleep(20);
      }
      return null;
    };
    const healthy1 = await waitLog((l) => l.msg === 'device health status changed' && l.to === 'healthy', 15000);
    const tKill = now();
    own.child.kill('SIGKILL');
    const closed = await waitLog((l) => l.event === 'closed' && l.t >= tKill, 5000);
    const exec = await waitLog((l) => l.msg === 'recovery exec succeeded', 10000);
    const healthy2 = await waitLog((l) => l.msg === 'device health status changed' && l.to === 'healthy' && l.t > tKill, 15000);
    await sleep(500);
    d.child.kill('SIGTERM');
    const dex = await d.exited;
    let runs = '';
    try { runs = readFileSync(marker, 'utf8'); } catch { /* none */ }
    for (const line of runs.trim().split('\n')) {
      const pid = Number(line.split(' ')[1]);
      if (pid) try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
    }
    await own.exited;
    return {
      healthyAtStart: healthy1 !== null, closedAfterKillMs: closed ? closed.t - tKill : null,
      execAfterKillMs: exec ? exec.t - tKill : null, healthyAgainAfterKillMs: healthy2 ? healthy2.t - tKill : null,
      execRuns: runs.trim() === '' ? 0 : runs.trim().split('\n').length, execLines: runs.trim(),
      statusChanges: logs.filter((l) => l.msg === 'device health status changed').map((l) => `${l.from}->${l.to}`),
      reopenAttempts: logs.filter((l) => /reopen/i.test(l.msg ?? '')).length,
      daemonExit: dex.code, daemonStderr: dex.stderr.slice(-500),
    };
  }, 40_000);
