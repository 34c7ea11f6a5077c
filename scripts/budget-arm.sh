#!/usr/bin/env bash
# Board budget figures (issue 7): the daemon with two mock devices on the
# host's Node and on the armv7l Node under qemu-arm; RSS, JS heap, CPU per
# audio second, against a bare idle node. Figures only, no pass/fail.
#   bash scripts/budget-arm.sh [--seconds 600] [--every 60] [--only host|arm]
set -euo pipefail
source "$(dirname "$0")/arm-common.sh"
cd "$AH_ROOT"
ah_apt_ensure scripts/arm-apt-packages.txt
bash scripts/build-arm.sh >/dev/null
if [ ! -f dist/index.js ] || [ -n "$(find src tsconfig.json -newer dist/index.js -print -quit)" ]; then
  npx tsc -p tsconfig.json
fi
ah_arm_runtime
export AH_ARM_NODE QEMU_LD_PREFIX="$AH_ARM_SYSROOT"
exec node test/arm/budget.mjs "$@"
