#!/bin/busybox sh
# Runs inside the test host: the demo's VM mode (`bulkhead-demo --mode vm`, its three qubes
# as VMs through `bulkhead` on the `test` template), headless; prints the demo's output and
# its screenshot (base64 between markers), then what is left running. --mode vm because
# the demo's 5 s KVM probe is meant for hardware KVM: nested under QEMU TCG a boot takes
# half a minute.
#   bulkhead-demo-e2e
export XDG_RUNTIME_DIR=/tmp/rt BULKHEAD_STATE_DIR=/tmp/state
mkdir -p -m 700 /tmp/rt
mkdir -p /tmp/state/templates
cp -r /guest/template-test /tmp/state/templates/test
bulkhead-demo --mode vm --template test --backend headless --boot-timeout 900 --seconds 5 \
    --out /tmp/demo
rc=$?
echo "BULKHEAD-DEMO rc=$rc"
if [ -f /tmp/demo/bulkhead-demo.png ]; then
    echo BULKHEAD-PNG-BEGIN
    base64 /tmp/demo/bulkhead-demo.png
    echo BULKHEAD-PNG-END
fi
echo "BULKHEAD-DEMO vmms-left=$(ps | grep -c '[b]ulkhead-vmm') qubes=$(bulkhead qube list | tail -n +2 | tr -s ' ' | tr '\n' '|')"
for q in work untrusted personal; do
    echo "--- $q console"; tail -15 /tmp/state/qubes/$q/console.log
    echo "--- $q vmm"; tail -8 /tmp/state/qubes/$q/vmm.log
done
echo "--- the compositor's log"; grep -v ' DEBUG ' /tmp/demo/logs/compositor-headless.log | tail -25
[ $rc = 0 ]
