#!/usr/bin/env bash
# valgrind memcheck over scripts/stream-smoke.mjs (open / stream / reopen /
# close, capture and playback, mock faults) with the normal build/ addon.
# Node's JIT and GC make memcheck noise of their own, so the verdict counts
# only errors with a frame in alsa_health.node; the full log stays in
# .cache/valgrind/memcheck.log. Exit 1 when the addon has invalid reads or
# writes, uses uninitialised values in a branch, or definitely leaks.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind-smoke: apt-get install valgrind" >&2; exit 1; }
mkdir -p .cache/valgrind
log=.cache/valgrind/memcheck.log
t0=$(date +%s)
# --jitless: no JIT code (fewer false reports, much faster under memcheck).
SMOKE_MS="${SMOKE_MS:-600}" valgrind --tool=memcheck --error-limit=no --leak-check=full --show-leak-kinds=definite \
  --num-callers=30 --log-file="$log" node --jitless scripts/stream-smoke.mjs
echo "valgrind-smoke: ran in $(( $(date +%s) - t0 )) s; log $log"
# One record per error: blocks separated by blank lines after "==pid== " prefixes.
node -e '
  const text = require("fs").readFileSync(process.argv[1], "utf8").replace(/^==\d+== ?/gm, "");
  const blocks = text.split(/\n\s*\n/);
  const kinds = /^(Invalid (read|write|free)|Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Source and destination overlap|.*definitely lost)/;
  const ours = blocks.filter((b) => kinds.test(b.trim()) && /alsa_health\.node|native\//.test(b));
  const all = blocks.filter((b) => kinds.test(b.trim()));
  console.log(`valgrind-smoke: ${all.length} memcheck records in all, ${ours.length} with a frame in the addon`);
  for (const b of ours) console.log(b.trim() + "\n");
  process.exit(ours.length ? 1 : 0);
' "$log"
