//! VM end-to-end (DESIGN.md, test tier 3): our VMM boots Debian's stock kernel inside the test
//! host and the test checks the typed results.
//!
//! These tests are ignored by default: they need the test host, which this machine's
//! `/dev/kvm` cannot replace. Run them with
//!
//! ```text
//! hypervisor-glue/testhost/build.sh
//! cargo test -p bulkhead-hypervisor-glue --test vm_boot -- --ignored --test-threads 1
//! ```
//!
//! Each test boots the test host once (under QEMU TCG: a few minutes) and runs several VMs
//! in it.

use std::path::PathBuf;
use std::process::Command;

use bulkhead_hypervisor_glue::{VmExit, VmReport};

const GUEST: &str =
    "--kernel /guest/bzImage --initramfs /guest/initramfs.cpio.gz --timeout-secs 400";
const CMDLINE: &str = "console=ttyS0 reboot=k panic=-1 quiet";

fn testhost_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testhost")
}

/// Runs `command` inside the test host; returns everything it printed.
fn in_testhost(command: &str) -> String {
    // run.sh itself says when the test host is not built (on stderr, shown below).
    let out = Command::new(testhost_dir().join("run.sh"))
        .args(["--smp", "2", "--timeout", "1800", "--", command])
        .output()
        .expect("run.sh starts");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("BULKHEAD-TESTHOST-DONE"),
        "the test host did not finish:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The `BULKHEAD-RESULT` reports in `text`, in order.
fn reports(text: &str) -> Vec<VmReport> {
    text.lines()
        .filter_map(|l| l.split_once("BULKHEAD-RESULT ").map(|(_, json)| json))
        .map(|json| serde_json::from_str(json).expect("a VmReport"))
        .collect()
}

/// Lines starting with `prefix`.
fn lines<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(prefix)).collect()
}

#[test]
#[ignore = "needs the VM test host: hypervisor-glue/testhost/build.sh, then --ignored"]
fn stock_kernel_boots_to_init_and_stops() {
    let text = in_testhost(&format!(
        "bulkhead-vmm {GUEST} --cmdline '{CMDLINE}' --vcpus 1 --mem-mib 256; \
         bulkhead-vmm {GUEST} --cmdline '{CMDLINE}' --vcpus 2 --mem-mib 512"
    ));
    let r = reports(&text);
    assert_eq!(r.len(), 2, "two VM runs expected:\n{text}");

    // One vCPU: init ran (marker port and console), then the guest's `reboot -f` stopped it.
    assert_eq!(r[0].exit, VmExit::Reset, "{text}");
    assert!(r[0].boot_to_init_ms.is_some_and(|ms| ms > 0.0), "{text}");
    let mem = r[0].memory.expect("memory measured at init");
    assert!(mem.guest_rss_kib > 0 && mem.overhead_kib > 0, "{mem:?}");

    // Two vCPUs and 512 MiB: the guest sees both CPUs (MP table) and its memory (e820).
    assert_eq!(r[1].exit, VmExit::Reset, "{text}");
    let guest = lines(&text, "BULKHEAD-GUEST");
    assert_eq!(guest.len(), 2, "{text}");
    assert!(guest[0].contains("cpus=1"), "{text}");
    assert!(guest[1].contains("cpus=2"), "{text}");
    let kib: u64 = guest[1]
        .split("mem_kib=")
        .nth(1)
        .and_then(|s| s.trim().parse().ok())
        .expect("mem_kib");
    assert!(kib > 400 * 1024 && kib <= 512 * 1024, "{kib} KiB");
}

#[test]
#[ignore = "needs the VM test host: hypervisor-glue/testhost/build.sh, then --ignored"]
fn virtio_blk_root_disk_and_gui_channel() {
    let root = format!("{CMDLINE} bulkhead.root=/dev/vda");
    let text = in_testhost(&format!(
        "bulkhead-vmm {GUEST} --disk /guest/rootfs.ext4 --cmdline '{root}'; \
         bulkhead-vmm {GUEST} --disk /guest/rootfs.ext4,ro --cmdline '{root}'; \
         bulkhead-vmm {GUEST} --gui-selftest --cmdline '{CMDLINE} bulkhead.test=gui'"
    ));
    let r = reports(&text);
    assert_eq!(r.len(), 3, "three VM runs expected:\n{text}");
    assert!(r.iter().all(|r| r.exit == VmExit::Reset), "{text}");

    // The guest's root file system is the virtio disk: read-write, then read-only.
    let root = lines(&text, "BULKHEAD-ROOT");
    assert_eq!(root.len(), 2, "{text}");
    assert!(
        root[0].contains("dev=/dev/vda data=bulkhead-test-rootfs rw=yes"),
        "{text}"
    );
    assert!(
        root[1].contains("dev=/dev/vda data=bulkhead-test-rootfs rw=no"),
        "{text}"
    );

    // GUI channel under the stock uio_pci_generic: BAR 0 shows the shm-transport header
    // ("BULK"), BAR 2 the register magic ("BKGU"), each doorbell reached dom0 through the
    // ioeventfd and dom0's answer came back as an interrupt, twice (so unmasking works).
    let gui = lines(&text, "BULKHEAD-GUI ");
    assert_eq!(gui.len(), 1, "{text}");
    assert!(gui[0].contains("magic=0x4B4C5542"), "{text}");
    assert!(gui[0].contains("regs=0x55474B42"), "{text}");
    assert!(gui[0].contains("interrupts=1,2,"), "{text}");
    assert!(
        text.contains("BULKHEAD-GUI-SELFTEST {\"doorbells\":2}"),
        "{text}"
    );
}

#[test]
#[ignore = "needs the VM test host: hypervisor-glue/testhost/build.sh, then --ignored"]
fn bad_configurations_are_clear_errors() {
    let text = in_testhost(
        "bulkhead-vmm --kernel /guest/nope; echo \"rc-kernel=$?\"; \
         bulkhead-vmm --kernel /guest/bzImage --mem-mib 1; echo \"rc-mem=$?\"; \
         bulkhead-vmm --kernel /guest/bzImage --disk /guest/nope.img; echo \"rc-disk=$?\"; \
         bulkhead-vmm --kernel /guest/initramfs.cpio.gz; echo \"rc-notkernel=$?\"",
    );
    for (tag, needle) in [
        ("rc-kernel=1", "/guest/nope"),
        ("rc-mem=1", "1 MiB"),
        ("rc-disk=1", "/guest/nope.img"),
        ("rc-notkernel=1", "bzImage"),
    ] {
        assert!(text.contains(tag), "{tag}: {text}");
        assert!(text.contains(needle), "{needle}: {text}");
    }
}

#[test]
#[ignore = "needs the VM test host: hypervisor-glue/testhost/build.sh, then --ignored"]
fn acpi_power_off_and_orderly_stop() {
    let text = in_testhost(&format!(
        "bulkhead-vmm {GUEST} --cmdline '{CMDLINE} bulkhead.test=poweroff'; echo \"rc-poweroff=$?\"; \
         bulkhead-vmm {GUEST} --cmdline '{CMDLINE} bulkhead.test=button' --console /tmp/b.log & p=$!; \
         i=0; while ! grep -q 'BULKHEAD-BUTTON device' /tmp/b.log 2>/dev/null && [ $i -lt 300 ]; do sleep 1; i=$((i+1)); done; \
         kill -TERM $p; wait $p; echo \"rc-button=$?\"; cat /tmp/b.log; \
         bulkhead-vmm {GUEST} --cmdline '{CMDLINE} bulkhead.test=button' --stop-grace-secs 2 --no-acpi --console /tmp/n.log & p=$!; \
         i=0; while ! grep -q 'BULKHEAD-INIT' /tmp/n.log 2>/dev/null && [ $i -lt 300 ]; do sleep 1; i=$((i+1)); done; \
         kill -TERM $p; wait $p; echo \"rc-noacpi=$?\""
    ));
    let r = reports(&text);
    assert_eq!(r.len(), 3, "three VM runs expected:\n{text}");
    // `poweroff` in the guest: ACPI S5 through the sleep control register.
    assert_eq!(r[0].exit, VmExit::Shutdown, "{text}");
    assert!(text.contains("rc-poweroff=0"), "{text}");
    // SIGTERM presses the power button; the guest sees the event and powers off.
    assert!(
        text.contains("BULKHEAD-BUTTON device=/dev/input/event"),
        "{text}"
    );
    // EV_KEY (1), KEY_POWER (116): the button driver's event, read from evdev.
    assert!(
        text.contains("BULKHEAD-BUTTON pressed event=1 116"),
        "{text}"
    );
    assert_eq!(r[1].exit, VmExit::Shutdown, "{text}");
    assert!(text.contains("rc-button=0"), "{text}");
    // Without ACPI nothing can ask the guest: SIGTERM kills at once.
    assert_eq!(r[2].exit, VmExit::Killed, "{text}");
    assert!(text.contains("rc-noacpi=5"), "{text}");
}

#[test]
#[ignore = "needs the VM test host: hypervisor-glue/testhost/build.sh, then --ignored"]
fn copy_on_write_root_private_home_and_disposable() {
    let root = format!("{CMDLINE} bulkhead.root=/dev/vda");
    let run = |disk: &str| {
        format!("bulkhead-vmm {GUEST} --disk {disk} --disk /tmp/home.ext4 --cmdline '{root}'; ")
    };
    let text = in_testhost(&format!(
        "cp /guest/rootfs.ext4 /tmp/template.ext4; cp /guest/home.ext4 /tmp/home.ext4; \
         mkdir /tmp/disposable; echo \"sum-before=$(sha256sum < /tmp/template.ext4)\"; \
         {}{}{}\
         echo \"sum-after=$(sha256sum < /tmp/template.ext4)\"; \
         echo \"disposable-files=$(ls -A /tmp/disposable | wc -l)\"; \
         echo \"overlay=$(ls /tmp/work-root.cow)\"",
        run("/tmp/template.ext4,cow=/tmp/work-root.cow"),
        run("/tmp/template.ext4,cow=/tmp/work-root.cow"),
        run("/tmp/template.ext4,disposable=/tmp/disposable"),
    ));
    let r = reports(&text);
    assert_eq!(r.len(), 3, "three VM runs expected:\n{text}");
    let persist = lines(&text, "BULKHEAD-PERSIST");
    assert_eq!(
        persist,
        [
            // First boot: nothing yet.
            "BULKHEAD-PERSIST home=0 root=0",
            // Restart over the same overlay: both / and /home kept their writes.
            "BULKHEAD-PERSIST home=1 root=1",
            // A disposable layer starts from the template; /home is the qube's own.
            "BULKHEAD-PERSIST home=2 root=0",
        ],
        "{text}"
    );
    let sum = |tag: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(tag))
            .unwrap_or_else(|| panic!("{tag} missing: {text}"))
            .to_owned()
    };
    assert_eq!(
        sum("sum-before="),
        sum("sum-after="),
        "the template changed"
    );
    assert!(text.contains("disposable-files=0"), "{text}");
    assert!(text.contains("overlay=/tmp/work-root.cow"), "{text}");
}
