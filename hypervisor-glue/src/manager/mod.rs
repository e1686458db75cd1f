//! The qube manager behind the `bulkhead` CLI: qubes, their state on disk, starting and
//! stopping their VMMs, running programs in them, and templates.
//!
//! ```text
//! <state>/lock                      flock: one changing command at a time
//! <state>/qubes/<name>/qube.json    the qube's configuration (atomic writes)
//!                      private.img  its private volume, /home (ext4, sparse)
//!                      root-cow.img copy-on-write overlay of the template (the VMM's)
//!                      running.json pid + start time of its VMM while it runs
//!                      vmm.log, console.log
//! <state>/templates/<name>/…        see [`template`]
//! ```
//!
//! Rules: every value is checked before anything changes; a new qube is put together in a
//! hidden directory and renamed into place; a removed one is renamed away before it is
//! deleted; a start that fails half way stops what it started and takes the qube off the
//! compositor again. A `running.json` whose process is gone (it crashed, the guest powered
//! off, the machine rebooted) is noticed by the next command, which cleans up after it.
//!
//! Order on start: the manager declares the qube to the compositor (`add-qube` on its
//! control socket: dom0 learns name and label from here, never from the guest), then starts
//! the VMM with `--gui-socket` set to the socket the compositor opened for that qube.

pub mod build;
mod disposable;
pub mod dom0;
mod error;
pub mod process;
pub mod qube;
pub mod store;
pub mod template;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use self::dom0::{Dom0, Dom0Error};
pub use self::error::ManagerError;
use self::qube::{Mode, QubeConfig, Running};
use self::store::{Lock, StoreError};
use self::template::Template;

/// The kernel command line of a qube (`systemd.hostname` is added per qube).
pub const QUBE_CMDLINE: &str = "console=ttyS0 root=/dev/vda rw reboot=k panic=-1 quiet";
/// Added to a disposable's command line: it has no private volume (`/dev/vdb`), so the
/// template's mount of it (`build.rs`, `/home/user`) must not wait for that disk to appear.
pub const DISPOSABLE_CMDLINE: &str = "systemd.mask=home-user.mount";

/// The VMM's own wait for the guest after the power button (`--stop-grace-secs`): longer
/// than any `qube stop --grace`, so the manager's grace decides when a qube is killed (a slow
/// guest, e.g. under emulation, is not cut short by the VMM's 10 s default).
pub const VMM_STOP_GRACE_SECS: u64 = 3600;

/// How long a command waits for another one that holds the state lock.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// How the manager runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The state directory.
    pub state_dir: PathBuf,
    /// The compositor's control socket (`None`: unknown; commands that need the
    /// compositor say so).
    pub control_socket: Option<PathBuf>,
    /// VMs (the real thing) or host agents (development and tests, isolates nothing).
    pub mode: Mode,
    /// The `bulkhead-vmm` binary.
    pub vmm: PathBuf,
    /// The `bulkhead-guest-agent` binary (host mode).
    pub agent: PathBuf,
}

/// `$XDG_DATA_HOME/bulkhead`, else `~/.local/share/bulkhead`.
pub fn default_state_dir() -> Option<PathBuf> {
    let nonempty = |v: &str| std::env::var_os(v).filter(|d| !d.is_empty());
    nonempty("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| nonempty("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .map(|d| d.join("bulkhead"))
}

/// A sibling of the running executable (`bulkhead-vmm` beside `bulkhead`), else the name
/// alone (found on `$PATH`).
pub fn sibling_binary(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(name)))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What `create` is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    /// The name.
    pub name: String,
    /// The label.
    pub label: String,
    /// The template.
    pub template: String,
    /// Memory in MiB.
    pub mem_mib: u64,
    /// vCPUs.
    pub vcpus: u8,
    /// Private volume in MiB.
    pub private_mib: u64,
}

/// One qube as `list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QubeStatus {
    /// Its configuration.
    pub config: QubeConfig,
    /// Its running record, if it runs.
    pub running: Option<Running>,
}

/// The qube manager.
#[derive(Debug)]
pub struct Manager {
    settings: Settings,
    dom0: Dom0,
    notes: Vec<String>,
}

impl Manager {
    /// A manager over `settings.state_dir` (created if missing).
    pub fn new(settings: Settings) -> Result<Manager, ManagerError> {
        for dir in [
            settings.state_dir.clone(),
            settings.state_dir.join("qubes"),
            settings.state_dir.join("templates"),
        ] {
            std::fs::create_dir_all(&dir).map_err(|source| StoreError::Io {
                what: "cannot create",
                path: dir.clone(),
                source,
            })?;
        }
        Ok(Manager {
            dom0: Dom0::new(settings.control_socket.clone()),
            settings,
            notes: Vec::new(),
        })
    }

    /// Things the user should know that are not errors (cleaned-up stale state, …); taken
    /// out by the caller to print.
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn qubes_dir(&self) -> PathBuf {
        self.settings.state_dir.join("qubes")
    }

    fn templates_dir(&self) -> PathBuf {
        self.settings.state_dir.join("templates")
    }

    /// A qube's directory.
    pub fn qube_dir(&self, name: &str) -> PathBuf {
        self.qubes_dir().join(name)
    }

    fn lock(&self) -> Result<Lock, ManagerError> {
        Ok(Lock::take(&self.settings.state_dir, LOCK_WAIT)?)
    }

    fn qube_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.qubes_dir())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        names
    }

    /// A qube's configuration, checked.
    pub fn config(&self, name: &str) -> Result<QubeConfig, ManagerError> {
        let unknown = || ManagerError::UnknownQube {
            name: name.to_owned(),
            known: self.qube_names(),
        };
        // Never build a path from a name that could climb out of the state directory.
        if qube::check_name(name).is_err() {
            return Err(unknown());
        }
        let path = self.qube_dir(name).join("qube.json");
        let config: QubeConfig = store::read_json(&path)?.ok_or_else(unknown)?;
        config.check().map_err(|e| ManagerError::BadState {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if config.name != name {
            return Err(ManagerError::BadState {
                path,
                reason: format!(
                    "it names qube {:?}, but lives in {name}'s directory",
                    config.name
                ),
            });
        }
        Ok(config)
    }

    /// A template, complete.
    pub fn template(&self, name: &str) -> Result<Template, ManagerError> {
        let known = || {
            template::list(&self.templates_dir())
                .unwrap_or_default()
                .into_iter()
                .map(|t| t.meta.name)
                .collect()
        };
        if qube::check_name(name).is_err() {
            return Err(ManagerError::UnknownTemplate {
                name: name.to_owned(),
                known: known(),
            });
        }
        let t = template::load(&self.templates_dir().join(name))?.ok_or_else(|| {
            ManagerError::UnknownTemplate {
                name: name.to_owned(),
                known: known(),
            }
        })?;
        if let Some(missing) = t.missing_file() {
            return Err(ManagerError::IncompleteTemplate {
                name: name.to_owned(),
                missing,
            });
        }
        Ok(t)
    }

    /// Every template.
    pub fn templates(&self) -> Result<Vec<Template>, ManagerError> {
        Ok(template::list(&self.templates_dir())?)
    }

    /// The running record of `config`'s qube if its process still runs. A record whose
    /// process is gone is cleaned up (with a note) when `lock` is held.
    fn running(
        &mut self,
        config: &QubeConfig,
        lock: Option<&Lock>,
    ) -> Result<Option<Running>, ManagerError> {
        let path = self.qube_dir(&config.name).join("running.json");
        let Some(running) = store::read_json::<Running>(&path)? else {
            return Ok(None);
        };
        if running.process.is_alive() {
            return Ok(Some(running));
        }
        if lock.is_some() {
            self.notes.push(format!(
                "qube {} had stopped by itself (its process {} is gone); cleaned up after it (see {})",
                config.name,
                running.process.pid,
                self.log_of(config, running.mode).display()
            ));
            self.cleanup_stopped(config)?;
        }
        Ok(None)
    }

    fn log_of(&self, config: &QubeConfig, mode: Mode) -> PathBuf {
        let dir = self.qube_dir(&config.name);
        match mode {
            Mode::Vm => dir.join("console.log"),
            Mode::Host => dir.join("vmm.log"),
        }
    }

    /// After the qube's process is gone: forget the running record, take the qube off the
    /// compositor, and delete a disposable with everything it wrote.
    fn cleanup_stopped(&mut self, config: &QubeConfig) -> Result<(), ManagerError> {
        match self.dom0.remove_qube(&config.name) {
            Ok(()) | Err(Dom0Error::Refused(_)) => {}
            Err(e) => self.notes.push(format!(
                "could not take qube {} off the compositor: {e}",
                config.name
            )),
        }
        let dir = self.qube_dir(&config.name);
        if config.disposable {
            self.delete_qube_dir(&config.name)?;
        } else {
            match std::fs::remove_file(dir.join("running.json")) {
                Ok(()) => store::sync_dir(&dir)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(StoreError::Io {
                        what: "cannot remove",
                        path: dir.join("running.json"),
                        source,
                    }
                    .into());
                }
            }
        }
        Ok(())
    }

    /// Renames the qube's directory away (atomic: the name is free at once), then deletes it.
    fn delete_qube_dir(&self, name: &str) -> Result<(), ManagerError> {
        let dir = self.qube_dir(name);
        let trash = self
            .qubes_dir()
            .join(format!(".removed-{name}-{}", std::process::id()));
        std::fs::rename(&dir, &trash).map_err(|source| StoreError::Io {
            what: "cannot remove",
            path: dir.clone(),
            source,
        })?;
        store::sync_dir(&self.qubes_dir())?;
        std::fs::remove_dir_all(&trash).map_err(|source| StoreError::Io {
            what: "cannot delete",
            path: trash,
            source,
        })?;
        Ok(())
    }

    /// Every qube, with whether it runs (stale records are cleaned up when no other command
    /// holds the lock).
    pub fn list(&mut self) -> Result<Vec<QubeStatus>, ManagerError> {
        let lock = Lock::take(&self.settings.state_dir, Duration::ZERO).ok();
        let mut out = Vec::new();
        for name in self.qube_names() {
            let config = match self.config(&name) {
                Ok(c) => c,
                Err(e) => {
                    self.notes.push(format!("skipped {name}: {e}"));
                    continue;
                }
            };
            let running = self.running(&config, lock.as_ref())?;
            out.push(QubeStatus { config, running });
        }
        Ok(out)
    }

    /// `qube create`.
    pub fn create(&mut self, request: &CreateRequest) -> Result<QubeConfig, ManagerError> {
        qube::check_name(&request.name)?;
        if qube::is_reserved(&request.name) {
            return Err(ManagerError::ReservedName(request.name.clone()));
        }
        let config = QubeConfig {
            name: request.name.clone(),
            label: request.label.clone(),
            template: request.template.clone(),
            mem_mib: request.mem_mib,
            vcpus: request.vcpus,
            private_mib: request.private_mib,
            disposable: false,
            created_unix: now_unix(),
        };
        config.check()?;
        let _lock = self.lock()?;
        if self.qube_dir(&config.name).exists() {
            return Err(ManagerError::NameTaken(config.name));
        }
        if self.settings.mode == Mode::Vm {
            self.template(&config.template)?;
        }
        self.put_in_place(&config)?;
        Ok(config)
    }

    /// Puts a new qube's directory together in a hidden place and renames it into place;
    /// on any failure nothing is left.
    fn put_in_place(&self, config: &QubeConfig) -> Result<(), ManagerError> {
        let staging = self
            .qubes_dir()
            .join(format!(".new-{}-{}", config.name, std::process::id()));
        let result = (|| {
            std::fs::create_dir(&staging).map_err(|source| StoreError::Io {
                what: "cannot create",
                path: staging.clone(),
                source,
            })?;
            if !config.disposable {
                make_private_volume(&staging.join("private.img"), config.private_mib)?;
            }
            store::write_json(&staging.join("qube.json"), config)?;
            let dir = self.qube_dir(&config.name);
            std::fs::rename(&staging, &dir).map_err(|source| StoreError::Io {
                what: "cannot create",
                path: dir,
                source,
            })?;
            store::sync_dir(&self.qubes_dir())?;
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&staging);
        }
        result
    }

    /// `qube start`: starts it and waits until its agent is connected.
    pub fn start(&mut self, name: &str, timeout: Duration) -> Result<Running, ManagerError> {
        let (config, running, child) = {
            let lock = self.lock()?;
            let config = self.config(name)?;
            if let Some(r) = self.running(&config, Some(&lock))? {
                return Err(ManagerError::AlreadyRunning {
                    name: name.to_owned(),
                    pid: r.process.pid,
                });
            }
            let (running, child) = self.launch(&config)?;
            (config, running, child)
        };
        self.wait_connected(&config, &running, child, timeout)?;
        Ok(running)
    }

    /// Declares the qube to the compositor and starts its process; on failure undoes both.
    fn launch(&mut self, config: &QubeConfig) -> Result<(Running, Child), ManagerError> {
        let template = match self.settings.mode {
            Mode::Vm => Some(self.template(&config.template)?),
            Mode::Host => None,
        };
        let socket = match self.dom0.add_qube(&config.name, &config.label) {
            Ok(s) => s,
            Err(Dom0Error::Refused(msg)) if msg.contains("already knows") => {
                // Left over from a run that ended without the manager noticing.
                self.dom0.remove_qube(&config.name)?;
                self.dom0.add_qube(&config.name, &config.label)?
            }
            Err(e) => return Err(e.into()),
        };
        let dir = self.qube_dir(&config.name);
        let (program, args) = match &template {
            Some(t) => (
                self.settings.vmm.clone(),
                vmm_args(config, t, &socket, &dir),
            ),
            None => (self.settings.agent.clone(), agent_args(config, &socket)),
        };
        let mut command = Command::new(&program);
        command.args(&args);
        if std::env::var_os("RUST_LOG").is_none() {
            command.env("RUST_LOG", "info");
        }
        let log = dir.join("vmm.log");
        let (mut child, record) = match process::spawn_detached(command, &log) {
            Ok(started) => started,
            Err(source) => {
                let _ = self.dom0.remove_qube(&config.name);
                return Err(ManagerError::Spawn { program, source });
            }
        };
        let running = Running {
            process: record,
            mode: self.settings.mode,
            socket,
            started_unix: now_unix(),
        };
        if let Err(e) = store::write_json(&dir.join("running.json"), &running) {
            running.process.signal(libc::SIGKILL, true);
            running
                .process
                .wait_gone(Duration::from_secs(5), Some(&mut child));
            let _ = self.dom0.remove_qube(&config.name);
            return Err(e.into());
        }
        Ok((running, child))
    }

    /// Waits until the compositor reports the qube's agent connected. If the process ends
    /// or the time is up, the qube is stopped and cleaned up, and the error says why.
    fn wait_connected(
        &mut self,
        config: &QubeConfig,
        running: &Running,
        mut child: Child,
        timeout: Duration,
    ) -> Result<(), ManagerError> {
        let end = Instant::now() + timeout;
        loop {
            let _ = child.try_wait();
            if !running.process.is_alive() {
                let _lock = self.lock();
                let error = self.start_failed(config, running.mode);
                self.cleanup_stopped(config)?;
                return Err(error);
            }
            match self.dom0.qube(&config.name) {
                Ok(Some(q)) if q.connected => return Ok(()),
                Ok(Some(_)) => {}
                Ok(None) => {
                    self.stop_process(config, running, Duration::ZERO, Some(&mut child))?;
                    return Err(ManagerError::UnknownToDom0(config.name.clone()));
                }
                Err(e) => {
                    self.stop_process(config, running, Duration::ZERO, Some(&mut child))?;
                    return Err(e.into());
                }
            }
            if Instant::now() >= end {
                self.stop_process(config, running, Duration::ZERO, Some(&mut child))?;
                return Err(ManagerError::BootTimeout {
                    name: config.name.clone(),
                    secs: timeout.as_secs(),
                    log: self.log_of(config, running.mode),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The error for a qube whose process ended while it started: the end of its VMM log
    /// and, for a VM, of its serial console (what the guest said before it stopped).
    fn start_failed(&self, config: &QubeConfig, mode: Mode) -> ManagerError {
        let log = self.qube_dir(&config.name).join("vmm.log");
        let tail = process::log_tail(&log, 12);
        let console = process::log_tail(&self.log_of(config, mode), 8);
        ManagerError::StartFailed {
            name: config.name.clone(),
            log,
            tail: if mode == Mode::Vm && !console.is_empty() {
                format!("{tail}\n(console:)\n{console}")
            } else {
                tail
            },
        }
    }

    /// Ends the qube's process: SIGTERM and up to `grace` to go (zero: SIGKILL at once),
    /// then SIGKILL; then cleans up. Host agents are signalled with their process group
    /// (the programs they started go too).
    fn stop_process(
        &mut self,
        config: &QubeConfig,
        running: &Running,
        grace: Duration,
        mut child: Option<&mut Child>,
    ) -> Result<(), ManagerError> {
        let group = running.mode == Mode::Host;
        let p = &running.process;
        let mut gone = false;
        if !grace.is_zero() {
            p.signal(libc::SIGTERM, group);
            gone = p.wait_gone(grace, child.as_deref_mut());
            if !gone {
                self.notes.push(format!(
                    "qube {} did not stop within {} s; killed it",
                    config.name,
                    grace.as_secs()
                ));
            }
        }
        if !gone {
            p.signal(libc::SIGKILL, group);
            if !p.wait_gone(Duration::from_secs(10), child) {
                return Err(ManagerError::WontDie {
                    name: config.name.clone(),
                    pid: p.pid,
                });
            }
        }
        if group {
            // What the agent started, if it outlived it.
            p.kill_group();
        }
        self.cleanup_stopped(config)
    }

    /// `qube stop` (orderly: `grace` to go after SIGTERM, then SIGKILL) and `qube kill`
    /// (`grace` zero: SIGKILL at once).
    pub fn stop(&mut self, name: &str, grace: Duration) -> Result<(), ManagerError> {
        let lock = self.lock()?;
        let config = self.config(name)?;
        let running = self
            .running(&config, Some(&lock))?
            .ok_or_else(|| ManagerError::NotRunning(name.to_owned()))?;
        self.stop_process(&config, &running, grace, None)
    }

    /// `qube remove`: refuses a running qube.
    pub fn remove(&mut self, name: &str) -> Result<(), ManagerError> {
        let lock = self.lock()?;
        let config = self.config(name)?;
        if self.running(&config, Some(&lock))?.is_some() {
            return Err(ManagerError::StillRunning(name.to_owned()));
        }
        if config.disposable && !self.qube_dir(name).exists() {
            // Cleaning up its stale record already took it.
            return Ok(());
        }
        self.delete_qube_dir(name)
    }

    /// `run QUBE -- COMMAND`: starts the qube if needed, then the program in it.
    pub fn run(
        &mut self,
        name: &str,
        argv: &[String],
        timeout: Duration,
    ) -> Result<(), ManagerError> {
        check_argv(argv)?;
        let started = {
            let lock = self.lock()?;
            let config = self.config(name)?;
            match self.running(&config, Some(&lock))? {
                Some(_) => None,
                None => Some((self.launch(&config)?, config)),
            }
        };
        if let Some(((running, child), config)) = started {
            self.notes.push(format!("started qube {name}"));
            self.wait_connected(&config, &running, child, timeout)?;
        } else {
            match self.dom0.qube(name)? {
                Some(_) => {}
                None => return Err(ManagerError::UnknownToDom0(name.to_owned())),
            }
            self.wait_agent(name, timeout)?;
        }
        self.dom0.run(name, argv)?;
        Ok(())
    }

    /// Waits for a running qube's agent (it may be booting after another `start`).
    fn wait_agent(&mut self, name: &str, timeout: Duration) -> Result<(), ManagerError> {
        let end = Instant::now() + timeout;
        loop {
            if self.dom0.qube(name)?.is_some_and(|q| q.connected) {
                return Ok(());
            }
            if Instant::now() >= end {
                let config = self.config(name)?;
                return Err(ManagerError::BootTimeout {
                    name: name.to_owned(),
                    secs: timeout.as_secs(),
                    log: self.log_of(&config, self.settings.mode),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The protocol's rules for a `Launch` command line, checked before anything starts.
fn check_argv(argv: &[String]) -> Result<(), ManagerError> {
    bulkhead_protocol::Dom0Message::Launch {
        launch: 0,
        argv: argv.to_vec(),
    }
    .validate()
    .map_err(|reason| ManagerError::BadCommand(reason.to_string()))
}

/// A sparse ext4 image of `mib` MiB, its root directory owned by the qube's user (uid
/// 1000, as the template makes it).
fn make_private_volume(path: &Path, mib: u64) -> Result<(), ManagerError> {
    let file = std::fs::File::create(path).map_err(|source| StoreError::Io {
        what: "cannot create",
        path: path.to_owned(),
        source,
    })?;
    file.set_len(mib << 20).map_err(|source| StoreError::Io {
        what: "cannot size",
        path: path.to_owned(),
        source,
    })?;
    drop(file);
    let out = Command::new("mkfs.ext4")
        .args(["-q", "-F", "-L", "private", "-E", "root_owner=1000:1000"])
        .arg(path)
        .output()
        .map_err(|e| {
            ManagerError::Build(format!(
                "cannot run mkfs.ext4 to format the private volume: {e}; install e2fsprogs"
            ))
        })?;
    if !out.status.success() {
        return Err(ManagerError::Build(format!(
            "mkfs.ext4 failed on {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// `bulkhead-vmm`'s arguments for a qube on `template`, connecting to `socket`.
pub fn vmm_args(
    config: &QubeConfig,
    template: &Template,
    socket: &Path,
    dir: &Path,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut arg = |a: &str| args.push(a.into());
    arg("--kernel");
    arg(&template.kernel().to_string_lossy());
    arg("--initramfs");
    arg(&template.initrd().to_string_lossy());
    arg("--cmdline");
    if config.disposable {
        arg(&format!(
            "{QUBE_CMDLINE} systemd.hostname={} {DISPOSABLE_CMDLINE}",
            config.name
        ));
    } else {
        arg(&format!("{QUBE_CMDLINE} systemd.hostname={}", config.name));
    }
    arg("--vcpus");
    arg(&config.vcpus.to_string());
    arg("--mem-mib");
    arg(&config.mem_mib.to_string());
    arg("--console");
    arg(&dir.join("console.log").to_string_lossy());
    arg("--stop-grace-secs");
    arg(&VMM_STOP_GRACE_SECS.to_string());
    arg("--gui-socket");
    arg(&socket.to_string_lossy());
    arg("--disk");
    if config.disposable {
        // An unnamed overlay that vanishes with the VMM: the template is never written, and
        // nothing the disposable wrote survives it.
        arg(&format!(
            "{},disposable={}",
            template.root().display(),
            dir.display()
        ));
    } else {
        arg(&format!(
            "{},cow={}",
            template.root().display(),
            dir.join("root-cow.img").display()
        ));
        arg("--disk");
        arg(&dir.join("private.img").to_string_lossy());
    }
    args
}

/// `bulkhead-guest-agent`'s arguments in host mode.
pub fn agent_args(config: &QubeConfig, socket: &Path) -> Vec<OsString> {
    vec![
        "--connect".into(),
        socket.into(),
        "--wayland-display".into(),
        format!("bulkhead-{}", config.name).into(),
    ]
}

#[cfg(test)]
mod tests;
