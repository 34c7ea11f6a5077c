// Board budget: the daemon with the board's two devices (capture and
// playback, 48 kHz S16_LE 2 ch, 960-frame periods; mock cards) — RSS, JS heap
// and CPU after start and over a run, on the host's Node and on the armv7l
// Node under qemu-arm; a bare idle `node` of each kind as the baseline.
// Not a test (figures, no pass/fail): scripts/budget-arm.sh runs it.
//   node test/arm/budget.mjs [--seconds 600] [--every 60] [--only host|arm]
// Env (from scripts/budget-arm.sh): AH_ARM_NODE, QEMU_LD_PREFIX.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const SECONDS = Number(arg('seconds', 600));
const EVERY = Number(arg('every', 60));
const ONLY = arg('only', '');
const TICK = 100; // USER_HZ
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const kinds = [
  { name: 'host', cmd: [process.execPath], env: {} },
  { name: 'arm (qemu)', cmd: ['qemu-arm-static', process.env.AH_ARM_NODE], env: { PREBUILDS_ONLY: '1' } },
].filter((k) => !ONLY || k.name.startsWith(ONLY));

function procFigures(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { rssKb, cpuS: (Number(f[11]) + Number(f[12])) / TICK };
}

async function scrape(port) {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  const get = (name) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
    return m ? Number(m[1]) : NaN;
  };
  return {
    heapUsedKb: get('nodejs_heap_size_used_bytes') / 1024,
    heapTotalKb: get('nodejs_heap_size_total_bytes') / 1024,
    externalKb: get('nodejs_external_memory_bytes') / 1024,
  };
}

async function waitHttp(port, ms) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health`);
      if (r.ok) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > end) throw new Error(`no /health on ${port} after ${ms} ms`);
    await sleep(250);
  }
}

async function baseline(kind) {
  const child = spawn(kind.cmd[0], [...kind.cmd.slice(1), '-e', 'setInterval(() => {}, 1000)'], { env: { ...process.env, ...kind.env }, stdio: 'ignore' });
  await sleep(5000);
  const f = procFigures(child.pid);
  child.kill('SIGTERM');
  return f;
}

async function daemon(kind, dir, port) {
  const config = path.join(dir, `config-${port}.json`);
  const dev = { rate: 48000, channels: 2, format: 'S16_LE', periodFrames: 960 };
  writeFileSync(
    config,
    JSON.stringify({
      logLevel: 'warn',
      http: { listen: `127.0.0.1:${port}` },
      devices: [
        { name: 'hdmi-in', pcm: 'mock:hdmi-in', direction: 'capture', ...dev, bufferPeriods: 4, audio: 'discard' },
        { name: 'usb-out', pcm: 'mock:usb-out', direction: 'playback', ...dev, bufferPeriods: 6, audio: 'silence' },
      ],
    }),
  );
  const t0 = Date.now();
  const child = spawn(kind.cmd[0], [...kind.cmd.slice(1), path.join(ROOT, 'dist/daemon/cli.js'), 'run', '--config', config], {
    cwd: ROOT,
    env: { ...process.env, ...kind.env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitHttp(port, 60_000);
  const startMs = Date.now() - t0;
  await sleep(2000);
  const points = [];
  const read = async () => ({ tS: (Date.now() - t0) / 1000, ...procFigures(child.pid), ...(await scrape(port)) });
  const first = await read();
  points.push(first);
  while (points.at(-1).tS - first.tS < SECONDS - 0.5) {
    await sleep(Math.min(EVERY, SECONDS - (points.at(-1).tS - first.tS)) * 1000);
    points.push(await read());
  }
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  const last = points.at(-1);
  const wallS = last.tS - first.tS;
  const cpuS = last.cpuS - first.cpuS;
  return { startMs, first, last, points, wallS, cpuS, cpuPerAudioSecondMs: (cpuS / (2 * wallS)) * 1000, cpuPct: (cpuS / wallS) * 100 };
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'ah-budget-'));
const out = {};
let port = 19000 + (process.pid % 500) * 2;
await Promise.all(
  kinds.map(async (kind) => {
    const base = await baseline(kind);
    const d = await daemon(kind, dir, port++);
    out[kind.name] = { baseline: base, ...d };
  }),
);
for (const [name, r] of Object.entries(out)) {
  const mb = (kb) => (kb / 1024).toFixed(1);
  console.log(
    `${name}: idle node RSS ${mb(r.baseline.rssKb)} MB | daemon up in ${r.startMs} ms; ` +
      `RSS ${mb(r.first.rssKb)} -> ${mb(r.last.rssKb)} MB (${(r.last.rssKb / r.baseline.rssKb).toFixed(2)}x idle node), ` +
      `heap used ${mb(r.first.heapUsedKb)} -> ${mb(r.last.heapUsedKb)} MB (total ${mb(r.last.heapTotalKb)}, external ${mb(r.last.externalKb)}) over ${r.wallS.toFixed(0)} s; ` +
      `CPU ${r.cpuPct.toFixed(2)} % of one core = ${r.cpuPerAudioSecondMs.toFixed(2)} ms per audio second (2 devices)`,
  );
  console.log(`  points: ${r.points.map((p) => `${p.tS.toFixed(0)}s rss=${mb(p.rssKb)} heap=${mb(p.heapUsedKb)} cpu=${p.cpuS.toFixed(2)}`).join('; ')}`);
}
writeFileSync(path.join(dir, 'budget.json'), JSON.stringify(out, null, 2));
console.log(`raw: ${path.join(dir, 'budget.json')}`);
