// A real alsa-lib xrun: a child process streams the healthtest plugin through
// the engine (stream-child.ts); SIGSTOP for 0.5 s with a 100 ms buffer, then
// SIGCONT. Exactly one xrun, and its "at least X" length within one period of
// the truth: the plugin's trace says when the buffer really overflowed
// (tXrunNs); the truth is from there to the engine's detection.
//
//   npm run build:native && npx vitest run test/engine-alsa
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import { pluginDevice } from '../alsa-plugin/plugin.js';
import { sleep, until } from '../helpers/recorder.js';
import { f1, hostXruns, ms, pairXruns, RATE, traceFile, traceOf, usePlugin } from './helpers.js';
import type { PcmEvent } from '../../src/types.js';

const setup = await usePlugin(); // the child inherits ALSA_CONFIG_PATH

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VITE_NODE = `${ROOT}node_modules/vite-node/vite-node.mjs`;
const CHILD = fileURLToPath(new URL('./stream-child.ts', import.meta.url));

const PERIOD = 960; // 20 ms, the board's period
const PERIOD_US = (PERIOD / RATE) * 1e6;
const BUFFER_PERIODS = 5; // 100 ms
const STOP_MS = 500;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Line = Record<string, any>;

class StreamChild {
  readonly proc: ChildProcess;
  readonly lines: Line[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(options: object) {
    this.proc = spawn(process.execPath, [VITE_NODE, CHILD, JSON.stringify(options)], {
      cwd: ROOT,
      env: { ...process.env, ...setup.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    createInterface({ input: this.proc.stdout! }).on('line', (raw) => {
      try {
        this.lines.push(JSON.parse(raw) as Line);
      } catch {
        this.stderr += `[stdout] ${raw}\n`;
      }
    });
    this.proc.stderr!.on('data', (b: Buffer) => (this.stderr += b.toString()));
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
  }

  of(kind: string, type?: string): Line[] {
    return this.lines.filter((l) => l.kind === kind && (type === undefined || l.type === type));
  }

  async end(): Promise<number | null> {
    this.proc.stdin!.end();
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

describe('engine over alsa-lib: a real xrun from SIGSTOP of the streaming process', () => {
  // monotonic: the plugin's own timestamps on CLOCK_MONOTONIC (the engine asks
  // for monotonic ones in sw_params either way); ioplug's trigger timestamp
  // stays at the start in both, so the engine must estimate the xrun's start.
  const cases = [
    { direction: 'capture', monotonic: false },
    { direction: 'playback', monotonic: false },
    { direction: 'capture', monotonic: true },
  ] as const;
  for (const { direction, monotonic } of cases) {
    it(`${direction}${monotonic ? ' (MONOTONIC=1)' : ''}: SIGSTOP 0.5 s with a 100 ms buffer is exactly one xrun, "at least" within a period of the plugin's truth`, async () => {
      const trace = traceFile(`sigstop-${direction}`);
      const device = pluginDevice('', { trace, monotonic });
      const child = new StreamChild({ device, direction, rate: RATE, periodFrames: PERIOD, bufferPeriods: BUFFER_PERIODS, sampleIntervalMs: 100 });
      let tStop = 0n;
      let tCont = 0n;
      try {
        await until(() => child.of('opened').length === 1 || child.of('openError').length === 1, 30_000, `the child to open (stderr: ${child.stderr})`);
        expect(child.of('openError')).toEqual([]);
        await until(() => child.of('sample').filter((s) => s.periods > 0).length >= 3, 5000, 'the child streaming');

        tStop = process.hrtime.bigint();
        child.proc.kill('SIGSTOP');
        await sleep(STOP_MS);
        tCont = process.hrtime.bigint();
        child.proc.kill('SIGCONT');

        const recoveredAfterCont = () => child.of('event', 'recovered').find((r) => BigInt(r.tDetectNs as string) > tCont);
        await until(() => recoveredAfterCont() !== undefined, 5000, 'the xrun and its recovery');
        const tRecovered = BigInt(recoveredAfterCont()!.tDetectNs as string);
        await until(() => child.of('sample').filter((s) => BigInt(s.tStartNs as string) > tRecovered).length >= 3, 5000, 'windows after the recovery');
        expect(await child.end()).toBe(0);
      } finally {
        child.proc.kill('SIGCONT');
        child.proc.kill('SIGKILL');
      }

      // The child's events as PcmEvents (bigints came as strings).
      const events = child.of('event').map((e) => ({ ...e, tDetectNs: BigInt(e.tDetectNs as string) }) as unknown as PcmEvent);
      const pairs = pairXruns(events, traceOf(trace)); // engine and plugin agree one to one
      const byStop = pairs.filter((p) => (p.truth.tXrunNs as bigint) > tStop && (p.truth.tXrunNs as bigint) < tCont);
      const host = hostXruns(traceOf(trace)).filter((t) => !byStop.some((p) => p.truth.t === t.t));
      if (host.length) console.log(`[engine-alsa] SIGSTOP ${direction}: ${host.length} more xrun(s) the host caused (starved thread), reported by the engine too`);
      expect(byStop).toHaveLength(1);
      expect(byStop[0]!.truth.cause).toBe(direction === 'capture' ? 'overrun' : 'underrun');
      expect(child.of('sample').reduce((a, s) => a + (s.xruns as number), 0)).toBe(pairs.length);
      const x = byStop[0]!.event as unknown as Line;
      const tDetect = x.tDetectNs as bigint;
      const tXrun = byStop[0]!.truth.tXrunNs as bigint;
      const trueUs = Number(tDetect - tXrun) / 1000;
      const truth = [byStop[0]!.truth];
      const lastStart = traceOf(trace, 'start').filter((s) => s.t < tXrun).pop()!;
      const recovered = child.of('event', 'recovered').find((r) => BigInt(r.tDetectNs as string) > tDetect)!;
      console.log(
        `[engine-alsa] SIGSTOP ${direction}${monotonic ? ' (MONOTONIC=1)' : ''} for ${f1(ms(tCont - tStop))} ms, buffer 100 ms, period ${PERIOD_US / 1000} ms: ` +
          `plugin ${truth[0]!.cause} began ${f1(ms(tXrun - tStop))} ms after SIGSTOP; engine detected it ${f1(ms(tDetect - tCont))} ms after SIGCONT; ` +
          `reported "at least" ${f1(x.durationUs / 1000)} ms vs truth ${f1(trueUs / 1000)} ms (error ${f1((trueUs - x.durationUs) / 1000)} ms; ` +
          `from the stream's start it would be ${f1(ms(tDetect - lastStart.t))} ms); lost ${x.lostFrames} frames; ` +
          `recovered ${f1((recovered.durationUs as number) / 1000)} ms after detection`,
      );
      expect(x.errno).toBe('EPIPE');
      expect(tDetect).toBeGreaterThan(tXrun);
      expect(x.durationUs).toBeLessThanOrEqual(trueUs + 1);
      expect(trueUs - x.durationUs).toBeLessThanOrEqual(PERIOD_US);
      // Audio moves again after the recovery.
      const after = child.of('sample').filter((s) => BigInt(s.tStartNs as string) > BigInt(recovered.tDetectNs as string) && s.state !== 'closed');
      expect(after.length).toBeGreaterThanOrEqual(2);
      for (const s of after) expect(s.periods).toBeGreaterThan(0);
    }, 60_000);
  }
});
