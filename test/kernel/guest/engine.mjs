// Guest side: the alsa-health engine (dist/index.js + the built addon) against
// the VM's real kernel drivers. One JSON line per scenario on stdout.
//   node test/kernel/guest/engine.mjs [scenario ...]
import { spawn } from 'node:child_process';
import { watch } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { engine, errnoOf, ev, nsToMs, observe } from './engine-lib.mjs';
import {
  cards, emit, findPattern, hwPtrRate, now, pattern, pcmStatus, scenario, sleep, sndNodes, sysfsWriter, timelineRate,
} from './lib.mjs';

const RATE = 48000;
const BPF = 4;
const BYTE_RATE = RATE * BPF;
const PERIOD = 480; // 10 ms
const PERIODS = 4; // 40 ms buffer
const base = { rate: RATE, channels: 2, format: 'S16_LE', periodFrames: PERIOD, bufferPeriods: PERIODS, sampleIntervalMs: 100 };
// Rate and integrity scenarios: a 100 ms buffer, so a TCG vCPU that the host
// deschedules for a moment (other jobs on a 2-CPU CI box) does not underrun.
const roomy = { ...base, bufferPeriods: 10 };
const UNBIND = '/sys/bus/platform/drivers/snd_dummy/unbind';
const BIND = '/sys/bus/platform/drivers/snd_dummy/bind';

const only = new Set(process.argv.slice(2));
const want = (n) => only.size === 0 || only.has(n);

const tLoad = now();
let api;
try {
  api = await engine();
} catch (e) {
  emit({ scenario: 'env', ok: false, error: String(e?.stack ?? e) });
  process.exit(3);
}
const { openPcm, listPcms } = api;
emit({ scenario: 'env', ok: true, node: process.version, engineLoadMs: now() - tLoad, cards: cards(), dev: sndNodes() });

/** Feed a playback PcmStream from `data` (then silence), honouring back-pressure, until stop(). */
function feeder(pcm, data, chunkBytes = BYTE_RATE / 50) {
  // timeline: bytes the engine took into its ring (write callbacks), over time.
  const st = { written: 0, accepted: 0, timeline: [], stopped: false };
  st.done = (async () => {
    let off = 0;
    const silence = Buffer.alloc(chunkBytes);
    while (!st.stopped) {
      const chunk = data && off < data.length ? data.subarray(off, off + chunkBytes) : silence;
      off += chunk.length;
      const ok = pcm.audio.write(chunk, () => {
        if (st.stopped) return; // close() completes a pending write: not taken by the PCM
        st.accepted += chunk.length;
        st.timeline.push([now(), st.accepted]);
      });
      st.written += chunk.length;
      if (!ok) await new Promise((r) => pcm.audio.once('drain', r));
    }
  })();
  st.stop = async () => {
    st.stopped = true;
    await Promise.race([st.done, sleep(500)]);
  };
  return st;
}

/** Polls procfs (1 ms) for a substream running with its first period moved. */
function kernelFirstPeriod(card = 'Dummy', dev = 0, dir = 'capture') {
  let at = null;
  let polling = true;
  const p = (async () => {
    while (polling) {
      const k = pcmStatus(card, dev, dir);
      if (k.state === 'running' && typeof k.hw_ptr === 'number' && k.hw_ptr >= PERIOD) {
        at = now();
        return;
      }
      await sleep(1);
    }
  })();
  return {
    async result(waitMs) {
      await Promise.race([p, sleep(waitMs)]);
      polling = false;
      return at;
    },
  };
}

const sampleSum = (o, k) => o.samples.reduce((n, s) => n + (s[k] ?? 0), 0);

if (want('list'))
  await scenario('list', async () => {
    const pcms = await listPcms();
    const names = pcms.map((p) => p.name ?? p);
    return {
      count: names.length, names, pcms,
      hasDummy: names.some((n) => /Dummy/.test(n)), hasLoopback: names.some((n) => /Loopback/.test(n)),
    };
  });

if (want('capture-rate'))
  await scenario('capture-rate', async () => {
    const t0 = now();
    const pcm = await openPcm({ device: 'hw:Dummy', direction: 'capture', ...roomy });
    const o = observe(pcm);
    const first = await o.firstGood(0);
    const openToFirstGoodMs = first.tRecvMs - t0;
    await sleep(300);
    const hw = await hwPtrRate('Dummy', 0, 'capture', 2000);
    await sleep(300);
    await pcm.close();
    return {
      device: 'hw:Dummy', expectedByteRate: BYTE_RATE, openToFirstGoodMs, params: pcm.params ?? null,
      byteRate: timelineRate(o.timeline, 500), sampleByteRate: o.sampleRate(first.tRecvMs + 300) * BPF,
      hwPtrByteRate: hw.framesPerSec * BPF, hwState: hw.stateA, xruns: sampleSum(o, 'xruns'), errors: sampleSum(o, 'errors'),
      consumerDropped: sampleSum(o, 'consumerDropped'), latenessUsMax: Math.max(...o.samples.map((s) => s.latenessUsMax ?? 0)),
      events: o.events.map(ev), samples: o.samples.length, stateAfterClose: pcmStatus('Dummy', 0, 'capture').state,
    };
  });

if (want('playback-rate'))
  await scenario('playback-rate', async () => {
    const tOpen = now();
    const rt = process.env.AH_RT ? { rtPriority: Number(process.env.AH_RT) } : {};
    const pcm = await openPcm({ device: 'hw:Loopback,0,0', direction: 'playback', ...roomy, ...rt });
    const tOpened = now();
    const o = observe(pcm);
    const f = feeder(pcm, null);
    const first = await o.firstGood(0);
    await sleep(500);
    const hw = await hwPtrRate('Loopback', 0, 'playback', 2000);
    await sleep(300);
    await f.stop();
    await pcm.close();
    return {
      device: 'hw:Loopback,0,0', expectedByteRate: BYTE_RATE, params: pcm.params ?? null,
      acceptedByteRate: timelineRate(f.timeline, 1000), sampleByteRate: o.sampleRate(first.tRecvMs + 300) * BPF,
      hwPtrByteRate: hw.framesPerSec * BPF, hwState: hw.stateA, xruns: sampleSum(o, 'xruns'), errors: sampleSum(o, 'errors'),
      starved: sampleSum(o, 'starved'), openMs: tOpened - tOpen,
      starvedAtMs: o.samples.filter((x) => x.starved > 0).map((x) => Math.round(nsToMs(x.tEndNs) - tOpened)),
      events: o.events.map((e) => ({ ...ev(e), afterOpenMs: Math.round(nsToMs(e.tDetectNs) - tOpened) })),
    };
  });

if (want('loopback-pattern'))
  await scenario('loopback-pattern', async () => {
    const frames = RATE; // 1 s
    const pat = pattern(frames);
    const cap = await openPcm({ device: 'hw:Loopback,1,0', direction: 'capture', ...roomy });
    const oc = observe(cap, { keepAudio: true });
    await oc.firstGood(0);
    const play = await openPcm({ device: 'hw:Loopback,0,0', direction: 'playback', ...roomy });
    const op = observe(play);
    // One write: the Writable holds it and the engine takes what fits at each
    // wake-up, so the pattern does not depend on a JS feeding loop keeping up.
    play.audio.write(Buffer.concat([pat, Buffer.alloc(RATE * BPF)]));
    await sleep(2000);
    await play.close();
    await sleep(200);
    await cap.close();
    const got = Buffer.concat(oc.chunks);
    const m = findPattern(got, pat);
    return {
      from: 'hw:Loopback,0,0 (engine playback)', to: 'hw:Loopback,1,0 (engine capture)', patternFrames: frames,
      capturedFrames: got.length / BPF, ...m, intact: m.offsetFrames >= 0 && m.mismatches === 0 && m.comparedFrames === frames,
      xruns: sampleSum(oc, 'xruns') + sampleSum(op, 'xruns'), consumerDropped: sampleSum(oc, 'consumerDropped'),
      starved: sampleSum(op, 'starved'), events: [...oc.events, ...op.events].map(ev),
    };
  });

/** SIGSTOP a child process that streams `device` through the engine for 1 s. */
async function sigstopChild(device, direction, card, dev) {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./engine-child.mjs', import.meta.url)),
    JSON.stringify({ device, direction, ...roomy })], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines = [];
  let buf = '';
  let stderr = '';
  child.stdout.on('data', (b) => {
    buf += b;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        lines.push({ ...JSON.parse(l), tRecvMs: now() });
      } catch {
        /* ignore */
      }
    }
  });
  child.stderr.on('data', (b) => (stderr += b));
  const exited = new Promise((r) => child.on('close', (code, signal) => r({ code, signal })));
  const t0 = now();
  while (!lines.some((l) => l.kind === 'sample' && l.frames > 0)) {
    if (now() - t0 > 10_000 || child.exitCode !== null) throw new Error(`child did not stream: ${stderr} ${JSON.stringify(lines)}`);
    await sleep(20);
  }
  await sleep(1000);
  const tStop = now();
  child.kill('SIGSTOP');
  await sleep(250);
  const during = pcmStatus(card, dev, direction);
  await sleep(1000 - (now() - tStop));
  const tCont = now();
  child.kill('SIGCONT');
  const stopMs = tCont - tStop;
  await sleep(1500);
  child.stdin.end();
  const ex = await Promise.race([exited, sleep(5000).then(() => ({ timeout: true }))]);
  if (ex.timeout) child.kill('SIGKILL');
  const events = lines.filter((l) => l.kind === 'event');
  const samples = lines.filter((l) => l.kind === 'sample');
  const xruns = events.filter((e) => e.type === 'xrun');
  // The stop's xrun is the long one; any other would be spurious.
  const x = [...xruns].sort((a, b) => (b.durationUs ?? 0) - (a.durationUs ?? 0))[0];
  return {
    device, direction, stopMs, bufferMs: (PERIOD * roomy.bufferPeriods * 1000) / RATE,
    xrunEvents: xruns.length, xrunMs: xruns.map((e) => (e.durationUs ?? NaN) / 1000),
    lostFrames: xruns.map((e) => e.lostFrames ?? null),
    // Detection relative to SIGCONT: the engine sees the xrun on its first wake-up after the stall.
    detectAfterContMs: x ? nsToMs(x.tDetectNs) - tCont : null,
    deliverAfterDetectMs: x ? nsToMs(x.tRecvNs) - nsToMs(x.tDetectNs) : null,
    sampleXruns: samples.reduce((n, s) => n + (s.xruns ?? 0), 0),
    sampleXrunMsMax: Math.max(0, ...samples.map((s) => (s.xrunUsMax ?? 0) / 1000)),
    recovered: events.filter((e) => e.type === 'recovered').map((e) => ({ durationUs: e.durationUs })),
    otherEvents: events.filter((e) => e.type !== 'xrun' && e.type !== 'recovered').map((e) => e.type),
    stateDuringStop: during.state, framesAfterCont: samples.filter((s) => s.tRecvMs > tCont + 200).reduce((n, s) => n + s.frames, 0),
    childExit: ex.code ?? ex, childStderr: stderr.trim(),
  };
}

if (want('sigstop-xrun')) await scenario('sigstop-xrun', () => sigstopChild('hw:Dummy', 'capture', 'Dummy', 0), 30_000);
if (want('sigstop-xrun-playback'))
  await scenario('sigstop-xrun-playback', () => sigstopChild('hw:Loopback,0,0', 'playback', 'Loopback', 0), 30_000);

if (want('unplug'))
  await scenario('unplug', async () => {
    const sysfs = sysfsWriter();
    await sysfs.ready;
    // Manual path: reopen() from JS (the engine's own hot-plug reopen is off here; see 'hotplug').
    const pcm = await openPcm({ device: 'hw:Dummy', direction: 'capture', ...base, autoReopen: false });
    const o = observe(pcm);
    await o.firstGood(0);
    await sleep(1000);
    const framesBefore = o.samples.reduce((n, s) => n + s.frames, 0);

    // 1. unbind while streaming: the engine must close at once, or the write blocks.
    const unbind = await sysfs.write(UNBIND, 'snd_dummy.0');
    await sleep(300);
    const disc = o.events.filter((e) => e.type === 'disconnect');
    const d0 = disc[0];
    const afterUnbind = {
      unbindMs: unbind.ms, unbindError: unbind.error, disconnectEvents: disc.length, disconnectErrno: d0?.errno ?? null,
      detectAfterUnbindStartMs: d0 ? nsToMs(d0.tDetectNs) - unbind.tStart : null,
      jsAfterUnbindStartMs: d0 ? d0.tRecvMs - unbind.tStart : null,
      lastSampleState: o.samples.at(-1)?.state ?? null, nodesUnbound: sndNodes().filter((n) => /C0/.test(n)),
      cardListed: /Dummy/.test(cards()),
    };

    // 2. reopen while unbound fails ENODEV.
    let reopenWhileUnbound;
    const nFailedBefore = o.count('reopenFailed');
    try {
      await pcm.reopen();
      reopenWhileUnbound = { ok: true };
    } catch (e) {
      reopenWhileUnbound = { ok: false, errno: errnoOf(e), message: String(e?.message ?? e) };
    }
    await sleep(50);
    const rf = o.events.filter((e) => e.type === 'reopenFailed').slice(nFailedBefore);
    reopenWhileUnbound.reopenFailedEvents = rf.length;
    reopenWhileUnbound.eventErrno = rf[0]?.errno ?? null;

    // 3. bind, then (no hot-plug-aware reopen in the engine yet) a reopen loop
    //    from JS; fs.watch on /dev/snd notes when the card's node reappears.
    let nodeAt = null;
    const w = watch('/dev/snd', (_t, name) => {
      if (nodeAt === null && name === 'pcmC0D0c') nodeAt = now();
    });
    // The kernel's view: when the reopened substream has moved its first period.
    const kfp = kernelFirstPeriod();
    const bind = await sysfs.write(BIND, 'snd_dummy.0');
    const tBind = bind.tStart;
    let attempts = 0;
    let reopenedAt = null;
    let lastErr = null;
    while (now() - tBind < 10_000) {
      attempts++;
      try {
        await pcm.reopen();
        reopenedAt = now();
        break;
      } catch (e) {
        lastErr = errnoOf(e) ?? String(e?.message ?? e);
        await sleep(5);
      }
    }
    let firstGoodAt = null;
    let firstSampleAt = null;
    if (reopenedAt !== null) {
      // First good period = first captured audio after the reopen (samples are batched per window).
      const [d, s] = await Promise.all([o.firstData(tBind, 5000), o.firstGood(tBind, 5000)]);
      firstGoodAt = d;
      firstSampleAt = s.tRecvMs;
    }
    const reopenedEv = o.events.filter((e) => e.type === 'reopened').at(-1);
    w.close();
    const kernelFirstPeriodAt = await kfp.result(1000);
    const tBack = now();
    await sleep(1200);
    const backByteRate = o.sampleRate(tBack) * BPF;
    const reopenedEvents = o.count('reopened');
    await pcm.close();
    await sysfs.close();
    return {
      device: 'hw:Dummy', framesBefore, ...afterUnbind, reopenWhileUnbound,
      bindMs: bind.ms, bindError: bind.error, nodeAppearedAfterBindMs: nodeAt !== null ? nodeAt - tBind : null,
      reopenAttempts: attempts, lastReopenError: lastErr, bindToReopenedMs: reopenedAt !== null ? reopenedAt - tBind : null,
      bindToReopenedEventDetectMs: reopenedEv ? nsToMs(reopenedEv.tDetectNs) - tBind : null,
      bindToFirstGoodMs: firstGoodAt !== null ? firstGoodAt - tBind : null,
      bindToKernelFirstPeriodMs: kernelFirstPeriodAt !== null ? kernelFirstPeriodAt - tBind : null,
      bindToFirstGoodSampleMs: firstSampleAt !== null ? firstSampleAt - tBind : null,
      nodeToFirstGoodMs: firstGoodAt !== null && nodeAt !== null ? firstGoodAt - nodeAt : null,
      reopenedEvents, backByteRate, events: o.events.map(ev),
    };
  }, 40_000);

if (want('unplug-playback'))
  // The board's USB gadget output going away: unbind the Loopback card while
  // the engine plays to it.
  await scenario('unplug-playback', async () => {
    const UNBIND_ALOOP = '/sys/bus/platform/drivers/snd_aloop/unbind';
    const BIND_ALOOP = '/sys/bus/platform/drivers/snd_aloop/bind';
    const sysfs = sysfsWriter();
    await sysfs.ready;
    const pcm = await openPcm({ device: 'hw:Loopback,0,0', direction: 'playback', ...base, autoReopen: false });
    const o = observe(pcm);
    const f = feeder(pcm, null);
    await o.firstGood(0);
    await sleep(800);
    const unbind = await sysfs.write(UNBIND_ALOOP, 'snd_aloop.0');
    await sleep(300);
    const disc = o.events.filter((e) => e.type === 'disconnect');
    const cardListed = /Loopback/.test(cards());
    let reopenWhileUnbound;
    try {
      await pcm.reopen();
      reopenWhileUnbound = { ok: true };
    } catch (e) {
      reopenWhileUnbound = { ok: false, errno: errnoOf(e) };
    }
    const bind = await sysfs.write(BIND_ALOOP, 'snd_aloop.0');
    let reopenedAt = null;
    let attempts = 0;
    while (now() - bind.tStart < 10_000) {
      attempts++;
      try {
        await pcm.reopen();
        reopenedAt = now();
        break;
      } catch {
        await sleep(5);
      }
    }
    let backAt = null;
    if (reopenedAt !== null) backAt = (await o.firstGood(reopenedAt, 5000)).tRecvMs;
    await sleep(1000);
    const backByteRate = backAt !== null ? o.sampleRate(backAt) * BPF : null;
    await f.stop();
    await pcm.close();
    await sysfs.close();
    return {
      device: 'hw:Loopback,0,0', unbindMs: unbind.ms, unbindError: unbind.error, disconnectEvents: disc.length,
      disconnectErrno: disc[0]?.errno ?? null, detectAfterUnbindStartMs: disc[0] ? nsToMs(disc[0].tDetectNs) - unbind.tStart : null,
      cardListed, reopenWhileUnbound, bindError: bind.error, reopenAttempts: attempts,
      bindToReopenedMs: reopenedAt !== null ? reopenedAt - bind.tStart : null, backByteRate, cardsAfter: cards(),
      events: o.events.map(ev),
    };
  }, 30_000);

/**
 * Hot-plug-aware reopen: unbind, then bind, and wait for the engine to reopen
 * by itself (autoReopen, inotify on /dev/snd) without JS calling reopen().
 * Measures node reappears -> the kernel's first period (procfs) and -> JS.
 */
async function hotplug({ device, direction, driver, platformDev, card, node }) {
  const sysfs = sysfsWriter();
  await sysfs.ready;
  const pcm = await openPcm({ device, direction, ...base, autoReopen: true });
  const o = observe(pcm);
  const f = direction === 'playback' ? feeder(pcm, null) : null;
  await o.firstGood(0);
  await sleep(500);
  const unbind = await sysfs.write(`/sys/bus/platform/drivers/${driver}/unbind`, platformDev);
  await sleep(300);
  // JS's view of the node coming back (fs.watch: late by whatever the event loop
  // was doing; informative only). devtmpfs creates a card's nodes before the
  // bind write returns, so bind start -> first period bounds node -> first period.
  let nodeAt = null;
  const w = watch('/dev/snd', (_t, name) => {
    if (nodeAt === null && name === node) nodeAt = now();
  });
  const nReopened = o.count('reopened');
  const kfp = kernelFirstPeriod(card, 0, direction);
  const bind = await sysfs.write(`/sys/bus/platform/drivers/${driver}/bind`, platformDev);
  const tBind = bind.tStart;
  let firstGoodAt = null;
  try {
    // Capture: first audio chunk in JS; playback: first sample window that moved frames.
    firstGoodAt = direction === 'capture' ? await o.firstData(tBind, 2000) : (await o.firstGood(tBind, 2000)).tRecvMs;
  } catch {
    /* no reopen by the engine */
  }
  const kernelFirstPeriodAt = await kfp.result(firstGoodAt !== null ? 1000 : 0);
  w.close();
  const reopened = o.events.filter((e) => e.type === 'reopened').slice(nReopened);
  await sleep(500);
  const backByteRate = firstGoodAt !== null ? o.sampleRate(firstGoodAt + 100) * BPF : null;
  if (f) await f.stop();
  await pcm.close();
  await sysfs.close();
  const since = (t) => (t !== null && nodeAt !== null ? t - nodeAt : null);
  return {
    device, direction, unbindMs: unbind.ms, bindError: bind.error,
    selfReopened: reopened.length > 0 && firstGoodAt !== null, reopenedEvents: reopened.length,
    disconnectEvents: o.count('disconnect'), nodeAppearedAfterBindMs: nodeAt !== null ? nodeAt - tBind : null,
    bindMs: bind.ms, reopenedAfterBindMs: reopened[0] ? nsToMs(reopened[0].tDetectNs) - tBind : null,
    // node -> first period lies between these two (the node appears during the bind write):
    bindToKernelFirstPeriodMs: kernelFirstPeriodAt !== null ? kernelFirstPeriodAt - tBind : null,
    bindEndToKernelFirstPeriodMs: kernelFirstPeriodAt !== null ? kernelFirstPeriodAt - bind.tEnd : null,
    jsNodeToKernelFirstPeriodMs: since(kernelFirstPeriodAt), jsNodeToFirstGoodJsMs: since(firstGoodAt),
    bindToFirstGoodJsMs: firstGoodAt !== null ? firstGoodAt - tBind : null, backByteRate,
    events: o.events.map(ev),
  };
}

if (want('hotplug'))
  await scenario('hotplug', () => hotplug({ device: 'hw:Dummy', direction: 'capture', driver: 'snd_dummy',
    platformDev: 'snd_dummy.0', card: 'Dummy', node: 'pcmC0D0c' }), 20_000);
if (want('hotplug-playback'))
  await scenario('hotplug-playback', () => hotplug({ device: 'hw:Loopback,0,0', direction: 'playback', driver: 'snd_aloop',
    platformDev: 'snd_aloop.0', card: 'Loopback', node: 'pcmC1D0p' }), 20_000);

emit({ scenario: 'done', ok: true });
// The addon's threads must not keep the VM up if a close was missed.
setTimeout(() => process.exit(0), 200).unref();
