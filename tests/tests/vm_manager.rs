//! The qube manager's real VM path (DESIGN.md, test tier 3; issue 5): the `bulkhead` CLI
//! creates a qube on a template, boots it as a VM, runs a program in it, stops it with the
//! ACPI power button, and runs a disposable that leaves nothing behind.
//!
//! Inside the VM test host (`hypervisor-glue/testhost`): a headless compositor that knows no
//! qube; `templates/test` laid out as the manager expects (`template.json`, `root.img`, a
//! small ext4 with busybox, the guest agent and weston-simple-shm; Debian's kernel as
//! `vmlinuz`; `initrd.img`, an initramfs that loads the virtio, ext4, uio and button
//! modules and switches to `root=`). `testhost/manager-e2e.sh` drives only the `bulkhead`
//! CLI and prints what it saw; this test checks it and saves the screenshot in
//! `<target>/test-artifacts/vm-manager/`.
//!
//! Ignored by default (it needs the test host and takes minutes under QEMU TCG):
//!
//! ```text
//! hypervisor-glue/testhost/build.sh
//! cargo test -p bulkhead-tests --test vm_manager -- --ignored
//! ```

#[path = "common/testhost.rs"]
mod testhost;

use std::collections::HashSet;

use bulkhead_tests::desktop::artifact_dir;
use bulkhead_tests::screen::{BLUE, Rgb, Screen, check_frame, content_pixel};
use testhost::{
    base64_decode, require_testhost, run_in_testhost, sections, windows_of, work_simple_shm,
};

const WHITE: Rgb = Rgb::new(0xff, 0xff, 0xff);

/// The rest of the first `BULKHEAD-MGR <key>` line.
fn mgr<'a>(text: &'a str, key: &str) -> &'a str {
    let prefix = format!("BULKHEAD-MGR {key}");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no `{prefix}` line:\n{text}"))
        .trim()
}

#[test]
#[ignore = "needs the VM test host: hypervisor-glue/testhost/build.sh, then --ignored"]
fn the_bulkhead_cli_runs_qubes_as_vms() {
    require_testhost();
    let out = run_in_testhost(2, 2400, "bulkhead-manager-e2e 900");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let dir = artifact_dir("vm-manager");
    std::fs::write(dir.join("testhost.log"), &text).expect("log written");
    let stderr = String::from_utf8_lossy(&out.stderr);

    // The template as the manager sees it, and the qube made on it.
    assert!(mgr(&text, "templates").contains("test"), "{text}");
    assert_eq!(mgr(&text, "create"), "rc=0", "{text}");

    // `run` booted the VM and launched the program: its window is there, framed in blue.
    assert!(mgr(&text, "run").starts_with("rc=0"), "{text}\n{stderr}");
    assert!(
        text.contains("BULKHEAD-E2E window=yes"),
        "no window from the qube's VM:\n{text}\n{stderr}"
    );
    let windows = windows_of(&text);
    let shm = work_simple_shm(&windows);
    let pngs = sections(&text, "BULKHEAD-PNG-BEGIN", "BULKHEAD-PNG-END");
    assert_eq!(pngs.len(), 1, "one screenshot expected:\n{text}");
    let path = dir.join("vm-manager-work.png");
    std::fs::write(&path, base64_decode(pngs[0]).expect("base64")).expect("png written");
    let screen = Screen::load(&path).expect("a PNG");
    let check = check_frame(&screen, &windows, shm.id, BLUE).expect("blue frame");
    assert!(check.border_pixels > 500, "{check:?}");
    for corner in [(2, 2), (247, 2), (2, 247), (247, 247)] {
        let p = content_pixel(&screen, &windows, shm.id, corner).expect("pixel");
        assert_eq!(p, Some(WHITE), "margin at {corner:?}");
    }
    let row: HashSet<Rgb> = (20..230)
        .filter_map(|x| content_pixel(&screen, &windows, shm.id, (x, 125)).ok()?)
        .collect();
    assert!(row.len() >= 10, "the pattern has {} colours", row.len());

    // A second `run` in the running qube: the program ran (it wrote to / and /home).
    assert_eq!(mgr(&text, "write"), "rc=0", "{text}");
    assert!(text.contains("BULKHEAD-MGR wrote=yes"), "{text}");
    assert!(mgr(&text, "running").contains("running (pid"), "{text}");

    // `qube stop`: the power button, the guest's own power-off (`shutdown`), nothing left.
    assert!(mgr(&text, "stop").starts_with("rc=0"), "{text}");
    assert!(mgr(&text, "stopped").ends_with("stopped"), "{text}");
    assert_eq!(mgr(&text, "vmms-after-stop="), "0", "{text}");
    assert!(
        !mgr(&text, "dom0-qubes-after-stop").contains("\"work\""),
        "the compositor still knows work: {text}"
    );
    assert!(text.contains("BULKHEAD-BUTTON pressed"), "{text}");
    assert!(
        text.contains(r#"BULKHEAD-RESULT {"exit":{"kind":"shutdown"}"#),
        "the guest did not power off by itself:\n{text}"
    );

    // Started again: the private volume kept its file; / is the qube's overlay, which lives
    // as long as the qube (the template itself is never written, below).
    assert_eq!(mgr(&text, "start"), "rc=0", "{text}");
    assert_eq!(
        mgr(&text, "BULKHEAD-PRIVATE"),
        "kept ROOT written",
        "{text}"
    );
    assert_eq!(mgr(&text, "stop2"), "rc=0", "{text}");
    let files = mgr(&text, "files");
    for f in [
        "qube.json",
        "private.img",
        "root-cow.img",
        "console.log",
        "vmm.log",
    ] {
        assert!(files.split(' ').any(|x| x == f), "{f} not in {files}");
    }
    assert!(!files.contains("running.json"), "{files}");

    // The disposable showed its window, went on Ctrl-C, and left nothing: no directory, no
    // VMM, unknown to the compositor; the template's root image is unchanged.
    assert!(
        mgr(&text, "disposable window=yes").contains("disp1"),
        "{text}"
    );
    assert_eq!(mgr(&text, "disposable rc"), "=0", "{text}");
    assert!(text.contains("disposable qube disp1 is gone"), "{text}");
    assert_eq!(
        mgr(&text, "after-disposable"),
        "qubes=[work ] vmms=0",
        "{text}"
    );
    assert!(
        !mgr(&text, "dom0-qubes-after-disposable").contains("disp1"),
        "{text}"
    );
    let sums = mgr(&text, "template-sum");
    let (before, after) = sums
        .strip_prefix("before=")
        .and_then(|s| s.split_once(" after="))
        .unwrap_or_else(|| panic!("{sums}"));
    assert_eq!(before.len(), 64, "{sums}");
    assert_eq!(before, after, "the template's root image changed");
}
