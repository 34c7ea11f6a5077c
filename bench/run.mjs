#!/usr/bin/env node
// npm run bench [-- --quick] [-- --only detect,cpu]
// Runs each benchmark (bench/<name>.mjs) in a child process of its own, one
// after another (quick: all at once), prints the table and writes
// bench/results.json (quick: bench/results.quick.json, not committed).
// Exits non-zero when a benchmark failed to run (never for being slow).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { BENCH_DIR, cpuModel, loadAvg, QUICK, ROOT } from './lib/common.mjs';
import { renderTable } from './table.mjs';

const ALL = ['detect', 'recovery', 'cpu', 'wakeups', 'scale', 'memory'];
const onlyArg = process.argv.find((a) => a.startsWith('--only='));
const names = onlyArg ? onlyArg.slice(7).split(',') : ALL;

if (!existsSync(path.join(ROOT, 'dist', 'index.js')) || !existsSync(path.join(ROOT, 'build', 'Release', 'alsa_health.node'))) {
  console.error('bench: dist/ or the addon is missing: run `npm run build` (or `bash scripts/setup.sh`) first');
  process.exit(2);
}

function runOne(name) {
  const out = path.join(os.tmpdir(), `alsa-health-bench-${process.pid}-${name}.json`);
  const args = [...(name === 'memory' ? ['--expose-gc'] : []), path.join(BENCH_DIR, `${name}.mjs`), ...(QUICK ? ['--quick'] : [])];
  const t0 = Date.now();
  return new Promise((resolve) => {
    const c = spawn(process.execPath, args, { env: { ...process.env, BENCH_OUT: out }, stdio: ['ignore', 'inherit', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => {
      err += d;
      process.stderr.write(d);
    });
    c.on('close', (code, signal) => {
      const wallS = (Date.now() - t0) / 1000;
      if (code === 0 && existsSync(out)) {
        const r = JSON.parse(readFileSync(out, 'utf8'));
        rmSync(out, { force: true });
        resolve(r);
      } else {
        const last = err.trim().split('\n').filter((l) => !l.startsWith('[')).slice(-3).join(' | ');
        resolve({ name, error: `exit ${code ?? signal} after ${wallS} s: ${last}` });
      }
    });
  });
}

const t0 = Date.now();
const results = {
  date: new Date().toISOString(),
  command: `npm run bench${QUICK ? ' -- --quick' : ''}`,
  quick: QUICK,
  cpu: cpuModel(),
  cores: os.cpus().length,
  node: process.version,
  loadBefore: loadAvg(),
  benchmarks: {},
};
const list = QUICK ? await Promise.all(names.map(runOne)) : [];
if (!QUICK) for (const n of names) list.push(await runOne(n));
for (const [i, n] of names.entries()) results.benchmarks[n] = list[i];
results.loadAfter = loadAvg();
results.wallS = (Date.now() - t0) / 1000;

const file = path.join(BENCH_DIR, QUICK ? 'results.quick.json' : 'results.json');
writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
console.log('\n' + renderTable(results));
console.log(`\n${names.length} benchmarks in ${results.wallS.toFixed(1)} s; results in ${path.relative(process.cwd(), file)}`);
const failed = names.filter((n) => results.benchmarks[n].error || results.benchmarks[n].failures?.length);
if (failed.length) {
  console.error(`FAILED to run: ${failed.map((n) => `${n}${results.benchmarks[n].failures?.length ? ` (${results.benchmarks[n].failures.join('; ')})` : ''}`).join(', ')}`);
  process.exit(1);
}
