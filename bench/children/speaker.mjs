// Child of cpu.mjs: the npm package `speaker` (installed in bench/.peers, not
// a dependency) playing silence to ALSA's "default", which the conf in
// ALSA_CONFIG_PATH points at the device under test. Same measurement as pcm.mjs.
import { createRequire } from 'node:module';
import path from 'node:path';
import { BENCH_DIR, RATE, rssKbOf, selfCpuSeconds, sleep } from '../lib/common.mjs';

const [device, warmMsS, measureMsS] = process.argv.slice(2);
const require = createRequire(path.join(BENCH_DIR, '.peers', 'package.json'));
const Speaker = require('speaker');
const s = new Speaker({ channels: 2, bitDepth: 16, sampleRate: RATE, device });
s.on('error', (e) => {
  process.stderr.write(`speaker: ${e.message}\n`);
  process.exit(1);
});
const chunk = Buffer.alloc(RATE * 4 / 50); // 20 ms
let bytes = 0;
let stop = false;
const feed = () => {
  while (!stop && s.write(chunk, () => (bytes += chunk.length)));
  if (!stop) s.once('drain', feed);
};
feed();
await sleep(Number(warmMsS));
const b0 = bytes;
const c0 = selfCpuSeconds();
const t0 = performance.now();
await sleep(Number(measureMsS));
const cpuS = selfCpuSeconds() - c0;
const wallS = (performance.now() - t0) / 1000;
const audioS = (bytes - b0) / (RATE * 4);
stop = true;
process.stdout.write(JSON.stringify({ cpuS, wallS, audioS, rssKb: rssKbOf(process.pid) }) + '\n');
process.exit(0);
