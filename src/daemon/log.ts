// The daemon's logger: pino JSON on stdout (journald keeps it), or pino-pretty for a terminal.
// Synchronous writes (pino's default): the daemon logs a few lines per status change, never per
// period, and sync writes keep order and lose nothing at exit. An asynchronous SonicBoom was tried:
// flushSync() at exit wrote the buffer ahead of a write still in flight, out of order.

import { pino, type Logger, type LevelWithSilent } from 'pino';

export interface DaemonLog {
  logger: Logger;
  /** Write out whatever is buffered, synchronously. Safe to call more than once. */
  flush(): void;
}

export interface LogOptions {
  level: LevelWithSilent;
  pretty?: boolean;
  /** Default: stdout. */
  fd?: number;
}

/**
 * pino-pretty is a devDependency: on a board installed with `--omit=dev` it is
 * absent, and `--pretty` falls back to JSON with a warning instead of failing.
 */
export async function createLog(opts: LogOptions): Promise<DaemonLog> {
  const fd = opts.fd ?? 1;
  if (opts.pretty) {
    try {
      const { default: pretty } = await import('pino-pretty');
      const stream = pretty({ destination: fd, sync: true, colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l' });
      const logger = pino({ level: opts.level, base: { pid: process.pid } }, stream);
      return { logger, flush: () => undefined };
    } catch (err) {
      const log = await createLog({ ...opts, pretty: false });
      log.logger.warn({ err: (err as Error).message }, 'pino-pretty is not installed; logging JSON');
      return log;
    }
  }
  const dest = pino.destination({ fd, sync: true });
  const logger = pino({ level: opts.level, base: { pid: process.pid } }, dest);
  return {
    logger,
    flush() {
      try {
        dest.flushSync();
      } catch {
        // Nothing buffered, or stdout already gone: nothing more to do.
      }
    },
  };
}
