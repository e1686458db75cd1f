//! Qubes declared at run time over the control socket (`add-qube`, `remove-qube`), the
//! window policy they get, and programs started in them (`run` → `Launch` →
//! `LaunchResult` → the answer), against the real compositor process and stand-in agents
//! that speak the protocol directly.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bulkhead_compositor::control::{QubeInfo, Request, Response, WindowInfo, send_requests};
use bulkhead_protocol::{AgentMessage, Capabilities, Dom0Message, PROTOCOL_VERSION, WindowStates};
use bulkhead_shm_transport::{Config, Endpoint, receive_handoff};

const TIMEOUT: Duration = Duration::from_secs(20);

struct Compositor {
    child: Child,
    dir: tempfile::TempDir,
}

impl Compositor {
    fn start() -> Compositor {
        Compositor::start_with(&[])
    }

    /// Starts it with `extra` arguments (a policy file, …) and no qubes declared.
    fn start_with(extra: &[&str]) -> Compositor {
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("compositor.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_bulkhead-compositor"))
            .args(["--size", "640x480"])
            .arg("--control-socket")
            .arg(dir.path().join("control.sock"))
            .arg("--qube-socket-dir")
            .arg(dir.path().join("qubes"))
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the compositor");
        let c = Compositor { child, dir };
        c.wait_for("the control socket", || c.control(&Request::Qubes).ok);
        c
    }

    fn control(&self, request: &Request) -> Response {
        send_requests(
            &self.dir.path().join("control.sock"),
            std::slice::from_ref(request),
        )
        .map(|mut r| r.remove(0))
        .unwrap_or_else(|e| Response::error(e.to_string()))
    }

    fn raw(&self, line: &str) -> Response {
        self.begin(&[line]).answer()
    }

    /// Sends request lines on one connection without waiting for their answers.
    fn begin(&self, lines: &[&str]) -> Answers {
        let mut s = UnixStream::connect(self.dir.path().join("control.sock")).unwrap();
        for line in lines {
            s.write_all(line.as_bytes()).unwrap();
            s.write_all(b"\n").unwrap();
        }
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        Answers(BufReader::new(s))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("compositor.log")).unwrap_or_default()
    }

    fn qubes(&self) -> Vec<QubeInfo> {
        self.control(&Request::Qubes).qubes.unwrap_or_default()
    }

    fn windows(&self) -> Vec<WindowInfo> {
        self.control(&Request::ListWindows)
            .windows
            .unwrap_or_default()
    }

    fn wait_for(&self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        while !done() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; compositor log:\n{}",
                std::fs::read_to_string(self.dir.path().join("compositor.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn socket(&self, qube: &str) -> PathBuf {
        self.dir.path().join(format!("qubes/qube-{qube}.sock"))
    }
}

impl Drop for Compositor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn add(name: &str, label: &str) -> Request {
    Request::AddQube {
        name: name.into(),
        label: label.into(),
    }
}

/// The answers of one control connection, read in order.
struct Answers(BufReader<UnixStream>);

impl Answers {
    fn answer(&mut self) -> Response {
        let mut line = String::new();
        self.0.read_line(&mut line).expect("an answer");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    }
}

fn run_line(qube: &str, argv: &[&str]) -> String {
    serde_json::to_string(&run(qube, argv)).unwrap()
}

fn run(qube: &str, argv: &[&str]) -> Request {
    Request::Run {
        qube: qube.into(),
        argv: argv.iter().map(|a| (*a).to_owned()).collect(),
    }
}

fn error(r: &Response) -> &str {
    assert!(!r.ok, "expected an error, got {r:?}");
    r.error.as_deref().unwrap_or_default()
}

/// A stand-in agent that says hello with `capabilities`.
struct StandIn {
    stream: UnixStream,
    ep: Endpoint,
}

impl StandIn {
    fn connect(socket: &Path, capabilities: Capabilities) -> StandIn {
        let stream = UnixStream::connect(socket).expect("connect");
        let handoff = receive_handoff(&stream).expect("handoff");
        let mut ep = Endpoint::open_agent(handoff, &Config::default()).expect("open region");
        let hello = AgentMessage::Hello {
            version: PROTOCOL_VERSION,
            capabilities,
        };
        ep.send_blocking(&hello.encode_to_vec().unwrap(), TIMEOUT)
            .unwrap();
        let mut s = StandIn { stream, ep };
        match s.recv() {
            Some(Dom0Message::HelloAck {
                capabilities: c, ..
            }) => {
                assert_eq!(
                    c.contains(Capabilities::LAUNCH),
                    capabilities.contains(Capabilities::LAUNCH)
                );
            }
            other => panic!("expected HelloAck, got {other:?}"),
        }
        s
    }

    fn recv(&mut self) -> Option<Dom0Message> {
        let bytes = self.ep.recv_blocking(TIMEOUT).ok()??;
        Some(
            Dom0Message::decode(&bytes)
                .expect("dom0 sends valid messages")
                .0,
        )
    }

    /// The next `Launch` (its id and command line), skipping the keymap and the like.
    fn launch(&mut self) -> (u32, Vec<String>) {
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            if let Some(Dom0Message::Launch { launch, argv }) = self.recv() {
                return (launch, argv);
            }
        }
        panic!("no Launch arrived");
    }

    fn answer(&mut self, launch: u32, errno: u32) {
        let m = AgentMessage::LaunchResult { launch, errno };
        self.ep
            .send_blocking(&m.encode_to_vec().unwrap(), TIMEOUT)
            .unwrap();
    }

    /// Whether dom0 closed the setup socket (it does when it drops the connection).
    fn was_disconnected(&mut self) -> bool {
        self.stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        matches!(self.stream.read(&mut [0u8; 1]), Ok(0) | Err(_))
    }
}

#[test]
fn qubes_come_and_go_at_run_time_and_run_programs() {
    let c = Compositor::start();
    assert!(c.qubes().is_empty());

    // Declared by the manager: the socket appears, private to dom0's user.
    let added = c.control(&add("work", "blue"));
    assert!(added.ok, "{added:?}");
    assert_eq!(added.socket.as_deref(), Some(c.socket("work").as_path()));
    let meta = std::fs::metadata(c.socket("work")).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    // Bad or duplicate declarations change nothing and say why.
    assert!(error(&c.control(&add("work", "red"))).contains("already knows a qube named work"));
    assert!(error(&c.control(&add("1work", "red"))).contains("must start with an ASCII letter"));
    assert!(error(&c.control(&add("wörk", "red"))).contains("only ASCII letters"));
    assert!(error(&c.control(&add("mail", "pink"))).contains("not a label"));
    assert!(!c.socket("mail").exists());
    let qubes = c.qubes();
    assert_eq!(qubes.len(), 1);
    assert_eq!(
        (qubes[0].name.as_str(), qubes[0].label.as_str()),
        ("work", "blue")
    );
    assert!(!qubes[0].connected);

    // No agent yet.
    assert!(error(&c.control(&run("work", &["foot"]))).contains("no agent connected"));
    assert!(error(&c.control(&run("mail", &["foot"]))).contains("knows no qube named"));

    let mut agent = StandIn::connect(&c.socket("work"), Capabilities::LAUNCH);
    c.wait_for("work to be connected", || {
        c.qubes().iter().any(|q| q.connected)
    });

    // Command lines the protocol refuses never reach the agent.
    assert!(error(&c.control(&run("work", &[]))).contains("no program"));
    assert!(error(&c.control(&run("work", &[""]))).contains("no program"));
    assert!(error(&c.raw(r#"{"cmd":"run","qube":"work","argv":["a\u0000b"]}"#)).contains("NUL"));
    let many = vec!["x"; bulkhead_protocol::MAX_LAUNCH_ARGS + 1];
    assert!(error(&c.control(&run("work", &many))).contains("arguments"));

    // The answer waits for the agent's word that the program started.
    let mut ran = c.begin(&[&run_line("work", &["weston-simple-shm", "--", "a b"])]);
    let (id, argv) = agent.launch();
    assert_eq!(argv, ["weston-simple-shm", "--", "a b"]);
    agent.answer(id, 0);
    let ran = ran.answer();
    assert!(ran.ok && ran.errno.is_none(), "{ran:?}");

    // An agent that did not offer LAUNCH is never sent one.
    assert!(c.control(&add("plain", "green")).ok);
    let _plain = StandIn::connect(&c.socket("plain"), Capabilities::empty());
    c.wait_for("plain to be connected", || {
        c.qubes().iter().filter(|q| q.connected).count() == 2
    });
    assert!(error(&c.control(&run("plain", &["foot"]))).contains("does not start programs"));

    // Removing closes the connection and the socket.
    assert!(
        c.control(&Request::RemoveQube {
            name: "work".into()
        })
        .ok
    );
    assert!(!c.socket("work").exists());
    agent.stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(
        agent.stream.read(&mut byte).unwrap(),
        0,
        "dom0 hung up on the removed qube"
    );
    assert_eq!(
        c.qubes()
            .iter()
            .map(|q| q.name.as_str())
            .collect::<Vec<_>>(),
        ["plain"]
    );
    assert!(
        error(&c.control(&Request::RemoveQube {
            name: "work".into()
        }))
        .contains("no qube")
    );

    // The name is free again, with another label.
    assert!(c.control(&add("work", "red")).ok);
    let _again = StandIn::connect(&c.socket("work"), Capabilities::LAUNCH);
    c.wait_for("work to connect again", || {
        c.qubes()
            .iter()
            .any(|q| q.name == "work" && q.label == "red" && q.connected)
    });
}

/// A qube `work` with a stand-in agent that offers LAUNCH.
fn connected_work() -> (Compositor, StandIn) {
    let c = Compositor::start();
    assert!(c.control(&add("work", "blue")).ok);
    let agent = StandIn::connect(&c.socket("work"), Capabilities::LAUNCH);
    c.wait_for("work to be connected", || {
        c.qubes().iter().any(|q| q.connected)
    });
    (c, agent)
}

#[test]
fn run_reports_a_program_that_cannot_start_in_dom0s_words() {
    let (c, mut agent) = connected_work();

    // The qube says ENOENT: dom0 words it from its own argv[0].
    let mut pending = c.begin(&[&run_line("work", &["foo", "--bar"]), r#"{"cmd":"qubes"}"#]);
    let (first, argv) = agent.launch();
    assert_eq!(argv, ["foo", "--bar"]);
    // The event loop is not held while the answer is outstanding: another client is served.
    assert!(c.control(&Request::Qubes).ok);
    agent.answer(first, 2);
    let failed = pending.answer();
    assert_eq!(
        error(&failed),
        "qube work could not start `foo`: No such file or directory (os error 2)"
    );
    assert_eq!(failed.errno, Some(2));
    // The request after it on the same connection is answered after it, in order.
    assert!(pending.answer().qubes.is_some());

    // Every launch gets its own id; an errno dom0's C library does not know is "unknown".
    let mut pending = c.begin(&[&run_line("work", &["bar"])]);
    let (second, _) = agent.launch();
    assert_ne!(second, first);
    agent.answer(second, 4095);
    assert_eq!(
        error(&pending.answer()),
        "qube work could not start `bar`: Unknown error 4095 (os error 4095)"
    );
    assert!(
        c.qubes()[0].connected,
        "an honest failure is not a violation"
    );
}

#[test]
fn run_gives_up_waiting_but_takes_a_late_answer() {
    let (c, mut agent) = connected_work();
    let mut pending = c.begin(&[&run_line("work", &["slow"])]);
    let (id, _) = agent.launch();
    // No answer: after the bound, run says so (the program may still start).
    let answer = pending.answer();
    assert!(
        error(&answer).starts_with("qube work did not confirm within 5 s that `slow` started"),
        "{answer:?}"
    );
    // The late answer is expected, not a violation; the qube can run programs again.
    agent.answer(id, 0);
    let mut next = c.begin(&[&run_line("work", &["foot"])]);
    let (again, _) = agent.launch();
    agent.answer(again, 0);
    assert!(next.answer().ok);
    assert!(c.qubes()[0].connected);
    assert!(c.log().contains("program started in qube"), "{}", c.log());
}

#[test]
fn a_second_answer_to_one_launch_closes_the_connection() {
    let (c, mut agent) = connected_work();
    let mut pending = c.begin(&[&run_line("work", &["foot"])]);
    let (id, _) = agent.launch();
    agent.answer(id, 0);
    assert!(pending.answer().ok);
    agent.answer(id, 0);
    assert!(
        agent.was_disconnected(),
        "a duplicate answer is a violation"
    );
    c.wait_for("the reason in the log", || {
        c.log().contains(&format!(
            "launch result for launch {id}, which dom0 is not waiting for"
        ))
    });
    // dom0 goes on and the qube may connect again.
    let _again = StandIn::connect(&c.socket("work"), Capabilities::LAUNCH);
    c.wait_for("work to connect again", || {
        c.qubes().iter().any(|q| q.connected)
    });
}

#[test]
fn a_qube_that_goes_away_does_not_leave_run_waiting() {
    let (c, mut agent) = connected_work();
    let mut pending = c.begin(&[&run_line("work", &["foot"])]);
    let (id, _) = agent.launch();
    // An answer for another launch: a violation; the waiting run is answered at once.
    agent.answer(id.wrapping_add(1000), 0);
    let answer = pending.answer();
    assert!(
        error(&answer).starts_with("qube work went away before it confirmed that `foot` started"),
        "{answer:?}"
    );
    assert!(agent.was_disconnected());

    // The qube is removed while a run waits: that run is answered too.
    let mut agent = StandIn::connect(&c.socket("work"), Capabilities::LAUNCH);
    c.wait_for("work to connect again", || {
        c.qubes().iter().any(|q| q.connected)
    });
    let mut pending = c.begin(&[&run_line("work", &["foot"])]);
    agent.launch();
    assert!(
        c.control(&Request::RemoveQube {
            name: "work".into()
        })
        .ok
    );
    assert_eq!(
        error(&pending.answer()),
        "qube work went away before it confirmed that `foot` started (dom0 removed the qube)"
    );
}

/// Connects a stand-in agent to `qube`, opens a 200×150 window and asks for fullscreen:
/// returns the agent (its window lives while it is connected) and the states of dom0's
/// answer.
fn ask_fullscreen(c: &Compositor, qube: &str) -> (common::standin::StandIn, WindowStates) {
    let mut agent = common::standin::StandIn::connect(&c.socket(qube));
    agent.hello();
    let window = agent.window(1, 200, 150, 0);
    agent.frame_done(0);
    agent.send(&AgentMessage::SetFullscreen { window, on: true });
    let states = agent.wait_for("a configure", |m| match m {
        Dom0Message::Configure {
            window: w, states, ..
        } if *w == window => Some(*states),
        _ => None,
    });
    (agent, states)
}

/// The window policy loaded at startup names qubes the manager only adds later: each gets
/// its entry when it is added (again after a removal). `media`'s fullscreen wish is
/// granted; `plain`, without an entry, is maximized instead.
#[test]
fn the_window_policy_applies_to_qubes_added_at_run_time() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("windows.toml");
    std::fs::write(&policy, "[qube.media]\nallow_fullscreen = true\n").unwrap();
    let c = Compositor::start_with(&["--window-policy", policy.to_str().unwrap()]);
    assert!(c.qubes().is_empty());
    assert!(
        c.log().contains("applies when such a qube is added"),
        "the undeclared name is accepted and said so:\n{}",
        c.log()
    );

    assert!(c.control(&add("media", "purple")).ok);
    assert!(c.control(&add("plain", "green")).ok);
    let (_media, states) = ask_fullscreen(&c, "media");
    assert_eq!(states, WindowStates::FULLSCREEN, "the policy allows media");
    let (_plain, states) = ask_fullscreen(&c, "plain");
    assert_eq!(
        states,
        WindowStates::MAXIMIZED,
        "no entry: maximized instead"
    );
    let modes = |c: &Compositor| -> Vec<(String, String)> {
        let mut m: Vec<_> = c.windows().into_iter().map(|w| (w.qube, w.mode)).collect();
        m.sort();
        m
    };
    let want = |media: &str| {
        vec![
            ("media".to_owned(), media.to_owned()),
            ("plain".to_owned(), "maximized".to_owned()),
        ]
    };
    c.wait_for("the modes in list-windows", || {
        modes(&c) == want("fullscreen")
    });

    // Removed and declared again (a restarted qube): the entry applies again.
    assert!(
        c.control(&Request::RemoveQube {
            name: "media".into()
        })
        .ok
    );
    assert!(c.control(&add("media", "purple")).ok);
    let (_media, states) = ask_fullscreen(&c, "media");
    assert_eq!(states, WindowStates::FULLSCREEN);
    c.wait_for("media fullscreen again", || modes(&c) == want("fullscreen"));
}

/// A typo in the window policy stops the compositor at startup with what is wrong and in
/// which file (a misspelt key would otherwise silently grant nothing).
#[test]
fn a_window_policy_typo_is_refused_at_startup() {
    for (text, says) in [
        (
            "[qube.media]\nfullscreen = true\n",
            "unknown field `fullscreen`, expected `allow_fullscreen`",
        ),
        (
            "[qube.media]\nallow_fullscreen = \"yes\"\n",
            "expected a boolean",
        ),
        ("[qube.\"1media\"]\n", "\"1media\" is not a qube name"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let policy = dir.path().join("windows.toml");
        std::fs::write(&policy, text).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_bulkhead-compositor"))
            .args(["--size", "640x480", "--window-policy"])
            .arg(&policy)
            .arg("--control-socket")
            .arg(dir.path().join("control.sock"))
            .arg("--qube-socket-dir")
            .arg(dir.path().join("qubes"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the compositor");
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the compositor started with a bad window policy: {text:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(!status.success(), "{text:?}");
        assert!(stderr.contains(says), "{text:?}: {stderr}");
        assert!(
            stderr.contains(&policy.display().to_string()),
            "names the file: {stderr}"
        );
        assert!(!dir.path().join("control.sock").exists());
    }
}
