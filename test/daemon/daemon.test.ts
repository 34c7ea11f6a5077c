// The daemon's lifecycle in-process, against a fake engine (a PcmStream look-alike that
// emits a sample every 20 ms). The real engine is exercised by cli.test.ts.

import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Daemon } from '../../src/daemon/daemon.js';
import type { PcmStreamLike } from '../../src/daemon/slot.js';
import type { HealthSample, PcmEvent, PcmOptions, PcmParams } from '../../src/types.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await tick(20);
  }
  throw new Error(`timed out waiting for: ${what}`);
}

class FakePcm extends EventEmitter implements PcmStreamLike {
  readonly device: string;
  readonly direction: PcmOptions['direction'];
  readonly params: PcmParams;
  readonly audio: Readable | Writable;
  connected = true;
  closed = false;
  reopens = 0;
  private timer: NodeJS.Timeout;

  constructor(
    readonly options: PcmOptions,
    private readonly engine: FakeEngine,
  ) {
    super();
    this.device = options.device;
    this.direction = options.direction;
    this.params = {
      device: options.device,
      direction: options.direction,
      rate: options.rate ?? 48000,
      channels: options.channels ?? 2,
      format: options.format ?? 'S16_LE',
      periodFrames: options.periodFrames ?? 960,
      bufferFrames: (options.periodFrames ?? 960) * (options.bufferPeriods ?? 4),
      bytesPerFrame: 4,
      sampleIntervalMs: 20,
    };
    this.audio = options.direction === 'capture' ? new PassThrough() : new Writable({ write: (_c, _e, cb) => setTimeout(cb, 100) }); // paced like a device
    this.timer = setInterval(() => this.emit('sample', this.sample()), 20);
  }

  private sample(): HealthSample {
    const periods = this.connected ? 1 : 0;
    return {
      device: this.device,
      direction: this.direction,
      tStartNs: 0n,
      tEndNs: 0n,
      periods,
      frames: periods * 960,
      xruns: 0,
      xrunUsMax: 0,
      lostFrames: 0,
      errors: 0,
      lastErrno: null,
      lastError: null,
      state: this.connected ? 'running' : 'disconnected',
      latenessUsMean: 100,
      latenessUsMax: 200,
      delayUsMean: 20000,
      delayUsMax: 30000,
      recoveryUsMax: 0,
      consumerDropped: 0,
      starved: 0,
    };
  }

  unplug(): void {
    this.connected = false;
    const e: PcmEvent = { type: 'disconnect', device: this.device, direction: this.direction, tDetectNs: process.hrtime.bigint(), errno: 'ENODEV' };
    this.emit('event', e);
  }

  async reopen(): Promise<void> {
    if (this.engine.present.get(this.device) === false) throw Object.assign(new Error('No such device'), { code: 'ENODEV' });
    this.reopens++;
    this.connected = true;
    this.emit('event', { type: 'reopened', device: this.device, direction: this.direction, tDetectNs: process.hrtime.bigint() });
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.closed = true;
  }
}

class FakeEngine {
  opened: FakePcm[] = [];
  present = new Map<string, boolean>();
  notes: string[] = [];
  openPcm = async (o: PcmOptions): Promise<PcmStreamLike> => {
    if (this.present.get(o.device) === false) throw Object.assign(new Error(`${o.device}: No such device`), { code: 'ENODEV' });
    const p = new FakePcm(o, this);
    this.opened.push(p);
    return p;
  };
  sdNotify = (m: string): boolean => {
    this.notes.push(m);
    return true;
  };
  latest(device: string): FakePcm {
    const p = [...this.opened].reverse().find((x) => x.device === device);
    if (!p) throw new Error(`never opened ${device}`);
    return p;
  }
}

const baseConfig = (devices: object[], extra: object = {}) => ({
  logLevel: 'silent',
  http: { listen: '127.0.0.1:0' },
  monitor: { checkIntervalMs: 50, hysteresisMs: 0, supervisorTimeoutMs: 2000 },
  recovery: { initialBackoffMs: 50, maxBackoffMs: 100, jitter: 0, maxAttempts: 3, attemptTimeoutMs: 1000 },
  devices,
  ...extra,
});
const cap = (name: string, extra: object = {}) => ({ name, pcm: `mock:${name}`, direction: 'capture', ...extra });

describe('daemon lifecycle (fake engine)', () => {
  let dir: string;
  let file: string;
  let engine: FakeEngine;
  let daemon: Daemon;
  const logger = pino({ level: 'silent' });

  const write = (cfg: object) => writeFileSync(file, stringify(cfg));
  const health = async (path = '/health') => {
    const r = await fetch(`http://${daemon.httpAddress}${path}`);
    return { status: r.status, body: (await r.json()) as { ok: boolean; devices: { name: string; status: string }[] } };
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'alsa-health-daemon-'));
    file = join(dir, 'config.yaml');
    engine = new FakeEngine();
  });
  afterEach(async () => {
    await daemon?.stop('test end');
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async (cfg: object, env: NodeJS.ProcessEnv = {}) => {
    write(cfg);
    daemon = new Daemon({ configPath: file, logger, deps: { openPcm: engine.openPcm, sdNotify: engine.sdNotify, env } });
    await daemon.start();
  };

  it('opens every device, says READY=1 with a STATUS line, serves /health', async () => {
    await start(baseConfig([cap('a'), cap('b', { direction: 'playback', pcm: 'mock:b' })]));
    expect(engine.opened.map((p) => p.device).sort()).toEqual(['mock:a', 'mock:b']);
    expect(engine.notes[0]).toMatch(/^READY=1\nSTATUS=2 devices: a .*, b /);
    await until('both healthy', async () => (await health()).status === 200);
    const h = await health('/health/b');
    expect(h.body).toMatchObject({ name: 'b', status: 'healthy' });
  });

  it('a disconnect makes /health 503; recovery reopens the device and /health is 200 again', async () => {
    await start(baseConfig([cap('a')]));
    await until('healthy', async () => (await health()).status === 200);
    engine.present.set('mock:a', false);
    engine.latest('mock:a').unplug();
    await until('503', async () => (await health()).status === 503);
    expect(engine.notes.some((n) => /^STATUS=1 device: a critical .*disconnected/.test(n))).toBe(true);
    engine.present.set('mock:a', true);
    await until('200 again', async () => (await health()).status === 200);
    expect(engine.latest('mock:a').reopens).toBeGreaterThanOrEqual(1);
    expect(engine.opened).toHaveLength(1); // healed in place, not a second open
  });

  it('a device missing at start is handed to recovery and opened when it appears', async () => {
    engine.present.set('mock:late', false);
    await start(baseConfig([cap('late')]));
    expect(engine.notes[0]).toMatch(/^READY=1/); // READY does not wait for the device
    await until('503', async () => (await health()).status === 503);
    engine.present.set('mock:late', true);
    await until('opened by recovery', () => engine.opened.length === 1);
    await until('200', async () => (await health()).status === 200);
  });

  it('reload reopens only the changed device; added and removed ones are opened and closed', async () => {
    await start(baseConfig([cap('same'), cap('changed'), cap('gone')]));
    const same = engine.latest('mock:same');
    const changedBefore = engine.latest('mock:changed');
    write(baseConfig([cap('same'), cap('changed', { bufferPeriods: 8 }), cap('new')]));
    await daemon.reload();
    expect(engine.latest('mock:same')).toBe(same);
    expect(same.closed).toBe(false);
    expect(changedBefore.closed).toBe(true);
    expect(engine.latest('mock:changed').options.bufferPeriods).toBe(8);
    expect(engine.latest('mock:gone').closed).toBe(true);
    expect(engine.latest('mock:new').closed).toBe(false);
    expect(engine.opened).toHaveLength(5);
    expect([...daemon.slots.keys()].sort()).toEqual(['changed', 'new', 'same']);
    expect(engine.notes).toContain(engine.notes.find((n) => n.startsWith('RELOADING=1\nMONOTONIC_USEC=')));
  });

  it('reload with new monitor thresholds or listen address keeps every PCM open', async () => {
    await start(baseConfig([cap('a')]));
    const pcm = engine.latest('mock:a');
    const before = daemon.monitor;
    const oldAddr = daemon.httpAddress;
    write(baseConfig([cap('a')], { monitor: { checkIntervalMs: 70, hysteresisMs: 0, supervisorTimeoutMs: 2000 } }));
    await daemon.reload();
    expect(daemon.monitor).not.toBe(before);
    expect(before.running).toBe(false);
    expect(daemon.monitor.config.checkIntervalMs).toBe(70);
    expect(engine.opened).toHaveLength(1);
    expect(pcm.closed).toBe(false);
    await until('the new monitor sees samples', async () => (await health()).status === 200);

    write(baseConfig([cap('a')], { http: { listen: '127.0.0.1:0' }, logLevel: 'warn' }));
    await daemon.reload();
    expect(daemon.httpAddress).toBe(oldAddr); // same spec: the server stays
    expect(engine.opened).toHaveLength(1);
  });

  it("recovery callbacks registered on the daemon survive a reload that replaces the monitor", async () => {
    await start(baseConfig([cap('a')]));
    const calls: string[] = [];
    daemon.registerRecoveryCallback('mine', (device) => void calls.push(device));
    const before = daemon.monitor;
    write(baseConfig([cap('a')], { monitor: { checkIntervalMs: 70, hysteresisMs: 0, supervisorTimeoutMs: 2000 } }));
    await daemon.reload();
    expect(daemon.monitor).not.toBe(before);
    await until('healthy on the new monitor', async () => (await health()).status === 200);
    engine.latest('mock:a').unplug();
    await until('the callback ran on the new monitor', () => calls.length > 0);
    expect(calls[0]).toBe('a');
    expect(daemon.unregisterRecoveryCallback('mine')).toBe(true);
    expect(daemon.monitor.unregisterRecoveryCallback('mine')).toBe(false); // gone from the live monitor too
  });

  it('a bad config on reload keeps the running one', async () => {
    await start(baseConfig([cap('a')]));
    writeFileSync(file, 'devices:\n  - name: a\n    pcm: mock:a\n    direction: sideways\n');
    await daemon.reload();
    expect(daemon.config.devices[0]!.direction).toBe('capture');
    expect(engine.opened).toHaveLength(1);
    expect(engine.latest('mock:a').closed).toBe(false);
    expect(engine.notes.at(-1)).toMatch(/^READY=1\nSTATUS=.*reload refused: bad config/);
  });

  it('feeds the watchdog while audio moves and stops after recovery gives up', async () => {
    await start(baseConfig([cap('a')]), { WATCHDOG_USEC: '100000' });
    expect(daemon.notifier.watchdog).toEqual({ intervalMs: 50 });
    await until('pings', () => engine.notes.filter((n) => n === 'WATCHDOG=1').length >= 3);
    engine.present.set('mock:a', false);
    engine.latest('mock:a').unplug();
    await until('gave up', () => daemon.views()[0]!.gaveUp, 8000);
    const at = engine.notes.length;
    await tick(300);
    expect(engine.notes.slice(at).filter((n) => n === 'WATCHDOG=1')).toEqual([]);
    expect(daemon.whyNotAlive()).toBe('a: recovery gave up');
  });

  it('WATCHDOG_PID of another process: no pings', async () => {
    await start(baseConfig([cap('a')]), { WATCHDOG_USEC: '100000', WATCHDOG_PID: '1' });
    expect(daemon.notifier.watchdog).toBeNull();
  });

  it('stop closes every PCM and says STOPPING=1', async () => {
    await start(baseConfig([cap('a'), cap('b')]));
    await daemon.stop('SIGTERM');
    expect(engine.opened.every((p) => p.closed)).toBe(true);
    expect(engine.notes.at(-1)).toMatch(/^STOPPING=1/);
  });

  it('no config file and no sound card: the built-in mock device', async () => {
    daemon = new Daemon({ logger, deps: { openPcm: engine.openPcm, sdNotify: engine.sdNotify, hasSoundCard: () => false, env: {} } });
    // The built-in config listens on 127.0.0.1:9595, which may be taken on a test machine: check the choice only.
    const cfg = await daemon.readConfig();
    expect(cfg.devices.map((d) => d.pcm)).toEqual(['mock:builtin']);
  });

  it('no config file but a sound card: refuses with a config error', async () => {
    daemon = new Daemon({ logger, deps: { openPcm: engine.openPcm, sdNotify: engine.sdNotify, hasSoundCard: () => true, env: {} } });
    await expect(daemon.readConfig()).rejects.toThrow(/no --config given/);
  });
});
