#!/bin/sh
# Builds the alsa-health test ALSA plugin (an alsa-lib ioplug) and its probe
# client, each only when its source (or this script) is newer than the
# output.  Prints the plugin library's absolute path (last line of stdout).
#   CC      compiler (default cc; e.g. arm-linux-gnueabihf-gcc for armhf)
#   OUT     output directory (default test/alsa-plugin/build)
#   CFLAGS  extra flags
# Needs libasound2-dev (alsa/asoundlib.h, alsa/pcm_ioplug.h, libasound.so).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="${OUT:-$here/build}"
so="$out/libasound_module_pcm_healthtest.so"
probe="$out/healthtest-probe"
mkdir -p "$out"
out=$(cd "$out" && pwd)
so="$out/libasound_module_pcm_healthtest.so"
probe="$out/healthtest-probe"

fresh() { # fresh OUTPUT SOURCE: output exists and is newer than source and this script
  [ -f "$1" ] && [ "$1" -nt "$2" ] && [ "$1" -nt "$here/build.sh" ]
}
build() { # build OUTPUT cc-args...: compile to a temp file, then rename (atomic)
  target=$1; shift
  tmp="$target.tmp.$$"
  # shellcheck disable=SC2086
  if ! ${CC:-cc} -O2 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter ${CFLAGS:-} -o "$tmp" "$@" -lasound; then
    rm -f "$tmp"
    echo "build.sh: building $target failed (is libasound2-dev installed?)" >&2
    exit 1
  fi
  mv -f "$tmp" "$target"
}

if ! fresh "$so" "$here/pcm_healthtest.c"; then
  # -DPIC: alsa-lib's plugin symbol macros reference snd_dlsym_start otherwise
  build "$so" -shared -fPIC -DPIC "$here/pcm_healthtest.c"
fi
if ! fresh "$probe" "$here/healthtest-probe.c"; then
  build "$probe" "$here/healthtest-probe.c"
fi
echo "$so"
