// CI's guard against rotting benchmarks: `npm run bench -- --quick` (bench/run.mjs)
// must run every benchmark and each must produce numbers. How fast they are
// is never asserted here: benchmarks, not timed tests (DESIGN.md).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runQuick(): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(root, 'bench', 'run.mjs'), '--quick'], { cwd: root, timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const finite = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x);

describe('bench --quick', () => {
  it('runs every benchmark and each produces numbers', async () => {
    const run = await runQuick();
    if (run.code !== 0) console.error(run.stdout.slice(-4000), run.stderr.slice(-4000));
    expect(run.code).toBe(0);
    const res: any = JSON.parse(readFileSync(path.join(root, 'bench', 'results.quick.json'), 'utf8'));
    const b = res.benchmarks;
    expect(Object.keys(b).sort()).toEqual(['cpu', 'detect', 'memory', 'recovery', 'scale', 'wakeups']);
    for (const [name, r] of Object.entries(b)) expect((r as { error?: string }).error, name).toBeUndefined();

    expect(b.detect.rows).toHaveLength(8); // mock + plugin x 1/5/10/20 ms
    // every device measured its xruns; a device short of other figures on a
    // loaded CI machine is listed in `problems` (a finding, shown in the table)
    for (const r of b.detect.rows) expect(finite(r.xrunMs.p99), `detect ${r.backend} ${r.periodMs}`).toBe(true);
    for (const backend of ['mock', 'plugin']) {
      const rows = b.detect.rows.filter((r: { backend: string }) => r.backend === backend);
      expect(rows.some((r: { disconnectMs: { p99: number } }) => finite(r.disconnectMs.p99)), `${backend} disconnects`).toBe(true);
      expect(rows.some((r: { recoveryMs: { p99: number } }) => finite(r.recoveryMs.p99)), `${backend} recovery`).toBe(true);
    }
    const rec = b.recovery.rows.filter((r: { backend: string; how: string }) => !(r.backend === 'plugin' && r.how === 'auto'));
    expect(rec).toHaveLength(3);
    for (const r of rec) expect(finite(r.lagMs.p99), `recovery ${r.backend} ${r.how}`).toBe(true);

    expect(b.cpu.rows.length).toBeGreaterThanOrEqual(4);
    for (const r of b.cpu.rows) {
      expect(finite(r.alsaHealthCpuPerAudioS), `cpu ${r.device} ${r.direction}`).toBe(true);
      expect(finite(r.peerCpuPerAudioS), `cpu peer ${r.device} ${r.direction}`).toBe(true);
    }
    expect(finite(b.cpu.idleNode.cpuPerS)).toBe(true);

    expect(b.wakeups.rows).toHaveLength(8);
    for (const r of b.wakeups.rows) expect(r.perS.total).toBeGreaterThan(0);

    expect([...new Set(b.scale.rows.map((r: { n: number }) => r.n))]).toEqual([1, 8, 32, 64]);
    for (const r of b.scale.rows) {
      expect(finite(r.cpuPct)).toBe(true);
      expect(r.rssKb).toBeGreaterThan(0);
    }

    expect(b.scale.daemon.rssKb, 'the daemon with two devices').toBeGreaterThan(0);

    expect(finite(b.memory.rssKbPerMin)).toBe(true);
    expect(finite(b.memory.heapKbPerMin)).toBe(true);
  }, 150_000);
});
