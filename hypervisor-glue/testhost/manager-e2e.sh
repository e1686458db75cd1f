#!/bin/busybox sh
# Runs inside the test host: the qube manager's real VM path. A headless compositor that
# knows no qube; the `test` template (build.sh) installed as templates/test; then, through
# the `bulkhead` CLI only: create qube work (blue), `run work -- weston-simple-shm` (the VM
# boots, its agent connects, the window appears: screenshot in base64 between markers),
# write to / and to the private volume, `qube stop` (ACPI power button → the guest powers
# off), `qube list`, start again and read the private volume back, stop, then
# `run --disposable` (stopped by Ctrl-C, as a user would) and what it left behind.
# Every step prints one `BULKHEAD-MGR …` line; the test (tests/tests/vm_manager.rs) checks
# them.
#   bulkhead-manager-e2e [SECONDS]   how long a qube may take to boot (default 600)
limit="${1:-600}"
export XDG_RUNTIME_DIR=/tmp/rt BULKHEAD_STATE_DIR=/tmp/state \
    BULKHEAD_CONTROL_SOCKET=/tmp/rt/control.sock RUST_LOG=info
mkdir -p -m 700 /tmp/rt /tmp/q
mkdir -p /tmp/state/templates
cp -r /guest/template-test /tmp/state/templates/test
ctl() { echo "$1" | socat -t 30 - UNIX-CONNECT:/tmp/rt/control.sock; }
# VMM processes still running (a zombie is not: it waits for the test host's init to reap
# it, which that shell script does only now and then).
vmms() { cat /proc/[0-9]*/stat 2>/dev/null | grep -c '^[0-9]* (bulkhead-vmm) [^ZX]'; }
# Waits until a window of qube $1 is listed (at most $2 seconds).
wait_window() {
    t0=$(date +%s)
    while [ $(($(date +%s) - t0)) -lt "$2" ]; do
        ctl '{"cmd":"list-windows"}' | grep -q "\"qube\":\"$1\"" && return 0
        sleep 2
    done
    return 1
}
# Waits until a line of the qube's console log starts with $2 (at most $3 seconds). The
# agent logs each command line it starts, so the programs below print their markers split
# in two in their argv ("BULKHEAD-""X"): only their output matches.
wait_console() {
    t0=$(date +%s)
    while [ $(($(date +%s) - t0)) -lt "$3" ]; do
        grep -aq "^$2" "/tmp/state/qubes/$1/console.log" 2>/dev/null && return 0
        sleep 1
    done
    return 1
}
bulkhead-compositor --size 800x600 --control-socket /tmp/rt/control.sock \
    --qube-socket-dir /tmp/q > /tmp/compositor.log 2>&1 &
cpid=$!
i=0
while [ ! -S /tmp/rt/control.sock ] && [ $i -lt 600 ]; do usleep 100000; i=$((i + 1)); done
sum_before=$(sha256sum /tmp/state/templates/test/root.img | cut -d' ' -f1)
echo "BULKHEAD-MGR templates $(bulkhead template list | tr '\n' '|')"

bulkhead qube create work --label blue --template test --mem 512 --private 64
echo "BULKHEAD-MGR create rc=$?"
t0=$(date +%s)
bulkhead run work --timeout "$limit" -- weston-simple-shm
echo "BULKHEAD-MGR run rc=$? after=$(($(date +%s) - t0))s"
found=no
wait_window work 300 && found=yes
echo "BULKHEAD-E2E window=$found after=$(($(date +%s) - t0))s"
if [ $found = yes ]; then
    sleep 5
    echo "BULKHEAD-WINDOWS $(ctl '{"cmd":"list-windows"}')"
    ctl '{"cmd":"screenshot","path":"/tmp/shot.png"}' > /dev/null
    echo BULKHEAD-PNG-BEGIN
    base64 /tmp/shot.png
    echo BULKHEAD-PNG-END
fi
# A write to / (the copy-on-write overlay) and one to the private volume (/home).
bulkhead run work -- sh -c 'echo kept > /home/marker && echo written > /root-marker && sync && echo BULKHEAD-""WROTE'
echo "BULKHEAD-MGR write rc=$?"
wait_console work BULKHEAD-WROTE 120 && echo "BULKHEAD-MGR wrote=yes"
echo "BULKHEAD-MGR running $(bulkhead qube list | grep '^work' | tr -s ' ')"
t0=$(date +%s)
bulkhead qube stop work --grace 300
echo "BULKHEAD-MGR stop rc=$? after=$(($(date +%s) - t0))s"
echo "BULKHEAD-MGR stopped $(bulkhead qube list | grep '^work' | tr -s ' ')"
echo "BULKHEAD-MGR vmms-after-stop=$(vmms)"
echo "BULKHEAD-MGR dom0-qubes-after-stop $(ctl '{"cmd":"qubes"}')"
echo "--- work vmm.log (first run)"; cat /tmp/state/qubes/work/vmm.log
grep -a "BULKHEAD-BUTTON\|BULKHEAD-TEMPLATE" /tmp/state/qubes/work/console.log
# The end of the first boot's console, for when the guest went away early (a reset).
echo "--- work console.log (first run, last lines)"; tail -25 /tmp/state/qubes/work/console.log

# Second boot: the private volume kept its file.
: > /tmp/state/qubes/work/console.log
bulkhead qube start work --timeout "$limit"
echo "BULKHEAD-MGR start rc=$?"
bulkhead run work -- sh -c 'echo "BULKHEAD-""PRIVATE $(cat /home/marker) ROOT $(cat /root-marker)"'
wait_console work BULKHEAD-PRIVATE 120
grep -a "^BULKHEAD-PRIVATE" /tmp/state/qubes/work/console.log | sed 's/^/BULKHEAD-MGR /'
bulkhead qube stop work --grace 300
echo "BULKHEAD-MGR stop2 rc=$?"

# A disposable: it writes to its / too, shows its window, and goes on Ctrl-C.
bulkhead run --disposable --template test --label red --timeout "$limit" -- \
    sh -c 'echo gone > /disposable-marker; exec weston-simple-shm' > /tmp/disp.log 2>&1 &
dpid=$!
dfound=no
wait_window disp1 "$limit" && dfound=yes
echo "BULKHEAD-MGR disposable window=$dfound dir=$(ls /tmp/state/qubes | tr '\n' ' ')"
kill -INT $dpid
wait $dpid
echo "BULKHEAD-MGR disposable rc=$?"
cat /tmp/disp.log
echo "BULKHEAD-MGR after-disposable qubes=[$(ls -a /tmp/state/qubes | grep -v '^\.\.\?$' | tr '\n' ' ')] vmms=$(vmms)"
echo "BULKHEAD-MGR vmm-processes $(cat /proc/[0-9]*/stat 2>/dev/null | grep '(bulkhead-vmm)' | cut -d' ' -f1-4 | tr '\n' ';')"
echo "BULKHEAD-MGR dom0-qubes-after-disposable $(ctl '{"cmd":"qubes"}')"
sum_after=$(sha256sum /tmp/state/templates/test/root.img | cut -d' ' -f1)
echo "BULKHEAD-MGR template-sum before=$sum_before after=$sum_after"
echo "BULKHEAD-MGR files $(ls /tmp/state/qubes/work | tr '\n' ' ')"
echo "--- work console.log (second run)"; tail -30 /tmp/state/qubes/work/console.log
kill -TERM $cpid 2>/dev/null
wait $cpid
echo "--- compositor log"; tail -30 /tmp/compositor.log
[ $found = yes ]
