// Disconnect, reopen and failed opens through the native AlsaBackend and real
// alsa-lib, on the healthtest plugin: the session (ID) keeps the fault
// timeline across opens, so a reopen inside the disconnect window fails ENODEV.
//
//   npm run build:native && npx vitest run test/engine-alsa
import { describe, expect, it } from 'vitest';
import type { Readable } from 'node:stream';

import { pluginDevice } from '../alsa-plugin/plugin.js';
import { openPcm, PcmError } from '../../src/index.js';
import { record, sleep, until } from '../helpers/recorder.js';
import { countByType, describeEvent, f1, ms, pairXruns, RATE, realXruns, traceFile, traceOf, us, usePlugin } from './helpers.js';

await usePlugin(); // ALSA_CONFIG_PATH before the first healthtest open of this process

const PERIOD = 480; // 10 ms
const BUFFER_PERIODS = 10; // 100 ms

interface Attempt {
  tStart: bigint;
  tEnd: bigint;
  code: string | null; // null: the reopen succeeded
}

/** reopen() every `gapMs` until one succeeds; every rejection must be a PcmError. */
async function reopenUntilOpen(pcm: { reopen(): Promise<void> }, gapMs: number, max: number): Promise<Attempt[]> {
  const attempts: Attempt[] = [];
  for (let i = 0; i < max; i++) {
    const tStart = process.hrtime.bigint();
    try {
      await pcm.reopen();
      attempts.push({ tStart, tEnd: process.hrtime.bigint(), code: null });
      return attempts;
    } catch (err) {
      expect(err).toBeInstanceOf(PcmError);
      attempts.push({ tStart, tEnd: process.hrtime.bigint(), code: (err as PcmError).code });
      await sleep(gapMs);
    }
  }
  return attempts;
}

describe('engine over alsa-lib: disconnect, reopen, open failures (healthtest plugin)', () => {
  // autoReopen (default on) polls a presence fd while disconnected; the
  // plugin's comeback does not touch /dev/snd, so only reopen() brings it back
  // in both variants.
  for (const autoReopen of [undefined, false] as const) {
    it(`disconnect@425+600${autoReopen === false ? ' (autoReopen: false)' : ''}: one disconnect (ENODEV), samples say disconnected, reopen fails ENODEV inside the window, succeeds after it, audio flows again`, async () => {
      const trace = traceFile('disconnect');
      const device = pluginDevice('disconnect@425+600', { trace });
      const pcm = await openPcm({ device, direction: 'capture', rate: RATE, periodFrames: PERIOD, bufferPeriods: BUFFER_PERIODS, sampleIntervalMs: 50, ...(autoReopen === undefined ? {} : { autoReopen }) });
      const t0 = process.hrtime.bigint();
      const rec = record(pcm);
      const chunks: { t: bigint; bytes: number }[] = [];
      (pcm.audio as Readable).on('data', (b: Buffer) => chunks.push({ t: process.hrtime.bigint(), bytes: b.length }));

      await until(() => rec.ofType('disconnect').length === 1, 3000, 'the disconnect');
      const [d] = rec.ofType('disconnect');
      await until(() => rec.samples.filter((s) => s.tStartNs > d!.tDetectNs).length >= 2, 2000, 'two windows after the disconnect');
      const [truth] = traceOf(trace, 'disconnect');
      const untilNs = truth!.untilNs as bigint;

      // reopen() while the window lasts: rejected with ENODEV; after it: success.
      const attempts = await reopenUntilOpen(pcm, 50, 60);
      const reopenedAt = process.hrtime.bigint();
      const ok = attempts[attempts.length - 1]!;
      const bytesBefore = chunks.filter((c) => c.t < reopenedAt).reduce((a, c) => a + c.bytes, 0);
      await until(() => chunks.some((c) => c.t > reopenedAt), 2000, 'audio after the reopen');
      await until(() => rec.samples.some((s) => s.tStartNs > reopenedAt && s.periods > 0), 2000, 'a streaming window after the reopen');
      const bytesAfter = chunks.filter((c) => c.t > reopenedAt).reduce((a, c) => a + c.bytes, 0);
      await pcm.close();

      const disconnected = rec.samples.filter((s) => s.state === 'disconnected');
      console.log(
        `[engine-alsa] autoReopen ${autoReopen ?? 'default'}: disconnect injected at +${f1(ms((truth!.tInjectNs as bigint) - t0))} ms, detected ${f1(ms(d!.tDetectNs - (truth!.tInjectNs as bigint)))} ms later (${describeEvent(d!, t0)}); ` +
          `window ends +${f1(ms(untilNs - t0))} ms; reopen attempts: ${attempts.map((a) => `${a.code ?? 'ok'}@${f1(ms(a.tStart - t0))}`).join(' ')}; ` +
          `first success ${f1(ms(ok.tEnd - untilNs))} ms after the window; ${disconnected.length} disconnected windows; bytes before ${bytesBefore}, after the reopen ${bytesAfter}; events ${JSON.stringify(countByType(rec.events))}`,
      );

      for (const e of rec.events) if (e.type !== 'reopenFailed') console.log(`[engine-alsa]   event ${describeEvent(e, t0)} ${e.message ?? ''}`);
      // Closed at once (a kernel unbind waits for every open file): the plugin
      // saw its close right after the disconnect, before any reopen.
      const closed = traceOf(trace, 'close').find((c) => c.t >= (truth!.tInjectNs as bigint))!;
      console.log(`[engine-alsa]   PCM closed ${f1(us(closed.t - d!.tDetectNs))} us after the disconnect was detected`);
      expect(closed.t).toBeLessThan(attempts[0]!.tStart);
      expect(rec.ofType('disconnect')).toHaveLength(1);
      expect(d!.errno).toBe('ENODEV');
      expect(d!.tDetectNs).toBeGreaterThanOrEqual(truth!.tInjectNs as bigint);
      pairXruns(rec.events, traceOf(trace)); // none, unless the host starved the stream (then the same)
      // Back to streaming by the reopen alone: no error, no in-place recovery on the new PCM.
      expect(rec.ofType('error')).toEqual([]);
      expect(rec.ofType('recovered')).toHaveLength(realXruns(traceOf(trace)).length);
      // Samples: the window of the disconnect and every one after it until the reopen.
      expect(disconnected.length).toBeGreaterThanOrEqual(2);
      const afterDisc = rec.samples.filter((s) => s.tStartNs >= d!.tDetectNs && s.tEndNs <= attempts[attempts.length - 1]!.tStart);
      expect(afterDisc.length).toBeGreaterThanOrEqual(2);
      for (const s of afterDisc) {
        expect(s.state).toBe('disconnected');
        expect(s.periods).toBe(0);
      }
      expect(rec.samples.find((s) => s.tStartNs <= d!.tDetectNs && d!.tDetectNs <= s.tEndNs)?.lastErrno).toBe('ENODEV');

      // Inside the window every reopen fails ENODEV; the first one after it succeeds.
      const inside = attempts.filter((a) => a.tEnd < untilNs);
      expect(inside.length).toBeGreaterThanOrEqual(1);
      for (const a of inside) expect(a.code).toBe('ENODEV');
      expect(attempts.filter((a) => a.tStart > untilNs && a.code !== null)).toHaveLength(0);
      expect(ok.code).toBeNull();
      expect(ok.tEnd).toBeGreaterThan(untilNs);
      expect(rec.ofType('reopenFailed')).toHaveLength(attempts.length - 1);
      expect(rec.ofType('reopenFailed').every((e) => e.errno === 'ENODEV')).toBe(true);
      expect(rec.ofType('reopened')).toHaveLength(1);
      // Audio again: bytes arrive and a window streams.
      expect(bytesAfter).toBeGreaterThan(0);
      expect(rec.samples.filter((s) => s.tStartNs > reopenedAt && s.state !== 'closed').every((s) => s.state === 'running')).toBe(true);
    });
  }

  it('disconnect@325+300 then openfail*2=EBUSY: reopens fail ENODEV, then exactly EBUSY, EBUSY, then succeed (the mock script, on alsa-lib)', async () => {
    const trace = traceFile('disc-busy');
    const device = pluginDevice('disconnect@325+300;openfail@325*2=EBUSY', { trace });
    const pcm = await openPcm({ device, direction: 'playback', rate: RATE, periodFrames: PERIOD, bufferPeriods: BUFFER_PERIODS, sampleIntervalMs: 50 });
    const rec = record(pcm);
    await until(() => rec.ofType('disconnect').length === 1, 3000, 'the disconnect');
    const attempts = await reopenUntilOpen(pcm, 50, 60);
    const reopenedAt = process.hrtime.bigint();
    await until(() => rec.samples.some((s) => s.tStartNs > reopenedAt && s.periods > 0), 2000, 'streaming after the reopen');
    await pcm.close();

    const codes = attempts.map((a) => a.code);
    console.log(`[engine-alsa] disconnect + openfail*2: reopen results ${codes.map((c) => c ?? 'ok').join(' ')}; plugin openFail trace: ${traceOf(trace, 'openFail').map((e) => e.errno).join(' ')}`);
    expect(rec.ofType('disconnect')).toHaveLength(1);
    expect(codes.filter((c) => c === 'EBUSY')).toEqual(['EBUSY', 'EBUSY']);
    expect(codes.every((c) => c === null || c === 'ENODEV' || c === 'EBUSY')).toBe(true);
    expect(codes.lastIndexOf('ENODEV')).toBeLessThan(codes.indexOf('EBUSY'));
    expect(codes.indexOf('ENODEV')).toBe(0);
    expect(codes[codes.length - 1]).toBeNull();
    expect(rec.ofType('reopenFailed')).toHaveLength(attempts.length - 1);
    expect(rec.ofType('reopened')).toHaveLength(1);
    expect(rec.ofType('error')).toEqual([]);
  });

  it('openfail@0*1=EBUSY: openPcm rejects with PcmError EBUSY naming the device; the next open streams', async () => {
    const trace = traceFile('openfail');
    const device = pluginDevice('openfail@0*1=EBUSY', { trace });
    const err = await openPcm({ device, direction: 'capture', rate: RATE, periodFrames: PERIOD, bufferPeriods: BUFFER_PERIODS }).then(
      () => null,
      (e: unknown) => e,
    );
    console.log(`[engine-alsa] openfail: ${String(err)}`);
    expect(err).toBeInstanceOf(PcmError);
    expect(err).toMatchObject({ code: 'EBUSY', errno: -16, device });
    expect((err as Error).message).toContain(device);
    expect(traceOf(trace, 'openFail').map((e) => e.errno)).toEqual(['EBUSY']);

    // The fault fired once: the same device opens now and moves audio.
    const pcm = await openPcm({ device, direction: 'capture', rate: RATE, periodFrames: PERIOD, bufferPeriods: BUFFER_PERIODS, sampleIntervalMs: 50 });
    const rec = record(pcm);
    let bytes = 0;
    (pcm.audio as Readable).on('data', (b: Buffer) => (bytes += b.length));
    await until(() => bytes > 0 && rec.samples.some((s) => s.periods > 0), 2000, 'audio');
    await pcm.close();
    expect(rec.total('errors')).toBe(0);
  });

  it('openfail with ENODEV and EACCES: the code is the plugin\'s errno, for capture and playback', async () => {
    for (const [errno, direction] of [['ENODEV', 'capture'], ['EACCES', 'playback']] as const) {
      const device = pluginDevice(`openfail@0*1=${errno}`);
      await expect(openPcm({ device, direction, rate: RATE, periodFrames: PERIOD })).rejects.toMatchObject({ name: 'PcmError', code: errno, device });
    }
  });
});
