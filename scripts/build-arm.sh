#!/usr/bin/env bash
# npm run build:arm — cross-builds the addon for the board (armv7 Cortex-A7,
# NEON, hard float) with cmake-js and Debian's armhf toolchain, into
# prebuilds/linux-arm/node.napi.armv7.glibc.node. Installs what is missing
# (scripts/arm-apt-packages.txt, cmake-js); incremental; safe to rerun.
set -euo pipefail
source "$(dirname "$0")/arm-common.sh"
cd "$AH_ROOT"
t0=$(date +%s.%N)
ah_apt_ensure scripts/arm-apt-packages.txt
[ -d node_modules/node-addon-api ] || { echo "build-arm: run npm ci first (node-addon-api)" >&2; exit 1; }
ah_cmakejs
ah_nodedir
out="$AH_CACHE/cmake/arm"
"$AH_CMAKEJS" build --log-level warn -a arm -O "$out" -p "$(nproc)" \
  --CDCMAKE_TOOLCHAIN_FILE="$AH_ARM_TOOLCHAIN" >&2
ah_install_prebuild "$out/Release/alsa_health.node" arm-linux-gnueabihf-strip "$AH_PREBUILD_ARM"
# The binary must be what the board runs: 32-bit ARM, hard-float ABI, NEON.
attrs=$(arm-linux-gnueabihf-readelf -hA "$AH_PREBUILD_ARM")
grep -q 'Machine: *ARM' <<<"$attrs" && grep -q 'Tag_ABI_VFP_args: VFP registers' <<<"$attrs" &&
  grep -q 'Tag_Advanced_SIMD_arch: NEON' <<<"$attrs" || { echo "build-arm: unexpected binary:" >&2; echo "$attrs" >&2; exit 1; }
glibc=$(arm-linux-gnueabihf-objdump -T "$AH_PREBUILD_ARM" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
glibcxx=$(arm-linux-gnueabihf-objdump -T "$AH_PREBUILD_ARM" | grep -o 'GLIBCXX_[0-9.]*' | sort -uV | tail -1)
ah_log "built ${AH_PREBUILD_ARM#"$AH_ROOT"/} ($(stat -c %s "$AH_PREBUILD_ARM") bytes; needs $glibc, $glibcxx) in $(ah_since "$t0") s"
echo "$AH_PREBUILD_ARM"
