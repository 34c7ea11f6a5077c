// A child process that streams one PCM through the engine (src/, run with
// vite-node) and prints what it sees as JSON lines on stdout, so that a parent
// can SIGSTOP it for a real xrun:
//
//   node node_modules/vite-node/vite-node.mjs test/engine-alsa/stream-child.ts '<openPcm options as JSON>'
//
// Lines: {kind:'opened', t, params} | {kind:'event', tRecvNs, ...PcmEvent} |
// {kind:'sample', bytes, ...HealthSample} | {kind:'openError', code, message} |
// {kind:'closed', bytes}. bigint fields are decimal strings.
// The environment must already hold the plugin's ALSA_CONFIG_PATH.
// Closes the PCM and exits 0 on SIGTERM or when stdin ends.
import { openPcm } from '../../src/index.js';
import type { PcmOptions } from '../../src/types.js';

const out = (o: object): void => {
  process.stdout.write(`${JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
};

const opts = JSON.parse(process.argv[2] ?? '{}') as PcmOptions;
let pcm: Awaited<ReturnType<typeof openPcm>>;
try {
  pcm = await openPcm(opts);
} catch (e) {
  const err = e as { code?: string; message?: string };
  out({ kind: 'openError', code: err.code, message: String(err.message ?? e) });
  process.exit(2);
}
let bytes = 0;
pcm.on('event', (e) => out({ kind: 'event', tRecvNs: process.hrtime.bigint(), ...e }));
pcm.on('sample', (s) => out({ kind: 'sample', bytes, ...s }));
if (opts.direction === 'capture') pcm.audio.on('data', (b: Buffer) => (bytes += b.length));
out({ kind: 'opened', t: process.hrtime.bigint(), params: pcm.params });

let closing = false;
const stop = async (): Promise<void> => {
  if (closing) return;
  closing = true;
  await pcm.close();
  out({ kind: 'closed', bytes });
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.resume();
