// The `recovery: { exec: [argv...] }` action of a device: run a program (no
// shell), wait for it within a timeout, log its exit code and stderr. A
// non-zero exit, a signal or the timeout is a failed recovery attempt.

import { spawn } from 'node:child_process';
import type { Logger } from 'pino';

export interface ExecActionOptions {
  argv: readonly string[];
  timeoutMs: number;
  log: Logger;
  /** Added to the daemon's environment (ALSA_HEALTH_DEVICE, ...). */
  env?: Record<string, string>;
  /** The recovery attempt's signal: aborting it kills the program. */
  signal?: AbortSignal;
}

/** Keep the end of stderr: it holds the reason. */
const STDERR_MAX = 4096;

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
}

/** Runs argv; resolves on exit 0, rejects (with code / stderr in the message) otherwise. */
export async function runExecAction(o: ExecActionOptions): Promise<ExecResult> {
  const [cmd, ...args] = o.argv;
  if (!cmd) throw new Error('exec: empty argv');
  const t0 = performance.now();
  const child = spawn(cmd, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...o.env },
    shell: false,
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    stderr = (stderr + s).slice(-STDERR_MAX);
  });
  let timedOut = false;
  let killTimer: NodeJS.Timeout | null = null;
  const kill = () => {
    child.kill('SIGTERM');
    killTimer = setTimeout(() => child.kill('SIGKILL'), 2000);
    killTimer.unref();
  };
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, o.timeoutMs);
  timer.unref();
  const onAbort = () => kill();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const result = await new Promise<ExecResult>((resolve) => {
    let spawnError: Error | null = null;
    child.once('error', (err) => {
      spawnError = err;
    });
    child.once('close', (code, signal) => {
      resolve({
        code: spawnError ? null : code,
        signal,
        stderr: spawnError ? `${stderr}${String((spawnError as Error).message)}` : stderr,
        durationMs: Math.round(performance.now() - t0),
        timedOut,
      });
    });
  });
  clearTimeout(timer);
  if (killTimer) clearTimeout(killTimer);
  o.signal?.removeEventListener('abort', onAbort);
  const fields = { argv: o.argv, exitCode: result.code, signal: result.signal, durationMs: result.durationMs, stderr: result.stderr.trim() || undefined };
  if (result.code === 0 && !timedOut) {
    o.log.warn(fields, 'recovery exec succeeded');
    return result;
  }
  const why = timedOut
    ? `timed out after ${o.timeoutMs} ms`
    : result.code === null
      ? result.signal
        ? `killed by ${result.signal}`
        : `could not start: ${result.stderr.trim()}`
      : `exit code ${result.code}`;
  o.log.error({ ...fields, timedOut }, `recovery exec failed: ${why}`);
  const last = result.stderr.trim().split('\n').pop();
  throw new Error(`${o.argv[0]} ${why}${last ? `: ${last}` : ''}`);
}
