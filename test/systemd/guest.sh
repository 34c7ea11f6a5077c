#!/bin/sh
# Runs in the VM as ah-test.service, systemd (252, the host's) is PID 1.
# README "Run it on the board", with the repo's dist/ instead of an npm install
# (the unit's ExecStart is replaced by `node <repo>/dist/daemon/cli.js` in a
# drop-in; /usr/bin/alsa-health is a two-line wrapper) and mock devices instead
# of hw:0,0 / hw:1,0. Each step prints `$ command`, its output and its exit code;
# `check` lines say PASS / FAIL. rc (in $AH_RUN/rc) = number of FAILs.
# Env from ah-test.service: AH_REPO, AH_RUN.
set -u
REPO=$AH_REPO
FAILS=0
up() { cut -d' ' -f1 /proc/uptime; }
echo "@@AH:READY uptime=$(up)" > /dev/console
T0=$(up)
ms_since() { awk -v a="$1" -v b="$(up)" 'BEGIN { printf "%d", (b - a) * 1000 }'; }
run() {
  echo
  echo "\$ $*"
  _t=$(up)
  sh -c "$*" 2>&1
  _rc=$?
  echo "[exit $_rc, $(ms_since "$_t") ms, t+$(ms_since "$T0") ms]"
  return $_rc
}
check() { # check WHAT COMMAND...
  _what=$1; shift
  if sh -c "$*" >/dev/null 2>&1; then echo "check: PASS $_what"; else echo "check: FAIL $_what"; FAILS=$((FAILS + 1)); fi
}
wait_for() { # wait_for SECONDS WHAT COMMAND...
  _n=$(($1 * 5)); _what=$2; shift 2; _t=$(up)
  while [ $_n -gt 0 ]; do
    if sh -c "$*" >/dev/null 2>&1; then echo "check: PASS $_what (after $(ms_since "$_t") ms)"; return 0; fi
    sleep 0.2; _n=$((_n - 1))
  done
  echo "check: FAIL $_what (timed out)"; FAILS=$((FAILS + 1)); return 1
}
finish() {
  echo
  echo "guest: $FAILS failed checks; t+$(ms_since "$T0") ms"
  echo "$FAILS" > "$AH_RUN/rc"
  sync
  echo "@@AH:EXIT $FAILS uptime=$(up)" > /dev/console
  systemctl poweroff --force --force
  exit 0
}

echo "systemd as PID 1: $(cat /proc/1/comm) ($(systemctl --version | head -1)); kernel $(uname -r); guest uptime $(up) s"
run 'findmnt -no FSTYPE,OPTIONS / | cut -c1-100; systemctl is-system-running; systemd-analyze 2>/dev/null | head -1'

# --- install (README "Run it on the board") ---------------------------------
run "install -Dm644 deploy/alsa-health.sysusers.conf /usr/lib/sysusers.d/alsa-health.conf"
run "systemd-sysusers"
run "getent passwd alsa-health; id alsa-health"
check 'user alsa-health exists, in group audio' 'id -nG alsa-health | grep -qw audio'

mkdir -p /etc/alsa-health
cat > /etc/alsa-health/config.yaml <<'YAML'
# test/systemd: the board's two devices as mock PCMs
logLevel: info
http: { listen: 127.0.0.1:9595 }
devices:
  - { name: hdmi-in, pcm: 'mock:hdmi-in', direction: capture, periodFrames: 960, bufferPeriods: 4, audio: { fifo: /run/alsa-health/hdmi-in.fifo } }
  - { name: usb-out, pcm: 'mock:usb-out', direction: playback, periodFrames: 960, bufferPeriods: 6, audio: silence }
monitor: { checkIntervalMs: 1000 }
YAML
run "install -Dm644 deploy/alsa-health.service /etc/systemd/system/alsa-health.service"
printf '#!/bin/sh\nexec /usr/bin/node %s/dist/daemon/cli.js "$@"\n' "$REPO" > /usr/bin/alsa-health
chmod 755 /usr/bin/alsa-health
mkdir -p /etc/systemd/system/alsa-health.service.d
cat > /etc/systemd/system/alsa-health.service.d/10-repo.conf <<CONF
# test/systemd: the repo's build instead of an npm install
[Service]
ExecStart=
ExecStart=/usr/bin/node $REPO/dist/daemon/cli.js run --config /etc/alsa-health/config.yaml
# node's start over 9p under TCG takes 10-15 s (the unit allows 30 s); a busy CI host may double it
TimeoutStartSec=90s
CONF
run "cat /etc/systemd/system/alsa-health.service.d/10-repo.conf /usr/bin/alsa-health"
run "systemctl daemon-reload"
run "systemd-analyze verify /etc/systemd/system/alsa-health.service"

# --- start / status ------------------------------------------------------------
run "systemctl start alsa-health"
check 'systemctl start returned 0 (Type=notify: READY=1 came)' 'systemctl is-active -q alsa-health'
run "systemctl status alsa-health --no-pager -l | cut -c1-200"
check 'status shows the STATUS= line' 'systemctl status alsa-health --no-pager | grep -q "Status: \"2 devices"'
run "systemctl show alsa-health -p Type -p StatusText -p WatchdogUSec -p User -p MainPID -p NRestarts -p MemoryCurrent"
wait_for 60 'both devices healthy (curl /health = 200)' 'curl -sf -o /dev/null 127.0.0.1:9595/health'
run "alsa-health status"
check 'alsa-health status exit 0' 'alsa-health status'
run "curl -s -o /tmp/health.json -w 'HTTP %{http_code}\\n' 127.0.0.1:9595/health; tr -d ' \\n' < /tmp/health.json | cut -c1-600; echo"
run "curl -s 127.0.0.1:9595/metrics | grep -E '^alsa_health_device_(status|score|up)' | grep -v ' 0$'"
run "ps -o user,group,supgrp,pid,rss,args -C node | cut -c1-160"
run "journalctl -u alsa-health -o cat --no-pager | head -n 8 | cut -c1-240"
check 'journal lines are JSON' 'journalctl -u alsa-health -o cat --no-pager | grep "^{" | head -n 3 | node -e "let s=\"\";process.stdin.on(\"data\",d=>s+=d).on(\"end\",()=>{const l=s.trim().split(\"\\n\");l.forEach(x=>JSON.parse(x));process.exit(l.length===3?0:1)})"'
run "journalctl -u alsa-health -o cat --no-pager | grep -c '^{'"

# --- reload (SIGHUP) -------------------------------------------------------------
PID0=$(systemctl show -p MainPID --value alsa-health)
sed -i 's|^monitor:|  - { name: extra, pcm: "mock:extra", direction: capture }\nmonitor:|' /etc/alsa-health/config.yaml
run "cat /etc/alsa-health/config.yaml"
run "systemctl reload alsa-health"
wait_for 60 'reload: the added device is served (/health/extra = 200)' 'curl -sf -o /dev/null 127.0.0.1:9595/health/extra'
check 'reload: same MainPID' "[ \"\$(systemctl show -p MainPID --value alsa-health)\" = $PID0 ]"
run "journalctl -u alsa-health -o cat --no-pager | grep -iE 'reload|SIGHUP|opened|added' | tail -n 6 | cut -c1-240"
run "alsa-health status"

# --- watchdog: a device that gives up -> systemd restarts the service ---------
cp /etc/alsa-health/config.yaml /tmp/healthy.yaml
cat > /etc/alsa-health/config.yaml <<'YAML'
# test/systemd: 'dead' disconnects for 10 min; recovery gives up after 2 attempts
logLevel: info
http: { listen: 127.0.0.1:9595 }
devices:
  - { name: ok, pcm: 'mock:ok', direction: capture }
  - { name: dead, pcm: 'mock:dead', direction: capture, mock: { faults: [ { at: 1000, type: disconnect, durationMs: 600000 } ] } }
monitor: { checkIntervalMs: 200, hysteresisMs: 0, supervisorTimeoutMs: 3000 }
recovery: { initialBackoffMs: 200, maxBackoffMs: 400, jitter: 0, maxAttempts: 2, attemptTimeoutMs: 1000 }
YAML
cat > /etc/systemd/system/alsa-health.service.d/20-watchdog.conf <<'CONF'
# test/systemd: a short watchdog
[Service]
WatchdogSec=4s
CONF
run "cat /etc/alsa-health/config.yaml /etc/systemd/system/alsa-health.service.d/20-watchdog.conf"
run "systemctl daemon-reload && systemctl restart alsa-health"
PID1=$(systemctl show -p MainPID --value alsa-health)
NR0=$(systemctl show -p NRestarts --value alsa-health)
wait_for 60 "the daemon logged 'recovery gave up' for the dead device" \
  "journalctl -u alsa-health _PID=$PID1 -o cat --no-pager | grep -q 'recovery gave up'"
# The restarted daemon must come up healthy (else its watchdog starves again
# and the final stop races a second kill): the board's config goes back now,
# while the starving daemon still runs (it only reads it on SIGHUP).
cp /tmp/healthy.yaml /etc/alsa-health/config.yaml
wait_for 90 'the watchdog fired and systemd restarted the service (NRestarts went up)' \
  "[ \"\$(systemctl show -p NRestarts --value alsa-health)\" -gt $NR0 ]"
check "systemd logged the watchdog timeout (Failed with result 'watchdog')" "journalctl -u alsa-health --no-pager | grep -q \"Failed with result 'watchdog'\""
wait_for 90 'active again after the restart (new MainPID)' \
  "systemctl is-active -q alsa-health && [ \"\$(systemctl show -p MainPID --value alsa-health)\" != $PID1 ]"

run "journalctl -u alsa-health -o short-monotonic --no-pager | grep -E 'gave up|watchdog ping skipped|Watchdog timeout|Killing|Main process exited|Failed with result|Scheduled restart|Started|Starting' | tail -n 12 | cut -c1-240"
run "systemctl show alsa-health -p NRestarts -p MainPID -p ActiveState -p SubState -p Result -p StatusText -p WatchdogUSec"

# --- stop ---------------------------------------------------------------------
run "systemctl stop alsa-health"
check 'systemctl stop returned 0' true
run "systemctl show alsa-health -p ActiveState -p Result -p ExecMainCode -p ExecMainStatus"
check 'the daemon exited 0 on SIGTERM (ExecMainStatus=0, Result=success)' \
  '[ "$(systemctl show -p ExecMainStatus --value alsa-health)" = 0 ] && [ "$(systemctl show -p Result --value alsa-health)" = success ]'
run "journalctl -u alsa-health -o cat --no-pager | tail -n 4 | cut -c1-240"
finish
