// The poller on a fake procfs tree: every event kind with its evidence,
// samples (unknown fields null), the clear errors, and the health monitor on top.
import { afterEach, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { HealthMonitor } from '../../src/health/index.js';
import { PcmObserver, observePcm, listOpenPcms, type ObserveOptions } from '../../src/observe/index.js';
import type { HealthSample, PcmEvent } from '../../src/types.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeProc, swParamsText } from './fakeproc.js';

const procs: FakeProc[] = [];
const observers: PcmObserver[] = [];
afterEach(async () => {
  for (const o of observers.splice(0)) await o.close();
  for (const p of procs.splice(0)) p.cleanup();
});

function tree(): FakeProc {
  const p = new FakeProc();
  procs.push(p);
  p.addCard(0, 'Dummy');
  p.addCard(1, 'Loopback');
  return p;
}

/** An observer polled by hand (its own timer is set far away). */
async function manual(p: FakeProc, opts: Partial<ObserveOptions> = {}) {
  const o = await observePcm({ device: 'hw:0,0,0', direction: 'capture', pollIntervalMs: 1e6, sampleIntervalMs: 1e6, procRoot: p.root, ...opts });
  observers.push(o);
  const events: PcmEvent[] = [];
  const samples: HealthSample[] = [];
  o.on('event', (e) => events.push(e));
  o.on('sample', (s) => samples.push(s));
  await new Promise((r) => setImmediate(r)); // the first poll
  const types = () => events.map((e) => e.type).filter((t) => t !== 'state');
  return { o, events, samples, types, of: (t: string) => events.filter((e) => e.type === t) };
}

describe('observePcm: errors', () => {
  it('no verbose procfs: rejects ENOTSUP naming CONFIG_SND_VERBOSE_PROCFS', async () => {
    const p = new FakeProc({ verbose: false });
    procs.push(p);
    p.addCard(0, 'Dummy');
    await expect(observePcm({ device: 'hw:0,0', direction: 'capture', procRoot: p.root })).rejects.toMatchObject({
      name: 'PcmError', code: 'ENOTSUP', message: expect.stringContaining('CONFIG_SND_VERBOSE_PROCFS'),
    });
  });
  it('no /proc/asound at all: ENOTSUP', async () => {
    await expect(observePcm({ device: 'hw:0,0', direction: 'capture', procRoot: '/nonexistent/asound' })).rejects.toMatchObject({ code: 'ENOTSUP' });
  });
  it('card absent: ENODEV; no such device or subdevice: ENOENT; not a hw name: TypeError', async () => {
    const p = tree();
    await expect(observePcm({ device: 'hw:Nope', direction: 'capture', procRoot: p.root })).rejects.toMatchObject({ code: 'ENODEV' });
    await expect(observePcm({ device: 'hw:5,0', direction: 'capture', procRoot: p.root })).rejects.toMatchObject({ code: 'ENODEV' });
    await expect(observePcm({ device: 'hw:0,3', direction: 'capture', procRoot: p.root })).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(observePcm({ device: 'hw:0,0,7', direction: 'capture', procRoot: p.root })).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(observePcm({ device: 'default', direction: 'capture', procRoot: p.root })).rejects.toThrow(TypeError);
  });
});

describe('observePcm: events', () => {
  it('opened (pid), RUNNING, owner stall before the xrun, exactly one xrun, recovered with the xrun length from trigger_time', async () => {
    const p = tree();
    const { o, types, of, samples } = await manual(p);
    expect(o.state).toBe('closed');
    p.open(0, 'c', { state: 'RUNNING', pid: 4242, trig: '100.000000000', hw: 0, appl: 0 });
    o.poll();
    p.status(0, 'c', { state: 'RUNNING', pid: 4242, trig: '100.000000000', hw: 480, appl: 480, avail: 0, delay: 0 });
    o.poll();
    // The owner stops reading: hw_ptr moves, appl_ptr does not; avail climbs past 75 % of 1920.
    p.status(0, 'c', { state: 'RUNNING', pid: 4242, trig: '100.000000000', hw: 1200, appl: 480, avail: 720, delay: 720 });
    o.poll();
    expect(types()).toEqual(['opened']);
    p.status(0, 'c', { state: 'RUNNING', pid: 4242, trig: '100.000000000', hw: 2000, appl: 480, avail: 1520, delay: 1520 });
    o.poll();
    expect(types()).toEqual(['opened', 'ownerStall']);
    expect(of('ownerStall')[0]).toMatchObject({ pid: 4242, evidence: { avail: 1520, buffer_size: 1920, owner_pid: 4242 } });
    p.status(0, 'c', { state: 'XRUN', pid: 4242, trig: '100.050000000', hw: 2400, appl: 480, avail: 1920 });
    o.poll();
    o.poll();
    p.status(0, 'c', { state: 'XRUN', pid: 4242, trig: '100.050000000', hw: 2400, appl: 480, avail: 1920 });
    o.poll();
    p.status(0, 'c', { state: 'RUNNING', pid: 4242, trig: '100.550000000', hw: 480, appl: 480, avail: 0 });
    o.poll();
    p.status(0, 'c', { state: 'RUNNING', pid: 4242, trig: '100.550000000', hw: 960, appl: 960, avail: 0 });
    o.poll();
    expect(types()).toEqual(['opened', 'ownerStall', 'xrun', 'recovered']);
    expect(of('xrun')[0]).toMatchObject({ direction: 'capture', pid: 4242, evidence: { seen: 'state', avail: 1920, trigger_time: '100.050000000' } });
    expect(of('recovered')[0]).toMatchObject({ durationUs: 500_000, lostFrames: 24_000, evidence: { after: 'xrun' } });
    expect(of('opened')[0]).toMatchObject({ pid: 4242 });
    o.poll();
    const s = (o as unknown as { det: { takeSample(): HealthSample } }).det.takeSample();
    samples.push(s);
    expect(s).toMatchObject({
      xruns: 1, xrunUsMax: 500_000, lostFrames: 24_000, state: 'running', ownerPid: 4242,
      latenessUsMean: null, latenessUsMax: null, consumerDropped: null, starved: null, recoveryUsMax: 500_000,
    });
    // appl_ptr moved 480 before the xrun, then 480 + 480 after the restart (prepare counts from 0).
    expect(s.frames).toBe(1440);
    expect(s.periods).toBe(3);
  });

  it('a RUNNING read with avail at stop_threshold is the xrun (that read stopped the stream); the XRUN read after it is the same xrun', async () => {
    const p = tree();
    const { o, types, of } = await manual(p);
    p.open(0, 'c', { state: 'RUNNING', pid: 1, trig: '100.000000000', hw: 0, appl: 0 });
    o.poll();
    p.status(0, 'c', { state: 'RUNNING', pid: 1, trig: '100.000000000', hw: 2400, appl: 480, avail: 1920 + 96 });
    o.poll();
    expect(of('xrun')[0]).toMatchObject({ durationUs: 2000, evidence: { seen: 'avail>=stop_threshold', avail: 2016 } });
    p.status(0, 'c', { state: 'XRUN', pid: 1, trig: '100.040000000', hw: 2400, appl: 480, avail: 2016 });
    o.poll();
    p.status(0, 'c', { state: 'RUNNING', pid: 1, trig: '100.440000000', hw: 480, appl: 480 });
    o.poll();
    // No owner-stall warning after the fact: the first read that saw trouble saw the xrun.
    expect(types()).toEqual(['opened', 'xrun', 'recovered']);
    expect(of('recovered')[0]).toMatchObject({ durationUs: 400_000, evidence: { xrun_trigger_time: '100.040000000' } });
  });

  it('an xrun recovered between two polls: trigger_time renewed by the same pid', async () => {
    const p = tree();
    const { o, types, of } = await manual(p);
    p.open(0, 'c', { state: 'RUNNING', pid: 7, trig: '5.000000000', hw: 9600, appl: 9600 });
    o.poll();
    p.status(0, 'c', { state: 'RUNNING', pid: 7, trig: '5.900000000', hw: 480, appl: 480 });
    o.poll();
    expect(types()).toEqual(['opened', 'xrun', 'recovered']);
    expect(of('xrun')[0]).toMatchObject({ pid: 7, evidence: { seen: 'trigger_time', previous_trigger_time: '5.000000000', trigger_time: '5.900000000' } });
  });

  it('a deliberate stop / start (PREPARED seen between) is not an xrun; DRAINING, PAUSED, SETUP are state events', async () => {
    const p = tree();
    const { o, types, events } = await manual(p, { direction: 'playback', device: 'hw:Loopback,0,0' });
    const seq = [
      { state: 'PREPARED', trig: '0.000000000' },
      { state: 'RUNNING', trig: '1.000000000', hw: 480, appl: 1920 },
      { state: 'PAUSED', trig: '1.500000000', hw: 960, appl: 1920 },
      { state: 'RUNNING', trig: '2.000000000', hw: 1440, appl: 2400 },
      { state: 'SETUP', trig: '2.100000000', hw: 1440, appl: 2400 },
      { state: 'PREPARED', trig: '2.100000000' },
      { state: 'RUNNING', trig: '3.000000000', hw: 480, appl: 1920 },
      { state: 'DRAINING', trig: '3.000000000', hw: 960, appl: 1920 },
    ];
    p.open(1, 'p', { ...seq[0]!, pid: 9 });
    o.poll();
    for (const s of seq.slice(1)) {
      p.status(1, 'p', { ...s, pid: 9 });
      o.poll();
    }
    expect(types()).toEqual(['opened']);
    expect(events.filter((e) => e.type === 'state').map((e) => `${e.evidence!.from}->${e.evidence!.to}`)).toEqual([
      'closed->prepared', 'prepared->running', 'running->paused', 'paused->running', 'running->setup', 'setup->prepared',
      'prepared->running', 'running->draining',
    ]);
  });

  it('closed, opened by another pid: ownerChanged; a pid change between two polls too', async () => {
    const p = tree();
    const { o, types, of } = await manual(p);
    p.open(0, 'c', { state: 'RUNNING', pid: 10, trig: '1.0' });
    o.poll();
    p.close(0, 'c');
    o.poll();
    expect(o.state).toBe('closed');
    expect(o.ownerPid).toBeNull();
    p.open(0, 'c', { state: 'RUNNING', pid: 11, trig: '2.0' });
    o.poll();
    p.open(0, 'c', { state: 'RUNNING', pid: 12, trig: '3.0' });
    o.poll();
    expect(types()).toEqual(['opened', 'closed', 'opened', 'ownerChanged', 'ownerChanged']);
    expect(of('closed')[0]).toMatchObject({ pid: 10 });
    expect(of('ownerChanged').map((e) => [e.evidence!.from, e.evidence!.to])).toEqual([[10, 11], [11, 12]]);
  });

  it('device stall: RUNNING with hw_ptr frozen for more than 2 periods (20 ms), then recovered', async () => {
    const p = tree();
    const { o, types, of } = await manual(p);
    p.open(0, 'c', { state: 'RUNNING', pid: 3, trig: '1.0', hw: 4800, appl: 4800 });
    o.poll();
    o.poll();
    await sleep(12);
    o.poll();
    expect(types()).toEqual(['opened']);
    await sleep(15);
    o.poll();
    expect(types()).toEqual(['opened', 'deviceStall']);
    expect(of('deviceStall')[0]!.evidence).toMatchObject({ hw_ptr: 4800 });
    expect(of('deviceStall')[0]!.evidence!.frozen_ms).toBeGreaterThan(20);
    o.poll();
    p.status(0, 'c', { state: 'RUNNING', pid: 3, trig: '1.0', hw: 5280, appl: 5280 });
    o.poll();
    expect(types()).toEqual(['opened', 'deviceStall', 'recovered']);
    expect(of('recovered')[0]!.evidence).toMatchObject({ after: 'deviceStall' });
  });

  it('owner stall by appl_ptr alone (avail below 75 %): hw_ptr moved half the buffer (and 2 periods past avail_min) while appl_ptr stood still', async () => {
    const p = tree();
    const { o, types, of } = await manual(p, { direction: 'playback', device: { card: 'Dummy', device: 0, subdevice: 0 } });
    const at = (hw: number, appl: number) => p.status(0, 'p', { state: 'RUNNING', pid: 5, trig: '1.0', hw, appl, avail: 9600 - (appl - hw) });
    p.open(0, 'p', { state: 'RUNNING', pid: 5, trig: '1.0', hw: 0, appl: 9120, avail: 480 }, 0, 480, 9600);
    o.poll();
    at(480, 9600);
    o.poll();
    at(2400, 9600);
    o.poll();
    expect(types()).toEqual(['opened']);
    at(5280, 9600);
    o.poll();
    expect(types()).toEqual(['opened', 'ownerStall']);
    expect(of('ownerStall')[0]!.evidence).toMatchObject({ hw_frames_since_appl_moved: 4800, avail: 5280, buffer_size: 9600 });
    // Counted once per episode; the owner writes again: over.
    at(5760, 14880);
    o.poll();
    at(6240, 15360);
    o.poll();
    expect(of('ownerStall')).toHaveLength(1);
  });

  it('SUSPENDED -> suspend, then resume', async () => {
    const p = tree();
    const { o, types } = await manual(p);
    p.open(0, 'c', { state: 'RUNNING', pid: 3, trig: '1.0', hw: 480, appl: 480 });
    o.poll();
    p.status(0, 'c', { state: 'SUSPENDED', pid: 3, trig: '2.0', hw: 960, appl: 960 });
    o.poll();
    p.status(0, 'c', { state: 'RUNNING', pid: 3, trig: '3.0', hw: 1440, appl: 1440 });
    o.poll();
    expect(types()).toEqual(['opened', 'suspend', 'resume']);
  });

  it('unplug -> disconnect (ENODEV); the card back under another index -> reappeared, found by its id', async () => {
    const p = tree();
    const { o, types, of, samples } = await manual(p, { device: 'hw:Loopback,0', direction: 'playback' });
    p.open(1, 'p', { state: 'RUNNING', pid: 8, trig: '1.0', hw: 480, appl: 960 });
    o.poll();
    p.unplug(1);
    o.poll();
    o.poll();
    expect(o.state).toBe('disconnected');
    expect(types()).toEqual(['opened', 'disconnect']);
    expect(of('disconnect')[0]).toMatchObject({ errno: 'ENODEV', pid: 8 });
    p.addCard(2, 'Loopback');
    o.poll();
    expect(types()).toEqual(['opened', 'disconnect', 'reappeared']);
    expect(of('reappeared')[0]!.evidence).toMatchObject({ card: 2 });
    expect(o.state).toBe('closed');
    p.open(2, 'p', { state: 'RUNNING', pid: 9, trig: '5.0', hw: 480, appl: 960 });
    o.poll();
    expect(types()).toEqual(['opened', 'disconnect', 'reappeared', 'opened', 'ownerChanged']);
    expect(o.substream).toBe('hw:2,0,0');
    expect(samples).toEqual([]);
  });

  it('the kernel\'s DISCONNECTED state is the disconnect (the card stays until its owner closes); one disconnect, then reappeared', async () => {
    const p = tree();
    const { o, types, of } = await manual(p);
    p.open(0, 'c', { state: 'RUNNING', pid: 8, trig: '1.0', hw: 480, appl: 480 });
    o.poll();
    p.status(0, 'c', { state: 'DISCONNECTED', pid: 8, trig: '1.0', hw: 960, appl: 480 });
    o.poll();
    o.poll();
    expect(types()).toEqual(['opened', 'disconnect']);
    expect(of('disconnect')[0]).toMatchObject({ errno: 'ENODEV', pid: 8, evidence: { seen: 'state' } });
    p.close(0, 'c'); // the owner lets go; then the kernel removes the card
    o.poll();
    p.unplug(0);
    o.poll();
    o.poll();
    expect(o.state).toBe('disconnected');
    p.addCard(0, 'Dummy');
    o.poll();
    expect(types()).toEqual(['opened', 'disconnect', 'closed', 'reappeared']);
  });

  it('allowMissing: starts disconnected and reports reappeared', async () => {
    const p = new FakeProc();
    procs.push(p);
    const { o, types } = await manual(p, { device: 'hw:Dummy', allowMissing: true });
    expect(o.state).toBe('disconnected');
    p.addCard(0, 'Dummy');
    o.poll();
    expect(types()).toEqual(['reappeared']);
  });

  it('no subdevice given: follows whichever substream is open', async () => {
    const p = tree();
    const { o, types } = await manual(p, { device: 'hw:Dummy' });
    p.open(0, 'c', { state: 'RUNNING', pid: 21, trig: '1.0' }, 1);
    o.poll();
    expect(o.substream).toBe('hw:0,0,1');
    p.close(0, 'c', 1);
    o.poll();
    p.open(0, 'c', { state: 'RUNNING', pid: 22, trig: '2.0' }, 0);
    o.poll();
    expect(o.substream).toBe('hw:0,0,0');
    expect(types()).toEqual(['opened', 'closed', 'opened', 'ownerChanged']);
  });

  it('pointer wrap at the boundary (2^30 on a 32-bit kernel) is progress, not a restart', async () => {
    const p = tree();
    const { o, types } = await manual(p);
    p.open(0, 'c', { state: 'RUNNING', pid: 3, trig: '1.0', hw: 2 ** 30 - 240, appl: 2 ** 30 - 240 });
    writeFileSync(join(p.dir(0, 0, 'c'), 'sw_params'), swParamsText(480, 2 ** 30));
    o.poll();
    p.status(0, 'c', { state: 'RUNNING', pid: 3, trig: '1.0', hw: 0, appl: 0 });
    o.poll();
    const s = (o as unknown as { det: { takeSample(): HealthSample } }).det.takeSample();
    expect(types()).toEqual(['opened']);
    expect(s.frames).toBe(240);
  });
});

describe('observePcm: samples on its timer, and the monitor', () => {
  it('emits one sample per window with delay and avail; unknown fields null', async () => {
    const p = tree();
    p.open(0, 'c', { state: 'RUNNING', pid: 3, trig: '1.0', hw: 0, appl: 0, delay: 240, avail: 240 });
    const o = await observePcm({ device: 'hw:0,0', direction: 'capture', pollIntervalMs: 5, sampleIntervalMs: 50, procRoot: p.root });
    observers.push(o);
    const samples: HealthSample[] = [];
    o.on('sample', (s) => samples.push(s));
    let ptr = 0;
    const t = setInterval(() => {
      ptr += 240;
      p.status(0, 'c', { state: 'RUNNING', pid: 3, trig: '1.0', hw: ptr, appl: ptr, delay: 240, avail: 240 });
    }, 5);
    await sleep(230);
    clearInterval(t);
    await o.close();
    expect(samples.length).toBeGreaterThanOrEqual(3);
    const s = samples[1]!;
    expect(s).toMatchObject({
      device: 'hw:0,0', direction: 'capture', state: 'running', ownerPid: 3, delayUsMean: 5000, delayUsMax: 5000,
      availFramesMax: 240, latenessUsMean: null, latenessUsMax: null, consumerDropped: null, starved: null,
    });
    expect(s.frames).toBeGreaterThan(0);
    expect(s.tEndNs).toBeGreaterThan(s.tStartNs);
    const n = samples.length;
    await sleep(30);
    expect(samples.length).toBe(n); // nothing after close
  });

  it('HealthMonitor.watch(observer): no reopen; a stalled owner makes it critical and recovery runs the callbacks only', async () => {
    const p = tree();
    p.open(0, 'c', { state: 'RUNNING', pid: 3, trig: '1.0', hw: 0, appl: 0 });
    const o = await observePcm({ device: 'hw:0,0', direction: 'capture', pollIntervalMs: 5, sampleIntervalMs: 20, procRoot: p.root });
    observers.push(o);
    expect('reopen' in o).toBe(false);
    const m = new HealthMonitor(
      { checkIntervalMs: 20, supervisorTimeoutMs: 150, recovery: { initialBackoffMs: 10, maxAttempts: 2, jitter: 0 } },
      { logger: pino({ level: 'silent' }) },
    );
    const calls: string[] = [];
    m.registerRecoveryCallback('restart-owner', async (d) => void calls.push(d));
    m.watch(o);
    m.start();
    let ptr = 0;
    let moving = true;
    const t = setInterval(() => {
      if (moving) ptr += 240;
      p.status(0, 'c', { state: 'RUNNING', pid: 3, trig: '1.0', hw: ptr, appl: ptr });
    }, 5);
    await sleep(200);
    expect(m.status('hw:0,0')).toBe('healthy');
    moving = false; // device stall: hw_ptr frozen
    await sleep(400);
    clearInterval(t);
    m.stop();
    expect(calls.length).toBeGreaterThanOrEqual(1);
    expect(calls[0]).toBe('hw:0,0');
  });

  it('HealthMonitor: an unplugged card is critical "disconnected"; back, it waits for its owner to stream (no longer "disconnected")', async () => {
    const p = tree();
    const o = await observePcm({ device: 'hw:Loopback,0', direction: 'playback', pollIntervalMs: 1e6, sampleIntervalMs: 1e6, procRoot: p.root });
    observers.push(o);
    const m = new HealthMonitor({ checkIntervalMs: 1e6 }, { logger: pino({ level: 'silent' }) });
    m.watch(o);
    m.start();
    await new Promise((r) => setImmediate(r));
    p.unplug(1);
    o.poll();
    expect(m.status('hw:Loopback,0')).toBe('critical');
    expect(m.snapshot().devices['hw:Loopback,0']!.reasons.join()).toMatch(/disconnected/);
    p.addCard(1, 'Loopback');
    o.poll();
    expect(m.snapshot().devices['hw:Loopback,0']!.disconnected).toBe(false);
    m.stop();
  });
});

describe('listOpenPcms', () => {
  it('lists open substreams with pid, command and params', () => {
    const p = tree();
    p.open(0, 'c', { state: 'RUNNING', pid: process.pid, trig: '1.0' }, 1);
    p.open(1, 'p', { state: 'PREPARED', pid: 999999 });
    const r = listOpenPcms(p.root);
    expect(r.verbose).toBe(true);
    expect(r.pcms).toEqual([
      expect.objectContaining({ name: 'hw:0,0,1', byId: 'hw:CARD=Dummy,DEV=0', direction: 'capture', state: 'running', ownerPid: process.pid, ownerCommand: expect.any(String), rate: 48000, periodFrames: 480, bufferFrames: 1920 }),
      expect.objectContaining({ name: 'hw:1,0,0', direction: 'playback', state: 'prepared', ownerPid: 999999, ownerCommand: null }),
    ]);
  });
});
