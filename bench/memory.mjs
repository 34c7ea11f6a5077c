// Benchmark 6: RSS and heap over time during an xrun storm (100 xruns/s on
// one mock device at the board's 20 ms periods, a HealthMonitor watching it,
// audio drained). Slope by least squares, in KB per minute, over the readings
// once the monitor's window has filled and the heap settled: its windowMs is
// 10 s here (default 60 s) so that a 90 s run - the budget of the whole bench
// is a few minutes - measures 50 s of steady state (from 40 s on) instead of
// a window still filling. Run with
// --expose-gc (the runner does) so heap readings follow a full GC.
import { pino } from 'pino';

import { openPcm } from '../dist/index.js';
import { HealthMonitor } from '../dist/health/index.js';
import { attachAudio, log, main, QUICK, RATE, rssKbOf, slope, sleep } from './lib/common.mjs';

// A longer soak: node bench/memory.mjs --expose-gc --duration=300 --window=60000
const arg = (k) => process.argv.find((a) => a.startsWith(`--${k}=`))?.split('=')[1];
const DURATION_S = Number(arg('duration') ?? (QUICK ? 2 : 90));
const EVERY_S = QUICK ? 0.4 : 5;
const WINDOW_MS = Number(arg('window') ?? (QUICK ? 500 : 10_000));
// The heap settles (JIT, inline caches, the window's buckets) for ~40 s
// after the storm starts (5-minute soak: flat from then on).
const SETTLE_S = Math.max(WINDOW_MS / 1000 + EVERY_S, QUICK ? 0 : 40);
const XRUNS_PER_S = 100;

main(async () => {
  const count = (DURATION_S + 2) * XRUNS_PER_S;
  const pcm = await openPcm({
    device: 'mock:storm',
    direction: 'capture',
    rate: RATE,
    periodFrames: 960,
    bufferPeriods: 4,
    sampleIntervalMs: 100,
    mock: { faults: [{ at: 200, type: 'xrun', count, everyMs: 1000 / XRUNS_PER_S }] },
  });
  const monitor = new HealthMonitor({ windowMs: WINDOW_MS }, { logger: pino({ level: 'silent' }) });
  monitor.watch(pcm);
  monitor.start();
  attachAudio(pcm, 960 * 4);
  let xruns = 0;
  pcm.on('event', (e) => e.type === 'xrun' && xruns++);
  log(`${DURATION_S} s storm, ${XRUNS_PER_S} xruns/s, a reading every ${EVERY_S} s`);
  const points = [];
  const t0 = performance.now();
  for (let i = 0; i <= DURATION_S / EVERY_S; i++) {
    await sleep(Math.max(0, t0 + i * EVERY_S * 1000 - performance.now()));
    globalThis.gc?.();
    const m = process.memoryUsage();
    points.push({ tS: (performance.now() - t0) / 1000, rssKb: rssKbOf(process.pid), heapUsedKb: m.heapUsed / 1024, xruns });
  }
  monitor.stop();
  await pcm.close();
  const use = points.filter((p) => p.tS >= SETTLE_S);
  const t = use.map((p) => p.tS / 60);
  const rssSlope = slope(t, use.map((p) => p.rssKb));
  const heapSlope = slope(t, use.map((p) => p.heapUsedKb));
  if (!(xruns > 0) || !Number.isFinite(rssSlope)) throw new Error(`no storm or no readings: xruns=${xruns}`);
  return {
    name: 'memory',
    durationS: DURATION_S,
    everyS: EVERY_S,
    monitorWindowMs: WINDOW_MS,
    slopeFromS: SETTLE_S,
    xruns,
    xrunsPerS: xruns / points[points.length - 1].tS,
    gc: typeof globalThis.gc === 'function',
    rssKbPerMin: rssSlope,
    heapKbPerMin: heapSlope,
    rssKbStart: use[0].rssKb,
    rssKbEnd: use[use.length - 1].rssKb,
    heapKbStart: use[0].heapUsedKb,
    heapKbEnd: use[use.length - 1].heapUsedKb,
    points,
  };
});
