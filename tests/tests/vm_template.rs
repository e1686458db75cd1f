//! The real product path (issue 5): a qube booted by `bulkhead-vmm` from the Debian 12
//! template that `bulkhead template build` makes reaches the compositor. systemd boots in
//! the VM, `bulkhead-gui-channel.service` binds the GUI channel to `uio_pci_generic`, the
//! qube user's session (lingering) starts the guest agent's user unit, and `bulkhead run
//! work -- foot` shows foot's window with the qube's blue frame; `bulkhead qube stop` is the
//! guest's own ACPI power-off.
//!
//! Runs in the VM test host (`hypervisor-glue/testhost`) with the template directory shared
//! in read-only (`run.sh --share`, virtio 9p); `testhost/template-e2e-inside.sh` drives only
//! the `bulkhead` CLI there and prints what it saw. Screenshot and log in
//! `<target>/test-artifacts/vm-template/`.
//!
//! Manual, not in CI: it needs a template build (root, debootstrap, several minutes) and
//! takes minutes under QEMU TCG. Without the template or the test host it says what to do
//! and passes without checking anything.
//!
//! ```text
//! hypervisor-glue/testhost/build.sh
//! cargo deb -p bulkhead-guest-agent
//! sudo target/release/bulkhead template build            # or --state-dir DIR
//! cargo test -p bulkhead-tests --test vm_template -- --ignored
//! ```
//!
//! The template is `$BULKHEAD_TEMPLATE_DIR`, else `debian-12` in the manager's default
//! state directory (`$XDG_DATA_HOME/bulkhead/templates`).

#[path = "common/testhost.rs"]
mod testhost;

use std::collections::HashMap;
use std::path::PathBuf;

use bulkhead_tests::desktop::artifact_dir;
use bulkhead_tests::screen::{BLUE, Rgb, Screen, check_frame, content_pixels, luma};
use testhost::{base64_decode, run_in_testhost_sharing, sections, windows_of};

/// The rest of the first `BULKHEAD-TPL <key>` line.
fn tpl<'a>(text: &'a str, key: &str) -> &'a str {
    let prefix = format!("BULKHEAD-TPL {key}");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no `{prefix}` line:\n{text}"))
        .trim()
}

/// The template to boot, if one was built.
fn template_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("BULKHEAD_TEMPLATE_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            let data = std::env::var_os("XDG_DATA_HOME")
                .map(PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share"))
                })?;
            data.join("bulkhead/templates/debian-12")
        }
    };
    ["template.json", "root.img", "vmlinuz", "initrd.img"]
        .iter()
        .all(|f| dir.join(f).is_file())
        .then_some(dir)
}

/// Says why the test checks nothing (it is run by hand, so the reader is at a terminal).
#[allow(clippy::print_stderr)]
fn skip(why: &str) {
    eprintln!("SKIPPED: {why}");
}

#[test]
#[ignore = "manual: needs a template build (sudo bulkhead template build) and the VM test host"]
fn a_debian_template_qube_shows_foot_in_the_compositor() {
    let cache = bulkhead_tests::testhost_cache();
    if !cache.join("out/testhost.cpio").exists() {
        skip(&format!(
            "the VM test host is not built in {}: run hypervisor-glue/testhost/build.sh",
            cache.display()
        ));
        return;
    }
    let Some(template) = template_dir() else {
        skip(
            "no Debian template: build one with `cargo deb -p bulkhead-guest-agent` and \
             `sudo target/release/bulkhead template build`, or point BULKHEAD_TEMPLATE_DIR at a \
             template directory (template.json, root.img, vmlinuz, initrd.img)",
        );
        return;
    };
    let out = run_in_testhost_sharing(2, 2400, &template, "bulkhead-template-e2e foot 900");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let dir = artifact_dir("vm-template");
    std::fs::write(dir.join("testhost.log"), &text).expect("log written");
    let stderr = String::from_utf8_lossy(&out.stderr);

    assert!(tpl(&text, "templates").contains("debian-12"), "{text}");
    assert_eq!(tpl(&text, "create"), "rc=0", "{text}");
    // `run` booted systemd, the agent's user unit came up and connected, foot started.
    assert!(tpl(&text, "run").starts_with("rc=0"), "{text}\n{stderr}");
    assert!(
        tpl(&text, "window").starts_with("=yes"),
        "no window from the qube:\n{text}\n{stderr}"
    );
    let windows = windows_of(&text);
    let foot = windows
        .iter()
        .find(|w| w.app_id == "foot")
        .unwrap_or_else(|| panic!("no foot window in {windows:#?}"));
    assert_eq!((foot.qube.as_str(), foot.label.as_str()), ("work", "blue"));
    let pngs = sections(&text, "BULKHEAD-PNG-BEGIN", "BULKHEAD-PNG-END");
    assert_eq!(pngs.len(), 1, "one screenshot expected:\n{text}");
    let path = dir.join("vm-template-foot.png");
    std::fs::write(&path, base64_decode(pngs[0]).expect("base64")).expect("png written");
    let screen = Screen::load(&path).expect("a PNG");
    let check = check_frame(&screen, &windows, foot.id, BLUE).expect("blue frame");
    assert!(check.border_pixels > 500, "{check:?}");
    // foot's own pixels: its dark background, and light glyphs of the shell prompt in the
    // first text row (the user's bash started in the qube).
    let pixels = content_pixels(&screen, &windows, foot.id).expect("content");
    let mut counts: HashMap<Rgb, usize> = HashMap::new();
    for &(_, _, p) in &pixels {
        *counts.entry(p).or_default() += 1;
    }
    let (background, n) = counts
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(p, n)| (*p, *n))
        .expect("pixels");
    assert!(
        luma(background) < 3 * 64,
        "foot's background {background:?}"
    );
    assert!(
        n * 10 > pixels.len() * 9,
        "mostly background: {n} of {}",
        pixels.len()
    );
    let glyphs = pixels
        .iter()
        .filter(|&&(_, y, p)| y < 16 && luma(p) > 3 * 150)
        .count();
    assert!(
        glyphs > 20,
        "no prompt text in foot's first row ({glyphs} light pixels)"
    );

    // `qube stop`: the power button reached systemd-logind, the guest powered off, and no
    // VMM is left.
    assert!(tpl(&text, "stop").starts_with("rc=0"), "{text}");
    assert!(tpl(&text, "stopped").ends_with("stopped"), "{text}");
    assert_eq!(tpl(&text, "vmms-after-stop="), "0", "{text}");
    assert!(text.contains("Power key pressed"), "{text}");
    assert!(
        text.contains(r#"BULKHEAD-RESULT {"exit":{"kind":"shutdown"}"#),
        "the guest did not power off by itself:\n{text}"
    );
}
