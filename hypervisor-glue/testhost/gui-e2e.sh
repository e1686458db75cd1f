#!/bin/busybox sh
# Runs inside the test host: the compositor (headless, qube work:blue), our VMM with the GUI
# channel connected to work's socket and a guest running the agent and weston-simple-shm.
# Waits for the window, takes two screenshots 5 s apart, prints the window list and the PNG (base64)
# between markers, then stops the VM and the compositor.
#   bulkhead-gui-e2e [SECONDS]    give up waiting for the window after SECONDS (default 600)
limit="${1:-600}"
export XDG_RUNTIME_DIR=/tmp/rt
mkdir -p -m 700 /tmp/rt /tmp/q
ctl() { echo "$1" | socat -t 30 - UNIX-CONNECT:/tmp/rt/control.sock; }
bulkhead-compositor --qube work:blue --size 800x600 --control-socket /tmp/rt/control.sock \
    --qube-socket-dir /tmp/q > /tmp/compositor.log 2>&1 &
cpid=$!
i=0
while [ ! -S /tmp/q/qube-work.sock ] && [ $i -lt 600 ]; do usleep 100000; i=$((i + 1)); done
bulkhead-vmm --kernel /guest/bzImage --initramfs /guest/gui-initramfs.cpio.gz --mem-mib 512 \
    --cmdline 'console=ttyS0 reboot=k panic=-1 quiet bulkhead.test=gui-agent' \
    --gui-socket /tmp/q/qube-work.sock --console /tmp/guest.log > /tmp/vmm.log 2>&1 &
vpid=$!
# Milliseconds since the test host booted (for the start → first window figure).
now_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }
start=$(date +%s)
start_ms=$(now_ms)
found=no
while [ $(($(date +%s) - start)) -lt "$limit" ] && kill -0 $vpid 2>/dev/null; do
    if ctl '{"cmd":"list-windows"}' | grep -q '"qube":"work"'; then found=yes; break; fi
    usleep 250000
done
echo "BULKHEAD-E2E window=$found after=$(($(date +%s) - start))s after_ms=$(($(now_ms) - start_ms))"
if [ $found = yes ]; then
    # A few more frames (simple-shm animates), then the picture.
    sleep 5
    echo "BULKHEAD-WINDOWS $(ctl '{"cmd":"list-windows"}')"
    for n in 0 1; do
        [ $n = 1 ] && sleep 5
        ctl "{\"cmd\":\"screenshot\",\"path\":\"/tmp/shot$n.png\"}" > /dev/null
        echo BULKHEAD-PNG-BEGIN
        base64 /tmp/shot$n.png
        echo BULKHEAD-PNG-END
    done
fi
# The orderly stop: SIGTERM presses the guest's power button, the guest powers off.
kill -TERM $vpid 2>/dev/null
wait $vpid
echo "BULKHEAD-E2E vmm-rc=$?"
cat /tmp/vmm.log
echo "--- guest console"; cat /tmp/guest.log
kill -TERM $cpid 2>/dev/null
wait $cpid
echo "--- compositor log"; tail -40 /tmp/compositor.log
echo "--- kernel log (seccomp)"; dmesg | grep -a "audit" | tail -5
[ $found = yes ]
