//! VM mode: whether this machine can run the demo's qubes as KVM virtual machines, and
//! running them through the `bulkhead` qube manager when it can.
//!
//! The question is not whether `/dev/kvm` exists but whether it boots a stock Linux guest:
//! some machines (the project's build machines, DESIGN.md "Test tiers") have a `/dev/kvm`
//! on which Debian's kernel hangs after its real-mode setup. So the demo boots a stock kernel
//! (the template's, else the host's own `/boot/vmlinuz-*`) in `bulkhead-vmm` with no
//! initramfs and no disk, for a few seconds: a kernel that gets through its whole start-up
//! finds no root filesystem, panics, and (`panic=-1 reboot=k`) resets the VM, which the VMM
//! reports as `reset`. A `timeout` means the guest hung; `kvm`, that KVM refused. The answer
//! is cached per kernel, VMM and host kernel in `$XDG_CACHE_HOME/bulkhead/kvm-probe`.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// How long the probe boot may take. A real KVM boots Debian's kernel to the root mount in
/// well under a second; a hanging one never gets there.
pub const PROBE_SECS: u64 = 5;

/// What the probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The guest kernel got through its start-up.
    pub boots: bool,
    /// Why, in words for the user.
    pub why: String,
    /// The answer came from the cache.
    pub cached: bool,
}

/// The state directory `bulkhead` uses by default (`$BULKHEAD_STATE_DIR`,
/// `$XDG_DATA_HOME/bulkhead`, `~/.local/share/bulkhead`).
pub fn state_dir() -> Option<PathBuf> {
    let nonempty = |v: &str| std::env::var_os(v).filter(|d| !d.is_empty());
    nonempty("BULKHEAD_STATE_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            nonempty("XDG_DATA_HOME")
                .map(PathBuf::from)
                .or_else(|| nonempty("HOME").map(|h| PathBuf::from(h).join(".local/share")))
                .map(|d| d.join("bulkhead"))
        })
}

/// Where the probe's answer is cached: `$XDG_CACHE_HOME/bulkhead/kvm-probe`.
pub fn cache_file() -> Option<PathBuf> {
    let nonempty = |v: &str| std::env::var_os(v).filter(|d| !d.is_empty());
    nonempty("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| nonempty("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|d| d.join("bulkhead").join("kvm-probe"))
}

/// A stock kernel to boot: `explicit` if given, else the template's, else the running
/// kernel's image (`/boot/vmlinuz-<release>`, `/boot/vmlinuz`, `/vmlinuz`), else the
/// Debian kernel of the project's VM test host (`$BULKHEAD_CACHE/out/vmlinuz`, default
/// `~/.cache/bulkhead/testhost`, made by `hypervisor-glue/testhost/build.sh`); the first readable one.
pub fn probe_kernel(explicit: Option<&Path>, template: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_owned());
    }
    if let Some(t) = template.map(|t| t.join("vmlinuz")).filter(|k| k.is_file()) {
        return Some(t);
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let cache = var("BULKHEAD_CACHE").map_or_else(
        || {
            var("XDG_CACHE_HOME")
                .map_or_else(
                    || PathBuf::from(var("HOME").unwrap_or_else(|| "/".into())).join(".cache"),
                    PathBuf::from,
                )
                .join("bulkhead/testhost")
        },
        PathBuf::from,
    );
    [
        PathBuf::from(format!("/boot/vmlinuz-{}", release.trim())),
        PathBuf::from("/boot/vmlinuz"),
        PathBuf::from("/vmlinuz"),
        cache.join("out/vmlinuz"),
    ]
    .into_iter()
    .find(|k| k.is_file() && std::fs::File::open(k).is_ok())
}

/// What identifies one probe's answer: the kernel image, the VMM binary and the host.
fn cache_key(vmm: &Path, kernel: &Path) -> String {
    let stamp = |p: &Path| {
        std::fs::metadata(p).map_or_else(
            |_| "missing".to_owned(),
            |m| format!("{}:{}:{}", m.len(), m.mtime(), m.ino()),
        )
    };
    let host = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    format!(
        "kernel={} {} vmm={} {} host={} boot={}",
        kernel.display(),
        stamp(kernel),
        vmm.display(),
        stamp(vmm),
        host.trim(),
        boot_id.trim()
    )
}

/// Whether `vmm` boots `kernel` on this machine's KVM, the answer cached in `cache`.
pub fn probe(vmm: &Path, kernel: &Path, cache: Option<&Path>) -> Probe {
    let key = cache_key(vmm, kernel);
    if let Some(text) = cache.and_then(|c| std::fs::read_to_string(c).ok()) {
        let mut lines = text.lines();
        if lines.next() == Some(key.as_str())
            && let (Some(answer), Some(why)) = (lines.next(), lines.next())
            && (answer == "boots" || answer == "cannot")
        {
            return Probe {
                boots: answer == "boots",
                why: why.to_owned(),
                cached: true,
            };
        }
    }
    let probe = boot_once(vmm, kernel);
    if let Some(c) = cache {
        let text = format!(
            "{key}\n{}\n{}\n",
            if probe.boots { "boots" } else { "cannot" },
            probe.why
        );
        let written = c
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(c, text));
        if let Err(e) = written {
            eprintln!(
                "bulkhead-demo: cannot cache the KVM probe in {}: {e}",
                c.display()
            );
        }
    }
    probe
}

/// One short boot; the VMM's exit status says how it went (hypervisor-glue/README.md).
fn boot_once(vmm: &Path, kernel: &Path) -> Probe {
    let cannot = |why: String| Probe {
        boots: false,
        why,
        cached: false,
    };
    if let Err(e) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        return cannot(format!("/dev/kvm cannot be opened ({e})"));
    }
    let started = Instant::now();
    let status = Command::new(vmm)
        .arg("--kernel")
        .arg(kernel)
        .args(["--cmdline", "console=ttyS0 panic=-1 reboot=k quiet"])
        .args(["--mem-mib", "256", "--console", "none", "--seccomp", "off"])
        .args(["--timeout-secs", &PROBE_SECS.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let secs = started.elapsed().as_secs_f32();
    match status.map(|s| s.code()) {
        // The kernel ran to its root mount (no root: panic, reset), or powered off.
        Ok(Some(0 | 3 | 4)) => Probe {
            boots: true,
            why: format!(
                "a {PROBE_SECS} s test boot of {} under bulkhead-vmm got through the kernel's \
                 start-up in {secs:.1} s",
                kernel.display()
            ),
            cached: false,
        },
        Ok(Some(6)) => cannot(format!(
            "KVM on this machine cannot boot a stock Linux guest: a test boot of {} hung \
             for {PROBE_SECS} s (see the test-host note in DESIGN.md)",
            kernel.display()
        )),
        Ok(Some(7)) => {
            cannot("KVM refused to run the test guest (bulkhead-vmm: KVM failure)".into())
        }
        Ok(code) => cannot(format!(
            "a test boot of {} under bulkhead-vmm ended with status {code:?} after {secs:.1} s",
            kernel.display()
        )),
        Err(e) => cannot(format!("cannot run {}: {e}", vmm.display())),
    }
}

/// `bulkhead` with the demo's compositor.
pub struct Manager {
    /// The `bulkhead` binary.
    pub bulkhead: PathBuf,
    /// The compositor's control socket.
    pub control: PathBuf,
    /// The template the demo's qubes run on.
    pub template: String,
    /// Seconds a qube may take to boot.
    pub boot_secs: u64,
    /// Qubes this demo started (stopped when it ends).
    pub started: Vec<String>,
}

impl Manager {
    fn command(&self) -> Command {
        let mut c = Command::new(&self.bulkhead);
        c.arg("--control-socket").arg(&self.control);
        c.stdin(Stdio::null());
        c
    }

    fn output(&self, args: &[&str]) -> Result<String, String> {
        let out = self
            .command()
            .args(args)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.bulkhead.display()))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "`bulkhead {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// Creates the qube when it does not exist, then runs `argv` in it (the manager boots it).
    pub fn run(&mut self, name: &str, label: &str, argv: &[String]) -> Result<(), String> {
        let list = self.output(&["qube", "list"])?;
        let exists = list
            .lines()
            .skip(1)
            .any(|l| l.split_whitespace().next() == Some(name));
        if !exists {
            let created = self.output(&[
                "qube",
                "create",
                name,
                "--label",
                label,
                "--template",
                &self.template,
            ])?;
            print!("{created}");
        }
        let timeout = self.boot_secs.to_string();
        let mut args = vec!["run", name, "--timeout", &timeout, "--"];
        args.extend(argv.iter().map(String::as_str));
        self.started.push(name.to_owned());
        let out = self.output(&args)?;
        print!("{out}");
        Ok(())
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        for name in std::mem::take(&mut self.started).into_iter().rev() {
            match self.output(&["qube", "stop", &name, "--grace", "30"]) {
                Ok(_) => println!("stopped qube {name}"),
                Err(e) if e.contains("not running") => {}
                Err(e) => eprintln!("bulkhead-demo: {e}; try `bulkhead qube kill {name}`"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A stand-in VMM that exits with `status` and counts its runs.
    fn fake_vmm(dir: &Path, status: i32) -> PathBuf {
        let path = dir.join(format!("vmm-{status}"));
        let count = dir.join(format!("runs-{status}"));
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\necho run >> {}\nexit {status}\n",
                count.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn runs(dir: &Path, status: i32) -> usize {
        std::fs::read_to_string(dir.join(format!("runs-{status}"))).map_or(0, |t| t.lines().count())
    }

    #[test]
    fn the_vmm_status_decides_and_the_answer_is_cached() {
        let kvm_usable = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm")
            .is_ok();
        let dir = tempfile::tempdir().unwrap();
        let kernel = dir.path().join("vmlinuz");
        std::fs::write(&kernel, b"not really a kernel").unwrap();
        let cache = dir.path().join("cache/kvm-probe");
        for (status, boots) in [(3, true), (4, true), (6, false), (7, false), (1, false)] {
            let _ = std::fs::remove_file(&cache);
            let vmm = fake_vmm(dir.path(), status);
            let first = probe(&vmm, &kernel, Some(&cache));
            assert_eq!(
                first.boots,
                boots && kvm_usable,
                "status {status}: {first:?}"
            );
            assert!(!first.cached);
            if !kvm_usable {
                assert!(first.why.contains("/dev/kvm"), "{first:?}");
                continue;
            }
            if status == 6 {
                assert!(
                    first.why.contains("cannot boot a stock Linux guest"),
                    "{first:?}"
                );
            }
            let again = probe(&vmm, &kernel, Some(&cache));
            assert!(again.cached, "{again:?}");
            assert_eq!((again.boots, &again.why), (first.boots, &first.why));
            assert_eq!(
                runs(dir.path(), status),
                1,
                "the cached answer did not boot again"
            );
        }
        if kvm_usable {
            // Another kernel is another question.
            let other = dir.path().join("vmlinuz-2");
            std::fs::write(&other, b"another kernel").unwrap();
            let vmm = fake_vmm(dir.path(), 1);
            assert!(!probe(&vmm, &other, Some(&cache)).cached);
        }
    }

    #[test]
    fn the_probe_kernel_is_the_given_one_then_the_templates() {
        let dir = tempfile::tempdir().unwrap();
        let given = dir.path().join("k");
        assert_eq!(probe_kernel(Some(&given), Some(dir.path())), Some(given));
        std::fs::write(dir.path().join("vmlinuz"), b"k").unwrap();
        assert_eq!(
            probe_kernel(None, Some(dir.path())),
            Some(dir.path().join("vmlinuz"))
        );
    }
}
