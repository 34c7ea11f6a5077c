// The soak's checks must be able to fail: each one is shown a good and a bad
// input. A check that passes on everything would make the soak a decoration.
import { describe, expect, it } from 'vitest';

// @ts-expect-error plain ESM without declarations (the soak runs on bare node, like bench/)
import * as C from './checks.mjs';
// @ts-expect-error idem
import * as S from './schedule.mjs';

type Ev = { type: string; tDetectNs: bigint; tInjectNs?: bigint; errno?: string };
type Late = { tStartNs: bigint; tEndNs: bigint; latenessUsMax: number };

const T0 = 1_000_000_000_000n;
const at = (ms: number): bigint => T0 + BigInt(Math.round(ms * 1e6));
const ev = (type: string, injectMs: number | null, extra: Partial<Ev> = {}): Ev => ({
  type,
  tDetectNs: at((injectMs ?? 0) + 5),
  ...(injectMs === null ? {} : { tInjectNs: at(injectMs) }),
  ...extra,
});
const late = (fromMs: number, toMs: number, us: number): Late => ({ tStartNs: at(fromMs), tEndNs: at(toMs), latenessUsMax: us });

function match(faults: object[], events: Ev[], lateWindows: Late[] = []) {
  return C.matchFaults({ faults, t0MinNs: T0, t0MaxNs: T0 + 2_000_000n, events, lateWindows, periodMs: 10 });
}

describe('matchFaults: every injected fault detected exactly once', () => {
  const xrun = { kind: 'xrun', at: 1000 };
  const storm = { kind: 'storm', at: 1000, count: 3, everyMs: 100 };
  const openFail = { kind: 'openFailEBUSY', at: 2000, count: 2, errno: 'EBUSY', durationMs: 300 };
  const stallShort = { kind: 'stallShort', at: 3000, durationMs: 40 };
  const stallLong = { kind: 'stallLong', at: 3000, durationMs: 160 };
  const suspend = { kind: 'suspend', at: 500, durationMs: 200 };
  const disc = { kind: 'disconnectLong', at: 500, durationMs: 3000 };

  it.each([
    ['an xrun seen once', [xrun], [ev('xrun', 1003)], [], true],
    ['an xrun applied late but within the bound', [xrun], [ev('xrun', 1200)], [], true],
    ['an xrun never seen', [xrun], [], [], false],
    ['an xrun seen twice', [xrun], [ev('xrun', 1003), ev('xrun', 1010)], [], false],
    ['an xrun seen as a suspend', [xrun], [ev('suspend', 1003)], [], false],
    ['a storm of 3, all seen', [storm], [ev('xrun', 1001), ev('xrun', 1101), ev('xrun', 1202)], [], true],
    ['a storm of 3, one lost', [storm], [ev('xrun', 1001), ev('xrun', 1202)], [], false],
    ['a storm of 3, one doubled', [storm], [ev('xrun', 1001), ev('xrun', 1101), ev('xrun', 1105), ev('xrun', 1202)], [], false],
    ['a suspend seen once', [suspend], [ev('suspend', 501)], [], true],
    ['a disconnect seen once', [disc], [ev('disconnect', 501)], [], true],
    ['a disconnect lost', [disc], [], [], false],
    [
      'openFail: disconnect + both failures',
      [openFail],
      [ev('disconnect', 2001), ev('reopenFailed', null, { tDetectNs: at(2400), errno: 'EBUSY' }), ev('reopenFailed', null, { tDetectNs: at(2900), errno: 'EBUSY' })],
      [],
      true,
    ],
    [
      'openFail: one failure lost',
      [openFail],
      [ev('disconnect', 2001), ev('reopenFailed', null, { tDetectNs: at(2400), errno: 'EBUSY' })],
      [],
      false,
    ],
    [
      'openFail: failures with another errno',
      [openFail],
      [ev('disconnect', 2001), ev('reopenFailed', null, { tDetectNs: at(2400), errno: 'ENODEV' }), ev('reopenFailed', null, { tDetectNs: at(2900), errno: 'ENODEV' })],
      [],
      false,
    ],
    ['a short stall as one late window', [stallShort], [], [late(2950, 3050, 41_000)], true],
    ['a short stall not seen', [stallShort], [], [late(2950, 3050, 5_000)], false],
    ['a short stall seen in two windows', [stallShort], [], [late(2950, 3050, 41_000), late(3050, 3150, 30_000)], false],
    ['a long stall as one xrun', [stallLong], [ev('xrun', 3001)], [], true],
    ['a long stall as one late window', [stallLong], [], [late(3000, 3200, 150_000)], true],
    ['a long stall not seen', [stallLong], [], [], false],
  ])('%s', (_name, faults, events, lates, ok) => {
    const r = match(faults, events, lates);
    const allOk = r.faults.every((f: { ok: boolean }) => f.ok) && r.stray.length === 0;
    expect(allOk).toBe(ok);
    expect(C.checkFaults([{ name: 'dev', result: r }]).ok).toBe(ok);
  });

  it('an event stamped long after any fault is stray, not a match', () => {
    const r = match([xrun], [ev('xrun', 1003), ev('xrun', 5000)]);
    expect(r.stray).toHaveLength(1);
    expect(C.checkFaults([{ name: 'dev', result: r }]).ok).toBe(false);
  });

  it('a stamped event of a type no fault produces (e.g. recovered) is stray', () => {
    const r = match([xrun], [ev('xrun', 1003), ev('recovered', 1003)]);
    expect(r.stray.map((s: { type: string }) => s.type)).toEqual(['recovered']);
  });

  it('an error event is stray: the script injects no I/O error', () => {
    const r = match([xrun], [ev('xrun', 1003), ev('error', null, { tDetectNs: at(1500), errno: 'EIO' })]);
    expect(r.stray.map((s: { type: string }) => s.type)).toEqual(['error']);
  });

  it('a reopen failure no openFail explains is stray; ENODEV while the card is gone is not', () => {
    const faults = [{ kind: 'disconnectShort', at: 500, durationMs: 300 }];
    const ok = match(faults, [ev('disconnect', 501), ev('reopenFailed', null, { tDetectNs: at(600), errno: 'ENODEV' })]);
    expect(ok.stray).toHaveLength(0);
    const bad = match(faults, [ev('disconnect', 501), ev('reopenFailed', null, { tDetectNs: at(900), errno: 'EBUSY' })]);
    expect(bad.stray.map((s: { why: string }) => s.why)).toEqual(['a reopen failed with EBUSY, which no openFail explains']);
  });

  it('xruns without tInjectNs are the machine: counted, not failed', () => {
    const r = match([xrun], [ev('xrun', 1003), ev('xrun', null)]);
    expect(r.natural).toBe(1);
    expect(C.checkFaults([{ name: 'dev', result: r }]).ok).toBe(true);
  });

  it('a run with no fault at all fails: nothing was soaked', () => {
    expect(C.checkFaults([{ name: 'dev', result: match([], []) }]).ok).toBe(false);
  });
});

type Sample = Record<string, unknown>;
const cap = (o: Partial<Sample> = {}): Sample => ({
  direction: 'capture',
  deviceFrames: 4800,
  deliveredFrames: 4800,
  discardedFrames: 0,
  paddingFrames: 0,
  pendingFrames: 0,
  consumerDropped: 0,
  starved: 0,
  lostFrames: 0,
  ...o,
});
const play = (o: Partial<Sample> = {}): Sample => cap({ direction: 'playback', ...o });

function balance(samples: Sample[]) {
  const a = C.frameAccount(0);
  for (const s of samples) a.add(s);
  return a.result();
}

describe('frame accounting', () => {
  it.each([
    ['capture, all delivered', [cap(), cap()], 0],
    ['capture, an xrun lost 480, the consumer dropped 96, 240 still in the ring', [cap({ deliveredFrames: 4800 - 480 - 96 - 240, lostFrames: 480, consumerDropped: 96, pendingFrames: 240 }), cap({ pendingFrames: 240 })], 0],
    ['capture, one frame unaccounted', [cap(), cap({ deliveredFrames: 4799 })], 1],
    ['playback, starved and padded', [play({ deliveredFrames: 4000, starved: 500, paddingFrames: 300 })], 0],
    ['playback, queued frames not yet played count against', [play({ deliveredFrames: 4800 + 960, pendingFrames: 960 })], 0],
    ['playback, discarded frames count against', [play({ deliveredFrames: 4900, discardedFrames: 100 })], 0],
    ['playback, a frame too many', [play({ deliveredFrames: 4801 })], -1],
  ])('%s', (_name, samples, unaccounted) => {
    expect(balance(samples)!.unaccountedFrames).toBe(unaccounted);
  });

  const entry = (samples: Sample[], extra: object = {}) => ({ name: 's#0', complete: true, own: balance(samples), lib: null, ...extra });

  it('passes a balanced, complete stream', () => {
    expect(C.checkFrames([entry([cap(), cap()])], true).ok).toBe(true);
  });
  it('fails an unbalanced stream', () => {
    expect(C.checkFrames([entry([cap({ deliveredFrames: 4700 })])], true).ok).toBe(false);
  });
  it('fails a stream whose final sample (after close) never came', () => {
    expect(C.checkFrames([entry([cap()], { complete: false })], true).ok).toBe(false);
  });
  it('fails a stream whose device clocked nothing', () => {
    expect(C.checkFrames([entry([cap({ deviceFrames: 0, deliveredFrames: 0 }), cap({ deviceFrames: 0, deliveredFrames: 0 })])], true).ok).toBe(false);
  });
  it("fails when the library's frameBalance disagrees with the soak's own sum", () => {
    const lib = { accountedFrames: 9599, unaccountedFrames: 1, deviceFrames: 9600 };
    expect(C.checkFrames([entry([cap(), cap()], { lib })], true).ok).toBe(false);
  });
  it('is n/a, not a pass, without the fields or without frameBalance', () => {
    const old = { direction: 'capture', lostFrames: 0, consumerDropped: 0 };
    const r = C.checkFrames([entry([old])], true);
    expect(r.ok).toBeNull();
    expect(r.figure).toBe('n/a (fields missing)');
    expect(C.checkFrames([entry([cap()])], false).ok).toBeNull();
    expect(C.verdict([r])).toBe(false);
    expect(C.verdict([r], [r.name])).toBe(true);
  });
});

describe('RSS slope', () => {
  const pts = (kbPerMin: number, n = 20) => Array.from({ length: n }, (_, i) => ({ tS: 10 + i * 3, rssKb: 60_000 + (kbPerMin * (i * 3)) / 60 + (i % 2 ? 20 : -20) }));
  it.each([
    ['flat with noise', pts(0), true],
    ['shrinking', pts(-500), true],
    ['90 KB/min (noise included)', pts(90), true],
    ['150 KB/min', pts(150), false],
    ['a leak of 2 MB/min', pts(2000), false],
  ])('%s', (_n, points, ok) => {
    expect(C.checkRss(points).ok).toBe(ok);
  });
  it('slope is exact on a line', () => {
    expect(C.slope([0, 1, 2, 3], [5, 7, 9, 11])).toBeCloseTo(2, 12);
  });
  it('a short noisy run: steps of megabytes tilt the line, but not beyond two standard errors: not judged (null), not passed', () => {
    const steps = [0, 0, 0, 4000, 4000, 4000, 0, 0, 4000, 4000, 0, 0].map((d, i) => ({ tS: 15 + i * 4, rssKb: 70_000 + d }));
    const r = C.checkRss(steps);
    expect(r.slope).toBeGreaterThan(100);
    expect(r.ok).toBeNull();
    expect(r.detail).toMatch(/inconclusive/);
  });
  it('a steady 1 MB/min leak fails even in a short run', () => {
    const leak = Array.from({ length: 40 }, (_, i) => ({ tS: 15 + i, rssKb: 70_000 + (1000 * i) / 60 + (i % 3) * 30 }));
    expect(C.checkRss(leak).ok).toBe(false);
  });
  it('too few readings cannot be judged', () => {
    expect(C.checkRss(pts(0, 3)).ok).toBeNull();
  });
});

describe('fds / threads / process errors', () => {
  it.each([
    [21, 21, true],
    [21, 20, true],
    [21, 25, false],
  ])('%i -> %i', (a, b, ok) => {
    expect(C.checkCount('fds', a, b).ok).toBe(ok);
  });
  it('a missing count is a failure', () => {
    expect(C.checkCount('threads', 11, Number.NaN).ok).toBe(false);
  });
  it('no unhandled rejection: passes on none, fails on one', () => {
    expect(C.checkNone('x', []).ok).toBe(true);
    expect(C.checkNone('x', [new Error('boom')]).ok).toBe(false);
  });
});

describe('healthy again within the bound', () => {
  const dev = (changes: [number, string][], finalStatus = 'healthy', lastTroubleMs = 10_000) => ({
    name: 'd',
    lastTroubleMs,
    statusChanges: changes.map(([tMs, to]) => ({ tMs, to })),
    finalStatus,
    endMs: 30_000,
  });
  it.each([
    ['healthy 2.5 s after its last trouble', dev([[9000, 'degraded'], [12_500, 'healthy']]), true],
    ['healthy 6 s after', dev([[9000, 'critical'], [16_000, 'healthy']]), false],
    ['never healthy again', dev([[9000, 'degraded']], 'degraded'), false],
    ['healthy, then worse again at the end', dev([[9000, 'degraded'], [11_000, 'healthy'], [20_000, 'failing']], 'failing'), false],
    ['never left healthy (a short stall is no trouble)', dev([[500, 'healthy']]), true],
  ])('%s', (_n, d, ok) => {
    expect(C.checkRecovery([d], 5300).ok).toBe(ok);
  });
  it('no device at all fails', () => {
    expect(C.checkRecovery([], 5300).ok).toBe(false);
  });
});

describe('table', () => {
  it('pads columns to the widest cell', () => {
    const t = C.formatTable(['a', 'bb'], [['xxx', 'y']]);
    expect(t.split('\n')).toEqual(['a    bb', '---  --', 'xxx  y']);
  });
});

describe('schedule', () => {
  const plan = S.makePlan({ seed: 20261204, devices: 8, durationMs: 60_000 });
  it('is a pure function of its inputs', () => {
    expect(JSON.stringify(S.makePlan({ seed: 20261204, devices: 8, durationMs: 60_000 }))).toBe(JSON.stringify(plan));
    expect(JSON.stringify(S.makePlan({ seed: 1, devices: 8, durationMs: 60_000 }))).not.toBe(JSON.stringify(plan));
  });
  it('keeps faults apart, inside their stream, and out of the quiet phase', () => {
    for (const s of plan.streams) {
      let busyUntil = 0;
      for (const f of s.faults) {
        expect(f.at).toBeGreaterThanOrEqual(busyUntil);
        busyUntil = f.at + f.busyMs;
        expect(s.startMs + busyUntil).toBeLessThanOrEqual(plan.faultEndMs);
        if (s.endMs !== null) expect(s.startMs + busyUntil).toBeLessThanOrEqual(s.endMs - 1000);
      }
    }
  });
  it('covers every fault kind and every callback behaviour with 8 devices', () => {
    const kinds = new Set(plan.streams.flatMap((s: { faults: { kind: string }[] }) => s.faults.map((f) => f.kind)));
    expect([...kinds].sort()).toEqual(Object.keys(S.FAULT_KINDS).sort());
    expect(new Set(plan.devicesAll.map((d: { callback: string }) => d.callback))).toEqual(new Set(S.CALLBACK_MODES));
    const dirs = new Set(plan.devicesAll.map((d: { direction: string }) => d.direction));
    expect(dirs).toEqual(new Set(['capture', 'playback']));
  });
  it('has every reload kind, and no fault busy while the monitor is replaced', () => {
    expect(plan.reloads.map((r: { action: string }) => r.action).sort()).toEqual(['change', 'monitor', 'swap']);
    for (const r of plan.reloads.filter((x: { action: string }) => x.action === 'monitor')) {
      for (const s of plan.streams) {
        for (const f of s.faults) {
          const from = s.startMs + f.at;
          const to = from + f.busyMs;
          expect(to <= r.atMs - 300 || from >= r.atMs + 4500).toBe(true);
        }
      }
    }
    expect(S.monitorAt(plan, 0).checkIntervalMs).toBe(250);
    expect(S.monitorAt(plan, plan.durationMs).checkIntervalMs).toBe(300);
  });
  it('a short stall stays inside every buffer, a long one overflows it', () => {
    for (const p of S.PROFILES) {
      expect(S.makeFault(S.rng(1), 'stallShort', 0, p).durationMs + S.periodMsOf(p)).toBeLessThan(S.bufferMsOf(p));
      expect(S.makeFault(S.rng(1), 'stallLong', 0, p).durationMs).toBeGreaterThan(S.bufferMsOf(p));
    }
  });
});
