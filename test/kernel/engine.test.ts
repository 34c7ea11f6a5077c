// The alsa-health engine (dist/ + build/Release/*.node) against real kernel
// ALSA drivers (snd-dummy, snd-aloop) in a QEMU VM. Needs `npm run build` first.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { REPO, describeRun, jsonLines, runInVm, type VmResult } from './vm';
import { scenarioGetter, vmSuite, type R } from './suite';

const BYTE_RATE = 48000 * 2 * 2;

function engineBuilt(): string | null {
  if (!existsSync(join(REPO, 'dist/index.js'))) return 'dist/index.js missing (npm run build)';
  const rel = join(REPO, 'build/Release');
  if (!existsSync(rel) || !readdirSync(rel).some((f) => f.endsWith('.node'))) return 'build/Release/*.node missing (npm run build)';
  return null;
}

const suite = vmSuite('engine', engineBuilt);

const within = (x: number, target: number, frac: number) => {
  expect(x).toBeGreaterThan(target * (1 - frac));
  expect(x).toBeLessThan(target * (1 + frac));
};
const f0 = (x: number | null | undefined) => (typeof x === 'number' ? x.toFixed(0) : String(x));
const f1 = (x: number | null | undefined) => (typeof x === 'number' ? x.toFixed(1) : String(x));

suite('kernel VM: alsa-health engine on snd-dummy / snd-aloop', () => {
  let run: VmResult;
  const by: Record<string, R> = {};
  const get = scenarioGetter(by, () => run);

  beforeAll(async () => {
    run = await runInVm('node test/kernel/guest/engine.mjs', { timeoutMs: 150_000 });
    for (const r of jsonLines<R>(run.stdout)) by[r.scenario] = r;
    console.log(`[kernel] ${describeRun(run)}`);
    for (const [k, v] of Object.entries(by)) if (k !== 'env') console.log(`[kernel] engine ${k}: ${JSON.stringify(v)}`);
    if (run.stderr.trim()) console.log(`[kernel] guest stderr:\n${run.stderr}`);
  });

  it('loads the engine in the guest', () => {
    expect(run.timedOut).toBe(false);
    const env = get('env');
    console.log(`[kernel] engine loaded in ${f0(env.engineLoadMs)} ms (${env.node})`);
    expect(by.done?.ok).toBe(true);
    expect(run.exitCode).toBe(0);
  });

  it('listPcms() shows the Dummy and Loopback cards', () => {
    const r = get('list');
    console.log(`[kernel] listPcms(): ${r.names.join(', ')}`);
    expect(r.hasDummy).toBe(true);
    expect(r.hasLoopback).toBe(true);
  });

  it('captures hw:Dummy at 192000 B/s, no xruns', () => {
    const r = get('capture-rate');
    console.log(`[kernel] engine hw:Dummy capture: ${f0(r.byteRate)} B/s (audio stream), ${f0(r.sampleByteRate)} B/s (samples), ${f0(r.hwPtrByteRate)} B/s (hw_ptr); open -> first good window ${f0(r.openToFirstGoodMs)} ms; lateness max ${f0(r.latenessUsMax)} us; xruns ${r.xruns}`);
    expect(r.xruns, JSON.stringify(r)).toBe(0);
    within(r.byteRate, BYTE_RATE, 0.03);
    within(r.sampleByteRate, BYTE_RATE, 0.03);
    within(r.hwPtrByteRate, BYTE_RATE, 0.03);
    expect(r.xruns).toBe(0);
    expect(r.errors).toBe(0);
    expect(r.stateAfterClose).toBe('closed');
  });

  it('plays hw:Loopback,0,0 at 192000 B/s, no xruns', () => {
    const r = get('playback-rate');
    console.log(`[kernel] engine hw:Loopback,0,0 playback: ${f0(r.acceptedByteRate)} B/s (taken from the Writable), ${f0(r.sampleByteRate)} B/s (samples), ${f0(r.hwPtrByteRate)} B/s (hw_ptr); starved ${r.starved}; xruns ${r.xruns}`);
    within(r.sampleByteRate, BYTE_RATE, 0.03);
    within(r.hwPtrByteRate, BYTE_RATE, 0.03);
    // JS refills the ring when it is half empty (~150 ms steps): a coarse figure.
    within(r.acceptedByteRate, BYTE_RATE, 0.1);
    expect(r.xruns).toBe(0);
    expect(r.errors).toBe(0);
  });

  it('engine playback -> hw:Loopback -> engine capture carries a known pattern intact', () => {
    const r = get('loopback-pattern');
    console.log(`[kernel] engine loopback pattern: ${r.matchedFrames}/${r.patternFrames} frames intact at offset ${r.offsetFrames}; xruns ${r.xruns}, dropped ${r.consumerDropped}`);
    // On failure: starved / dropped / xruns > 0 point at a starved VM, all 0 with mismatches at the engine.
    expect(r.intact, `pattern broken: ${JSON.stringify({ ...r, events: r.events })}`).toBe(true);
    expect(r.xruns).toBe(0);
  });

  it.each([
    ['capture hw:Dummy', 'sigstop-xrun'],
    ['playback hw:Loopback,0,0', 'sigstop-xrun-playback'],
  ])('SIGSTOP of a child streaming %s for 1 s -> exactly one xrun, "at least ~1000 ms"', (_what, name) => {
    const r = get(name);
    console.log(`[kernel] engine ${r.direction} ${r.device} SIGSTOP ${f0(r.stopMs)} ms (buffer ${r.bufferMs} ms) -> ${r.xrunEvents} xrun event(s): at least ${r.xrunMs.map(f1).join(', ')} ms; detected ${f1(r.detectAfterContMs)} ms after SIGCONT, in JS ${f1(r.deliverAfterDetectMs)} ms later; recovered ${JSON.stringify(r.recovered)}`);
    expect(r.xrunEvents, JSON.stringify(r)).toBe(1);
    expect(r.sampleXruns).toBe(1);
    expect(r.xrunMs[0]).toBeGreaterThan(r.stopMs - r.bufferMs - 60);
    expect(r.xrunMs[0]).toBeLessThan(r.stopMs + 50);
    expect(r.framesAfterCont).toBeGreaterThan(0);
    expect(r.otherEvents).not.toContain('disconnect');
  });

  it('unbind while streaming -> one disconnect (ENODEV), PCM closed at once, reopen ENODEV while unbound, bind -> reopen streams', () => {
    const r = get('unplug');
    console.log(`[kernel] engine unplug: unbind took ${f1(r.unbindMs)} ms; disconnect detected ${f1(r.detectAfterUnbindStartMs)} ms after unbind start (JS ${f1(r.jsAfterUnbindStartMs)} ms); ${r.disconnectEvents} disconnect event(s), errno ${r.disconnectErrno}`);
    console.log(`[kernel] engine unplug: reopen while unbound -> ${JSON.stringify(r.reopenWhileUnbound)}`);
    console.log(`[kernel] engine unplug: bind ${f1(r.bindMs)} ms; JS saw /dev/snd/pcmC0D0c back ${f1(r.nodeAppearedAfterBindMs)} ms after bind start; JS reopen loop (autoReopen off): ${r.reopenAttempts} attempt(s), reopened ${f1(r.bindToReopenedMs)} ms after bind, kernel's first period ${f1(r.bindToKernelFirstPeriodMs)} ms after bind, first audio in JS ${f1(r.bindToFirstGoodMs)} ms after bind (${f1(r.nodeToFirstGoodMs)} ms after JS saw the node), first good sample window ${f1(r.bindToFirstGoodSampleMs)} ms; back at ${f0(r.backByteRate)} B/s`);
    expect(r.unbindError).toBeNull();
    expect(r.disconnectEvents).toBe(1);
    expect(r.disconnectErrno).toBe('ENODEV');
    // The kernel's unbind waits for every open file of the card: it returns
    // promptly only if the engine closed the PCM at once.
    expect(r.unbindMs).toBeLessThan(250);
    expect(r.cardListed).toBe(false);
    expect(r.reopenWhileUnbound.ok).toBe(false);
    expect([r.reopenWhileUnbound.errno, r.reopenWhileUnbound.eventErrno]).toContain('ENODEV');
    expect(r.bindError).toBeNull();
    expect(r.bindToReopenedMs).not.toBeNull();
    expect(r.bindToFirstGoodMs).not.toBeNull();
    expect(r.reopenedEvents).toBeGreaterThanOrEqual(1);
    within(r.backByteRate, BYTE_RATE, 0.05);
  });

  it('playback: unbind the Loopback card while playing -> one disconnect (ENODEV), closed at once, bind -> reopen plays', () => {
    const r = get('unplug-playback');
    console.log(`[kernel] engine playback unplug: unbind took ${f1(r.unbindMs)} ms; disconnect detected ${f1(r.detectAfterUnbindStartMs)} ms after unbind start; ${r.disconnectEvents} disconnect event(s), errno ${r.disconnectErrno}; reopen while unbound ${JSON.stringify(r.reopenWhileUnbound)}; reopened ${f1(r.bindToReopenedMs)} ms after bind (${r.reopenAttempts} attempt(s)); back at ${f0(r.backByteRate)} B/s`);
    expect(r.unbindError).toBeNull();
    expect(r.disconnectEvents).toBe(1);
    expect(r.disconnectErrno).toBe('ENODEV');
    expect(r.unbindMs).toBeLessThan(250);
    expect(r.cardListed).toBe(false);
    expect(r.reopenWhileUnbound.ok).toBe(false);
    expect(r.reopenWhileUnbound.errno).toBe('ENODEV');
    expect(r.bindError).toBeNull();
    expect(r.bindToReopenedMs).not.toBeNull();
    within(r.backByteRate, BYTE_RATE, 0.05);
  });

  it.each([
    ['capture hw:Dummy', 'hotplug'],
    ['playback hw:Loopback,0,0', 'hotplug-playback'],
  ])('hot-plug-aware reopen (%s): the engine reopens by itself when the node reappears, <= 100 ms to streaming', (_what, name, ctx) => {
    const r = get(name);
    if (!r.selfReopened) {
      console.log(`[kernel] engine hot-plug ${r.device}: NOT BUILT - no reopen by the engine within 2 s of bind (node back ${f1(r.nodeAppearedAfterBindMs)} ms after bind); events ${JSON.stringify(r.events.map((e: R) => e.type))}`);
      ctx.skip();
      return;
    }
    console.log(`[kernel] engine hot-plug ${r.direction} ${r.device}: bind write ${f1(r.bindMs)} ms (the card's nodes exist when it returns); engine reopened ${f1(r.reopenedAfterBindMs)} ms after bind start; kernel's first period ${f1(r.bindToKernelFirstPeriodMs)} ms after bind start (${f1(r.bindEndToKernelFirstPeriodMs)} ms after bind returned) => node -> first period between ${f1(r.bindEndToKernelFirstPeriodMs)} and ${f1(r.bindToKernelFirstPeriodMs)} ms; first good ${r.direction === 'capture' ? 'audio' : 'sample window'} in JS ${f1(r.bindToFirstGoodJsMs)} ms after bind start; JS fs.watch saw the node ${f1(r.nodeAppearedAfterBindMs)} ms after bind start; back at ${f0(r.backByteRate)} B/s`);
    expect(r.disconnectEvents).toBe(1);
    expect(r.reopenedEvents).toBe(1);
    // DESIGN target: device back (node reappears) -> streaming again <= 100 ms.
    // Asserted on the upper bound: from the start of the bind write.
    expect(r.bindToKernelFirstPeriodMs, JSON.stringify(r)).not.toBeNull();
    expect(r.bindToKernelFirstPeriodMs, JSON.stringify(r)).toBeLessThanOrEqual(100);
    within(r.backByteRate, BYTE_RATE, 0.05);
  });
});
