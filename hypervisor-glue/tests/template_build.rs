//! `bulkhead template build` for real: debootstrap from Debian's mirror, apt in a chroot,
//! mkfs.ext4. Needs root, the network to the mirror and several minutes (about 7 here), so
//! it is ignored by default and not part of CI:
//!
//! ```sh
//! cargo deb -p bulkhead-guest-agent
//! cargo test -p bulkhead-hypervisor-glue --test template_build -- --ignored
//! ```
//!
//! The agent package is taken from `$BULKHEAD_AGENT_DEB`, else the newest one in
//! `target/debian/`. The result is checked inside the image with `debugfs`, without
//! mounting or booting it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn agent_deb() -> PathBuf {
    if let Some(p) = std::env::var_os("BULKHEAD_AGENT_DEB") {
        return PathBuf::from(p);
    }
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_bulkhead"));
    let debian = exe.parent().and_then(Path::parent).unwrap().join("debian");
    let mut debs: Vec<PathBuf> = std::fs::read_dir(&debian)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run `cargo deb -p bulkhead-guest-agent` first",
                debian.display()
            )
        })
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    debs.sort();
    debs.pop()
        .expect("no .deb in target/debian: run `cargo deb -p bulkhead-guest-agent`")
}

fn debugfs(image: &Path, request: &str) -> String {
    let out = Command::new("debugfs")
        .args(["-R", request])
        .arg(image)
        .output()
        .expect("debugfs (e2fsprogs)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "needs root, Debian's mirror and several minutes"]
fn builds_a_debian_template_with_the_agent() {
    let state = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let bulkhead = env!("CARGO_BIN_EXE_bulkhead");
    let status = Command::new("nice")
        .arg(bulkhead)
        .arg("--state-dir")
        .arg(state.path())
        .args(["template", "build", "deb12"])
        .arg("--agent-deb")
        .arg(agent_deb())
        .status()
        .unwrap();
    assert!(
        status.success(),
        "template build failed (see the message above)"
    );

    let list = Command::new(bulkhead)
        .arg("--state-dir")
        .arg(state.path())
        .args(["template", "list"])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.lines().nth(1).is_some_and(|l| l.starts_with("deb12 ")),
        "{list}"
    );

    let dir = state.path().join("templates/deb12");
    for f in ["root.img", "vmlinuz", "initrd.img", "template.json"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let image = dir.join("root.img");
    for path in [
        "/usr/bin/bulkhead-guest-agent",
        "/usr/lib/systemd/user/bulkhead-guest-agent.service",
        "/etc/systemd/user/default.target.wants/bulkhead-guest-agent.service",
        "/etc/systemd/system/multi-user.target.wants/bulkhead-gui-channel.service",
        "/usr/bin/foot",
        "/usr/bin/weston-simple-shm",
        "/usr/bin/wl-copy",
        "/var/lib/systemd/linger/user",
        "/home/user",
    ] {
        assert!(
            debugfs(&image, &format!("stat {path}")).contains("Inode:"),
            "{path} missing"
        );
    }
    assert!(debugfs(&image, "cat /etc/fstab").contains("/dev/vdb  /home/user"));
    // What booting it under emulation needed (tests/tests/vm_template.rs boots it): the
    // user's session after the private volume, a UTF-8 locale for foot, the journal on the
    // serial console.
    let drop_in = debugfs(
        &image,
        "cat /etc/systemd/system/user@1000.service.d/bulkhead.conf",
    );
    assert!(drop_in.contains("After=home-user.mount"), "{drop_in}");
    assert!(debugfs(&image, "cat /etc/locale.conf").contains("LANG=C.UTF-8"));
    let journald = debugfs(
        &image,
        "cat /etc/systemd/journald.conf.d/bulkhead-console.conf",
    );
    assert!(journald.contains("ForwardToConsole=yes"), "{journald}");
    // A failed or finished build leaves no hidden work directories behind.
    let hidden: Vec<_> = std::fs::read_dir(state.path().join("templates"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
}
