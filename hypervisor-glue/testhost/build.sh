#!/usr/bin/env bash
# Builds the VM test host (DESIGN.md, test tier 3) into $BULKHEAD_CACHE (default
# ~/.cache/bulkhead/testhost): Debian's stock kernel with its KVM modules, busybox, our VMM binaries with
# their shared libraries, the guest payloads (the same kernel as bzImage and as ELF vmlinux, a
# tiny busybox guest initramfs, the same plus the guest agent and weston-simple-shm, an ext4
# root disk), the compositor, and, as a separate archive, QEMU for comparisons.
#
#   hypervisor-glue/testhost/build.sh          build what is missing (our binaries always)
#
# Outputs in $BULKHEAD_CACHE/out: vmlinuz (test host kernel = guest kernel), testhost.cpio,
# testhost-qemu.cpio, guest-initramfs.cpio.gz, vmlinux.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${BULKHEAD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bulkhead/testhost}"
OUT="$CACHE/out"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
mkdir -p "$CACHE/debs" "$OUT"

say() { echo "testhost/build: $*" >&2; }

# --- host packages -------------------------------------------------------------------------
need=()
for p in qemu-system-x86 busybox-static cpio xz-utils e2fsprogs socat weston xkb-data \
    fonts-dejavu-core foot wl-clipboard; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
    say "installing ${need[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need[@]}"
fi

# --- kernel --------------------------------------------------------------------------------
pkg="${BULKHEAD_KERNEL_PKG:-$(apt-cache depends linux-image-amd64 \
    | sed -n 's/.*Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -1)}"
[ -n "$pkg" ] || { say "cannot resolve the linux-image-amd64 kernel package (apt-get update?)"; exit 1; }
KDIR="$CACHE/kernel/$pkg"
if [ ! -d "$KDIR/boot" ]; then
    say "downloading $pkg"
    (cd "$CACHE/debs" && ls "$pkg"_*.deb >/dev/null 2>&1 || apt-get download "$pkg")
    rm -rf "$KDIR.tmp" && mkdir -p "$KDIR.tmp"
    dpkg -x "$(ls "$CACHE/debs/$pkg"_*.deb | head -1)" "$KDIR.tmp"
    mv "$KDIR.tmp" "$KDIR"
fi
KVER="$(ls "$KDIR/lib/modules" | head -1)"
MODDIR="$KDIR/lib/modules/$KVER/kernel"
cp "$KDIR/boot/vmlinuz-$KVER" "$OUT/vmlinuz"
echo "$pkg" > "$OUT/kernel-package"

# --- the uncompressed kernel (ELF vmlinux, PVH entry) for QEMU's fastest set-up ------------
if [ ! -s "$OUT/vmlinux" ] || [ "$OUT/vmlinuz" -nt "$OUT/vmlinux" ]; then
    say "extracting vmlinux"
    off="$(LC_ALL=C grep -obUaP '\xfd\x37\x7a\x58\x5a\x00' "$OUT/vmlinuz" | head -1 | cut -d: -f1)"
    [ -n "$off" ] || { say "no xz stream in the kernel image"; exit 1; }
    tail -c +"$((off + 1))" "$OUT/vmlinuz" | xz -dc --single-stream > "$OUT/vmlinux.tmp" 2>/dev/null || true
    head -c 4 "$OUT/vmlinux.tmp" | grep -q ELF || { say "vmlinux extraction failed"; exit 1; }
    mv "$OUT/vmlinux.tmp" "$OUT/vmlinux"
fi

BUSYBOX=/bin/busybox
for b in /bin/busybox /usr/bin/busybox; do [ -x "$b" ] && BUSYBOX="$b"; done

# Copies a binary and every shared library it loads into root $1.
copy_with_libs() {
    local root="$1"; shift
    for bin in "$@"; do
        mkdir -p "$root$(dirname "$bin")"
        cp -L "$bin" "$root$bin"
        ldd "$bin" 2>/dev/null | grep -oE '/[^ ]+' | while read -r lib; do
            [ -e "$lib" ] || continue
            mkdir -p "$root$(dirname "$lib")"
            cp -L "$lib" "$root$lib"
        done
    done
}

mkcpio() { (cd "$1" && find . -print0 | cpio --null -o -H newc --quiet) > "$2"; }

# --- guest initramfs: init writes the boot marker, says so on the console, reboots -----------
# The guest kernel is a stock Debian one, so virtio (PCI transport, block), uio and ext4 come
# as modules.
G="$CACHE/guest-root"
rm -rf "$G" && mkdir -p "$G"/{bin,dev,proc,sys,lib/modules,mnt}
cp "$BUSYBOX" "$G/bin/busybox"
mknod "$G/dev/console" c 5 1
for m in virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk \
    uio uio_pci_generic crc16 crc32c_generic mbcache jbd2 ext4 button evdev; do
    f="$(find "$MODDIR" -name "$m.ko*" | head -1)"
    case "$f" in
        "") say "guest module $m not in $pkg (built in?)" ;;
        *.xz) xz -dc "$f" > "$G/lib/modules/$m.ko" ;;
        *) cp "$f" "$G/lib/modules/$m.ko" ;;
    esac
done
cp "$HERE/guest-init" "$G/init"
chmod +x "$G/init"
mkcpio "$G" /dev/stdout | gzip -9 > "$OUT/guest-initramfs.cpio.gz"

# --- a root disk for the guest (ext4, busybox, an init that reports and stops) -----------
R="$CACHE/rootfs-root"
rm -rf "$R" && mkdir -p "$R"/{bin,sbin,dev,proc,sys,etc}
cp "$BUSYBOX" "$R/bin/busybox"
cp "$HERE/rootfs-init" "$R/sbin/init"
chmod +x "$R/sbin/init"
echo "bulkhead-test-rootfs" > "$R/etc/bulkhead-rootfs"
rm -f "$OUT/rootfs.ext4" "$OUT/home.ext4"
mkfs.ext4 -q -F -L bulkhead-root -d "$R" "$OUT/rootfs.ext4" 16M
# An empty private volume (a qube's /home).
mkfs.ext4 -q -F -L bulkhead-home "$OUT/home.ext4" 8M

# --- our binaries ----------------------------------------------------------------------------
if [ -z "${BULKHEAD_SKIP_CARGO:-}" ]; then
    say "building bulkhead-vmm, the compositor and the guest agent (release)"
    (cd "$REPO" && CARGO_TARGET_DIR="$TARGET" cargo build --release -q -p bulkhead-hypervisor-glue \
        --bins -p bulkhead-compositor -p bulkhead-guest-agent)
fi

# --- the GUI guest: the base initramfs plus the guest agent, weston-simple-shm, their shared
# libraries and the XKB data (concatenated cpio archives are one initramfs to Linux) ---------
GG="$CACHE/guest-gui-root"
rm -rf "$GG" && mkdir -p "$GG/usr/bin" "$GG/usr/share/X11"
copy_with_libs "$GG" "$TARGET/release/bulkhead-guest-agent" /usr/bin/weston-simple-shm
mv "$GG$TARGET/release/bulkhead-guest-agent" "$GG/usr/bin/"
strip "$GG/usr/bin/bulkhead-guest-agent"
cp -rL /usr/share/X11/xkb "$GG/usr/share/X11/xkb"
{ cat "$OUT/guest-initramfs.cpio.gz"; mkcpio "$GG" /dev/stdout | gzip -6; } > "$OUT/gui-initramfs.cpio.gz"

# --- the test template for the manager's VM test (manager-e2e.sh): laid out as `bulkhead`
# expects (templates/<name>/{template.json,root.img,vmlinuz,initrd.img}). root.img is a small
# ext4 with busybox, the guest agent, weston-simple-shm and an init that starts the agent and
# powers off on the ACPI power button; initrd.img is the base guest initramfs (the modules)
# with an init that mounts root= and switches to it; the kernel is Debian's.
TT="$CACHE/template-test-root"
rm -rf "$TT" && mkdir -p "$TT"/{bin,sbin,dev,proc,sys,run,tmp,home,root,etc,mnt}
cp -a "$GG/." "$TT/"
# The demo's other two apps (for its VM mode, demo-e2e.sh), the wl-clipboard tools its
# walkthrough types into foot, their fonts and fontconfig.
copy_with_libs "$TT" /usr/bin/foot /usr/bin/weston-flower /usr/bin/wl-copy /usr/bin/wl-paste
mkdir -p "$TT/usr/share/fonts/truetype/dejavu"
cp -L /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf \
    "$TT/usr/share/fonts/truetype/dejavu/"
cp -rL /etc/fonts "$TT/etc/fonts"
mkdir -p "$TT/usr/lib/locale" && cp -rL /usr/lib/locale/C.utf8 "$TT/usr/lib/locale/"  # foot wants UTF-8
echo 'root:x:0:0:root:/root:/bin/sh' > "$TT/etc/passwd"
cp "$BUSYBOX" "$TT/bin/busybox"
cp "$HERE/template-init" "$TT/sbin/init"
chmod +x "$TT/sbin/init"
echo test > "$TT/etc/bulkhead-template"
TO="$OUT/template-test"
rm -rf "$TO" && mkdir -p "$TO"
mkfs.ext4 -q -F -L bulkhead-test -d "$TT" "$TO/root.img" 64M
cp "$OUT/vmlinuz" "$TO/vmlinuz"
TI="$CACHE/template-test-initrd"
rm -rf "$TI" && mkdir -p "$TI"
cp "$HERE/template-initrd-init" "$TI/init"
chmod +x "$TI/init"
{ cat "$OUT/guest-initramfs.cpio.gz"; mkcpio "$TI" /dev/stdout | gzip -9; } > "$TO/initrd.img"
printf '{"name":"test","description":"test template (busybox, guest agent, weston-simple-shm)","built_unix":%s}\n' \
    "$(date +%s)" > "$TO/template.json"

# --- test host initramfs -------------------------------------------------------------------
T="$CACHE/testhost-root"
rm -rf "$T" && mkdir -p "$T"/{bin,sbin,dev,proc,sys,tmp,lib/modules,guest,usr/bin,usr/sbin}
cp "$BUSYBOX" "$T/bin/busybox"
mknod "$T/dev/console" c 5 1
# KVM, and 9p for run.sh --share (template-e2e.sh).
for m in irqbypass ccp kvm kvm-amd virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev \
    virtio_pci netfs fscache 9pnet 9pnet_virtio 9p; do
    f="$(find "$MODDIR" -name "$m.ko*" | head -1)"
    [ -n "$f" ] || { say "module $m not found in $pkg (built in?)"; continue; }
    case "$f" in
        *.xz) xz -dc "$f" > "$T/lib/modules/$m.ko" ;;
        *) cp "$f" "$T/lib/modules/$m.ko" ;;
    esac
done
copy_with_libs "$T" "$TARGET/release/bulkhead-vmm" "$TARGET/release/bulkhead-bootbench" \
    "$TARGET/release/bulkhead-compositor" "$TARGET/release/bulkhead" /usr/bin/socat /usr/sbin/mke2fs
mv "$T$TARGET/release/bulkhead-vmm" "$T$TARGET/release/bulkhead-bootbench" \
    "$T$TARGET/release/bulkhead-compositor" "$T$TARGET/release/bulkhead" "$T/usr/bin/"
# strace, when the build machine has it: to see what a VMM does when it dies of seccomp.
if command -v strace >/dev/null; then copy_with_libs "$T" "$(command -v strace)"; fi
# The demo (its VM mode, demo-e2e.sh), when built.
if [ -x "$TARGET/release/bulkhead-demo" ]; then
    copy_with_libs "$T" "$TARGET/release/bulkhead-demo"
    mv "$T$TARGET/release/bulkhead-demo" "$T/usr/bin/"
    strip "$T/usr/bin/bulkhead-demo"
fi
cp "$HERE/demo-e2e.sh" "$T/usr/bin/bulkhead-demo-e2e"
chmod +x "$T/usr/bin/bulkhead-demo-e2e"
strip "$T/usr/bin/bulkhead-vmm" "$T/usr/bin/bulkhead-bootbench" "$T/usr/bin/bulkhead-compositor" \
    "$T/usr/bin/bulkhead"
# The manager formats private volumes with mkfs.ext4.
ln -sf mke2fs "$T/usr/sbin/mkfs.ext4"
mkdir -p "$T/etc" && cp /etc/mke2fs.conf "$T/etc/"
cp -r "$TO" "$T/guest/template-test"
cp "$HERE/manager-e2e.sh" "$T/usr/bin/bulkhead-manager-e2e"
chmod +x "$T/usr/bin/bulkhead-manager-e2e"
cp "$HERE/template-e2e-inside.sh" "$T/usr/bin/bulkhead-template-e2e"
chmod +x "$T/usr/bin/bulkhead-template-e2e"
# The compositor's title font and keymaps.
mkdir -p "$T/usr/share/fonts/truetype/dejavu" "$T/usr/share/X11"
cp -L /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf "$T/usr/share/fonts/truetype/dejavu/"
cp -rL /usr/share/X11/xkb "$T/usr/share/X11/xkb"
cp "$OUT/gui-initramfs.cpio.gz" "$T/guest/gui-initramfs.cpio.gz"
cp "$HERE/gui-e2e.sh" "$T/usr/bin/bulkhead-gui-e2e"
chmod +x "$T/usr/bin/bulkhead-gui-e2e"
cp "$OUT/vmlinuz" "$T/guest/bzImage"
cp "$OUT/guest-initramfs.cpio.gz" "$T/guest/initramfs.cpio.gz"
cp "$OUT/rootfs.ext4" "$OUT/home.ext4" "$T/guest/"
cp "$HERE/testhost-init" "$T/init"
cp "$HERE/bench.sh" "$T/usr/bin/bulkhead-bench"
chmod +x "$T/init" "$T/usr/bin/bulkhead-bench"
mkcpio "$T" "$OUT/testhost.cpio"

# --- QEMU, as a second archive (only the comparison runs need it) ----------------------------
if [ ! -s "$OUT/testhost-qemu.cpio" ] || [ "$OUT/vmlinux" -nt "$OUT/testhost-qemu.cpio" ]; then
    Q="$CACHE/testhost-qemu-root"
    rm -rf "$Q" && mkdir -p "$Q/usr/share" "$Q/guest"
    copy_with_libs "$Q" /usr/bin/qemu-system-x86_64
    cp -rL /usr/share/qemu "$Q/usr/share/qemu"
    cp -rL /usr/share/seabios "$Q/usr/share/seabios"
    cp "$OUT/vmlinux" "$Q/guest/vmlinux"
    mkcpio "$Q" "$OUT/testhost-qemu.cpio"
fi
say "done: $(du -sh "$OUT" | cut -f1) in $OUT"
