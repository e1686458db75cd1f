//! `bulkhead template build`: a Debian 12 root filesystem made with debootstrap, with the
//! guest agent package, the demo apps (foot, weston's clients, wl-clipboard) and Debian's
//! kernel, turned into an ext4 image and registered as a template.
//!
//! Needs root (debootstrap, chroot, mounting `/proc` in the chroot). Every step's output
//! goes to `build.log` in the template's directory; a failed step shows its last lines.
//! The work happens in hidden directories under `templates/`; only the last step renames
//! the finished template into place, so a failed or interrupted build leaves no template
//! (and the old one, when replacing, stays until the new one is complete).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use super::template::{self, INITRD, KERNEL, ROOT_IMAGE, TemplateMeta};
use super::{Manager, ManagerError, now_unix, qube};

/// The Debian release templates are made from.
pub const RELEASE: &str = "bookworm";
/// Debian's mirror, unless told otherwise.
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
/// What debootstrap installs beyond `minbase`.
const BASE_PACKAGES: &str = "systemd,systemd-sysv,udev,dbus,kmod,e2fsprogs,ca-certificates";
/// What is installed in the chroot with apt: Debian's kernel (the template boots its own),
/// `libpam-systemd` (without it the user's systemd manager, which runs the agent, fails to
/// start), the demo apps and a font for them.
const APT_PACKAGES: &[&str] = &[
    "linux-image-amd64",
    "libpam-systemd",
    "foot",
    "weston",
    "wl-clipboard",
    "fonts-dejavu-core",
];
/// The qube's user (the private volume's owner, uid 1000).
const USER: &str = "user";
/// The build's steps, for "step N/M".
pub const STEPS: usize = 7;

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The template's name.
    pub name: String,
    /// The guest agent's Debian package (`cargo deb -p bulkhead-guest-agent`).
    pub agent_deb: PathBuf,
    /// The Debian mirror.
    pub mirror: String,
    /// Replace an existing template of that name (refused while qubes use it).
    pub replace: bool,
}

/// Whether this process runs as root.
fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs one build command with its output appended to the log; a failure carries the
/// log's end.
struct Steps {
    log: PathBuf,
    step: usize,
    progress: Box<dyn FnMut(&str)>,
    started: Instant,
}

impl Steps {
    fn begin(&mut self, what: &str) {
        self.step += 1;
        (self.progress)(&format!(
            "[{}/{STEPS}] {what} ({:.0} s so far)",
            self.step,
            self.started.elapsed().as_secs_f64()
        ));
    }

    fn run(&mut self, what: &str, command: &mut Command) -> Result<(), ManagerError> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| ManagerError::Build(format!("cannot open {}: {e}", self.log.display())))?;
        let _ = writeln!(&log, "\n$ {command:?}");
        let err = log
            .try_clone()
            .map_err(|e| ManagerError::Build(format!("cannot duplicate the log: {e}")))?;
        let status = command
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .status()
            .map_err(|e| ManagerError::Build(format!("{what}: cannot run {command:?}: {e}")))?;
        if status.success() {
            Ok(())
        } else {
            Err(ManagerError::Build(format!(
                "{what} failed ({status}); the end of {}:\n{}",
                self.log.display(),
                super::process::log_tail(&self.log, 15)
            )))
        }
    }
}

fn write_file(path: &Path, text: &str) -> Result<(), ManagerError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| ManagerError::Build(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(path, text)
        .map_err(|e| ManagerError::Build(format!("cannot write {}: {e}", path.display())))
}

/// Mount points under `root` that are still mounted.
fn mounts_under(root: &Path) -> Vec<String> {
    let prefix = root.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mounts")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter(|m| m.starts_with(&prefix))
        .map(str::to_owned)
        .collect()
}

/// `/proc` mounted in the chroot while it lives; unmounted when dropped.
struct ProcMount(PathBuf);

impl ProcMount {
    fn mount(root: &Path, steps: &mut Steps) -> Result<ProcMount, ManagerError> {
        let target = root.join("proc");
        steps.run(
            "mounting /proc in the chroot",
            Command::new("mount")
                .args(["-t", "proc", "proc"])
                .arg(&target),
        )?;
        Ok(ProcMount(target))
    }
}

impl Drop for ProcMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// The newest `prefix*` file in `dir`.
fn newest(dir: &Path, prefix: &str) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect();
    found.sort();
    found.pop()
}

/// Bytes the files under `dir` take (apparent sizes), for sizing the image.
fn tree_bytes(dir: &Path) -> u64 {
    let out = Command::new("du").args(["-sb"]).arg(dir).output();
    out.ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

impl Manager {
    /// `template build`: see the module docs. `progress` gets one line per step.
    pub fn build_template(
        &mut self,
        request: &BuildRequest,
        progress: Box<dyn FnMut(&str)>,
    ) -> Result<template::Template, ManagerError> {
        qube::check_name(&request.name)?;
        let templates = self.templates_dir();
        let staging = templates.join(format!(".build-{}", request.name));
        let rootfs = templates.join(format!(".rootfs-{}", request.name));
        let mut steps = Steps {
            log: staging.join("build.log"),
            step: 0,
            progress,
            started: Instant::now(),
        };
        steps.begin("checking what the build needs");
        if !is_root() {
            return Err(ManagerError::Build(
                "building a template needs root (debootstrap, chroot, mount): run it with sudo"
                    .into(),
            ));
        }
        if !request.agent_deb.is_file() {
            return Err(ManagerError::Build(format!(
                "no guest agent package at {}: build it with `cargo deb -p bulkhead-guest-agent` \
                 (after `cargo install cargo-deb`), or pass --agent-deb PATH",
                request.agent_deb.display()
            )));
        }
        let _lock = self.lock()?;
        if let Some(old) = template::load(&templates.join(&request.name))? {
            if !request.replace {
                return Err(ManagerError::TemplateExists(request.name.clone()));
            }
            let users: Vec<String> = self
                .qube_names()
                .into_iter()
                .filter(|q| self.config(q).is_ok_and(|c| c.template == old.meta.name))
                .collect();
            if !users.is_empty() {
                return Err(ManagerError::TemplateInUse {
                    name: request.name.clone(),
                    qubes: users,
                });
            }
        }
        for dir in [&staging, &rootfs] {
            if !mounts_under(dir).is_empty() {
                return Err(ManagerError::Build(format!(
                    "{} has mounts left from an earlier build ({}): unmount them first",
                    dir.display(),
                    mounts_under(dir).join(", ")
                )));
            }
            let _ = std::fs::remove_dir_all(dir);
        }
        std::fs::create_dir_all(&staging).map_err(|e| {
            ManagerError::Build(format!("cannot create {}: {e}", staging.display()))
        })?;
        File::create(&steps.log)
            .map_err(|e| ManagerError::Build(format!("cannot create the build log: {e}")))?;
        if !have("debootstrap") {
            steps.run(
                "installing debootstrap",
                Command::new("apt-get")
                    .args(["install", "-y", "--no-install-recommends", "debootstrap"])
                    .env("DEBIAN_FRONTEND", "noninteractive"),
            )?;
        }
        let result = self.build_steps(request, &staging, &rootfs, &mut steps);
        // The chroot's tree is large and of no use afterwards; never delete through a mount.
        if mounts_under(&rootfs).is_empty() {
            let _ = std::fs::remove_dir_all(&rootfs);
        }
        match result {
            Ok(t) => Ok(t),
            Err(e) => {
                // Keep the log for diagnosis, beside where the template would have been.
                let kept = templates.join(format!(".failed-{}.log", request.name));
                let _ = std::fs::rename(&steps.log, &kept);
                let _ = std::fs::remove_dir_all(&staging);
                Err(ManagerError::Build(format!(
                    "{e}\n(the whole log is in {})",
                    kept.display()
                )))
            }
        }
    }

    fn build_steps(
        &mut self,
        request: &BuildRequest,
        staging: &Path,
        rootfs: &Path,
        steps: &mut Steps,
    ) -> Result<template::Template, ManagerError> {
        steps.begin(&format!(
            "debootstrap Debian 12 ({RELEASE}) from {} (several minutes)",
            request.mirror
        ));
        steps.run(
            "debootstrap",
            Command::new("nice")
                .args(["-n", "10", "debootstrap", "--variant=minbase"])
                .arg(format!("--include={BASE_PACKAGES}"))
                .arg(RELEASE)
                .arg(rootfs)
                .arg(&request.mirror),
        )?;

        steps.begin("installing Debian's kernel, foot, weston, wl-clipboard and the guest agent");
        // No service starts inside the chroot.
        write_file(
            &rootfs.join("usr/sbin/policy-rc.d"),
            "#!/bin/sh\nexit 101\n",
        )?;
        chmod_x(&rootfs.join("usr/sbin/policy-rc.d"))?;
        let deb_in_chroot = Path::new("/tmp/bulkhead-guest-agent.deb");
        std::fs::copy(
            &request.agent_deb,
            rootfs.join("tmp/bulkhead-guest-agent.deb"),
        )
        .map_err(|e| ManagerError::Build(format!("cannot copy the agent package: {e}")))?;
        {
            let _proc = ProcMount::mount(rootfs, steps)?;
            let mut apt = Command::new("nice");
            apt.args(["-n", "10", "chroot"])
                .arg(rootfs)
                .args(["apt-get", "install", "-y", "--no-install-recommends"])
                .args(APT_PACKAGES)
                .arg(deb_in_chroot)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
            steps.run("apt-get install in the chroot", &mut apt)?;
            steps.run(
                "adding the qube's user",
                Command::new("chroot").arg(rootfs).args([
                    "useradd",
                    "-m",
                    "-u",
                    "1000",
                    "-s",
                    "/bin/bash",
                    USER,
                ]),
            )?;
            steps.run(
                "cleaning apt's cache",
                Command::new("chroot")
                    .arg(rootfs)
                    .args(["apt-get", "clean"]),
            )?;
        }
        let _ = std::fs::remove_file(rootfs.join("tmp/bulkhead-guest-agent.deb"));
        let _ = std::fs::remove_file(rootfs.join("usr/sbin/policy-rc.d"));

        steps.begin("configuring the qube's system (user session, private volume, hostname)");
        configure(rootfs)?;

        steps.begin("copying out the kernel and the initramfs");
        let boot = rootfs.join("boot");
        for (prefix, target) in [("vmlinuz-", KERNEL), ("initrd.img-", INITRD)] {
            let found = newest(&boot, prefix).ok_or_else(|| {
                ManagerError::Build(format!(
                    "no {prefix}* in {}: did the kernel install?",
                    boot.display()
                ))
            })?;
            std::fs::copy(&found, staging.join(target)).map_err(|e| {
                ManagerError::Build(format!("cannot copy {}: {e}", found.display()))
            })?;
        }

        steps.begin("making the ext4 root image");
        let bytes = tree_bytes(rootfs);
        // Room for the tree, ext4's own needs, and what qubes add in their overlays.
        let mib = (bytes + bytes / 4) / (1 << 20) + 512;
        steps.run(
            "mkfs.ext4",
            Command::new("nice")
                .args([
                    "-n",
                    "10",
                    "mkfs.ext4",
                    "-q",
                    "-F",
                    "-L",
                    "bulkhead-root",
                    "-d",
                ])
                .arg(rootfs)
                .arg(staging.join(ROOT_IMAGE))
                .arg(format!("{mib}M")),
        )?;

        steps.begin(&format!("registering template {}", request.name));
        let templates = self.templates_dir();
        let old = templates.join(&request.name);
        if old.exists() {
            let trash = templates.join(format!(".old-{}", request.name));
            let _ = std::fs::remove_dir_all(&trash);
            std::fs::rename(&old, &trash).map_err(|e| {
                ManagerError::Build(format!("cannot move the old template away: {e}"))
            })?;
            let _ = std::fs::remove_dir_all(&trash);
        }
        let meta = TemplateMeta {
            name: request.name.clone(),
            description: format!(
                "Debian 12 ({RELEASE}) with the guest agent, foot, weston, wl-clipboard"
            ),
            built_unix: now_unix(),
        };
        template::register(&templates, staging, &meta)?;
        let took = steps.started.elapsed().as_secs();
        (steps.progress)(&format!("template {} is ready ({} s)", request.name, took));
        self.template(&request.name)
    }
}

fn chmod_x(path: &Path) -> Result<(), ManagerError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| ManagerError::Build(format!("cannot chmod {}: {e}", path.display())))
}

/// The qube's system: the private volume on the user's home, the user's session started
/// at boot (lingering, so the agent's user unit runs without a login), the serial console,
/// and no network.
fn configure(rootfs: &Path) -> Result<(), ManagerError> {
    write_file(
        &rootfs.join("etc/fstab"),
        "# Bulkhead qube: the template's root under a copy-on-write layer, the private volume\n\
         /dev/vda  /                ext4  rw,errors=remount-ro  0 1\n\
         /dev/vdb  /home/user       ext4  defaults,nofail,x-systemd.device-timeout=90s  0 2\n",
    )?;
    // The user's session (and so the agent) starts once /home/user is the private volume.
    // Under emulation the disk shows up tens of seconds into the boot; a disposable has no
    // such disk and masks the mount on its command line (`DISPOSABLE_CMDLINE`).
    write_file(
        &rootfs.join("etc/systemd/system/user@1000.service.d/bulkhead.conf"),
        "[Unit]\nAfter=home-user.mount\n",
    )?;
    // foot needs a UTF-8 locale; C.UTF-8 is always there.
    write_file(&rootfs.join("etc/locale.conf"), "LANG=C.UTF-8\n")?;
    write_file(&rootfs.join("etc/default/locale"), "LANG=C.UTF-8\n")?;
    // The journal on the serial console (the qube's console.log), so a qube that does not
    // reach dom0 shows why: the agent's own log is there too.
    write_file(
        &rootfs.join("etc/systemd/journald.conf.d/bulkhead-console.conf"),
        "[Journal]\nForwardToConsole=yes\nMaxLevelConsole=info\n",
    )?;
    write_file(&rootfs.join("etc/hostname"), "qube\n")?;
    write_file(&rootfs.join(format!("var/lib/systemd/linger/{USER}")), "")?;
    write_file(
        &rootfs.join("etc/apt/sources.list"),
        &format!("deb {DEFAULT_MIRROR} {RELEASE} main\n"),
    )?;
    // The boot marker the VMM timestamps (DESIGN.md, boot timing), as early as systemd can.
    write_file(
        &rootfs.join("etc/systemd/system/bulkhead-boot-marker.service"),
        "[Unit]\nDescription=Tell the Bulkhead VMM that init runs\nDefaultDependencies=no\n\
         [Service]\nType=oneshot\nExecStart=/bin/sh -c \"printf '\\\\173' | dd of=/dev/port bs=1 seek=1008 count=1 status=none\"\n\
         [Install]\nWantedBy=sysinit.target\n",
    )?;
    let wants = rootfs.join("etc/systemd/system/sysinit.target.wants");
    std::fs::create_dir_all(&wants)
        .map_err(|e| ManagerError::Build(format!("cannot create {}: {e}", wants.display())))?;
    let link = wants.join("bulkhead-boot-marker.service");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("../bulkhead-boot-marker.service", &link)
        .map_err(|e| ManagerError::Build(format!("cannot enable the boot marker: {e}")))?;
    Ok(())
}
