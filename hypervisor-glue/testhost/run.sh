#!/usr/bin/env bash
# Boots the test host (built by build.sh) under QEMU TCG with emulated AMD SVM, runs a shell
# command inside it (where /dev/kvm works and our VMM runs on real KVM), and exits with that
# command's status. Everything the test host prints goes to stdout; result lines start with
# BULKHEAD-RESULT.
#
#   hypervisor-glue/testhost/run.sh [--qemu] [--smp N] [--timeout SECS] [--share DIR] -- 'command ...'
#
#   --qemu   also put QEMU (and the ELF vmlinux) in the test host, for comparisons
#   --share  DIR appears read-only at /share in the test host (virtio 9p), e.g. a template
#            built by `bulkhead template build` (too big for the initramfs)
set -euo pipefail
CACHE="${BULKHEAD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bulkhead/testhost}"
OUT="$CACHE/out"
with_qemu=0; smp=1; timeout=600; share=""
while [ $# -gt 0 ]; do
    case "$1" in
        --qemu) with_qemu=1 ;;
        --smp) smp="$2"; shift ;;
        --timeout) timeout="$2"; shift ;;
        --share) share="$2"; shift ;;
        --) shift; break ;;
        *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[ $# -gt 0 ] || { echo "run.sh: no command given" >&2; exit 2; }
[ -z "$share" ] || [ -d "$share" ] || { echo "run.sh: --share $share is not a directory" >&2; exit 2; }
[ -s "$OUT/testhost.cpio" ] || { echo "run.sh: test host not built; run hypervisor-glue/testhost/build.sh" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/bulkhead-testhost.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root"
printf '%s\n' "$*" > "$work/root/cmd.sh"
(cd "$work/root" && echo cmd.sh | cpio -o -H newc --quiet) > "$work/cmd.cpio"
parts=("$OUT/testhost.cpio")
[ "$with_qemu" = 1 ] && parts+=("$OUT/testhost-qemu.cpio")
cat "${parts[@]}" "$work/cmd.cpio" > "$work/initrd.cpio"
extra=()
[ -n "$share" ] && extra+=(-virtfs "local,path=$share,mount_tag=bulkhead-share,security_model=none,readonly=on")

set +e
timeout --kill-after=10 "$timeout" qemu-system-x86_64 \
    -accel tcg -cpu max,+svm,+npt -smp "$smp" -m 3072 \
    -nographic -no-reboot -monitor none -serial stdio \
    -kernel "$OUT/vmlinuz" -initrd "$work/initrd.cpio" "${extra[@]}" \
    -append "console=ttyS0 quiet panic=-1" </dev/null | sed -u 's/\r$//' | tee "$work/log"
set -e
rc="$(sed -n 's/^BULKHEAD-TESTHOST-DONE rc=\([0-9]*\).*/\1/p' "$work/log" | tail -1)"
if [ -z "$rc" ]; then
    echo "run.sh: the test host did not finish (timeout ${timeout}s or crash)" >&2
    exit 124
fi
exit "$rc"
