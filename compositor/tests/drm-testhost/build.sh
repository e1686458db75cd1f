#!/usr/bin/env bash
# Builds the DRM test guest (DESIGN.md, test tier 3, "an emulated display"): an initramfs for
# a QEMU TCG guest with a virtio-gpu display, holding Debian's stock kernel modules for it,
# udevd (so udev hotplug events and libinput's device tags exist, as on a real desktop),
# the compositor, the guest agent, the control client and weston-simple-shm with their
# shared libraries. tests/tests/drm_session.rs boots it.
#
#   compositor/tests/drm-testhost/build.sh
#
# Inputs: the kernel package of the VM test host (hypervisor-glue/testhost/build.sh, or
# downloaded here), our binaries from $CARGO_TARGET_DIR/debug (BULKHEAD_DRM_PROFILE=release
# for release ones; built unless BULKHEAD_SKIP_CARGO is set).
# Outputs in $BULKHEAD_CACHE/out (default ~/.cache/bulkhead/testhost/out): vmlinuz, drm-guest.cpio.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
CACHE="${BULKHEAD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bulkhead/testhost}"
OUT="$CACHE/out"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
PROFILE="${BULKHEAD_DRM_PROFILE:-debug}"
mkdir -p "$CACHE/debs" "$OUT"

say() { echo "drm-testhost/build: $*" >&2; }

# --- host packages -------------------------------------------------------------------------
need=()
for p in qemu-system-x86 busybox-static cpio weston fonts-dejavu-core xkb-data binutils \
    libinput-bin; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
    say "installing ${need[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need[@]}"
fi

# Downloads a Debian package (once) and unpacks it into $CACHE/pkg/NAME.
unpack() {
    local pkg="$1" dir="$CACHE/pkg/$1"
    if [ ! -d "$dir" ]; then
        (cd "$CACHE/debs" && ls "$pkg"_*.deb >/dev/null 2>&1 || apt-get download -q "$pkg" >&2)
        rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
        dpkg -x "$(ls "$CACHE/debs/$pkg"_*.deb | head -1)" "$dir.tmp"
        mv "$dir.tmp" "$dir"
    fi
    echo "$dir"
}

# --- kernel (the same stock Debian kernel as the VM test host) ----------------------------
pkg="${BULKHEAD_KERNEL_PKG:-}"
[ -z "$pkg" ] && [ -s "$OUT/kernel-package" ] && pkg="$(cat "$OUT/kernel-package")"
[ -z "$pkg" ] && pkg="$(apt-cache depends linux-image-amd64 \
    | sed -n 's/.*Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -1)"
[ -n "$pkg" ] || { say "cannot resolve the linux-image-amd64 kernel package (apt-get update?)"; exit 1; }
KDIR="$CACHE/kernel/$pkg"
if [ ! -d "$KDIR/boot" ]; then
    say "downloading $pkg"
    (cd "$CACHE/debs" && ls "$pkg"_*.deb >/dev/null 2>&1 || apt-get download -q "$pkg" >&2)
    rm -rf "$KDIR.tmp" && mkdir -p "$KDIR.tmp"
    dpkg -x "$(ls "$CACHE/debs/$pkg"_*.deb | head -1)" "$KDIR.tmp"
    mv "$KDIR.tmp" "$KDIR"
fi
KVER="$(ls "$KDIR/lib/modules" | head -1)"
MODDIR="$KDIR/lib/modules/$KVER/kernel"
cp "$KDIR/boot/vmlinuz-$KVER" "$OUT/vmlinuz"
echo "$pkg" > "$OUT/kernel-package"

# --- our binaries --------------------------------------------------------------------------
if [ -z "${BULKHEAD_SKIP_CARGO:-}" ]; then
    flag=(); [ "$PROFILE" = release ] && flag=(--release)
    # The whole workspace's binaries and examples: the same features as `cargo test
    # --workspace` builds them with, so after it (scripts/run-tests) nothing is rebuilt.
    say "building the compositor, its control client and the guest agent ($PROFILE)"
    (cd "$REPO" && CARGO_TARGET_DIR="$TARGET" cargo build -q "${flag[@]}" --workspace --bins --examples)
fi
BIN="$TARGET/$PROFILE"
for b in "$BIN/bulkhead-compositor" "$BIN/bulkhead-guest-agent" "$BIN/examples/control"; do
    [ -x "$b" ] || { say "$b missing (cargo build, or unset BULKHEAD_SKIP_CARGO)"; exit 1; }
done

# --- the guest's root ------------------------------------------------------------------------
G="$CACHE/drm-guest-root"
rm -rf "$G" && mkdir -p "$G"/{bin,sbin,dev,proc,sys,tmp,run,lib/modules,usr/bin,usr/sbin,usr/share/fonts}
BUSYBOX=/bin/busybox
for b in /bin/busybox /usr/bin/busybox; do [ -x "$b" ] && BUSYBOX="$b"; done
cp "$BUSYBOX" "$G/bin/busybox"

# Copies each binary and the shared libraries it loads (LD_LIBRARY_PATH may point into
# unpacked packages: those libraries land at their path inside the package) into $G.
copy_with_libs() {
    for bin in "$@"; do
        LD_LIBRARY_PATH="${LIBPATH:-}" ldd "$bin" 2>/dev/null | grep -oE '/[^ ]+' | while read -r lib; do
            [ -e "$lib" ] || continue
            local dest="$lib"
            case "$lib" in "$CACHE"/pkg/*/*) dest="/${lib#"$CACHE"/pkg/*/}" ;; esac
            mkdir -p "$G$(dirname "$dest")"
            cp -L "$lib" "$G$dest"
        done
    done
}

# Kernel modules, in load order: virtio over PCI, DRM and virtio-gpu, input (evdev,
# virtio-input for the keyboard and tablet).
MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci \
drm drm_kms_helper drm_shmem_helper virtio_dma_buf virtio-gpu evdev virtio_input"
for m in $MODULES; do
    f="$(find "$MODDIR" -name "$m.ko*" | head -1)"
    [ -n "$f" ] || { say "module $m not in $pkg"; exit 1; }
    case "$f" in
        *.xz) xz -dc "$f" > "$G/lib/modules/$m.ko" ;;
        *) cp "$f" "$G/lib/modules/$m.ko" ;;
    esac
done
echo "$MODULES" > "$G/lib/modules/order"

# Our binaries, without their debug info (the initramfs stays small).
for b in bulkhead-compositor bulkhead-guest-agent; do
    objcopy --strip-debug "$BIN/$b" "$G/usr/bin/$b"
done
objcopy --strip-debug "$BIN/examples/control" "$G/usr/bin/bulkhead-control"
copy_with_libs "$G/usr/bin/bulkhead-compositor" "$G/usr/bin/bulkhead-guest-agent"

# The Wayland client in qube `work`.
cp /usr/bin/weston-simple-shm "$G/usr/bin/"
copy_with_libs /usr/bin/weston-simple-shm

# udevd and its rules (from Debian's package, unpacked: the build machine needs no udev).
# udevadm is also systemd-udevd, by the name it is called with.
UDEV="$(unpack udev)"
udevadm="$UDEV/bin/udevadm"
[ -x "$udevadm" ] || udevadm="$UDEV/usr/bin/udevadm"
cp "$udevadm" "$G/bin/udevadm"
mkdir -p "$G/lib/systemd" && ln -s /bin/udevadm "$G/lib/systemd/systemd-udevd"
copy_with_libs "$udevadm"
mkdir -p "$G/lib/udev" "$G/etc/udev"
for d in "$UDEV/lib/udev" "$UDEV/usr/lib/udev"; do
    [ -d "$d/rules.d" ] && cp -a "$d/rules.d" "$G/lib/udev/"
done

# libinput's device quirks, the title font and the keymaps dom0 compiles.
mkdir -p "$G/usr/share/libinput" && cp -rL /usr/share/libinput/. "$G/usr/share/libinput/"
mkdir -p "$G/usr/share/fonts/truetype"
cp -rL /usr/share/fonts/truetype/dejavu "$G/usr/share/fonts/truetype/"
mkdir -p "$G/usr/share/X11" && cp -rL /usr/share/X11/xkb "$G/usr/share/X11/"

cp "$HERE/init" "$G/init"
chmod +x "$G/init"
(cd "$G" && find . -print0 | cpio --null -o -H newc --quiet) > "$OUT/drm-guest.cpio.tmp"
mv "$OUT/drm-guest.cpio.tmp" "$OUT/drm-guest.cpio"
say "done: $(du -h "$OUT/drm-guest.cpio" | cut -f1) $OUT/drm-guest.cpio"
