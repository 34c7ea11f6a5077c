// `mode: observe` devices and the `recovery.exec` action: config rules, the exec
// runner, and the daemon healing an observed device (fake /proc/asound tree)
// by running its exec once.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError, validateConfig } from '../../src/daemon/config.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { runExecAction } from '../../src/daemon/exec-action.js';
import { FakeProc } from '../observe/fakeproc.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return;
    await tick(10);
  }
  throw new Error(`timed out waiting for: ${what}`);
}

function memLog() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(c, _e, cb) {
        for (const l of String(c).split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    }),
  );
  return { logger, lines };
}

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const problems = (input: unknown) => {
  try {
    validateConfig(input);
    return [];
  } catch (e) {
    return (e as ConfigError).problems.map((p) => `${p.path}: ${p.reason}`);
  }
};

describe('config: mode observe, recovery.exec', () => {
  it('accepts an observed device with an exec recovery', () => {
    const c = validateConfig({
      devices: [{ name: 'hdmi-in', pcm: 'hw:0,0', direction: 'capture', mode: 'observe', pollIntervalMs: 20, recovery: { exec: ['systemctl', 'restart', 'kvm-audio'] } }],
    });
    expect(c.devices[0]).toMatchObject({ mode: 'observe', pollIntervalMs: 20, recovery: { exec: ['systemctl', 'restart', 'kvm-audio'], timeoutMs: 10_000 } });
    expect(validateConfig({ devices: [{ name: 'x', pcm: 'mock:x', direction: 'capture' }] }).devices[0]!.mode).toBe('stream');
  });
  it('refuses what observe mode cannot do, with the field named', () => {
    expect(problems({ devices: [{ name: 'a', pcm: 'default', direction: 'capture', mode: 'observe' }] })).toEqual([
      expect.stringMatching(/^devices\[0\]\.pcm: must be a hardware PCM/),
    ]);
    expect(problems({ devices: [{ name: 'a', pcm: 'hw:0,0', direction: 'capture', mode: 'observe', audio: 'discard' }] })).toEqual([
      'devices[0].audio: is not used in observe mode (the owner streams the PCM)',
    ]);
    expect(problems({ devices: [{ name: 'a', pcm: 'hw:0,0', direction: 'capture', pollIntervalMs: 10 }] })).toEqual([
      'devices[0].pollIntervalMs: is only used in observe mode',
    ]);
    expect(problems({ devices: [{ name: 'a', pcm: 'hw:0,0', direction: 'capture', mode: 'watch' }] })).toEqual([
      "devices[0].mode: must be 'stream' or 'observe'",
    ]);
    expect(problems({ devices: [{ name: 'a', pcm: 'hw:0,0', direction: 'capture', recovery: { exec: [] } }] })).toEqual([
      'devices[0].recovery.exec: must name a program',
    ]);
    expect(problems({ devices: [{ name: 'a', pcm: 'hw:0,0', direction: 'capture', recovery: { exec: 'systemctl restart x' } }] })).toEqual([
      'devices[0].recovery.exec: must be a list: [program, arg, ...]',
    ]);
    expect(problems({ recovery: { attemptTimeoutMs: 5000 }, devices: [{ name: 'a', pcm: 'hw:0,0', direction: 'capture', recovery: { exec: ['true'], timeoutMs: 6000 } }] })).toEqual([
      'devices[0].recovery.timeoutMs: must be at most recovery.attemptTimeoutMs (5000), which bounds the whole attempt',
    ]);
  });
});

describe('runExecAction', () => {
  it('exit 0 resolves; no shell (metacharacters are plain arguments)', async () => {
    const { logger, lines } = memLog();
    const r = await runExecAction({ argv: [process.execPath, '-e', 'process.exit(process.argv[1] === "$HOME;x" ? 0 : 3)', '$HOME;x'], timeoutMs: 5000, log: logger });
    expect(r.code).toBe(0);
    expect(lines.at(-1)).toMatchObject({ msg: 'recovery exec succeeded', exitCode: 0 });
  });
  it('non-zero exit rejects; exit code and stderr are logged', async () => {
    const { logger, lines } = memLog();
    await expect(
      runExecAction({ argv: [process.execPath, '-e', 'console.error("unit kvm-audio not found"); process.exit(5)'], timeoutMs: 5000, log: logger, env: { ALSA_HEALTH_DEVICE: 'x' } }),
    ).rejects.toThrow(/exit code 5: unit kvm-audio not found/);
    expect(lines.at(-1)).toMatchObject({ level: 50, exitCode: 5, stderr: 'unit kvm-audio not found', msg: 'recovery exec failed: exit code 5' });
  });
  it('timeout kills it; a missing program is a failure too', async () => {
    const { logger, lines } = memLog();
    const t0 = Date.now();
    await expect(runExecAction({ argv: [process.execPath, '-e', 'setTimeout(() => {}, 60000)'], timeoutMs: 200, log: logger })).rejects.toThrow(/timed out after 200 ms/);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(lines.at(-1)).toMatchObject({ timedOut: true, signal: 'SIGTERM' });
    await expect(runExecAction({ argv: ['/nonexistent/restart-audio'], timeoutMs: 1000, log: logger })).rejects.toThrow(/could not start.*ENOENT/);
  });
  it('the attempt aborted: the program is killed', async () => {
    const { logger } = memLog();
    const ac = new AbortController();
    const p = runExecAction({ argv: [process.execPath, '-e', 'setTimeout(() => {}, 60000)'], timeoutMs: 10_000, log: logger, signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    await expect(p).rejects.toThrow(/killed by SIGTERM/);
  });
});

describe('daemon: an observed device healed by its exec', () => {
  it('owner closes the PCM -> critical -> exec runs once (it restarts the owner) -> healthy again; never a reopen', async () => {
    const proc = new FakeProc();
    cleanups.push(() => proc.cleanup());
    proc.addCard(0, 'HDMI');
    const dir = mkdtempSync(join(tmpdir(), 'ah-obs-daemon-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const marker = join(dir, 'runs');
    // The "restart the owner" program: appends one line per run (with the device name it was given).
    const script = join(dir, 'restart.mjs');
    writeFileSync(script, `import { appendFileSync } from 'node:fs'; appendFileSync(${JSON.stringify(marker)}, process.env.ALSA_HEALTH_DEVICE + '\\n');`);
    const cfgFile = join(dir, 'config.yaml');
    writeFileSync(
      cfgFile,
      stringify({
        http: { listen: 'off' },
        monitor: { checkIntervalMs: 50, supervisorTimeoutMs: 300, hysteresisMs: 200 },
        recovery: { initialBackoffMs: 50, maxBackoffMs: 200, maxAttempts: 5, attemptTimeoutMs: 5000 },
        devices: [
          { name: 'hdmi-in', pcm: 'hw:HDMI,0', direction: 'capture', mode: 'observe', pollIntervalMs: 5, sampleIntervalMs: 20, recovery: { exec: [process.execPath, script], timeoutMs: 5000 } },
        ],
      }),
    );
    // The owner: pointers move every 5 ms while it "runs".
    let owner = true;
    let ptr = 0;
    let pid = 500;
    // The owner's trigger time: the pump must write the current owner's, or a
    // poll between the restart and the next pump sees it change under one pid
    // (which is how an xrun the owner recovered looks).
    let trig = '1.0';
    proc.open(0, 'c', { state: 'RUNNING', pid, trig });
    const pump = setInterval(() => {
      if (!owner) return;
      ptr += 240;
      proc.status(0, 'c', { state: 'RUNNING', pid, trig, hw: ptr, appl: ptr, avail: 0 });
    }, 5);
    cleanups.push(() => clearInterval(pump));
    const { logger, lines } = memLog();
    const daemon = new Daemon({
      configPath: cfgFile,
      logger,
      deps: {
        openPcm: async () => {
          throw new Error('an observed device must never be opened');
        },
        sdNotify: () => true,
        env: {},
        procRoot: proc.root,
      },
    });
    cleanups.push(() => daemon.stop('test end'));
    await daemon.start();
    await until('healthy', () => daemon.monitor.status('hdmi-in') === 'healthy', 10_000);
    expect(daemon.views()[0]).toMatchObject({ name: 'hdmi-in', up: true, status: 'healthy' });

    // Scripted failure: the owner dies (closes the PCM).
    owner = false;
    proc.close(0, 'c');
    await until('exec ran', () => existsSync(marker), 10_000);
    // The restarted owner (a new pid) streams again.
    pid = 501;
    ptr = 0;
    trig = '2.0';
    proc.open(0, 'c', { state: 'RUNNING', pid, trig });
    owner = true;
    await until('healthy again', () => daemon.monitor.status('hdmi-in') === 'healthy', 10_000).catch((e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify(daemon.monitor.snapshot().devices['hdmi-in']?.reasons)}; log: ${lines.map((l) => l.msg).join(' | ')}`);
    });
    await tick(300);
    expect(readFileSync(marker, 'utf8')).toBe('hdmi-in\n');
    const msgs = lines.map((l) => l.msg);
    expect(msgs).toContain('recovery exec succeeded');
    expect(lines.filter((l) => l.event === 'closed')).toHaveLength(1);
    expect(lines.some((l) => l.event === 'ownerChanged' && l.pid === 501)).toBe(true);
  });
});
