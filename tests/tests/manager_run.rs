//! `bulkhead run` end to end in host mode (DESIGN.md, test tier 2): the qube manager declares
//! a qube to a real headless compositor (add-qube), starts its agent as a host process
//! against the socket the compositor opened, and asks the compositor to run
//! weston-simple-shm in it (run → Launch → the agent spawns it). The window must appear in
//! the qube's frame with the label the manager gave. Then: a second program in the running
//! qube, a program the qube does not have (`run` fails with dom0's wording of the agent's
//! error number), stop (windows, socket and agent gone), and a disposable qube that goes with
//! everything it had when its program's only window closes, or at once when its program
//! cannot start.
//!
//! Needs the `bulkhead` binary beside the compositor's (`cargo build -p
//! bulkhead-hypervisor-glue`; `cargo test --workspace` builds it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use bulkhead_compositor::control::Request;
use bulkhead_tests::desktop::{DEADLINE, Desktop, binary};
use bulkhead_tests::screen::{BLUE, RED, check_frame};

/// `bulkhead` with the fixture's compositor, a private state directory and host agents.
struct Bulkhead {
    state: tempfile::TempDir,
    control: PathBuf,
    runtime: PathBuf,
    artifacts: PathBuf,
}

impl Bulkhead {
    fn new(desktop: &Desktop) -> Bulkhead {
        Bulkhead {
            state: tempfile::tempdir().unwrap(),
            control: desktop.control_socket().to_owned(),
            runtime: desktop.runtime_dir().to_owned(),
            artifacts: desktop.artifacts().to_owned(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(binary("bulkhead"));
        c.arg("--host-agents")
            .arg("--state-dir")
            .arg(self.state.path())
            .arg("--control-socket")
            .arg(&self.control)
            .args(args)
            .env("XDG_RUNTIME_DIR", &self.runtime)
            .env("XDG_CONFIG_HOME", self.runtime.join("config"))
            .env("LC_ALL", "C.UTF-8")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DISPLAY")
            .stdin(Stdio::null());
        c
    }

    /// Runs a command to its end and returns its output; it must succeed.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "bulkhead {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn output(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run bulkhead")
    }

    fn qube_dir(&self, name: &str) -> PathBuf {
        self.state.path().join("qubes").join(name)
    }

    fn agent_log(&self, name: &str) -> String {
        std::fs::read_to_string(self.qube_dir(name).join("vmm.log")).unwrap_or_default()
    }
}

impl Drop for Bulkhead {
    /// Whatever a failing test left running: kill every qube's process group.
    fn drop(&mut self) {
        let _ = std::fs::write(
            self.artifacts.join("state-dir.txt"),
            self.state.path().to_string_lossy().as_bytes(),
        );
        let Ok(qubes) = std::fs::read_dir(self.state.path().join("qubes")) else {
            return;
        };
        for q in qubes.flatten() {
            let Ok(text) = std::fs::read_to_string(q.path().join("running.json")) else {
                continue;
            };
            let Ok(running) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            if let Some(pid) = running["process"]["pid"]
                .as_i64()
                .and_then(|p| i32::try_from(p).ok())
            {
                if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
                }
            }
        }
    }
}

fn running_pid(dir: &Path) -> i32 {
    let text = std::fs::read_to_string(dir.join("running.json")).expect("running.json");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    i32::try_from(v["process"]["pid"].as_i64().unwrap()).unwrap()
}

fn alive(pid: i32) -> bool {
    // A zombie is not alive: its parent (the bulkhead that started it) has exited, so init
    // reaps it, but look at its state to be sure.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit(')')
                .next()
                .map(|r| !r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

#[test]
fn bulkhead_run_starts_the_qube_and_its_program() {
    let mut desktop = Desktop::start("manager-run", &[]);
    let bulkhead = Bulkhead::new(&desktop);
    assert!(
        desktop.qubes().is_empty(),
        "the compositor starts knowing no qube"
    );

    let out = bulkhead.ok(&[
        "qube",
        "create",
        "work",
        "--label",
        "blue",
        "--private",
        "64",
    ]);
    assert!(out.starts_with("created qube work (blue"), "{out}");
    // Bad arguments are refused with what to do, and change nothing.
    let bad = bulkhead.output(&["qube", "create", "work", "--label", "red"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("a qube named work exists already"));
    let bad = bulkhead.output(&["run", "mail", "--", "weston-simple-shm"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no qube named mail (qubes: work)"));
    assert!(desktop.qubes().is_empty());

    // run starts the stopped qube, then the program in it.
    let out = bulkhead.ok(&["run", "work", "--", "weston-simple-shm"]);
    assert_eq!(out, "started weston-simple-shm in qube work\n");
    let shm = desktop.wait_for_window("work", "simple-shm");
    assert_eq!(
        (shm.label.as_str(), shm.app_id.as_str()),
        ("blue", "org.freedesktop.weston.simple-shm")
    );
    desktop.wait_for("simple-shm in work's blue frame", |d| {
        let windows = d.windows();
        check_frame(&d.screenshot("work"), &windows, shm.id, BLUE)
    });
    let qubes = desktop.qubes();
    assert_eq!(qubes.len(), 1);
    assert!(qubes[0].connected && qubes[0].label == "blue");
    let agent = running_pid(&bulkhead.qube_dir("work"));
    assert!(
        bulkhead
            .agent_log("work")
            .contains("started a program for dom0")
    );
    let list = bulkhead.ok(&["qube", "list"]);
    assert!(list.contains(&format!("running (pid {agent})")), "{list}");

    // A second program in the running qube: no second start.
    bulkhead.ok(&["run", "work", "--", "weston-simple-shm"]);
    desktop.wait_for_windows("two simple-shm windows in work", |w| {
        match w.iter().filter(|w| w.qube == "work" && w.visible).count() {
            2 => Ok(()),
            n => Err(format!("{n} windows")),
        }
    });
    assert_eq!(running_pid(&bulkhead.qube_dir("work")), agent);

    // A program the qube does not have: the agent answers ENOENT, dom0 words it, run fails.
    let missing = bulkhead.output(&["run", "work", "--", "bulkhead-no-such-program", "-x"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr).lines().last(),
        Some(
            "bulkhead: qube work could not start `bulkhead-no-such-program`: \
             No such file or directory (os error 2)"
        )
    );
    assert!(missing.stdout.is_empty());
    assert_eq!(running_pid(&bulkhead.qube_dir("work")), agent);
    assert!(
        desktop.qubes()[0].connected,
        "an honest failure keeps the qube"
    );

    let bad = bulkhead.output(&["qube", "remove", "work"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("qube work is running: stop it first"));

    // Stop: the agent and its programs go, and so does the qube from dom0.
    assert_eq!(
        bulkhead.ok(&["qube", "stop", "work"]),
        "qube work stopped\n"
    );
    assert!(!alive(agent), "the agent {agent} is gone");
    desktop.wait_for("work gone from dom0", |d| {
        let q = d.qubes();
        if q.is_empty() && d.windows().is_empty() {
            Ok(())
        } else {
            Err(format!("{q:?}"))
        }
    });
    assert!(
        !desktop
            .runtime_dir()
            .join("bulkhead/qube-work.sock")
            .exists()
    );
    assert!(!bulkhead.qube_dir("work").join("running.json").exists());
    bulkhead.ok(&["qube", "remove", "work"]);
    assert!(!bulkhead.qube_dir("work").exists());

    // A disposable qube: a fresh red qube for one program, gone once its window closes.
    // foot runs `read` and closes when it returns: the user ends it by pressing Enter in it.
    let mut disposable: Child = bulkhead
        .command(&["run", "--disposable", "--", "foot", "sh", "-c", "read line"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(desktop.artifacts().join("disposable.log")).unwrap())
        .spawn()
        .unwrap();
    let foot = desktop.wait_for_window("disp1", "foot");
    assert_eq!(foot.label, "red");
    desktop.wait_for("foot in disp1's red frame", |d| {
        let windows = d.windows();
        check_frame(&d.screenshot("disposable"), &windows, foot.id, RED)
    });
    assert!(bulkhead.qube_dir("disp1").join("qube.json").exists());
    let (x, y) = (foot.geometry.x + 50, foot.geometry.y + 50);
    desktop.request(&Request::Click { x, y, button: None });
    desktop.wait_for_windows("disp1 focused", |w| {
        if w.iter().any(|w| w.id == foot.id && w.focused) {
            Ok(())
        } else {
            Err("not focused".into())
        }
    });
    const KEY_ENTER: u32 = 28;
    desktop.request(&Request::Key {
        keycode: KEY_ENTER,
        pressed: true,
    });
    desktop.request(&Request::Key {
        keycode: KEY_ENTER,
        pressed: false,
    });
    let end = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = disposable.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < end,
            "the disposable run did not end after its window closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(disposable.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert!(status.success(), "{out} (see disposable.log)");
    assert_eq!(out, "disposable qube disp1 is gone\n");
    assert!(
        !bulkhead.qube_dir("disp1").exists(),
        "nothing of the disposable is left"
    );
    assert!(desktop.qubes().is_empty());
    assert!(
        bulkhead.ok(&["qube", "list"]).lines().count() == 1,
        "only the header"
    );

    // A disposable qube whose program cannot start goes at once, and says why.
    let missing = bulkhead.output(&["run", "--disposable", "--", "bulkhead-no-such-program"]);
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.ends_with(
            "could not start `bulkhead-no-such-program`: No such file or directory (os error 2)\n"
        ),
        "{stderr}"
    );
    assert!(
        bulkhead.ok(&["qube", "list"]).lines().count() == 1,
        "nothing of the disposable is left"
    );
    desktop.wait_for("the disposable gone from dom0", |d| {
        if d.qubes().is_empty() {
            Ok(())
        } else {
            Err(format!("{:?}", d.qubes()))
        }
    });
}
