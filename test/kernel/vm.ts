// Host side of the kernel-VM tests: boot Debian's kernel under QEMU (TCG, no
// KVM needed) with the snd-dummy / snd-aloop drivers and run one shell command
// in a chroot of the host's root (read-only 9p share). See build-image.sh and
// init.sh for the guest side.
//
//   const r = await runInVm('node test/kernel/guest/alsa-utils.mjs', { timeoutMs: 60_000 });
//   r.stdout, r.stderr, r.exitCode, r.bootMs
//
// The command runs with the repo as its working directory (the same path as on
// the host: the whole host root is visible read-only). A per-run directory,
// shared read-write, holds cmd.sh, stdout, stderr and rc; its path is in
// $AH_RUN_DIR inside the guest (a place to write files the host reads back).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, '../..');
export const CACHE = process.env.ALSA_HEALTH_KERNEL_CACHE ?? join(REPO, '.cache/kernel');
export const IMAGE = join(CACHE, 'image');

export interface VmOptions {
  /** Hard limit for the whole VM (boot + command + power-off); qemu is killed after it. */
  timeoutMs?: number;
  /** Guest memory (MB). */
  memMb?: number;
  /** Extra environment for the command. */
  env?: Record<string, string>;
  /** Working directory of the command inside the guest (host path). Default: the repo. */
  cwd?: string;
  /** Echo the guest console to this process's stderr as it comes. */
  echoConsole?: boolean;
}

export interface VmResult {
  stdout: string;
  stderr: string;
  /** The command's exit code; null when the VM died or timed out before it ended. */
  exitCode: number | null;
  /** Host wall time from spawning qemu to the guest's READY marker (command about to start). */
  bootMs: number;
  /** Guest uptime (s) at READY. */
  guestBootS: number | null;
  /** Host wall time of the whole VM run. */
  wallMs: number;
  kernel: string | null;
  /** Everything the guest printed on ttyS0 (kernel + init markers). */
  console: string;
  timedOut: boolean;
  /** Host 1-minute load average before and after (TCG timing suffers on a busy host). */
  hostLoad: [number, number];
}

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

export const QEMU = process.env.AH_QEMU ?? 'qemu-system-x86_64';

let imageState: { ok: true; kernel: string } | { ok: false; reason: string } | null = null;

/**
 * Make sure the VM image exists (build-image.sh, cached). Returns why the kernel
 * tests cannot run here, if they cannot: no qemu, or missing host tools.
 * Any other build failure throws.
 */
export function prepareVm(): { ok: true; kernel: string } | { ok: false; reason: string } {
  if (imageState) return imageState;
  if (!which(QEMU)) {
    imageState = { ok: false, reason: `${QEMU} not found (apt-get install qemu-system-x86; see test/kernel/apt-packages.txt)` };
    return imageState;
  }
  const v = spawnSync(QEMU, ['--version'], { encoding: 'utf8' });
  if (v.status !== 0) {
    imageState = { ok: false, reason: `${QEMU} --version failed: ${v.stderr || v.error}` };
    return imageState;
  }
  const b = spawnSync('bash', [join(HERE, 'build-image.sh'), '--no-boot'], { encoding: 'utf8', timeout: 600_000 });
  process.stderr.write(b.stderr);
  if (b.status === 3) {
    imageState = { ok: false, reason: `host tools missing: ${b.stderr.trim().split('\n').pop()}` };
    return imageState;
  }
  if (b.status !== 0) throw new Error(`build-image.sh failed (${b.status ?? b.signal}):\n${b.stdout}\n${b.stderr}`);
  const env = readFileSync(join(IMAGE, 'image.env'), 'utf8');
  imageState = { ok: true, kernel: /^KVER=(.*)$/m.exec(env)?.[1] ?? '?' };
  return imageState;
}

let runSeq = 0;

export async function runInVm(command: string, opts: VmOptions = {}): Promise<VmResult> {
  const st = prepareVm();
  if (!st.ok) throw new Error(`kernel VM unavailable: ${st.reason}`);
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const runDir = join(CACHE, 'runs', `${process.pid}-${++runSeq}-${Date.now().toString(36)}`);
  if (/[\s,"']/.test(runDir)) throw new Error(`run dir path must not contain spaces, commas or quotes: ${runDir}`);
  mkdirSync(runDir, { recursive: true });
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const envLines = Object.entries({ AH_RUN_DIR: runDir, ...opts.env })
    .map(([k, v]) => `export ${k}=${q(v)}`)
    .join('\n');
  writeFileSync(join(runDir, 'cmd.sh'), `${envLines}\ncd ${q(opts.cwd ?? REPO)} || exit 126\n${command}\n`);

  const args = [
    '-accel', 'tcg', '-cpu', 'max', '-m', String(opts.memMb ?? 512), '-smp', '1',
    '-nodefaults', '-no-user-config', '-display', 'none', '-serial', 'stdio', '-no-reboot',
    '-kernel', join(IMAGE, 'vmlinux'), '-initrd', join(IMAGE, 'initramfs.cpio.gz'),
    '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
    '-virtfs', `local,path=${runDir},mount_tag=run,security_model=none`,
    '-append', `console=ttyS0 panic=-1 quiet ah.run=${runDir}`,
  ];
  const load0 = loadavg()[0] ?? 0;
  const t0 = performance.now();
  const child = spawn(QEMU, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let consoleText = '';
  let bootMs = NaN;
  let timedOut = false;
  const onData = (b: Buffer) => {
    const s = b.toString('utf8');
    consoleText += s;
    if (Number.isNaN(bootMs) && consoleText.includes('@@AH:READY')) bootMs = performance.now() - t0;
    if (opts.echoConsole) process.stderr.write(s.replace(/\r/g, ''));
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  await new Promise<void>((res) => child.on('close', () => res()));
  clearTimeout(timer);
  const wallMs = performance.now() - t0;
  consoleText = consoleText.replace(/\r/g, '');

  const read = (f: string) => (existsSync(join(runDir, f)) ? readFileSync(join(runDir, f), 'utf8') : '');
  const rcText = read('rc').trim();
  const exitMarker = /^@@AH:EXIT (\d+)/m.exec(consoleText);
  const result: VmResult = {
    stdout: read('stdout'),
    stderr: read('stderr'),
    exitCode: rcText !== '' ? Number(rcText) : exitMarker ? Number(exitMarker[1]) : null,
    bootMs,
    guestBootS: Number(/^@@AH:READY uptime=([\d.]+)/m.exec(consoleText)?.[1] ?? NaN) || null,
    wallMs,
    kernel: /^@@AH:KERNEL (\S+)/m.exec(consoleText)?.[1] ?? null,
    console: consoleText,
    timedOut,
    hostLoad: [load0, loadavg()[0] ?? 0],
  };
  const err = /^@@AH:ERROR (.*)$/m.exec(consoleText);
  if (err) result.stderr += `\n[vm] init: ${err[1]}`;
  if (!process.env.AH_VM_KEEP) rmSync(runDir, { recursive: true, force: true });
  return result;
}

/** Parse the JSON lines a guest script printed (other lines ignored). */
export function jsonLines<T = Record<string, unknown>>(stdout: string): T[] {
  const out: T[] = [];
  for (const line of stdout.split('\n')) {
    const s = line.trim();
    if (!s.startsWith('{')) continue;
    try {
      out.push(JSON.parse(s) as T);
    } catch {
      /* not JSON */
    }
  }
  return out;
}

/** One line for the test log. */
export function describeRun(r: VmResult): string {
  return `kernel ${r.kernel ?? '?'}; boot ${Math.round(r.bootMs)} ms host wall to command start (guest uptime ${r.guestBootS ?? '?'} s); whole VM ${Math.round(r.wallMs)} ms; exit ${r.exitCode}${r.timedOut ? ' (TIMED OUT)' : ''}; host load ${r.hostLoad.map((x) => x.toFixed(1)).join(' -> ')}`;
}
