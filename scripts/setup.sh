#!/usr/bin/env bash
# Sets up a fresh Debian machine for alsa-health: the Debian packages it
# needs, the npm dependencies, the native addon and the TypeScript build.
# Idempotent and quick when everything is already there (npm start and
# npm test run it first).
set -euo pipefail
cd "$(dirname "$0")/.."

lists=(debian-packages.txt)
[ "${ALSA_HEALTH_SKIP_KERNEL:-}" = 1 ] || lists+=(test/kernel/apt-packages.txt)
mapfile -t wanted < <(grep -hv '^[[:space:]]*\(#\|$\)' "${lists[@]}" | sort -u)
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    echo "alsa-health setup: missing Debian packages: ${missing[*]}" >&2
    echo "  install them as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "alsa-health setup: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The kernel-VM tests fetch Debian's kernel with `apt-get download`: that
# needs apt's package lists even when every package above is installed.
if [ "${ALSA_HEALTH_SKIP_KERNEL:-}" != 1 ] && ! apt-cache show linux-image-amd64 >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq; elif command -v sudo >/dev/null; then sudo apt-get update -qq; fi
fi

# npm dependencies, when missing or older than the lockfile.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

# The addon (incremental: only what changed is recompiled) and dist/.
npx node-gyp configure build -j 2 >/dev/null 2>build/.gyp-errors.log || {
  cat build/.gyp-errors.log >&2
  echo "alsa-health setup: building the native addon failed (see above)" >&2
  exit 1
}
npx tsc -p tsconfig.json
