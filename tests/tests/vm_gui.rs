//! VM end-to-end (DESIGN.md, test tier 3): a stock Wayland client inside a real VM shows in
//! the dom0 compositor through the GUI channel PCI device, with its qube's border.
//!
//! Inside the VM test host (`hypervisor-glue/testhost`): the compositor runs headless with
//! `--qube work:blue`; `bulkhead-vmm --gui-socket` connects to work's socket and boots
//! Debian's stock kernel with an initramfs holding the guest agent (VM mode: it finds the
//! PCI device, binds `uio_pci_generic`, maps the BAR) and `weston-simple-shm`. The test host
//! script (`testhost/gui-e2e.sh`) waits for the window, takes two screenshots and prints
//! them in base64; this test decodes them into `<target>/test-artifacts/vm-gui/` and checks
//! the pixels.
//!
//! Ignored by default (it needs the test host and takes minutes under QEMU TCG):
//!
//! ```text
//! hypervisor-glue/testhost/build.sh
//! cargo test -p bulkhead-tests --test vm_gui -- --ignored
//! ```

#[path = "common/testhost.rs"]
mod testhost;

use std::collections::HashSet;

use bulkhead_tests::desktop::artifact_dir;
use bulkhead_tests::screen::{BLUE, Rgb, Screen, check_frame, content_pixel, content_pixels};
use testhost::{
    base64_decode, require_testhost, run_in_testhost, sections, windows_of, work_simple_shm,
};

const WHITE: Rgb = Rgb::new(0xff, 0xff, 0xff);

#[test]
#[ignore = "needs the VM test host: hypervisor-glue/testhost/build.sh, then --ignored"]
fn simple_shm_in_a_vm_shows_in_the_compositor_with_the_blue_border() {
    require_testhost();
    let out = run_in_testhost(2, 1800, "bulkhead-gui-e2e 900");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let dir = artifact_dir("vm-gui");
    std::fs::write(dir.join("testhost.log"), &text).expect("log written");
    assert!(
        text.contains("BULKHEAD-E2E window=yes"),
        "no window from the VM reached the compositor:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The guest agent found the device by itself and said how it unmasks interrupts; its
    // pixels go through the write-combining mapping (`resource0_wc`), not the uncached one.
    assert!(text.contains("GUI channel PCI device mapped"), "{text}");
    assert!(text.contains("write-combining"), "{text}");

    let windows = windows_of(&text);
    let shm = work_simple_shm(&windows);

    let pngs = sections(&text, "BULKHEAD-PNG-BEGIN", "BULKHEAD-PNG-END");
    assert_eq!(pngs.len(), 2, "two screenshots expected:\n{text}");
    let mut screens = Vec::new();
    for (i, png) in pngs.iter().enumerate() {
        let path = dir.join(format!("vm-simple-shm-{i}.png"));
        std::fs::write(&path, base64_decode(png).expect("base64")).expect("png written");
        screens.push(Screen::load(&path).expect("a PNG"));
    }

    // dom0's frame in the qube's colour, drawn around the guest's pixels.
    let check = check_frame(&screens[0], &windows, shm.id, BLUE).expect("blue frame");
    assert!(check.border_pixels > 500, "{check:?}");

    // simple-shm's own pixels, from inside the VM: a white margin around a pattern.
    for corner in [(2, 2), (247, 2), (2, 247), (247, 247), (10, 125)] {
        let p = content_pixel(&screens[0], &windows, shm.id, corner).expect("pixel");
        assert_eq!(p, Some(WHITE), "margin at {corner:?}");
    }
    let row: HashSet<Rgb> = (20..230)
        .filter_map(|x| content_pixel(&screens[0], &windows, shm.id, (x, 125)).ok()?)
        .collect();
    assert!(row.len() >= 10, "the pattern has {} colours", row.len());

    // It animates: frames keep crossing the VM boundary.
    let first = content_pixels(&screens[0], &windows, shm.id).expect("pixels");
    let later = content_pixels(&screens[1], &windows, shm.id).expect("pixels");
    let changed = later.iter().zip(&first).filter(|(a, b)| a.2 != b.2).count();
    assert!(
        changed > 1000,
        "only {changed} pixels changed between frames"
    );

    // The host's orderly stop (SIGTERM → ACPI power button) ended the VM by the guest's own
    // power-off: `shutdown`, exit status 0.
    assert!(
        text.contains(r#"BULKHEAD-RESULT {"exit":{"kind":"shutdown"}"#),
        "{text}"
    );
    assert!(text.contains("BULKHEAD-E2E vmm-rc=0"), "{text}");
}
