// Benchmark 5: 1, 8, 32, 64 mock capture devices at 5 ms periods in one
// process (a child per count, for a clean RSS): CPU, max wake-up lateness,
// missed periods (must be 0), RSS against a bare idle node. Twice: watcher
// threads at normal priority, and with rtPriority (SCHED_FIFO 10), as the
// board would run them; a refused rtPriority is reported, not fatal.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { BENCH_DIR, cpuSecondsOf, log, main, QUICK, ROOT, rssKbOf, sleep } from './lib/common.mjs';

/**
 * The daemon (dist/daemon/cli.js run) with the board's two devices (mock
 * HDMI capture, mock gadget playback, 20 ms), HTTP /metrics on: its RSS and
 * CPU, for DESIGN.md's "RSS <= 1.25 x a bare idle node".
 */
async function daemonRow(bareNodeRssKb) {
  const cfg = path.join(os.tmpdir(), `alsa-health-bench-daemon-${process.pid}.json`);
  writeFileSync(
    cfg,
    JSON.stringify({
      logLevel: 'warn',
      http: { listen: '127.0.0.1:0' },
      devices: [
        { name: 'hdmi-in', pcm: 'mock:bench-hdmi', direction: 'capture', periodFrames: 960 },
        { name: 'gadget-out', pcm: 'mock:bench-gadget', direction: 'playback', periodFrames: 960 },
      ],
    }),
  );
  const c = spawn(process.execPath, [path.join(ROOT, 'dist', 'daemon', 'cli.js'), 'run', '--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  c.stderr.on('data', (d) => (err += d));
  const done = new Promise((r) => c.on('close', (code) => r(code)));
  await sleep(WARM_MS + 1000);
  if (c.exitCode !== null) throw new Error(`daemon exited ${c.exitCode}: ${err.trim().slice(-500)}`);
  const c0 = cpuSecondsOf(c.pid);
  const t0 = performance.now();
  await sleep(MEASURE_MS);
  const cpuS = cpuSecondsOf(c.pid) - c0;
  const wallS = (performance.now() - t0) / 1000;
  const rssKb = rssKbOf(c.pid);
  c.kill('SIGTERM');
  await done;
  return { devices: 2, periodMs: 20, cpuPct: (100 * cpuS) / wallS, cpuPerAudioS: cpuS / wallS / 2, rssKb, rssVsBareNode: rssKb / bareNodeRssKb, targetMet: rssKb <= 1.25 * bareNodeRssKb };
}

const COUNTS = [1, 8, 32, 64];
const WARM_MS = QUICK ? 200 : 1000;
const MEASURE_MS = QUICK ? 400 : 5000;
const RT = [0, 10];

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop())) : reject(new Error(`exit ${code}: ${err.trim()}`))));
  });
}

main(async () => {
  // a bare idle node's RSS, for the "<= 1.25 x bare node" target
  const idle = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
  await sleep(1000); // its RSS grows for the first ~0.5 s
  const bareNodeRssKb = rssKbOf(idle.pid);
  idle.kill();
  const rows = [];
  for (const rt of RT) for (const n of COUNTS) {
    log(`${n} devices, ${MEASURE_MS / 1000} s, rtPriority ${rt}`);
    const r = await run(process.execPath, [path.join(BENCH_DIR, 'children', 'scale.mjs'), String(n), String(WARM_MS), String(MEASURE_MS), String(rt)]);
    r.rssVsBareNode = r.rssKb / bareNodeRssKb;
    r.targetMet = r.missed === 0 && r.xruns === 0;
    rows.push(r);
  }
  log('the daemon with the board\'s two devices');
  let daemon;
  try {
    daemon = await daemonRow(bareNodeRssKb);
  } catch (e) {
    daemon = { error: e.message };
  }
  // a part that could not run: the runner exits non-zero, the rest is kept
  const failures = daemon.error ? [`daemon: ${daemon.error}`] : [];
  return { name: 'scale', periodMs: 5, measureS: MEASURE_MS / 1000, bareNodeRssKb, rows, daemon, failures };
});
