// The board's binary loads: ARM, Node-API, the armv7 prebuild chosen by
// node-gyp-build, errors with codes from the emulated alsa-lib.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { addonPath, lib, onBoard } from './helpers.mjs';

test('the addon loads; arch, Node and N-API versions', () => {
  const armv = process.config.variables.arm_version;
  console.log(
    `[arm] ${process.arch} (armv${armv ?? '-'}, float ABI ${process.config.variables.arm_float_abi ?? '-'}) ` +
      `node ${process.version}, N-API ${process.versions.napi}, addon ${addonPath}`,
  );
  assert.equal(typeof lib.openPcm, 'function');
  assert.ok(Number(process.versions.napi) >= 8, 'the addon is built for NAPI_VERSION=8');
  if (onBoard) {
    assert.equal(process.arch, 'arm');
    assert.equal(armv, '7');
    assert.match(addonPath, /prebuilds\/linux-arm\/node\.napi\.armv7\.glibc\.node$/);
  }
});

test('alsa-lib answers: listPcms, and an unknown PCM is a PcmError with errno and code', async () => {
  const pcms = await lib.listPcms();
  assert.ok(Array.isArray(pcms));
  console.log(`[arm] listPcms: ${pcms.length} PCMs (${pcms.slice(0, 4).map((p) => p.name).join(', ')})`);
  const err = await lib.openPcm({ device: 'no_such_pcm_here', direction: 'playback' }).catch((e) => e);
  assert.ok(err instanceof lib.PcmError);
  assert.equal(err.code, 'ENOENT');
  assert.equal(err.errno, -2);
  assert.match(err.message, /cannot open playback PCM "no_such_pcm_here": No such file or directory \(ENOENT\)/);
});

test('sdNotify without NOTIFY_SOCKET is a no-op; a wrong type is a TypeError', () => {
  const saved = process.env.NOTIFY_SOCKET;
  delete process.env.NOTIFY_SOCKET;
  try {
    assert.equal(typeof lib.sdNotify('STATUS=arm test'), 'boolean');
  } finally {
    if (saved !== undefined) process.env.NOTIFY_SOCKET = saved;
  }
  assert.throws(() => lib.sdNotify(42), TypeError);
});
