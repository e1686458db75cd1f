//! A whole desktop in processes: the compositor binary (headless), one real guest agent per
//! qube (host mode) and real Wayland clients (foot, wl-clipboard) in the qubes, driven only
//! through the control socket, as a user's input would.
//!
//! The agent binary is found beside the compositor's (`cargo test --workspace` or `cargo
//! build -p bulkhead-guest-agent` put it there), at `$BULKHEAD_AGENT_BIN`, or built on
//! first use; tests skip with a message when it or a client is missing.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bulkhead_compositor::control::{Request, Response, WindowInfo, send_requests};

/// How long anything may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The agent binary: `$BULKHEAD_AGENT_BIN`, or beside the compositor's; if it is not
/// there, it is built once with the cargo running these tests (into the same target
/// directory; cargo does not hold its build lock while tests run).
pub fn agent_bin() -> Option<PathBuf> {
    static AGENT: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    AGENT.get_or_init(find_or_build_agent).clone()
}

fn find_or_build_agent() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BULKHEAD_AGENT_BIN") {
        return Some(PathBuf::from(p));
    }
    let me = PathBuf::from(env!("CARGO_BIN_EXE_bulkhead-compositor"));
    let bin_dir = me.parent()?;
    let agent = bin_dir.join("bulkhead-guest-agent");
    if agent.exists() {
        return Some(agent);
    }
    let target_dir = bin_dir.parent()?;
    let profile = bin_dir.file_name()?.to_str()?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let log = target_dir.join("agent-build.log");
    let mut build = Command::new(cargo);
    build
        .args([
            "build",
            "-p",
            "bulkhead-guest-agent",
            "--bin",
            "bulkhead-guest-agent",
        ])
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).ok()?);
    if profile == "release" {
        build.arg("--release");
    }
    let mut child = build.spawn().ok()?;
    let deadline = Instant::now() + Duration::from_secs(30 * 60);
    loop {
        if let Some(status) = child.try_wait().ok()? {
            return (status.success() && agent.exists()).then_some(agent);
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        // Never wait on a lock held by whoever runs us.
        if Instant::now() > deadline || text.contains("Blocking waiting for file lock") {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Whether everything the session needs is there (and says what is not).
pub fn available(programs: &[&str]) -> bool {
    let mut ok = true;
    if agent_bin().is_none() {
        skip("the guest agent could not be built (cargo build -p bulkhead-guest-agent)");
        ok = false;
    }
    for p in programs {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {p}"))
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            skip(&format!("{p} is not installed"));
            ok = false;
        }
    }
    ok
}

/// A test that needs a program this machine lacks says why and passes, unless
/// `BULKHEAD_REQUIRE_TEST_TOOLS` is set (`scripts/run-tests`, which installs every
/// program, sets it): then a missing program fails the test instead of hiding it.
fn skip(why: &str) {
    assert!(
        std::env::var_os("BULKHEAD_REQUIRE_TEST_TOOLS").is_none(),
        "{why} (BULKHEAD_REQUIRE_TEST_TOOLS is set: every test program must be installed)"
    );
    #[allow(clippy::print_stderr, reason = "a skipped test says why")]
    {
        eprintln!("skipped: {why}");
    }
}

/// Kills its processes when dropped.
pub struct Session {
    pub dir: tempfile::TempDir,
    compositor: Child,
    agents: Vec<Child>,
    clients: Vec<Child>,
}

impl Session {
    /// A compositor with qubes `work` (blue) and `untrusted` (red), and their agents.
    pub fn start(extra_args: &[&str]) -> Session {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let root = dir.path().to_owned();
        let log = move |name: &str| std::fs::File::create(root.join(name)).unwrap();
        // `BH_LOG` overrides the compositor's and agents' log filter.
        let filter = std::env::var("BH_LOG").unwrap_or_else(|_| "info,smithay=warn".into());
        let compositor = Command::new(env!("CARGO_BIN_EXE_bulkhead-compositor"))
            .args([
                "--qube",
                "work:blue",
                "--qube",
                "untrusted:red",
                "--host-agents",
            ])
            .args(["--size", "1280x800"])
            .arg("--control-socket")
            .arg(dir.path().join("control.sock"))
            .arg("--qube-socket-dir")
            .arg(dir.path().join("qubes"))
            .args(extra_args)
            .env("RUST_LOG", &filter)
            .env("XKB_DEFAULT_LAYOUT", "us")
            .stderr(log("compositor.log"))
            .spawn()
            .expect("compositor");
        let mut s = Session {
            dir,
            compositor,
            agents: Vec::new(),
            clients: Vec::new(),
        };
        s.wait("the control socket", |s| {
            s.dir.path().join("control.sock").exists()
        });
        for q in ["work", "untrusted"] {
            let agent = Command::new(agent_bin().expect("agent"))
                .arg("--connect")
                .arg(s.dir.path().join("qubes").join(format!("qube-{q}.sock")))
                .arg("--wayland-display")
                .arg(s.display(q))
                .env("XDG_RUNTIME_DIR", s.dir.path())
                .env("RUST_LOG", &filter)
                .stderr(log(&format!("agent-{q}.log")))
                .spawn()
                .expect("agent");
            s.agents.push(agent);
        }
        s.wait("the agents' Wayland sockets", |s| {
            ["work", "untrusted"].iter().all(|q| s.display(q).exists())
        });
        s
    }

    /// The Wayland socket of qube `q`'s agent.
    pub fn display(&self, qube: &str) -> PathBuf {
        self.dir.path().join(format!("wl-{qube}"))
    }

    /// A client command inside qube `q`.
    pub fn command(&self, qube: &str, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("WAYLAND_DISPLAY", self.display(qube))
            .env("XDG_RUNTIME_DIR", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("SHELL", "/bin/sh")
            .env_remove("DISPLAY");
        c
    }

    /// Starts a client that lives until the session ends.
    pub fn spawn(&mut self, mut command: Command) {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("client");
        self.clients.push(child);
    }

    /// Keeps a child until the session ends.
    pub fn keep(&mut self, child: Child) {
        self.clients.push(child);
    }

    /// A terminal in qube `q`, started in directory `cwd`.
    pub fn foot(&mut self, qube: &str, cwd: &Path) {
        let mut c = self.command(qube, "foot");
        c.arg("--working-directory").arg(cwd);
        self.spawn(c);
    }

    /// Control requests, each answered `ok`.
    pub fn control(&self, requests: &[Request]) -> Vec<Response> {
        let answers =
            send_requests(&self.dir.path().join("control.sock"), requests).expect("control");
        for (r, a) in requests.iter().zip(&answers) {
            assert!(a.ok, "{r:?} failed: {a:?}");
        }
        answers
    }

    /// Every window, bottom to top.
    pub fn windows(&self) -> Vec<WindowInfo> {
        self.control(&[Request::ListWindows])[0]
            .windows
            .clone()
            .unwrap_or_default()
    }

    /// Waits until `done`, or fails with the logs.
    pub fn wait(&self, what: &str, done: impl Fn(&Session) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for a visible toplevel of `qube` that is not in `known`, and returns it.
    pub fn new_window(&self, qube: &str, known: &[u64]) -> WindowInfo {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(w) = self.windows().into_iter().find(|w| {
                w.qube == qube && w.visible && w.kind == "toplevel" && !known.contains(&w.id)
            }) {
                return w;
            }
            assert!(
                Instant::now() < deadline,
                "no new window of {qube}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Gives `window` the focus as a user would: a click where it is visible, or Super+Tab
    /// while it is covered. Returns when it has the focus or is gone.
    pub fn focus(&self, id: u64) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let windows = self.windows();
            match windows.iter().find(|w| w.id == id) {
                None => return,
                Some(w) if w.focused => return,
                Some(_) => {}
            }
            match self.try_uncovered_point(id) {
                Some((x, y)) => {
                    self.control(&[Request::Click { x, y, button: None }]);
                }
                None => self.chord(&[125, 15]),
            }
            assert!(
                Instant::now() < deadline,
                "cannot focus window {id}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A point of `window`'s content that no window above it covers.
    pub fn uncovered_point(&self, id: u64) -> (i32, i32) {
        self.try_uncovered_point(id)
            .unwrap_or_else(|| panic!("window {id} is covered everywhere: {:#?}", self.windows()))
    }

    /// A point of `window`'s content that no window above it covers, if any.
    pub fn try_uncovered_point(&self, id: u64) -> Option<(i32, i32)> {
        let windows = self.windows();
        let pos = windows.iter().position(|w| w.id == id)?;
        let c = windows[pos].geometry;
        let above: Vec<_> = windows[pos + 1..]
            .iter()
            .filter(|w| w.visible)
            .map(|w| w.frame)
            .collect();
        let step = |len: i32| (len / 8).max(1);
        for y in (c.y..c.y + c.h).step_by(step(c.h) as usize) {
            for x in (c.x..c.x + c.w).step_by(step(c.w) as usize) {
                let covered = above
                    .iter()
                    .any(|f| x >= f.x && x < f.x + f.w && y >= f.y && y < f.y + f.h);
                if !covered {
                    return Some((x, y));
                }
            }
        }
        None
    }

    /// Clicks `window` where it is visible (dom0 focuses and raises it), and waits for the
    /// focus.
    pub fn click(&self, id: u64) {
        let (x, y) = self.uncovered_point(id);
        self.control(&[Request::Click { x, y, button: None }]);
        self.wait("focus after a click", |s| {
            s.windows().iter().any(|w| w.id == id && w.focused)
        });
    }

    /// Presses and releases keys (evdev codes): all down in order, then up in reverse.
    pub fn chord(&self, keys: &[u32]) {
        let mut reqs: Vec<Request> = keys
            .iter()
            .map(|k| Request::Key {
                keycode: *k,
                pressed: true,
            })
            .collect();
        reqs.extend(keys.iter().rev().map(|k| Request::Key {
            keycode: *k,
            pressed: false,
        }));
        self.control(&reqs);
    }

    /// The compositor's and agents' logs.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for f in ["compositor.log", "agent-work.log", "agent-untrusted.log"] {
            let text = std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            out.push_str(&format!("== {f}\n"));
            for l in tail.iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for c in self
            .clients
            .iter_mut()
            .chain(self.agents.iter_mut())
            .chain(std::iter::once(&mut self.compositor))
        {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
