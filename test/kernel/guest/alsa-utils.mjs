// Guest side: prove the VM's kernel ALSA with alsa-utils (arecord / aplay of
// the host, seen through the chroot). One JSON line per scenario on stdout.
//   node test/kernel/guest/alsa-utils.mjs [scenario ...]
import {
  cards, emit, findPattern, hwPtrRate, now, pattern, pcmStatus, scenario, sleep, sndNodes, timelineRate, track,
  sysfsWriter,
} from './lib.mjs';

const RATE = 48000;
const CH = 2;
const BPF = 4; // S16_LE stereo
const BYTE_RATE = RATE * CH * 2;
const PERIOD = 480; // 10 ms
const BUFFER = 1920; // 40 ms
const fmt = ['-f', 'S16_LE', '-r', String(RATE), '-c', String(CH), '-t', 'raw', `--period-size=${PERIOD}`, `--buffer-size=${BUFFER}`];
// Rate and integrity scenarios: 100 ms buffer, so a TCG vCPU the host deschedules
// for a moment (other jobs on a small CI box) does not overrun.
const roomy = fmt.map((a) => (a === `--buffer-size=${BUFFER}` ? `--buffer-size=${PERIOD * 10}` : a));
const UNBIND = '/sys/bus/platform/drivers/snd_dummy/unbind';
const BIND = '/sys/bus/platform/drivers/snd_dummy/bind';

const only = new Set(process.argv.slice(2));
const want = (n) => only.size === 0 || only.has(n);

emit({ scenario: 'env', ok: true, node: process.version, cards: cards(), dev: sndNodes() });

if (want('dummy-capture-rate'))
  await scenario('dummy-capture-rate', async () => {
    const secs = 3;
    const a = track('arecord', ['-D', 'hw:Dummy', ...roomy, '-d', String(secs)]);
    while (a.firstDataAt === null && now() - a.startedAt < 5000) await sleep(20);
    await sleep(300);
    const hw = await hwPtrRate('Dummy', 0, 'capture', 1500);
    const ex = await a.exited;
    return {
      device: 'hw:Dummy', expectedByteRate: BYTE_RATE, bytes: ex.code === 0 ? a.total : a.total,
      expectedBytes: secs * BYTE_RATE, byteRate: timelineRate(a.timeline, 300), hwPtrByteRate: hw.framesPerSec * BPF,
      hwState: hw.stateA, exit: ex.code, stderr: ex.stderr.trim(),
    };
  });

if (want('loopback-playback-rate'))
  await scenario('loopback-playback-rate', async () => {
    const secs = 3;
    const data = pattern(secs * RATE);
    const p = track('aplay', ['-D', 'hw:Loopback,0,0', ...roomy]);
    // Feed in 100 ms chunks, honouring the pipe's back-pressure; the write
    // timeline is the rate aplay consumes at.
    const timeline = [];
    let written = 0;
    const t0 = now();
    const feeder = (async () => {
      for (let off = 0; off < data.length; off += BYTE_RATE / 10) {
        const chunk = data.subarray(off, off + BYTE_RATE / 10);
        if (!p.child.stdin.write(chunk)) await new Promise((r) => p.child.stdin.once('drain', r));
        written += chunk.length;
        timeline.push([now(), written]);
      }
      p.child.stdin.end();
    })();
    await sleep(800);
    const hw = await hwPtrRate('Loopback', 0, 'playback', 1500);
    await feeder;
    const ex = await p.exited;
    return {
      device: 'hw:Loopback,0,0', expectedByteRate: BYTE_RATE, bytes: written, wallMs: ex.at - t0,
      byteRate: timelineRate(timeline, 500), hwPtrByteRate: hw.framesPerSec * BPF, hwState: hw.stateA,
      exit: ex.code, stderr: ex.stderr.trim(),
    };
  });

if (want('loopback-pattern'))
  await scenario('loopback-pattern', async () => {
    const frames = 2 * RATE;
    const pat = pattern(frames);
    const cap = track('arecord', ['-D', 'hw:Loopback,1,0', ...roomy, '-d', '4'], { keep: true });
    while (cap.firstDataAt === null && now() - cap.startedAt < 5000) await sleep(20);
    await sleep(200);
    const play = track('aplay', ['-D', 'hw:Loopback,0,0', ...roomy]);
    play.child.stdin.end(pat);
    const pex = await play.exited;
    const cex = await cap.exited;
    const got = Buffer.concat(cap.chunks);
    const m = findPattern(got, pat);
    return {
      from: 'hw:Loopback,0,0', to: 'hw:Loopback,1,0', patternFrames: frames, capturedFrames: got.length / BPF,
      ...m, intact: m.offsetFrames >= 0 && m.mismatches === 0 && m.comparedFrames === frames,
      playExit: pex.code, capExit: cex.code, stderr: (pex.stderr + cex.stderr).trim(),
    };
  });

if (want('sigstop-xrun'))
  await scenario('sigstop-xrun', async () => {
    const a = track('arecord', ['-D', 'hw:Dummy', ...roomy]);
    while (a.firstDataAt === null && now() - a.startedAt < 5000) await sleep(20);
    await sleep(1000);
    const tStop = now();
    a.child.kill('SIGSTOP');
    await sleep(250);
    const during = pcmStatus('Dummy', 0, 'capture');
    await sleep(1000 - (now() - tStop));
    a.child.kill('SIGCONT');
    const stopMs = now() - tStop;
    await sleep(1500);
    const after = pcmStatus('Dummy', 0, 'capture');
    a.child.kill('SIGINT');
    const ex = await a.exited;
    const xruns = [...ex.stderr.matchAll(/(overrun|underrun)!!! \(at least ([\d.]+) ms long\)/g)].map((m) => Number(m[2]));
    return {
      device: 'hw:Dummy', stopMs, bufferMs: ((PERIOD * 10) / RATE) * 1000, xruns, xrunCount: xruns.length,
      stateDuringStop: during.state, availDuringStop: during.avail, stateAfter: after.state, stderr: ex.stderr.trim(),
    };
  });

if (want('unplug'))
  await scenario('unplug', async () => {
    const sysfs = sysfsWriter();
    await sysfs.ready;
    const nodesBefore = sndNodes().filter((n) => /C0/.test(n));
    const a = track('arecord', ['-D', 'hw:Dummy', ...fmt]);
    while (a.firstDataAt === null && now() - a.startedAt < 5000) await sleep(20);
    await sleep(1000);
    const bytesAtUnbind = a.total;
    const unbind = await sysfs.write(UNBIND, 'snd_dummy.0');
    const tUnbind = unbind.tStart;
    const ex = await a.exited;
    const nodesUnbound = sndNodes().filter((n) => /C0/.test(n));
    const cardsUnbound = cards();
    // Opening while unbound must fail.
    const o = track('arecord', ['-D', 'hw:Dummy', ...fmt, '-d', '1']);
    const oex = await o.exited;
    // Bind, then retry opening until the first period of audio arrives.
    const bind = await sysfs.write(BIND, 'snd_dummy.0');
    const tBind = bind.tStart;
    let attempts = 0;
    let firstDataMs = null;
    let back = null;
    while (now() - tBind < 10_000) {
      attempts++;
      const r = track('arecord', ['-D', 'hw:Dummy', ...fmt, '-d', '1']);
      while (r.firstDataAt === null && r.child.exitCode === null) await sleep(2);
      if (r.firstDataAt !== null) {
        firstDataMs = r.firstDataAt - tBind;
        const rex = await r.exited;
        back = { exit: rex.code, bytes: r.total, byteRate: timelineRate(r.timeline, 200) };
        break;
      }
      await r.exited;
      await sleep(5);
    }
    await sysfs.close();
    return {
      device: 'hw:Dummy', nodesBefore, nodesUnbound, nodesAfter: sndNodes().filter((n) => /C0/.test(n)),
      baselineSpawnToFirstDataMs: a.firstDataAt - a.startedAt, unbindMs: unbind.ms, unbindError: unbind.error, streamedBytesBeforeUnbind: bytesAtUnbind,
      clientExit: ex.code, clientExitAfterUnbindMs: ex.at - tUnbind, clientStderr: ex.stderr.trim(),
      dummyListedWhileUnbound: /Dummy/.test(cardsUnbound), openWhileUnbound: { exit: oex.code, stderr: oex.stderr.trim() },
      bindMs: bind.ms, bindError: bind.error, bindToFirstDataMs: firstDataMs, openAttempts: attempts, back,
    };
  }, 30_000);

if (want('unbind-held'))
  // Control for the engine test: a client that keeps the PCM open (here,
  // SIGSTOPped) holds the kernel's unbind until it closes.
  await scenario('unbind-held', async () => {
    const sysfs = sysfsWriter();
    await sysfs.ready;
    const a = track('arecord', ['-D', 'hw:Dummy', ...fmt]);
    while (a.firstDataAt === null && now() - a.startedAt < 5000) await sleep(20);
    await sleep(300);
    a.child.kill('SIGSTOP');
    const unbindP = sysfs.write(UNBIND, 'snd_dummy.0');
    let unbound = false;
    unbindP.then(() => (unbound = true));
    await sleep(1000);
    const pendingWhileHeld = !unbound;
    const tCont = now();
    a.child.kill('SIGCONT');
    const unbind = await unbindP;
    const ex = await a.exited;
    const bind = await sysfs.write(BIND, 'snd_dummy.0');
    await sysfs.close();
    return {
      device: 'hw:Dummy', heldMs: tCont - unbind.tStart, unbindMs: unbind.ms, pendingWhileHeld,
      unbindDoneAfterContMs: unbind.tEnd - tCont, clientExit: ex.code, clientStderr: ex.stderr.trim(),
      bindError: bind.error, cardsAfter: cards(),
    };
  });

emit({ scenario: 'done', ok: true });
