//! Bad configurations give clear errors, a typed exit status, and leave nothing running
//! (DESIGN.md, test tier 3's "bad configurations"; these need no test host).
//!
//! Each case runs the real `bulkhead-vmm` binary and checks its exit code, that its message
//! names the problem and what to do, and that the process is gone afterwards.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn vmm() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bulkhead-vmm"));
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Runs the VMM to its end (killing it after `limit`, which fails the test) and checks that
/// the process is gone.
fn run(mut cmd: Command, limit: Duration) -> Output {
    let child = cmd.spawn().expect("bulkhead-vmm starts");
    let pid = child.id();
    let started = Instant::now();
    let waiter = std::thread::spawn(move || child.wait_with_output().expect("wait"));
    while !waiter.is_finished() {
        if started.elapsed() > limit {
            // Clean up: kill the exact pid we spawned.
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("bulkhead-vmm still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = waiter.join().expect("waiter");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "process {pid} is still there"
    );
    out
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("bulkhead-bad-config-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A minimal x86_64 ELF "kernel" whose only instruction jumps to itself: it never reaches
/// an init, so it never writes the boot marker.
fn spinning_kernel(path: &Path) {
    let load: u64 = 0x10_0000;
    let code = [0xeb, 0xfe]; // jmp .
    let mut elf = Vec::new();
    // ELF header.
    elf.extend_from_slice(b"\x7fELF");
    elf.extend_from_slice(&[2, 1, 1, 0]); // 64-bit, little-endian, version 1, System V
    elf.extend_from_slice(&[0; 8]);
    elf.extend_from_slice(&2u16.to_le_bytes()); // executable
    elf.extend_from_slice(&62u16.to_le_bytes()); // x86-64
    elf.extend_from_slice(&1u32.to_le_bytes());
    elf.extend_from_slice(&load.to_le_bytes()); // entry
    elf.extend_from_slice(&64u64.to_le_bytes()); // program headers at 64
    elf.extend_from_slice(&0u64.to_le_bytes()); // no section headers
    elf.extend_from_slice(&0u32.to_le_bytes()); // flags
    elf.extend_from_slice(&64u16.to_le_bytes()); // header size
    elf.extend_from_slice(&56u16.to_le_bytes()); // program header size
    elf.extend_from_slice(&1u16.to_le_bytes()); // one program header
    elf.extend_from_slice(&64u16.to_le_bytes()); // section header size
    elf.extend_from_slice(&0u16.to_le_bytes());
    elf.extend_from_slice(&0u16.to_le_bytes());
    // PT_LOAD, read + execute, the code right after the headers.
    let offset = 64 + 56u64;
    elf.extend_from_slice(&1u32.to_le_bytes());
    elf.extend_from_slice(&5u32.to_le_bytes());
    elf.extend_from_slice(&offset.to_le_bytes());
    elf.extend_from_slice(&load.to_le_bytes()); // vaddr
    elf.extend_from_slice(&load.to_le_bytes()); // paddr
    elf.extend_from_slice(&(code.len() as u64).to_le_bytes());
    elf.extend_from_slice(&(code.len() as u64).to_le_bytes());
    elf.extend_from_slice(&0x1000u64.to_le_bytes());
    elf.extend_from_slice(&code);
    std::fs::File::create(path)
        .unwrap()
        .write_all(&elf)
        .unwrap();
}

#[test]
fn missing_kernel_and_initramfs_are_named() {
    let mut c = vmm();
    c.args(["--kernel", "/nonexistent/bzImage"]);
    let out = run(c, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("/nonexistent/bzImage"),
        "{}",
        text(&out)
    );

    let dir = scratch("initramfs");
    spinning_kernel(&dir.join("kernel"));
    let mut c = vmm();
    c.arg("--kernel").arg(dir.join("kernel"));
    c.args(["--initramfs", "/nonexistent/initrd.gz"]);
    let out = run(c, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("/nonexistent/initrd.gz"),
        "{}",
        text(&out)
    );
}

#[test]
fn too_little_memory_says_how_much_is_needed() {
    let dir = scratch("memory");
    spinning_kernel(&dir.join("kernel"));
    let mut c = vmm();
    c.arg("--kernel").arg(dir.join("kernel"));
    c.args(["--mem-mib", "4"]);
    let out = run(c, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("4 MiB") && t.contains("16 MiB"), "{t}");
}

#[test]
fn a_file_that_is_no_kernel_is_refused() {
    let dir = scratch("notkernel");
    std::fs::write(dir.join("kernel"), vec![0x5a; 8192]).unwrap();
    let mut c = vmm();
    c.arg("--kernel").arg(dir.join("kernel"));
    let out = run(c, Duration::from_secs(30));
    let t = text(&out);
    // Without a usable /dev/kvm the VMM stops earlier, also with a clear message.
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("bzImage") || t.contains("KVM"), "{t}");
}

#[test]
fn bad_disks_are_clear_errors_and_change_nothing() {
    let dir = scratch("disks");
    spinning_kernel(&dir.join("kernel"));
    let template = dir.join("template.img");
    std::fs::write(&template, vec![7u8; 1 << 20]).unwrap();
    let before = std::fs::read(&template).unwrap();

    let cases: [(Vec<String>, &str); 5] = [
        (
            vec![format!("{}", dir.join("missing.img").display())],
            "missing.img",
        ),
        (
            vec![format!("{},cow=", template.display())],
            "unknown disk option",
        ),
        (
            vec![format!(
                "{},ro,cow={}",
                template.display(),
                dir.join("o.cow").display()
            )],
            "drop ro",
        ),
        (
            vec![format!(
                "{},cow={}",
                template.display(),
                dir.join("garbage.cow").display()
            )],
            "not a usable Bulkhead overlay",
        ),
        (
            vec![format!(
                "{},disposable={}",
                template.display(),
                dir.join("no-such-dir").display()
            )],
            "no-such-dir",
        ),
    ];
    std::fs::write(dir.join("garbage.cow"), b"this is not an overlay").unwrap();
    for (disks, needle) in cases {
        let mut c = vmm();
        c.arg("--kernel").arg(dir.join("kernel"));
        for d in &disks {
            c.arg("--disk").arg(d);
        }
        let out = run(c, Duration::from_secs(30));
        let t = text(&out);
        // 2: refused by the argument parser; 1: refused while setting up.
        assert!(matches!(out.status.code(), Some(1 | 2)), "{disks:?}: {t}");
        // Without a usable /dev/kvm the disk is never opened; the parser's refusals come
        // first either way.
        assert!(
            t.contains(needle) || t.contains("KVM"),
            "{disks:?}: wanted {needle:?} in {t}"
        );
    }
    assert_eq!(
        std::fs::read(&template).unwrap(),
        before,
        "template changed"
    );
    assert_eq!(
        std::fs::read(dir.join("garbage.cow")).unwrap(),
        b"this is not an overlay",
        "a refused overlay is left as it was"
    );
    assert!(!dir.join("o.cow").exists());
}

#[test]
fn a_guest_that_never_boots_times_out_with_a_typed_result() {
    let dir = scratch("spin");
    spinning_kernel(&dir.join("kernel"));
    let mut c = vmm();
    c.arg("--kernel").arg(dir.join("kernel"));
    c.args(["--timeout-secs", "2", "--console", "none"]);
    let out = run(c, Duration::from_secs(60));
    let t = text(&out);
    if out.status.code() == Some(1) {
        // No usable KVM here: the error must say so.
        assert!(t.contains("KVM") || t.contains("/dev/kvm"), "{t}");
        return;
    }
    assert_eq!(out.status.code(), Some(6), "{t}");
    let report = t
        .lines()
        .find_map(|l| l.strip_prefix("BULKHEAD-RESULT "))
        .unwrap_or_else(|| panic!("no result line: {t}"));
    let report: bulkhead_hypervisor_glue::VmReport = serde_json::from_str(report).unwrap();
    assert_eq!(report.exit, bulkhead_hypervisor_glue::VmExit::Timeout);
    assert_eq!(report.boot_to_init_ms, None);
}
