#!/bin/busybox sh
# Runs inside the test host (template-e2e.sh starts it): the real product path on the
# Debian 12 template that `bulkhead template build` makes, shared into the test host
# read-only at /share (run.sh --share). A headless compositor; then, through the `bulkhead`
# CLI only: create qube work (blue) on that template, `run work -- APP` (systemd boots, the
# GUI channel unit binds uio_pci_generic, the user's session starts the agent), wait for the
# window, screenshot (base64 between markers), `qube stop` (the ACPI power button, systemd
# powers off). Every step prints one `BULKHEAD-TPL …` line.
#   bulkhead-template-e2e [APP] [SECONDS]   APP default foot; SECONDS: boot limit (900)
app="${1:-foot}"
limit="${2:-900}"
export XDG_RUNTIME_DIR=/tmp/rt BULKHEAD_STATE_DIR=/tmp/state \
    BULKHEAD_CONTROL_SOCKET=/tmp/rt/control.sock RUST_LOG=info
mkdir -p -m 700 /tmp/rt /tmp/q
mkdir -p /tmp/state/templates
if [ ! -f /share/template.json ]; then
    echo "BULKHEAD-TPL no template shared at /share (run.sh --share TEMPLATE_DIR)"
    exit 2
fi
name=$(sed -n 's/.*"name" *: *"\([^"]*\)".*/\1/p' /share/template.json)
# The template is read in place through 9p: the manager only ever opens it read-only.
ln -s /share "/tmp/state/templates/$name"
ctl() { echo "$1" | socat -t 30 - UNIX-CONNECT:/tmp/rt/control.sock; }
vmms() { ps | grep -c '[b]ulkhead-vmm'; }
now_ms() { echo $(($(sed 's/ .*//; s/\.//' /proc/uptime) * 10)); }
bulkhead-compositor --size 1024x768 --control-socket /tmp/rt/control.sock \
    --qube-socket-dir /tmp/q > /tmp/compositor.log 2>&1 &
cpid=$!
i=0
while [ ! -S /tmp/rt/control.sock ] && [ $i -lt 600 ]; do usleep 100000; i=$((i + 1)); done
echo "BULKHEAD-TPL templates $(bulkhead template list | tr '\n' '|')"
bulkhead qube create work --label blue --template "$name" --mem 1024 --vcpus 1 --private 256
echo "BULKHEAD-TPL create rc=$?"
# The console while it boots, so a hang shows where: whole lines, each marked, so that
# they never run into this script's own lines.
mkfifo /tmp/console.pipe
while IFS= read -r line; do echo "console| $line"; done < /tmp/console.pipe &
tail -F /tmp/state/qubes/work/console.log > /tmp/console.pipe 2>/dev/null &
tailpid=$!
t0=$(now_ms)
bulkhead run work --timeout "$limit" -- $app
rc=$?
echo "BULKHEAD-TPL run rc=$rc after=$(($(now_ms) - t0))ms"
found=no
i=0
[ $rc = 0 ] || i=$limit
while [ $i -lt "$limit" ]; do
    ctl '{"cmd":"list-windows"}' | grep -q '"qube":"work"' && { found=yes; break; }
    sleep 1
    i=$((i + 1))
done
echo "BULKHEAD-TPL window=$found after=$(($(now_ms) - t0))ms"
if [ $found = yes ]; then
    # Let the app draw its first frames.
    sleep 10
    echo "BULKHEAD-WINDOWS $(ctl '{"cmd":"list-windows"}')"
    ctl '{"cmd":"screenshot","path":"/tmp/shot.png"}' > /dev/null
    echo BULKHEAD-PNG-BEGIN
    base64 /tmp/shot.png
    echo BULKHEAD-PNG-END
fi
echo "BULKHEAD-TPL running $(bulkhead qube list | grep '^work' | tr -s ' ')"
t0=$(now_ms)
bulkhead qube stop work --grace 600
echo "BULKHEAD-TPL stop rc=$? after=$(($(now_ms) - t0))ms"
echo "BULKHEAD-TPL stopped $(bulkhead qube list | grep '^work' | tr -s ' ')"
echo "BULKHEAD-TPL vmms-after-stop=$(vmms)"
kill $tailpid 2>/dev/null; sleep 1
echo "--- work vmm.log"; cat /tmp/state/qubes/work/vmm.log
# A VMM that died of a signal (seccomp, a stack overflow) says so only here.
echo "--- test host kernel log (last lines)"; dmesg | tail -15
kill -TERM $cpid 2>/dev/null
wait $cpid
echo "--- compositor log"; tail -40 /tmp/compositor.log
[ $found = yes ]
