//! What the VM end-to-end tests (`vm_gui`, `vm_manager`, `vm_template`) share: running a command in the
//! test host (`hypervisor-glue/testhost/run.sh`) and reading what it printed (marker
//! sections, base64 screenshots, the compositor's window list).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

use bulkhead_compositor::control::{Response, WindowInfo};

/// The test host cache (`$BULKHEAD_CACHE`, default `~/.cache/bulkhead/testhost`); panics with what to do
/// when the test host is not built.
pub fn require_testhost() -> PathBuf {
    let cache = bulkhead_tests::testhost_cache();
    assert!(
        cache.join("out/testhost.cpio").exists(),
        "the test host is not built: run hypervisor-glue/testhost/build.sh"
    );
    cache
}

/// Runs `command` in the test host with `smp` CPUs, giving up after `timeout_secs`.
pub fn run_in_testhost(smp: u32, timeout_secs: u32, command: &str) -> Output {
    run(smp, timeout_secs, None, command)
}

/// [`run_in_testhost`] with `share` visible read-only at `/share` in the test host
/// (`run.sh --share`, virtio 9p), e.g. a template too big for the initramfs.
pub fn run_in_testhost_sharing(
    smp: u32,
    timeout_secs: u32,
    share: &std::path::Path,
    command: &str,
) -> Output {
    run(smp, timeout_secs, Some(share), command)
}

fn run(smp: u32, timeout_secs: u32, share: Option<&std::path::Path>, command: &str) -> Output {
    let mut run = Command::new(testhost_run());
    run.args([
        "--smp",
        &smp.to_string(),
        "--timeout",
        &timeout_secs.to_string(),
    ]);
    if let Some(share) = share {
        run.arg("--share").arg(share);
    }
    run.args(["--", command]).output().expect("run.sh starts")
}

pub fn testhost_run() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../hypervisor-glue/testhost/run.sh")
}

/// Decodes standard base64 (whitespace ignored).
pub fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let value = |c: u8| -> Result<u32, String> {
        Ok(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(format!("not base64: {:?}", char::from(c))),
        }
        .into())
    };
    let clean: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    for chunk in clean.chunks(4) {
        let data: Vec<u8> = chunk.iter().copied().filter(|&c| c != b'=').collect();
        if data.len() < 2 {
            return Err("truncated base64".into());
        }
        let mut acc = 0u32;
        for &c in &data {
            acc = acc << 6 | value(c)?;
        }
        acc <<= 6 * (4 - data.len());
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..data.len()]);
    }
    Ok(out)
}

/// The text between `begin` and `end` marker lines, each occurrence.
pub fn sections<'a>(text: &'a str, begin: &str, end: &str) -> Vec<&'a str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(begin) {
        let after = &rest[start + begin.len()..];
        let Some(stop) = after.find(end) else { break };
        found.push(&after[..stop]);
        rest = &after[stop + end.len()..];
    }
    found
}

/// The weston-simple-shm window among `windows`, checked to be qube `work`'s (blue) at
/// simple-shm's own 250×250.
pub fn work_simple_shm(windows: &[WindowInfo]) -> &WindowInfo {
    let shm = windows
        .iter()
        .find(|w| w.app_id == "org.freedesktop.weston.simple-shm")
        .unwrap_or_else(|| panic!("no simple-shm window in {windows:#?}"));
    assert_eq!((shm.qube.as_str(), shm.label.as_str()), ("work", "blue"));
    assert_eq!((shm.geometry.w, shm.geometry.h), (250, 250));
    shm
}

pub fn windows_of(text: &str) -> Vec<WindowInfo> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("BULKHEAD-WINDOWS "))
        .unwrap_or_else(|| panic!("no window list:\n{text}"));
    let response: Response = serde_json::from_str(line).expect("a control-socket response");
    response.windows.expect("windows in the response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVs\nbG8h").unwrap(), b"hello!");
        assert_eq!(base64_decode("aA==").unwrap(), b"h");
        assert!(base64_decode("a*==").is_err());
        assert!(base64_decode("aGVsb").is_err());
    }
}
