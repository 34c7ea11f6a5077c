#!/usr/bin/env bash
# Boot the kernel-test VM with systemd as PID 1 on the host's root (read-only 9p
# + a tmpfs overlay, see init.sh) and run README "Run it on the board" there:
# systemd-sysusers, the unit, systemctl start / status / reload / stop,
# journalctl, alsa-health status, curl /health, and the watchdog restart of a
# device that gives up (guest.sh). Prints every command and its output.
#
#   test/systemd/run.sh            exit 0 when guest.sh passed every check
#
# Env: AH_VM_TIMEOUT (s, default 420), AH_VM_MEM (MB, default 768),
#      AH_VM_KEEP=1 keeps the run directory, AH_VM_CONSOLE=1 prints the whole
#      guest console (systemd's own messages) even on success.
# Needs what test/kernel needs (test/kernel/apt-packages.txt), systemd on the
# host (/lib/systemd/systemd, Debian 12's 252), and `npm run build` (dist/).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
KCACHE=${ALSA_HEALTH_KERNEL_CACHE:-$REPO/.cache/kernel}
CACHE=$REPO/.cache/systemd
TIMEOUT=${AH_VM_TIMEOUT:-420}
log() { echo "[systemd-vm] $*" >&2; }

t_start=$(date +%s%N)
for f in /lib/systemd/systemd "$REPO/dist/daemon/cli.js"; do
  [[ -e "$f" ]] || { log "missing $f (systemd on the host / npm run build)"; exit 3; }
done
command -v qemu-system-x86_64 >/dev/null || { log "qemu-system-x86_64 not found (test/kernel/apt-packages.txt)"; exit 3; }

# --- test/kernel's image (cached), plus overlay.ko and our stage-1 init ------
rc=0; bash "$REPO/test/kernel/build-image.sh" --no-boot >/dev/null || rc=$?
[[ $rc == 0 ]] || { log "test/kernel/build-image.sh failed ($rc)"; exit "$rc"; }
# shellcheck disable=SC1091
. "$KCACHE/image/image.env"
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
STAMP="$KPKG $(cat "$HERE/init.sh" "$HERE/run.sh" "$KCACHE/image/stamp" | sha256sum | cut -c1-16)"
EXTRA=$CACHE/extra.cpio.gz
if [[ ! -s "$EXTRA" || "$(cat "$CACHE/stamp" 2>/dev/null)" != "$STAMP" ]]; then
  deb=$(ls "$KCACHE/debs/${KPKG}_"*.deb | tail -1)
  X=$CACHE/extra
  rm -rf "$X"
  mkdir -p "$X/etc"
  : > "$X/etc/ah-systemd-modules"
  # overlay: the writable root; autofs4: systemd asks for it at boot.
  for rel in lib/modules/$KVER/kernel/fs/overlayfs/overlay.ko lib/modules/$KVER/kernel/fs/autofs/autofs4.ko; do
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$X" "./$rel" 2>/dev/null \
      || dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$X" "./$rel.xz" \
      || { log "no $rel in $deb"; exit 4; }
    if [[ -f "$X/$rel.xz" ]]; then xz -d "$X/$rel.xz"; fi
    echo "/$rel" >> "$X/etc/ah-systemd-modules"
  done
  cp "$HERE/init.sh" "$X/ah-init"
  chmod 755 "$X/ah-init"
  (cd "$X" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) | gzip -6 > "$EXTRA"
  echo "$STAMP" > "$CACHE/stamp"
  rm -rf "$X"
fi
# The kernel unpacks concatenated (compressed) cpio archives one after the other.
cat "$KCACHE/image/initramfs.cpio.gz" "$EXTRA" > "$CACHE/initrd.img.tmp.$$"
mv "$CACHE/initrd.img.tmp.$$" "$CACHE/initrd.img"
flock -u 9

# --- the run directory: guest.sh, files for the guest's /etc ------------------
RUN=$CACHE/runs/$$-$(date +%s)
[[ "$RUN" =~ ^[A-Za-z0-9/._+-]+$ ]] || { log "run dir path must be plain: $RUN"; exit 2; }
mkdir -p "$RUN/etc/systemd/system" "$RUN/etc/systemd/system-generators"
cp "$HERE/guest.sh" "$RUN/guest.sh"
S=$RUN/etc/systemd/system
cat > "$S/ah-test.target" <<UNIT
[Unit]
Description=alsa-health systemd test (test/systemd)
Requires=basic.target ah-test.service
After=basic.target
AllowIsolate=yes
UNIT
cat > "$S/ah-test.service" <<UNIT
[Unit]
Description=alsa-health systemd test script (test/systemd/guest.sh)
After=basic.target systemd-journald.service

[Service]
Type=exec
Environment=AH_REPO=$REPO AH_RUN=$RUN PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 TERM=dumb HOME=/root
WorkingDirectory=$REPO
ExecStart=/bin/sh $RUN/guest.sh
StandardOutput=file:$RUN/stdout
StandardError=inherit
UNIT
# Everything slow or irrelevant to the test: masked (sysinit.target then means
# journald + the pseudo file systems systemd mounts itself).
masks="cryptsetup.target integritysetup.target veritysetup.target remote-fs.target
  timers.target paths.target getty.target
  dev-hugepages.mount sys-fs-fuse-connections.mount sys-kernel-config.mount
  sys-kernel-debug.mount sys-kernel-tracing.mount proc-sys-fs-binfmt_misc.automount
  kmod-static-nodes.service systemd-ask-password-console.path systemd-ask-password-wall.path
  systemd-binfmt.service systemd-firstboot.service systemd-journal-flush.service
  systemd-machine-id-commit.service systemd-modules-load.service
  systemd-pcrphase-sysinit.service systemd-pcrphase.service systemd-random-seed.service
  systemd-repart.service systemd-sysctl.service systemd-sysusers.service
  systemd-tmpfiles-setup-dev.service systemd-tmpfiles-setup.service
  systemd-tmpfiles-clean.timer systemd-update-utmp.service systemd-pstore.service
  systemd-timesyncd.service systemd-remount-fs.service systemd-fsck-root.service
  systemd-udevd.service systemd-udev-trigger.service systemd-udev-settle.service
  systemd-udevd-control.socket systemd-udevd-kernel.socket systemd-hwdb-update.service
  systemd-journal-catalog-update.service ldconfig.service systemd-boot-system-token.service
  systemd-update-done.service dbus.socket dbus.service systemd-initctl.socket
  systemd-logind.service e2scrub_reap.service postgresql.service
  systemd-networkd.service systemd-resolved.service systemd-oomd.service"
for u in $masks; do ln -sf /dev/null "$S/$u"; done
for g in /lib/systemd/system-generators/*; do ln -sf /dev/null "$RUN/etc/systemd/system-generators/$(basename "$g")"; done

# --- boot ---------------------------------------------------------------------
load0=$(cut -d' ' -f1 /proc/loadavg)
t0=$(date +%s%N)
set +e
timeout -k 5 "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -m "${AH_VM_MEM:-768}" -smp 1 \
  -nodefaults -no-user-config -display none -serial stdio -no-reboot \
  -kernel "$KCACHE/image/vmlinux" -initrd "$CACHE/initrd.img" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs "local,path=$RUN,mount_tag=run,security_model=none" \
  -append "console=ttyS0 panic=-1 quiet rdinit=/ah-init ah.run=$RUN systemd.unit=ah-test.target systemd.show_status=error systemd.journald.forward_to_console=0 systemd.crash_reboot=1" \
  < /dev/null > "$RUN/console.raw" 2>&1
qrc=$?
set -e
t1=$(date +%s%N)
tr -d '\r' < "$RUN/console.raw" > "$RUN/console"
load1=$(cut -d' ' -f1 /proc/loadavg)

ready=$(sed -n 's/^.*@@AH:READY uptime=\([0-9.]*\).*/\1/p' "$RUN/console" | head -1)
sw=$(sed -n 's/^.*@@AH:SWITCH_ROOT uptime=\([0-9.]*\).*/\1/p' "$RUN/console" | head -1)
grc=$(cat "$RUN/rc" 2>/dev/null || echo none)

echo "===== guest: test/systemd/guest.sh under systemd as PID 1 ====="
cat "$RUN/stdout" 2>/dev/null || echo "(no output)"
echo "===== end of guest output ====="
if [[ "$grc" != 0 || -n "${AH_VM_CONSOLE:-}" ]]; then
  echo "----- guest console (ttyS0) -----"
  tail -n 150 "$RUN/console"
  echo "----- end of console -----"
fi
total_ms=$(( ($(date +%s%N) - t_start) / 1000000 ))
echo "kernel $KVER; switch_root at guest uptime ${sw:-?} s; systemd reached ah-test.service at guest uptime ${ready:-?} s; VM wall $(( (t1 - t0) / 1000000 )) ms (qemu exit $qrc$([[ $qrc == 124 || $qrc == 137 ]] && echo ', TIMED OUT')); whole run ${total_ms} ms; host load $load0 -> $load1; guest rc $grc"
[[ -n "${AH_VM_KEEP:-}" ]] && echo "run dir kept: $RUN" || rm -rf "$RUN"
[[ "$grc" == 0 ]]
