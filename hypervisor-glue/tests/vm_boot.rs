//! VM end-to-end (DESIGN.md, test tier 3): our VMM boots Debian's stock kernel inside the test
//! host and the test checks the typed result.
//!
//! These tests are ignored by default: they need the test host, which this machine's
//! `/dev/kvm` cannot replace. Run them with
//!
//! ```text
//! hypervisor-glue/testhost/build.sh
//! cargo test -p bulkhead-hypervisor-glue --test vm_boot -- --ignored
//! ```

use std::path::PathBuf;
use std::process::Command;

use bulkhead_hypervisor_glue::{VmExit, VmReport};

fn testhost_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testhost")
}

/// Runs `command` inside the test host; returns everything it printed.
fn in_testhost(command: &str) -> String {
    let cache = std::env::var("BULKHEAD_CACHE").unwrap_or_else(|_| "/work/vmm-cache".into());
    let built = PathBuf::from(&cache).join("out/testhost.cpio");
    assert!(
        built.exists(),
        "the test host is not built ({} missing): run hypervisor-glue/testhost/build.sh",
        built.display()
    );
    let out = Command::new(testhost_dir().join("run.sh"))
        .args(["--smp", "2", "--timeout", "600", "--", command])
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

#[test]
#[ignore = "needs the VM test host: hypervisor-glue/testhost/build.sh, then --ignored"]
fn stock_kernel_boots_to_init_and_stops() {
    let guest = "--kernel /guest/bzImage --initramfs /guest/initramfs.cpio.gz --timeout-secs 300";
    let text = in_testhost(&format!(
        "bulkhead-vmm {guest} --vcpus 1 --mem-mib 256; bulkhead-vmm {guest} --vcpus 2 --mem-mib 512"
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
    let guest_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("BULKHEAD-GUEST"))
        .collect();
    assert_eq!(guest_lines.len(), 2, "{text}");
    assert!(guest_lines[0].contains("cpus=1"), "{text}");
    assert!(guest_lines[1].contains("cpus=2"), "{text}");
    let kib: u64 = guest_lines[1]
        .split("mem_kib=")
        .nth(1)
        .and_then(|s| s.trim().parse().ok())
        .expect("mem_kib");
    assert!(kib > 400 * 1024 && kib <= 512 * 1024, "{kib} KiB");
}

#[test]
#[ignore = "needs the VM test host: hypervisor-glue/testhost/build.sh, then --ignored"]
fn missing_kernel_is_a_setup_error_not_a_hang() {
    let text = in_testhost("bulkhead-vmm --kernel /guest/nope; echo \"vmm-rc=$?\"");
    assert!(text.contains("vmm-rc=1"), "{text}");
    assert!(text.contains("/guest/nope"), "{text}");
}
