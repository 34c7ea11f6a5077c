#!/usr/bin/env bash
# The packed package installs and loads with no compiler: npm pack (both
# prebuilds must be in the tarball), npm install <tarball> into an empty
# folder with cc/g++/make/node-gyp replaced by tripwires, then load the addon
# and stream from a mock device — on the host, and with the armv7l Node under
# qemu-arm for prebuilds/linux-arm. (Re)builds both prebuilds first (incremental).
#   AH_PACK_KEEP=1   keep the scratch folder (printed)
set -euo pipefail
source "$(dirname "$0")/arm-common.sh"
cd "$AH_ROOT"
t0=$(date +%s.%N)

ah_apt_ensure scripts/arm-apt-packages.txt
bash scripts/build-prebuild-x64.sh >/dev/null # incremental: a no-op when native/ is unchanged
bash scripts/build-arm.sh >/dev/null
if [ ! -f dist/index.js ] || [ -n "$(find src tsconfig.json -newer dist/index.js -print -quit)" ]; then
  npx tsc -p tsconfig.json
fi
ah_arm_runtime

# Scratch outside any tree with a node_modules above it (a stray
# /tmp/node_modules/node-gyp would be found by require() from inside).
work=$(mktemp -d /var/tmp/ah-pack.XXXXXX)
for d in /var/tmp /var /; do
  [ ! -e "$d/node_modules" ] || { echo "pack: $d/node_modules would leak into the check" >&2; exit 1; }
done
[ -n "${AH_PACK_KEEP:-}" ] && echo "scratch: $work" >&2 || trap 'rm -rf "$work"' EXIT

# 1. The tarball and what is in it.
tgz=$(npm pack --silent --pack-destination "$work" | tail -1)
tgz="$work/$tgz"
tar -tzf "$tgz" | sed 's|^package/||' | sort >"$work/contents.txt"
fail=0
for want in "${AH_PREBUILD_X64#"$AH_ROOT"/}" "${AH_PREBUILD_ARM#"$AH_ROOT"/}" dist/index.js dist/native.js dist/daemon/cli.js binding.gyp package.json; do
  grep -qx "$want" "$work/contents.txt" || { echo "pack: $want is missing from the tarball" >&2; fail=1; }
done
if grep -E '^(build/|\.cache/|test/|node_modules/)' "$work/contents.txt" >&2; then
  echo "pack: the tarball holds build or test files (above)" >&2
  fail=1
fi
((fail == 0)) || exit 1
ah_log "tarball $(basename "$tgz"): $(wc -l <"$work/contents.txt") files, $(du -k "$tgz" | cut -f1) kB; prebuilds: $(grep '^prebuilds/' "$work/contents.txt" | tr '\n' ' ')"

# 2. Tripwires: a compiler or node-gyp run during install or load is a failure.
mkdir -p "$work/tripwire"
for tool in cc gcc g++ c++ clang make cmake node-gyp arm-linux-gnueabihf-gcc arm-linux-gnueabihf-g++; do
  printf '#!/bin/sh\necho "%s $*" >>"%s/tripwire.log"\nexit 1\n' "$tool" "$work" >"$work/tripwire/$tool"
  chmod +x "$work/tripwire/$tool"
done
export PATH="$work/tripwire:$PATH"

# 3. An empty project installs the tarball (npm runs its install script,
# node-gyp-build, only if the user approves it; it is run below explicitly).
mkdir -p "$work/app"
cd "$work/app"
echo '{ "name": "ah-pack-check", "version": "1.0.0", "private": true, "type": "module" }' >package.json
ti=$(date +%s.%N)
npm install --no-audit --no-fund --loglevel=error "$tgz" >&2
ah_log "npm install <tarball>: $(ah_since "$ti") s"
pkg="$work/app/node_modules/alsa-health"
[ ! -d "$pkg/build" ] || { echo "pack: install created $pkg/build (a local build ran)" >&2; exit 1; }
# The package's install script (node-gyp-build), run as npm runs it once the
# user approves it: it must find a prebuild that loads and build nothing.
(cd "$pkg" && npm run install --foreground-scripts --loglevel=error) >&2

cat >check.mjs <<'JS'
// Loads alsa-health from node_modules and streams 300 ms from a mock card.
import { createRequire } from 'node:module';
import { openPcm } from 'alsa-health';
const require = createRequire(import.meta.url);
const pkgDir = require('node:path').join(process.cwd(), 'node_modules', 'alsa-health'); // exports has no ./package.json
const addon = require('node-gyp-build').path(pkgDir);
const pcm = await openPcm({ device: 'mock:pack', direction: 'capture' });
let bytes = 0;
pcm.audio.on('data', (c) => { bytes += c.length; });
await new Promise((r) => setTimeout(r, 300));
await pcm.close();
console.log(JSON.stringify({ arch: process.arch, node: process.version, addon: addon.slice(pkgDir.length + 1), bytes }));
if (bytes <= 0) process.exit(1);
JS
host=$(node check.mjs)
ah_log "host: $host"
grep -q '"addon":"prebuilds/linux-x64/' <<<"$host" || { echo "pack: the host did not load prebuilds/linux-x64" >&2; exit 1; }
ta=$(date +%s.%N)
arm=$(QEMU_LD_PREFIX="$AH_ARM_SYSROOT" qemu-arm-static "$AH_ARM_NODE" check.mjs)
ah_log "armv7 under qemu ($(ah_since "$ta") s): $arm"
grep -q '"arch":"arm".*"addon":"prebuilds/linux-arm/node.napi.armv7.glibc.node"' <<<"$arm" || { echo "pack: arm did not load prebuilds/linux-arm" >&2; exit 1; }
if [ -s "$work/tripwire.log" ]; then
  echo "pack: a build tool ran:" >&2
  cat "$work/tripwire.log" >&2
  exit 1
fi
ah_log "pack check passed in $(ah_since "$t0") s (no compiler, no node-gyp)"
