// Guest side: the `alsa-health` CLI (dist/daemon/cli.js) against the VM's real
// drivers: list, probe (healthy), probe with a SIGSTOP (xrun -> not healthy),
// probe of an unbound card (cannot open). One JSON line per scenario.
//   node test/kernel/guest/cli.mjs [scenario ...]
import { REPO } from './engine-lib.mjs';
import { cards, emit, now, pcmStatus, scenario, sleep, sysfsWriter, track } from './lib.mjs';

const CLI = `${REPO}dist/daemon/cli.js`;
const only = new Set(process.argv.slice(2));
const want = (n) => only.size === 0 || only.has(n);
const probeArgs = ['--period-frames', '480', '--buffer-periods', '10', '--json'];

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    const i = text.indexOf('{');
    try {
      return i >= 0 ? JSON.parse(text.slice(i)) : null;
    } catch {
      return null;
    }
  }
}

async function cli(args, { stopAfterRunningMs = null, stopForMs = 1000 } = {}) {
  const t0 = now();
  const p = track(process.execPath, [CLI, ...args], { keep: true });
  let stopMs = null;
  let runningAfterMs = null;
  if (stopAfterRunningMs !== null) {
    // Wait until the probe streams (its substream RUNNING in procfs), then stop it.
    while (pcmStatus('Dummy', 0, 'capture').state !== 'running') {
      if (p.child.exitCode !== null || now() - t0 > 30_000) throw new Error('the probe never streamed');
      await sleep(50); // gently: the probe starts on the same (emulated) CPU
    }
    runningAfterMs = now() - t0;
    await sleep(stopAfterRunningMs);
    const tStop = now();
    p.child.kill('SIGSTOP');
    await sleep(stopForMs);
    stopMs = now() - tStop;
    p.child.kill('SIGCONT');
  }
  const ex = await p.exited;
  const stdout = Buffer.concat(p.chunks).toString();
  return { exit: ex.code, signal: ex.signal, ms: ex.at - t0, stopMs, runningAfterMs, stdout, stderr: ex.stderr.trim(), json: parseJson(stdout) };
}

if (want('startup'))
  // How long the CLI takes to start here (TCG: JS compile is emulated), against bare node.
  await scenario('startup', async () => {
    const t0 = now();
    const n = track(process.execPath, ['-e', '0']);
    await n.exited;
    const nodeMs = now() - t0;
    const v = await cli(['--version']);
    return { nodeMs, cliVersionMs: v.ms, exit: v.exit, version: v.stdout.trim() };
  });

if (want('probe-capture'))
  await scenario('probe-capture', async () => {
    const r = await cli(['probe', 'hw:Dummy', '--seconds', '2', ...probeArgs]);
    return { exit: r.exit, ms: r.ms, report: r.json, stderr: r.stderr, stdout: r.json ? undefined : r.stdout };
  });

if (want('probe-playback'))
  await scenario('probe-playback', async () => {
    const r = await cli(['probe', 'hw:Loopback,0,0', '--direction', 'playback', '--seconds', '2', ...probeArgs]);
    return { exit: r.exit, ms: r.ms, report: r.json, stderr: r.stderr, stdout: r.json ? undefined : r.stdout };
  });

if (want('probe-sigstop'))
  await scenario('probe-sigstop', async () => {
    const r = await cli(['probe', 'hw:Dummy', '--seconds', '3', ...probeArgs], { stopAfterRunningMs: 700, stopForMs: 1000 });
    return { exit: r.exit, ms: r.ms, stopMs: r.stopMs, runningAfterMs: r.runningAfterMs, report: r.json, stderr: r.stderr, stdout: r.json ? undefined : r.stdout };
  }, 30_000);

if (want('probe-unbound'))
  await scenario('probe-unbound', async () => {
    const sysfs = sysfsWriter();
    await sysfs.ready;
    const unbind = await sysfs.write('/sys/bus/platform/drivers/snd_dummy/unbind', 'snd_dummy.0');
    const r = await cli(['probe', 'hw:Dummy', '--seconds', '1', ...probeArgs]);
    const bind = await sysfs.write('/sys/bus/platform/drivers/snd_dummy/bind', 'snd_dummy.0');
    await sysfs.close();
    return { unbindError: unbind.error, bindError: bind.error, exit: r.exit, stdout: r.stdout.trim(), stderr: r.stderr, cardsAfter: cards() };
  });

emit({ scenario: 'done', ok: true });
