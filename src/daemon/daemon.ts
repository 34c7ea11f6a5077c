// The daemon's lifecycle: config -> monitor -> devices -> HTTP -> READY; SIGHUP reloads
// (only added / removed / changed devices are touched); SIGTERM / SIGINT stop within 2 s.

import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { HealthMonitor, type DeviceSnapshot } from '../health/index.js';
import type { RecoveryCallback } from '../recovery/types.js';
import {
  ConfigError,
  builtinMockConfig,
  diffDevices,
  hasSoundCard,
  loadConfig,
  type DaemonConfig,
  type DeviceConfig,
} from './config.js';
import { closeServer, createHttpServer, listen, parseListen } from './http.js';
import { exposureWarning } from './listen-address.js';
import { registerMetrics, type DaemonMetrics } from './metrics/index.js';
import { runExecAction } from './exec-action.js';
import { ObserverSlot } from './observe-slot.js';
import { DeviceSlot, type OpenPcm } from './slot.js';
import { Notifier, type NotifyFn } from './systemd.js';
import { emptyTotals, type DeviceView, type HealthView } from './view.js';

export const DEFAULT_CONFIG_PATH = '/etc/alsa-health/config.yaml';

export interface DaemonDeps {
  openPcm: OpenPcm;
  sdNotify: NotifyFn;
  /** Default: /dev/snd has a pcm* node. */
  hasSoundCard?: () => boolean;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
  /** Where `mode: observe` devices are read (tests: a fake tree). Default /proc/asound. */
  procRoot?: string;
}

export interface DaemonOptions {
  /** Explicit --config; without it DEFAULT_CONFIG_PATH if present, else the built-in mock when there is no sound card. */
  configPath?: string;
  logger: Logger;
  deps: DaemonDeps;
  /** Where /metrics families register; default: a fresh one (never prom-client's global). */
  registry?: Registry;
  /** Already read and validated (the CLI checks the config before it loads the engine). */
  initialConfig?: { config: DaemonConfig; source: string };
}

/**
 * The config to run: the explicit file, else DEFAULT_CONFIG_PATH if present,
 * else the built-in mock device when the machine has no sound card (logged).
 * Throws ConfigError (exit 78).
 */
export async function readDaemonConfig(
  configPath: string | undefined,
  log: Logger,
  soundCard: () => boolean = hasSoundCard,
): Promise<{ config: DaemonConfig; source: string }> {
  if (configPath) return { config: await loadConfig(configPath), source: configPath };
  if (existsSync(DEFAULT_CONFIG_PATH)) return { config: await loadConfig(DEFAULT_CONFIG_PATH), source: DEFAULT_CONFIG_PATH };
  if (soundCard()) {
    throw new ConfigError('(none)', [
      {
        path: '',
        value: '(no file)',
        reason: `no --config given and no ${DEFAULT_CONFIG_PATH}; this machine has sound cards, so say which to watch (see 'alsa-health list')`,
      },
    ]);
  }
  log.warn('no config file and no sound card (/dev/snd/pcm*): running the built-in mock device mock:builtin');
  return { config: builtinMockConfig(), source: '(built-in mock)' };
}

/** Errors that mean "the device is not there" rather than "it misbehaves". */
const GONE = new Set(['ENODEV', 'ENOENT', 'ENXIO']);

export class Daemon {
  config!: DaemonConfig;
  monitor!: HealthMonitor;
  readonly registry: Registry;
  private readonly view: HealthView = { devices: () => this.views() };
  readonly slots = new Map<string, DeviceSlot | ObserverSlot>();
  readonly notifier: Notifier;
  private metrics!: DaemonMetrics;
  private server: Server | null = null;
  private listenAddr = '';
  private boundHost = '';
  private unwatch = new Map<string, () => void>();
  private configSource = '';
  private readonly log: Logger;
  private readonly now: () => number;
  private busy: Promise<unknown> = Promise.resolve();
  private stopping = false;
  private readonly userCallbacks = new Map<string, RecoveryCallback>();

  constructor(private readonly opts: DaemonOptions) {
    this.log = opts.logger.child({ component: 'daemon' });
    this.registry = opts.registry ?? new Registry();
    this.now = opts.deps.now ?? (() => performance.now());
    this.notifier = new Notifier({
      notify: opts.deps.sdNotify,
      env: opts.deps.env ?? process.env,
      alive: () => this.alive(),
      onSkip: () => this.log.warn({ why: this.whyNotAlive() }, 'watchdog ping skipped'),
    });
  }

  /** `HOST:PORT` the HTTP server listens on, or '' when off. */
  get httpAddress(): string {
    return this.listenAddr;
  }

  /** Read the config (see readDaemonConfig) and remember where it came from. */
  async readConfig(): Promise<DaemonConfig> {
    const { config, source } = await readDaemonConfig(this.opts.configPath, this.log, this.opts.deps.hasSoundCard);
    this.configSource = source;
    return config;
  }

  /** Start everything; resolves after READY=1. Throws ConfigError (exit 78) or a listen error. */
  start(): Promise<void> {
    // A SIGHUP that arrives while starting waits for the start to finish.
    const run = this.doStart();
    this.busy = run.catch(() => undefined);
    return run;
  }

  private async doStart(): Promise<void> {
    if (this.opts.initialConfig) {
      this.config = this.opts.initialConfig.config;
      this.configSource = this.opts.initialConfig.source;
    } else this.config = await this.readConfig();
    this.opts.logger.level = this.config.logLevel;
    this.log.info({ config: this.configSource, devices: this.config.devices.map((d) => d.name) }, 'starting');
    this.metrics = registerMetrics(this.registry, this.view);
    this.monitor = this.createMonitor(this.config);
    await this.startHttp(this.config.http.listen);
    await Promise.all(this.config.devices.map((d) => this.addDevice(d)));
    this.notifier.ready(this.summary());
    this.log.info(
      { watchdogMs: this.notifier.watchdog?.intervalMs ?? null, http: this.listenAddr || 'off' },
      'ready',
    );
  }

  /** SIGHUP: apply a new config; a bad one is logged and the running config stays. Serialized. */
  reload(): Promise<void> {
    const run = this.busy.then(() => this.doReload());
    this.busy = run.catch(() => undefined);
    return run;
  }

  private async doReload(): Promise<void> {
    if (this.stopping || !this.config) return;
    this.notifier.reloading();
    let next: DaemonConfig;
    try {
      next = await this.readConfig();
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [{ path: '', value: '', reason: String(err) }];
      this.log.error({ config: this.configSource, problems }, 'reload refused: bad config, keeping the running one');
      this.notifier.reloaded(`${this.summary()}; reload refused: bad config`);
      return;
    }
    const prev = this.config;
    this.config = next;
    this.opts.logger.level = next.logLevel;
    const diff = diffDevices(prev.devices, next.devices);
    this.log.info(
      {
        added: diff.added.map((d) => d.name),
        removed: diff.removed.map((d) => d.name),
        changed: diff.changed.map((d) => d.after.name),
        unchanged: diff.unchanged.map((d) => d.name),
      },
      'reloading config',
    );
    if (JSON.stringify([prev.monitor, prev.recovery]) !== JSON.stringify([next.monitor, next.recovery])) {
      // New thresholds: a new monitor. The PCMs keep streaming; only the figures start over.
      this.log.info('monitor or recovery settings changed: assessments start over');
      this.monitor.stop();
      for (const u of this.unwatch.values()) u();
      this.unwatch.clear();
      this.monitor.removeAllListeners();
      this.monitor = this.createMonitor(next);
      for (const slot of this.slots.values()) this.unwatch.set(slot.device, this.monitor.watch(slot, { name: slot.device }));
    }
    await Promise.all([...diff.removed, ...diff.changed.map((c) => c.before)].map((d) => this.removeDevice(d.name)));
    await Promise.all([...diff.added, ...diff.changed.map((c) => c.after)].map((d) => this.addDevice(d)));
    if (prev.http.listen !== next.http.listen) {
      if (this.server) await closeServer(this.server);
      this.server = null;
      this.listenAddr = '';
      await this.startHttp(next.http.listen).catch((err: Error) =>
        this.log.error({ err, listen: next.http.listen }, 'cannot listen on the new address; HTTP is off'),
      );
    } else if (this.server) this.warnIfExposed(next.http.listen);
    this.notifier.reloaded(this.summary());
    this.log.info('config reloaded');
  }

  /** Graceful stop: no more recovery, close PCMs, close HTTP. Never rejects. */
  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info({ reason }, 'stopping');
    this.notifier.stopping(`stopping (${reason})`);
    this.monitor?.stop();
    await Promise.allSettled([
      ...[...this.slots.keys()].map((name) => this.removeDevice(name)),
      this.server ? closeServer(this.server) : Promise.resolve(),
    ]);
    this.log.info('stopped');
  }

  /**
   * A recovery callback that survives reloads: a reload with new monitor or
   * recovery settings replaces `monitor`, and what was registered on the old
   * one directly would be gone.
   */
  registerRecoveryCallback(name: string, callback: RecoveryCallback): void {
    this.userCallbacks.set(name, callback);
    this.monitor?.registerRecoveryCallback(name, callback);
  }

  unregisterRecoveryCallback(name: string): boolean {
    this.monitor?.unregisterRecoveryCallback(name);
    return this.userCallbacks.delete(name);
  }

  private createMonitor(cfg: DaemonConfig): HealthMonitor {
    const m = new HealthMonitor({ ...cfg.monitor, recovery: cfg.recovery }, { logger: this.opts.logger });
    m.on('status', () => this.notifier.status(this.summary()));
    // A device's `recovery.exec` (the only action of a `mode: observe` device), read from the running config.
    m.registerRecoveryCallback('exec', async (device, ctx) => {
      const spec = this.config.devices.find((d) => d.name === device)?.recovery;
      if (!spec) return;
      await runExecAction({
        argv: spec.exec,
        timeoutMs: spec.timeoutMs,
        log: this.opts.logger.child({ component: 'recovery-exec', device }),
        env: { ALSA_HEALTH_DEVICE: device, ALSA_HEALTH_ATTEMPT: String(ctx.attempt) },
        signal: ctx.signal,
      });
    });
    for (const [name, cb] of this.userCallbacks) m.registerRecoveryCallback(name, cb);
    m.on('escalate', (e) =>
      this.log.error(
        { device: e.device, attempts: e.attempts, lastError: e.lastError },
        'recovery gave up on a device: the systemd watchdog is no longer fed',
      ),
    );
    m.start();
    return m;
  }

  private async startHttp(listenSpec: string): Promise<void> {
    if (listenSpec === 'off') return;
    const { host, port } = parseListen(listenSpec);
    const server = createHttpServer({
      registry: this.registry,
      view: this.view,
      onError: (err, route) => this.log.error({ err, route }, 'HTTP request failed'),
    });
    const addr = await listen(server, host, port);
    this.server = server;
    this.listenAddr = `${addr.address}:${addr.port}`;
    this.boundHost = addr.address;
    this.log.info({ address: addr.address, port: addr.port }, 'HTTP listening');
    this.warnIfExposed(listenSpec);
  }

  /** At start and at each reload: the bound address (what a host name resolved to) decides. */
  private warnIfExposed(listenSpec: string): void {
    const msg = exposureWarning(this.boundHost);
    if (msg) this.log.warn({ listen: listenSpec, address: this.boundHost }, msg);
  }

  private async addDevice(cfg: DeviceConfig): Promise<void> {
    if (this.stopping) return;
    const slot =
      cfg.mode === 'observe'
        ? new ObserverSlot(cfg, this.opts.logger, this.now, this.opts.deps.procRoot)
        : new DeviceSlot(cfg, this.opts.deps.openPcm, this.opts.logger, this.now);
    this.slots.set(cfg.name, slot);
    slot.on('sample', (s) => this.metrics.observeSample(cfg.name, s));
    // Watch first: a device that fails to open is then already the monitor's, and recovery opens it.
    this.unwatch.set(cfg.name, this.monitor.watch(slot, { name: cfg.name }));
    try {
      await slot.open();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      this.log.error({ err, pcm: cfg.pcm, code }, 'cannot open device; handing it to recovery');
      if (typeof code === 'string' && GONE.has(code)) this.monitor.recordDisconnect(cfg.name);
      else this.monitor.recordError(cfg.name, err);
    }
  }

  private async removeDevice(name: string): Promise<void> {
    const slot = this.slots.get(name);
    if (!slot) return;
    this.slots.delete(name);
    this.unwatch.get(name)?.();
    this.unwatch.delete(name);
    this.monitor.forget(name);
    this.metrics.removeDevice(name);
    await slot.close();
  }

  views(): DeviceView[] {
    const snap = this.monitor.snapshot().devices;
    return [...this.slots.values()].map((slot) => {
      const s = snap[slot.device];
      const t = s?.totals;
      return {
        name: slot.device,
        pcm: slot.cfg.pcm,
        direction: slot.direction,
        status: s?.status ?? 'unknown',
        score: s?.score ?? 0,
        reasons: s?.reasons ?? [],
        up: slot.pcm !== null && (s?.streaming ?? false),
        gaveUp: s?.recovery.gaveUp ?? false,
        totals: t
          ? {
              frames: t.frames,
              xruns: t.xruns,
              lostFrames: t.lostFrames,
              errors: t.errors,
              disconnects: t.disconnects,
              recoveryAttempts: t.recoveryAttempts,
              recoveries: t.recoveries,
              recoveryFailures: t.recoveryFailures,
              latencySpikes: t.latencySpikes,
              consumerDropped: t.consumerDropped,
              starved: t.starved,
            }
          : emptyTotals(),
        detail: s,
      };
    });
  }

  /** One line for systemd's STATUS=. */
  summary(): string {
    const v = this.views();
    const parts = v.map((d) => {
      const why = d.status === 'healthy' || d.reasons.length === 0 ? '' : ` (${d.reasons[0]})`;
      return `${d.name} ${d.gaveUp ? 'gave up' : d.status} ${d.score.toFixed(2)}${why}`;
    });
    return `${v.length} device${v.length === 1 ? '' : 's'}: ${parts.join(', ')}`;
  }

  /**
   * The watchdog rule: the monitor runs, no device gave up, and every device
   * moved audio recently or is in the recovery controller's hands. "Recently"
   * = supervisorTimeoutMs + checkIntervalMs: the time the monitor may take to
   * call a silent device critical and hand it to recovery.
   */
  alive(): boolean {
    return this.whyNotAlive() === null;
  }

  whyNotAlive(): string | null {
    if (this.stopping) return 'stopping';
    if (!this.monitor?.running) return 'monitor not running';
    const grace = this.config.monitor.supervisorTimeoutMs + this.config.monitor.checkIntervalMs;
    const now = this.now();
    const snap = this.monitor.snapshot().devices;
    for (const slot of this.slots.values()) {
      const s: DeviceSnapshot | undefined = snap[slot.device];
      if (s?.recovery.gaveUp) return `${slot.device}: recovery gave up`;
      const moving = now - slot.lastMovedMs <= grace;
      const inRecovery = s !== undefined && s.recovery.phase !== 'idle';
      if (!moving && !inRecovery) return `${slot.device}: no audio for ${Math.round(now - slot.lastMovedMs)} ms and no recovery`;
    }
    return null;
  }
}
