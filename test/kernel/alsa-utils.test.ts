// Real kernel ALSA (snd-dummy, snd-aloop) in a QEMU VM, proven with alsa-utils
// before the engine is tested there: byte rates, loopback integrity, a real
// SIGSTOP overrun, hot-unplug by sysfs unbind / bind.
import { beforeAll, expect, it } from 'vitest';
import { describeRun, jsonLines, runInVm, type VmResult } from './vm';
import { scenarioGetter, vmSuite, type R } from './suite';

const BYTE_RATE = 48000 * 2 * 2;
const suite = vmSuite('alsa-utils');


suite('kernel VM: alsa-utils on snd-dummy / snd-aloop', () => {
  let run: VmResult;
  const by: Record<string, R> = {};
  const get = scenarioGetter(by, () => run);

  beforeAll(async () => {
    run = await runInVm('node test/kernel/guest/alsa-utils.mjs', { timeoutMs: 150_000 });
    for (const r of jsonLines<R>(run.stdout)) by[r.scenario] = r;
    console.log(`[kernel] ${describeRun(run)}`);
    for (const [k, v] of Object.entries(by)) if (k !== 'env') console.log(`[kernel] ${k}: ${JSON.stringify(v)}`);
  });

  it('boots Debian kernel with both cards and the host node', () => {
    expect(run.timedOut).toBe(false);
    expect(run.kernel).toMatch(/^\d+\.\d+/);
    const env = get('env');
    expect(env.cards).toMatch(/Dummy/);
    expect(env.cards).toMatch(/Loopback/);
    expect(env.dev).toEqual(expect.arrayContaining(['pcmC0D0c', 'pcmC1D0p', 'pcmC1D1c']));
    expect(run.exitCode).toBe(0);
  });

  it('captures hw:Dummy at 192000 B/s', () => {
    const r = get('dummy-capture-rate');
    console.log(`[kernel] hw:Dummy capture: ${r.byteRate.toFixed(0)} B/s (client), ${r.hwPtrByteRate.toFixed(0)} B/s (hw_ptr), ${r.bytes} bytes in -d 3`);
    expect(r.exit).toBe(0);
    expect(r.bytes).toBe(r.expectedBytes);
    expect(r.byteRate).toBeGreaterThan(BYTE_RATE * 0.97);
    expect(r.byteRate).toBeLessThan(BYTE_RATE * 1.03);
    expect(r.hwPtrByteRate).toBeGreaterThan(BYTE_RATE * 0.97);
    expect(r.hwPtrByteRate).toBeLessThan(BYTE_RATE * 1.03);
  });

  it('plays hw:Loopback,0,0 at 192000 B/s', () => {
    const r = get('loopback-playback-rate');
    console.log(`[kernel] hw:Loopback,0,0 playback: ${r.byteRate.toFixed(0)} B/s (client), ${r.hwPtrByteRate.toFixed(0)} B/s (hw_ptr), 3 s of audio in ${r.wallMs.toFixed(0)} ms`);
    expect(r.exit).toBe(0);
    expect(r.byteRate).toBeGreaterThan(BYTE_RATE * 0.97);
    expect(r.byteRate).toBeLessThan(BYTE_RATE * 1.03);
    expect(r.hwPtrByteRate).toBeGreaterThan(BYTE_RATE * 0.97);
    expect(r.hwPtrByteRate).toBeLessThan(BYTE_RATE * 1.03);
  });

  it('carries a known pattern from hw:Loopback,0,0 to hw:Loopback,1,0 intact', () => {
    const r = get('loopback-pattern');
    console.log(`[kernel] loopback pattern: ${r.matchedFrames}/${r.patternFrames} frames intact at offset ${r.offsetFrames}`);
    expect(r.playExit).toBe(0);
    expect(r.capExit).toBe(0);
    expect(r.offsetFrames).toBeGreaterThanOrEqual(0);
    expect(r.mismatches).toBe(0);
    expect(r.comparedFrames).toBe(r.patternFrames);
    expect(r.intact).toBe(true);
  });

  it('SIGSTOP of arecord for 1 s gives one overrun of "at least ~1000 ms"', () => {
    const r = get('sigstop-xrun');
    console.log(`[kernel] SIGSTOP ${r.stopMs.toFixed(0)} ms, buffer ${r.bufferMs} ms -> arecord: ${r.xruns.map((x: number) => `overrun at least ${x} ms`).join(', ')}; procfs state while stopped: ${r.stateDuringStop}`);
    expect(r.xrunCount).toBe(1);
    // The xrun starts when the buffer is full: stop time minus (at most) the buffer.
    expect(r.xruns[0]).toBeGreaterThan(r.stopMs - r.bufferMs - 60);
    expect(r.xruns[0]).toBeLessThan(r.stopMs + 50);
    expect(r.stateDuringStop).toBe('xrun');
    expect(r.stateAfter).toBe('running');
  });

  it('hot-unplug: unbind while streaming -> ENODEV, opens fail, bind brings it back', () => {
    const r = get('unplug');
    console.log(`[kernel] unbind took ${r.unbindMs.toFixed(1)} ms; arecord exited ${r.clientExitAfterUnbindMs.toFixed(0)} ms after it (exit ${r.clientExit}); bind -> first data ${r.bindToFirstDataMs?.toFixed(0)} ms (arecord spawn -> first data baseline ${r.baselineSpawnToFirstDataMs.toFixed(0)} ms)`);
    expect(r.unbindError).toBeNull();
    expect(r.clientExit).not.toBe(0);
    expect(r.clientStderr).toMatch(/No such device/);
    expect(r.unbindMs).toBeLessThan(1000);
    expect(r.nodesUnbound).toEqual([]);
    expect(r.dummyListedWhileUnbound).toBe(false);
    expect(r.openWhileUnbound.exit).not.toBe(0);
    expect(r.openWhileUnbound.stderr).toMatch(/No such device/);
    expect(r.bindError).toBeNull();
    expect(r.nodesAfter).toEqual(r.nodesBefore);
    expect(r.bindToFirstDataMs).not.toBeNull();
    expect(r.back.exit).toBe(0);
    expect(r.back.bytes).toBe(BYTE_RATE);
  });

  it('unbind waits while a client holds the PCM open (SIGSTOPped)', () => {
    const r = get('unbind-held');
    console.log(`[kernel] held client: unbind took ${r.unbindMs.toFixed(0)} ms (client stopped ${r.heldMs.toFixed(0)} ms), done ${r.unbindDoneAfterContMs.toFixed(0)} ms after SIGCONT`);
    expect(r.pendingWhileHeld).toBe(true);
    expect(r.unbindMs).toBeGreaterThan(900);
    expect(r.clientStderr).toMatch(/No such device/);
    expect(r.bindError).toBeNull();
    expect(r.cardsAfter).toMatch(/Dummy/);
  });
});
