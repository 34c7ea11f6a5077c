// Helpers for the child-process tests: run `node dist/daemon/cli.js`, read its JSON log lines,
// run the python NOTIFY_SOCKET receiver.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = `${ROOT}dist/daemon/cli.js`;

/**
 * Why the daemon cannot be run as a child here (not built, the addon does not
 * load, no python3 for the NOTIFY_SOCKET receiver when one is wanted), or null.
 */
export function cliMissing(opts: { python?: boolean } = {}): string | null {
  if (!existsSync(CLI)) return `${CLI} is not built (run npm run build:ts; npm test does it first)`;
  try {
    execFileSync(process.execPath, ['-e', "import('./dist/pcm.js').then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1) })"], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (err) {
    return `the native addon does not load: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`;
  }
  if (opts.python) {
    try {
      execFileSync('python3', ['-c', 'import socket; socket.AF_UNIX'], { stdio: 'ignore' });
    } catch {
      return 'python3 (for the NOTIFY_SOCKET receiver) is not installed';
    }
  }
  return null;
}

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export class Child {
  readonly proc: ChildProcess;
  readonly lines: LogLine[] = [];
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  private waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];

  constructor(args: string[], env: NodeJS.ProcessEnv = {}) {
    this.proc = spawn(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      env: { ...process.env, NOTIFY_SOCKET: '', WATCHDOG_USEC: '', WATCHDOG_PID: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    createInterface({ input: this.proc.stdout! }).on('line', (raw) => {
      this.stdout += `${raw}\n`;
      let l: LogLine;
      try {
        l = JSON.parse(raw) as LogLine;
      } catch {
        return;
      }
      this.lines.push(l);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(l)) return true;
        w.resolve(l);
        return false;
      });
    });
    this.proc.stderr!.on('data', (c: Buffer) => (this.stderr += c.toString()));
    // 'exit' gives the time; 'close' (stdio drained) gives every log line.
    let at = 0;
    this.proc.on('exit', () => (at = performance.now()));
    this.exited = new Promise((resolve) => this.proc.on('close', (code, signal) => resolve({ code, signal, at })));
  }

  /** The first log line (past or future) matching pred. */
  waitLog(what: string, pred: (l: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
    const seen = this.lines.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for log: ${what}\n--- stdout:\n${this.stdout}\n--- stderr:\n${this.stderr}`)), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(t);
          resolve(l);
        },
      });
      void this.exited.then(({ code }) => {
        clearTimeout(t);
        reject(new Error(`exited (${code}) while waiting for log: ${what}\n--- stdout:\n${this.stdout}\n--- stderr:\n${this.stderr}`));
      });
    });
  }

  async port(): Promise<number> {
    const l = await this.waitLog('HTTP listening', (x) => x.msg === 'HTTP listening');
    return l.port as number;
  }

  count(pred: (l: LogLine) => boolean): number {
    return this.lines.filter(pred).length;
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}

/** Run the CLI to completion. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, NOTIFY_SOCKET: '', ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`alsa-health ${args.join(' ')}: timed out\n${stdout}\n${stderr}`));
    }, timeoutMs);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface Datagram {
  t: number;
  msg: string;
}

/** The python NOTIFY_SOCKET receiver. */
export class NotifyReceiver {
  readonly proc: ChildProcess;
  readonly got: Datagram[] = [];
  readonly listening: Promise<void>;

  constructor(readonly path: string) {
    this.proc = spawn('python3', [fileURLToPath(new URL('./notify-receiver.py', import.meta.url)), path], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let ready!: () => void;
    this.listening = new Promise((r) => (ready = r));
    createInterface({ input: this.proc.stdout! }).on('line', (raw) => {
      const d = JSON.parse(raw) as Datagram;
      if (d.msg === 'LISTENING') ready();
      else this.got.push(d);
    });
  }

  messages(prefix: string): Datagram[] {
    return this.got.filter((d) => d.msg.split('\n').some((l) => l.startsWith(prefix)));
  }

  close(): void {
    this.proc.kill('SIGKILL');
  }
}
