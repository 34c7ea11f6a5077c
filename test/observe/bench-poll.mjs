// Benchmark (not a test): CPU per poll of a PcmObserver on a fake procfs tree
// (regular files; the kernel's seq_file generation is not included), next to
// a bare pread of the same file. Needs dist/ (npm run build).
//   node test/observe/bench-poll.mjs
import { closeSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { observePcm } from '../../dist/observe/index.js';

const root = mkdtempSync(join(tmpdir(), 'ah-bench-'));
const sub = join(root, 'card0/pcm0c/sub0');
mkdirSync(sub, { recursive: true });
writeFileSync(join(root, 'card0/id'), 'Bench\n');
writeFileSync(join(root, 'cards'), ' 0 [Bench          ]: Bench - Bench\n                      Bench 1\n');
writeFileSync(join(sub, 'hw_params'), 'access: RW_INTERLEAVED\nformat: S16_LE\nsubformat: STD\nchannels: 2\nrate: 48000 (48000/1)\nperiod_size: 960\nbuffer_size: 3840\n');
writeFileSync(join(sub, 'sw_params'), 'tstamp_mode: NONE\nperiod_step: 1\navail_min: 960\nstart_threshold: 1\nstop_threshold: 3840\nsilence_threshold: 0\nsilence_size: 0\nboundary: 4611686018427387904\n');
const status = (hw) => `state: RUNNING\nowner_pid   : 4242\ntrigger_time: 1234.567890123\ntstamp      : 0.000000000\ndelay       : 480\navail       : 480\navail_max   : 960\n-----\nhw_ptr      : ${hw}\nappl_ptr    : ${hw - 480}\n`;
writeFileSync(join(sub, 'status'), status(100000));

const o = await observePcm({ device: 'hw:Bench,0,0', direction: 'capture', procRoot: root, pollIntervalMs: 1e6, sampleIntervalMs: 1e6 });
await new Promise((r) => setImmediate(r));
const N = 200_000;
for (let i = 0; i < 20_000; i++) o.poll();
const c0 = process.cpuUsage();
for (let i = 0; i < N; i++) o.poll();
const c = process.cpuUsage(c0);
const pollUs = (c.user + c.system) / N;
await o.close();
const fd = openSync(join(sub, 'status'), 'r');
const buf = Buffer.alloc(1024);
const r0 = process.cpuUsage();
for (let i = 0; i < N; i++) readSync(fd, buf, 0, 1024, 0);
const r = process.cpuUsage(r0);
closeSync(fd);
const preadUs = (r.user + r.system) / N;
// No subdevice given and nobody has the PCM open: every poll reads each substream's status (8 here).
for (let i = 1; i < 8; i++) {
  mkdirSync(join(root, `card0/pcm0c/sub${i}`), { recursive: true });
  writeFileSync(join(root, `card0/pcm0c/sub${i}/status`), 'closed\n');
}
writeFileSync(join(sub, 'status'), 'closed\n');
const idle = await observePcm({ device: 'hw:Bench,0', direction: 'capture', procRoot: root, pollIntervalMs: 1e6, sampleIntervalMs: 1e6 });
await new Promise((r) => setImmediate(r));
for (let i = 0; i < 20_000; i++) idle.poll();
const i0 = process.cpuUsage();
for (let i = 0; i < N; i++) idle.poll();
const ic = process.cpuUsage(i0);
const idle8Us = (ic.user + ic.system) / N;
await idle.close();
rmSync(root, { recursive: true, force: true });
console.log(JSON.stringify({ pollUs, preadUs, jsUs: pollUs - preadUs, cpuPercentAt10ms: pollUs / 100, cpuPercentAt20ms: pollUs / 200, closedScan8SubsUs: idle8Us }));
