#!/bin/sh
# Stage 1 of the systemd VM (busybox sh, /ah-init of the initramfs; run.sh appends
# it, overlay.ko and its module list to test/kernel's initramfs as a second cpio).
#
#  1. mount proc, sys, devtmpfs; insmod test/kernel's module closure (snd-dummy,
#     snd-aloop, 9p, virtio) and overlay
#  2. the host's root (9p "hostroot", read-only) + a tmpfs upper layer = an
#     overlayfs on /newroot: the whole root is writable, writes stay in RAM
#  3. mount the run directory (9p "run", read-write) at its host path; copy
#     <run>/etc/* over /newroot/etc (the test units, masks, generator masks)
#  4. switch_root to /lib/systemd/systemd (it reads systemd.unit= etc. from the
#     kernel command line)
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || true
echo 1 > /proc/sys/kernel/printk 2>/dev/null || true

fail() {
  echo "@@AH:ERROR $*"
  echo "@@AH:EXIT 125"
  poweroff -f; reboot -f; exit 1
}
echo "@@AH:KERNEL $(uname -r)"
n=0
for list in /etc/ah-modules /etc/ah-systemd-modules; do
  while read -r m; do
    [ -n "$m" ] || continue
    insmod "$m" || fail "insmod $m"
    n=$((n + 1))
  done < "$list"
done
echo "@@AH:MODULES $n loaded"

RUN=
for w in $(cat /proc/cmdline); do
  case "$w" in ah.run=*) RUN="${w#ah.run=}" ;; esac
done
[ -n "$RUN" ] || fail "no ah.run= on the kernel command line"

mkdir -p /lower /upper /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /lower \
  || fail "mount 9p hostroot"
mount -t tmpfs -o mode=755,size=256m tmpfs /upper || fail "tmpfs upper"
mkdir -p /upper/u /upper/w
mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w /newroot \
  || fail "mount overlay (lower 9p, upper tmpfs)"
mkdir -p "/newroot$RUN" || fail "mkdir run dir"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none run "/newroot$RUN" \
  || fail "mount 9p run"
cp -a "/newroot$RUN/etc/." /newroot/etc/ || fail "copy $RUN/etc"
# A fresh machine id per boot (the host's must not be reused by journald).
tr -d '-' < /proc/sys/kernel/random/uuid > /newroot/etc/machine-id
# The host may be a container (/.dockerenv): systemd would then believe it runs in
# one, ignore the kernel command line (systemd.unit=) and skip the cgroup and
# mount setup of a real boot. Hide the markers in the overlay.
rm -f /newroot/.dockerenv /newroot/run/.containerenv
for d in dev proc sys; do
  mount --move "/$d" "/newroot/$d" || fail "move /$d"
done
echo "@@AH:SWITCH_ROOT uptime=$(cut -d' ' -f1 /newroot/proc/uptime)"
exec switch_root /newroot /lib/systemd/systemd
