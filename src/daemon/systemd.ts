// systemd's notify protocol for the daemon: READY=1, STATUS=, WATCHDOG=1, STOPPING=1.
// The datagram itself is sent by the addon's sdNotify (Node has no unix datagram sockets).

export type NotifyFn = (message: string) => boolean;

export interface WatchdogSettings {
  /** Ping period: half of WATCHDOG_USEC, in ms. */
  intervalMs: number;
}

/**
 * The watchdog is ours when WATCHDOG_USEC is set and WATCHDOG_PID is unset or
 * names this process (sd_watchdog_enabled()). Returns null otherwise.
 */
export function watchdogSettings(env: NodeJS.ProcessEnv, pid = process.pid): WatchdogSettings | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isFinite(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return null;
  return { intervalMs: Math.max(1, Math.floor(usec / 2000)) };
}

export interface NotifierOptions {
  notify: NotifyFn;
  env?: NodeJS.ProcessEnv;
  /**
   * Asked at every watchdog tick: true when audio moved since the previous
   * tick (or its device is being recovered) and no device gave up. False
   * skips the ping, and systemd restarts us when enough are skipped.
   */
  alive: () => boolean;
  /** Told when a ping is skipped, with the reason the alive() check gave. */
  onSkip?: () => void;
}

export class Notifier {
  readonly watchdog: WatchdogSettings | null;
  private timer: NodeJS.Timeout | null = null;
  private lastStatus = '';
  private isReady = false;
  private readonly notify: NotifyFn;

  constructor(private readonly opts: NotifierOptions) {
    this.notify = opts.notify;
    this.watchdog = watchdogSettings(opts.env ?? process.env);
  }

  ready(status: string): void {
    this.isReady = true;
    this.lastStatus = oneLine(status);
    this.notify(`READY=1\nSTATUS=${this.lastStatus}`);
    this.startWatchdog();
  }

  /** Sent only when the text changes, and only after READY=1 (which carries the status of its time). */
  status(text: string): void {
    const line = oneLine(text);
    if (line === this.lastStatus) return;
    this.lastStatus = line;
    if (this.isReady) this.notify(`STATUS=${line}`);
  }

  reloading(): void {
    // MONOTONIC_USEC lets systemd >= 253 match the reload to our READY=1.
    this.notify(`RELOADING=1\nMONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`);
  }

  reloaded(status: string): void {
    this.lastStatus = oneLine(status);
    this.notify(`READY=1\nSTATUS=${this.lastStatus}`);
  }

  stopping(status = 'stopping'): void {
    this.stopWatchdog();
    this.notify(`STOPPING=1\nSTATUS=${oneLine(status)}`);
  }

  private startWatchdog(): void {
    if (!this.watchdog || this.timer) return;
    this.timer = setInterval(() => this.tick(), this.watchdog.intervalMs);
    // The watchdog alone must not keep the process alive.
    this.timer.unref();
  }

  stopWatchdog(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One watchdog tick; exposed for tests. */
  tick(): boolean {
    if (this.opts.alive()) {
      this.notify('WATCHDOG=1');
      return true;
    }
    this.opts.onSkip?.();
    return false;
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, '; ').slice(0, 400);
}
