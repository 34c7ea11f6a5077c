// Benchmark 3: CPU seconds per second of audio (48 kHz, 2 ch, S16_LE) at 5
// and 20 ms periods, capture and playback, on the healthtest plugin (a clocked
// fake card) and on alsa-lib's `null` PCM (unclocked: everyone moves audio as
// fast as they can, so this is the cost per audio second at full speed).
// Side by side in the same run: arecord / aplay on the same device and
// period, the npm package `speaker` (playback; installed into bench/.peers at
// bench time, never a dependency), and a bare idle `node` for Node's own cost.
// Every process is measured on its own (its threads, not its children).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { BENCH_DIR, cpuSecondsOf, log, main, QUICK, RATE, rssKbOf, sleep } from './lib/common.mjs';
import { pluginSetup } from './lib/plugin.mjs';

const PERIODS_MS = QUICK ? [20] : [5, 20]; // quick: one period size, to stay within seconds
const WARM_MS = QUICK ? 250 : 1500;
const MEASURE_MS = QUICK ? 400 : 8000; // clocked runs; see the README for why not 20 s
const NULL_MEASURE_MS = QUICK ? 150 : 1500;
const NULL_SECONDS = QUICK ? 300 : 15000; // audio seconds for arecord/aplay -d on null (~1-2 s of work)
const PEERS = path.join(BENCH_DIR, '.peers');
const SPEAKER_VERSION = '0.5.5';
const SPEAKER_PERIOD_MS = 125; // mpg123's ALSA output: buffer 0.5 s, period buffer / 4

/** Makes `speaker` available in bench/.peers; returns null or why it is missing. */
function ensureSpeaker() {
  const binding = path.join(PEERS, 'node_modules', 'speaker', 'build', 'Release', 'binding.node');
  if (existsSync(binding)) return null;
  if (QUICK) return 'not installed (quick mode does not install; run the full bench once)';
  mkdirSync(PEERS, { recursive: true });
  const pj = path.join(PEERS, 'package.json');
  if (!existsSync(pj)) writeFileSync(pj, JSON.stringify({ name: 'alsa-health-bench-peers', private: true }) + '\n');
  log(`installing speaker@${SPEAKER_VERSION} into ${PEERS}`);
  const r = spawnSync('npm', ['install', '--prefix', PEERS, `speaker@${SPEAKER_VERSION}`, '--no-save', '--no-audit', '--no-fund'], {
    encoding: 'utf8',
    timeout: 180_000,
  });
  if (r.status !== 0) return `npm install failed: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' | ')}`;
  if (!existsSync(binding)) {
    // npm 11 may skip install scripts until approved: build it ourselves
    const g = spawnSync(process.execPath, [path.join(BENCH_DIR, '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'), 'rebuild'], {
      cwd: path.join(PEERS, 'node_modules', 'speaker'),
      encoding: 'utf8',
      timeout: 300_000,
    });
    if (!existsSync(binding)) return `installed but its addon did not build: ${(g.stderr || '').trim().split('\n').slice(-2).join(' | ')}`;
  }
  return null;
}

function spawnProc(cmd, args, env) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const done = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, out, err })));
  return { child, done };
}

const alsaArgs = (periodMs) => ['-q', '-f', 'S16_LE', '-r', String(RATE), '-c', '2', `--period-time=${periodMs * 1000}`, `--buffer-time=${periodMs * 4000}`, '-t', 'raw'];
const peerName = (dir) => (dir === 'capture' ? 'arecord' : 'aplay');
const peerArgs = (dir, device, periodMs, extra = []) =>
  dir === 'capture'
    ? [...alsaArgs(periodMs), '-D', device, ...extra, '/dev/null']
    : [...alsaArgs(periodMs), '-D', device, ...extra, '/dev/zero'];

/** An external process measured from outside over [warm, warm + measure]; audio = wall (clocked device). */
async function measureExternal(proc, audioIsWall = true) {
  await sleep(WARM_MS);
  const pid = proc.child.pid;
  const c0 = cpuSecondsOf(pid);
  const t0 = performance.now();
  await sleep(MEASURE_MS);
  const cpuS = cpuSecondsOf(pid) - c0;
  const wallS = (performance.now() - t0) / 1000;
  const rssKb = rssKbOf(pid);
  const early = proc.child.exitCode !== null || proc.child.signalCode !== null;
  proc.child.kill('SIGTERM'); // arecord/aplay then exit 1 ("Interrupted system call"): expected
  const r = await proc.done;
  if (early) throw new Error(`exited (${r.code ?? r.signal}) before the measurement ended: ${r.err.trim()}`);
  return { cpuS, wallS, audioS: audioIsWall ? wallS : NaN, rssKb };
}

async function childJson(proc, what) {
  const r = await proc.done;
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.err.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(r.out.trim().split('\n').pop());
}

/** A peer that finishes by itself (-d on null): CPU read until it exits. */
async function measureUntilExit(proc) {
  const pid = proc.child.pid;
  let cpuS = 0;
  let rssKb = NaN;
  const t0 = performance.now();
  while (proc.child.exitCode === null && proc.child.signalCode === null) {
    try {
      cpuS = cpuSecondsOf(pid);
      rssKb = rssKbOf(pid);
    } catch {
      break;
    }
    await sleep(5);
  }
  const r = await proc.done;
  if (r.code !== 0) throw new Error(`exited ${r.code}: ${r.err.trim()}`);
  return { cpuS, wallS: (performance.now() - t0) / 1000, audioS: NaN, rssKb };
}

const perAudio = (m) => (m && m.audioS > 0 ? m.cpuS / m.audioS : NaN);
const wrap = async (p) => {
  try {
    return await p;
  } catch (e) {
    return { error: e.message };
  }
};

main(async () => {
  const speakerMissing = ensureSpeaker();
  if (speakerMissing) log(`speaker: ${speakerMissing}`);
  const base = pluginSetup();
  const rows = [];
  // a bare idle node for the whole run: Node's own cost per wall second
  const idleNode = spawnProc(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)']);
  await sleep(WARM_MS);
  const idle0 = { cpuS: cpuSecondsOf(idleNode.child.pid), t: performance.now() };
  for (const device of ['healthtest', 'null']) {
    const clocked = device !== 'null';
    const env = pluginSetup(device).env; // "default" -> the device, for speaker
    // + playback at speaker's own period (125 ms, 500 ms buffer): like for like
    const periods = clocked && !QUICK ? [...PERIODS_MS, SPEAKER_PERIOD_MS] : PERIODS_MS;
    for (const periodMs of periods) {
      for (const dir of periodMs === SPEAKER_PERIOD_MS ? ['playback'] : ['capture', 'playback']) {
        const periodFrames = (RATE / 1000) * periodMs;
        const ahArgs = (ms) => [path.join(BENCH_DIR, 'children', 'pcm.mjs'), device, dir, String(periodFrames), String(WARM_MS), String(ms)];
        const spArgs = (ms) => [path.join(BENCH_DIR, 'children', 'speaker.mjs'), device, String(WARM_MS), String(ms)];
        const row = { device, periodMs, direction: dir, peer: peerName(dir) };
        log(`${device} ${periodMs} ms ${dir}`);
        if (clocked) {
          // everything at once: same load, same window
          const ah = spawnProc(process.execPath, ahArgs(MEASURE_MS), base.env);
          const peer = spawnProc(peerName(dir), peerArgs(dir, device, periodMs), base.env);
          const sp = dir === 'playback' && !speakerMissing ? spawnProc(process.execPath, spArgs(MEASURE_MS), env) : null;
          const [a, p, s] = await Promise.all([
            wrap(childJson(ah, 'alsa-health')),
            wrap(measureExternal(peer)),
            sp ? wrap(childJson(sp, 'speaker')) : null,
          ]);
          Object.assign(row, { alsaHealth: a, peerM: p, speaker: s });
        } else {
          // unclocked: one at a time, or they fight for the two cores
          row.alsaHealth = await wrap(childJson(spawnProc(process.execPath, ahArgs(NULL_MEASURE_MS), base.env), 'alsa-health'));
          const peer = spawnProc(peerName(dir), peerArgs(dir, device, periodMs, ['-d', String(NULL_SECONDS)]), base.env);
          row.peerM = await wrap(measureUntilExit(peer));
          if (!row.peerM.error) row.peerM.audioS = NULL_SECONDS;
          row.speaker =
            dir === 'playback' && !speakerMissing
              ? await wrap(childJson(spawnProc(process.execPath, spArgs(NULL_MEASURE_MS), env), 'speaker'))
              : null;
        }
        if (dir === 'playback' && speakerMissing) row.speaker = { missing: speakerMissing };
        rows.push(row);
      }
    }
  }
  const idleCpuPerS = (cpuSecondsOf(idleNode.child.pid) - idle0.cpuS) / ((performance.now() - idle0.t) / 1000);
  const idleRssKb = rssKbOf(idleNode.child.pid);
  idleNode.child.kill('SIGTERM');
  await idleNode.done;
  for (const r of rows) {
    r.alsaHealthCpuPerAudioS = perAudio(r.alsaHealth);
    r.peerCpuPerAudioS = perAudio(r.peerM);
    r.speakerCpuPerAudioS = r.speaker && !r.speaker.missing ? perAudio(r.speaker) : null;
    r.ratio = r.alsaHealthCpuPerAudioS / r.peerCpuPerAudioS;
    // net of a bare node's idle cost over the same wall time
    const net = r.alsaHealth && !r.alsaHealth.error ? (r.alsaHealth.cpuS - idleCpuPerS * r.alsaHealth.wallS) / r.alsaHealth.audioS : NaN;
    r.alsaHealthNetCpuPerAudioS = net;
    r.netRatio = net / r.peerCpuPerAudioS;
    r.ratioToSpeaker = r.speakerCpuPerAudioS ? r.alsaHealthCpuPerAudioS / r.speakerCpuPerAudioS : null;
    r.targetMet = r.ratio <= 1.3 && (r.speakerCpuPerAudioS == null || r.alsaHealthCpuPerAudioS < r.speakerCpuPerAudioS);
  }
  const failed = rows.filter((r) => r.alsaHealth?.error || r.peerM?.error || r.speaker?.error);
  if (failed.length) throw new Error(`runs failed: ${JSON.stringify(failed.map((r) => [r.device, r.periodMs, r.direction, r.alsaHealth?.error, r.peerM?.error, r.speaker?.error]))}`);
  return { name: 'cpu', measureS: MEASURE_MS / 1000, nullMeasureS: NULL_MEASURE_MS / 1000, idleNode: { cpuPerS: idleCpuPerS, rssKb: idleRssKb }, speaker: speakerMissing ? { missing: speakerMissing } : { version: SPEAKER_VERSION, note: 'period fixed by the package (mpg123 out123: 500 ms buffer, 125 ms period)' }, rows };
});
