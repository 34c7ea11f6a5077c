// Threads, fds and handles: nothing leaks, nothing outlives its environment.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

import { openPcm } from '../../src/index.js';

const run = promisify(execFile);
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const fdCount = () => readdirSync('/proc/self/fd').length;
const threadCount = () => readdirSync('/proc/self/task').length;

describe('lifecycle', () => {
  it('1,000 open/close cycles leave fds and threads as they were', async () => {
    // Warm up: libuv's thread pool and alsa-lib's config are created once.
    for (let i = 0; i < 5; i++) await (await openPcm({ device: 'mock:warm', direction: 'playback' })).close();
    const fds = fdCount();
    const threads = threadCount();
    for (let i = 0; i < 1000; i++) {
      const pcm = await openPcm({ device: `mock:cycle${i}`, direction: i % 2 ? 'capture' : 'playback', periodFrames: 48 });
      await pcm.close();
    }
    console.log(`after 1000 cycles: fds ${fds} -> ${fdCount()}, threads ${threads} -> ${threadCount()}`);
    expect(fdCount()).toBe(fds);
    expect(threadCount()).toBe(threads);
  }, 120_000);

  it('an open PCM runs one named thread, gone after close', async () => {
    const before = threadCount();
    const pcm = await openPcm({ device: 'mock:named', direction: 'capture' });
    const names = readdirSync('/proc/self/task').map((t) => {
      try {
        return readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim();
      } catch {
        return '';
      }
    });
    expect(threadCount()).toBe(before + 1);
    expect(names).toContain('ah:mock:named');
    await pcm.close();
    expect(threadCount()).toBe(before);
  });

  it('reopen and close racing each other settle every promise', async () => {
    const pcm = await openPcm({ device: 'mock:race', direction: 'capture' });
    const reopens = [pcm.reopen(), pcm.reopen(), pcm.reopen()];
    const closed = pcm.close();
    const results = await Promise.allSettled([...reopens, closed]);
    expect(results).toHaveLength(4);
    expect(results[3]!.status).toBe('fulfilled');
    for (const r of results.slice(0, 3)) {
      if (r.status === 'rejected') expect((r.reason as { code: string }).code).toBe('EBADFD');
    }
  });

  it.each([
    ['exit', 0, /exiting with PCMs open/],
    ['unref', 0, /unref: the event loop may end/],
  ])('a child process that ends by %s with PCMs open exits cleanly', async (how, code, out) => {
    const t0 = Date.now();
    const { stdout, stderr } = await run(process.execPath, [fixture('exit-with-open-pcm.mjs'), how], { timeout: 10_000 });
    expect(stdout).toMatch(out);
    expect(stderr).toBe('');
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(code).toBe(0); // execFile rejects on a non-zero exit or a signal
  });

  it('an uncaught exception with PCMs open exits with code 1, not a crash', async () => {
    const err = await run(process.execPath, [fixture('exit-with-open-pcm.mjs'), 'throw'], { timeout: 10_000 }).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.signal).toBeNull();
    expect(err.stderr).toMatch(/uncaught with PCMs open/);
  });

  it('a worker terminated with a PCM open: its thread is stopped and joined', async () => {
    const before = threadCount();
    const worker = new Worker(fixture('worker-open.mjs'));
    const first = await new Promise<{ frames: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    expect(first.frames).toBeGreaterThan(0);
    const code = await worker.terminate();
    expect(code).toBe(1);
    // The worker's own threads (V8, the watcher) are gone.
    await new Promise((r) => setTimeout(r, 100));
    expect(threadCount()).toBe(before);
  });
});
