#!/usr/bin/env bash
# The real product path, by hand (not in CI: it needs a template build): a qube booted by
# bulkhead-vmm from the Debian 12 template that `bulkhead template build` makes reaches the
# compositor. Boots the test host (build.sh) with the template directory shared read-only
# (run.sh --share, virtio 9p; nothing is copied), and runs template-e2e-inside.sh there:
# headless compositor, `bulkhead qube create work --template <it>`, `bulkhead run work --
# APP`, the window in a screenshot, `bulkhead qube stop` (ACPI power-off).
#
#   hypervisor-glue/testhost/template-e2e.sh TEMPLATE_DIR [APP] [OUT_DIR]
#
# TEMPLATE_DIR: e.g. ~/.local/share/bulkhead/templates/debian-12 (root.img, vmlinuz,
# initrd.img, template.json). APP: foot (default) or weston-simple-shm, ... OUT_DIR
# (default ./template-e2e-out): testhost.log and screenshot.png. Exit status 0 when the
# window appeared.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
tdir="${1:?usage: $0 TEMPLATE_DIR [APP] [OUT_DIR]}"
app="${2:-foot}"
out="${3:-template-e2e-out}"
for f in template.json root.img vmlinuz initrd.img; do
    [ -r "$tdir/$f" ] || { echo "template-e2e: no readable $tdir/$f (sudo bulkhead template build?)" >&2; exit 2; }
done
mkdir -p "$out"
set +e
"$HERE/run.sh" --smp "${BULKHEAD_TESTHOST_SMP:-2}" --timeout "${BULKHEAD_TESTHOST_TIMEOUT:-2400}" \
    --share "$(cd "$tdir" && pwd)" -- "bulkhead-template-e2e $app ${BULKHEAD_BOOT_LIMIT:-900}" \
    | tee "$out/testhost.log"
rc="${PIPESTATUS[0]}"
set -e
sed -n '/^BULKHEAD-PNG-BEGIN/,/^BULKHEAD-PNG-END/p' "$out/testhost.log" | sed '1d;$d' \
    | base64 -d > "$out/screenshot.png" 2>/dev/null || true
[ -s "$out/screenshot.png" ] && echo "template-e2e: screenshot in $out/screenshot.png" >&2
grep '^BULKHEAD-TPL' "$out/testhost.log" >&2 || true
exit "$rc"
