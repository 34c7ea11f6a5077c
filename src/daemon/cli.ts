#!/usr/bin/env node
// alsa-health: the command line. `run` is the daemon; `list`, `probe` and `status` are for operators.
// The native engine is loaded by the commands that need it, so --help works without it.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError, EX_CONFIG, loadConfig, validateConfig, type DeviceConfig } from './config.js';
import type { DaemonLog } from './log.js';

/** sysexits.h EX_USAGE: bad flags or arguments. */
const EX_USAGE = 64;

function version(): string {
  try {
    const here = dirname(fileURLToPath(import.meta.url));
    return (JSON.parse(readFileSync(resolve(here, '../../package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

const positiveInt = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive whole number.`);
  return n;
};
const positiveNumber = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive number.`);
  return n;
};

/** sdNotify that never throws: a broken NOTIFY_SOCKET must not take the daemon down. */
function safeNotify(send: (m: string) => boolean, log: () => DaemonLog['logger']): (m: string) => boolean {
  let warned = false;
  return (m) => {
    try {
      return send(m);
    } catch (err) {
      if (!warned) log().warn({ err }, 'sd_notify failed');
      warned = true;
      return false;
    }
  };
}

async function runDaemon(opts: { config?: string; pretty?: boolean }): Promise<void> {
  const [{ createLog }, { Daemon, readDaemonConfig }] = await Promise.all([import('./log.js'), import('./daemon.js')]);
  const log = await createLog({ level: 'info', pretty: opts.pretty === true });
  const logger = log.logger;
  const exit = (code: number): never => {
    log.flush();
    process.exit(code);
  };
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    exit(1);
  });
  process.on('unhandledRejection', (err) => {
    logger.fatal({ err }, 'unhandled rejection');
    exit(1);
  });

  // Signals first: a SIGTERM while the engine loads or devices open is still a clean stop.
  let daemon: InstanceType<typeof Daemon> | null = null;
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    // Whatever hangs, systemd gets its answer within 2 s.
    setTimeout(() => {
      logger.error({ signal }, 'shutdown took over 1.8 s; exiting anyway');
      exit(1);
    }, 1800).unref();
    void (daemon ? daemon.stop(signal) : Promise.resolve()).then(() => exit(0));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => {
    if (!daemon) return void logger.warn('SIGHUP while starting: ignored');
    logger.info('SIGHUP: reloading the config');
    daemon.reload().catch((err: unknown) => logger.error({ err }, 'reload failed'));
  });

  // The config before the engine: a bad one is exit 78 whether or not the addon loads.
  let initialConfig: Awaited<ReturnType<typeof readDaemonConfig>>;
  try {
    initialConfig = await readDaemonConfig(opts.config, logger.child({ component: 'daemon' }));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    logger.fatal({ config: err.source, problems: err.problems }, 'bad config: refusing to start');
    process.stderr.write(`alsa-health: ${err.message}\n`);
    return exit(EX_CONFIG);
  }
  let pcm: typeof import('../pcm.js');
  try {
    pcm = await import('../pcm.js');
  } catch (err) {
    logger.fatal({ err }, 'cannot load the native engine (see README: building from source)');
    return exit(1);
  }
  if (stopping) return;
  daemon = new Daemon({
    ...(opts.config ? { configPath: opts.config } : {}),
    initialConfig,
    logger,
    deps: { openPcm: pcm.openPcm, sdNotify: safeNotify(pcm.sdNotify, () => logger) },
  });
  try {
    await daemon.start();
  } catch (err) {
    // Config errors were caught above; this is e.g. the HTTP port taken.
    logger.fatal({ err }, 'cannot start');
    await daemon.stop('start failed');
    return exit(1);
  }
}

/** Which hardware PCMs are open now, by which pid (from /proc/asound; no engine needed). */
async function openPcmsText(): Promise<{ text: string; json: unknown }> {
  const [{ listOpenPcms }, { table }] = await Promise.all([import('../observe/list.js'), import('./table.js')]);
  const r = listOpenPcms();
  if (!r.verbose && r.pcms.length === 0) {
    return { text: 'Open now: unknown (no /proc/asound/card*/pcm*/sub*/status: no sound card, or a kernel without CONFIG_SND_VERBOSE_PROCFS)', json: r.pcms };
  }
  if (r.pcms.length === 0) return { text: 'Open now: none', json: r.pcms };
  const rows = r.pcms.map((p) => [
    p.name, p.byId, p.direction, p.state.toUpperCase(), String(p.ownerPid ?? '?'), p.ownerCommand ?? '?',
    p.rate === null ? '' : `${p.format ?? '?'} ${p.rate} Hz ${p.channels}ch, period ${p.periodFrames}, buffer ${p.bufferFrames}`,
  ]);
  return { text: `Open now:\n${table(['PCM', 'BY ID', 'DIRECTION', 'STATE', 'PID', 'COMMAND', 'PARAMS'], rows)}`, json: r.pcms };
}

async function listCommand(opts: { json?: boolean; open?: boolean }): Promise<number> {
  if (opts.open) {
    const o = await openPcmsText();
    process.stdout.write(opts.json ? `${JSON.stringify(o.json, null, 2)}\n` : `${o.text}\n`);
    return 0;
  }
  const [{ listPcms }, { table }] = await Promise.all([import('../pcm.js'), import('./table.js')]);
  const pcms = await listPcms();
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(pcms, null, 2)}\n`);
    return 0;
  }
  const rows = pcms.map((p) => [p.name, p.directions.join('+'), (p.description.split('\n')[0] ?? '').trim()]);
  process.stdout.write(`${table(['NAME', 'DIRECTION', 'DESCRIPTION'], rows)}\n\n${(await openPcmsText()).text}\n`);
  return 0;
}

interface ProbeFlags {
  seconds: number;
  direction: 'capture' | 'playback';
  rate?: number;
  channels?: number;
  format?: string;
  periodFrames?: number;
  bufferPeriods?: number;
  faults?: string;
  config?: string;
  json?: boolean;
}

async function probeCommand(device: string, f: ProbeFlags): Promise<number> {
  let dev: DeviceConfig;
  let latencyThresholdMs = 100;
  try {
    const fromConfig = f.config ? await loadConfig(f.config) : null;
    const named = fromConfig?.devices.find((d) => d.name === device);
    if (fromConfig) latencyThresholdMs = fromConfig.monitor.latencyThresholdMs;
    if (named) dev = named;
    else {
      const raw: Record<string, unknown> = { name: 'probe', pcm: device, direction: f.direction };
      for (const k of ['rate', 'channels', 'format', 'periodFrames', 'bufferPeriods'] as const) if (f[k] !== undefined) raw[k] = f[k];
      if (f.faults) raw.mock = { faults: JSON.parse(f.faults) as unknown };
      dev = validateConfig({ devices: [raw] }, 'probe options').devices[0]!;
    }
  } catch (err) {
    process.stderr.write(`alsa-health probe: ${(err as Error).message}\n`);
    return err instanceof ConfigError && f.config ? EX_CONFIG : EX_USAGE;
  }
  const [{ openPcm }, probe, { pcmOptionsOf }, { attachAudio, defaultAudio }, { pino }] = await Promise.all([
    import('../pcm.js'),
    import('./probe.js'),
    import('./config.js'),
    import('./audio.js'),
    import('pino'),
  ]);
  const log = pino({ level: 'warn' }, pino.destination(2));
  const out = await probe.runProbe({ openPcm }, pcmOptionsOf(dev), f.seconds, latencyThresholdMs, (pcm) =>
    attachAudio(dev.audio ?? defaultAudio(dev.direction), {
      direction: dev.direction,
      audio: pcm.audio,
      bytesPerSecond: pcm.params.rate * pcm.params.bytesPerFrame,
      log,
    }),
  );
  if (!out.report) {
    const e = out.error as (Error & { code?: string }) | undefined;
    process.stderr.write(`alsa-health probe: cannot open ${dev.pcm}: ${e?.message ?? 'unknown error'}${e?.code && !e.message.includes(e.code) ? ` (${e.code})` : ''}\n`);
    if (f.json) process.stdout.write(`${JSON.stringify({ opened: false, error: e?.message, code: e?.code ?? null })}\n`);
    return out.exitCode;
  }
  process.stdout.write(f.json ? `${JSON.stringify({ opened: true, ...out.report }, null, 2)}\n` : `${probe.formatProbe(out.report)}\n`);
  return out.exitCode;
}

async function statusCommand(opts: { url: string; json?: boolean }): Promise<number> {
  const { fetchStatus } = await import('./status.js');
  if (opts.json) {
    try {
      const res = await fetch(new URL('/health', opts.url), { signal: AbortSignal.timeout(3000) });
      process.stdout.write(await res.text());
      return res.status === 200 ? 0 : res.status === 503 ? 1 : 2;
    } catch (err) {
      process.stderr.write(`alsa-health status: no daemon answers at ${opts.url} (${(err as Error).message})\n`);
      return 2;
    }
  }
  const r = await fetchStatus(opts.url);
  (r.exitCode === 2 ? process.stderr : process.stdout).write(`${r.text}\n`);
  return r.exitCode;
}

export function buildProgram(): Command {
  const program = new Command('alsa-health')
    .exitOverride()
    .description('Keeps ALSA audio devices healthy: streams them, scores them, heals them, and reports to systemd and Prometheus.')
    .version(version())
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Examples:
  alsa-health run --config /etc/alsa-health/config.yaml
  alsa-health list
  alsa-health probe hw:0,0 --seconds 5
  alsa-health status

Exit codes: 0 ok, 1 not healthy / failed, 2 cannot open or no daemon, 64 bad usage, 78 bad config.`,
    );

  program
    .command('run')
    .description('Run the daemon: open every configured device, stream, monitor and heal until SIGTERM/SIGINT; SIGHUP reloads the config.')
    .option('-c, --config <file>', 'YAML or JSON config (default /etc/alsa-health/config.yaml; without one and without a sound card, a built-in mock device)')
    .option('--pretty', 'human-readable logs instead of JSON (needs pino-pretty)')
    .addHelpText(
      'after',
      `
Examples:
  alsa-health run --config /etc/alsa-health/config.yaml     # as systemd runs it (Type=notify)
  alsa-health run --pretty                                   # no config, no card: the built-in mock device
  kill -HUP $(pidof alsa-health)                             # reload: only changed devices are reopened

Exit codes: 0 after SIGTERM/SIGINT, 78 bad config, 1 any other failure.`,
    )
    .action(async (opts: { config?: string; pretty?: boolean }) => runDaemon(opts));

  program
    .command('list')
    .description('List the PCMs alsa-lib knows (name, direction, description), then the hardware PCMs open now and by which pid.')
    .option('--json', 'print JSON for scripts')
    .option('--open', 'only the PCMs open now (from /proc/asound; works without the native engine)')
    .addHelpText(
      'after',
      `
Examples:
  alsa-health list
  alsa-health list --open                 # who holds hw:0,0? (PID, COMMAND)
  alsa-health list --json | jq -r '.[] | select(.directions | index("capture")) | .name'`,
    )
    .action(async (opts: { json?: boolean }) => {
      process.exitCode = await listCommand(opts);
    });

  program
    .command('probe')
    .description('Open one device, stream it for a few seconds and print a health report.')
    .argument('<device>', "an ALSA PCM name (hw:0,0, default, mock:NAME), or a device name from --config")
    .option('-s, --seconds <n>', 'how long to stream', positiveNumber('--seconds'), 3)
    .addOption(new Option('-d, --direction <dir>', 'stream direction').choices(['capture', 'playback']).default('capture'))
    .option('--rate <hz>', 'sample rate (default 48000)', positiveInt('--rate'))
    .option('--channels <n>', 'channels (default 2)', positiveInt('--channels'))
    .option('--format <fmt>', 'sample format (default S16_LE)')
    .option('--period-frames <n>', 'period size in frames (default rate/50)', positiveInt('--period-frames'))
    .option('--buffer-periods <n>', 'buffer size in periods (default 4)', positiveInt('--buffer-periods'))
    .option('--faults <json>', "mock devices only: a fault script, e.g. '[{\"at\":500,\"type\":\"xrun\"}]'")
    .option('-c, --config <file>', 'take the device settings from this config when <device> is one of its names')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
Examples:
  alsa-health probe hw:0,0 --seconds 5
  alsa-health probe hw:1,0 --direction playback --period-frames 480 --buffer-periods 8
  alsa-health probe hdmi-in --config /etc/alsa-health/config.yaml
  alsa-health probe mock:test --faults '[{"at":500,"type":"xrun","count":3}]'

Exit codes: 0 healthy, 1 not healthy, 2 could not open, 64 bad usage.`,
    )
    .action(async (device: string, opts: ProbeFlags) => {
      process.exitCode = await probeCommand(device, opts);
    });

  program
    .command('status')
    .description("Ask a running daemon (its /health) and print every device's status, score, reasons and counters.")
    .option('-u, --url <url>', 'the daemon\'s HTTP address', 'http://127.0.0.1:9595')
    .option('--json', 'print the /health JSON as it is')
    .addHelpText(
      'after',
      `
Examples:
  alsa-health status
  alsa-health status --url http://127.0.0.1:9595 --json

Exit codes: 0 every device healthy or degraded, 1 some device is not, 2 no daemon answered.`,
    )
    .action(async (opts: { url: string; json?: boolean }) => {
      process.exitCode = await statusCommand(opts);
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  // `alsa-health list | head`: a reader that goes away is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : EX_USAGE;
      return;
    }
    process.stderr.write(`alsa-health: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
}

await main(process.argv);
