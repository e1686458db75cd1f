#!/bin/sh
# Runs inside the test host (run.sh --qemu -- bulkhead-bench [RUNS]): boot-to-init of our VMM
# against QEMU's microvm with the same kernel and initramfs, as bzImage and as ELF vmlinux
# (QEMU boots that through its PVH entry), interleaved and all timed the same way by
# bulkhead-bootbench (spawn to the init's console line), plus one plain run of our VMM for its
# own boot-marker timing and memory overhead. Ours runs with its ACPI tables (the default) and,
# once more, without (`--no-acpi`).
RUNS="${1:-5}"
MEM=256
K=/guest/bzImage
I=/guest/initramfs.cpio.gz
V=/guest/vmlinux
CMDLINE="console=ttyS0 reboot=k panic=-1 pci=off quiet"
QEMU="qemu-system-x86_64 -M microvm,rtc=on -enable-kvm -cpu host -m $MEM -smp 1 -nographic -nodefaults -no-user-config -no-reboot -serial stdio"
OURS="bulkhead-vmm --mem-mib $MEM --initramfs $I --cmdline '$CMDLINE'"

bulkhead-vmm --kernel "$K" --initramfs "$I" --cmdline "$CMDLINE" --mem-mib "$MEM" --console none --timeout-secs 300
[ -x /usr/bin/qemu-system-x86_64 ] || { echo "bench: no QEMU in this test host (run.sh --qemu)"; exit 1; }
bulkhead-bootbench --runs "$RUNS" --guest-mib "$MEM" \
    --case "bulkhead-bzimage=$OURS --kernel $K" \
    --case "qemu-microvm-bzimage=$QEMU -kernel $K -initrd $I -append '$CMDLINE'" \
    --case "qemu-microvm-pvh-vmlinux=$QEMU -kernel $V -initrd $I -append '$CMDLINE'" \
    --case "bulkhead-vmlinux=$OURS --kernel $V" \
    --case "bulkhead-bzimage-no-acpi=$OURS --no-acpi --kernel $K"
