// README "Run it on the board" under a real systemd (PID 1 in the kernel-test
// VM): run.sh boots it, guest.sh runs the steps and prints `check: PASS|FAIL`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../..');
const REQUIRE = process.env.AH_KERNEL_REQUIRE === '1' || process.env.AH_SYSTEMD_REQUIRE === '1';

function whyNot(): string | null {
  if (spawnSync('sh', ['-c', 'command -v qemu-system-x86_64'], { encoding: 'utf8' }).status !== 0)
    return 'qemu-system-x86_64 not found (test/kernel/apt-packages.txt)';
  if (!existsSync('/lib/systemd/systemd')) return 'no /lib/systemd/systemd on the host (apt-get install systemd)';
  if (!existsSync(join(REPO, 'dist/daemon/cli.js'))) return 'dist/daemon/cli.js missing (npm run build)';
  return null;
}

const reason = whyNot();
if (reason) {
  if (REQUIRE) throw new Error(`test/systemd cannot run: ${reason}`);
  console.warn(`[systemd] skipped: ${reason}`);
}

describe.skipIf(reason !== null)('systemd as PID 1 (QEMU): unit, sysusers, start/status/reload/watchdog/stop', () => {
  it('every step of guest.sh passes', async () => {
    const t0 = performance.now();
    const child = spawn('bash', [join(HERE, 'run.sh')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (out += b.toString('utf8')));
    const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    process.stdout.write(out);
    console.log(`[systemd] run.sh exit ${code}, ${Math.round(performance.now() - t0)} ms`);
    const checks = out.split('\n').filter((l) => l.startsWith('check: '));
    expect(checks.filter((l) => l.startsWith('check: FAIL'))).toEqual([]);
    for (const what of [
      'user alsa-health exists, in group audio',
      'systemctl start returned 0 (Type=notify: READY=1 came)',
      'status shows the STATUS= line',
      'alsa-health status exit 0',
      'journal lines are JSON',
      'reload: the added device is served',
      'reload: same MainPID',
      'the watchdog fired and systemd restarted the service',
      "systemd logged the watchdog timeout (Failed with result 'watchdog')",
      'active again after the restart',
      'the daemon exited 0 on SIGTERM',
    ]) {
      expect(checks.some((l) => l.startsWith(`check: PASS ${what}`)), what).toBe(true);
    }
    expect(out).toMatch(/guest: 0 failed checks/);
    expect(code).toBe(0);
  });
});
