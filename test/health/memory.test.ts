// 10 000 events per second into one device for 10 s of fake time: the
// device's memory must not grow with the number of events, and every event
// is assessed as it comes.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { HealthMonitor, type StatusChange } from '../../src/health/index.js';
import { DeviceRecorder } from '../../src/health/metrics.js';
import { FakeSource, fakeNow, silent } from './helpers.js';

setFlagsFromString('--expose-gc');
// Taken before fake timers replace the clocks: the "keeps up" check needs wall time.
const wallClock = performance.now.bind(performance);
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

it('10 000 events/s for 10 s: bounded memory per device, assessment keeps up', () => {
  const m = new HealthMonitor({ checkIntervalMs: 1000 }, { logger: silent(), now: fakeNow });
  const src = new FakeSource('mock:storm', 'playback');
  const changes: StatusChange[] = [];
  m.on('status', (c) => changes.push(c));
  m.watch(src);
  m.start();

  const runSeconds = (seconds: number): void => {
    for (let ms = 0; ms < seconds * 1000; ms++) {
      for (let k = 0; k < 10; k++) src.event('xrun', { durationUs: 500 + k });
      if (ms % 100 === 0) src.sample({ xruns: 1000, lostFrames: 48 });
      vi.advanceTimersByTime(1);
    }
  };

  runSeconds(1); // warm up: JIT, the device's buckets, the logger children
  const heapBefore = heapAfterGc();
  const wallStart = wallClock();
  runSeconds(9);
  const wallMs = wallClock() - wallStart;
  const heapAfter = heapAfterGc();

  const d = m.snapshot().devices['mock:storm']!;
  expect(d.totals.xruns).toBe(100_000);
  expect(d.totals.underruns).toBe(100_000);
  expect(d.window.xruns).toBe(100_000); // all inside the 60 s window
  expect(d.totals.lostFrames).toBe(100 * 48);
  expect(d.status).toBe('degraded');
  expect(changes.map((c) => c.to)).toEqual(['degraded']); // assessed at once, no flapping
  // Keeping 90 000 event records would cost several MB; the buckets cost nothing more.
  expect(heapAfter - heapBefore).toBeLessThan(1024 * 1024);
  // 90 000 events (plus 90 samples) processed in less wall time than the 9 s they span.
  expect(wallMs).toBeLessThan(9000);
  m.stop();
});

it("a device's recorder has a fixed footprint whatever the event count", () => {
  const rec = new DeviceRecorder('d', 'capture', { windowMs: 60_000, windowBuckets: 60, latencyThresholdMs: 100 });
  const before = rec.footprintBytes;
  for (let i = 0; i < 200_000; i++) {
    rec.xrun(i / 20, 'overrun', 1000);
    rec.lateness(i / 20, 300, 900, 1);
  }
  expect(rec.footprintBytes).toBe(before);
  expect(before).toBeLessThan(16 * 1024);
  expect(rec.read(10_000).totals.overruns).toBe(200_000);
});
