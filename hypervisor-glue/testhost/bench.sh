#!/bin/sh
# Runs inside the test host (run.sh --qemu -- bulkhead-bench [RUNS]): boot-to-init of our VMM
# against QEMU's microvm with the same kernel and initramfs, bzImage and ELF vmlinux (PVH),
# and our VMM with both too, all timed the same way by bulkhead-bootbench (spawn to the init's console line), plus one
# plain run of our VMM for its own boot-marker timing and memory overhead.
RUNS="${1:-5}"
MEM=256
K=/guest/bzImage
I=/guest/initramfs.cpio.gz
V=/guest/vmlinux
CMDLINE="console=ttyS0 reboot=k panic=-1 pci=off quiet"
QEMU="qemu-system-x86_64 -M microvm,rtc=on -enable-kvm -cpu host -m $MEM -smp 1 -nographic -nodefaults -no-user-config -no-reboot -serial stdio"

bulkhead-vmm --kernel "$K" --initramfs "$I" --cmdline "$CMDLINE" --mem-mib "$MEM" --console none --timeout-secs 120
bulkhead-bootbench --label bulkhead-vmm --runs "$RUNS" --guest-mib "$MEM" -- \
    bulkhead-vmm --kernel "$K" --initramfs "$I" --cmdline "$CMDLINE" --mem-mib "$MEM"
[ -x /usr/bin/qemu-system-x86_64 ] || { echo "bench: no QEMU in this test host (run.sh --qemu)"; exit 1; }
bulkhead-bootbench --label bulkhead-vmm-vmlinux --runs "$RUNS" --guest-mib "$MEM" -- \
    bulkhead-vmm --kernel "$V" --initramfs "$I" --cmdline "$CMDLINE" --mem-mib "$MEM"
bulkhead-bootbench --label qemu-microvm-bzimage --runs "$RUNS" --guest-mib "$MEM" -- \
    $QEMU -kernel "$K" -initrd "$I" -append "$CMDLINE"
bulkhead-bootbench --label qemu-microvm-pvh-vmlinux --runs "$RUNS" --guest-mib "$MEM" -- \
    $QEMU -kernel "$V" -initrd "$I" -append "$CMDLINE"
