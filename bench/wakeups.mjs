// Benchmark 4: calls into JS per device per second (every callback the
// addon makes: 'sample', 'event' and 'audio' deliveries, counted by wrapping
// the addon's onMessage), at 1 ms periods and, for comparison, 20 ms; mock
// and plugin, capture drained and playback fed as a real client does.
// Target (DESIGN.md): <= 1000 / sampleIntervalMs + events per second.
import { native } from '../dist/native.js';
import { openPcm } from '../dist/index.js';
import { attachAudio, log, main, QUICK, RATE, sleep } from './lib/common.mjs';
import { pluginSetup } from './lib/plugin.mjs';

const SAMPLE_INTERVAL_MS = 100;
const WARM_MS = QUICK ? 200 : 1000;
const MEASURE_MS = QUICK ? 600 : 5000;

// Count every message the native thread delivers to the main thread.
const counts = new Map();
const Orig = native.PcmHandle;
native.PcmHandle = new Proxy(Orig, {
  construct(target, [options, onMessage]) {
    const c = { sample: 0, event: 0, audio: 0, other: 0 };
    counts.set(options.device + '|' + options.direction + '|' + options.periodFrames, c);
    return new target(options, (kind, payload) => {
      c[kind in c ? kind : 'other']++;
      return onMessage(kind, payload);
    });
  },
});

main(async () => {
  Object.assign(process.env, pluginSetup().env);
  const specs = [];
  for (const periodMs of [1, 20])
    for (const device of ['mock:wake', 'healthtest'])
      for (const direction of ['capture', 'playback']) specs.push({ periodMs, device, direction });
  log(`${specs.length} streams at once for ${MEASURE_MS / 1000} s, sampleIntervalMs ${SAMPLE_INTERVAL_MS}`);
  const pcms = await Promise.all(
    specs.map(async (s) => {
      const periodFrames = (RATE / 1000) * s.periodMs;
      const pcm = await openPcm({ device: s.device, direction: s.direction, rate: RATE, periodFrames, bufferPeriods: Math.max(4, Math.ceil(20 / s.periodMs)), sampleIntervalMs: SAMPLE_INTERVAL_MS });
      attachAudio(pcm, periodFrames * 4);
      return { ...s, pcm, key: s.device + '|' + s.direction + '|' + periodFrames };
    }),
  );
  await sleep(WARM_MS);
  const snap = () => new Map(pcms.map((p) => [p.key, { ...counts.get(p.key) }]));
  const c0 = snap();
  const t0 = performance.now();
  await sleep(MEASURE_MS);
  const c1 = snap();
  const wallS = (performance.now() - t0) / 1000;
  await Promise.all(pcms.map((p) => p.pcm.close()));
  const rows = pcms.map((p) => {
    const a = c0.get(p.key);
    const b = c1.get(p.key);
    const per = (k) => (b[k] - a[k]) / wallS;
    const total = per('sample') + per('event') + per('audio') + per('other');
    const limit = 1000 / SAMPLE_INTERVAL_MS + per('event');
    return {
      device: p.device === 'healthtest' ? 'plugin' : 'mock',
      direction: p.direction,
      periodMs: p.periodMs,
      perS: { total, sample: per('sample'), event: per('event'), audio: per('audio') },
      periodsPerS: 1000 / p.periodMs,
      limitPerS: limit,
      // one window more or less in the measured span is not a miss
      targetMet: total <= limit + 1 / wallS,
    };
  });
  if (rows.some((r) => !(r.perS.sample > 0))) throw new Error(`a stream delivered no samples: ${JSON.stringify(rows)}`);
  return { name: 'wakeups', sampleIntervalMs: SAMPLE_INTERVAL_MS, measureS: wallS, rows };
});
