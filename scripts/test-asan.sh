#!/usr/bin/env bash
# Builds the addon with AddressSanitizer + UndefinedBehaviorSanitizer into
# .cache/asan/ (build/ is left alone) and runs the engine tests against it.
# Node is not instrumented, so libasan is preloaded; node-gyp-build loads the
# sanitized binary because it honours ALSA_HEALTH_PREBUILD=<dir> (it then looks
# in <dir>/build/Release), so src/native.ts needs no hook.
#   bash scripts/test-asan.sh [vitest file filters...]
#   (default: test/engine test/engine-alsa test/fuzz, then scripts/stream-smoke.mjs,
#   then a 60 s fault soak, test/soak/run.mjs)
#
# Leaks: the vitest run has detect_leaks=0. Processes that end by exit()
# (vitest workers, the lifecycle tests' children) leave the V8 heap allocated,
# and LeakSanitizer reports hundreds of V8/libuv blocks there, none in the
# addon; a suppression wide enough for them (any node frame) would also hide
# addon leaks made from JS calls. Leaks are checked instead by
# scripts/stream-smoke.mjs (open / stream / reopen / close, capture and
# playback, with faults), which returns from main normally: there Node itself
# reports no leaks, so it runs with detect_leaks=1 and no suppressions.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/.cache/asan
mkdir -p "$out"

# A binding.gyp for .cache/asan: the same target, sources pointing back at
# native/, plus the sanitizer flags (compile and link).
node -e '
  const fs = require("fs");
  const gyp = JSON.parse(fs.readFileSync("binding.gyp", "utf8"));
  const san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined", "-g", "-O1"];
  for (const t of gyp.targets) {
    t.sources = t.sources.map((s) => "../../" + s);
    t.cflags = [...(t.cflags || []), ...san];
    t.cflags_cc = [...(t.cflags_cc || []), ...san];
    t.ldflags = [...(t.ldflags || []), "-fsanitize=address,undefined"];
  }
  const text = JSON.stringify(gyp, null, 2) + "\n";
  const dst = process.argv[1] + "/binding.gyp";
  if (!fs.existsSync(dst) || fs.readFileSync(dst, "utf8") !== text) fs.writeFileSync(dst, text);
' "$out"

t0=$(date +%s)
(cd "$out" && npx --prefix "$root" node-gyp configure build -j 2 >build.log 2>&1) || {
  cat "$out/build.log" >&2
  echo "test-asan: building the sanitized addon failed" >&2
  exit 1
}
echo "test-asan: sanitized addon built in $(( $(date +%s) - t0 )) s: $out/build/Release/alsa_health.node"

libasan=$(gcc -print-file-name=libasan.so)
[ -f "$libasan" ] || { echo "test-asan: libasan.so not found (apt-get install gcc)" >&2; exit 1; }

# Only the node processes get the sanitizer environment (date, tail... under
# LD_PRELOAD would report their own exit-time leaks).
san_env=(
  ALSA_HEALTH_PREBUILD="$out"
  LD_PRELOAD="$libasan${LD_PRELOAD:+:$LD_PRELOAD}"
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=${ASAN_LEAKS:-0}:halt_on_error=1:abort_on_error=1:print_summary=1:strict_string_checks=1:detect_stack_use_after_return=0}"
  UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
)

# The loader must pick the sanitized binary, not build/Release.
loaded=$(ALSA_HEALTH_PREBUILD="$out" node -e 'console.log(require("node-gyp-build").path(process.argv[1]))' "$root")
[ "$loaded" = "$out/build/Release/alsa_health.node" ] || {
  echo "test-asan: node-gyp-build picks $loaded, not the sanitized addon" >&2
  exit 1
}

if (($#)); then files=("$@"); else files=(test/engine test/engine-alsa test/fuzz); fi
t0=$(date +%s)
# node directly, not npx: npm itself would run under the preloaded libasan.
# One file at a time by default: ASan slows the engine 2-3x and several
# engine tests measure timing (ASAN_WORKERS=2 halves the run on an idle machine).
env "${san_env[@]}" node node_modules/vitest/vitest.mjs run --maxWorkers="${ASAN_WORKERS:-1}" "${files[@]}"
echo "test-asan: tests passed under ASan+UBSan in $(( $(date +%s) - t0 )) s"

if (($# == 0)); then
  npx tsc -p tsconfig.json  # the smoke script uses dist/
  t0=$(date +%s)
  env "${san_env[@]}" ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=1:print_summary=1" \
    node scripts/stream-smoke.mjs
  echo "test-asan: stream-smoke.mjs clean under ASan+UBSan+LSan in $(( $(date +%s) - t0 )) s"

  # The 60 s fault soak (the CI seed, fewer devices: ASan slows every period
  # 2-3x on a 2-CPU machine) with the sanitized addon: every fault path, the
  # reopen storms and the reload churn under ASan+UBSan. Leaks off, as for
  # vitest: the soak ends by process.exit() with the V8 heap live.
  t0=$(date +%s)
  env "${san_env[@]}" node test/soak/run.mjs --minutes "${ASAN_SOAK_MINUTES:-1}" --devices 4 --seed 20261204
  echo "test-asan: 60 s soak passed under ASan+UBSan in $(( $(date +%s) - t0 )) s"
fi
