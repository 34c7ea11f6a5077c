// The mock fault-script scenarios again, now through the native AlsaBackend and
// real alsa-lib on the healthtest ioplug plugin (test/alsa-plugin). The
// plugin's trace gives the truth: when each xrun really began, when a stall or
// a suspend window started and ended.
//
//   npm run build:native && npx vitest run test/engine-alsa
import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';

import { pluginDevice } from '../alsa-plugin/plugin.js';
import { openPcm } from '../../src/index.js';
import type { Direction, HealthSample } from '../../src/types.js';
import { record, until } from '../helpers/recorder.js';
import { countByType, describeEvent, f1, hostXruns, ms, pairXruns, phantomXruns, RATE, realXruns, traceFile, traceOf, us, usePlugin } from './helpers.js';

await usePlugin(); // ALSA_CONFIG_PATH before the first healthtest open of this process

const PERIOD = 480; // 10 ms
const PERIOD_US = (PERIOD / RATE) * 1e6;
const BUFFER_PERIODS = 10; // 100 ms: generous, the machine is loaded

async function openPlugin(faults: string, direction: Direction, trace: string) {
  const device = pluginDevice(faults, { trace });
  const pcm = await openPcm({
    device,
    direction,
    rate: RATE,
    periodFrames: PERIOD,
    bufferPeriods: BUFFER_PERIODS,
    sampleIntervalMs: 50,
  });
  if (pcm.audio instanceof Readable) pcm.audio.resume(); // drain capture: no consumerDropped
  const t0 = process.hrtime.bigint();
  return { pcm, device, rec: record(pcm), t0 };
}

describe('engine over alsa-lib: injected faults (healthtest plugin)', () => {
  for (const direction of ['capture', 'playback'] as const) {
    it(`${direction}: 5 injected xruns are 5 xrun events, 5 in the samples, each matched to the plugin's xrun`, async () => {
      const trace = traceFile(`xrun-${direction}`);
      // 325 + k*200 ms: off the 50 ms window grid (a boundary case has its own test below)
      const { pcm, rec, t0 } = await openPlugin('xrun@325*5/200', direction, trace);
      await until(() => traceOf(trace, 'xrun').filter((t) => t.cause === 'injected').length === 5, 5000, '5 injected xruns');
      const lastInjected = traceOf(trace, 'xrun').filter((t) => t.cause === 'injected')[4]!.t;
      // A little longer: an xrun the engine made up, or a late one, would show.
      await until(() => rec.samples.some((s) => s.tStartNs > lastInjected + 200_000_000n), 3000, 'windows after the last xrun');
      await pcm.close();

      const trueXruns = realXruns(traceOf(trace));
      const pairs = pairXruns(rec.events, trueXruns); // engine and plugin agree one to one
      const injected = pairs.filter((p) => p.truth.cause === 'injected');
      console.log(
        `[engine-alsa] ${direction} injected xruns: events ${JSON.stringify(countByType(rec.events))}; samples xruns=${rec.total('xruns')}; ` +
          `plugin xruns ${trueXruns.length} (${hostXruns(trueXruns).length} from host starvation, not injected)`,
      );
      expect(injected).toHaveLength(5);
      expect(rec.ofType('xrun')).toHaveLength(trueXruns.length);
      expect(rec.total('xruns')).toBe(trueXruns.length);
      expect(rec.ofType('recovered')).toHaveLength(trueXruns.length);
      expect(rec.total('errors')).toBe(0);
      for (const [i, { event: x, truth: t }] of injected.entries()) {
        const tXrun = t.tXrunNs as bigint;
        const detectUs = us(x.tDetectNs - tXrun);
        const recovered = rec.ofType('recovered').find((r) => r.tDetectNs > x.tDetectNs)!;
        console.log(
          `[engine-alsa] ${direction} xrun ${i + 1}: plugin xrun at +${f1(ms(tXrun - t0))} ms, detected ${f1(detectUs / 1000)} ms later; ` +
            `reported "at least" ${f1(x.durationUs! / 1000)} ms (truth ${f1(detectUs / 1000)} ms); recovered in ${f1(recovered.durationUs! / 1000)} ms`,
        );
        expect(x.errno).toBe('EPIPE');
        expect(x.tInjectNs).toBeUndefined(); // only the mock backend knows when a fault was injected
        expect(x.tDetectNs).toBeGreaterThanOrEqual(tXrun);
        // "At least X": never more than the truth. (An injected xrun leaves no
        // trace in ioplug's status: the engine's estimate, last transfer +
        // buffer, is still ahead, so it says "at least 0". The truth is the
        // detection latency, printed above; DESIGN's target for it, a period
        // + 2 ms at p99, is a benchmark, not asserted on this loaded host.)
        expect(x.durationUs!).toBeGreaterThanOrEqual(0);
        expect(x.durationUs!).toBeLessThanOrEqual(detectUs + 1);
        // The sample window that holds the detection counts it.
        const w = rec.samples.find((s) => s.tStartNs <= x.tDetectNs && x.tDetectNs <= s.tEndNs);
        expect(w?.xruns).toBeGreaterThanOrEqual(1);
      }
    });
  }

  it('capture: an xrun detected on a window boundary is counted in the window that holds its tDetectNs', async () => {
    // The plugin's timer for an xrun at 300/500/700 ms and the engine's
    // 50 ms window deadline expire together. Before 3d2bf96 the engine closed
    // the window at the wake-up time but stamped the event later: the xrun was
    // counted in a window whose tEndNs was 53-77 us before the event's
    // tDetectNs (seen on 11 of 11 boundary faults). Regression test.
    const trace = traceFile('xrun-boundary');
    const { pcm, rec, t0 } = await openPlugin('xrun@300*3/200', 'capture', trace);
    await until(() => rec.ofType('recovered').length >= 3, 5000, '3 recoveries');
    const last = rec.ofType('xrun')[2]!.tDetectNs;
    await until(() => rec.samples.some((s) => s.tStartNs > last + 100_000_000n), 2000, 'windows after the last xrun');
    await pcm.close();
    const pairs = pairXruns(rec.events, traceOf(trace));
    const report = pairs.map(({ event: x }) => {
      const holder = rec.samples.find((s) => s.tStartNs <= x.tDetectNs && x.tDetectNs <= s.tEndNs);
      const counter = rec.samples.find((s) => s.xruns > 0 && s.tEndNs >= x.tDetectNs - 10_000_000n && s.tStartNs <= x.tDetectNs);
      return { x, holder, counter };
    });
    for (const { x, holder, counter } of report)
      console.log(
        `[engine-alsa] boundary xrun detected +${f1(ms(x.tDetectNs - t0))} ms: window holding tDetectNs counts ${holder?.xruns ?? '-'}; ` +
          `counted in the window ending +${counter ? f1(ms(counter.tEndNs - t0)) : '-'} ms (${counter ? f1(us(counter.tEndNs - x.tDetectNs)) : '-'} us from tDetectNs)`,
      );
    expect(rec.total('xruns')).toBe(pairs.length);
    for (const { holder } of report) expect(holder?.xruns).toBeGreaterThanOrEqual(1);
  });

  it('capture: a 40 ms stall (buffer 100 ms) is lateness >= 40 ms in the window of the late wake-up, not an xrun', async () => {
    const trace = traceFile('stall');
    const { pcm, rec, t0 } = await openPlugin('stall@600+40', 'capture', trace);
    await until(() => traceOf(trace, 'stall').length === 1, 3000, 'the stall');
    const [stall] = traceOf(trace, 'stall');
    const untilNs = stall!.untilNs as bigint;
    await until(() => rec.samples.some((s) => s.tStartNs > untilNs + 100_000_000n), 2000, 'windows after the stall');
    await pcm.close();

    const lateness = (s: HealthSample): number => s.latenessUsMax ?? 0; // null only from a PcmObserver
    const late = rec.samples.filter((s) => lateness(s) >= 35_000);
    const around = rec.samples.filter((s) => s.tEndNs > untilNs && s.tStartNs < untilNs + 100_000_000n);
    const worst = Math.max(...around.map(lateness));
    const before = rec.samples.filter((s) => s.tEndNs <= (stall!.tInjectNs as bigint));
    console.log(
      `[engine-alsa] stall 40 ms at +${f1(ms((stall!.tInjectNs as bigint) - t0))} ms: lateness max ${f1(worst / 1000)} ms in the window(s) of the wake-up; ` +
        `before the stall max ${f1(Math.max(...before.map(lateness)) / 1000)} ms; windows >= 35 ms late: ${late.length}; xruns ${rec.total('xruns')}`,
    );
    // The suppressed period was due when the stall began and served when it
    // ended: its lateness is the stall (less the few us between the wake-up
    // and the status read: the plugin's pointer moves a period at a time).
    expect(worst).toBeGreaterThanOrEqual(40_000 - 1_000);
    expect(worst).toBeLessThan(BUFFER_PERIODS * PERIOD_US); // a late wake-up, not an overrun
    // ...in the right window: the one that holds the wake-up after the stall.
    const w = rec.samples.find((s) => lateness(s) === worst)!;
    expect(w.tEndNs).toBeGreaterThan(untilNs);
    expect(w.tStartNs).toBeLessThan(untilNs + 100_000_000n);
    // Not an xrun: the plugin had none during or right after the stall, and the
    // engine reports exactly the plugin's (host-starvation ones, if any).
    const trueXruns = realXruns(traceOf(trace));
    expect(trueXruns.filter((t) => (t.tXrunNs as bigint) >= (stall!.tInjectNs as bigint) && (t.tXrunNs as bigint) <= untilNs + 20_000_000n)).toEqual([]);
    pairXruns(rec.events, trueXruns);
    expect(rec.total('xruns')).toBe(trueXruns.length);
  });

  it('capture: a 250 ms stall with a 100 ms buffer is one real xrun, "at least" within a period of the plugin\'s overrun time', async () => {
    const trace = traceFile('longstall');
    const { pcm, rec, t0 } = await openPlugin('stall@500+250', 'capture', trace);
    await until(() => traceOf(trace, 'xrun').some((t) => t.t > t0 + 700_000_000n) && rec.ofType('recovered').length >= 1, 4000, 'recovery');
    const lastXrun = rec.ofType('xrun')[rec.ofType('xrun').length - 1]!.tDetectNs;
    await until(() => rec.samples.some((s) => s.tStartNs > lastXrun + 200_000_000n), 2000, 'windows after the xrun');
    await pcm.close();

    const stallAt = traceOf(trace, 'stall')[0]!;
    const byStall = pairXruns(rec.events, traceOf(trace)).filter(
      (p) => (p.truth.tXrunNs as bigint) >= (stallAt.tInjectNs as bigint) && (p.truth.tXrunNs as bigint) < (stallAt.untilNs as bigint),
    );
    expect(byStall).toHaveLength(1);
    const { event: x, truth: t } = byStall[0]!;
    expect(t.cause).toBe('overrun');
    const tXrun = t.tXrunNs as bigint;
    const trueUs = us(x!.tDetectNs - tXrun);
    console.log(
      `[engine-alsa] 250 ms stall, 100 ms buffer: overrun at +${f1(ms(tXrun - t0))} ms (stall began +${f1(ms((traceOf(trace, 'stall')[0]!.tInjectNs as bigint) - t0))} ms); ` +
        `${describeEvent(x!, t0)}; truth ${f1(trueUs / 1000)} ms, error ${f1((trueUs - x!.durationUs!) / 1000)} ms`,
    );
    expect(rec.total('xruns')).toBe(rec.ofType('xrun').length);
    expect(x!.tDetectNs).toBeGreaterThan(tXrun);
    expect(x!.durationUs!).toBeLessThanOrEqual(trueUs + 1);
    expect(trueUs - x!.durationUs!).toBeLessThanOrEqual(PERIOD_US);
    expect(x!.lostFrames!).toBeCloseTo((x!.durationUs! * RATE) / 1e6, -1);
    expect(rec.samples.find((s) => s.xrunUsMax === x!.durationUs)?.lostFrames).toBeGreaterThanOrEqual(x!.lostFrames!);
  });

  it('capture: delay@600+300=30 adds 30 ms to the ALSA delay of the windows inside it', async () => {
    const trace = traceFile('delay');
    const { pcm, rec, t0 } = await openPlugin('delay@600+300=30', 'capture', trace);
    await until(() => rec.samples.some((s) => ms(s.tStartNs - t0) > 1100), 3000, 'windows after the delay');
    await pcm.close();
    const epoch = traceOf(trace, 'epoch')[0]!.t;
    const from = epoch + 600_000_000n;
    const to = epoch + 900_000_000n;
    const inside = rec.samples.filter((s) => s.tStartNs >= from && s.tEndNs <= to && s.delayUsMax > 0);
    const outside = rec.samples.filter((s) => (s.tEndNs <= from || s.tStartNs >= to) && s.delayUsMax > 0);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    console.log(
      `[engine-alsa] delay +30 ms: windows inside mean ${f1(mean(inside.map((s) => s.delayUsMean)) / 1000)} ms (min ${f1(Math.min(...inside.map((s) => s.delayUsMean)) / 1000)}), ` +
        `outside mean ${f1(mean(outside.map((s) => s.delayUsMean)) / 1000)} ms`,
    );
    expect(inside.length).toBeGreaterThanOrEqual(3);
    for (const s of inside) expect(s.delayUsMean).toBeGreaterThanOrEqual(30_000);
    expect(mean(outside.map((s) => s.delayUsMean))).toBeLessThan(mean(inside.map((s) => s.delayUsMean)) - 25_000);
    pairXruns(rec.events, traceOf(trace));
  });

  // The engine retries snd_pcm_resume() every 20 ms for about a second (like
  // PulseAudio), then prepares. The plugin keeps the PCM SUSPENDED until the
  // window ends (resume returns 0 through ioplug, a non-blocking prepare
  // -EAGAIN). 2500 ms outlasts the retries.
  const suspendCases = [
    { direction: 'capture', durMs: 200 },
    { direction: 'playback', durMs: 200 },
    { direction: 'capture', durMs: 2500 },
  ] as const;
  for (const { direction, durMs } of suspendCases) {
    it(`${direction}: suspend@500+${durMs} is one suspend and one resume event, resumed when the plugin resumes, then streaming${durMs > 1000 ? ' (longer than the resume retries)' : ''}`, async () => {
      const trace = traceFile('suspend');
      const { pcm, rec, t0 } = await openPlugin(`suspend@500+${durMs}`, direction, trace);
      await until(() => traceOf(trace, 'resume').length === 1, durMs + 3000, 'the plugin to end the suspend');
      const [suspend] = traceOf(trace, 'suspend');
      const untilNs = suspend!.untilNs as bigint;
      await until(() => rec.samples.some((s) => s.tStartNs > untilNs + 200_000_000n), 3000, 'windows after the suspend');
      await pcm.close();

      const counts = countByType(rec.events);
      const suspends = rec.ofType('suspend');
      const resumes = rec.ofType('resume');
      const during = rec.samples.filter((s) => s.tStartNs >= (suspend!.tInjectNs as bigint) + 10_000_000n && s.tEndNs <= untilNs);
      console.log(
        `[engine-alsa] ${direction} suspend ${durMs} ms at +${f1(ms((suspend!.tInjectNs as bigint) - t0))} ms, window ends +${f1(ms(untilNs - t0))} ms, ` +
          `plugin resumed (${traceOf(trace, 'resume')[0]!.by}) at +${f1(ms(traceOf(trace, 'resume')[0]!.t - t0))} ms: events ${JSON.stringify(counts)}: ` +
          rec.events.slice(0, 12).map((e) => describeEvent(e, t0)).join(', ') +
          `; states of the ${during.length} windows inside: ${[...new Set(during.map((s) => s.state))].join(',')}`,
      );
      expect(suspends).toHaveLength(1);
      expect(suspends[0]!.errno).toBe('ESTRPIPE');
      expect(resumes).toHaveLength(1);
      // The stream cannot resume before the plugin lets it.
      expect(resumes[0]!.tDetectNs).toBeGreaterThanOrEqual(untilNs);
      expect(ms(resumes[0]!.tDetectNs - untilNs)).toBeLessThan(200); // retries every 20 ms; the host is loaded
      expect(during.length).toBeGreaterThanOrEqual(1);
      for (const s of during) expect(s.state).toBe('suspended');
      const after = rec.samples.filter((s) => s.tStartNs > resumes[0]!.tDetectNs && s.state !== 'closed');
      expect(after.length).toBeGreaterThanOrEqual(2);
      for (const s of after) {
        expect(s.state).toBe('running');
        expect(s.periods).toBeGreaterThan(0);
      }
      // Resumed cleanly: no xrun as it comes back (host-starvation xruns
      // elsewhere, if any, are the plugin's and reported one to one).
      expect(rec.ofType('xrun').filter((x) => x.tDetectNs >= untilNs && x.tDetectNs < untilNs + 200_000_000n)).toEqual([]);
      // A long suspend outlasts the resume retries: the engine then tries a
      // prepare, which ioplug answers -EAGAIN after resetting its pointers,
      // so the plugin's clock "overruns" while the device sleeps. No audio
      // is lost beyond the suspend itself, and the engine restarts the stream
      // afresh when the device wakes: such an xrun is not one to report.
      const inSuspend = (x: { tXrunNs?: unknown }) =>
        typeof x.tXrunNs === 'bigint' && x.tXrunNs >= (suspend!.tInjectNs as bigint) && x.tXrunNs <= resumes[0]!.tDetectNs + 20_000_000n;
      const trueXruns = realXruns(traceOf(trace)).filter((x) => !inSuspend(x as { tXrunNs?: unknown }));
      pairXruns(rec.events, trueXruns);
      expect(rec.ofType('recovered')).toHaveLength(1 + trueXruns.length);
    });
  }

  it('playback: ioerror@400=EIO is one error event, counted once, recovered in place', async () => {
    const trace = traceFile('ioerror');
    const { pcm, rec, t0 } = await openPlugin('ioerror@400=EIO', 'playback', trace);
    await until(() => rec.ofType('recovered').length === 1, 3000, 'recovery');
    const rTime = rec.ofType('recovered')[0]!.tDetectNs;
    await until(() => rec.samples.some((s) => s.tStartNs > rTime + 100_000_000n), 2000, 'windows after recovery');
    await pcm.close();
    const errors = rec.ofType('error');
    const truth = traceOf(trace, 'ioError');
    const phantoms = phantomXruns(traceOf(trace));
    console.log(
      `[engine-alsa] ioerror: events ${JSON.stringify(countByType(rec.events))}; ${errors[0] ? describeEvent(errors[0], t0) : '-'}; plugin failed the write at +${f1(ms(truth[0]!.t - t0))} ms; ` +
        `plugin trace: ${phantoms.length} phantom "${phantoms[0]?.cause ?? ''}" traced at +${phantoms[0] ? f1(ms(phantoms[0].t - t0)) : '-'} ms with tXrunNs = the stream's start (ioplug reset appl_ptr before the plugin's prepare; see helpers.ts realXruns)`,
    );
    expect(truth).toHaveLength(1);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.errno).toBe('EIO');
    expect(errors[0]!.tDetectNs).toBeGreaterThanOrEqual(truth[0]!.t);
    expect(rec.total('errors')).toBe(1);
    pairXruns(rec.events, traceOf(trace));
    const after = rec.samples.filter((s) => s.tStartNs > rTime && s.state !== 'closed');
    expect(after.every((s) => s.state === 'running')).toBe(true);
    expect(after.some((s) => s.periods > 0)).toBe(true);
  });
});
