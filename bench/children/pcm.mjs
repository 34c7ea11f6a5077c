// Child of cpu.mjs: one alsa-health stream (capture drained / playback fed
// with silence, as a real client). Measures its own CPU (getrusage: every
// thread of this process) over a window after a warm-up, and the audio the
// engine moved in that window (from its samples). Prints one JSON line.
import { openPcm } from '../../dist/index.js';
import { attachAudio, RATE, rssKbOf, selfCpuSeconds, sleep, threadCpuSeconds } from '../lib/common.mjs';

const [device, direction, periodFramesS, warmMsS, measureMsS] = process.argv.slice(2);
const periodFrames = Number(periodFramesS);
const pcm = await openPcm({ device, direction, rate: RATE, channels: 2, format: 'S16_LE', periodFrames, bufferPeriods: 4, sampleIntervalMs: 100 });
let frames = 0;
let xruns = 0;
pcm.on('sample', (s) => {
  frames += s.frames;
  xruns += s.xruns;
});
attachAudio(pcm, periodFrames * 4);
await sleep(Number(warmMsS));
const f0 = frames;
const c0 = selfCpuSeconds();
const th0 = threadCpuSeconds();
const t0 = performance.now();
await sleep(Number(measureMsS));
const cpuS = selfCpuSeconds() - c0;
const th1 = threadCpuSeconds();
const threads = Object.fromEntries(Object.keys(th1).map((k) => [k, th1[k] - th0[k]]));
const wallS = (performance.now() - t0) / 1000;
const f1 = frames;
const rssKb = rssKbOf(process.pid);
await pcm.close();
process.stdout.write(JSON.stringify({ cpuS, wallS, audioS: (f1 - f0) / RATE, xruns, rssKb, threads }) + '\n');
process.exit(0);
