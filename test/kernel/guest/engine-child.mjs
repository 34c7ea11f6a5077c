// Guest side: a child process that streams one PCM through the engine and
// prints every event and sample as a JSON line, so a parent can SIGSTOP it.
//   node engine-child.mjs '<openPcm options as JSON>'
// Ends (closes the PCM, exits 0) on SIGTERM or when stdin closes.
import { engine } from './engine-lib.mjs';

const opts = JSON.parse(process.argv[2]);
const out = (o) => process.stdout.write(JSON.stringify(o, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) + '\n');
const { openPcm } = await engine();
let pcm;
try {
  pcm = await openPcm(opts);
} catch (e) {
  out({ kind: 'openError', message: String(e?.message ?? e), code: e?.code, errno: e?.errno });
  process.exit(2);
}
let bytes = 0;
let closing = false;
pcm.on('event', (e) => out({ kind: 'event', tRecvNs: process.hrtime.bigint(), ...e }));
pcm.on('sample', (s) => out({ kind: 'sample', bytes, ...s }));
if (opts.direction === 'capture') {
  pcm.audio.on('data', (b) => {
    bytes += b.length;
  });
} else {
  // Keep the playback fed (silence), honouring back-pressure.
  const chunk = Buffer.alloc(3840);
  const pump = () => {
    while (!closing) {
      bytes += chunk.length;
      if (!pcm.audio.write(chunk)) return void pcm.audio.once('drain', pump);
    }
  };
  setImmediate(pump);
}
out({ kind: 'opened', params: pcm.params ?? null, t: process.hrtime.bigint() });
const stop = async () => {
  if (closing) return;
  closing = true;
  await pcm.close();
  out({ kind: 'closed', bytes });
  process.exit(0);
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
