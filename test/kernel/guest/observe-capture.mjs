// Guest side: capture /proc/asound texts (status, hw_params, sw_params, info,
// cards) from the VM's real kernel in each PCM state, for the observer's parser
// fixtures (test/observe/fixtures). One JSON line per capture on stdout.
//   in the VM: runInVm('node test/kernel/guest/observe-capture.mjs') (test/kernel/vm.ts); the texts were saved by hand
import { existsSync, readFileSync } from 'node:fs';
import { emit, now, sleep, track, sysfsWriter } from './lib.mjs';

const fmt = ['-f', 'S16_LE', '-r', '48000', '-c', '2', '-t', 'raw', '--period-size=480', '--buffer-size=4800'];
const read = (p) => {
  try {
    return readFileSync(p, 'utf8');
  } catch (e) {
    return `!${e.code}`;
  }
};
const cap = (name, dir, files = ['status', 'hw_params', 'sw_params']) => {
  const o = { capture: name, t: now() };
  for (const f of files) o[f] = read(`${dir}/${f}`);
  emit(o);
  return o;
};
const D = '/proc/asound/card0/pcm0c/sub0';
const LP = '/proc/asound/card1/pcm0p/sub0';
emit({ capture: 'global', cards: read('/proc/asound/cards'), pcm: read('/proc/asound/pcm'), devices: read('/proc/asound/devices'),
  info: read('/proc/asound/card0/pcm0c/info'), subinfo: read(`${D}/info`), ls0: read('/proc/asound/card0/id'),
  version: read('/proc/asound/version'), pmTest: read('/sys/power/pm_test'), powerState: read('/sys/power/state'),
  mem_sleep: read('/sys/power/mem_sleep') });
cap('dummy-closed', D, ['status', 'hw_params', 'sw_params', 'info']);
cap('missing', '/proc/asound/card0/pcm9c/sub0');

// RUNNING, then SIGSTOP 0.5 s -> owner stall then XRUN; SIGCONT -> RUNNING with a new trigger_time.
{
  const a = track('arecord', ['-D', 'hw:Dummy', ...fmt]);
  while (a.firstDataAt === null && now() - a.startedAt < 5000) await sleep(20);
  await sleep(300);
  cap('dummy-running', D, ['status', 'hw_params', 'sw_params', 'info']);
  a.child.kill('SIGSTOP');
  const t0 = now();
  let i = 0;
  while (now() - t0 < 500) {
    cap(`dummy-stopped-${i++}`, D, ['status']);
    await sleep(25);
  }
  a.child.kill('SIGCONT');
  await sleep(100);
  cap('dummy-recovered', D, ['status']);
  a.child.kill('SIGTERM');
  const ex = await a.exited;
  cap('dummy-after-kill', D, ['status', 'hw_params', 'sw_params']);
  emit({ capture: 'arecord-stderr', text: ex.stderr });
}

// PREPARED: aplay waiting on a pipe with nothing written; then RUNNING; then DRAINING at end of input.
{
  const p = track('aplay', ['-D', 'hw:Loopback,0,0', '-f', 'S16_LE', '-r', '48000', '-c', '2', '-t', 'raw', '--period-size=4800', '--buffer-size=48000']);
  await sleep(800);
  cap('loop-play-prepared', LP, ['status', 'hw_params', 'sw_params']);
  p.child.stdin.write(Buffer.alloc(48000 * 4 * 2));
  await sleep(1000);
  cap('loop-play-running', LP, ['status']);
  p.child.stdin.end();
  const t0 = now();
  let seen = 0;
  while (now() - t0 < 3000) {
    const s = read(`${LP}/status`);
    if (/DRAINING/.test(s)) {
      cap(`loop-play-draining-${seen}`, LP, ['status']);
      if (++seen >= 2) break;
    }
    if (/closed/.test(s)) break;
    await sleep(50);
  }
  await p.exited;
  cap('loop-play-closed', LP, ['status']);
}

// PAUSED / SETUP are not reachable with alsa-utils without a terminal.
// SUSPENDED is not reachable either: `echo devices > /sys/power/pm_test; echo freeze|mem >
// /sys/power/state` hangs this TCG guest (tried with the owner SIGSTOPped), so the
// SUSPENDED fixture is synthetic (test/observe/fixtures/README.md).
// Unbind: the card directory disappears.
{
  const w = sysfsWriter();
  const r = await w.write('/sys/bus/platform/drivers/snd_dummy/unbind', 'snd_dummy.0');
  emit({ capture: 'unbound', r, cards: read('/proc/asound/cards'), status: read(`${D}/status`), dummyLink: existsSync('/proc/asound/Dummy'), card0: existsSync('/proc/asound/card0') });
  await w.write('/sys/bus/platform/drivers/snd_dummy/bind', 'snd_dummy.0');
  emit({ capture: 'rebound', cards: read('/proc/asound/cards'), card0: existsSync('/proc/asound/card0') });
  w.close();
}
