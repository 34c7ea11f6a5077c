#!/usr/bin/env bash
# Builds the host's (linux-x64) prebuild with cmake-js into
# prebuilds/linux-x64/node.napi.glibc.node, beside the node-gyp build in
# build/ (untouched). Incremental; safe to rerun.
set -euo pipefail
source "$(dirname "$0")/arm-common.sh"
cd "$AH_ROOT"
t0=$(date +%s.%N)
[ "$(uname -m)" = x86_64 ] || { echo "build-prebuild-x64: run on an x86_64 machine" >&2; exit 1; }
ah_apt_ensure debian-packages.txt <(echo cmake)
[ -d node_modules/node-addon-api ] || { echo "build-prebuild-x64: run npm ci first (node-addon-api)" >&2; exit 1; }
ah_cmakejs
ah_nodedir
out="$AH_CACHE/cmake/x64"
"$AH_CMAKEJS" build --log-level warn -O "$out" -p "$(nproc)" >&2
ah_install_prebuild "$out/Release/alsa_health.node" strip "$AH_PREBUILD_X64"
ah_log "built ${AH_PREBUILD_X64#"$AH_ROOT"/} ($(stat -c %s "$AH_PREBUILD_X64") bytes) in $(ah_since "$t0") s"
echo "$AH_PREBUILD_X64"
