// The `alsa-health` CLI (dist/daemon/cli.js) against real kernel ALSA drivers
// in a QEMU VM: probe healthy capture and playback, a SIGSTOP xrun makes the
// probe unhealthy, an unbound card cannot be opened. Needs `npm run build`.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { REPO, describeRun, jsonLines, runInVm, type VmResult } from './vm';
import { scenarioGetter, vmSuite, type R } from './suite';

const suite = vmSuite('alsa-health CLI', () => (existsSync(join(REPO, 'dist/daemon/cli.js')) ? null : 'dist/daemon/cli.js missing (npm run build)'));


suite('kernel VM: alsa-health CLI on snd-dummy / snd-aloop', () => {
  let run: VmResult;
  const by: Record<string, R> = {};
  const get = scenarioGetter(by, () => run);

  beforeAll(async () => {
    run = await runInVm('node test/kernel/guest/cli.mjs', { timeoutMs: 170_000 });
    for (const r of jsonLines<R>(run.stdout)) by[r.scenario] = r;
    console.log(`[kernel] ${describeRun(run)}`);
    for (const [k, v] of Object.entries(by)) console.log(`[kernel] cli ${k}: ${JSON.stringify(v)}`);
  });

  it('starts (figure: CLI start time under TCG vs bare node)', () => {
    const r = get('startup');
    console.log(`[kernel] cli startup: \`alsa-health --version\` ${r.cliVersionMs.toFixed(0)} ms vs \`node -e 0\` ${r.nodeMs.toFixed(0)} ms in the TCG guest`);
    expect(r.exit).toBe(0);
    expect(by.done?.ok).toBe(true);
  });

  it('probe hw:Dummy capture: healthy, exit 0', () => {
    const r = get('probe-capture');
    console.log(`[kernel] cli probe hw:Dummy: exit ${r.exit}, ${r.report?.frames}/${r.report?.expectedFrames} frames, xruns ${r.report?.xruns}, lateness p99 ${r.report?.latenessMs?.p99} ms, reasons ${JSON.stringify(r.report?.reasons)}`);
    expect(r.exit).toBe(0);
    expect(r.report.healthy).toBe(true);
    expect(r.report.xruns).toBe(0);
  });

  it('probe hw:Loopback,0,0 playback: healthy, exit 0', () => {
    const r = get('probe-playback');
    console.log(`[kernel] cli probe hw:Loopback,0,0 playback: exit ${r.exit}, ${r.report?.frames}/${r.report?.expectedFrames} frames, xruns ${r.report?.xruns}, starved ${r.report?.starved}, reasons ${JSON.stringify(r.report?.reasons)}`);
    expect(r.exit).toBe(0);
    expect(r.report.healthy).toBe(true);
    expect(r.report.xruns).toBe(0);
  });

  it('probe SIGSTOPped for 1 s: one xrun of "at least ~1000 ms", not healthy, exit 1', () => {
    const r = get('probe-sigstop');
    const bufferMs = (r.report.params.bufferFrames / r.report.params.rate) * 1000;
    console.log(`[kernel] cli probe SIGSTOP ${r.stopMs.toFixed(0)} ms (buffer ${bufferMs} ms; probe streaming ${r.runningAfterMs.toFixed(0)} ms after spawn): exit ${r.exit}, xruns ${r.report.xruns}, longest at least ${r.report.xrunMsMax} ms, reasons ${JSON.stringify(r.report.reasons)}`);
    expect(r.exit).toBe(1);
    expect(r.report.healthy).toBe(false);
    expect(r.report.xruns).toBe(1);
    expect(r.report.xrunMsMax).toBeGreaterThan(r.stopMs - bufferMs - 60);
    expect(r.report.xrunMsMax).toBeLessThan(r.stopMs + 50);
  });

  it('probe of an unbound card: cannot open (ENODEV), exit 2', () => {
    const r = get('probe-unbound');
    console.log(`[kernel] cli probe unbound hw:Dummy: exit ${r.exit}: ${r.stdout}`);
    expect(r.unbindError).toBeNull();
    expect(r.exit).toBe(2);
    expect(r.stdout + r.stderr).toMatch(/ENODEV/);
    expect(r.bindError).toBeNull();
    expect(r.cardsAfter).toMatch(/Dummy/);
  });
});
