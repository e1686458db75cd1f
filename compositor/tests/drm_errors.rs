//! The DRM backend's clear errors, where they can be provoked on any machine: without a
//! seat, `--backend drm` refuses to start and says how to get one. (No DRM device and no
//! connected display are checked in the DRM test guest, tests/tests/drm_session.rs.)

use std::process::Command;

#[test]
fn without_a_seat_the_error_says_to_use_a_vt_or_seatd() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_bulkhead-compositor"))
        .args(["--backend", "drm", "--qube", "work:blue"])
        .arg("--control-socket")
        .arg(dir.path().join("control.sock"))
        .arg("--qube-socket-dir")
        .arg(dir.path().join("qubes"))
        // libseat told to use a seatd that is not there: no seat, whoever runs the test.
        .env("LIBSEAT_BACKEND", "seatd")
        .env("SEATD_SOCK", dir.path().join("no-seatd.sock"))
        .env("XDG_RUNTIME_DIR", dir.path())
        .output()
        .expect("the compositor runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started without a seat:\n{stderr}");
    for needle in [
        "no seat",
        "text console (VT)",
        "seatd",
        "--backend headless",
    ] {
        assert!(stderr.contains(needle), "{needle:?} not in:\n{stderr}");
    }
    assert!(
        !dir.path().join("control.sock").exists(),
        "the control socket outlived the failed start"
    );
}
