#!/bin/sh
# PID 1 of the test VM (busybox sh, from the initramfs built by build-image.sh).
#
#  1. mount proc, sys, devtmpfs, a tmpfs for /tmp
#  2. insmod the module closure of snd-dummy, snd-aloop, 9p, 9pnet_virtio,
#     virtio_pci (order written by build-image.sh into /etc/ah-modules)
#  3. mount the host's root (9p tag "hostroot", read-only) on /host and bind
#     /proc /sys /dev /tmp into it
#  4. run the command in `chroot /host`:
#       - ah.run=<dir> on the kernel command line: <dir> is a host directory
#         shared read-write under the 9p tag "run"; it is mounted over the same
#         path inside the chroot, the command is <dir>/cmd.sh, its stdout,
#         stderr and exit code go to <dir>/stdout, <dir>/stderr, <dir>/rc;
#       - otherwise the words after `--` on the kernel command line (the
#         kernel hands them to init as arguments), output on the console.
#  5. print markers (@@AH:...) on the console and power off.
#
# Markers (each at the start of a line on ttyS0):
#   @@AH:KERNEL <uname -r>
#   @@AH:MODULES <n> loaded
#   @@AH:ERROR <what>
#   @@AH:READY uptime=<s>       just before the command starts
#   @@AH:EXIT <rc> uptime=<s>   the command's exit code
export PATH=/bin:/sbin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || true
mount -t tmpfs -o mode=1777 tmpfs /tmp
echo 1 > /proc/sys/kernel/printk 2>/dev/null || true

up() { cut -d' ' -f1 /proc/uptime; }
fail() {
  echo "@@AH:ERROR $*"
  echo "@@AH:EXIT 125 uptime=$(up)"
  poweroff -f; reboot -f; exit 1
}

echo "@@AH:KERNEL $(uname -r)"

n=0
while read -r m; do
  [ -n "$m" ] || continue
  insmod "$m" || fail "insmod $m"
  n=$((n + 1))
done < /etc/ah-modules
echo "@@AH:MODULES $n loaded"

# msize: bigger 9p messages make the node binary load much faster.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /host \
  || fail "mount 9p hostroot"
for d in proc sys dev tmp; do
  mount --bind "/$d" "/host/$d" || fail "bind /$d"
done

RUN=
for w in $(cat /proc/cmdline); do
  case "$w" in ah.run=*) RUN="${w#ah.run=}" ;; esac
done

ENVV="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp LANG=C.UTF-8 TERM=dumb AH_IN_VM=1"

if [ -n "$RUN" ]; then
  [ -d "/host$RUN" ] || mkdir -p "/host$RUN" || fail "no run dir $RUN"
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none run "/host$RUN" \
    || fail "mount 9p run"
  echo "@@AH:READY uptime=$(up)"
  # The redirections are opened by this shell, outside the chroot.
  env -i $ENVV chroot /host /bin/sh -c 'cd "$1" && exec /bin/sh ./cmd.sh' sh "$RUN" \
    > "/host$RUN/stdout" 2> "/host$RUN/stderr" < /dev/null
  rc=$?
  echo "$rc" > "/host$RUN/rc"
else
  echo "@@AH:READY uptime=$(up)"
  env -i $ENVV chroot /host "$@"
  rc=$?
fi
sync
echo "@@AH:EXIT $rc uptime=$(up)"
poweroff -f
reboot -f
