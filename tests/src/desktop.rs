//! The host desktop fixture (DESIGN.md, test tier 2).
//!
//! [`Desktop::start`] runs a headless `bulkhead-compositor` with the given qubes and one
//! `bulkhead-guest-agent` per qube, all as host processes in a private `XDG_RUNTIME_DIR`,
//! connected through the real shm-transport (memfd and eventfds handed over each qube's
//! socket). Real Wayland clients are started against an agent with [`Desktop::spawn`].
//! Everything is observed through the compositor's control socket, polled with a deadline
//! ([`Desktop::wait_for`]); nothing synchronises on a fixed sleep.
//!
//! Every process runs in its own process group, and dropping the fixture (also when a test
//! panics) kills each group and reaps it: clients first, then agents, then the compositor.
//! Logs and screenshots are kept in `<target>/test-artifacts/<test>/`.
//!
//! The compositor and agent binaries are not built by this crate: `cargo test --workspace`
//! (and so `scripts/run-tests`) builds them next to the test executables, where
//! [`binary`] finds them (or in `$BULKHEAD_BIN_DIR`). A missing binary fails the test
//! with a message saying how to build it; nothing is skipped.

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bulkhead_compositor::control::{QubeInfo, Request, Response, WindowInfo, send_requests};
use rustix::process::{Pid, Signal, kill_process_group};

use crate::screen::Screen;

/// How long [`Desktop::wait_for`] waits by default: generous, for debug builds on a
/// loaded 2-core CI machine. Tests never assert on time; this only bounds a hang.
pub const DEADLINE: Duration = Duration::from_secs(45);

/// The headless output's size.
pub const OUTPUT: (i32, i32) = (1024, 640);

/// Pause between two polls of the control socket.
const POLL: Duration = Duration::from_millis(50);

/// A qube of the fixture: its name and label, as `--qube NAME:LABEL` takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QubeSpec {
    /// The qube's name.
    pub name: &'static str,
    /// Its label.
    pub label: &'static str,
}

/// `work`, labelled blue.
pub const WORK: QubeSpec = QubeSpec {
    name: "work",
    label: "blue",
};
/// `untrusted`, labelled red.
pub const UNTRUSTED: QubeSpec = QubeSpec {
    name: "untrusted",
    label: "red",
};

/// The workspace's target directory, from the test executable's path
/// (`<target>/<profile>/deps/<test>-<hash>`).
pub fn target_dir() -> PathBuf {
    profile_dir()
        .parent()
        .map(Path::to_path_buf)
        .expect("the profile directory has a parent")
}

fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let deps = exe
        .parent()
        .expect("test executables live in <target>/<profile>/deps");
    let profile = if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent().expect("deps has a parent")
    } else {
        deps
    };
    profile.to_path_buf()
}

/// Path of one of the workspace's binaries (`bulkhead-compositor`, `bulkhead-guest-agent`):
/// in `$BULKHEAD_BIN_DIR` if set, else next to the test executable's profile directory.
///
/// # Panics
/// When it is not there, with the command that builds it.
pub fn binary(name: &str) -> PathBuf {
    let dir = std::env::var_os("BULKHEAD_BIN_DIR").map_or_else(profile_dir, PathBuf::from);
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} does not exist: build the binaries first with \
         `cargo build -p bulkhead-compositor -p bulkhead-guest-agent` (same profile and \
         target directory as the tests; `cargo test --workspace` and scripts/run-tests do it), \
         or point BULKHEAD_BIN_DIR at them",
        path.display()
    );
    path
}

/// The directory of a test's artifacts, `<target>/test-artifacts/<test>/`, emptied.
pub fn artifact_dir(test: &str) -> PathBuf {
    let dir = target_dir().join("test-artifacts").join(test);
    if dir.exists() {
        fs::remove_dir_all(&dir).expect("remove old artifacts");
    }
    fs::create_dir_all(&dir).expect("create the artifact directory");
    dir
}

/// A handle on a process started by [`Desktop::spawn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessId(usize);

/// What a process is, for the order in which the fixture stops them and for failures.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    Compositor,
    Agent(String),
    Client,
}

#[derive(Debug)]
struct Process {
    name: String,
    role: Role,
    log: PathBuf,
    child: Child,
    /// Killed or reaped on purpose: its exit is not a failure.
    stopped: bool,
}

impl Process {
    fn start(
        name: String,
        role: Role,
        mut command: Command,
        artifacts: &Path,
    ) -> std::io::Result<Process> {
        let log = artifacts.join(format!("{name}.log"));
        let out = File::create(&log)?;
        let err = out.try_clone()?;
        // Its own process group: killing the group also kills what it started (a
        // terminal's shell), and a ctrl-c on the test run does not race the fixture.
        command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = command.spawn()?;
        Ok(Process {
            name,
            role,
            log,
            child,
            stopped: false,
        })
    }

    fn kill(&mut self) {
        if !self.stopped {
            // The group's id is the child's pid (process_group(0)); it may be gone already.
            let _ = kill_process_group(Pid::from_child(&self.child), Signal::KILL);
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.stopped = true;
        }
    }

    /// The end of its log, for failure messages.
    fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

/// A headless compositor with one agent per qube, and the clients started against them.
#[derive(Debug)]
pub struct Desktop {
    runtime: tempfile::TempDir,
    artifacts: PathBuf,
    control: PathBuf,
    qubes: Vec<QubeSpec>,
    processes: Vec<Process>,
}

impl Desktop {
    /// Starts the compositor with `qubes` and one agent for each, and waits until the
    /// control socket answers and every agent's Wayland socket exists. `test` names the
    /// artifact directory.
    pub fn start(test: &str, qubes: &[QubeSpec]) -> Desktop {
        let compositor_bin = binary("bulkhead-compositor");
        let agent_bin = binary("bulkhead-guest-agent");
        let runtime = tempfile::Builder::new()
            .prefix("bulkhead-test-")
            .tempdir()
            .expect("a private runtime directory");
        fs::set_permissions(runtime.path(), fs::Permissions::from_mode(0o700))
            .expect("chmod 0700 the runtime directory");
        fs::create_dir(runtime.path().join("config")).expect("an empty config directory");
        let mut desktop = Desktop {
            artifacts: artifact_dir(test),
            control: runtime.path().join("control.sock"),
            runtime,
            qubes: qubes.to_vec(),
            processes: Vec::new(),
        };

        let mut command = desktop.command(&compositor_bin);
        command
            .args(["--backend", "headless", "--host-agents"])
            // Room for the tests' cascades, and fewer pixels for debug-built screenshots.
            .args(["--size", &format!("{}x{}", OUTPUT.0, OUTPUT.1)])
            .arg("--control-socket")
            .arg(&desktop.control)
            .arg("--qube-socket-dir")
            .arg(desktop.qube_socket_dir());
        for q in qubes {
            command.arg("--qube").arg(format!("{}:{}", q.name, q.label));
        }
        desktop.start_process("compositor".into(), Role::Compositor, command);
        desktop.wait_for("the control socket", |d| {
            d.try_request(&Request::Qubes).map(|_| ())
        });

        for q in qubes {
            let socket = desktop
                .qube_socket_dir()
                .join(format!("qube-{}.sock", q.name));
            let mut command = desktop.command(&agent_bin);
            command
                .arg("--connect")
                .arg(&socket)
                .arg("--wayland-display")
                .arg(desktop.wayland_socket(q.name));
            desktop.start_process(
                format!("agent-{}", q.name),
                Role::Agent(q.name.to_owned()),
                command,
            );
        }
        for q in qubes {
            let socket = desktop.wayland_socket(q.name);
            desktop.wait_for(&format!("{}'s Wayland socket", q.name), |_| {
                if socket.exists() {
                    Ok(())
                } else {
                    Err(format!("{} does not exist", socket.display()))
                }
            });
        }
        desktop
    }

    /// Where the qubes' dom0 sockets are.
    fn qube_socket_dir(&self) -> PathBuf {
        self.runtime.path().join("bulkhead")
    }

    /// The Wayland socket of `qube`'s agent (what its apps connect to).
    pub fn wayland_socket(&self, qube: &str) -> PathBuf {
        self.runtime.path().join(format!("wl-{qube}"))
    }

    /// Where this test's logs and screenshots go.
    pub fn artifacts(&self) -> &Path {
        &self.artifacts
    }

    /// The private `XDG_RUNTIME_DIR` every process of the fixture gets.
    pub fn runtime_dir(&self) -> &Path {
        self.runtime.path()
    }

    /// The compositor's control socket.
    pub fn control_socket(&self) -> &Path {
        &self.control
    }

    /// A command with the fixture's environment: the private runtime directory, an empty
    /// config directory (so the apps use their defaults), and no way to the session the
    /// tests run in.
    fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        command
            .env("XDG_RUNTIME_DIR", self.runtime.path())
            .env("XDG_CONFIG_HOME", self.runtime.path().join("config"))
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("WAYLAND_SOCKET")
            .env_remove("DISPLAY");
        if std::env::var_os("RUST_LOG").is_none() {
            command.env("RUST_LOG", "info");
        }
        command
    }

    fn start_process(&mut self, name: String, role: Role, command: Command) -> ProcessId {
        let program = command.get_program().to_string_lossy().into_owned();
        let process = Process::start(name, role, command, &self.artifacts).unwrap_or_else(|e| {
            panic!(
                "cannot run {program}: {e} (the tests need Debian's `weston` and `foot` \
                 packages; scripts/run-tests installs them)"
            )
        });
        self.processes.push(process);
        ProcessId(self.processes.len() - 1)
    }

    /// Starts `program args…` as an app of `qube` (its `WAYLAND_DISPLAY` is the qube's
    /// agent). Its output goes to `<artifacts>/<name>.log`.
    pub fn spawn(&mut self, qube: &str, name: &str, program: &str, args: &[&str]) -> ProcessId {
        self.spawn_with_env(qube, name, program, args, &[])
    }

    /// Like [`spawn`](Self::spawn), with extra environment variables.
    pub fn spawn_with_env(
        &mut self,
        qube: &str,
        name: &str,
        program: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> ProcessId {
        assert!(
            self.qubes.iter().any(|q| q.name == qube),
            "no qube {qube} in this fixture"
        );
        let mut command = self.command(Path::new(program));
        command
            .args(args)
            .env("WAYLAND_DISPLAY", self.wayland_socket(qube))
            .env("LC_ALL", "C.UTF-8")
            .envs(env.iter().copied());
        self.start_process(name.to_owned(), Role::Client, command)
    }

    /// Kills a process (and its process group) and reaps it.
    pub fn kill(&mut self, id: ProcessId) {
        self.processes[id.0].kill();
    }

    /// Kills `qube`'s agent with SIGKILL, as a crashing qube would go.
    pub fn kill_agent(&mut self, qube: &str) {
        let process = self
            .processes
            .iter_mut()
            .find(|p| p.role == Role::Agent(qube.to_owned()))
            .unwrap_or_else(|| panic!("no agent of a qube {qube}"));
        process.kill();
    }

    /// Waits until the process exits by itself (within the deadline) and returns whether it
    /// exited successfully.
    pub fn wait_exit(&mut self, id: ProcessId) -> bool {
        let end = Instant::now() + DEADLINE;
        loop {
            let process = &mut self.processes[id.0];
            if let Some(status) = process.child.try_wait().expect("try_wait") {
                process.stopped = true;
                return status.success();
            }
            assert!(
                Instant::now() < end,
                "{} did not exit within {DEADLINE:?}",
                process.name
            );
            std::thread::sleep(POLL);
        }
    }

    /// Sends one request and returns its answer, or why there is none.
    pub fn try_request(&self, request: &Request) -> Result<Response, String> {
        let mut answers = send_requests(&self.control, std::slice::from_ref(request))
            .map_err(|e| format!("control socket {}: {e}", self.control.display()))?;
        let answer = answers.pop().ok_or("no answer")?;
        if answer.ok {
            Ok(answer)
        } else {
            Err(format!("{request:?} failed: {:?}", answer.error))
        }
    }

    /// Sends one request that must succeed.
    pub fn request(&self, request: &Request) -> Response {
        self.try_request(request)
            .unwrap_or_else(|e| panic!("{e}\n{}", self.diagnostics()))
    }

    /// Every window, bottom to top.
    pub fn windows(&self) -> Vec<WindowInfo> {
        self.request(&Request::ListWindows)
            .windows
            .expect("list-windows answers with windows")
    }

    /// The qubes dom0 knows.
    pub fn qubes(&self) -> Vec<QubeInfo> {
        self.request(&Request::Qubes)
            .qubes
            .expect("qubes answers with qubes")
    }

    /// Takes a screenshot, keeps it as `<artifacts>/<name>.png` (replacing an older one of
    /// that name, so polling with it keeps the last) and decodes it.
    pub fn screenshot(&self, name: &str) -> Screen {
        let path = self.artifacts.join(format!("{name}.png"));
        self.request(&Request::Screenshot { path: path.clone() });
        Screen::load(&path).unwrap_or_else(|e| panic!("screenshot {}: {e}", path.display()))
    }

    /// Polls `check` until it returns `Ok` (its value is returned) or [`DEADLINE`] passes
    /// (the test fails with `what`, the last error and the end of every log). Fails at once
    /// when the compositor or an agent that was not killed on purpose has exited.
    pub fn wait_for<T>(
        &mut self,
        what: &str,
        mut check: impl FnMut(&mut Desktop) -> Result<T, String>,
    ) -> T {
        let end = Instant::now() + DEADLINE;
        loop {
            let last = match check(self) {
                Ok(value) => return value,
                Err(e) => e,
            };
            if let Some(dead) = self.dead_service() {
                panic!(
                    "while waiting for {what}: {dead} exited\nlast check: {last}\n{}",
                    self.diagnostics()
                );
            }
            if Instant::now() >= end {
                panic!(
                    "timed out after {DEADLINE:?} waiting for {what}\nlast check: {last}\n{}",
                    self.diagnostics()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits until list-windows satisfies `check` and returns its value.
    pub fn wait_for_windows<T>(
        &mut self,
        what: &str,
        mut check: impl FnMut(&[WindowInfo]) -> Result<T, String>,
    ) -> T {
        self.wait_for(what, |d| {
            let windows = d
                .try_request(&Request::ListWindows)?
                .windows
                .ok_or("no windows in the answer")?;
            check(&windows)
        })
    }

    /// Waits for exactly one visible toplevel of `qube` titled `title` and returns it.
    pub fn wait_for_window(&mut self, qube: &str, title: &str) -> WindowInfo {
        self.wait_for_windows(&format!("{qube}'s window {title:?}"), |windows| {
            let found: Vec<&WindowInfo> = windows
                .iter()
                .filter(|w| w.qube == qube && w.title == title && w.visible)
                .collect();
            match found.as_slice() {
                [one] => Ok((*one).clone()),
                _ => Err(format!("{} matching windows in {windows:#?}", found.len())),
            }
        })
    }

    /// The compositor or an agent that exited without being killed on purpose.
    fn dead_service(&mut self) -> Option<String> {
        self.processes
            .iter_mut()
            .filter(|p| p.role != Role::Client && !p.stopped)
            .find_map(|p| match p.child.try_wait() {
                Ok(Some(status)) => Some(format!("{} ({status})", p.name)),
                _ => None,
            })
    }

    /// Where the artifacts are and the end of every process's log.
    pub fn diagnostics(&self) -> String {
        let mut out = format!("artifacts: {}\n", self.artifacts.display());
        for p in &self.processes {
            out.push_str(&format!(
                "--- {} ({}):\n{}\n",
                p.name,
                p.log.display(),
                p.log_tail()
            ));
        }
        out
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        // Clients first (they would otherwise see their compositor vanish), then the
        // agents, then the compositor: the reverse of the start order.
        while let Some(mut process) = self.processes.pop() {
            process.kill();
        }
    }
}
