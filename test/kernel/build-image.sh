#!/usr/bin/env bash
# Build (or reuse) the test VM image: Debian's own kernel + a busybox initramfs
# that loads snd-dummy, snd-aloop and 9p and runs a command in a chroot of the
# host's root (see init.sh). Idempotent: everything lives under
# <repo>/.cache/kernel/ and is rebuilt only when the kernel package, init.sh or
# this script changes.
#
#   test/kernel/build-image.sh            build if needed, then boot once and
#                                         print the kernel version + boot time
#   test/kernel/build-image.sh --no-boot  build if needed, no smoke boot
#   test/kernel/build-image.sh --force    rebuild
#
# Outputs (.cache/kernel/image/): vmlinux (ELF, booted by QEMU via PVH),
# initramfs.cpio.gz, image.env (KVER=, KPKG=, KPKG_VERSION=).
#
# Host packages: test/kernel/apt-packages.txt. The kernel package is fetched
# with `apt-get download` and unpacked with `dpkg -x`; it is never installed.
# KERNEL_PKG=linux-image-6.1.0-NN-amd64 pins a package; by default the one
# linux-image-amd64 depends on.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${ALSA_HEALTH_KERNEL_CACHE:-$REPO/.cache/kernel}
IMG=$CACHE/image
FORCE=0
BOOT=1
for a in "$@"; do
  case "$a" in
    --force) FORCE=1 ;;
    --no-boot) BOOT=0 ;;
    *) echo "usage: $0 [--force] [--no-boot]" >&2; exit 2 ;;
  esac
done

log() { echo "[build-image] $*" >&2; }

missing=()
for t in qemu-system-x86_64:qemu-system-x86 busybox:busybox-static depmod:kmod modprobe:kmod \
         cpio:cpio xz:xz-utils dpkg-deb:dpkg apt-get:apt gzip:gzip flock:util-linux; do
  command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t#*:}")
done
if ((${#missing[@]})); then
  echo "[build-image] missing host tools; install: apt-get install -y ${missing[*]}" >&2
  exit 3
fi
BUSYBOX=$(command -v busybox)
if ldd "$BUSYBOX" >/dev/null 2>&1; then
  echo "[build-image] $BUSYBOX is dynamically linked; install busybox-static" >&2
  exit 3
fi

mkdir -p "$CACHE/debs"
# One builder at a time (two test runs, or CI and a developer, may start together).
exec 9>"$CACHE/.lock"
flock 9

# --- which kernel package -------------------------------------------------
KPKG=${KERNEL_PKG:-}
if [[ -z "$KPKG" ]]; then
  KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null \
    | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -1 || true)
fi
if [[ -z "$KPKG" && -f "$IMG/image.env" ]]; then
  # apt lists unavailable (offline): keep what is cached.
  KPKG=$(sed -n 's/^KPKG=//p' "$IMG/image.env")
  log "apt-cache gave no kernel package; reusing cached $KPKG"
fi
[[ -n "$KPKG" ]] || { echo "[build-image] cannot resolve linux-image-amd64 (apt-get update?)" >&2; exit 3; }
KVER=${KPKG#linux-image-}

STAMP="$KPKG $(cat "$HERE/build-image.sh" "$HERE/init.sh" | sha256sum | cut -c1-16)"
if [[ $FORCE == 0 && -f "$IMG/stamp" && "$(cat "$IMG/stamp")" == "$STAMP" \
      && -s "$IMG/vmlinux" && -s "$IMG/initramfs.cpio.gz" ]]; then
  log "cached image is current ($STAMP)"
else
  # --- fetch + unpack the kernel package ----------------------------------
  deb=$(ls "$CACHE/debs/${KPKG}_"*.deb 2>/dev/null | tail -1 || true)
  if [[ -z "$deb" ]]; then
    log "apt-get download $KPKG"
    (cd "$CACHE/debs" && apt-get download "$KPKG" 2>&1 | grep -v 'unsandboxed as root' >&2)
    deb=$(ls "$CACHE/debs/${KPKG}_"*.deb | tail -1)
  fi
  KPKG_VERSION=$(dpkg-deb -f "$deb" Version)
  log "unpacking $(basename "$deb")"
  KROOT=$CACHE/kroot
  rm -rf "$KROOT" "$IMG.tmp"
  dpkg -x "$deb" "$KROOT"
  mkdir -p "$IMG.tmp"

  # --- vmlinux: the bzImage's xz payload, decompressed (an ELF; PVH boot) --
  BZ=$KROOT/boot/vmlinuz-$KVER
  ok=0
  for off in $(LC_ALL=C grep -obUaP '\xFD7zXZ\x00' "$BZ" | cut -d: -f1); do
    # (tail gets SIGPIPE once xz has the stream: judge by the output, not the status)
    { tail -c +$((off + 1)) "$BZ" | xz -dc --single-stream > "$IMG.tmp/vmlinux"; } 2>/dev/null || true
    if [[ "$(head -c 4 "$IMG.tmp/vmlinux" | od -An -c | tr -d ' ')" == '177ELF' ]]; then
      ok=1; break
    fi
  done
  [[ $ok == 1 ]] || { echo "[build-image] no xz ELF payload in $BZ" >&2; exit 4; }
  grep -q '^CONFIG_PVH=y' "$KROOT/boot/config-$KVER" || { echo "[build-image] kernel lacks CONFIG_PVH" >&2; exit 4; }

  # --- initramfs ------------------------------------------------------------
  depmod -b "$KROOT" "$KVER"
  IR=$CACHE/initramfs
  rm -rf "$IR"
  mkdir -p "$IR"/{bin,sbin,etc,proc,sys,dev,tmp,host,lib/modules/$KVER}
  cp "$BUSYBOX" "$IR/bin/busybox"
  for app in $(busybox --list); do
    [[ "$app" == busybox ]] || ln -sf busybox "$IR/bin/$app"
  done
  : > "$IR/etc/ah-modules"
  modprobe -d "$KROOT" -S "$KVER" -a --show-depends snd-dummy snd-aloop 9p 9pnet_virtio virtio_pci \
    | awk '$1 == "insmod" { print $2 }' | awk '!seen[$0]++' | while read -r ko; do
      rel=${ko#"$KROOT"/}
      mkdir -p "$IR/$(dirname "$rel")"
      case "$ko" in
        *.ko.xz) xz -dc "$ko" > "$IR/${rel%.xz}"; rel=${rel%.xz} ;;
        *.ko.zst) zstd -qdc "$ko" > "$IR/${rel%.zst}"; rel=${rel%.zst} ;;
        *) cp "$ko" "$IR/$rel" ;;
      esac
      echo "/$rel" >> "$IR/etc/ah-modules"
    done
  cp "$KROOT/lib/modules/$KVER"/modules.{order,builtin,builtin.modinfo} "$IR/lib/modules/$KVER/" 2>/dev/null || true
  depmod -b "$IR" "$KVER"
  cp "$HERE/init.sh" "$IR/init"
  chmod 755 "$IR/init"
  (cd "$IR" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) | gzip -6 > "$IMG.tmp/initramfs.cpio.gz"
  {
    echo "KVER=$KVER"
    echo "KPKG=$KPKG"
    echo "KPKG_VERSION=$KPKG_VERSION"
  } > "$IMG.tmp/image.env"
  echo "$STAMP" > "$IMG.tmp/stamp"
  rm -rf "$IMG" "$KROOT" "$IR"
  mv "$IMG.tmp" "$IMG"
  log "built: $(du -h "$IMG/vmlinux" | cut -f1) vmlinux, $(du -h "$IMG/initramfs.cpio.gz" | cut -f1) initramfs, $(gzip -dc "$IMG/initramfs.cpio.gz" | cpio -t --quiet 2>/dev/null | grep -c '\.ko$') modules"
fi

# shellcheck disable=SC1091
. "$IMG/image.env"
echo "kernel package: $KPKG $KPKG_VERSION"
echo "image: $IMG"

[[ $BOOT == 1 ]] || exit 0

# --- smoke boot: kernel version, cards, boot time -----------------------------
t0=$(date +%s%N)
out=$(timeout 120 qemu-system-x86_64 -accel tcg -cpu max -m "${AH_VM_MEM:-512}" -smp 1 \
  -nodefaults -no-user-config -display none -serial stdio -no-reboot \
  -kernel "$IMG/vmlinux" -initrd "$IMG/initramfs.cpio.gz" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -append "console=ttyS0 panic=-1 quiet -- /bin/cat /proc/asound/cards" 2>&1) || true
t1=$(date +%s%N)
tr -d '\r' <<<"$out" | sed 's/^/  guest| /' >&2
kv=$(tr -d '\r' <<<"$out" | sed -n 's/^@@AH:KERNEL //p')
ready=$(tr -d '\r' <<<"$out" | sed -n 's/^@@AH:READY uptime=//p')
rc=$(tr -d '\r' <<<"$out" | sed -n 's/^@@AH:EXIT \([0-9]*\).*/\1/p')
echo "kernel version: ${kv:-?}"
echo "boot: guest uptime at command start ${ready:-?} s; qemu start -> poweroff $(( (t1 - t0) / 1000000 )) ms (TCG)"
if [[ "$rc" != 0 ]] || ! grep -q Dummy <<<"$out" || ! grep -q Loopback <<<"$out"; then
  echo "[build-image] smoke boot FAILED (exit=${rc:-none})" >&2
  exit 5
fi
echo "cards: Dummy, Loopback present"
