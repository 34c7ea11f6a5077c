// Guest side: the observer (dist/observe) watching PCMs that arecord / aplay own,
// on the VM's real snd-dummy / snd-aloop. One JSON line per scenario on stdout.
//   node test/kernel/guest/observe.mjs [scenario ...]
import { pathToFileURL, fileURLToPath } from 'node:url';
import { cards, emit, now, scenario, sleep, sndNodes, sysfsWriter, track } from './lib.mjs';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const { observePcm, listOpenPcms } = await import(pathToFileURL(`${REPO}dist/observe/index.js`).href);

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
      afterStopMs: x.t - tStop, afterXrunMs: x.t - trigMs(x.evidence?.trigger_time), atLeastMs: x.durationUs / 1000,
      evidence: x.evidence, beforeStall: stall ? x.t < stall.t : null,
    },
    recovered: rec && { afterRestartMs: rec.t - trigMs(rec.evidence?.trigger_time), xrunLengthMs: rec.durationUs / 1000, lostFrames: rec.lostFrames },
    ownerSaysXrunMs: arecordXrun ? Number(arecordXrun) : null,
    closed: closed && { afterKillMs: closed.t - tKill, pid: closed.pid },
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
      disconnect: disc && { afterUnbindStartMs: disc.t - u.tStart, afterUnbindEndMs: disc.t - u.tEnd, errno: disc.errno, pid: disc.pid },
      stateUnbound,
      reappeared: back && { afterBindEndMs: back.t - b.tEnd, afterBindStartMs: back.t - b.tStart, evidence: back.evidence },
      reopenedPid: reopened?.pid ?? null, secondOwnerPid: a2.child.pid,
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
    for (let i = 0; i < 200; i++) m.poll();
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
    await sleep(3000);
    const u = process.cpuUsage(u0);
    const polls = o.polls - polls0;
    await o.close();
    a.child.kill('SIGTERM');
    await a.exited;
    const idleUs = idle.user + idle.system;
    const busyUs = u.user + u.system;
    return {
      perPollCpuUs: perPollUs, perPollWallUs: wallPerPollUs, heapGrowthPerPollBytes: heapGrowthPerPoll,
      pollsIn3s: polls, samplesIn3s: samples,
      timerCpuPercent: ((busyUs - idleUs) / 3e6) * 100, timerCpuPercentRaw: (busyUs / 3e6) * 100, idleCpuPercent: (idleUs / 3e6) * 100,
      pollOnlyCpuPercentAt10ms: (perPollUs / 10_000) * 100,
    };
  }, 30_000);
