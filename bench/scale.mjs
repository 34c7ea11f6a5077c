// Benchmark 5: 1, 8, 32, 64 mock capture devices at 5 ms periods in one
// process (a child per count, for a clean RSS): CPU, max wake-up lateness,
// missed periods (must be 0), RSS against a bare idle node. Twice: watcher
// threads at normal priority, and with rtPriority (SCHED_FIFO 10), as the
// board would run them; a refused rtPriority is reported, not fatal.
import { spawn } from 'node:child_process';
import path from 'node:path';

import { BENCH_DIR, log, main, QUICK, rssKbOf, sleep } from './lib/common.mjs';

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
  await sleep(QUICK ? 300 : 1000);
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
  return { name: 'scale', periodMs: 5, measureS: MEASURE_MS / 1000, bareNodeRssKb, rows };
});
