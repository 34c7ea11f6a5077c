// Child of scale.mjs: N mock capture devices at 5 ms periods in this process,
// drained as a real client would. Prints one JSON line.
import { openPcm } from '../../dist/index.js';
import { attachAudio, RATE, rssKbOf, selfCpuSeconds, sleep } from '../lib/common.mjs';

const [nS, warmMsS, measureMsS, rtS] = process.argv.slice(2);
const rtPriority = Number(rtS ?? 0);
let rtWarning = null;
process.on('warning', (w) => (rtWarning = w.message));
const n = Number(nS);
const PERIOD_FRAMES = 240; // 5 ms
const rssBaseKb = rssKbOf(process.pid); // node + the addon loaded, nothing open
const devs = await Promise.all(
  Array.from({ length: n }, async (_, i) => {
    const pcm = await openPcm({ device: `mock:scale-${i}`, direction: 'capture', rate: RATE, periodFrames: PERIOD_FRAMES, bufferPeriods: 4, sampleIntervalMs: 100, ...(rtPriority > 0 ? { rtPriority } : {}) });
    attachAudio(pcm, PERIOD_FRAMES * 4);
    const d = { pcm, samples: [], measuring: false };
    pcm.on('sample', (s) => d.measuring && d.samples.push(s));
    return d;
  }),
);
await sleep(Number(warmMsS));
for (const d of devs) d.measuring = true;
const c0 = selfCpuSeconds();
const t0 = performance.now();
await sleep(Number(measureMsS));
for (const d of devs) d.measuring = false;
const cpuS = selfCpuSeconds() - c0;
const wallS = (performance.now() - t0) / 1000;
const rssKb = rssKbOf(process.pid);
const heapUsedKb = process.memoryUsage().heapUsed / 1024;
let missed = 0;
let xruns = 0;
let dropped = 0;
let latenessUsMax = 0;
let periods = 0;
for (const d of devs) {
  const s = d.samples;
  if (s.length < 2) throw new Error('a device delivered fewer than 2 samples');
  const spanNs = Number(s[s.length - 1].tEndNs - s[0].tStartNs);
  const moved = s.reduce((a, x) => a + x.periods, 0);
  const expected = Math.floor(spanNs / 1e9 * RATE / PERIOD_FRAMES);
  // the first window may hold a period from before it opened: one period of slack
  missed += Math.max(0, expected - moved - 1);
  periods += moved;
  for (const x of s) {
    xruns += x.xruns;
    dropped += x.consumerDropped;
    latenessUsMax = Math.max(latenessUsMax, x.latenessUsMax);
  }
}
await Promise.all(devs.map((d) => d.pcm.close()));
process.stdout.write(JSON.stringify({ n, rtPriority, rtWarning, cpuS, wallS, cpuPct: (100 * cpuS) / wallS, periods, missed, xruns, dropped, latenessMsMax: latenessUsMax / 1000, rssKb, rssBaseKb, heapUsedKb }) + '\n');
process.exit(0);
