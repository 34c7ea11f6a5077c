// A short open / stream / reopen / close script over mock devices (capture and
// playback, with faults), for the memory checkers: scripts/test-asan.sh runs it
// under ASan with leak detection, scripts/valgrind-smoke.sh under memcheck.
// Uses dist/ (npm run build). Exits 0 when every step behaved.
import { openPcm, listPcms, sdNotify, PcmError } from '../dist/index.js';

const ms = Number(process.env.SMOKE_MS ?? 300);
const sleep = (t) => new Promise((r) => setTimeout(r, t));

async function one(direction, faults) {
  const s = await openPcm({ device: `mock:smoke-${direction}`, direction, periodFrames: 240, sampleIntervalMs: 20, mock: { faults } });
  let samples = 0;
  s.on('sample', () => samples++);
  s.on('event', () => {});
  if (direction === 'capture') s.audio.resume();
  else for (let i = 0; i < 20; i++) s.audio.write(Buffer.alloc(4096, i));
  await sleep(ms / 3);
  await s.reopen();
  await Promise.allSettled([s.reopen(), s.reopen(), s.close(), s.reopen()]);
  await s.close();
  if (samples === 0) throw new Error(`${direction}: no samples`);
}

const faults = [
  { type: 'xrun', at: 20, count: 3, everyMs: 10 },
  { type: 'disconnect', at: 60, durationMs: 30 },
  { type: 'suspend', at: 120, durationMs: 20 },
];
await Promise.all([one('capture', faults), one('playback', faults), one('capture', []), one('playback', [{ type: 'ioError', at: 30, errno: 'EIO' }])]);
const failed = await openPcm({ device: 'mock:smoke-fail', direction: 'capture', mock: { faults: [{ type: 'openFail', at: 0, count: 5, errno: 'EBUSY' }] } }).catch((e) => e);
if (!(failed instanceof PcmError)) throw new Error(`openFail: ${failed}`);
await listPcms();
sdNotify('STATUS=smoke');
console.log('stream-smoke: ok');
